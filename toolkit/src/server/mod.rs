//! The server around the module: configs, events and notifications, `INFO`, clients, ACL,
//! command filters, the cluster.
//!
//! | module | for |
//! |---|---|
//! | [`acl`] | module users, authentication, ACL permission checks, the ACL log, redaction |
//! | [`client`] | the calling client (id, connection, user), the context's flags, the server version |
//! | [`cluster`] | node ids, the node list, key slots, messages between nodes ([`on_cluster_message!`](crate::on_cluster_message!)) |
//! | [`config`] | `CONFIG GET/SET <module>.<name>` parameters ([`config!`](crate::config!)) |
//! | [`events`] | keyspace notifications and server events ([`on_keyspace_event!`](crate::on_keyspace_event!), [`on_server_event!`](crate::on_server_event!)) |
//! | [`filter`] | command filters: see and rewrite every command before it runs |
//! | [`info`] | the module's `INFO` sections ([`on_info!`](crate::on_info!)), the toolkit's `<module>_alloc`, reading the server's `INFO` |

pub mod acl;
pub mod client;
pub mod cluster;
pub mod config;
pub mod events;
pub mod filter;
pub mod info;
