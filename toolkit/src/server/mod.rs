//! The server around the module: configs, events and notifications, `INFO`, clients, ACL.
//!
//! | module | for |
//! |---|---|
//! | [`config`] | `CONFIG GET/SET <module>.<name>` parameters ([`config!`](crate::config!)) |
//! | [`events`] | keyspace notifications and server events ([`on_keyspace_event!`](crate::on_keyspace_event!), [`on_server_event!`](crate::on_server_event!)) |
//! | [`client`] | the calling client (id, connection, user), the context's flags, the server version |
//! | [`filter`] | command filters: see and rewrite every command before it runs |
//! | [`acl`] | module users, authentication, ACL permission checks, the ACL log, redaction |
//! | `INFO <module>_alloc` | the allocator's counters, in every module |

pub mod acl;
pub mod client;
pub mod config;
pub mod events;
pub mod filter;
pub(crate) mod info;
