//! Bounded work per command: a small request can neither make the server allocate gigabytes
//! nor keep it busy, whatever the document.
//!
//! - `JSON.FMT` and `PRETTY` output is measured before it is built and refused past
//!   `json.max-reply-bytes` (default 64 MiB) or `proto-max-bulk-len`;
//! - a large reply that does not fit under `maxmemory` is refused with `-OOM` (an unread reply
//!   cannot be evicted: the server would evict every key for it);
//! - with the limits raised, an allocation the server cannot serve (`ulimit -v`) is an `OOM`
//!   error reply, never the server's out-of-memory abort;
//! - `JSON.FMT` resolves each distinct placeholder once, with large arrays indexed once: the
//!   test prints how long a template of thousands of distinct `{$[-k]}` placeholders takes on a
//!   1M-element array (run with `--nocapture`; no timing is asserted).

use redis::Connection;
use rmkit_tests::{Server, info_i64, q, q_err, used_memory};
use std::time::Instant;

/// A document that is one string of `n` bytes.
fn big_string(con: &mut Connection, key: &str, n: usize) {
    let _: () = q(con, &["JSON.SET", key, &format!("\"{}\"", "x".repeat(n))]);
}

/// The server still serves: PING, and a write and a read of a fresh key.
fn still_serving(con: &mut Connection) {
    let pong: String = q(con, &["PING"]);
    assert_eq!(pong, "PONG");
    let _: () = q(con, &["JSON.SET", "alive", "[1]"]);
    let v: String = q(con, &["JSON.GET", "alive"]);
    assert_eq!(v, "[1]");
}

#[test]
fn a_template_that_would_expand_to_gigabytes_is_refused_before_it_is_built() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    big_string(&mut c, "big", 1 << 20);
    let before = used_memory(&mut c);
    // 9 kB of request, 3 GiB of reply.
    let template = "{$}".repeat(3000);
    let e = q_err(&mut c, &["JSON.FMT", "big", &template]);
    assert_eq!(
        e,
        "ERR the reply would be more than 67108864 bytes (json.max-reply-bytes); ask for less at once"
    );
    let peak = info_i64(&mut c, "memory", "used_memory_peak");
    assert!(
        peak < before + (16 << 20),
        "the refused reply was built anyway: peak {peak}, before {before}"
    );
    still_serving(&mut c);

    // Under the limit it works, and the limit is a config.
    let ok: Vec<u8> = redis::cmd("JSON.FMT")
        .arg("big")
        .arg("{$}{$}")
        .query(&mut c)
        .unwrap();
    assert_eq!(ok.len(), 2 << 20);
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "json.max-reply-bytes", "1048576"],
    );
    let e = q_err(&mut c, &["JSON.FMT", "big", "{$}{$}"]);
    assert!(e.contains("more than 1048576 bytes"), "{e}");
}

#[test]
fn pretty_printing_a_deep_document_is_refused_before_it_is_built() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    // Depth 126, then 400,000 small numbers: ~1 MB of document, ~100 MB of pretty text
    // (every element on its own line, indented by 252 spaces).
    let numbers = vec!["1"; 400_000].join(",");
    let doc = format!("{}[{numbers}]{}", "[".repeat(125), "]".repeat(125));
    let _: () = q(&mut c, &["JSON.SET", "deep", &doc]);
    let before = used_memory(&mut c);
    // `$..*` selects every level, each holding the whole array: ~100 MB of compact text too.
    for args in [
        &["JSON.GET", "deep", "PRETTY"][..],
        &["JSON.PATH", "deep", "$", "PRETTY"][..],
        &["JSON.PATH", "deep", "$..*"][..],
        &["JSON.GET", "deep", "$..*"][..],
        &["JSON.MGET", "deep", "deep", "$..*"][..],
    ] {
        let e = q_err(&mut c, args);
        assert!(
            e.starts_with("ERR the reply would be more than 67108864 bytes"),
            "{args:?}: {e}"
        );
    }
    let peak = info_i64(&mut c, "memory", "used_memory_peak");
    assert!(
        peak < before + (16 << 20),
        "the refused reply was built anyway: peak {peak}, before {before}"
    );
    // Compact output is proportional to the document and always allowed.
    let compact: Vec<u8> = redis::cmd("JSON.GET").arg("deep").query(&mut c).unwrap();
    assert_eq!(compact.len(), doc.len());
    still_serving(&mut c);
}

