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

/// One command variant: its label, server, key, and the command for a key and a document.
struct Op {
    label: String,
    on: On,
    write: bool,
    /// The key it reads and writes; `x` (the edits) is written afresh before every point.
    key: &'static str,
    args: fn(&str, &str) -> Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The document commands measured on the 10 KB document only, each on both modules with the
/// same arguments (`doc` builds `{"items": [{"id", "name", "email", "tags", "score",
/// "active"}, ...]}`). The edits run on key `x`, reset to the document before every point.
type Args = fn(&str, &str) -> Vec<String>;
const EXTRA: [(&str, bool, Args); 8] = [
    ("JSON.MGET 10 keys", false, |_, _| {
        let mut v = vec!["JSON.MGET".to_string()];
        v.extend((0..10).map(|i| format!("j{i}")));
        v.push("$.items[0]".into());
        v
    }),
    ("JSON.ARRAPPEND", true, |k, _| {
        strings(&["JSON.ARRAPPEND", k, "$.items[0].tags", "\"x\""])
    }),
    ("JSON.NUMINCRBY", true, |k, _| {
        strings(&["JSON.NUMINCRBY", k, "$.items[3].score", "1"])
    }),
    ("JSON.STRAPPEND", true, |k, _| {
        strings(&["JSON.STRAPPEND", k, "$.items[5].email", "\"x\""])
    }),
    ("JSON.OBJKEYS", false, |k, _| {
        strings(&["JSON.OBJKEYS", k, "$.items[7]"])
    }),
    ("JSON.SET+DEL field", true, |k, _| {
        strings(&["JSON.SET", k, "$.items[9].tmp", "1"])
    }),
    ("JSON.GET $..name", false, |k, _| {
        strings(&["JSON.GET", k, "$..name"])
    }),
    ("JSON.GET filter", false, |k, _| {
        strings(&["JSON.GET", k, "$..[?(@.score < 10)]"])
    }),
];

/// Single-field edits of the ~1 MB document (`{"items": [...]}` of ~7,000 records), on key `x`
/// like the 10 KB edits: what one small edit costs in a big document. `items[3]` is near the
/// start (everything after it moves when a value changes size), `items[-1]` at the end.
const EXTRA_1MB: [(&str, bool, Args); 3] = [
    ("JSON.NUMINCRBY", true, |k, _| {
        strings(&["JSON.NUMINCRBY", k, "$.items[3].score", "1"])
    }),
    ("JSON.ARRAPPEND", true, |k, _| {
        strings(&["JSON.ARRAPPEND", k, "$.items[3].tags", "\"x\""])
    }),
    ("JSON.ARRAPPEND last", true, |k, _| {
        strings(&["JSON.ARRAPPEND", k, "$.items[-1].tags", "\"x\""])
    }),
];

fn base_ops() -> Vec<Op> {
    let op = |label: &str, on, write, args: Args| Op {
        label: label.into(),
        on,
        write,
        key: if label.contains("JSON") { "j" } else { "s" },
        args,
    };
    vec![
        op("rmkit JSON.SET", On::Rmkit, true, |k, d| {
            vec!["JSON.SET".into(), k.into(), d.into()]
        }),
        op("RedisJSON JSON.SET", On::RedisJson, true, |k, d| {
            vec!["JSON.SET".into(), k.into(), "$".into(), d.into()]
        }),
        op("SET", On::Rmkit, true, |k, d| {
            vec!["SET".into(), k.into(), d.into()]
        }),
        op("rmkit JSON.GET", On::Rmkit, false, |k, _| {
            vec!["JSON.GET".into(), k.into()]
        }),
        op("RedisJSON JSON.GET", On::RedisJson, false, |k, _| {
            vec!["JSON.GET".into(), k.into()]
        }),
        op("GET", On::Rmkit, false, |k, _| vec!["GET".into(), k.into()]),
    ]
}

fn extra_ops(extra: &[(&str, bool, Args)]) -> Vec<Op> {
    let mut v = Vec::new();
    for &(name, write, args) in extra {
        for (who, on) in [("rmkit", On::Rmkit), ("RedisJSON", On::RedisJson)] {
            v.push(Op {
                label: format!("{who} {name}"),
                on,
                write,
                key: "x",
                args,
            });
        }
    }
    v
}

fn command(args: &[String]) -> redis::Cmd {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a);
    }
    c
}

