//! The `capped` example module against a real server: every command's behaviour, what it
//! replicates, its keyspace events, exact memory (nothing leaks), `PEEK` leaving the LFU clock
//! alone, and `KEYS.COUNT` agreeing with the server's own `KEYS` on every pattern.

use redis::{Connection, Value};
use rmkit_tests::{Server, info_i64, q, q_err};
use std::time::Duration;

fn server() -> (Server, Connection) {
    let server = Server::builder().module("capped").start();
    let con = server.client();
    (server, con)
}

fn live(con: &mut Connection) -> i64 {
    info_i64(con, "capped_alloc", "capped_live_bytes")
}

#[test]
fn lpushcap_keeps_the_newest_elements() {
    let (_s, mut con) = server();
    assert_eq!(q::<i64>(&mut con, &["LPUSHCAP", "l", "3", "a", "b"]), 2);
    assert_eq!(
        q::<i64>(&mut con, &["LPUSHCAP", "l", "3", "c", "d", "e"]),
        3
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]),
        ["e", "d", "c"]
    );
    assert_eq!(q::<i64>(&mut con, &["LPUSHCAP", "l", "1", "f"]), 1);
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]),
        ["f"]
    );
    let _: () = q(&mut con, &["SET", "s", "x"]);
    assert!(q_err(&mut con, &["LPUSHCAP", "s", "3", "a"]).starts_with("WRONGTYPE"));
}

#[test]
fn zincrcap_drops_the_lowest_scores() {
    let (_s, mut con) = server();
    let incr = |con: &mut Connection, by: &str, m: &str| -> Option<f64> {
        q(con, &["ZINCRCAP", "z", "2", by, m])
    };
    assert_eq!(incr(&mut con, "5", "a"), Some(5.0));
    assert_eq!(incr(&mut con, "3", "b"), Some(3.0));
    assert_eq!(
        incr(&mut con, "1", "c"),
        None,
        "c is the lowest of three: dropped at once"
    );
    assert_eq!(incr(&mut con, "4", "c"), Some(4.0), "now 4 beats b's 3");
    assert_eq!(
        q::<Vec<(String, f64)>>(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        [("c".to_owned(), 4.0), ("a".to_owned(), 5.0)]
    );
    assert_eq!(
        incr(&mut con, "-10", "a"),
        Some(-5.0),
        "two members fit a cap of two"
    );
    assert_eq!(
        incr(&mut con, "0", "d"),
        Some(0.0),
        "a third member drops the lowest, a"
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["ZRANGE", "z", "0", "-1"]),
        ["d", "c"]
    );
    assert_eq!(incr(&mut con, "1.5", "c"), Some(5.5));
    let _: () = q(&mut con, &["DEL", "z"]);
    assert_eq!(incr(&mut con, "inf", "a"), Some(f64::INFINITY));
    let e = q_err(&mut con, &["ZINCRCAP", "z", "2", "-inf", "a"]);
    assert!(e.starts_with("ERR"), "inf + -inf is not a number: {e}");
    assert_eq!(
        q::<Vec<(String, f64)>>(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        [("a".to_owned(), f64::INFINITY)]
    );
}

#[test]
fn appendcap_keeps_the_last_bytes_in_place() {
    let (_s, mut con) = server();
    assert_eq!(q::<i64>(&mut con, &["APPENDCAP", "s", "5", "abc"]), 3);
    assert_eq!(q::<i64>(&mut con, &["APPENDCAP", "s", "5", "defg"]), 5);
    assert_eq!(q::<String>(&mut con, &["GET", "s"]), "cdefg");
    assert_eq!(
        q::<i64>(&mut con, &["APPENDCAP", "s", "5", "0123456789"]),
        5
    );
    assert_eq!(q::<String>(&mut con, &["GET", "s"]), "56789");
    // A shared integer-encoded string is unshared before it is written in place.
    let _: () = q(&mut con, &["SET", "n", "12345"]);
    assert_eq!(q::<i64>(&mut con, &["APPENDCAP", "n", "4", "6"]), 4);
    assert_eq!(q::<String>(&mut con, &["GET", "n"]), "3456");
    let _: i64 = q(&mut con, &["RPUSH", "l", "x"]);
    assert!(q_err(&mut con, &["APPENDCAP", "l", "5", "a"]).starts_with("WRONGTYPE"));
}

#[test]
fn ttlcap_only_lowers_ttls() {
    let (_s, mut con) = server();
    let _: () = q(&mut con, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut con, &["TTLCAP", "k", "100000"]), 100000);
    let pttl: i64 = q(&mut con, &["PTTL", "k"]);
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let kept: i64 = q(&mut con, &["TTLCAP", "k", "500000"]);
    assert!(kept <= 100_000, "a longer cap leaves the TTL: {kept}");
    assert_eq!(q::<i64>(&mut con, &["TTLCAP", "k", "50000"]), 50000);
    assert_eq!(q::<i64>(&mut con, &["TTLCAP", "missing", "50000"]), -2);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "missing"]), 0);
}

