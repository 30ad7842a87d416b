//! The toolkit's key API through real commands (the memtest fixture's probes): sorted-set
//! ranges by score and by lex in both directions and ZADD's conditions, strings in place, lists
//! from both ends, absolute expiry, open-key flags per server, a keyspace scan resumed across
//! commands, a panicking scan callback, and key scans of every encoding.

use redis::{Connection, Value};
use rmkit_tests::{Server, q, q_err};
use std::collections::BTreeSet;

fn server() -> (Server, Connection) {
    let server = Server::builder().module("memtest-rmkit").start();
    let con = server.client();
    (server, con)
}

fn pairs(con: &mut Connection, args: &[&str]) -> Vec<(String, f64)> {
    q(con, args)
}

fn owned(v: &[(&str, f64)]) -> Vec<(String, f64)> {
    v.iter().map(|(m, s)| ((*m).to_owned(), *s)).collect()
}

#[test]
fn sorted_set_ranges_match_zrange_both_ways() {
    let (_s, mut con) = server();
    let _: i64 = q(
        &mut con,
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
    );
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["SCORE", "2", "4", "FWD"],
            &["ZRANGE", "z", "2", "4", "BYSCORE", "WITHSCORES"],
        ),
        (
            &["SCORE", "(2", "4", "FWD"],
            &["ZRANGE", "z", "(2", "4", "BYSCORE", "WITHSCORES"],
        ),
        (
            &["SCORE", "2", "(4", "REV"],
            &["ZRANGE", "z", "(4", "2", "BYSCORE", "REV", "WITHSCORES"],
        ),
        (
            &["SCORE", "-inf", "inf", "REV"],
            &[
                "ZRANGE",
                "z",
                "+inf",
                "-inf",
                "BYSCORE",
                "REV",
                "WITHSCORES",
            ],
        ),
        (
            &["SCORE", "6", "9", "FWD"],
            &["ZRANGE", "z", "6", "9", "BYSCORE", "WITHSCORES"],
        ),
        (
            &["SCORE", "4", "2", "FWD"],
            &["ZRANGE", "z", "4", "2", "BYSCORE", "WITHSCORES"],
        ),
    ];
    for (ours, theirs) in cases {
        let mut args = vec!["memtest.zrange", "z"];
        args.extend_from_slice(ours);
        assert_eq!(pairs(&mut con, &args), pairs(&mut con, theirs), "{ours:?}");
    }
    // Lex ranges need equal scores.
    let _: i64 = q(
        &mut con,
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
    );
    let lex = |con: &mut Connection, min: &str, max: &str, dir: &str| -> Vec<String> {
        pairs(con, &["memtest.zrange", "lex", "LEX", min, max, dir])
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    };
    assert_eq!(lex(&mut con, "[b", "+", "FWD"), ["b", "c", "d"]);
    assert_eq!(lex(&mut con, "(b", "[d", "REV"), ["d", "c"]);
    assert_eq!(lex(&mut con, "-", "+", "REV"), ["d", "c", "b", "a"]);
    assert_eq!(lex(&mut con, "-", "(a", "FWD"), Vec::<String>::new());
    assert_eq!(
        lex(&mut con, "bad", "+", "FWD"),
        Vec::<String>::new(),
        "an invalid bound is an empty range"
    );
    let _: () = q(&mut con, &["SET", "s", "x"]);
    assert!(
        q_err(&mut con, &["memtest.zrange", "s", "SCORE", "1", "2", "FWD"])
            .starts_with("WRONGTYPE")
    );
    assert_eq!(
        pairs(
            &mut con,
            &["memtest.zrange", "missing", "SCORE", "1", "2", "FWD"]
        ),
        owned(&[])
    );
}

