//! HGETSET throughput: hashex vs the C module, Lua (EVALSHA), native HSET and the redis-module
//! peer, all loaded into one server and driven by redis-benchmark.

use crate::server::{Server, cpu_seconds};
use crate::stats::{median, table, thousands};
use crate::{Config, Libs};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Instant;

const LUA: &str = "local old = redis.call('HGET', KEYS[1], ARGV[1]); \
                   redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); return old";
const KEYSPACE: u32 = 100_000;
const CLIENTS: u32 = 50;
const PIPELINES: [u32; 2] = [16, 1];

struct Variant {
    name: &'static str,
    command: &'static str,
    /// The arguments after the command name.
    args: Vec<String>,
}

fn key_args() -> Vec<String> {
    ["h:__rand_int__", "field", "v:__rand_int__"]
        .map(String::from)
        .to_vec()
}

/// One redis-benchmark point.
#[derive(Clone, Copy, Default)]
pub(crate) struct Point {
    pub(crate) rps: f64,
    pub(crate) avg: f64,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    /// Server main-thread CPU microseconds per operation.
    pub(crate) cpu_us: f64,
    /// Server CPU busy fraction during the point (1.0 = the server was the bottleneck).
    pub(crate) busy: f64,
    /// Microseconds per call of the command itself, as Redis times it (INFO commandstats): the
    /// implementation's cost without networking, parsing and batching effects.
    pub(crate) us_per_call: f64,
    pub(crate) n: u64,
    pub(crate) secs: f64,
}

