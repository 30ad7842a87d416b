//! The json module against a real redis-server: commands, errors, every native command on json
//! keys, measured MEMORY USAGE, maxmemory policies and persistence.

use redis::{Connection, Value};
use rmkit_tests::{Server, err_text, info_i64, keep_reply_buffers, q, q_err, used_memory};
use std::time::Duration;

/// Bytes of used_memory the server itself may move between two reads (0 on Redis 7.0 with
/// jemalloc; Valkey 8 with libc malloc moves it by up to a few dozen bytes on INFO).
const NOISE: i64 = 64;

/// `used_memory` once background frees (lazyfree) have finished: stable over 100 ms.
fn settled_used_memory(con: &mut Connection) -> i64 {
    let mut last = used_memory(con);
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let now = used_memory(con);
        if (now - last).abs() <= NOISE {
            return now;
        }
        last = now;
    }
    last
}

/// A deterministic document of roughly `size` bytes of JSON text.
fn doc(i: usize, size: usize) -> String {
    let mut items = Vec::new();
    let mut len = 60;
    let mut j = 0;
    while len < size {
        let item = format!(
            r#"{{"k":"item-{i}-{j}","v":{},"ok":{}}}"#,
            i * 31 + j,
            j % 2 == 0
        );
        len += item.len() + 1;
        items.push(item);
        j += 1;
    }
    format!(
        r#"{{"id":{i},"name":"doc number {i}","items":[{}]}}"#,
        items.join(",")
    )
}

#[test]
fn commands_reply_as_documented() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    let d = r#"{"a":{"b":[1,2,3]},"name":"Ada","n":1,"s":"x"}"#;
    assert_eq!(q::<String>(&mut c, &["json.set", "d", d]), "OK");
    assert_eq!(
        q::<String>(&mut c, &["json.get", "d"]),
        d,
        "members keep their order"
    );
    assert!(q::<String>(&mut c, &["json.get", "d", "PRETTY"]).contains("\n  \"a\": {\n"));
    assert_eq!(
        q::<String>(&mut c, &["json.path", "d", "$.a.b[*]"]),
        "[1,2,3]"
    );
    assert_eq!(q::<String>(&mut c, &["json.path", "d", "$.a.b[-1]"]), "[3]");
    assert_eq!(q::<String>(&mut c, &["json.path", "d", "/a/b/0"]), "[1]");
    assert_eq!(q::<String>(&mut c, &["json.path", "d", "$.nope"]), "[]");
    assert_eq!(
        q::<String>(&mut c, &["json.fmt", "d", "{$.name} has {$.a.b[0]} {{x}}"]),
        "Ada has 1 {x}"
    );
    assert_eq!(q::<String>(&mut c, &["json.type", "d"]), "object");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["json.type", "d", "$.*"]),
        ["object", "string", "integer", "string"]
    );
    assert_eq!(
        q::<Vec<Option<i64>>>(&mut c, &["json.arrlen", "d", "$.a.b"]),
        [Some(3)]
    );
    assert_eq!(
        q::<String>(&mut c, &["json.numincrby", "d", "$.n", "41"]),
        "[42]"
    );
    assert_eq!(
        q::<String>(&mut c, &["json.numincrby", "d", "$.n", "0.5"]),
        "[42.5]"
    );
    assert_eq!(q::<i64>(&mut c, &["json.del", "d", "$.a.b[0]"]), 1);
    assert_eq!(q::<String>(&mut c, &["json.path", "d", "$.a.b"]), "[[2,3]]");
    assert_eq!(
        q::<String>(&mut c, &["json.get", "d"]),
        r#"{"a":{"b":[2,3]},"name":"Ada","n":42.5,"s":"x"}"#,
        "edits keep the members' order"
    );
    // NX / XX
    assert_eq!(
        q::<Option<String>>(&mut c, &["json.set", "d", "1", "NX"]),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["json.set", "new", "1", "XX"]),
        None
    );
    assert_eq!(q::<i64>(&mut c, &["exists", "new"]), 0);
    assert_eq!(
        q::<Option<String>>(&mut c, &["json.set", "new", "[true,null]", "nx"]).as_deref(),
        Some("OK")
    );
    assert_eq!(q::<i64>(&mut c, &["json.arrlen", "new"]), 2);
    // Missing keys read as nil.
    assert_eq!(q::<Option<String>>(&mut c, &["json.get", "missing"]), None);
    assert_eq!(q::<i64>(&mut c, &["json.del", "missing"]), 0);
    // Deleting the root deletes the key.
    assert_eq!(q::<i64>(&mut c, &["json.del", "new", "$"]), 1);
    assert_eq!(q::<i64>(&mut c, &["exists", "new"]), 0);
}

