//! Server events and keyspace notification classes (rmkit::server::events) delivered by a real
//! server with their typed payloads, recorded by the `hooks` port (tests/conformance/hooks:
//! hooks.c's records plus rmkit's `rmkit-*` ones), and the `keyspace_events` port's behaviours
//! (writes from inside keyspace notifications, nested in MULTI and scripts).

use redis::{Connection, Value};
use rmkit_tests::{Server, module_path, q};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn hooks() -> (Server, Connection) {
    let server = Server::builder().module("conformance-hooks").start();
    let con = server.client();
    (server, con)
}

fn count(con: &mut Connection, name: &str) -> i64 {
    q(con, &["hooks.event_count", name])
}

/// `hooks.event_last name` as text (a number is printed, nil is `None`).
fn last(con: &mut Connection, name: &str) -> Option<String> {
    match q::<Value>(con, &["hooks.event_last", name]) {
        Value::Nil => None,
        Value::Int(n) => Some(n.to_string()),
        Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        other => panic!("hooks.event_last {name}: unexpected {other:?}"),
    }
}

/// Waits until `hooks.event_last name` is `want`.
fn wait_last(server: &Server, name: &str, want: &str) {
    let mut con = server.client();
    server.wait_for(&format!("hooks.event_last {name} = {want}"), WAIT, |_| {
        last(&mut con, name).as_deref() == Some(want)
    });
}

#[test]
fn client_connect_and_disconnect_carry_the_client_info() {
    let (server, mut con) = hooks();
    let mut other = server.client();
    let id: i64 = q(&mut other, &["CLIENT", "ID"]);
    assert_eq!(last(&mut con, "client-connected"), Some(id.to_string()));
    let info = last(&mut con, "rmkit-client").expect("a client info was recorded");
    let addr: String = q(&mut other, &["CLIENT", "INFO"]);
    let peer = addr
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))
        .expect("CLIENT INFO has addr=");
    assert_eq!(info, format!("{id} {peer} db=0 flags=none"), "{addr}");
    drop(other);
    wait_last(&server, "client-disconnected", &id.to_string());
    assert!(count(&mut con, "client-connected") >= 2);
}

#[test]
fn flush_and_swapdb_carry_their_databases() {
    let (_server, mut con) = hooks();
    let _: () = q(&mut con, &["SELECT", "9"]);
    let _: () = q(&mut con, &["FLUSHDB"]);
    assert_eq!(last(&mut con, "flush-start").as_deref(), Some("9"));
    assert_eq!(last(&mut con, "flush-end").as_deref(), Some("9"));
    let _: () = q(&mut con, &["FLUSHALL"]);
    assert_eq!(last(&mut con, "flush-start").as_deref(), Some("-1"));
    assert_eq!(last(&mut con, "flush-end").as_deref(), Some("-1"));
    let _: () = q(&mut con, &["SWAPDB", "0", "10"]);
    assert_eq!(last(&mut con, "swapdb-first").as_deref(), Some("0"));
    assert_eq!(last(&mut con, "swapdb-second").as_deref(), Some("10"));
}

#[test]
fn config_change_names_every_parameter_set() {
    let (_server, mut con) = hooks();
    let _: () = q(&mut con, &["CONFIG", "SET", "rdbcompression", "no"]);
    assert_eq!(last(&mut con, "config-change-count").as_deref(), Some("1"));
    assert_eq!(
        last(&mut con, "config-change-first").as_deref(),
        Some("rdbcompression")
    );
    let _: () = q(
        &mut con,
        &[
            "CONFIG",
            "SET",
            "lazyfree-lazy-eviction",
            "yes",
            "lazyfree-lazy-expire",
            "yes",
        ],
    );
    assert_eq!(last(&mut con, "config-change-count").as_deref(), Some("2"));
    let mut names: Vec<String> = last(&mut con, "rmkit-config")
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(names, ["lazyfree-lazy-eviction", "lazyfree-lazy-expire"]);
}

#[test]
fn module_load_and_unload_name_the_module_and_version() {
    let (_server, mut con) = hooks();
    let list = module_path("conformance-list");
    let _: () = q(&mut con, &["MODULE", "LOAD", list.to_str().unwrap()]);
    assert_eq!(last(&mut con, "module-loaded").as_deref(), Some("list"));
    assert_eq!(
        last(&mut con, "rmkit-module-loaded").as_deref(),
        Some("list 1")
    );
    let _: () = q(&mut con, &["MODULE", "UNLOAD", "list"]);
    assert_eq!(last(&mut con, "module-unloaded").as_deref(), Some("list"));
}

