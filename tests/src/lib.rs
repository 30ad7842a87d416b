//! Test harness for rmkit: runs real `redis-server` processes for integration tests.
//!
//! Each [`Server`] is a `redis-server` child process with its own temporary working
//! directory (RDB/AOF files and the log live there) and its own loopback port. The
//! process is killed when the [`Server`] is dropped; if the test is panicking at that
//! moment, the server log is printed to stderr and the directory is kept for inspection.
//!
//! ```no_run
//! use rmkit_tests::Server;
//!
//! let server = Server::builder().module("hashex").config("maxmemory", "100mb").start();
//! let mut con = server.client();
//! let pong: String = redis::cmd("PING").query(&mut con).unwrap();
//! assert_eq!(pong, "PONG");
//! assert!(server.used_memory() > 0);
//! ```
//!
//! Modules are referred to by their workspace package name; [`module_path()`] builds
//! them (once per test process) and returns the path of the shared library.
//! The server binary is chosen by [`server_binary`].

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod binary;
mod modules;
mod server;
mod util;

pub use binary::{server_binary, tool_binary};
pub use modules::{MODULE_PACKAGES, module_path};
pub use server::{Server, ServerBuilder};
pub use util::{cmd, err_text, info_i64, keep_reply_buffers, q, q_err, used_memory};
