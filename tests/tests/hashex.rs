//! hashex against a real redis-server: the seed transcript, errors, binary data, many fields,
//! keyspace events, replication and AOF.

use redis::{Connection, Value};
use rmkit_tests::Server;

fn err_text(r: redis::RedisResult<Value>) -> String {
    rmkit_tests::err_text(r.expect_err("expected an error reply"))
}

fn cmd(con: &mut Connection, args: &[&[u8]]) -> redis::RedisResult<Value> {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn seed_transcript_replies_exactly() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    let steps: [(&[&[u8]], Value); 5] = [
        (&[b"hset", b"a", b"a", b"1"], Value::Int(1)),
        (&[b"hgetset", b"a", b"a", b"2"], bulk("1")),
        (&[b"hget", b"a", b"a"], bulk("2")),
        (&[b"hgetset", b"a", b"b", b"2"], Value::Nil),
        (&[b"hgetset", b"a", b"b", b"3"], bulk("2")),
    ];
    for (args, expected) in steps {
        assert_eq!(cmd(&mut con, args).unwrap(), expected, "{args:?}");
    }
    let all: Vec<(String, String)> = redis::cmd("HGETALL").arg("a").query(&mut con).unwrap();
    assert_eq!(all, [("a".into(), "2".into()), ("b".into(), "3".into())]);
}

#[test]
fn errors_use_redis_wording_and_change_nothing() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    cmd(&mut con, &[b"set", b"s", b"string"]).unwrap();
    cmd(&mut con, &[b"hset", b"h", b"f", b"v"]).unwrap();
    for args in [
        &[&b"hgetset"[..], b"h", b"f"][..],
        &[b"hgetset", b"h", b"f", b"v", b"extra"],
        &[b"hgetset"],
    ] {
        assert_eq!(
            err_text(cmd(&mut con, args)),
            "ERR wrong number of arguments for 'hgetset' command"
        );
    }
    assert_eq!(
        err_text(cmd(&mut con, &[b"hgetset", b"s", b"f", b"v"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        err_text(cmd(&mut con, &[b"hmgetset", b"h", b"f", b"v", b"g"])),
        "ERR wrong number of arguments for 'hmgetset' command"
    );
    assert_eq!(cmd(&mut con, &[b"get", b"s"]).unwrap(), bulk("string"));
    assert_eq!(
        cmd(&mut con, &[b"hgetall", b"h"]).unwrap(),
        Value::Array(vec![bulk("f"), bulk("v")])
    );
    assert_eq!(cmd(&mut con, &[b"dbsize"]).unwrap(), Value::Int(2));
}

#[test]
fn keys_fields_and_values_are_binary_safe() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    let key: &[u8] = b"k\x00\xff\r\n";
    let field: &[u8] = b"\x00f\xfe\r\n \"";
    let value: &[u8] = &[0, 255, 13, 10, 0, 1, 2];
    assert_eq!(
        cmd(&mut con, &[b"hgetset", key, field, value]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd(&mut con, &[b"hget", key, field]).unwrap(),
        Value::BulkString(value.to_vec())
    );
    // Empty field and value are values like any other.
    assert_eq!(
        cmd(&mut con, &[b"hgetset", key, b"", b""]).unwrap(),
        Value::Nil
    );
    assert_eq!(
        cmd(&mut con, &[b"hgetset", key, b"", b"x"]).unwrap(),
        Value::BulkString(vec![])
    );
    assert_eq!(
        cmd(&mut con, &[b"hgetset", key, field, b""]).unwrap(),
        Value::BulkString(value.to_vec())
    );
}

#[test]
fn any_number_of_fields_in_one_command() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    let n = 1000;
    let mut c = redis::cmd("HMGETSET");
    c.arg("big");
    for i in 0..n {
        c.arg(format!("f{i}")).arg(format!("v{i}"));
    }
    let first: Vec<Option<String>> = c.query(&mut con).unwrap();
    assert_eq!(first.len(), n);
    assert!(first.iter().all(Option::is_none));
    let mut c = redis::cmd("HMGETSET");
    c.arg("big");
    for i in 0..n {
        c.arg(format!("f{i}")).arg("new");
    }
    let second: Vec<Option<String>> = c.query(&mut con).unwrap();
    assert_eq!(second[0].as_deref(), Some("v0"));
    assert_eq!(second[n - 1], Some(format!("v{}", n - 1)));
    assert_eq!(
        cmd(&mut con, &[b"hlen", b"big"]).unwrap(),
        Value::Int(n as i64)
    );
}

#[test]
fn emits_the_hset_keyspace_event_like_hset() {
    let server = Server::builder()
        .module("hashex")
        .config("notify-keyspace-events", "Eh")
        .start();
    let mut sub = server.client();
    let mut con = server.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.subscribe("__keyevent@0__:hset").unwrap();
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    cmd(&mut con, &[b"hgetset", b"evkey", b"f", b"v"]).unwrap();
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "evkey");
}

