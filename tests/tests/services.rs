//! Toolkit services inside a real server: RESP2/RESP3 replies, calling Redis, replication
//! helpers, and the `log` crate backend.

use redis::Value;
use rmkit_tests::{Server, err_text};

#[test]
fn resp3_types_reach_resp3_clients_and_are_downgraded_for_resp2() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c2 = server.client();
    let v2: Value = redis::cmd("memtest.resp3").query(&mut c2).unwrap();
    let Value::Array(flat) = v2 else {
        panic!("RESP2 gets a flat array: {v2:?}")
    };
    assert_eq!(flat.len(), 12);
    assert_eq!(flat[1], Value::Int(1), "bool -> integer");
    assert_eq!(
        flat[3],
        Value::BulkString(b"1.5".to_vec()),
        "double -> bulk"
    );
    assert_eq!(
        flat[5],
        Value::BulkString(b"12345678901234567890123".to_vec()),
        "big number -> bulk"
    );
    assert_eq!(
        flat[11],
        Value::BulkString(b"hello".to_vec()),
        "verbatim -> bulk"
    );

    let client = redis::Client::open(format!("{}?protocol=resp3", server.url())).unwrap();
    let mut c3 = client.get_connection().unwrap();
    let v3: Value = redis::cmd("memtest.resp3").query(&mut c3).unwrap();
    let Value::Map(map) = v3 else {
        panic!("RESP3 gets a map: {v3:?}")
    };
    let get = |k: &str| {
        map.iter()
            .find(|(key, _)| *key == Value::BulkString(k.as_bytes().to_vec()))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(get("bool"), Value::Boolean(true));
    assert_eq!(get("double"), Value::Double(1.5));
    assert!(
        matches!(get("big"), Value::BigNumber(_)),
        "{:?}",
        get("big")
    );
    assert!(matches!(get("set"), Value::Set(ref s) if s.len() == 2));
    assert_eq!(get("null"), Value::Nil);
    assert!(matches!(get("text"), Value::VerbatimString { ref text, .. } if text == "hello"));
    // The toolkit's own memory command is a map for RESP3 clients too.
    let m: Value = redis::cmd("memtest.memory").query(&mut c3).unwrap();
    assert!(
        matches!(m, Value::Map(ref pairs) if pairs.len() == 5),
        "{m:?}"
    );
}

#[test]
fn call_runs_commands_and_returns_typed_replies_and_errors() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let ok: String = redis::cmd("memtest.call")
        .arg("SET")
        .arg("k")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: String = redis::cmd("memtest.call")
        .arg("GET")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, "v");
    let n: i64 = redis::cmd("memtest.call")
        .arg("HSET")
        .arg("h")
        .arg("a")
        .arg("1")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let all: Vec<String> = redis::cmd("memtest.call")
        .arg("HGETALL")
        .arg("h")
        .query(&mut c)
        .unwrap();
    assert_eq!(all, ["a", "1"]);
    let nil: Option<String> = redis::cmd("memtest.call")
        .arg("GET")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(nil, None);
    let e = redis::cmd("memtest.call")
        .arg("HGET")
        .arg("k")
        .arg("f")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    let e = redis::cmd("memtest.call")
        .arg("NOSUCHCOMMAND")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(
        err_text(e).starts_with("ERR"),
        "unknown command gives an error reply"
    );
}

#[test]
fn replicate_sends_its_own_command_to_replicas() {
    let primary = Server::builder().module("memtest-rmkit").start();
    let replica = Server::builder()
        .module("memtest-rmkit")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let mut c = primary.client();
    let _: String = redis::cmd("memtest.replicate")
        .arg("rk")
        .query(&mut c)
        .unwrap();
    replica.wait_caught_up_with(&primary);
    let here: Option<String> = redis::cmd("GET").arg("rk").query(&mut c).unwrap();
    assert_eq!(here, None, "replicate() does not run the command locally");
    let mut r = replica.client();
    let there: Option<String> = redis::cmd("GET").arg("rk").query(&mut r).unwrap();
    assert_eq!(there.as_deref(), Some("replicated"));
}