#[test]
fn zadd_conditions_behave_like_zadd() {
    let (_s, mut con) = server();
    let add = |con: &mut Connection, cond: &str, score: &str, m: &str| -> String {
        q(con, &["memtest.zadd", "z", cond, score, m])
    };
    assert_eq!(add(&mut con, "-", "1", "a"), "added");
    assert_eq!(add(&mut con, "-", "1", "a"), "nothing", "same score");
    assert_eq!(add(&mut con, "-", "2", "a"), "updated");
    assert_eq!(add(&mut con, "NX", "5", "a"), "nothing");
    assert_eq!(add(&mut con, "XX", "5", "b"), "nothing");
    assert_eq!(add(&mut con, "GT", "1", "a"), "nothing");
    assert_eq!(add(&mut con, "GT", "3", "a"), "updated");
    assert_eq!(add(&mut con, "LT", "9", "a"), "nothing");
    assert_eq!(add(&mut con, "XX,LT", "0", "a"), "updated");
    assert_eq!(
        pairs(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        owned(&[("a", 0.0)])
    );
    assert_eq!(
        q_err(&mut con, &["memtest.zadd", "z", "NX,XX", "1", "c"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        q_err(&mut con, &["memtest.zadd", "z", "GT,LT", "1", "c"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        q::<i64>(&mut con, &["ZCARD", "z"]),
        1,
        "a refused add changes nothing"
    );
}

#[test]
fn strings_and_lists_through_the_key_api() {
    let (_s, mut con) = server();
    assert_eq!(
        q::<Option<String>>(&mut con, &["memtest.str", "s", "GET"]),
        None
    );
    let _: () = q(&mut con, &["memtest.str", "s", "SET", "hello"]);
    assert_eq!(q::<String>(&mut con, &["GET", "s"]), "hello");
    assert_eq!(q::<i64>(&mut con, &["memtest.str", "s", "LEN"]), 5);
    let _: () = q(&mut con, &["SET", "n", "12345"]);
    assert_eq!(
        q::<String>(&mut con, &["memtest.str", "n", "GET"]),
        "12345",
        "an int-encoded string reads as text"
    );
    let _: i64 = q(&mut con, &["RPUSH", "l", "b", "c"]);
    assert_eq!(
        q::<i64>(&mut con, &["memtest.list", "l", "PUSHHEAD", "a"]),
        3
    );
    assert_eq!(
        q::<i64>(&mut con, &["memtest.list", "l", "PUSHTAIL", "d"]),
        4
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["memtest.list", "l", "ALL"]),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["memtest.list", "l", "REV"]),
        ["d", "c", "b", "a"]
    );
    assert_eq!(
        q::<String>(&mut con, &["memtest.list", "l", "POPTAIL"]),
        "d"
    );
    assert_eq!(
        q::<String>(&mut con, &["memtest.list", "l", "POPHEAD"]),
        "a"
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]),
        ["b", "c"]
    );
    for _ in 0..2 {
        let _: String = q(&mut con, &["memtest.list", "l", "POPHEAD"]);
    }
    assert_eq!(
        q::<Option<String>>(&mut con, &["memtest.list", "l", "POPHEAD"]),
        None
    );
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "l"]),
        0,
        "an emptied list is deleted"
    );
    assert!(q_err(&mut con, &["memtest.list", "s", "ALL"]).starts_with("WRONGTYPE"));
    let _: i64 = q(&mut con, &["RPUSH", "l2", "x"]);
    assert!(q_err(&mut con, &["memtest.str", "l2", "GET"]).starts_with("WRONGTYPE"));
}

#[test]
fn absolute_expiry_reads_back_and_removes() {
    let (_s, mut con) = server();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = now_ms + 3_600_000;
    assert_eq!(
        q::<i64>(&mut con, &["memtest.expireat", "k", &at.to_string()]),
        at
    );
    assert_eq!(q::<i64>(&mut con, &["PEXPIRETIME", "k"]), at);
    assert_eq!(q::<i64>(&mut con, &["memtest.expireat", "k", "-1"]), -1);
    assert_eq!(
        q::<i64>(&mut con, &["PTTL", "k"]),
        -1,
        "the expire was removed"
    );
    assert_eq!(
        q_err(&mut con, &["memtest.expireat", "missing", "1"]),
        "ERR no such key"
    );
}

#[test]
fn open_key_flags_work_where_the_server_has_them_and_say_so_where_not() {
    let (server, mut con) = server();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    assert_eq!(
        q::<String>(&mut con, &["memtest.openflags", "k", "NOTOUCH"]),
        "String"
    );
    let version: String = q(&mut con, &["INFO", "server"]);
    let valkey = version.contains("valkey_version");
    for flag in ["NONOTIFY", "NOSTATS", "NOEXPIRE", "NOEFFECTS"] {
        let r = redis::cmd("memtest.openflags")
            .arg("k")
            .arg(flag)
            .query::<String>(&mut con);
        if valkey {
            assert_eq!(r.unwrap(), "String", "{flag} on {}", server.describe());
        } else {
            // Redis 7.0 has only NOTOUCH.
            let e = rmkit_tests::err_text(r.unwrap_err());
            assert!(
                e.starts_with(&format!("ERR this server cannot open keys with {flag}")),
                "{e}"
            );
        }
    }
}