/// (calls, usec) of `command` in INFO commandstats.
fn command_stats(con: &mut redis::Connection, command: &str) -> (f64, f64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(con)
        .expect("INFO commandstats");
    let prefix = format!("cmdstat_{}:", command.to_ascii_lowercase());
    let Some(line) = info.lines().find_map(|l| l.strip_prefix(prefix.as_str())) else {
        return (0.0, 0.0);
    };
    let field = |name: &str| {
        line.split(',')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (field("calls"), field("usec"))
}

pub(crate) fn bench(
    port: u16,
    pipeline: u32,
    n: u64,
    cmd: &[String],
    con: &mut redis::Connection,
) -> Point {
    let stats0 = command_stats(con, &cmd[0]);
    let cpu0 = cpu_seconds(con);
    let t0 = Instant::now();
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &CLIENTS.to_string(), "-P", &pipeline.to_string()])
        .args(["-n", &n.to_string(), "-r", &KEYSPACE.to_string(), "--csv"])
        .args(cmd)
        .output()
        .expect("redis-benchmark (apt install redis-tools; see scripts/setup.sh)");
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(con) - cpu0;
    let stats1 = command_stats(con, &cmd[0]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| !l.starts_with("\"test\"") && l.contains(','))
        .unwrap_or_else(|| {
            panic!(
                "redis-benchmark {cmd:?} printed no result: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // "test","rps","avg","min","p50","p95","p99","max" — the test name may contain commas.
    let cells: Vec<f64> = row
        .rsplitn(8, ',')
        .take(7)
        .map(|c| c.trim_matches('"').parse().unwrap_or(f64::NAN))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Point {
        rps: cells[0],
        avg: cells[1],
        p50: cells[3],
        p95: cells[4],
        p99: cells[5],
        max: cells[6],
        cpu_us: cpu / n as f64 * 1e6,
        busy: cpu / secs,
        us_per_call: (stats1.1 - stats0.1) / (stats1.0 - stats0.0).max(1.0),
        n,
        secs,
    }
}

fn check(con: &mut redis::Connection, variants: &[Variant]) {
    for v in variants.iter().filter(|v| v.command != "HSET") {
        let key = format!("check:{}", v.name);
        let run = |con: &mut redis::Connection, val: &str| -> Option<String> {
            let mut c = redis::cmd(v.command);
            for a in &v.args[..v.args.len() - 3] {
                c.arg(a);
            }
            c.arg(&key).arg("f").arg(val).query(con).expect(v.command)
        };
        assert_eq!(run(con, "1"), None, "{}: first call replies nil", v.name);
        assert_eq!(run(con, "2").as_deref(), Some("1"), "{}: old value", v.name);
        let now: String = redis::cmd("HGET").arg(&key).arg("f").query(con).unwrap();
        assert_eq!(now, "2", "{}: value set", v.name);
    }
}

pub fn run(cfg: &Config, libs: &Libs) -> Value {
    println!(
        "\n## HGETSET throughput (redis-benchmark -c {CLIENTS} -r {KEYSPACE}, {} s points, {} repeats)\n",
        cfg.seconds, cfg.repeat
    );
    let server = Server::start("hgetset", &[&libs.hashex, &libs.cmodule, &libs.peer], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut con = server.client();
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(LUA)
        .query(&mut con)
        .unwrap();
    let with = |name, command: &'static str, pre: &[&str]| Variant {
        name,
        command,
        args: pre
            .iter()
            .map(|s| s.to_string())
            .chain(key_args())
            .collect(),
    };
    let variants = vec![
        with("hashex HGETSET", "HGETSET", &[]),
        with("C module CHGETSET", "CHGETSET", &[]),
        with("redis-module RMHGETSET", "RMHGETSET", &[]),
        with("Lua EVALSHA", "EVALSHA", &[&sha, "1"]),
        with("native HSET", "HSET", &[]),
    ];
    check(&mut con, &variants);
    let cmdline = |v: &Variant| {
        std::iter::once(v.command.to_string())
            .chain(v.args.iter().cloned())
            .collect::<Vec<_>>()
    };
    // Fill the keyspace first, so every variant measures the same thing: updating one field of
    // an existing small hash (listpack), as HGETSET usually does.
    bench(
        server.port,
        16,
        5 * KEYSPACE as u64,
        &cmdline(&variants[4]),
        &mut con,
    );
    let keys: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    println!("keyspace filled: {keys} hashes; Lua script {sha}");

    // Calibrate (and warm up): requests per point so that each lasts about `seconds`.
    let mut n = vec![[0u64; 2]; variants.len()];
    for (pi, &p) in PIPELINES.iter().enumerate() {
        for (vi, v) in variants.iter().enumerate() {
            let probe = if p > 1 { 200_000 } else { 50_000 };
            let pt = bench(server.port, p, probe, &cmdline(v), &mut con);
            n[vi][pi] = ((pt.rps * cfg.seconds) as u64).max(10_000);
        }
    }

    // Interleave: every repeat runs each variant once per pipeline, rotating the order.
    let mut points = vec![[Vec::<Point>::new(), Vec::new()]; variants.len()];
    for r in 0..cfg.repeat {
        for (pi, &p) in PIPELINES.iter().enumerate() {
            for k in 0..variants.len() {
                let vi = (k + r) % variants.len();
                let pt = bench(server.port, p, n[vi][pi], &cmdline(&variants[vi]), &mut con);
                eprintln!(
                    "  repeat {} -P {p:<2} {:<24} {:>10} ops/s  p50 {:.3} ms  p99 {:.3} ms  server {:.0}% busy, {:.2} µs/op",
                    r + 1,
                    variants[vi].name,
                    thousands(pt.rps),
                    pt.p50,
                    pt.p99,
                    pt.busy * 100.0,
                    pt.cpu_us
                );
                points[vi][pi].push(pt);
            }
        }
    }

    let med = |pts: &[Point], f: fn(&Point) -> f64| median(&pts.iter().map(f).collect::<Vec<_>>());
    let c = 1; // the C module's index
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for (pi, &p) in PIPELINES.iter().enumerate() {
        let c_rps = med(&points[c][pi], |x| x.rps);
        let c_cpu = med(&points[c][pi], |x| x.cpu_us);
        let lua_rps = med(&points[3][pi], |x| x.rps);
        let lua_cpu = med(&points[3][pi], |x| x.cpu_us);
        let c_call = med(&points[c][pi], |x| x.us_per_call);
        let lua_call = med(&points[3][pi], |x| x.us_per_call);
        for (vi, v) in variants.iter().enumerate() {
            let pts = &points[vi][pi];
            let rps = med(pts, |x| x.rps);
            let cpu = med(pts, |x| x.cpu_us);
            let call = med(pts, |x| x.us_per_call);
            let row = [
                v.name.to_string(),
                p.to_string(),
                thousands(rps),
                format!("{:.3}", med(pts, |x| x.p50)),
                format!("{:.3}", med(pts, |x| x.p99)),
                format!("{:.3}x", rps / c_rps),
                format!("{:.2}x", rps / lua_rps),
                format!("{:.3}", cpu),
                format!("{:.3}x", c_cpu / cpu),
                format!("{:.0}%", med(pts, |x| x.busy) * 100.0),
                format!("{:.3}", call),
                format!("{:.3}x", c_call / call),
                format!("{:.2}x", lua_call / call),
            ];
            rows.push(row.to_vec());
            json_rows.push(json!({
                "variant": v.name,
                "command": v.command,
                "pipeline": p,
                "ops_per_sec_median": rps,
                "ops_per_sec": pts.iter().map(|x| x.rps).collect::<Vec<_>>(),
                "p50_ms_median": med(pts, |x| x.p50),
                "p95_ms_median": med(pts, |x| x.p95),
                "p99_ms_median": med(pts, |x| x.p99),
                "avg_ms_median": med(pts, |x| x.avg),
                "max_ms_median": med(pts, |x| x.max),
                "server_cpu_us_per_op_median": cpu,
                "server_busy_median": med(pts, |x| x.busy),
                "requests_per_point": pts.first().map_or(0, |x| x.n),
                "seconds_per_point": pts.iter().map(|x| x.secs).collect::<Vec<_>>(),
                "ratio_ops_to_c": rps / c_rps,
                "ratio_ops_to_lua": rps / lua_rps,
                "ratio_cpu_efficiency_to_c": c_cpu / cpu,
                "ratio_cpu_efficiency_to_lua": lua_cpu / cpu,
                "us_per_call_median": call,
                "ratio_call_efficiency_to_c": c_call / call,
                "ratio_call_efficiency_to_lua": lua_call / call,
            }));
        }
    }
    println!(
        "{}",
        table(
            &[
                "variant",
                "-P",
                "ops/s (median)",
                "p50 ms",
                "p99 ms",
                "vs C",
                "vs Lua",
                "server µs/op",
                "CPU vs C",
                "server busy",
                "µs/call",
                "call vs C",
                "call vs Lua"
            ],
            &rows
        )
    );
    println!(
        "vs C / vs Lua: ops/s ratios (higher is faster). server µs/op: the server main thread's CPU\n\
         time per command (INFO cpu), independent of the client; CPU vs C = C's µs/op / this one's.\n\
         server busy < ~95% means redis-benchmark (one thread, same 2 cores), not the server, set the pace.\n\
         µs/call: the command's own execution time as Redis measures it (INFO commandstats usec/calls),\n\
         free of networking and of how many commands each event-loop pass batches; call vs C/Lua =\n\
         their µs/call / this one's (higher = cheaper)."
    );
    json!({
        "clients": CLIENTS,
        "keyspace": KEYSPACE,
        "seconds_per_point": cfg.seconds,
        "repeats": cfg.repeat,
        "lua": LUA,
        "commands": variants.iter().map(|v| cmdline(v).join(" ")).collect::<Vec<_>>(),
        "results": json_rows,
    })
}
