//! The server around the module: configs, events and notifications, `INFO`.
//!
//! | module | for |
//! |---|---|
//! | [`cluster`] | node ids, the node list, key slots, messages between nodes ([`on_cluster_message!`](crate::on_cluster_message!)) |
//! | [`config`] | `CONFIG GET/SET <module>.<name>` parameters ([`config!`](crate::config!)) |
//! | [`events`] | keyspace notifications and server events ([`on_keyspace_event!`](crate::on_keyspace_event!), [`on_server_event!`](crate::on_server_event!)) |
//! | [`info`] | the module's `INFO` sections ([`on_info!`](crate::on_info!)), the toolkit's `<module>_alloc`, reading the server's `INFO` |

pub mod cluster;
pub mod config;
pub mod events;
pub mod info;
