//! The `ratelimit` example module on a real server: limits, deterministic replication of a
//! time-based decision, configs, figures reset on FLUSHALL and across a cluster.

use rmkit_tests::{Server, q, q_err};
use std::collections::HashMap;
use std::time::Duration;

fn stats(con: &mut redis::Connection) -> HashMap<String, i64> {
    q(con, &["rl.stats"])
}

/// `limit` requests per window pass, the next is refused with when to retry; the stored
/// state (and its expiry) reaches a replica exactly as the primary decided it.
#[test]
fn limits_and_replicates_the_decision_not_the_clock() {
    let primary = Server::builder().module("ratelimit").start();
    let replica = Server::builder()
        .module("ratelimit")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let mut con = primary.client();
    let window = "600000"; // ten minutes: the test never crosses an interval
    for remaining in [2, 1, 0] {
        let r: Vec<i64> = q(&mut con, &["rl.hit", "user:1", "3", window]);
        assert_eq!(r, [1, remaining, 0]);
    }
    let r: Vec<i64> = q(&mut con, &["rl.hit", "user:1", "3", window]);
    assert_eq!(r[..2], [0, 0]);
    assert!(r[2] > 0 && r[2] <= 200_000, "retry after {} ms", r[2]);
    assert_eq!(
        q::<Vec<i64>>(&mut con, &["rl.peek", "user:1", "3", window])[0],
        0
    );
    assert_eq!(stats(&mut con)["allowed"], 3);
    assert_eq!(stats(&mut con)["denied"], 1);

    replica.wait_caught_up_with(&primary);
    let mut rcon = replica.client();
    let on_primary: (String, i64) = (
        q(&mut con, &["GET", "user:1"]),
        q(&mut con, &["PEXPIRETIME", "user:1"]),
    );
    let on_replica: (String, i64) = (
        q(&mut rcon, &["GET", "user:1"]),
        q(&mut rcon, &["PEXPIRETIME", "user:1"]),
    );
    assert_eq!(
        on_replica, on_primary,
        "the replica holds what the primary decided"
    );
    assert_eq!(
        on_primary.1,
        on_primary.0.parse::<i64>().unwrap(),
        "it expires when full again"
    );

    let _: i64 = q(&mut con, &["LPUSH", "list", "x"]);
    assert!(q_err(&mut con, &["rl.hit", "list"]).starts_with("WRONGTYPE"));
    assert!(q_err(&mut con, &["rl.hit", "k", "0", "10"]).contains("positive"));
}

/// The configured defaults apply when RL.HIT gets no limit; disabled, everything passes
/// uncounted; FLUSHALL zeroes the figures.
#[test]
fn configs_and_flush() {
    let server = Server::builder()
        .module("ratelimit")
        .config("ratelimit.default-limit", "2")
        .start();
    let mut con = server.client();
    assert_eq!(q::<Vec<i64>>(&mut con, &["rl.hit", "k"])[..2], [1, 1]);
    assert_eq!(q::<Vec<i64>>(&mut con, &["rl.hit", "k"])[..2], [1, 0]);
    assert_eq!(q::<Vec<i64>>(&mut con, &["rl.hit", "k"])[0], 0);
    let _: String = q(&mut con, &["CONFIG", "SET", "ratelimit.enabled", "no"]);
    assert_eq!(q::<Vec<i64>>(&mut con, &["rl.hit", "k"])[0], 1);
    assert_eq!(stats(&mut con)["allowed"], 2, "disabled: not counted");
    let _: String = q(&mut con, &["FLUSHALL"]);
    assert_eq!(stats(&mut con)["allowed"], 0);
    assert_eq!(stats(&mut con)["resets"], 1);
}

/// RL.RESETSTATS on one node zeroes the figures on every node of the cluster.
#[test]
fn reset_reaches_every_node_of_a_cluster() {
    let cluster = rmkit_tests::Cluster::start(3, 0, Server::builder().module("ratelimit"));
    let nodes = cluster.nodes();
    let mut con0 = nodes[0].client();
    let _: String = q(&mut con0, &["rl.resetstats"]);
    for n in &nodes[1..] {
        n.wait_for("the reset message", Duration::from_secs(10), |s| {
            stats(&mut s.client())["resets"] == 1
        });
    }
    assert_eq!(stats(&mut con0)["resets"], 1);
}

/// INFO shows the live figures; a config change that contradicts the other is refused with the
/// callback's message and the value stays; the change callback runs; the filter counts commands.
#[test]
fn info_config_callbacks_and_the_command_filter() {
    let server = Server::builder().module("ratelimit").start();
    let mut con = server.client();
    let _: Vec<i64> = q(&mut con, &["rl.hit", "k", "5", "1000"]);
    let info: String = q(&mut con, &["INFO", "ratelimit"]);
    assert!(info.contains("ratelimit_stats"), "{info}");
    assert!(info.contains("allowed:1"), "{info}");
    assert!(info.contains("enabled:yes"), "{info}");

    let e = q_err(
        &mut con,
        &["CONFIG", "SET", "ratelimit.default-window-ms", "10"],
    );
    assert!(e.contains("lower the limit first"), "{e}");
    let got: Vec<String> = q(&mut con, &["CONFIG", "GET", "ratelimit.default-window-ms"]);
    assert_eq!(got[1], "60000", "the refused value did not stick");
    let _: String = q(&mut con, &["CONFIG", "SET", "ratelimit.enabled", "no"]);
    server.wait_for(
        "the change callback's log line",
        Duration::from_secs(10),
        |s| s.log().contains("ratelimit: limits are off"),
    );

    for _ in 0..7 {
        let _: String = q(&mut con, &["PING"]);
    }
    let top: Vec<(String, i64)> = q(&mut con, &["rl.top", "50"]);
    let ping = top.iter().find(|(n, _)| n == "ping").map(|(_, c)| *c);
    assert!(ping >= Some(7), "the filter counted the PINGs: {top:?}");
    assert!(top.iter().any(|(n, _)| n == "rl.hit"), "{top:?}");
}

