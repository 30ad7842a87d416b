//! The toolkit inside a real server: commands from every linked crate, no command cap, panics
//! turned into error replies, duplicate names refused, unload/reload, allocator alignment.

use redis::Value;
use rmkit_tests::{Server, err_text, module_path};

#[test]
fn three_hundred_commands_register_first_and_last_answer() {
    let server = Server::builder().module("many").start();
    let mut con = server.client();
    for i in [1, 2, 150, 299, 300] {
        let v: i64 = redis::cmd(&format!("many.cmd{i}")).query(&mut con).unwrap();
        assert_eq!(v, i);
    }
    let e = redis::cmd("many.cmd301")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(err_text(e).contains("unknown command"));
    assert!(
        server
            .log()
            .contains("301 commands, 0 data types and 0 configs registered"),
        "300 + many.memory:\n{}",
        server.log()
    );
}

#[test]
fn commands_from_every_contributing_crate_are_present() {
    let server = Server::builder()
        .module("memtest-rmkit")
        .module("hashex")
        .start();
    let mut con = server.client();
    // memtest.* come from the `memtest` rlib, memtest.memory from the toolkit, and the module
    // crate itself declares none.
    let grown: i64 = redis::cmd("memtest.grow")
        .arg(1000)
        .query(&mut con)
        .unwrap();
    assert!(grown >= 1000);
    let stats: Vec<Value> = redis::cmd("memtest.memory").query(&mut con).unwrap();
    assert_eq!(stats.len(), 10);
    assert_eq!(stats[0], Value::BulkString(b"routed".to_vec()));
    assert_eq!(stats[1], Value::Int(1));
    // Each module reports its own allocator: hashex holds nothing between commands.
    let hashex: Vec<Value> = redis::cmd("hashex.memory").query(&mut con).unwrap();
    let memtest_live = &stats[3];
    assert!(
        matches!(memtest_live, Value::Int(n) if *n >= 1000),
        "{stats:?}"
    );
    assert_eq!(hashex[3], Value::Int(0), "{hashex:?}");
    let info = server.info("memtest_alloc");
    assert_eq!(
        info.get("memtest_routed").map(String::as_str),
        Some("1"),
        "{info:?}"
    );
}

#[test]
fn system_allocator_variant_reports_unrouted() {
    let server = Server::builder().module("memtest-system").start();
    let mut con = server.client();
    let counted: i64 = redis::cmd("memtest.grow")
        .arg(100_000)
        .query(&mut con)
        .unwrap();
    assert_eq!(counted, 0, "System memory is invisible to the server");
    let stats: Vec<Value> = redis::cmd("memtest.memory").query(&mut con).unwrap();
    assert_eq!(stats[1], Value::Int(0));
    assert!(server.log().contains("use the system allocator"));
}

#[test]
fn a_panicking_command_replies_an_error_and_the_server_lives() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut con = server.client();
    let e = redis::cmd("memtest.panic")
        .arg("boom at 42")
        .query::<Value>(&mut con)
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "ERR command 'memtest.panic' panicked: boom at 42 (see the server log)"
    );
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let log = server.log();
    assert!(
        log.contains("<memtest> rmkit: panic in thread") && log.contains("boom at 42"),
        "{log}"
    );
    // And again: the hook and the module are still in place.
    assert!(
        redis::cmd("memtest.panic")
            .arg("again")
            .query::<Value>(&mut con)
            .is_err()
    );
    let grown: i64 = redis::cmd("memtest.grow").arg(10).query(&mut con).unwrap();
    assert!(grown >= 10);
}

#[test]
fn a_duplicate_command_name_fails_the_load_with_a_clear_log_line() {
    let server = Server::start();
    let mut con = server.client();
    let path = module_path("dupe").display().to_string();
    let e = redis::cmd("MODULE")
        .arg("LOAD")
        .arg(&path)
        .query::<Value>(&mut con)
        .unwrap_err();
    assert!(err_text(e).contains("Error loading the extension"));
    let log = server.log();
    // Names compare case-insensitively; the line names both declarations in source order
    // (whatever order the linker put them in), the name as the first one spells it.
    let line = log
        .lines()
        .find(|l| l.contains("rmkit: module 'dupe' not loaded: command '"))
        .unwrap_or_else(|| panic!("no load error line in\n{log}"));
    assert!(
        line.contains(
            "command 'dupe.cmd' is declared twice: at tests/fixtures/dupe/src/lib.rs:7 and at \
             tests/fixtures/dupe/src/lib.rs:13; rename one"
        ),
        "{line}"
    );
    let modules: Vec<Value> = redis::cmd("MODULE").arg("LIST").query(&mut con).unwrap();
    assert!(modules.is_empty());
}

