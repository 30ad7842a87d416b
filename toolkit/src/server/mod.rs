//! The server around the module: configs, events and notifications, `INFO`.
//!
//! | module | for |
//! |---|---|
//! | [`config`] | `CONFIG GET/SET <module>.<name>` parameters ([`config!`](crate::config!)) |
//! | [`events`] | keyspace notifications and server events ([`on_keyspace_event!`](crate::on_keyspace_event!), [`on_server_event!`](crate::on_server_event!)) |
//! | `INFO <module>_alloc` | the allocator's counters, in every module |

pub mod config;
pub mod events;
pub(crate) mod info;
