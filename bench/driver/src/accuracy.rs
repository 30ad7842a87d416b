//! Accounting accuracy: Δused_memory around `MEMTEST.GROW n` (tests/fixtures/memtest) from 1 KB
//! to 256 MB, for rmkit's allocator and for System; measured like tests/tests/memory.rs (one
//! connection, each command warmed up, slowlog off).

use crate::server::{Server, info_f64};
use crate::stats::{table, thousands};
use crate::{Config, Libs};
use serde_json::{Value, json};

/// 1 KiB .. 256 MiB: every power of two and every 1.5x power of two in between.
pub fn sizes(quick: bool) -> Vec<u64> {
    let mut v = Vec::new();
    for k in 10..=28u32 {
        v.push(1u64 << k);
        if k < 28 && !quick {
            v.push(3u64 << (k - 1));
        }
    }
    v
}

pub struct Row {
    pub n: u64,
    pub delta: i64,
    pub counted: i64,
    pub sys_delta: i64,
}

fn used(con: &mut redis::Connection) -> i64 {
    info_f64(con, "memory", "used_memory") as i64
}

fn grow(con: &mut redis::Connection, n: u64) -> (i64, i64) {
    let before = used(con);
    let counted: i64 = redis::cmd("MEMTEST.GROW")
        .arg(n)
        .query(con)
        .expect("MEMTEST.GROW");
    let after = used(con);
    (after - before, counted)
}

fn free(con: &mut redis::Connection) {
    let _: i64 = redis::cmd("MEMTEST.FREE").query(con).expect("MEMTEST.FREE");
}

pub fn run(cfg: &Config, libs: &Libs) -> Result<(Value, Vec<Row>), String> {
    println!(
        "\n## Accounting accuracy (MEMTEST.GROW n, Δ INFO used_memory; median of {} trials)\n",
        cfg.repeat
    );
    let slowlog = [("slowlog-log-slower-than", "-1")];
    let ours = Server::start("memtest-rmkit", &[&libs.memtest_rmkit], &slowlog)?;
    let system = Server::start("memtest-system", &[&libs.memtest_system], &slowlog)?;
    let (mut a, mut b) = (ours.client(), system.client());
    for con in [&mut a, &mut b] {
        used(con);
        grow(con, 0);
        free(con);
    }
    let mut rows = Vec::new();
    // Each size is measured `repeat` times; the trial with the median |Δ−counted| is kept (the
    // server's own cron work — client buffer resizing, say — occasionally lands inside a window).
    let mut spread = Vec::new();
    for n in sizes(cfg.quick) {
        let mut trials = Vec::new();
        for _ in 0..cfg.repeat {
            let (delta, counted) = grow(&mut a, n);
            let (sys_delta, _) = grow(&mut b, n);
            free(&mut a);
            free(&mut b);
            trials.push(Row {
                n,
                delta,
                counted,
                sys_delta,
            });
        }
        trials.sort_by_key(|r| (r.delta - r.counted).unsigned_abs());
        spread.push(json!({
            "n": n,
            "trials_delta_minus_counted": trials.iter().map(|r| r.delta - r.counted).collect::<Vec<_>>(),
            "trials_system_delta": trials.iter().map(|r| r.sys_delta).collect::<Vec<_>>(),
        }));
        rows.push(trials.swap_remove(trials.len() / 2));
    }
    let pct = |x: i64, n: u64| x.unsigned_abs() as f64 / n as f64 * 100.0;
    let text: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                thousands(r.n as f64),
                thousands(r.delta as f64),
                thousands(r.counted as f64),
                format!("{:.4}%", pct(r.delta - r.counted, r.n)),
                format!("{:.3}%", pct(r.delta - r.n as i64, r.n)),
                thousands(r.sys_delta as f64),
                format!("{:.2}%", pct(r.sys_delta - r.n as i64, r.n)),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "n (bytes)",
                "Δused rmkit",
                "counted by module",
                "|Δ−counted|/n",
                "|Δ−n|/n",
                "Δused System",
                "|Δ−n|/n System"
            ],
            &text
        )
    );
    let from_1mb: Vec<&Row> = rows.iter().filter(|r| r.n >= 1 << 20).collect();
    let worst_counted = from_1mb
        .iter()
        .map(|r| pct(r.delta - r.counted, r.n))
        .fold(0.0, f64::max);
    let worst_n = from_1mb
        .iter()
        .map(|r| pct(r.delta - r.n as i64, r.n))
        .fold(0.0, f64::max);
    let worst_pow2 = from_1mb
        .iter()
        .filter(|r| r.n.is_power_of_two())
        .map(|r| pct(r.delta - r.n as i64, r.n))
        .fold(0.0, f64::max);
    println!(
        "From 1 MB up (rmkit): worst |Δ−counted|/n = {worst_counted:.4}%, worst |Δ−n|/n = {worst_n:.3}% \
         (powers of two: {worst_pow2:.4}%).\n\
         |Δ−n| is jemalloc's size-class rounding (Redis counts usable size) plus 96 B of memtest's own\n\
         block list; the module's own count matches used_memory to the byte. System: Redis sees nothing."
    );
    let json = json!({
        "method": "one connection per server, commands warmed up, slowlog off; Δ = used_memory after - before MEMTEST.GROW n; per size the trial with the median |Δ-counted| of `repeats`",
        "repeats": cfg.repeat,
        "rows": rows.iter().map(|r| json!({
            "n": r.n,
            "rmkit_delta_used_memory": r.delta,
            "rmkit_counted": r.counted,
            "rmkit_err_vs_counted_pct": pct(r.delta - r.counted, r.n),
            "rmkit_err_vs_n_pct": pct(r.delta - r.n as i64, r.n),
            "system_delta_used_memory": r.sys_delta,
            "system_err_vs_n_pct": pct(r.sys_delta - r.n as i64, r.n),
        })).collect::<Vec<_>>(),
        "from_1mb_worst_err_vs_counted_pct": worst_counted,
        "from_1mb_worst_err_vs_n_pct": worst_n,
        "from_1mb_worst_err_vs_n_pct_powers_of_two": worst_pow2,
        "trials": spread,
    });
    Ok((json, rows))
}
