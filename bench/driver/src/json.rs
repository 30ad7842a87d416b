//! JSON throughput: `JSON.SET`/`JSON.GET` (rmkit-json) vs `SET`/`GET` of the same text, for
//! ~100 B, ~10 KB and ~1 MB documents. A 1 MB argument does not fit redis-benchmark's command
//! line, so this drives the server itself: one connection, pipelined.

use crate::server::{Server, cpu_seconds};
use crate::stats::{median, table, thousands};
use crate::{Config, Libs};
use serde_json::{Value, json};
use std::time::Instant;

/// Compact JSON text of about `target` bytes (an object; arrays of records for bigger ones).
pub fn doc(target: usize) -> String {
    let record = |i: usize| {
        json!({"id": i, "name": format!("user-{i:06}"), "email": format!("u{i}@example.com"),
               "tags": ["a", "b"], "score": i as f64 * 0.5, "active": i.is_multiple_of(2)})
    };
    if target <= 150 {
        return record(1).to_string();
    }
    let mut items = Vec::new();
    loop {
        items.push(record(items.len()));
        let text = json!({ "items": items }).to_string();
        if text.len() >= target {
            return text;
        }
    }
}

struct Op {
    name: &'static str,
    json: bool,
    write: bool,
}

const OPS: [Op; 4] = [
    Op {
        name: "JSON.SET",
        json: true,
        write: true,
    },
    Op {
        name: "SET",
        json: false,
        write: true,
    },
    Op {
        name: "JSON.GET",
        json: true,
        write: false,
    },
    Op {
        name: "GET",
        json: false,
        write: false,
    },
];

fn pipeline(op: &Op, key: &str, text: &str, depth: usize) -> redis::Pipeline {
    let mut p = redis::pipe();
    for _ in 0..depth {
        let c = p.cmd(op.name).arg(key);
        if op.write {
            c.arg(text);
        }
        c.ignore();
    }
    p
}

/// Runs `op` for `secs`; returns (ops/s, server CPU µs/op).
fn point(con: &mut redis::Connection, p: &redis::Pipeline, depth: usize, secs: f64) -> (f64, f64) {
    let cpu0 = cpu_seconds(con);
    let t0 = Instant::now();
    let mut ops = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        p.query::<()>(con).expect("pipeline");
        ops += depth as u64;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(con) - cpu0;
    (ops as f64 / elapsed, cpu / ops as f64 * 1e6)
}

pub fn run(cfg: &Config, libs: &Libs) -> Result<Value, String> {
    let secs = (cfg.seconds / 2.5).max(0.5);
    println!(
        "\n## JSON throughput (one connection, pipelined; {secs:.1} s points, {} repeats)\n",
        cfg.repeat
    );
    let server = Server::start("json", &[&libs.json], &[])?;
    let mut con = server.client();
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for target in [100usize, 10_000, 1_000_000] {
        let text = doc(target);
        let depth = (256 * 1024 / text.len()).clamp(1, 32);
        // Both keys exist before any GET; check that the module round-trips the document.
        redis::cmd("JSON.SET")
            .arg("j")
            .arg(&text)
            .query::<()>(&mut con)
            .map_err(|e| e.to_string())?;
        redis::cmd("SET")
            .arg("s")
            .arg(&text)
            .query::<()>(&mut con)
            .map_err(|e| e.to_string())?;
        let back: String = redis::cmd("JSON.GET")
            .arg("j")
            .query(&mut con)
            .map_err(|e| e.to_string())?;
        let same =
            serde_json::from_str::<Value>(&back).ok() == serde_json::from_str::<Value>(&text).ok();
        if !same {
            return Err(format!(
                "JSON.GET did not return the document of {} bytes",
                text.len()
            ));
        }
        let pipes: Vec<redis::Pipeline> = OPS
            .iter()
            .map(|op| pipeline(op, if op.json { "j" } else { "s" }, &text, depth))
            .collect();
        for p in &pipes {
            point(&mut con, p, depth, secs.min(0.3)); // warm-up
        }
        let mut res = vec![Vec::new(); OPS.len()];
        for r in 0..cfg.repeat {
            for k in 0..OPS.len() {
                let i = (k + r) % OPS.len();
                res[i].push(point(&mut con, &pipes[i], depth, secs));
            }
        }
        let med: Vec<(f64, f64)> = res
            .iter()
            .map(|v| {
                (
                    median(&v.iter().map(|x| x.0).collect::<Vec<_>>()),
                    median(&v.iter().map(|x| x.1).collect::<Vec<_>>()),
                )
            })
            .collect();
        for (i, op) in OPS.iter().enumerate() {
            let native = if op.write { med[1] } else { med[3] };
            rows.push(vec![
                format!("{} B", thousands(text.len() as f64)),
                op.name.to_string(),
                depth.to_string(),
                thousands(med[i].0),
                format!("{:.1}", med[i].0 * text.len() as f64 / 1e6),
                format!("{:.2}", med[i].1),
                format!("{:.2}x", med[i].0 / native.0),
                format!("{:.2}x", med[i].1 / native.1),
            ]);
            out.push(json!({
                "doc_bytes": text.len(),
                "op": op.name,
                "pipeline": depth,
                "ops_per_sec_median": med[i].0,
                "ops_per_sec": res[i].iter().map(|x| x.0).collect::<Vec<_>>(),
                "server_cpu_us_per_op_median": med[i].1,
                "ratio_ops_to_native": med[i].0 / native.0,
                "ratio_cpu_to_native": med[i].1 / native.1,
            }));
        }
    }
    println!(
        "{}",
        table(
            &[
                "doc",
                "command",
                "pipeline",
                "ops/s",
                "MB/s",
                "server µs/op",
                "ops vs SET/GET",
                "CPU vs SET/GET"
            ],
            &rows
        )
    );
    println!(
        "JSON.SET parses and stores a serde_json::Value (memory measured by the allocator); JSON.GET\n\
         serialises it again. SET/GET copy bytes. CPU vs SET/GET = server µs/op ratio (higher = costlier)."
    );
    Ok(json!({ "seconds_per_point": secs, "repeats": cfg.repeat, "results": out }))
}