#[test]
fn a_large_reply_that_does_not_fit_under_maxmemory_is_refused_with_oom() {
    for policy in ["allkeys-lru", "noeviction"] {
        let server = Server::builder()
            .module("rmkit-json")
            .config("maxmemory", "200mb")
            .config("maxmemory-policy", policy)
            .start();
        let mut c = server.client();
        let _: () = q(
            &mut c,
            &["CONFIG", "SET", "json.max-reply-bytes", "1073741824"],
        );
        for i in 0..100 {
            big_string(&mut c, &format!("doc:{i}"), 1 << 20);
        }
        // 300 MiB of reply against ~100 MiB of headroom.
        let template = "{$}".repeat(300);
        let e = q_err(&mut c, &["JSON.FMT", "doc:0", &template]);
        assert!(
            e.starts_with("OOM the reply would be 314572800 bytes and used_memory is "),
            "{policy}: {e}"
        );
        assert_eq!(info_i64(&mut c, "stats", "evicted_keys"), 0, "{policy}");
        let keys: i64 = q(&mut c, &["DBSIZE"]);
        assert_eq!(keys, 100, "{policy}: every document is still there");
        // A reply that fits is served.
        let ok: Vec<u8> = redis::cmd("JSON.FMT")
            .arg("doc:0")
            .arg("{$}".repeat(10))
            .query(&mut c)
            .unwrap();
        assert_eq!(ok.len(), 10 << 20);
        still_serving(&mut c);
    }
}

#[test]
fn an_allocation_the_server_cannot_serve_is_an_oom_error_not_an_abort() {
    // 1 GiB of address space; the limits raised so that only the allocation can fail.
    let server = Server::builder()
        .module("rmkit-json")
        .address_space_limit(1 << 30)
        .config("proto-max-bulk-len", "4gb")
        .start();
    let mut c = server.client();
    let _: () = q(
        &mut c,
        &["CONFIG", "SET", "json.max-reply-bytes", "4294967296"],
    );
    big_string(&mut c, "big", 1 << 20);
    // 2 GiB of reply: measured, allowed by every limit, but there is no memory for it.
    let template = "{$}".repeat(2048);
    let e = q_err(&mut c, &["JSON.FMT", "big", &template]);
    assert_eq!(e, "OOM not enough memory for a reply of 2147483648 bytes");
    still_serving(&mut c);
    let pid_after: i64 = info_i64(&mut c, "server", "process_id");
    assert_eq!(
        pid_after,
        i64::from(server.pid()),
        "the same server process"
    );
}

#[test]
fn fmt_resolves_each_distinct_path_once_on_a_large_array() {
    let server = Server::builder().module("rmkit-json").start();
    let mut c = server.client();
    let n = 1_000_000;
    let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let _: () = q(
        &mut c,
        &["JSON.SET", "arr", &format!("[{}]", items.join(","))],
    );
    // Under 64 KB: 6,000 distinct placeholders, each an index from the end.
    let mut template = String::new();
    let mut expected = String::new();
    let k = 6000;
    for i in 1..=k {
        template.push_str(&format!("{{$[-{i}]}}"));
        expected.push_str(&(n - i).to_string());
    }
    assert!(template.len() < 64 * 1024);
    let started = Instant::now();
    let out: String = q(&mut c, &["JSON.FMT", "arr", &template]);
    let took = started.elapsed();
    assert_eq!(out, expected);
    let usec = {
        let info: String = q(&mut c, &["INFO", "commandstats"]);
        info.lines()
            .find(|l| l.starts_with("cmdstat_json.fmt:"))
            .and_then(|l| l.split("usec=").nth(1))
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    eprintln!(
        "JSON.FMT with {k} distinct placeholders ({} bytes) on a {n}-element array: {usec} µs in \
         the server ({took:?} round trip; {}, debug build of the module)",
        template.len(),
        server.describe(),
    );
}
