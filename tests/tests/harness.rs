//! Tests of the harness itself, against real `redis-server` processes (no modules).

use std::panic;
use std::time::Duration;

use redis::Commands;
use rmkit_tests::{Server, server_binary};

/// The text of a caught panic.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

#[test]
fn server_binary_exists() {
    assert!(server_binary().is_file(), "{}", server_binary().display());
}

#[test]
fn plain_server_answers_ping_and_set_get() {
    let server = Server::start();
    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/", server.port())
    );

    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let _: () = con.set("greeting", "hello").unwrap();
    let value: String = con.get("greeting").unwrap();
    assert_eq!(value, "hello");

    assert!(server.log().contains("Ready to accept connections"));
    assert!(server.dir().is_dir());
}

#[test]
fn info_is_parsed() {
    let server = Server::start();
    assert!(server.info_u64("memory", "used_memory") > 0);
    assert!(server.used_memory() > 0);

    let info = server.info("server");
    assert_eq!(info["tcp_port"], server.port().to_string());
    assert_eq!(info["process_id"], server.pid().to_string());
    assert!(info.keys().all(|key| !key.starts_with('#')));

    let mut con = server.client();
    let _: () = con.set("k", "v").unwrap();
    let keyspace = server.info("keyspace");
    assert!(keyspace["db0"].starts_with("keys=1,"), "{keyspace:?}");
}

/// Runs `f`, which must panic, and returns its message. Servers created outside `f` are
/// then dropped normally, so their temp dirs are cleaned up.
fn expect_panic(f: impl FnOnce()) -> String {
    let result = panic::catch_unwind(panic::AssertUnwindSafe(f));
    panic_message(result.expect_err("expected a panic"))
}

#[test]
fn info_u64_panics_on_missing_or_non_numeric_fields() {
    let server = Server::start();
    let message = expect_panic(|| {
        server.info_u64("memory", "no_such_field");
    });
    assert!(
        message.contains("INFO memory has no field `no_such_field`"),
        "{message}"
    );
    assert!(
        message.contains("used_memory"),
        "lists the fields: {message}"
    );

    let message = expect_panic(|| {
        server.info_u64("server", "redis_mode");
    });
    assert!(
        message.contains("`redis_mode` is `standalone`, not an unsigned integer"),
        "{message}"
    );
}

#[test]
fn defaults_are_applied() {
    let server = Server::start();
    let mut con = server.client();
    let get = |con: &mut redis::Connection, key: &str| -> String {
        let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(key).query(con).unwrap();
        pair[1].clone()
    };
    assert_eq!(get(&mut con, "save"), "");
    assert_eq!(get(&mut con, "appendonly"), "no");
    assert_eq!(get(&mut con, "enable-debug-command"), "yes");
    assert_eq!(get(&mut con, "enable-module-command"), "yes");
    assert_eq!(
        std::path::Path::new(&get(&mut con, "dir"))
            .canonicalize()
            .unwrap(),
        server.dir().canonicalize().unwrap()
    );
}

#[test]
fn restart_keeps_saved_data_and_loses_unsaved_data() {
    let mut server = Server::start();
    let mut con = server.client();
    let _: () = con.set("saved", "yes").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let _: () = con.set("unsaved", "lost").unwrap();
    assert!(server.dir().join("dump.rdb").is_file());
    let old_pid = server.pid();
    drop(con);

    server.restart();
    assert_ne!(server.pid(), old_pid);
    let mut con = server.client();
    let saved: Option<String> = con.get("saved").unwrap();
    assert_eq!(saved.as_deref(), Some("yes"));
    let unsaved: Option<String> = con.get("unsaved").unwrap();
    assert_eq!(unsaved, None, "restart kills the server without saving");
}

#[test]
fn user_config_overrides_defaults() {
    let mut server = Server::builder()
        .config("appendonly", "yes")
        .config("appendfsync", "always")
        .start();
    let mut con = server.client();
    let _: () = con.set("durable", "1").unwrap();
    drop(con);

    server.restart();
    let mut con = server.client();
    let value: Option<String> = con.get("durable").unwrap();
    assert_eq!(value.as_deref(), Some("1"), "the AOF in dir() is replayed");
}

#[test]
fn stop_then_restart() {
    let mut server = Server::start();
    server.stop();
    server.stop(); // idempotent
    server.restart();
    let mut con = server.client();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn replica_receives_writes() {
    let primary = Server::start();
    let replica = Server::builder().replica_of(&primary).start();
    replica.wait_for_sync();
    assert_eq!(replica.info("replication")["role"], "slave");

    let mut con = primary.client();
    let _: () = con.set("replicated", "value").unwrap();
    replica.wait_caught_up_with(&primary);
    // Caught up means applied: the key is there without waiting any further.
    let value: Option<String> = replica.client().get("replicated").unwrap();
    assert_eq!(value.as_deref(), Some("value"));
}

#[test]
fn servers_in_parallel_get_distinct_ports() {
    let servers: Vec<Server> = (0..4).map(|_| Server::start()).collect();
    let mut ports: Vec<u16> = servers.iter().map(Server::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
}

#[test]
fn bad_config_panics_with_the_log() {
    let message = expect_panic(|| {
        Server::builder()
            .config("maxmemory-policy", "nonsense")
            .start();
    });
    assert!(
        message.contains("redis-server exited during startup"),
        "{message}"
    );
    assert!(
        message.contains("----- redis-server log (port "),
        "{message}"
    );
    assert!(message.contains("FATAL CONFIG FILE ERROR"), "{message}");
    assert!(message.contains("nonsense"), "{message}");
}

#[test]
fn wait_for_times_out_with_the_description_and_log() {
    let server = Server::start();
    let mut calls = 0;
    let message = expect_panic(|| {
        server.wait_for("something impossible", Duration::from_millis(100), |_| {
            calls += 1;
            false
        });
    });
    assert!(
        message.contains("timed out after 100ms waiting for something impossible"),
        "{message}"
    );
    assert!(message.contains("Ready to accept connections"), "{message}");
    assert!(
        (2..=10).contains(&calls),
        "polled every 20 ms: {calls} calls"
    );

    let mut calls = 0;
    server.wait_for("an immediate success", Duration::from_secs(1), |_| {
        calls += 1;
        true
    });
    assert_eq!(calls, 1);
}
