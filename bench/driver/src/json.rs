//! JSON: rmkit-json vs RedisJSON (`rejson.so`) vs plain strings, for ~100 B, ~10 KB and ~1 MB
//! documents. Both modules register `JSON.SET`/`JSON.GET`, so each gets its own, identically
//! configured server; the variants run interleaved. Throughput: one connection, pipelined (a
//! 1 MB argument does not fit redis-benchmark's command line). Memory: many copies of each
//! document, Δused_memory per document and per byte of JSON text, and how truthfully
//! `MEMORY USAGE` reports it.

use crate::server::{Server, cpu_seconds, info_f64};
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

/// Which server a variant runs on.
#[derive(Clone, Copy, PartialEq)]
enum On {
    Rmkit,
    RedisJson,
}

/// One command variant: its label, server, and the command for a key and a document.
struct Op {
    label: &'static str,
    on: On,
    write: bool,
    args: fn(&str, &str) -> Vec<String>,
}

const OPS: [Op; 6] = [
    Op {
        label: "rmkit JSON.SET",
        on: On::Rmkit,
        write: true,
        args: |k, d| vec!["JSON.SET".into(), k.into(), d.into()],
    },
    Op {
        label: "RedisJSON JSON.SET",
        on: On::RedisJson,
        write: true,
        args: |k, d| vec!["JSON.SET".into(), k.into(), "$".into(), d.into()],
    },
    Op {
        label: "SET",
        on: On::Rmkit,
        write: true,
        args: |k, d| vec!["SET".into(), k.into(), d.into()],
    },
    Op {
        label: "rmkit JSON.GET",
        on: On::Rmkit,
        write: false,
        args: |k, _| vec!["JSON.GET".into(), k.into()],
    },
    Op {
        label: "RedisJSON JSON.GET",
        on: On::RedisJson,
        write: false,
        args: |k, _| vec!["JSON.GET".into(), k.into()],
    },
    Op {
        label: "GET",
        on: On::Rmkit,
        write: false,
        args: |k, _| vec!["GET".into(), k.into()],
    },
];

/// The key a variant reads and writes (strings and JSON live in different keys).
fn key_of(op: &Op) -> &'static str {
    if op.label.contains("JSON") { "j" } else { "s" }
}

fn command(args: &[String]) -> redis::Cmd {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a);
    }
    c
}

fn pipeline(op: &Op, text: &str, depth: usize) -> redis::Pipeline {
    let mut p = redis::pipe();
    let args = (op.args)(key_of(op), text);
    for _ in 0..depth {
        p.add_command(command(&args)).ignore();
    }
    p
}

/// Runs the pipeline for `secs`; returns (ops/s, server CPU µs/op).
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

/// Memory of `n` copies of `text` written with `op` on a fresh keyspace: (Δused_memory,
/// ΣMEMORY USAGE). Writes are pipelined in chunks; the server's one-time allocations (command
/// latency histograms) happen in a warm-up before the baseline.
fn memory(
    con: &mut redis::Connection,
    op: &Op,
    text: &str,
    n: usize,
) -> Result<(f64, f64), String> {
    let q =
        |con: &mut redis::Connection, c: redis::Cmd| c.query::<()>(con).map_err(|e| e.to_string());
    q(con, redis::cmd("FLUSHALL"))?;
    q(con, command(&(op.args)("warm", text)))?;
    q(
        con,
        redis::cmd("MEMORY").arg("USAGE").arg("warm").to_owned(),
    )?;
    q(con, redis::cmd("DEL").arg("warm").to_owned())?;
    let base = info_f64(con, "memory", "used_memory");
    for start in (0..n).step_by(64) {
        let mut p = redis::pipe();
        for i in start..(start + 64).min(n) {
            p.add_command(command(&(op.args)(&format!("m:{i}"), text)))
                .ignore();
        }
        p.query::<()>(con).map_err(|e| e.to_string())?;
    }
    let used = info_f64(con, "memory", "used_memory") - base;
    let mut reported = 0.0;
    for start in (0..n).step_by(256) {
        let mut p = redis::pipe();
        for i in start..(start + 256).min(n) {
            p.cmd("MEMORY").arg("USAGE").arg(format!("m:{i}"));
        }
        let sizes: Vec<Option<i64>> = p.query(con).map_err(|e| e.to_string())?;
        reported += sizes
            .into_iter()
            .map(|s| s.unwrap_or(0) as f64)
            .sum::<f64>();
    }
    q(con, redis::cmd("FLUSHALL"))?;
    Ok((used, reported))
}