#[test]
fn replicates_once_to_replica_and_aof() {
    let primary = Server::builder()
        .module("hashex")
        .config("appendonly", "yes")
        .start();
    let replica = Server::builder()
        .module("hashex")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let mut con = primary.client();
    cmd(&mut con, &[b"hgetset", b"r", b"f", b"1"]).unwrap();
    cmd(&mut con, &[b"hgetset", b"r", b"f", b"2"]).unwrap();
    cmd(&mut con, &[b"hmgetset", b"r", b"g", b"3", b"h", b"4"]).unwrap();
    replica.wait_caught_up_with(&primary);
    let mut rcon = replica.client();
    let got: Vec<String> = redis::cmd("HMGET")
        .arg("r")
        .arg("f")
        .arg("g")
        .arg("h")
        .query(&mut rcon)
        .unwrap();
    assert_eq!(got, ["2", "3", "4"]);

    // The AOF holds each command once, verbatim (not an HSET next to it).
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("always")
        .query(&mut con)
        .unwrap();
    let aof = read_aof(&primary);
    assert_eq!(aof.matches("hgetset").count(), 2, "{aof}");
    assert_eq!(aof.matches("hmgetset").count(), 1, "{aof}");
    assert!(!aof.to_ascii_lowercase().contains("hset\r"), "{aof}");

    // And a restart from the AOF rebuilds the same hash.
    let mut primary = primary;
    primary.restart();
    let mut con = primary.client();
    let got: Vec<String> = redis::cmd("HMGET")
        .arg("r")
        .arg("f")
        .arg("g")
        .arg("h")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["2", "3", "4"]);
}

/// Every AOF file's text (Redis 7 keeps them in appendonlydir/).
fn read_aof(server: &Server) -> String {
    let mut out = String::new();
    let dir = server.dir().join("appendonlydir");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".aof") {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn command_info_shows_arity_flags_keys_and_summary() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("hgetset")
        .query(&mut con)
        .unwrap();
    let Value::Array(entry) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(entry[0], bulk("hgetset"));
    assert_eq!(entry[1], Value::Int(4), "arity");
    let flags: Vec<String> = redis::from_redis_value(entry[2].clone()).unwrap();
    for f in ["write", "denyoom", "fast", "module"] {
        assert!(flags.iter().any(|x| x == f), "flag {f} in {flags:?}");
    }
    assert_eq!(
        &entry[3..6],
        &[Value::Int(1), Value::Int(1), Value::Int(1)],
        "first/last/step"
    );
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("hgetset")
        .arg("k")
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["k"]);
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("hgetset")
        .query(&mut con)
        .unwrap();
    let text = format!("{docs:?}");
    for expected in [
        "return the field's previous value",
        "1.0.0",
        "O(1)",
        "field",
        "key_spec_index",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("hmgetset")
        .query(&mut con)
        .unwrap();
    assert!(format!("{docs:?}").contains("multiple"), "{docs:?}");
}

#[test]
fn acl_categories_are_set_where_the_server_supports_them() {
    let server = Server::builder().module("hashex").start();
    let mut con = server.client();
    let version = server.info("server")["redis_version"].clone();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    if (major, minor) >= (7, 2) {
        for category in ["hash", "write"] {
            let cmds: Vec<String> = redis::cmd("ACL")
                .arg("CAT")
                .arg(category)
                .query(&mut con)
                .unwrap();
            assert!(cmds.iter().any(|c| c == "hgetset"), "@{category}: {cmds:?}");
        }
    } else {
        assert!(
            server.log().contains(
                "this server cannot put module commands in ACL categories (needs Redis 7.2+): \
                 rules such as '-@write' or '+@read' do not apply to module 'hashex''s 3 \
                 commands (2 of them declare categories)"
            ),
            "{}",
            server.log()
        );
    }
}
