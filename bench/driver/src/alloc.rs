//! Allocator benchmarks inside Redis: the same loops (bench/loops) on rmkit's allocator,
//! `System`, redis-module's `RedisAlloc`, and raw `RedisModule_Alloc` calls in C. One server per
//! variant, so each starts from a fresh heap.

use crate::server::{Server, cpu_seconds};
use crate::stats::{median, min, table};
use crate::{Config, Libs};
use serde_json::{Value, json};
use std::path::Path;

/// Alloc/free pairs per `mixed` call, and rounds per `grow` call (each call ~0.1–0.3 s).
const MIXED_N: u64 = 4_000_000;
const GROW_ROUNDS: u64 = 1_000;
/// `grow`: 16 vectors x (1 alloc + 10 reallocs + 1 free) per round.
const GROW_PUSHES: f64 = 16.0 * 4096.0;

struct Variant {
    name: &'static str,
    prefix: &'static str,
    lib: fn(&Libs) -> &Path,
}

const VARIANTS: [Variant; 4] = [
    Variant {
        name: "raw RedisModule_Alloc (C)",
        prefix: "cbench",
        lib: |l| &l.cmodule,
    },
    Variant {
        name: "rmkit RedisAllocator",
        prefix: "allocbench",
        lib: |l| &l.alloc_rmkit,
    },
    Variant {
        name: "redis-module RedisAlloc",
        prefix: "rmbench",
        lib: |l| &l.peer,
    },
    Variant {
        name: "System (invisible)",
        prefix: "allocbench",
        lib: |l| &l.alloc_system,
    },
];

pub fn run(cfg: &Config, libs: &Libs) -> Value {
    let scale = (cfg.seconds / 5.0).clamp(0.1, 1.0);
    let mixed_n = (MIXED_N as f64 * scale) as u64;
    let rounds = ((GROW_ROUNDS as f64 * scale) as u64).max(10);
    let repeat = (cfg.repeat * 3).max(3);
    println!(
        "\n## Allocator loops inside Redis ({repeat} interleaved repeats; mixed: {mixed_n} alloc/free pairs \
         of 16..4096 B with 1024 live; grow: {rounds} rounds of 16 Vec<u64> pushed to 4096)\n"
    );
    let servers: Vec<Server> = VARIANTS
        .iter()
        .map(|v| Server::start(v.name, &[(v.lib)(libs)], &[]).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut cons: Vec<_> = servers.iter().map(Server::client).collect();
    // (wall ns measured by the loop itself, server main-thread CPU ns around the call). CPU time
    // leaves out the time the server was descheduled, which dominates the noise on a busy box.
    let call = |con: &mut redis::Connection, prefix: &str, what: &str, n: u64| -> (f64, f64) {
        let cpu0 = cpu_seconds(con);
        let wall = redis::cmd(&format!("{prefix}.{what}"))
            .arg(n)
            .query::<i64>(con)
            .unwrap_or_else(|e| panic!("{prefix}.{what}: {e}")) as f64;
        (wall, (cpu_seconds(con) - cpu0) * 1e9)
    };
    // Warm up: first call of a command allocates its latency histogram; heaps get their pages.
    for (v, con) in VARIANTS.iter().zip(cons.iter_mut()) {
        call(con, v.prefix, "mixed", mixed_n / 4);
        call(con, v.prefix, "grow", rounds / 4 + 1);
    }
    // Per variant: [wall, cpu] samples of mixed (ns/pair) and grow (µs/round).
    let mut mixed = vec![[Vec::new(), Vec::new()]; VARIANTS.len()];
    let mut grow = vec![[Vec::new(), Vec::new()]; VARIANTS.len()];
    for r in 0..repeat {
        for k in 0..VARIANTS.len() {
            let i = (k + r) % VARIANTS.len();
            let v = &VARIANTS[i];
            let (w, c) = call(&mut cons[i], v.prefix, "mixed", mixed_n);
            mixed[i][0].push(w / mixed_n as f64);
            mixed[i][1].push(c / mixed_n as f64);
            let (w, c) = call(&mut cons[i], v.prefix, "grow", rounds);
            grow[i][0].push(w / rounds as f64 / 1000.0);
            grow[i][1].push(c / rounds as f64 / 1000.0);
        }
    }
    // Ratios use the median CPU time (wall medians and minima are shown too).
    let cpu = |xs: &[Vec<f64>; 2]| median(&xs[1]);
    let (c_mixed, c_grow) = (cpu(&mixed[0]), cpu(&grow[0]));
    let (rm_mixed, rm_grow) = (cpu(&mixed[2]), cpu(&grow[2]));
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for (i, v) in VARIANTS.iter().enumerate() {
        let (m, g) = (cpu(&mixed[i]), cpu(&grow[i]));
        rows.push(vec![
            v.name.to_string(),
            format!("{:.2}", median(&mixed[i][0])),
            format!("{:.2}", min(&mixed[i][0])),
            format!("{m:.2}"),
            format!("{:.3}x", m / c_mixed),
            format!("{:.3}x", m / rm_mixed),
            format!("{:.1}", median(&grow[i][0])),
            format!("{:.1}", min(&grow[i][0])),
            format!("{g:.1}"),
            format!("{:.3}x", g / c_grow),
            format!("{:.3}x", g / rm_grow),
        ]);
        out.push(json!({
            "variant": v.name,
            "module_commands": format!("{}.mixed / {}.grow", v.prefix, v.prefix),
            "mixed_ns_per_pair_cpu_median": m,
            "mixed_ns_per_pair_wall_median": median(&mixed[i][0]),
            "mixed_ns_per_pair_wall_min": min(&mixed[i][0]),
            "mixed_ns_per_pair_wall": mixed[i][0],
            "mixed_ns_per_pair_cpu": mixed[i][1],
            "mixed_ratio_to_raw": m / c_mixed,
            "mixed_ratio_to_raw_wall_min": min(&mixed[i][0]) / min(&mixed[0][0]),
            "mixed_ratio_to_redis_module": m / rm_mixed,
            "grow_us_per_round_cpu_median": g,
            "grow_us_per_round_wall_median": median(&grow[i][0]),
            "grow_us_per_round_wall_min": min(&grow[i][0]),
            "grow_us_per_round_wall": grow[i][0],
            "grow_us_per_round_cpu": grow[i][1],
            "grow_ns_per_push_cpu_median": g * 1000.0 / GROW_PUSHES,
            "grow_ratio_to_raw": g / c_grow,
            "grow_ratio_to_redis_module": g / rm_grow,
            "grow_ratio_to_redis_module_wall_min": min(&grow[i][0]) / min(&grow[2][0]),
        }));
    }
    println!(
        "{}",
        table(
            &[
                "allocator",
                "mixed ns/pair wall",
                "wall min",
                "CPU",
                "vs raw",
                "vs RedisAlloc",
                "grow µs/round wall",
                "wall min",
                "CPU",
                "vs raw",
                "vs RedisAlloc"
            ],
            &rows
        )
    );
    println!(
        "wall: measured by the loop inside the server (Instant / CLOCK_MONOTONIC), median and minimum;\n\
         CPU: the server main thread's CPU time around the call (INFO cpu), median, which leaves out\n\
         time the server was descheduled. Ratios use CPU: time / raw RedisModule_Alloc's (lower is\n\
         faster; target <= 1.03 for mixed) and time / RedisAlloc's (target <= 1.00 for grow)."
    );
    json!({
        "repeats": repeat,
        "mixed_pairs_per_call": mixed_n,
        "grow_rounds_per_call": rounds,
        "results": out,
    })
}
