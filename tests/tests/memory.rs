//! Memory truth: with rmkit's allocator, `INFO memory used_memory` moves by what the module
//! holds; with the System allocator (the same commands, built differently) it does not.

use redis::Connection;
use rmkit_tests::{Server, keep_reply_buffers, used_memory};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const SIZES: [u64; 6] = [KIB, 64 * KIB, MIB, 8 * MIB, 10_000_000, 64 * MIB];

/// Calls each command once: Redis allocates a latency histogram (~24 KB) on a command's first
/// call, and the client's reply buffer grows on the first INFO; neither is module memory.
fn warm_up(con: &mut Connection) {
    keep_reply_buffers(con);
    used_memory(con);
    let _: i64 = redis::cmd("MEMTEST.GROW").arg(0).query(con).unwrap();
    free(con);
}

/// Δused_memory around `MEMTEST.GROW n` on one connection, and the bytes the module counted.
fn grow(con: &mut Connection, n: u64) -> (i64, i64) {
    let before = used_memory(con);
    let counted: i64 = redis::cmd("MEMTEST.GROW").arg(n).query(con).unwrap();
    let after = used_memory(con);
    (after - before, counted)
}

fn free(con: &mut Connection) {
    let _: i64 = redis::cmd("MEMTEST.FREE").query(con).unwrap();
}

#[test]
fn used_memory_follows_module_memory_with_rmkit_and_not_with_system() {
    // A command slower than 10 ms gets a slowlog entry (~250 bytes of server memory): off.
    let ours = Server::builder()
        .module("memtest-rmkit")
        .config("slowlog-log-slower-than", "-1")
        .start();
    let system = Server::builder()
        .module("memtest-system")
        .config("slowlog-log-slower-than", "-1")
        .start();
    let (mut a, mut b) = (ours.client(), system.client());
    eprintln!("server: {}", ours.describe());
    warm_up(&mut a);
    warm_up(&mut b);
    eprintln!(
        "{:>10} | {:>12} {:>12} {:>7} | {:>12}",
        "n", "Δused rmkit", "counted", "err %", "Δused System"
    );
    for n in SIZES {
        let (delta, counted) = grow(&mut a, n);
        let (sys_delta, sys_counted) = grow(&mut b, n);
        let err = (delta - n as i64) as f64 / n as f64 * 100.0;
        eprintln!("{n:>10} | {delta:>12} {counted:>12} {err:>6.2}% | {sys_delta:>12}");
        // Redis counts the allocator's usable size; the module measured the same thing.
        assert_eq!(
            delta, counted,
            "n={n}: used_memory moved by exactly what the module counted"
        );
        // jemalloc rounds to size classes (10,000,000 -> 10 MiB): within 5 % of n, within 2 %
        // for the power-of-two sizes; plus up to 128 bytes for the module's own list of blocks
        // (a Vec that grows from 0 to 4 slots of 24 bytes on the first push).
        let bound = if n.is_power_of_two() { 0.02 } else { 0.05 };
        let off = (delta - n as i64).unsigned_abs() as f64;
        assert!(
            off <= n as f64 * bound + 128.0,
            "n={n}: Δused_memory {delta} is {err:.2}% off"
        );
        assert_eq!(sys_counted, 0);
        assert!(
            (sys_delta.unsigned_abs() as f64) < (n as f64 * 0.02).max(64.0),
            "n={n}: System memory should be invisible, yet used_memory moved by {sys_delta}"
        );
        free(&mut a);
        free(&mut b);
    }
}

#[test]
fn freeing_returns_used_memory_to_where_it_was() {
    let server = Server::builder().module("memtest-rmkit").start();
    let mut con = server.client();
    warm_up(&mut con);
    let live_at_start = live_bytes(&mut con);
    let start = used_memory(&mut con);
    for _ in 0..10 {
        let _: i64 = redis::cmd("MEMTEST.GROW").arg(MIB).query(&mut con).unwrap();
    }
    let held = used_memory(&mut con) - start;
    assert!(held >= 10 * MIB as i64, "{held}");
    free(&mut con);
    let after = used_memory(&mut con);
    assert!(
        (after - start).abs() < 1024,
        "used_memory should return to {start}, is {after}"
    );
    assert_eq!(
        live_bytes(&mut con),
        live_at_start,
        "the allocator's live bytes return to their start"
    );
}

/// The module allocator's live bytes (`memtest.memory`).
fn live_bytes(con: &mut Connection) -> i64 {
    let stats: Vec<redis::Value> = redis::cmd("memtest.memory").query(con).unwrap();
    match stats[3] {
        redis::Value::Int(n) => n,
        ref v => panic!("{v:?}"),
    }
}
