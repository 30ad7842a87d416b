//! examples/capped against the same algorithms written in C on the raw module API
//! (bench/c/capped.c): LPUSHCAP, ZINCRCAP and XADDMAXLEN, both in one server, driven by
//! redis-benchmark, interleaved and repeated.

use crate::hgetset::{Point, bench};
use crate::server::Server;
use crate::stats::{median, table, thousands};
use crate::{Config, Libs};
use serde_json::{Value, json};

const PIPELINE: u32 = 16;

/// (name, Rust command line, C command line): the same arguments, keys apart.
fn pairs() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let line = |cmd: &str, key: &str, rest: &[&str]| {
        std::iter::once(cmd.to_string())
            .chain(std::iter::once(key.to_string()))
            .chain(rest.iter().map(|s| s.to_string()))
            .collect::<Vec<_>>()
    };
    vec![
        (
            "LPUSHCAP (cap 10)",
            line("LPUSHCAP", "rl:__rand_int__", &["10", "element"]),
            line("CLPUSHCAP", "cl:__rand_int__", &["10", "element"]),
        ),
        (
            "ZINCRCAP (cap 10)",
            line(
                "ZINCRCAP",
                "rz:__rand_int__",
                &["10", "1", "m:__rand_int__"],
            ),
            line(
                "CZINCRCAP",
                "cz:__rand_int__",
                &["10", "1", "m:__rand_int__"],
            ),
        ),
        (
            "XADDMAXLEN (maxlen 10)",
            line("XADDMAXLEN", "rx:__rand_int__", &["10", "field", "value"]),
            line("CXADDMAXLEN", "cx:__rand_int__", &["10", "field", "value"]),
        ),
    ]
}

/// Both implementations reply alike on a fresh key and on a full one.
fn check(con: &mut redis::Connection) {
    for (cmd, key) in [("LPUSHCAP", "check:r"), ("CLPUSHCAP", "check:c")] {
        for i in 1..=12i64 {
            let n: i64 = redis::cmd(cmd).arg(key).arg(10).arg(i).query(con).unwrap();
            assert_eq!(n, i.min(10), "{cmd} length");
        }
    }
    let a: Vec<String> = redis::cmd("LRANGE")
        .arg("check:r")
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap();
    let b: Vec<String> = redis::cmd("LRANGE")
        .arg("check:c")
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap();
    assert_eq!(a, b, "LPUSHCAP and CLPUSHCAP keep the same elements");
    for (cmd, key) in [("ZINCRCAP", "check:zr"), ("CZINCRCAP", "check:zc")] {
        for i in 0..30 {
            let _: Option<f64> = redis::cmd(cmd)
                .arg(key)
                .arg(5)
                .arg(i % 7)
                .arg(format!("m{}", i % 11))
                .query(con)
                .unwrap();
        }
    }
    let a: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("check:zr")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(con)
        .unwrap();
    let b: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg("check:zc")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(con)
        .unwrap();
    assert_eq!(a, b, "ZINCRCAP and CZINCRCAP keep the same members");
    for cmd in ["XADDMAXLEN", "CXADDMAXLEN"] {
        for _ in 0..15 {
            let _: String = redis::cmd(cmd)
                .arg(format!("check:{cmd}"))
                .arg(10)
                .arg("f")
                .arg("v")
                .query(con)
                .unwrap();
        }
        let n: i64 = redis::cmd("XLEN")
            .arg(format!("check:{cmd}"))
            .query(con)
            .unwrap();
        assert_eq!(n, 10, "{cmd} trims");
    }
}

pub fn run(cfg: &Config, libs: &Libs) -> Value {
    println!(
        "\n## capped vs C on the raw API (redis-benchmark -P {PIPELINE}, {} s points, {} repeats)\n",
        cfg.seconds, cfg.repeat
    );
    let server = Server::start("capped", &[&libs.capped, &libs.cmodule], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut con = server.client();
    check(&mut con);
    let pairs = pairs();
    // Calibrate (and warm up, filling the keyspace to the caps).
    let mut n = Vec::new();
    for (_, r, c) in &pairs {
        let mut per = [0u64; 2];
        for (i, line) in [r, c].into_iter().enumerate() {
            let pt = bench(server.port, PIPELINE, 300_000, line, &mut con);
            per[i] = ((pt.rps * cfg.seconds) as u64).max(10_000);
        }
        n.push(per);
    }
    let mut points = vec![[Vec::<Point>::new(), Vec::new()]; pairs.len()];
    for rep in 0..cfg.repeat {
        for (k, (name, r, c)) in pairs.iter().enumerate() {
            // Alternate which side goes first.
            let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for side in order {
                let line = if side == 0 { r } else { c };
                let pt = bench(server.port, PIPELINE, n[k][side], line, &mut con);
                eprintln!(
                    "  repeat {} {:<24} {:<4} {:>10} ops/s  {:.3} µs/call",
                    rep + 1,
                    name,
                    if side == 0 { "rust" } else { "C" },
                    thousands(pt.rps),
                    pt.us_per_call
                );
                points[k][side].push(pt);
            }
        }
    }
    let med = |pts: &[Point], f: fn(&Point) -> f64| median(&pts.iter().map(f).collect::<Vec<_>>());
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (k, (name, r, c)) in pairs.iter().enumerate() {
        let (rc, cc) = (
            med(&points[k][0], |x| x.us_per_call),
            med(&points[k][1], |x| x.us_per_call),
        );
        let (rr, cr) = (med(&points[k][0], |x| x.rps), med(&points[k][1], |x| x.rps));
        rows.push(vec![
            name.to_string(),
            format!("{rc:.3}"),
            format!("{cc:.3}"),
            format!("{:.3}x", cc / rc),
            thousands(rr),
            thousands(cr),
            format!("{:.3}x", rr / cr),
        ]);
        results.push(json!({
            "command": name,
            "rust": r.join(" "),
            "c": c.join(" "),
            "rust_us_per_call_median": rc,
            "c_us_per_call_median": cc,
            "ratio_call_efficiency_to_c": cc / rc,
            "rust_ops_per_sec_median": rr,
            "c_ops_per_sec_median": cr,
            "ratio_ops_to_c": rr / cr,
            "rust_us_per_call": points[k][0].iter().map(|x| x.us_per_call).collect::<Vec<_>>(),
            "c_us_per_call": points[k][1].iter().map(|x| x.us_per_call).collect::<Vec<_>>(),
        }));
    }
    println!(
        "{}",
        table(
            &[
                "command",
                "rust µs/call",
                "C µs/call",
                "call vs C",
                "rust ops/s",
                "C ops/s",
                "ops vs C"
            ],
            &rows
        )
    );
    println!(
        "µs/call: the command's own execution time (INFO commandstats usec/calls); call vs C = C's\n\
         µs/call / rmkit's (>= 1.00x: rmkit is as cheap as the C module). ops/s are redis-benchmark's."
    );
    json!({
        "pipeline": PIPELINE,
        "seconds_per_point": cfg.seconds,
        "repeats": cfg.repeat,
        "results": results,
    })
}
