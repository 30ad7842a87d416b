//! `rmkit-test`: integration tests for Redis modules against real servers.
//!
//! Each [`Server`] is a `redis-server` (or `valkey-server`) child process on its own loopback
//! port with its own temporary working directory (RDB/AOF files and the log live there). It is
//! ready when [`ServerBuilder::start`] returns (it answered `PING`), and it is killed when the
//! [`Server`] is dropped; if the test is panicking at that moment, the server's log is printed
//! to stderr and its directory is kept for inspection. Replicas ([`ServerBuilder::replica_of`],
//! [`Server::wait_caught_up_with`]) and a small cluster ([`Cluster`]) are one call each.
//!
//! For a module crate, add to its `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dev-dependencies]
//! rmkit-test = { path = "../rmkit/testkit" }
//! redis = "1"
//! ```
//!
//! and write `tests/module.rs`:
//!
//! ```no_run
//! use rmkit_test::Server;
//!
//! #[test]
//! fn the_module_answers() {
//!     // Builds this crate's cdylib (once per test process), starts a server loading it.
//!     let server = Server::builder()
//!         .module(env!("CARGO_PKG_NAME"))
//!         .config("maxmemory", "100mb")
//!         .start();
//!     let mut con = server.client();
//!     let pong: String = redis::cmd("PING").query(&mut con).unwrap();
//!     assert_eq!(pong, "PONG");
//!     assert!(server.used_memory() > 0);
//! }
//! ```
//!
//! Modules are named by their package ([`module_path()`] builds them with cargo) or given as
//! a file ([`ServerBuilder::module_file`], with [`build_cdylib()`] for any crate and profile).
//! The server binary is chosen by [`server_binary()`]: `$RMKIT_REDIS_SERVER`, else
//! `redis-server` on `PATH`, else `valkey-server`. A missing server fails the test with the
//! install command; nothing is skipped silently.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod binary;
mod cdylib;
mod cluster;
mod server;
mod util;

pub use binary::{server_binary, tool_binary, try_server_binary, try_tool_binary};
pub use cdylib::{Cdylib, Profile, build_cdylib, cargo, module_path};
pub use cluster::Cluster;
pub use server::{Server, ServerBuilder};
pub use util::{cmd, err_text, info_i64, keep_reply_buffers, q, q_err, used_memory};