/// The module's arguments: `count-commands no` leaves the command filter out (RL.TOP says
/// why it has nothing), anything else refuses the load with the reason in the log; without
/// arguments the filter counts again.
#[test]
fn module_arguments_choose_whether_commands_are_counted() {
    let server = Server::builder().start();
    let mut con = server.client();
    let path = rmkit_tests::module_path("ratelimit");
    let path = path.to_str().unwrap();

    let e = q_err(
        &mut con,
        &["MODULE", "LOAD", path, "count-commands", "sometimes"],
    );
    assert!(e.contains("Error loading the extension"), "{e}");
    server.wait_for(
        "the refusal's reason in the log",
        Duration::from_secs(10),
        |s| {
            s.log()
                .contains("unknown module argument 'count-commands sometimes'")
        },
    );
    assert!(q_err(&mut con, &["rl.top"]).contains("unknown command"));

    let _: () = q(&mut con, &["MODULE", "LOAD", path, "COUNT-COMMANDS", "no"]);
    let _: Vec<i64> = q(&mut con, &["rl.hit", "k", "5", "1000"]);
    let e = q_err(&mut con, &["rl.top"]);
    assert!(e.starts_with("ERR commands are not counted"), "{e}");
    assert!(e.contains("count-commands no"), "{e}");

    let _: () = q(&mut con, &["MODULE", "UNLOAD", "ratelimit"]);
    let _: () = q(&mut con, &["MODULE", "LOAD", path]);
    let _: String = q(&mut con, &["PING"]);
    let top: Vec<(String, i64)> = q(&mut con, &["rl.top"]);
    assert_eq!(
        top.iter().find(|(n, _)| n == "ping").map(|(_, c)| *c),
        Some(1),
        "counting again after a load without arguments: {top:?}"
    );
}

/// RL.RESETSTATS logs who reset the figures: the ACL user and the client's id and address,
/// as CLIENT INFO gives them.
#[test]
fn resetting_the_figures_logs_who_did_it() {
    let server = Server::builder().module("ratelimit").start();
    let mut con = server.client();
    let _: String = q(
        &mut con,
        &["ACL", "SETUSER", "ops", "on", ">pw", "+@all", "~*"],
    );
    let _: String = q(&mut con, &["AUTH", "ops", "pw"]);
    let id: i64 = q(&mut con, &["CLIENT", "ID"]);
    let info: String = q(&mut con, &["CLIENT", "INFO"]);
    let addr = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .expect("CLIENT INFO has addr=");
    let _: String = q(&mut con, &["rl.resetstats"]);
    let line = format!("ratelimit: figures reset by user ops (client {id} at {addr})");
    server.wait_for("the audit line", Duration::from_secs(10), |s| {
        s.log().contains(&line)
    });
}

/// Whether the server has custom authentication callbacks (Redis 7.2+, any Valkey).
fn has_auth_callbacks(server: &Server) -> bool {
    let info = server.info("server");
    if info.contains_key("valkey_version") {
        return true;
    }
    let version: Vec<u32> = info["redis_version"]
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    version[..2] >= [7, 2][..]
}

/// `ratelimit.auth-limit` caps AUTH attempts per client address per minute through an auth
/// callback: right or wrong password, the attempt past the limit is refused with when to
/// retry, and counted. A server without auth callbacks (Redis 7.0) refuses the setting with
/// the reason.
#[test]
fn auth_attempts_are_limited_per_address_where_the_server_can() {
    let server = Server::builder().module("ratelimit").start();
    let mut con = server.client();
    if !has_auth_callbacks(&server) {
        let e = q_err(&mut con, &["CONFIG", "SET", "ratelimit.auth-limit", "3"]);
        assert!(
            e.contains("custom authentication came in Redis 7.2 and Valkey 8"),
            "{e}"
        );
        assert!(
            server
                .log()
                .contains("ratelimit: AUTH attempts cannot be limited here"),
            "the load said so"
        );
        return;
    }
    let _: String = q(
        &mut con,
        &["ACL", "SETUSER", "app", "on", ">secret", "+@all", "~*"],
    );
    let _: String = q(&mut con, &["CONFIG", "SET", "ratelimit.auth-limit", "3"]);
    let mut c = server.client();
    assert!(q_err(&mut c, &["AUTH", "app", "wrong"]).contains("WRONGPASS"));
    assert!(q_err(&mut c, &["AUTH", "app", "wrong"]).contains("WRONGPASS"));
    let _: String = q(&mut c, &["AUTH", "app", "secret"]);
    // The fourth attempt within the minute, from the same address (and another connection).
    let mut other = server.client();
    let e = q_err(&mut other, &["AUTH", "app", "secret"]);
    assert!(
        e.starts_with("ERR too many AUTH attempts from 127.0.0.1 (ratelimit.auth-limit is 3 a minute); retry in "),
        "{e}"
    );
    let who: String = q(&mut other, &["ACL", "WHOAMI"]);
    assert_eq!(who, "default", "the refused AUTH changed nothing");
    assert_eq!(stats(&mut con)["auth-denied"], 1);

    // 0 turns the limit off again.
    let _: String = q(&mut con, &["CONFIG", "SET", "ratelimit.auth-limit", "0"]);
    let _: String = q(&mut other, &["AUTH", "app", "secret"]);
}