#[test]
fn peek_reads_without_touching_the_lfu_counter() {
    let server = Server::builder()
        .module("capped")
        .config("maxmemory-policy", "allkeys-lfu")
        // Every access increments the counter (with the default factor 10 only the first
        // few do for sure).
        .config("lfu-log-factor", "0")
        .start();
    let mut con = server.client();
    let _: i64 = q(&mut con, &["RPUSH", "l", "a", "b", "c"]);
    let _: () = q(&mut con, &["PEXPIRE", "l", "100000"]);
    let freq = |con: &mut Connection| -> i64 { q(con, &["OBJECT", "FREQ", "l"]) };
    let before = freq(&mut con);
    for _ in 0..20 {
        let v: (String, i64, i64) = q(&mut con, &["PEEK", "l"]);
        assert_eq!((v.0.as_str(), v.1), ("list", 3));
        assert!((90_000..=100_000).contains(&v.2), "{v:?}");
    }
    assert_eq!(freq(&mut con), before, "PEEK opens keys with NOTOUCH");
    let _: Vec<String> = q(&mut con, &["LRANGE", "l", "0", "-1"]);
    assert!(freq(&mut con) > before, "LRANGE touches the key");
    let _: () = q(&mut con, &["SET", "s", "abc"]);
    assert_eq!(
        q::<(String, i64, i64)>(&mut con, &["PEEK", "s"]),
        ("string".into(), 3, -1)
    );
}

#[test]
fn keys_count_agrees_with_keys_on_every_pattern() {
    let (_s, mut con) = server();
    let names = [
        "user:1", "user:2", "user:10", "user:ab", "User:3", "hello", "hallo", "hxllo", "hllo",
        "heeeello", "a*b", "a?b", "a[b", "a]b", "a\\b", "-", "^", "x-y", "[", "]", "", "é",
        "\u{0}bin",
    ];
    for (i, n) in names.iter().enumerate() {
        let _: () = q(&mut con, &["SET", n, &i.to_string()]);
    }
    let patterns = [
        "*",
        "user:*",
        "user:?",
        "user:??",
        "[Uu]ser:*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "h[b-a]llo",
        "a\\*b",
        "a\\?b",
        "a[*]b",
        "a[\\]]b",
        "a\\\\b",
        "a[b",
        "[",
        "\\[",
        "[]]",
        "[^]",
        "*[",
        "x[-]y",
        "x[a-]y",
        "[-]",
        "[\\^]",
        "?",
        "??",
        "*e*e*",
        "h*e*l*o",
        "",
        "\\",
        "*\\",
        "[a-",
        "é",
        "\u{0}*",
        "*bin",
        "user:[0-9]",
        "user:[0-9]*",
        "*:*",
        "[!a]*",
    ];
    for p in patterns {
        let expect = q::<Vec<String>>(&mut con, &["KEYS", p]).len() as i64;
        assert_eq!(
            q::<i64>(&mut con, &["KEYS.COUNT", p]),
            expect,
            "pattern {p:?}"
        );
    }
}