#[test]
fn role_change_replica_and_master_link_events() {
    let (primary, mut pcon) = hooks();
    // REPLICAOF at run time (a `replicaof` in the configuration starts the server as a
    // replica: no role change).
    let replica = Server::builder().module("conformance-hooks").start();
    let mut rcon = replica.client();
    let port = primary.port().to_string();
    let _: () = q(&mut rcon, &["REPLICAOF", "127.0.0.1", &port]);
    replica.wait_for_sync();
    wait_last(&replica, "masterlink-up", "0");
    assert_eq!(count(&mut rcon, "masterlink-up"), 1);
    assert_eq!(count(&mut rcon, "masterlink-down"), 0);
    assert_eq!(count(&mut rcon, "role-replica"), 1);
    assert_eq!(
        last(&mut rcon, "role-replica").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        last(&mut rcon, "rmkit-role-replica"),
        Some(format!(
            "master=false host=127.0.0.1 port={}",
            primary.port()
        ))
    );
    primary.wait_for("the primary's replica-online event", WAIT, |_| {
        count(&mut pcon, "replica-online") == 1
    });
    assert_eq!(count(&mut pcon, "replica-offline"), 0);
    let _: () = q(&mut rcon, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(count(&mut rcon, "role-master"), 1);
    assert_eq!(last(&mut rcon, "role-master").as_deref(), Some(""));
    assert_eq!(
        last(&mut rcon, "rmkit-role-master").as_deref(),
        Some("master=true")
    );
    // Redis 7.0 reports the link down twice here (unsetting the master, then freeing its
    // client): at least once.
    assert!(count(&mut rcon, "masterlink-down") >= 1);
    primary.wait_for("the primary's replica-offline event", WAIT, |_| {
        count(&mut pcon, "replica-offline") >= 1
    });
}

#[test]
fn persistence_and_fork_events_on_save_and_bgsave() {
    let (server, mut con) = hooks();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    let _: () = q(&mut con, &["SAVE"]);
    assert_eq!(count(&mut con, "persistence-syncrdb-start"), 1);
    assert_eq!(count(&mut con, "rmkit-persistence-end"), 1);
    let _: Value = q(&mut con, &["BGSAVE"]);
    // Background saves report in the fork child: its log lines are in the same log file.
    server.wait_for(
        "the fork child's persistence-rdb-start log line",
        WAIT,
        |s| s.log().contains("module-event-persistence-rdb-start"),
    );
    server.wait_for("the fork child died event", WAIT, |_| {
        count(&mut con, "rmkit-fork-died") >= 1
    });
    assert!(count(&mut con, "rmkit-fork-born") >= 1);
    // The child's records died with it: the parent saw one persistence end (SAVE's).
    assert_eq!(count(&mut con, "rmkit-persistence-end"), 1);
}

#[test]
fn debug_reload_saves_then_loads_and_notifies_loaded_keys() {
    let (_server, mut con) = hooks();
    let _: () = q(&mut con, &["SET", "x", "1"]);
    assert_eq!(count(&mut con, "loading-rdb-start"), 0);
    let _: () = q(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(count(&mut con, "persistence-syncrdb-start"), 1);
    assert_eq!(count(&mut con, "loading-rdb-start"), 1);
    assert_eq!(count(&mut con, "rmkit-loading-end"), 1);
    assert_eq!(
        last(&mut con, "rmkit-class-loaded").as_deref(),
        Some("loaded x")
    );
}

#[test]
fn cron_reports_the_servers_hz() {
    let (server, mut con) = hooks();
    // (With a few clients, dynamic-hz keeps the configured hz; Valkey 8.1 has no dynamic-hz.)
    let _: () = q(&mut con, &["CONFIG", "SET", "hz", "50"]);
    wait_last(&server, "cron-loop", "50");
}

/// Runs `cmd` and checks that `class`'s handler saw `event key` last.
fn delivered(con: &mut Connection, cmd: &[&str], class: &str, want: &str) {
    let _: Value = q(con, cmd);
    assert_eq!(
        last(con, &format!("rmkit-class-{class}")).as_deref(),
        Some(want),
        "after {cmd:?}"
    );
}

#[test]
fn every_keyspace_class_is_delivered() {
    let (server, mut con) = hooks();
    delivered(&mut con, &["SET", "s", "1"], "string", "set s");
    assert_eq!(last(&mut con, "rmkit-class-new").as_deref(), Some("new s"));
    delivered(&mut con, &["EXPIRE", "s", "100"], "generic", "expire s");
    delivered(&mut con, &["LPUSH", "l", "a"], "list", "lpush l");
    delivered(&mut con, &["SADD", "st", "a"], "set", "sadd st");
    delivered(&mut con, &["HSET", "h", "f", "v"], "hash", "hset h");
    assert_eq!(last(&mut con, "rmkit-class-all").as_deref(), Some("hset h"));
    delivered(&mut con, &["ZADD", "z", "1", "a"], "zset", "zadd z");
    delivered(&mut con, &["XADD", "x", "*", "f", "v"], "stream", "xadd x");
    delivered(&mut con, &["GET", "nokey"], "keymiss", "keymiss nokey");
    // A key miss is not part of All.
    assert_eq!(last(&mut con, "rmkit-class-all").as_deref(), Some("xadd x"));
    delivered(&mut con, &["hooks.rmkit_notify", "m"], "module", "rmkit m");
    let _: () = q(&mut con, &["SET", "e", "1", "PX", "1"]);
    wait_last(&server, "rmkit-class-expired", "expired e");
    // Eviction: every key may go once maxmemory is below what is used.
    let _: () = q(
        &mut con,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    );
    let _: () = q(&mut con, &["CONFIG", "SET", "maxmemory", "1"]);
    // The write itself may be refused (OOM) after evicting: only the eviction matters here.
    let _ = rmkit_tests::cmd(&["SET", "another", "1"]).query::<Value>(&mut con);
    let _: () = q(&mut con, &["CONFIG", "SET", "maxmemory", "0"]);
    let evicted = last(&mut con, "rmkit-class-evicted").expect("an eviction was notified");
    assert!(evicted.starts_with("evicted "), "{evicted}");
}

// ---- the keyspace_events port ------------------------------------------------------------

fn keyspace() -> (Server, Connection) {
    let server = Server::builder()
        .module("conformance-keyspace_events")
        .start();
    let con = server.client();
    (server, con)
}

fn get(con: &mut Connection, key: &str) -> Option<String> {
    q(con, &["GET", key])
}

#[test]
fn a_del_notification_deletes_the_copy_and_counts_multi_and_scripts() {
    let (_server, mut con) = keyspace();
    let _: () = q(&mut con, &["SET", "x", "1"]);
    let _: () = q(&mut con, &["SET", "x_copy", "1"]);
    let n: i64 = q(&mut con, &["keyspace.del_key_copy", "x"]);
    assert_eq!(n, 1);
    assert_eq!(get(&mut con, "x_copy"), None);
    assert_eq!(get(&mut con, "multi"), None);
    for case in [
        "keyspace.incr_case1",
        "keyspace.incr_case2",
        "keyspace.incr_case3",
    ] {
        let _: i64 = q(&mut con, &[case, "x"]);
    }
    assert_eq!(get(&mut con, "x").as_deref(), Some("3"));

    let _: () = q(&mut con, &["SET", "x", "1"]);
    let _: () = q(&mut con, &["SET", "x_copy", "1"]);
    let (): () = redis::pipe()
        .atomic()
        .cmd("keyspace.del_key_copy")
        .arg("x")
        .ignore()
        .query(&mut con)
        .unwrap();
    assert_eq!(get(&mut con, "multi").as_deref(), Some("1"));
    assert_eq!(get(&mut con, "x_copy"), None);
    assert_eq!(get(&mut con, "lua"), None);

    let _: () = q(&mut con, &["SET", "x", "1"]);
    let _: () = q(&mut con, &["SET", "x_copy", "1"]);
    let _: Value = q(
        &mut con,
        &[
            "EVAL",
            "redis.pcall('keyspace.del_key_copy', KEYS[1])",
            "1",
            "x",
        ],
    );
    assert_eq!(get(&mut con, "lua").as_deref(), Some("1"));
    assert_eq!(get(&mut con, "x_copy"), None);
}

#[test]
fn loaded_module_and_expired_notifications_of_the_port() {
    let (server, mut con) = keyspace();
    let _: () = q(&mut con, &["SET", "x", "1"]);
    let _: () = q(&mut con, &["HSET", "y", "f", "v"]);
    let _: () = q(&mut con, &["DEBUG", "RELOAD"]);
    let loaded: Vec<Value> = q(&mut con, &["keyspace.is_key_loaded", "y"]);
    assert_eq!(loaded, [Value::Int(1), Value::BulkString(b"y".to_vec())]);
    let missing: Vec<Value> = q(&mut con, &["keyspace.is_key_loaded", "nokey"]);
    assert_eq!(missing, [Value::Int(0), Value::Nil]);
    let _: Value = q(&mut con, &["keyspace.notify", "k"]);
    let notified: Vec<Value> = q(&mut con, &["keyspace.is_module_key_notified", "k"]);
    assert_eq!(notified, [Value::Int(1), Value::BulkString(b"k".to_vec())]);
    let _: () = q(&mut con, &["SET", "exp", "1", "PX", "1"]);
    let mut c2 = server.client();
    server.wait_for("testkeyspace:expired to be 1", WAIT, |_| {
        get(&mut c2, "testkeyspace:expired").as_deref() == Some("1")
    });
    let r: String = q(&mut con, &["MODULE", "UNLOAD", "testkeyspace"]);
    assert_eq!(r, "OK");
}

// ---- the key-removed event (Redis 7.2+ / Valkey) -----------------------------------------

#[test]
fn key_removed_event_where_the_server_has_it_else_a_clear_load_error() {
    match Server::builder().module("keyevent").try_start() {
        Ok(server) => {
            let mut con = server.client();
            let _: () = q(&mut con, &["SET", "a", "1"]);
            let _: () = q(&mut con, &["SET", "a", "2"]);
            let _: i64 = q(&mut con, &["DEL", "a"]);
            let _: () = q(&mut con, &["SET", "e", "1", "PX", "1"]);
            server.wait_for("the expiry of e", WAIT, |_| {
                let seen: Vec<String> = q(&mut con, &["keyevent.seen"]);
                seen.iter().any(|s| s == "Expired e")
            });
            let seen: Vec<String> = q(&mut con, &["keyevent.seen"]);
            assert_eq!(seen[..2], ["Overwritten a", "Deleted a"], "{seen:?}");
        }
        Err(log) => {
            let version: String = {
                let plain = Server::start();
                let info = plain.info("server");
                info.get("redis_version").cloned().unwrap_or_default()
            };
            assert!(
                version.starts_with("7.0") || version.starts_with("7.1"),
                "keyevent failed to load on {version}: {log}"
            );
            assert!(
                log.contains("does not support the server event Key"),
                "the load error names the event: {log}"
            );
        }
    }
}

#[test]
fn handlers_get_only_the_kinds_they_asked_for_and_the_event_loop_is_delivered() {
    let (server, mut con) = hooks();
    // Flushes, config changes and client events go by; the SwapDb-only handler sees none.
    let _: () = q(&mut con, &["FLUSHALL"]);
    let _: () = q(&mut con, &["CONFIG", "SET", "rdbcompression", "no"]);
    drop(server.client());
    let counters: Vec<i64> = q(&mut con, &["hooks.rmkit_counters"]);
    assert_eq!(counters[0], 0, "{counters:?}");
    let _: () = q(&mut con, &["SWAPDB", "0", "1"]);
    let counters: Vec<i64> = q(&mut con, &["hooks.rmkit_counters"]);
    assert_eq!(counters[0], 1, "{counters:?}");
    assert!(counters[1] > 0 && counters[2] > 0, "{counters:?}");
}

#[test]
fn event_kind_support_is_detected() {
    let (_server, mut con) = hooks();
    let cron: i64 = q(&mut con, &["hooks.rmkit_supported", "8"]);
    assert_eq!(cron, 1);
    let key: i64 = q(&mut con, &["hooks.rmkit_supported", "17"]);
    let info: String = q(&mut con, &["INFO", "server"]);
    let valkey = info.contains("valkey_version") || info.contains("server_name:valkey");
    assert_eq!(
        key,
        i64::from(valkey),
        "the key event on this server: {info}"
    );
    let err = rmkit_tests::q_err(&mut con, &["hooks.rmkit_supported", "12"]);
    assert!(err.contains("no such event kind"), "{err}");
}