/// `depth` commands of `op`; "SET+DEL field" alternates the set with a delete of the field.
fn pipeline(op: &Op, text: &str, depth: usize) -> redis::Pipeline {
    let mut p = redis::pipe();
    let args = (op.args)(op.key, text);
    for i in 0..depth {
        if op.label.ends_with("SET+DEL field") && i % 2 == 1 {
            p.add_command(command(&strings(&["JSON.DEL", op.key, "$.items[9].tmp"])))
                .ignore();
        } else {
            p.add_command(command(&args)).ignore();
        }
    }
    p
}

/// `usec_per_call` of `cmd` in INFO commandstats (since the last CONFIG RESETSTAT).
fn usec_per_call(con: &mut redis::Connection, cmd: &str) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(con)
        .expect("INFO commandstats");
    let name = format!("cmdstat_{}:", cmd.to_lowercase());
    info.lines()
        .find_map(|l| l.strip_prefix(&name))
        .and_then(|r| {
            r.split(',')
                .find_map(|f| f.strip_prefix("usec_per_call="))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Runs the pipeline for `secs`; returns (ops/s, server CPU µs/op, commandstats µs per call of
/// the op's command).
fn point(
    con: &mut redis::Connection,
    p: &redis::Pipeline,
    cmd: &str,
    depth: usize,
    secs: f64,
) -> (f64, f64, f64) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(con)
        .expect("CONFIG RESETSTAT");
    let cpu0 = cpu_seconds(con);
    let t0 = Instant::now();
    let mut ops = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        p.query::<()>(con).expect("pipeline");
        ops += depth as u64;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(con) - cpu0;
    (
        ops as f64 / elapsed,
        cpu / ops as f64 * 1e6,
        usec_per_call(con, cmd),
    )
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
    let server_of = |op: &Op| match op.on {
        On::Rmkit => &rmkit,
        On::RedisJson => redisjson.as_ref().expect("filtered"),
    };

    let mut rows = Vec::new();
    let mut mem_rows = Vec::new();
    let mut out = Vec::new();
    let mut mem_out = Vec::new();
    for target in [100usize, 10_000, 1_000_000] {
        let text = doc(target);
        let mut all = base_ops();
        if target == 10_000 {
            all.extend(extra_ops(&EXTRA));
        }
        if target == 1_000_000 {
            all.extend(extra_ops(&EXTRA_1MB));
        }
        let ops: Vec<Op> = all
            .into_iter()
            .filter(|op| op.on == On::Rmkit || redisjson.is_some())
            .collect();
        let mut cons: Vec<redis::Connection> =
            ops.iter().map(|op| server_of(op).client()).collect();
        let depth = (256 * 1024 / text.len()).clamp(1, 32);
        // The small commands (the edits on key `x`) pipeline 32 deep.
        let depth_of = |op: &Op| if op.key == "x" { 32 } else { depth };
        // Every key exists before any GET; each module must round-trip the document.
        for (op, con) in ops
            .iter()
            .zip(cons.iter_mut())
            .filter(|(op, _)| op.write && op.key != "x")
        {
            command(&(op.args)(op.key, &text))
                .query::<()>(con)
                .map_err(|e| format!("{}: {e}", op.label))?;
        }
        if target >= 10_000 {
            let keys: Vec<String> = if target == 10_000 {
                (0..10).map(|i| format!("j{i}")).collect()
            } else {
                Vec::new()
            };
            for s in [Some(&rmkit), redisjson.as_ref()].into_iter().flatten() {
                let mut con = s.client();
                for k in keys.iter().cloned().chain(["x".to_string()]) {
                    command(&strings(&["JSON.SET", &k, "$", &text]))
                        .query::<()>(&mut con)
                        .map_err(|e| format!("{}: JSON.SET {k}: {e}", s.name))?;
                }
            }
        }
        for (op, con) in ops
            .iter()
            .zip(cons.iter_mut())
            .filter(|(op, _)| !op.write && op.key != "x")
        {
            let back: String = command(&(op.args)(op.key, &text))
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
        // The two modules answer every extra command alike (RESP2 values).
        for pair in ops.chunks(2).filter(|p| p.len() == 2 && p[0].key == "x") {
            let replies: Vec<redis::Value> = pair
                .iter()
                .map(|op| {
                    let mut con = server_of(op).client();
                    command(&(op.args)(op.key, &text)).query(&mut con)
                })
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", pair[0].label))?;
            if replies[0] != replies[1] {
                return Err(format!(
                    "{} answers differently: {:?} vs {:?}",
                    pair[0].label, replies[0], replies[1]
                ));
            }
        }
        let pipes: Vec<redis::Pipeline> = ops
            .iter()
            .map(|op| pipeline(op, &text, depth_of(op)))
            .collect();
        let stat_cmd = |op: &Op| {
            if op.label.ends_with("SET+DEL field") {
                "JSON.DEL".to_string()
            } else {
                (op.args)(op.key, &text)[0].clone()
            }
        };
        let reset = |op: &Op| -> Result<(), String> {
            if op.key == "x" {
                let mut con = server_of(op).client();
                command(&strings(&["JSON.SET", "x", "$", &text]))
                    .query::<()>(&mut con)
                    .map_err(|e| format!("{}: reset: {e}", op.label))?;
            }
            Ok(())
        };
        for (i, op) in ops.iter().enumerate() {
            reset(op)?;
            point(
                &mut cons[i],
                &pipes[i],
                &stat_cmd(op),
                depth_of(op),
                secs.min(0.3),
            ); // warm-up
        }
        let mut res = vec![Vec::new(); ops.len()];
        for r in 0..cfg.repeat {
            for k in 0..ops.len() {
                let i = (k + r) % ops.len();
                reset(&ops[i])?;
                res[i].push(point(
                    &mut cons[i],
                    &pipes[i],
                    &stat_cmd(&ops[i]),
                    depth_of(&ops[i]),
                    secs,
                ));
            }
        }
        let med: Vec<(f64, f64, f64)> = res
            .iter()
            .map(|v| {
                (
                    median(&v.iter().map(|x| x.0).collect::<Vec<_>>()),
                    median(&v.iter().map(|x| x.1).collect::<Vec<_>>()),
                    median(&v.iter().map(|x| x.2).collect::<Vec<_>>()),
                )
            })
            .collect();
        let find = |label: &str| ops.iter().position(|op| op.label == label);
        for (i, op) in ops.iter().enumerate() {
            // JSON.SET/GET against SET/GET of the same text on the same server.
            let native = match op.label.as_str() {
                "rmkit JSON.SET" | "RedisJSON JSON.SET" => find("SET").map(|j| med[j]),
                "rmkit JSON.GET" | "RedisJSON JSON.GET" => find("GET").map(|j| med[j]),
                _ => None,
            };
            // rmkit's ratio to RedisJSON for the same operation.
            let vs_rj = op
                .label
                .strip_prefix("rmkit ")
                .and_then(|cmd| find(&format!("RedisJSON {cmd}")))
                .map(|j| (med[i].0 / med[j].0, med[j].1 / med[i].1));
            rows.push(vec![
                format!("{} B", thousands(text.len() as f64)),
                op.label.to_string(),
                depth_of(op).to_string(),
                thousands(med[i].0),
                format!("{:.2}", med[i].1),
                format!("{:.2}", med[i].2),
                native.map_or(String::new(), |n| format!("{:.2}x", med[i].1 / n.1)),
                native.map_or(String::new(), |n| format!("{:.2}x", med[i].2 / n.2)),
                vs_rj.map_or(String::new(), |(o, c)| format!("{o:.2}x / {c:.2}x")),
            ]);
            out.push(json!({
                "doc_bytes": text.len(),
                "op": op.label,
                "pipeline": depth_of(op),
                "ops_per_sec_median": med[i].0,
                "ops_per_sec": res[i].iter().map(|x| x.0).collect::<Vec<_>>(),
                "server_cpu_us_per_op_median": med[i].1,
                "usec_per_call_median": med[i].2,
                "ratio_usec_per_call_to_native": native.map(|n| med[i].2 / n.2),
                "ratio_server_cpu_to_native": native.map(|n| med[i].1 / n.1),
                "ratio_ops_to_redisjson": vs_rj.map(|r| r.0),
                "ratio_cpu_efficiency_to_redisjson": vs_rj.map(|r| r.1),
            }));
        }

        // Memory: ~16 MB of text per variant (at least 8 documents).
        let n = (16_000_000 / text.len()).max(8);
        for (op, con) in ops
            .iter()
            .zip(cons.iter_mut())
            .filter(|(op, _)| op.write && op.key != "x")
        {
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
                "server CPU µs/op",
                "usec_per_call",
                "server CPU vs SET/GET",
                "command time vs SET/GET",
                "rmkit vs RedisJSON: ops / CPU efficiency"
            ],
            &rows
        )
    );
    println!(
        "JSON.SET parses the text into the module's stored form; JSON.GET serialises it again; SET/GET\n\
         copy bytes. RedisJSON is sent `JSON.SET key $ doc`. Ratios above 1.00x favour rmkit-json.\n\
         Server CPU covers all the server does per command (reading the request, the command,\n\
         writing the reply); command time (INFO commandstats) only the command itself, which for\n\
         SET/GET is little more than keeping or referencing the argument.\n"
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