#[test]
fn json_debug_is_a_container_with_subcommands() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("json.debug")
        .query(&mut c)
        .unwrap();
    let text = format!("{info:?}");
    assert!(
        text.contains("json.debug|memory") && text.contains("json.debug|help"),
        "{text}"
    );
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("json.debug")
        .arg("memory")
        .arg("k")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["k"]);
    let help: Vec<String> = q(&mut c, &["json.debug", "help"]);
    assert_eq!(help[0], "MEMORY <key> [path] - reports memory usage");
    assert_eq!(
        q_err(&mut c, &["json.debug", "memory"]),
        "ERR wrong number of arguments for 'json.debug|memory' command"
    );
}

#[test]
fn bad_input_gets_clear_errors_and_changes_nothing() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    q::<String>(&mut c, &["json.set", "d", r#"{"a":1,"b":1.5e308}"#]);
    q::<String>(&mut c, &["set", "str", "x"]);
    let digest: String = q(&mut c, &["debug", "digest"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["json.set", "d", "{\"a\":}"],
            "ERR invalid JSON: expected value at line 1 column 6",
        ),
        (
            &["json.set", "d", "[1,\n2,]"],
            "ERR invalid JSON: trailing comma at line 2 column 3",
        ),
        (
            &["json.set", "d", ""],
            "ERR invalid JSON: EOF while parsing a value at line 1 column 0",
        ),
        (&["json.set", "d", "$", "1", "YY"], "ERR syntax error"),
        (
            &["json.set", "d", "1", "YY"],
            "expected value at line 1 column 1",
        ),
        (
            &["json.set", "str", "1"],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            &["json.get", "str"],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            &["json.get", "d", "ugly"],
            "ERR Path '$.ugly' does not exist",
        ),
        (
            &["json.get"],
            "ERR wrong number of arguments for 'json.get' command",
        ),
        (
            &["json.path", "d", "a b"],
            "ERR invalid path: expected '.', '..' or '[' at byte 2",
        ),
        (
            &["json.path", "d", "$.a["],
            "ERR invalid path: expected an index, a slice, '*', '?' or a quoted name at byte 4",
        ),
        (
            &["json.fmt", "d", "{$.a"],
            "ERR invalid template: unmatched '{' at byte 0 (write '{{' for a brace)",
        ),
        (
            &["json.fmt", "d", "x}"],
            "ERR invalid template: unmatched '}' at byte 1 (write '}}' for a brace)",
        ),
        (
            &["json.fmt", "d", "{$.c}"],
            "ERR template placeholder '$.c' at byte 0 matches nothing",
        ),
        (
            &["json.numincrby", "d", "$.a", "x"],
            "ERR expected value at line 1 column 1",
        ),
        (&["json.numincrby", "d", "$.a", "\"1\""], "bad input number"),
        (
            &["json.numincrby", "d", "$.b", "1.5e308"],
            "result is not a number",
        ),
        (
            &["json.arrlen", "d"],
            "ERR Path '.' does not exist or not an array",
        ),
        (
            &["json.debug", "nonsense", "d"],
            "ERR unknown subcommand 'nonsense'. Try JSON.DEBUG HELP.",
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(&q_err(&mut c, args), expected, "{args:?}");
    }
    // 100 000 nested brackets: an error, not a stack overflow.
    let deep = "[".repeat(100_000);
    let e = q_err(&mut c, &["json.set", "deep", &deep]);
    assert!(
        e.starts_with("ERR invalid JSON: recursion limit exceeded"),
        "{e}"
    );
    assert_eq!(
        q::<String>(&mut c, &["debug", "digest"]),
        digest,
        "the data set changed"
    );
    assert_eq!(q::<String>(&mut c, &["ping"]), "PONG");
}

#[test]
fn native_commands_work_on_json_keys() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    let d = doc(1, 2000);
    q::<String>(&mut c, &["json.set", "d", &d]);
    assert_eq!(q::<String>(&mut c, &["type", "d"]), "rmkitjson");
    assert_eq!(q::<i64>(&mut c, &["copy", "d", "d2"]), 1);
    let digest = |c: &mut Connection, k: &str| q::<Vec<String>>(c, &["debug", "digest-value", k]);
    assert_eq!(digest(&mut c, "d"), digest(&mut c, "d2"));
    assert_eq!(
        q::<String>(&mut c, &["json.get", "d2"]),
        q::<String>(&mut c, &["json.get", "d"])
    );
    // The copy is independent.
    q::<String>(&mut c, &["json.numincrby", "d2", "$.id", "1"]);
    assert_ne!(digest(&mut c, "d"), digest(&mut c, "d2"));
    assert_eq!(q::<String>(&mut c, &["rename", "d2", "d3"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["expire", "d3", "100"]), 1);
    assert!((99..=100).contains(&q::<i64>(&mut c, &["ttl", "d3"])));
    assert_eq!(q::<String>(&mut c, &["object", "encoding", "d"]), "raw");
    let dump: Vec<u8> = redis::cmd("DUMP").arg("d").query(&mut c).unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("r")
        .arg(0)
        .arg(&dump)
        .query(&mut c)
        .unwrap();
    assert_eq!(digest(&mut c, "r"), digest(&mut c, "d"));
    // A damaged payload is refused, the server lives.
    let mut bad = dump.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let e = redis::cmd("RESTORE")
        .arg("bad")
        .arg(0)
        .arg(&bad)
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(err_text(e).contains("DUMP payload version or checksum are wrong"));
    let usage: i64 = q(&mut c, &["memory", "usage", "d"]);
    let measured: i64 = q(&mut c, &["json.debug", "memory", "d"]);
    assert!(
        usage > measured && usage < measured + 200,
        "MEMORY USAGE {usage} = measured {measured} + key overhead"
    );
    assert_eq!(q::<i64>(&mut c, &["del", "d", "d3", "r"]), 3);
    assert_eq!(q::<i64>(&mut c, &["dbsize"]), 0);
}

#[test]
fn memory_usage_is_measured_and_stays_exact_after_edits() {
    let server = Server::builder()
        .module("rmkit-json")
        .config("slowlog-log-slower-than", "-1")
        // Free replaced and deleted values at once (Valkey 8 frees them in the background by
        // default), so each step's used_memory is final when it is read.
        .config("lazyfree-lazy-server-del", "no")
        .config("lazyfree-lazy-user-del", "no")
        .start();
    let mut c = server.client();
    keep_reply_buffers(&mut c);
    // Warm up every command used below (Redis allocates a latency histogram on first use) and
    // grow the connection's query buffer to the largest argument sent below (30 KB; arguments
    // stay under the 32 KB at which Redis hands the query buffer itself to the command).
    let big = doc(0, 30_000);
    for args in [
        &["json.set", "w", &big][..],
        &["json.numincrby", "w", "$[0]", "1"],
        &["json.del", "w", "$[0]"],
        &["json.debug", "memory", "w"],
        &["del", "w"],
    ] {
        let _: Value = q(&mut c, args);
    }
    used_memory(&mut c);
    let mut last = used_memory(&mut c);
    // Runs `step`; returns (Δused_memory since the last step, the document's measured bytes).
    let mut check = |c: &mut Connection, step: &[&str]| {
        let _: Value = q(c, step);
        let now = used_memory(c);
        let measured: i64 = q(c, &["json.debug", "memory", "d"]);
        // Some servers (Valkey) move used_memory by a few bytes on INFO itself.
        let again = used_memory(c);
        assert!(
            (now - again).abs() <= NOISE,
            "reading must not allocate: {now} then {again}"
        );
        let delta = now - last;
        last = now;
        (delta, measured)
    };
    let d = doc(7, 20_000);
    let (delta, measured) = check(&mut c, &["json.set", "d", &d]);
    eprintln!(
        "json.set of {} bytes: Δused_memory {delta}, measured {measured}",
        d.len()
    );
    // The key itself (dict entry, robj, key sds, module value) is the only difference.
    assert!(
        (0..200).contains(&(delta - measured)),
        "Δ {delta} vs measured {measured}"
    );
    let before = measured;
    let (delta, measured) = check(&mut c, &["json.set", "d", &doc(7, 30_000)]);
    assert_eq!(
        delta,
        measured - before,
        "replacing: used_memory moves by the measured difference"
    );
    let before = measured;
    let (delta, measured) = check(&mut c, &["json.del", "d", "$.items[*]"]);
    assert_eq!(
        delta,
        measured - before,
        "editing in place: used_memory moves by the measured difference"
    );
    assert!(
        measured < before / 10,
        "{measured} after removing the items (was {before})"
    );
}

/// MEMORY USAGE of a small document is what deleting the key gives back: the module's bytes
/// plus the server's own per-value blocks (the part where a wrong guess would show most).
#[test]
fn memory_usage_of_small_documents_is_what_del_gives_back() {
    let server = Server::builder()
        .module("rmkit-json")
        .config("slowlog-log-slower-than", "-1")
        .config("lazyfree-lazy-user-del", "no")
        .start();
    let mut c = server.client();
    keep_reply_buffers(&mut c);
    let text =
        r#"{"id":1,"name":"user-000001","email":"u1@example.com","tags":["a","b"],"active":false}"#;
    for args in [
        &["json.set", "w", text][..],
        &["memory", "usage", "w"],
        &["del", "w"],
    ] {
        let _: Value = q(&mut c, args);
    }
    // 4,000 keys, of which the second half is deleted: the keyspace's table stays over 10 %
    // full, so Redis does not shrink it meanwhile (that would free memory no key owns).
    let n = 4_000;
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("json.set").arg(format!("k{i}")).arg(text).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    let mut p = redis::pipe();
    for i in n / 2..n {
        p.cmd("memory").arg("usage").arg(format!("k{i}"));
    }
    let reported: i64 = p.query::<Vec<i64>>(&mut c).unwrap().iter().sum();
    let before = used_memory(&mut c);
    let mut p = redis::pipe();
    for i in n / 2..n {
        p.cmd("del").arg(format!("k{i}")).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    let freed = before - used_memory(&mut c);
    let err = (reported - freed) as f64 / freed as f64 * 100.0;
    eprintln!(
        "[{}] {} documents of {} bytes: Σ MEMORY USAGE {reported}, freed by DEL {freed} ({err:+.1} %)",
        server.describe(),
        n / 2,
        text.len()
    );
    assert!(
        err.abs() < 5.0,
        "MEMORY USAGE {reported} vs freed by DEL {freed}"
    );
}

#[test]
fn used_memory_follows_documents_and_returns_after_del_and_flushall() {
    let server = Server::builder()
        .module("rmkit-json")
        .config("slowlog-log-slower-than", "-1")
        .start();
    let mut c = server.client();
    keep_reply_buffers(&mut c);
    let _: Value = q(&mut c, &["json.set", "warm", "1"]);
    let _: Value = q(&mut c, &["json.debug", "memory", "warm"]);
    let _: Value = q(&mut c, &["del", "warm"]);
    let _: Value = q(&mut c, &["flushall"]);
    used_memory(&mut c);
    let base = used_memory(&mut c);
    let n = 200;
    let mut measured = 0i64;
    let mut text = 0usize;
    for i in 0..n {
        let d = doc(i, 20_000);
        text += d.len();
        let _: String = q(&mut c, &["json.set", &format!("doc:{i}"), &d]);
    }
    let grown = used_memory(&mut c) - base;
    for i in 0..n {
        measured += q::<i64>(&mut c, &["json.debug", "memory", &format!("doc:{i}")]);
    }
    let err = (grown - measured) as f64 / measured as f64 * 100.0;
    eprintln!(
        "[{}] {n} documents, {text} bytes of JSON text: Δused_memory {grown}, measured heap {measured} ({err:+.2} %), {:.2} bytes per byte of text",
        server.describe(),
        grown as f64 / text as f64
    );
    assert!(
        err.abs() < 2.0,
        "Δused_memory {grown} vs measured {measured}: {err:.2} %"
    );
    for i in 0..n / 2 {
        let _: i64 = q(&mut c, &["del", &format!("doc:{i}")]);
    }
    // DEL may free in the background (lazyfree-lazy-user-del, Valkey's default).
    let half = settled_used_memory(&mut c) - base;
    assert!(
        (half as f64 - grown as f64 / 2.0).abs() < grown as f64 * 0.02,
        "after deleting half: {half} of {grown}"
    );
    let _: String = q(&mut c, &["flushall"]);
    // FLUSHALL may free in the background (lazyfree): wait until it settles.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = used_memory(&mut c) - base;
        if now < 4096 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "used_memory stayed {now} above the start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn noeviction_refuses_writes_with_oom_and_keeps_every_document_whole() {
    let server = Server::builder()
        .module("rmkit-json")
        .config("maxmemory", "16mb")
        .config("maxmemory-policy", "noeviction")
        .start();
    let mut c = server.client();
    let mut written = 0;
    let oom = loop {
        let key = format!("doc:{written}");
        match redis::cmd("json.set")
            .arg(&key)
            .arg(doc(written, 4_000))
            .query::<String>(&mut c)
        {
            Ok(_) => written += 1,
            Err(e) => break (err_text(e), key),
        }
        assert!(written < 20_000, "maxmemory never refused a write");
    };
    assert_eq!(
        oom.0,
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert_eq!(
        q::<i64>(&mut c, &["exists", &oom.1]),
        0,
        "the refused key must not exist"
    );
    // Reads still work and every document is whole.
    for i in 0..written {
        let got: String = q(&mut c, &["json.get", &format!("doc:{i}")]);
        let v: serde_json_value::Value = serde_json_value::parse(&got);
        assert_eq!(v.id, i as i64);
    }
    assert_eq!(q::<i64>(&mut c, &["dbsize"]), written as i64);
    let peak = used_memory(&mut c);
    eprintln!(
        "noeviction: {written} documents (~4 KB of text) fit in 16 MB (used_memory {peak}), then OOM"
    );
}

/// Minimal JSON check without a JSON dependency in the tests: the `"id":N` field.
mod serde_json_value {
    pub struct Value {
        pub id: i64,
    }
    pub fn parse(text: &str) -> Value {
        assert!(
            text.starts_with('{') && text.ends_with('}'),
            "not a whole document: {text:.80}"
        );
        let id = text
            .split_once("\"id\":")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .expect("an id field");
        Value { id }
    }
}

/// Bytes one ~`size`-byte document takes in the server (measured on a scratch key).
fn doc_memory(c: &mut Connection, size: usize) -> usize {
    let _: String = q(c, &["json.set", "probe", &doc(0, size)]);
    let bytes: i64 = q(c, &["json.debug", "memory", "probe"]);
    let _: i64 = q(c, &["del", "probe"]);
    bytes as usize
}

fn eviction_run(policy: &str) {
    let maxmemory = 16 * 1024 * 1024;
    // Synchronous eviction (Redis 7.0's default; Valkey 8 frees evicted values in a background
    // thread and refuses writes with OOM until that catches up — for native values too).
    let server = Server::builder()
        .module("rmkit-json")
        .config("maxmemory", &maxmemory.to_string())
        .config("maxmemory-policy", policy)
        .config("lazyfree-lazy-eviction", "no")
        .start();
    let mut c = server.client();
    let size = 1_000;
    let total = 3 * maxmemory / doc_memory(&mut c, size);
    let hot: Vec<String> = (0..50).map(|i| format!("doc:{i}")).collect();
    let mut peak = 0;
    for i in 0..total {
        // Redis's LRU clock ticks once a second: spread the writes over a few seconds so that
        // "recently used" means something.
        if i % (total / 5) == 0 && i > 0 {
            std::thread::sleep(Duration::from_millis(1100));
        }
        let _: String = q(&mut c, &["json.set", &format!("doc:{i}"), &doc(i, size)]);
        if i >= hot.len() && i % 20 == 0 {
            for k in &hot {
                let _: Option<String> = q(&mut c, &["json.type", k]);
            }
        }
        if i % 50 == 0 {
            peak = peak.max(used_memory(&mut c));
        }
    }
    peak = peak.max(used_memory(&mut c));
    let evicted = info_i64(&mut c, "stats", "evicted_keys");
    let alive = |c: &mut Connection, keys: &mut dyn Iterator<Item = String>| {
        let mut n = 0;
        let mut total = 0;
        for k in keys {
            total += 1;
            n += q::<i64>(c, &["exists", &k]);
        }
        n as f64 / total as f64
    };
    let hot_alive = alive(&mut c, &mut hot.iter().cloned());
    let cold_alive = alive(
        &mut c,
        &mut (hot.len()..total / 2).map(|i| format!("doc:{i}")),
    );
    eprintln!(
        "{policy}: wrote {total} x ~{size} B of JSON text into maxmemory {maxmemory}: evicted_keys {evicted}, peak used_memory {peak} ({:+.2} %), hot keys alive {:.0} %, cold {:.0} %",
        (peak - maxmemory as i64) as f64 / maxmemory as f64 * 100.0,
        hot_alive * 100.0,
        cold_alive * 100.0
    );
    assert!(evicted > 0);
    assert!(
        peak as f64 <= maxmemory as f64 * 1.02,
        "peak used_memory {peak}"
    );
    assert!(
        hot_alive > cold_alive + 0.3,
        "recently used keys should survive: hot {hot_alive}, cold {cold_alive}"
    );
    assert_eq!(q::<String>(&mut c, &["ping"]), "PONG");
}

#[test]
fn allkeys_lru_evicts_json_keys_and_keeps_recently_used_ones() {
    eviction_run("allkeys-lru");
}

#[test]
fn allkeys_lfu_evicts_json_keys_and_keeps_frequently_used_ones() {
    eviction_run("allkeys-lfu");
}

#[test]
fn volatile_ttl_evicts_only_expiring_json_keys() {
    let maxmemory = 16 * 1024 * 1024;
    let server = Server::builder()
        .module("rmkit-json")
        .config("maxmemory", &maxmemory.to_string())
        .config("maxmemory-policy", "volatile-ttl")
        .config("lazyfree-lazy-eviction", "no")
        .start();
    let mut c = server.client();
    let size = 1_000;
    let per_doc = doc_memory(&mut c, size);
    let persistent = maxmemory / per_doc / 4;
    for i in 0..persistent {
        let _: String = q(&mut c, &["json.set", &format!("keep:{i}"), &doc(i, size)]);
    }
    let volatile = 2 * maxmemory / per_doc;
    for i in 0..volatile {
        let key = format!("tmp:{i}");
        let _: String = q(&mut c, &["json.set", &key, &doc(i, size)]);
        let _: i64 = q(&mut c, &["expire", &key, &(10_000 + i).to_string()]);
    }
    let evicted = info_i64(&mut c, "stats", "evicted_keys");
    let kept = (0..persistent)
        .filter(|i| q::<i64>(&mut c, &["exists", &format!("keep:{i}")]) == 1)
        .count();
    let short_alive = (0..volatile / 4)
        .filter(|i| q::<i64>(&mut c, &["exists", &format!("tmp:{i}")]) == 1)
        .count();
    let long_alive = (volatile * 3 / 4..volatile)
        .filter(|i| q::<i64>(&mut c, &["exists", &format!("tmp:{i}")]) == 1)
        .count();
    eprintln!(
        "volatile-ttl: evicted {evicted}, persistent kept {kept}/{persistent}, shortest-TTL quarter alive {short_alive}, longest-TTL quarter alive {long_alive}"
    );
    assert!(evicted > 0);
    assert_eq!(
        kept, persistent,
        "keys without a TTL are never evicted by volatile-ttl"
    );
    assert!(long_alive > short_alive, "shorter TTLs go first");
}

fn snapshot(c: &mut Connection, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let k = format!("doc:{i}");
            (
                q::<Vec<String>>(c, &["debug", "digest-value", &k]).concat(),
                q::<String>(c, &["json.get", &k]),
            )
        })
        .collect()
}

fn fill(c: &mut Connection, n: usize) {
    for i in 0..n {
        let _: String = q(c, &["json.set", &format!("doc:{i}"), &doc(i, 3000)]);
    }
    let _: String = q(c, &["json.numincrby", "doc:0", "$.items[*].v", "1"]);
    let _: i64 = q(c, &["json.del", "doc:1", "$.items[0]"]);
    // Every kind of edit, so what each leaves behind is saved, reloaded and rewritten too.
    let edits: &[&[&str]] = &[
        &[
            "json.arrappend",
            "doc:2",
            "$.items",
            r#"{"k":"new","v":0.25}"#,
            "[1,2]",
        ],
        &["json.arrinsert", "doc:3", "$.items", "1", r#""inserted""#],
        &["json.arrpop", "doc:4", "$.items", "0"],
        &["json.arrtrim", "doc:5", "$.items", "1", "3"],
        &["json.strappend", "doc:6", "$.name", r#"" and more""#],
        &["json.toggle", "doc:7", "$.items[*].ok"],
        &["json.nummultby", "doc:8", "$.items[*].v", "1.5"],
        &[
            "json.merge",
            "doc:9",
            "$",
            r#"{"name":null,"extra":{"a":[true]}}"#,
        ],
        &[
            "json.set",
            "doc:10",
            "$.added",
            r#"{"deep":{"er":[1,{"x":"y"}]}}"#,
        ],
        &["json.clear", "doc:11", "$.items"],
        &[
            "json.mset",
            "doc:12",
            "$.id",
            "-1",
            "doc:13",
            "$.items[0].k",
            r#""ü\n""#,
        ],
        &["json.forget", "doc:14", "$..ok"],
    ];
    for e in edits {
        let _: redis::Value = q(c, e);
    }
}

#[test]
fn documents_survive_save_restart_debug_reload_and_aof_rewrite() {
    let n = 50;
    let mut server = Server::builder()
        .module("rmkit-json")
        .config("appendonly", "yes")
        .config("aof-use-rdb-preamble", "no")
        .start();
    let mut c = server.client();
    fill(&mut c, n);
    let before = snapshot(&mut c, n);
    // RDB: SAVE, restart (AOF off for this restart would still load the AOF; both must agree).
    let _: String = q(&mut c, &["save"]);
    let _: String = q(&mut c, &["debug", "reload"]);
    assert_eq!(snapshot(&mut c, n), before, "after DEBUG RELOAD");
    // AOF rewrite through the type's aof_rewrite callback (no RDB preamble), then restart from it.
    let _: String = q(&mut c, &["bgrewriteaof"]);
    server.wait_for("the AOF rewrite", Duration::from_secs(20), |s| {
        s.info("persistence")
            .get("aof_rewrite_in_progress")
            .map(String::as_str)
            == Some("0")
            && s.info("persistence")
                .get("aof_rewrite_scheduled")
                .map(String::as_str)
                == Some("0")
    });
    server.restart();
    let mut c = server.client();
    assert_eq!(snapshot(&mut c, n), before, "after BGREWRITEAOF + restart");
    let aof_has_json_set = std::fs::read_dir(server.dir().join("appendonlydir"))
        .unwrap()
        .any(|e| {
            let p = e.unwrap().path();
            p.to_string_lossy().contains(".base.aof")
                && String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains("json.set")
        });
    assert!(
        aof_has_json_set,
        "the rewritten AOF base should hold json.set commands"
    );
}

#[test]
fn documents_survive_rdb_restart() {
    let n = 50;
    let mut server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    fill(&mut c, n);
    let before = snapshot(&mut c, n);
    let _: String = q(&mut c, &["save"]);
    server.restart();
    let mut c = server.client();
    assert_eq!(snapshot(&mut c, n), before);
}

#[test]
fn a_replica_receives_identical_documents() {
    let n = 50;
    let primary = Server::builder().module("rmkit-json").start();
    let mut c = primary.client();
    fill(&mut c, n / 2); // before the replica exists: full sync (RDB)
    let replica = Server::builder()
        .module("rmkit-json")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    for i in n / 2..n {
        let _: String = q(&mut c, &["json.set", &format!("doc:{i}"), &doc(i, 3000)]); // streamed
    }
    let _: String = q(&mut c, &["json.numincrby", "doc:30", "$.id", "5"]);
    replica.wait_caught_up_with(&primary);
    let mut r = replica.client();
    assert_eq!(snapshot(&mut r, n), snapshot(&mut c, n));
}

/// Floats are stored as short decimals (`0.5` in 3 bytes, `-0` in 1), so arrays of them take
/// less memory than their text, like documents of integers and strings.
#[test]
fn float_arrays_take_less_memory_than_their_text() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    for item in ["0.5", "-0", "0.1", "3.14159", "-2.5e-7", "1234.5678"] {
        let text = format!("[{}]", vec![item; 10_000].join(","));
        let _: () = q(&mut c, &["json.set", "f", &text]);
        let measured: i64 = q(&mut c, &["json.debug", "memory", "f"]);
        eprintln!(
            "[{item}, ...] x 10,000: {} bytes of text, {measured} bytes stored ({:.2} B/B)",
            text.len(),
            measured as f64 / text.len() as f64
        );
        assert!(
            (measured as usize) < text.len(),
            "[{item}, ...]: {measured} bytes for {} bytes of text",
            text.len()
        );
    }
}

/// The RedisJSON-syntax writes, each followed by `used_memory` and `JSON.DEBUG MEMORY`: the
/// server's memory moves by exactly what the document's measured size moves by.
#[test]
fn memory_usage_stays_exact_after_every_redisjson_edit() {
    let server = Server::builder()
        .module("rmkit-json")
        .config("slowlog-log-slower-than", "-1")
        .config("lazyfree-lazy-server-del", "no")
        .config("lazyfree-lazy-user-del", "no")
        .start();
    let mut c = server.client();
    keep_reply_buffers(&mut c);
    let base = doc(3, 8_000);
    let steps: Vec<Vec<String>> = [
        vec![
            "json.set",
            "K",
            "$.extra",
            r#"{"list":[1,2,3],"s":"abc","t":true}"#,
        ],
        vec!["json.set", "K", "$.items[*].ok", "false"],
        vec![
            "json.arrappend",
            "K",
            "$.extra.list",
            "4",
            "\"five\"",
            "[6]",
        ],
        vec![
            "json.arrinsert",
            "K",
            "$.items",
            "0",
            r#"{"k":"new","v":0}"#,
        ],
        vec!["json.arrpop", "K", "$.items", "-1"],
        vec!["json.arrtrim", "K", "$.items", "1", "40"],
        vec!["json.strappend", "K", "$..k", "\"-suffix\""],
        vec!["json.toggle", "K", "$.extra.t"],
        vec!["json.numincrby", "K", "$.items[*].v", "1.5"],
        vec!["json.nummultby", "K", "$.id", "1000"],
        vec![
            "json.merge",
            "K",
            "$",
            r#"{"name":null,"merged":{"a":[1,2]}}"#,
        ],
        vec!["json.clear", "K", "$.extra.list"],
        vec!["json.del", "K", "$.items[?(@.v > 100)]"],
        vec!["json.mset", "K", "$.id", "7", "K", "$.more", "[1,2,3]"],
        vec!["json.forget", "K", "$.merged"],
    ]
    .iter()
    .map(|s| s.iter().map(|a| a.to_string()).collect())
    .collect();
    let run = |c: &mut Connection, key: &str, step: &[String]| {
        let args: Vec<&str> = step
            .iter()
            .map(|a| if a == "K" { key } else { a.as_str() })
            .collect();
        let _: Value = q(c, &args);
    };
    // Warm up every command (Redis allocates per-command statistics on first use) on a scratch
    // document, and the query buffer with an argument as large as the document.
    let _: Value = q(&mut c, &["json.set", "w", &base]);
    for step in &steps {
        run(&mut c, "w", step);
    }
    let _: Value = q(&mut c, &["json.debug", "memory", "w"]);
    let _: Value = q(&mut c, &["memory", "usage", "w"]);
    let _: Value = q(&mut c, &["del", "w"]);
    let _: Value = q(&mut c, &["json.set", "d", &base]);
    used_memory(&mut c);
    let mut last = used_memory(&mut c);
    let mut measured: i64 = q(&mut c, &["json.debug", "memory", "d"]);
    for step in &steps {
        run(&mut c, "d", step);
        let now = used_memory(&mut c);
        let m: i64 = q(&mut c, &["json.debug", "memory", "d"]);
        // The server's own per-command bookkeeping (argument arrays sized by the argument
        // count) moves used_memory by a few dozen bytes between commands of different arity.
        assert!(
            ((now - last) - (m - measured)).abs() <= NOISE,
            "{step:?}: used_memory moved by {}, the document by {}",
            now - last,
            m - measured
        );
        eprintln!(
            "{:>16}: Δused_memory {:>6}, Δmeasured {:>6}",
            step[0],
            now - last,
            m - measured
        );
        (last, measured) = (now, m);
        let usage: i64 = q(&mut c, &["memory", "usage", "d"]);
        assert!(usage > m && usage < m + 200, "MEMORY USAGE {usage} vs {m}");
    }
}

/// The RedisJSON-syntax writes replicate as they were sent and give the replica the same
/// documents; a failing write changes nothing anywhere.
#[test]
fn redisjson_edits_replicate_identically() {
    let primary = Server::builder().module("rmkit-json").start();
    let replica = Server::builder()
        .module("rmkit-json")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let mut c = primary.client();
    let writes: &[&[&str]] = &[
        &[
            "json.set",
            "a",
            "$",
            r#"{"l":[1,2,3],"o":{"x":1},"s":"ab","b":false}"#,
        ],
        &["json.set", "a", "$.o.y", "[true]"],
        &["json.arrappend", "a", "$..l", "4"],
        &["json.arrpop", "a", "$.l"],
        &["json.arrinsert", "a", "$.l", "-1", "9"],
        &["json.arrtrim", "a", "$.l", "0", "2"],
        &["json.strappend", "a", ".s", "\"c\""],
        &["json.toggle", "a", "$.b"],
        &["json.numincrby", "a", "$.o.x", "2.5"],
        &["json.merge", "a", "$.o", r#"{"x":null,"z":{}}"#],
        &["json.mset", "a", "$.n", "1", "b", "$", "[]"],
        &["json.clear", "a", "$.o"],
        &["json.del", "a", "$.l[0]"],
    ];
    for w in writes {
        let _: Value = q(&mut c, w);
    }
    // Errors: nothing changes, nothing is sent to the replica.
    let _: String = q(&mut c, &["json.set", "a", "$.n", "1e308"]);
    let before: String = q(&mut c, &["json.get", "a"]);
    for bad in [
        &["json.arrinsert", "a", "$.l", "99", "1"][..],
        &["json.numincrby", "a", "$.n", "1e308"],
        &["json.nummultby", "a", "$.n", "10"],
        &["json.set", "a", "$..n", "{bad"],
        &["json.set", "a", "$..n", "1", "NX"],
        &["json.mset", "a", "$.n", "1", "b", "$", "{bad"],
    ] {
        let e = redis::cmd(bad[0]).arg(&bad[1..]).query::<Value>(&mut c);
        assert!(e.is_err(), "{bad:?}: {e:?}");
    }
    assert_eq!(q::<String>(&mut c, &["json.get", "a"]), before);
    replica.wait_caught_up_with(&primary);
    let mut r = replica.client();
    for k in ["a", "b"] {
        assert_eq!(
            q::<String>(&mut r, &["json.get", k]),
            q::<String>(&mut c, &["json.get", k]),
            "{k} on the replica"
        );
    }
}