#[test]
fn a_keyspace_scan_resumes_across_commands() {
    let (_s, mut con) = server();
    let want: BTreeSet<String> = (0..2000).map(|i| format!("k{i}")).collect();
    for k in &want {
        let _: () = q(&mut con, &["SET", k, "v"]);
    }
    let mut seen = BTreeSet::new();
    let mut steps = 0;
    let mut first = true;
    loop {
        let mut args = vec!["memtest.scanstep"];
        if first {
            args.push("RESTART");
            first = false;
        }
        let reply: Vec<Value> = q(&mut con, &args);
        steps += 1;
        for v in &reply[1..] {
            seen.insert(redis::from_redis_value::<String>(v.clone()).unwrap());
        }
        if reply[0] == Value::Int(0) {
            break;
        }
        assert!(steps < 10_000, "the scan never ended");
    }
    assert!(steps > 1, "2,000 keys take more than one step");
    assert_eq!(
        seen, want,
        "every key was visited (each step resumed the last)"
    );
}

#[test]
fn a_panicking_scan_callback_is_an_error_and_the_server_lives() {
    let (_s, mut con) = server();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    let e = q_err(&mut con, &["memtest.scanpanic"]);
    assert!(
        e.contains("panicked") && e.contains("scan callback boom"),
        "{e}"
    );
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
}

#[test]
fn key_scans_visit_every_element_of_every_encoding() {
    let (_s, mut con) = server();
    for n in [3usize, 1000] {
        let _: () = q(&mut con, &["DEL", "h", "s", "z"]);
        for i in 0..n {
            let _: i64 = q(&mut con, &["HSET", "h", &format!("f{i}"), &i.to_string()]);
            let _: i64 = q(&mut con, &["SADD", "s", &format!("m{i}")]);
            let _: i64 = q(&mut con, &["ZADD", "z", &i.to_string(), &format!("m{i}")]);
        }
        let got = |con: &mut Connection, k: &str| -> Vec<(String, Option<String>)> {
            let flat: Vec<Option<String>> = q(con, &["memtest.scanfields", k]);
            let mut v: Vec<_> = flat
                .chunks(2)
                .map(|c| (c[0].clone().unwrap(), c[1].clone()))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let mut h: Vec<_> = (0..n)
            .map(|i| (format!("f{i}"), Some(i.to_string())))
            .collect();
        h.sort();
        assert_eq!(got(&mut con, "h"), h, "hash of {n}");
        let mut s: Vec<_> = (0..n).map(|i| (format!("m{i}"), None)).collect();
        s.sort();
        assert_eq!(got(&mut con, "s"), s, "set of {n}");
        let mut z: Vec<_> = (0..n)
            .map(|i| (format!("m{i}"), Some(i.to_string())))
            .collect();
        z.sort();
        assert_eq!(got(&mut con, "z"), z, "zset of {n}");
    }
    let _: i64 = q(&mut con, &["RPUSH", "l", "x"]);
    assert!(q_err(&mut con, &["memtest.scanfields", "l"]).starts_with("WRONGTYPE"));
    assert_eq!(
        q::<Vec<Value>>(&mut con, &["memtest.scanfields", "missing"]),
        Vec::<Value>::new()
    );
}

#[test]
fn a_scan_may_delete_the_key_it_visits() {
    let (_s, mut con) = server();
    for i in 0..3000 {
        let _: () = q(&mut con, &["SET", &format!("del:{i}"), "x"]);
        if i % 3 == 0 {
            let _: () = q(&mut con, &["SET", &format!("keep:{i}"), "x"]);
        }
    }
    assert_eq!(
        q::<i64>(&mut con, &["memtest.scandel", "del:"]),
        3000,
        "each visited key deleted once"
    );
    assert_eq!(
        q::<i64>(&mut con, &["DBSIZE"]),
        1000,
        "the others are untouched"
    );
}

#[test]
fn only_a_command_can_block_its_client() {
    let (server, mut con) = server();
    let _: () = q(&mut con, &["memtest.blockintimer", "result"]);
    server.wait_for(
        "the timer to record what blocking said",
        std::time::Duration::from_secs(10),
        |s| q::<i64>(&mut s.client(), &["HLEN", "result"]) == 2,
    );
    let said: std::collections::HashMap<String, String> = q(&mut con, &["HGETALL", "result"]);
    for what in ["keys", "thread"] {
        assert!(
            said[what].starts_with("ERR only a command can block its client"),
            "{what}: {}",
            said[what]
        );
    }
    assert_eq!(q::<String>(&mut con, &["PING"]), "PONG");
}