#[test]
fn the_log_crate_writes_to_the_server_log_at_mapped_levels() {
    let server = Server::builder()
        .module("memtest-rmkit")
        .config("loglevel", "notice")
        .start();
    let mut c = server.client();
    for (level, msg) in [
        ("warn", "warned-1"),
        ("info", "informed-2"),
        ("debug", "debugged-3"),
    ] {
        let _: String = redis::cmd("memtest.log")
            .arg(level)
            .arg(msg)
            .query(&mut c)
            .unwrap();
    }
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains(" # <memtest> warned-1")),
        "warn -> warning (#):\n{log}"
    );
    assert!(
        log.lines().any(|l| l.contains(" * <memtest> informed-2")),
        "info -> notice (*):\n{log}"
    );
    assert!(
        !log.contains("debugged-3"),
        "debug -> verbose, filtered at loglevel notice"
    );
}

#[test]
fn blocked_clients_get_worker_replies_while_the_server_serves_others() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let _: i64 = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("from the keyspace")
        .query(&mut c)
        .unwrap();
    let url = server.url();
    let slow = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let started = std::time::Instant::now();
        let v: Option<String> = redis::cmd("memtest.slow")
            .arg(500)
            .arg("h")
            .arg("f")
            .query(&mut c)
            .unwrap();
        (v, started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    let t = std::time::Instant::now();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    let ping_took = t.elapsed();
    let (v, slow_took) = slow.join().unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(v.as_deref(), Some("from the keyspace"));
    assert!(slow_took >= std::time::Duration::from_millis(500));
    assert!(
        ping_took < slow_took,
        "the server kept serving while the worker ran"
    );
    let blocked: i64 = {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(blocked, 0);
    // A panicking worker: an error reply and a log line.
    let e = redis::cmd("memtest.slow")
        .arg(1)
        .arg("h")
        .arg("PANIC")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(
        err_text(e),
        "ERR worker panicked: worker boom (see the server log)"
    );
    assert!(
        server
            .log()
            .contains("rmkit: worker thread panicked: worker boom")
    );
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn keyspace_and_server_event_handlers_are_called() {
    let mut server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let _: i64 = redis::cmd("HSET")
        .arg("h1")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("HDEL").arg("h1").arg("f").query(&mut c).unwrap();
    let _: String = redis::cmd("SET")
        .arg("s")
        .arg("not a hash")
        .query(&mut c)
        .unwrap();
    let (n, last, flushes): (i64, String, i64) =
        redis::cmd("memtest.events").query(&mut c).unwrap();
    assert_eq!(
        (n, last.as_str(), flushes),
        (2, "hdel:h1", 0),
        "only hash events, in order"
    );
    // A panicking handler is logged; the write itself went through.
    let _: i64 = redis::cmd("HSET")
        .arg("panic-key")
        .arg("f")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert!(
        server
            .log()
            .contains("rmkit: keyspace event handler panicked: keyspace handler boom")
    );
    let _: String = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    let (_, _, flushes): (i64, String, i64) = redis::cmd("memtest.events").query(&mut c).unwrap();
    assert_eq!(flushes, 1);
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<Value>(&mut c);
    server.wait_for("the shutdown", std::time::Duration::from_secs(5), |s| {
        s.log().contains("memtest saw the shutdown")
    });
    server.stop();
}

#[test]
fn streamed_arrays_have_their_length_set_afterwards() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut c = server.client();
    let all: Vec<i64> = redis::cmd("memtest.stream")
        .arg(100_000)
        .query(&mut c)
        .unwrap();
    assert_eq!(all.len(), 100_000);
    assert_eq!(all[99_999], 99_999);
    let empty: Vec<i64> = redis::cmd("memtest.stream").arg(0).query(&mut c).unwrap();
    assert!(empty.is_empty());
    // An error midway closes the array with the error as its last element; the connection
    // stays usable.
    // (redis-rs surfaces an error element as the command's error.)
    let e = redis::cmd("memtest.stream")
        .arg(3)
        .arg("fail")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err_text(e), "ERR stopped on purpose");
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(
        pong, "PONG",
        "the array was closed: the connection is in sync"
    );
    // The raw reply: 4 elements, the last an error.
    use std::io::{Read, Write};
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.write_all(b"*3\r\n$14\r\nmemtest.stream\r\n$1\r\n3\r\n$4\r\nfail\r\n")
        .unwrap();
    let mut buf = vec![0u8; 256];
    let mut got = Vec::new();
    while !got.ends_with(b"purpose\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "connection closed: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"*4\r\n:0\r\n:1\r\n:2\r\n-ERR stopped on purpose\r\n");
}