pub fn run(cfg: &Config, libs: &Libs) -> Result<Value, String> {
    let secs = (cfg.seconds / 2.5).max(0.5);
    let rmkit = Server::start("json", &[&libs.json], &[])?;
    let redisjson = match &libs.rejson {
        Some(path) => Some(Server::start("rejson", &[path], &[])?),
        None => None,
    };
    println!(
        "\n## JSON: rmkit-json vs RedisJSON vs strings (one connection, pipelined; {secs:.1} s points, {} repeats, interleaved)\n",
        cfg.repeat
    );
    match &redisjson {
        Some(_) => {
            let mut con = redisjson.as_ref().unwrap().client();
            let list: redis::Value = redis::cmd("MODULE")
                .arg("LIST")
                .query(&mut con)
                .map_err(|e| e.to_string())?;
            println!("RedisJSON module: {list:?}\n");
        }
        None => println!("RedisJSON (rejson.so) not found: its columns are skipped.\n"),
    }
    let ops: Vec<&Op> = OPS
        .iter()
        .filter(|op| op.on == On::Rmkit || redisjson.is_some())
        .collect();
    let server_of = |op: &Op| match op.on {
        On::Rmkit => &rmkit,
        On::RedisJson => redisjson.as_ref().expect("filtered"),
    };
    let mut cons: Vec<redis::Connection> = ops.iter().map(|op| server_of(op).client()).collect();

    let mut rows = Vec::new();
    let mut mem_rows = Vec::new();
    let mut out = Vec::new();
    let mut mem_out = Vec::new();
    for target in [100usize, 10_000, 1_000_000] {
        let text = doc(target);
        let depth = (256 * 1024 / text.len()).clamp(1, 32);
        // Every key exists before any GET; each module must round-trip the document.
        for (op, con) in ops.iter().zip(cons.iter_mut()).filter(|(op, _)| op.write) {
            command(&(op.args)(key_of(op), &text))
                .query::<()>(con)
                .map_err(|e| format!("{}: {e}", op.label))?;
        }
        for (op, con) in ops.iter().zip(cons.iter_mut()).filter(|(op, _)| !op.write) {
            let back: String = command(&(op.args)(key_of(op), &text))
                .query(con)
                .map_err(|e| format!("{}: {e}", op.label))?;
            let same = serde_json::from_str::<Value>(&back).ok()
                == serde_json::from_str::<Value>(&text).ok();
            if !same {
                return Err(format!(
                    "{} did not return the document of {} bytes",
                    op.label,
                    text.len()
                ));
            }
        }
        let pipes: Vec<redis::Pipeline> = ops.iter().map(|op| pipeline(op, &text, depth)).collect();
        for (p, con) in pipes.iter().zip(cons.iter_mut()) {
            point(con, p, depth, secs.min(0.3)); // warm-up
        }
        let mut res = vec![Vec::new(); ops.len()];
        for r in 0..cfg.repeat {
            for k in 0..ops.len() {
                let i = (k + r) % ops.len();
                res[i].push(point(&mut cons[i], &pipes[i], depth, secs));
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
        let find = |label: &str| ops.iter().position(|op| op.label == label);
        for (i, op) in ops.iter().enumerate() {
            let native = med[find(if op.write { "SET" } else { "GET" }).expect("SET/GET")];
            // rmkit's ratio to RedisJSON for the same operation.
            let vs_rj = op
                .label
                .strip_prefix("rmkit ")
                .and_then(|cmd| find(&format!("RedisJSON {cmd}")))
                .map(|j| (med[i].0 / med[j].0, med[j].1 / med[i].1));
            rows.push(vec![
                format!("{} B", thousands(text.len() as f64)),
                op.label.to_string(),
                depth.to_string(),
                thousands(med[i].0),
                format!("{:.2}", med[i].1),
                format!("{:.2}x", med[i].1 / native.1),
                vs_rj.map_or(String::new(), |(o, c)| format!("{o:.2}x / {c:.2}x")),
            ]);
            out.push(json!({
                "doc_bytes": text.len(),
                "op": op.label,
                "pipeline": depth,
                "ops_per_sec_median": med[i].0,
                "ops_per_sec": res[i].iter().map(|x| x.0).collect::<Vec<_>>(),
                "server_cpu_us_per_op_median": med[i].1,
                "ratio_cpu_to_native": med[i].1 / native.1,
                "ratio_ops_to_redisjson": vs_rj.map(|r| r.0),
                "ratio_cpu_efficiency_to_redisjson": vs_rj.map(|r| r.1),
            }));
        }

        // Memory: ~16 MB of text per variant (at least 8 documents).
        let n = (16_000_000 / text.len()).max(8);
        for (op, con) in ops.iter().zip(cons.iter_mut()).filter(|(op, _)| op.write) {
            let (used, reported) = memory(con, op, &text, n)?;
            let per_doc = used / n as f64;
            mem_rows.push(vec![
                format!("{} B", thousands(text.len() as f64)),
                op.label.trim_end_matches(" JSON.SET").to_string(),
                thousands(n as f64),
                thousands(per_doc),
                format!("{:.2}", per_doc / text.len() as f64),
                format!("{:.3}", reported / used),
            ]);
            mem_out.push(json!({
                "doc_bytes": text.len(),
                "variant": op.label,
                "documents": n,
                "used_memory_delta": used,
                "used_memory_per_doc": per_doc,
                "used_memory_per_text_byte": per_doc / text.len() as f64,
                "memory_usage_sum": reported,
                "memory_usage_to_used_memory": reported / used,
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
                "server µs/op",
                "CPU vs SET/GET",
                "rmkit vs RedisJSON: ops / CPU efficiency"
            ],
            &rows
        )
    );
    println!(
        "JSON.SET parses the text into the module's stored form; JSON.GET serialises it again; SET/GET\n\
         copy bytes. RedisJSON is sent `JSON.SET key $ doc`. Ratios above 1.00x favour rmkit-json.\n"
    );
    println!(
        "{}",
        table(
            &[
                "doc",
                "stored as",
                "documents",
                "Δused_memory per doc",
                "per text byte",
                "ΣMEMORY USAGE / Δused_memory"
            ],
            &mem_rows
        )
    );
    println!(
        "Δused_memory includes each key's own overhead (dict entry, key name, object header).\n\
         MEMORY USAGE / Δused_memory: 1.000 = reported exactly what the server holds."
    );
    Ok(json!({
        "seconds_per_point": secs,
        "repeats": cfg.repeat,
        "results": out,
        "memory": mem_out,
    }))
}