#[test]
fn hashex_unloads_and_reloads() {
    let server = Server::start();
    let mut con = server.client();
    let path = module_path("hashex").display().to_string();
    for round in 0..5 {
        let _: () = redis::cmd("MODULE")
            .arg("LOAD")
            .arg(&path)
            .query(&mut con)
            .unwrap();
        let old: Option<String> = redis::cmd("HGETSET")
            .arg("h")
            .arg("f")
            .arg(round.to_string())
            .query(&mut con)
            .unwrap();
        assert_eq!(old, (round > 0).then(|| (round - 1).to_string()));
        let _: () = redis::cmd("MODULE")
            .arg("UNLOAD")
            .arg("hashex")
            .query(&mut con)
            .unwrap();
        let e = redis::cmd("HGETSET")
            .arg("h")
            .arg("f")
            .arg("x")
            .query::<Value>(&mut con)
            .unwrap_err();
        assert!(err_text(e).contains("unknown command"));
    }
}

#[test]
fn every_alignment_up_to_4096_inside_the_server() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut con = server.client();
    let checked: i64 = redis::cmd("memtest.align").query(&mut con).unwrap();
    assert_eq!(checked, 9 * 2 * 10);
}

#[test]
fn integer_arguments_follow_redis_rules_and_wording() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut con = server.client();
    for bad in ["abc", "-1", "01", "+5", " 5", "99999999999999999999", ""] {
        let e = redis::cmd("memtest.grow")
            .arg(bad)
            .query::<Value>(&mut con)
            .unwrap_err();
        assert_eq!(
            err_text(e),
            "ERR value is not an integer or out of range",
            "{bad:?}"
        );
    }
    let ok: i64 = redis::cmd("memtest.grow").arg("0").query(&mut con).unwrap();
    assert!(ok >= 0);
}

/// `Error::new` is an `ERR` whatever the message says: the first word of the message is not
/// taken as an error code (it would be counted in `errorstat_<WORD>`).
#[test]
fn error_codes_are_explicit() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    // Errors counted so far (the client library's own handshake may have caused some).
    let errs = |c: &mut redis::Connection| -> (i64, String) {
        let stats: String = redis::cmd("INFO").arg("errorstats").query(c).unwrap();
        let n = stats
            .lines()
            .find_map(|l| l.strip_prefix("errorstat_ERR:count="))
            .map_or(0, |n| n.trim().parse().unwrap());
        (n, stats)
    };
    let (before, _) = errs(&mut c);
    let e = redis::cmd("memtest.fail")
        .arg("TTL must be positive")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err_text(e), "ERR TTL must be positive");
    let (after, stats) = errs(&mut c);
    assert_eq!(after, before + 1, "{stats}");
    assert!(!stats.contains("errorstat_TTL"), "{stats}");
}

/// A panic message with line breaks stays one line of the server log.
#[test]
fn a_multi_line_panic_message_is_one_log_line() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let e = redis::cmd("memtest.panic")
        .arg("first line\nsecond line")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "ERR command 'memtest.panic' panicked: first line second line (see the server log)"
    );
    let log = server.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("second line")).collect();
    assert!(!lines.is_empty(), "{log}");
    for line in lines {
        assert!(
            line.contains("first line"),
            "split log line: {line:?}\n{log}"
        );
    }
}

/// `getkeys-api`: key-position requests are answered by the declared function and the body
/// never runs for them (on Redis 7.0 a body run in that mode crashes the server in
/// RM_OpenKey): COMMAND GETKEYS, and ACL key patterns, which ask for the keys of every call.
#[test]
fn key_position_requests_are_answered_without_running_the_command() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("memtest.keys")
        .arg(2)
        .arg("a")
        .arg("b")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["a", "b"]);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, 0, "GETKEYS must not run the command");
    // A user restricted to keys app:*.
    let _: String = redis::cmd("ACL")
        .arg(&["SETUSER", "app", "on", ">pw", "~app:*", "+@all"])
        .query(&mut c)
        .unwrap();
    let mut u = server.client();
    let _: () = redis::cmd("AUTH")
        .arg("app")
        .arg("pw")
        .query(&mut u)
        .unwrap();
    let n: i64 = redis::cmd("memtest.keys")
        .arg(2)
        .arg("app:1")
        .arg("app:2")
        .arg("v")
        .query(&mut u)
        .unwrap();
    assert_eq!(n, 2);
    let e = redis::cmd("memtest.keys")
        .arg(2)
        .arg("app:1")
        .arg("other")
        .arg("v")
        .query::<Value>(&mut u)
        .unwrap_err();
    assert!(err_text(e).starts_with("NOPERM"), "refused by key pattern");
    let other: i64 = redis::cmd("EXISTS").arg("other").query(&mut c).unwrap();
    assert_eq!(other, 0);
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG", "the server lives");
}
