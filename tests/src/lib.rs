//! Test harness for rmkit's own integration tests: the reusable harness is the `rmkit-test`
//! crate (`testkit/`), re-exported here; this crate adds the list of the workspace's test
//! modules.
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

pub use rmkit_test::{
    Cluster, Server, ServerBuilder, cmd, err_text, info_i64, keep_reply_buffers, module_path, q,
    q_err, server_binary, tool_binary, used_memory,
};

/// Workspace packages whose cdylibs are built together, by one `cargo build`, the first time
/// any test in the process asks for a module: the `[package.metadata.rmkit-test] modules`
/// list of `tests/Cargo.toml`, which is what the harness reads (a test checks they agree).
pub const MODULE_PACKAGES: &[&str] = &[
    "hashex",
    "rmkit-json",
    "capped",
    "ratelimit",
    "memtest-rmkit",
    "memtest-system",
    "many",
    "dupe",
    "serverapi",
    "auxdata",
    "keyevent",
    "aclkit",
    "conformance-list",
    "conformance-zset",
    "conformance-stream",
    "conformance-scan",
    "conformance-hash",
    "conformance-getkeys",
    "conformance-blockonkeys",
    "conformance-datatype",
    "conformance-keyspecs",
    "conformance-timer",
    "conformance-publish",
    "conformance-subcommands",
    "conformance-reply",
    "conformance-mallocsize",
    "conformance-blockonbackground",
    "conformance-blockedclient",
    "conformance-cmdintrospection",
    "conformance-propagate",
    "conformance-misc",
    "conformance-testrdb",
    "conformance-hooks",
    "conformance-keyspace_events",
    "conformance-infotest",
    "conformance-moduleconfigs",
    "conformance-moduleconfigstwo",
    "loadhooks",
    "conformance-aclcheck",
    "conformance-auth",
    "conformance-commandfilter",
];

#[cfg(test)]
mod tests {
    #[test]
    fn module_packages_match_the_manifest_list() {
        let manifest = include_str!("../Cargo.toml");
        let list = manifest
            .split("[package.metadata.rmkit-test]")
            .nth(1)
            .expect("tests/Cargo.toml has [package.metadata.rmkit-test]");
        for p in super::MODULE_PACKAGES {
            assert!(
                list.contains(&format!("\"{p}\"")),
                "{p} missing from the manifest list"
            );
        }
    }
}
