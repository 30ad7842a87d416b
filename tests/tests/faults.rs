//! Faults: `kill -9` in the middle of module writes with an AOF (`appendfsync always`: nothing
//! acknowledged is lost; `everysec`: nothing is corrupted), `DEBUG RELOAD` under load, and a
//! replica that loses its link (partial resync) or is detached and re-attached (full resync)
//! while writes go on: the replica ends identical (`DEBUG DIGEST`).
//!
//! A writer thread sends an endless, deterministic sequence of module writes on one connection
//! (JSON.SET of a new document, HGETSET of a new field, JSON.NUMINCRBY of a counter, in turn)
//! and counts the acknowledgements. Since the writes are sequential, what the server holds must
//! be exactly the first `P` writes of the sequence, with `P` the acknowledged count (or one more:
//! the write in flight when the server died may have reached the AOF). The check reads every
//! document and field back and compares it byte for byte.
//!
//! `RMKIT_SOAK=1` runs more kill/restart rounds and longer writes.

use redis::{Connection, Value};
use rmkit_tests::{Server, q};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

fn soak() -> bool {
    std::env::var_os("RMKIT_SOAK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The text of document `i` as JSON.GET returns it (members already in sorted order).
fn doc_text(ns: &str, i: u64) -> String {
    format!(
        r#"{{"i":{i},"ns":"{ns}","pad":"{}","tags":["a",{i},true,null]}}"#,
        "x".repeat(100 + (i % 50) as usize)
    )
}

/// Write number `j` of namespace `ns`'s sequence.
fn write_op(ns: &str, j: u64) -> redis::Cmd {
    let i = j / 3;
    match j % 3 {
        0 => {
            let mut c = redis::cmd("JSON.SET");
            c.arg(format!("{ns}:doc:{i}")).arg(doc_text(ns, i));
            c
        }
        1 => {
            let mut c = redis::cmd("HGETSET");
            c.arg(format!("{ns}:h"))
                .arg(format!("f{i}"))
                .arg(format!("v{i}"));
            c
        }
        _ => {
            let mut c = redis::cmd("JSON.NUMINCRBY");
            c.arg(format!("{ns}:cnt")).arg("$.n").arg(1);
            c
        }
    }
}

/// A thread writing `ns`'s sequence until told to stop or until the server goes away.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    handle: JoinHandle<Option<String>>,
}

impl Writer {
    /// Creates the counter document, then starts writing.
    fn start(server: &Server, ns: &str) -> Writer {
        let mut con = server.client();
        let _: () = q(&mut con, &["JSON.SET", &format!("{ns}:cnt"), r#"{"n":0}"#]);
        let (stop, acked) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (s, a, ns) = (stop.clone(), acked.clone(), ns.to_owned());
        let handle = thread::spawn(move || {
            let mut j = 0;
            while !s.load(Ordering::SeqCst) {
                match write_op(&ns, j).query::<Value>(&mut con) {
                    Ok(_) => {
                        j += 1;
                        a.store(j, Ordering::SeqCst);
                    }
                    // The server died (or answered an error, which the check will catch).
                    Err(e) => return Some(e.to_string()),
                }
            }
            None
        });
        Writer {
            stop,
            acked,
            handle,
        }
    }

    /// Waits until at least `n` writes are acknowledged (at most 60 s).
    fn wait_acked(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.acked.load(Ordering::SeqCst) < n {
            assert!(!self.handle.is_finished(), "the writer stopped early");
            assert!(Instant::now() < deadline, "the writer is stuck");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stops the writer (if the server has not already stopped it); returns the number of
    /// acknowledged writes and the writer's error, if it ended on one.
    fn finish(self) -> (u64, Option<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let error = self.handle.join().expect("writer thread panicked");
        (self.acked.load(Ordering::SeqCst), error)
    }
}

/// Every key of `ns` matching `pattern`, by SCAN.
fn count_keys(con: &mut Connection, pattern: &str) -> u64 {
    let mut n = 0;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap();
        n += keys.len() as u64;
        if next == 0 {
            return n;
        }
        cursor = next;
    }
}

/// Checks that the server holds exactly the first `P` writes of `ns`'s sequence, every
/// document and field byte for byte; returns `P`.
fn held_prefix(con: &mut Connection, ns: &str) -> u64 {
    let docs = count_keys(con, &format!("{ns}:doc:*"));
    let fields: u64 = q(con, &["HLEN", &format!("{ns}:h")]);
    let counter: String = q(con, &["JSON.GET", &format!("{ns}:cnt")]);
    let n: u64 = counter
        .strip_prefix(r#"{"n":"#)
        .and_then(|t| t.strip_suffix('}'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{ns}:cnt holds {counter}"));
    let p = docs + fields + n;
    assert_eq!(
        (docs, fields, n),
        (p.div_ceil(3), (p + 1) / 3, p / 3),
        "{ns}: {docs} documents, {fields} fields and a counter at {n} are not a prefix of the \
         writes (a hole or a duplicate)"
    );
    for start in (0..docs).step_by(500) {
        let end = (start + 500).min(docs);
        let mut pipe = redis::pipe();
        for i in start..end {
            pipe.cmd("JSON.GET").arg(format!("{ns}:doc:{i}"));
        }
        let got: Vec<Option<String>> = pipe.query(con).unwrap();
        for (i, text) in (start..end).zip(got) {
            assert_eq!(text, Some(doc_text(ns, i)), "{ns}:doc:{i}");
        }
    }
    for start in (0..fields).step_by(500) {
        let end = (start + 500).min(fields);
        let mut c = redis::cmd("HMGET");
        c.arg(format!("{ns}:h"));
        for i in start..end {
            c.arg(format!("f{i}"));
        }
        let got: Vec<Option<String>> = c.query(con).unwrap();
        for (i, v) in (start..end).zip(got) {
            assert_eq!(v, Some(format!("v{i}")), "{ns}:h f{i}");
        }
    }
    p
}

fn digest(con: &mut Connection) -> String {
    q(con, &["DEBUG", "DIGEST"])
}

/// Kills the server with SIGKILL while a writer is busy, restarts it from its AOF and checks
/// every namespace written so far; returns (writes acknowledged, writes found) per round.
fn kill_rounds(server: &mut Server, rounds: usize, writes: u64, strict: bool) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut done: Vec<(String, u64)> = Vec::new();
    for round in 0..rounds {
        let ns = format!("r{round}");
        let writer = Writer::start(server, &ns);
        writer.wait_acked(writes);
        if round % 2 == 1 {
            // Kill during (or right after) an AOF rewrite as well.
            let mut con = server.client();
            let _: Value = q(&mut con, &["BGREWRITEAOF"]);
        }
        server.stop(); // SIGKILL, mid-write
        // The writer usually ends on the dead connection; it may also see the stop flag first
        // (it was between two writes), which changes nothing: only acknowledged writes count.
        let (acked, _error) = writer.finish();
        server.restart();
        let mut con = server.client();
        let held = held_prefix(&mut con, &ns);
        if strict {
            assert!(
                held == acked || held == acked + 1,
                "appendfsync always: {acked} writes acknowledged, {held} found after kill -9"
            );
        } else {
            assert!(
                held <= acked + 1,
                "{held} writes found, only {acked} acknowledged (+1 in flight)"
            );
        }
        // Earlier rounds are still exactly as they were.
        for (old, p) in &done {
            assert_eq!(held_prefix(&mut con, old), *p, "{old} after round {round}");
        }
        done.push((ns, held));
        out.push((acked, held));
    }
    out
}

#[test]
fn kill_9_with_appendfsync_always_loses_no_acknowledged_write() {
    let (rounds, writes) = if soak() { (20, 5_000) } else { (3, 600) };
    let mut server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .config("appendonly", "yes")
        .config("appendfsync", "always")
        .start();
    let results = kill_rounds(&mut server, rounds, writes, true);
    let acked: u64 = results.iter().map(|r| r.0).sum();
    let found: u64 = results.iter().map(|r| r.1).sum();
    eprintln!(
        "appendfsync always: {rounds} kill -9 rounds, {acked} acknowledged writes, all {acked} \
         found after restart (+{} in flight), every document and field compared",
        found - acked
    );
}

#[test]
fn kill_9_with_appendfsync_everysec_restarts_without_corruption() {
    let (rounds, writes) = if soak() { (10, 5_000) } else { (2, 600) };
    let mut server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .config("appendonly", "yes")
        .config("appendfsync", "everysec")
        .start();
    let results = kill_rounds(&mut server, rounds, writes, false);
    let acked: u64 = results.iter().map(|r| r.0).sum();
    let found: u64 = results.iter().map(|r| r.1).sum();
    eprintln!(
        "appendfsync everysec: {rounds} kill -9 rounds, {acked} acknowledged writes, {found} \
         found after restart, no hole, no corrupt document"
    );
}

#[test]
fn debug_reload_under_load_keeps_every_write() {
    let reloads = if soak() { 30 } else { 5 };
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .start();
    let mut con = server.client();
    let writer = Writer::start(&server, "reload");
    for r in 0..reloads {
        writer.wait_acked(300 * (r + 1));
        let ok: String = q(&mut con, &["DEBUG", "RELOAD"]);
        assert_eq!(ok, "OK");
    }
    let (acked, error) = writer.finish();
    assert_eq!(error, None, "the writer saw an error");
    assert_eq!(held_prefix(&mut con, "reload"), acked);
    let before = digest(&mut con);
    let _: String = q(&mut con, &["DEBUG", "RELOAD"]);
    assert_eq!(digest(&mut con), before);
    eprintln!("{reloads} DEBUG RELOADs under load: all {acked} acknowledged writes kept");
}

fn stat(server: &Server, field: &str) -> u64 {
    server.info_u64("stats", field)
}

/// Waits until the replica has applied every write the primary propagated (the writer has
/// stopped, so that is all of them), then compares both data sets (`DEBUG DIGEST`).
fn assert_same_data(primary: &Server, replica: &Server) {
    replica.wait_caught_up_with(primary);
    let (mut p, mut r) = (primary.client(), replica.client());
    assert_eq!(digest(&mut p), digest(&mut r), "primary and replica differ");
}

#[test]
fn a_replica_resyncs_partially_and_fully_under_writes_and_ends_identical() {
    let primary = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .start();
    let replica = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .replica_of(&primary)
        .start();
    replica.wait_for_sync();
    let mut r = replica.client();
    let writer = Writer::start(&primary, "repl");
    writer.wait_acked(300);

    // Partial: the replica drops its link to the primary and comes back with PSYNC.
    let (partial, full) = (
        stat(&primary, "sync_partial_ok"),
        stat(&primary, "sync_full"),
    );
    let killed: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, 1);
    primary.wait_for("a partial resync", Duration::from_secs(10), |p| {
        stat(p, "sync_partial_ok") > partial
    });
    replica.wait_for_sync();
    assert_eq!(stat(&primary, "sync_full"), full, "no full sync was needed");
    writer.wait_acked(writer.acked.load(Ordering::SeqCst) + 300);

    // Full: detached (a new replication id), then attached again.
    let _: String = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    writer.wait_acked(writer.acked.load(Ordering::SeqCst) + 300);
    let port = primary.port().to_string();
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &port]);
    primary.wait_for("a full resync", Duration::from_secs(10), |p| {
        stat(p, "sync_full") > full
    });
    replica.wait_for_sync();
    writer.wait_acked(writer.acked.load(Ordering::SeqCst) + 300);

    let (acked, error) = writer.finish();
    assert_eq!(error, None, "the writer saw an error");
    assert_same_data(&primary, &replica);
    let mut r = replica.client();
    assert_eq!(held_prefix(&mut r, "repl"), acked);
    eprintln!(
        "replication: partial resync (sync_partial_ok {} -> {}) and full resync (sync_full {} \
         -> {}) under writes; replica identical (DEBUG DIGEST), all {acked} writes present",
        partial,
        stat(&primary, "sync_partial_ok"),
        full,
        stat(&primary, "sync_full")
    );
}
