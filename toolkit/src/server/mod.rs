//! The server around the module: configs, events and notifications, `INFO`.
//!
//! | module | for |
//! |---|---|
//! | [`cluster`] | node ids, the node list, key slots, messages between nodes ([`on_cluster_message!`](crate::on_cluster_message!)) |
//! | [`config`] | `CONFIG GET/SET <module>.<name>` parameters ([`config!`](crate::config!)) |
//! | [`events`] | keyspace notifications and server events ([`on_keyspace_event!`](crate::on_keyspace_event!), [`on_server_event!`](crate::on_server_event!)) |
//! | `INFO <module>_alloc` | the allocator's counters, in every module |

pub mod cluster;
pub mod config;
pub mod events;
pub(crate) mod info;