#[test]
fn keys_unlink_removes_what_matches_and_nothing_else() {
    let (_s, mut con) = server();
    for i in 0..500 {
        let _: () = q(&mut con, &["SET", &format!("tmp:{i}"), "x"]);
        let _: () = q(&mut con, &["SET", &format!("keep:{i}"), "x"]);
    }
    assert_eq!(q::<i64>(&mut con, &["KEYS.UNLINK", "tmp:*"]), 500);
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]), 500);
    assert_eq!(q::<i64>(&mut con, &["KEYS.COUNT", "keep:*"]), 500);
    assert_eq!(q::<i64>(&mut con, &["KEYS.UNLINK", "tmp:*"]), 0);
}

#[test]
fn writes_replicate_exactly_and_stream_ids_match_on_the_replica() {
    let (primary, mut con) = server();
    let replica = Server::builder()
        .module("capped")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    for i in 0..50 {
        let id: String = q(&mut con, &["XADDMAXLEN", "x", "10", "n", &i.to_string()]);
        assert!(id.contains('-'));
        let _: i64 = q(&mut con, &["LPUSHCAP", "l", "10", &i.to_string()]);
        let _: Option<f64> = q(
            &mut con,
            &[
                "ZINCRCAP",
                "z",
                "10",
                &(i % 7).to_string(),
                &format!("m{}", i % 13),
            ],
        );
        let _: i64 = q(&mut con, &["APPENDCAP", "s", "16", &i.to_string()]);
        let _: () = q(&mut con, &["SET", &format!("tmp:{i}"), "x"]);
    }
    assert_eq!(q::<i64>(&mut con, &["XLEN", "x"]), 10);
    let _: i64 = q(&mut con, &["KEYS.UNLINK", "tmp:*"]);
    let _: i64 = q(&mut con, &["TTLCAP", "l", "100000"]);
    replica.wait_caught_up_with(&primary);
    let mut rcon = replica.client();
    let digest = |c: &mut Connection| -> String { q(c, &["DEBUG", "DIGEST"]) };
    assert_eq!(
        digest(&mut rcon),
        digest(&mut con),
        "replica and primary hold the same data"
    );
    let range =
        |c: &mut Connection| -> Vec<(String, Vec<String>)> { q(c, &["XRANGE", "x", "-", "+"]) };
    assert_eq!(range(&mut rcon), range(&mut con), "the same stream IDs");
}

#[test]
fn keyspace_events_name_the_right_class() {
    let (server, mut con) = server();
    let _: () = q(&mut con, &["CONFIG", "SET", "notify-keyspace-events", "KA"]);
    let mut sub = server.client();
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("__keyspace@0__:*").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _: i64 = q(&mut con, &["LPUSHCAP", "l", "2", "a"]);
    let _: Option<f64> = q(&mut con, &["ZINCRCAP", "z", "2", "1", "m"]);
    let _: String = q(&mut con, &["XADDMAXLEN", "x", "2", "f", "v"]);
    let _: i64 = q(&mut con, &["APPENDCAP", "s", "2", "v"]);
    let mut got = Vec::new();
    while got.len() < 4 {
        let msg = pubsub.get_message().expect("a keyspace event within 10 s");
        got.push((
            msg.get_channel_name().to_owned(),
            msg.get_payload::<String>().unwrap(),
        ));
    }
    assert_eq!(
        got,
        [
            ("__keyspace@0__:l", "lpush"),
            ("__keyspace@0__:z", "zincr"),
            ("__keyspace@0__:x", "xadd"),
            ("__keyspace@0__:s", "append")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn nothing_leaks_through_the_module_allocator() {
    let (_s, mut con) = server();
    // Warm up: the first calls allocate the module's one-time state.
    let run = |con: &mut Connection| {
        for i in 0..200 {
            let _: i64 = q(con, &["LPUSHCAP", "l", "5", &i.to_string()]);
            let _: Option<f64> = q(con, &["ZINCRCAP", "z", "5", "1", &format!("m{i}")]);
            let _: String = q(con, &["XADDMAXLEN", "x", "5", "f", "v"]);
            let _: i64 = q(con, &["APPENDCAP", "s", "8", "abc"]);
            let _: i64 = q(con, &["KEYS.COUNT", "*"]);
            let _: Value = q(con, &["PEEK", "l"]);
        }
    };
    run(&mut con);
    let before = live(&mut con);
    run(&mut con);
    assert_eq!(
        live(&mut con),
        before,
        "the module's live bytes after 1,200 more commands"
    );
}
