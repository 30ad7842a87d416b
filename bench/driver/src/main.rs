//! `rmkit-bench`: runs rmkit's benchmarks against real redis-servers. Normally started by
//! `bench/run.sh`, which builds everything first; see bench/README.md.
//!
//! ```text
//! rmkit-bench env                       # shell variables run.sh needs (target dir, redismodule.h dir)
//! rmkit-bench run [--quick] [--only hgetset,capped,alloc,accuracy,json] [--c-module PATH] [--rejson PATH] [--results DIR]
//! ```
//! `BENCH_SECONDS` (default 5, `--quick` 1) and `BENCH_REPEAT` (default 3, `--quick` 1) set the
//! length of each point and the number of interleaved repeats.

mod accuracy;
mod alloc;
mod capped;
mod hgetset;
mod json;
mod server;
mod stats;
mod svg;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Config {
    pub seconds: f64,
    pub repeat: usize,
    pub quick: bool,
}

/// The module libraries, all in cargo's release directory (the C one built there by run.sh).
pub struct Libs {
    pub hashex: PathBuf,
    pub capped: PathBuf,
    pub cmodule: PathBuf,
    pub peer: PathBuf,
    pub alloc_rmkit: PathBuf,
    pub alloc_system: PathBuf,
    pub memtest_rmkit: PathBuf,
    pub memtest_system: PathBuf,
    pub json: PathBuf,
    /// RedisJSON's module (`--rejson`), the yardstick of the JSON section.
    pub rejson: Option<PathBuf>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo_metadata() -> Value {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// `TARGET_DIR=...` and `REDISMODULE_H_DIR=...` (the redismodule.h the redis-module crate ships).
fn print_env() {
    let m = cargo_metadata();
    let target = m["target_directory"].as_str().expect("target_directory");
    let rm = m["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "redis-module")
        .expect("redis-module in cargo metadata");
    let dir = Path::new(rm["manifest_path"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("src/include");
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    println!("TARGET_DIR={}", q(target));
    println!("REDISMODULE_H_DIR={}", q(&dir.to_string_lossy()));
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a valid number")),
        _ => default,
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    json!({
        "redis_server": sh("redis-server", &["--version"]),
        "redis_benchmark": sh("redis-benchmark", &["--version"]),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "kernel": sh("uname", &["-sr"]),
        "rustc": sh("rustc", &["--version"]),
        "cc": sh("cc", &["--version"]).lines().next().unwrap_or("").to_string(),
        "date_utc": sh("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "loadavg_at_start": loadavg(),
        "git_commit": sh("git", &["-C", &workspace_root().to_string_lossy(), "rev-parse", "--short", "HEAD"]),
    })
}

/// `/proc/loadavg`'s 1-, 5- and 15-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn write(dir: &Path, name: &str, contents: &str) {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("wrote {}", path.display());
}

fn write_json(dir: &Path, name: &str, meta: &Value, cfg: &Config, body: Value) {
    let mut v = json!({ "machine": meta, "quick": cfg.quick });
    if let (Some(o), Value::Object(b)) = (v.as_object_mut(), body) {
        o.extend(b);
    }
    write(
        dir,
        name,
        &(serde_json::to_string_pretty(&v).unwrap() + "\n"),
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("env") => return print_env(),
        Some("run") => {}
        _ => {
            eprintln!(
                "usage: rmkit-bench env | rmkit-bench run [--quick] [--only LIST: hgetset,capped,alloc,accuracy,json] [--c-module PATH] [--rejson PATH] [--results DIR]\n(normally: bench/run.sh)"
            );
            std::process::exit(2);
        }
    }
    let mut quick = false;
    let mut only: Option<Vec<String>> = None;
    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cmodule = exe_dir.join("bench/libcbench.so");
    let mut results: Option<PathBuf> = None;
    let mut rejson: Option<PathBuf> = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--only" => {
                only = Some(
                    it.next()
                        .expect("--only LIST")
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            "--c-module" => cmodule = PathBuf::from(it.next().expect("--c-module PATH")),
            "--rejson" => rejson = Some(PathBuf::from(it.next().expect("--rejson PATH"))),
            "--results" => results = Some(PathBuf::from(it.next().expect("--results DIR"))),
            other => panic!("unknown argument {other}"),
        }
    }
    let cfg = Config {
        seconds: env_or("BENCH_SECONDS", if quick { 1.0 } else { 5.0 }),
        repeat: env_or("BENCH_REPEAT", if quick { 1 } else { 3 }).max(1),
        quick,
    };
    // Quick runs are smoke tests: they never overwrite the committed results.
    let dir = results.unwrap_or_else(|| {
        let base = workspace_root().join("bench/results");
        if quick { base.join("quick") } else { base }
    });
    std::fs::create_dir_all(&dir).unwrap();
    let lib = |name: &str| exe_dir.join(format!("lib{name}.so"));
    let libs = Libs {
        hashex: lib("hashex"),
        capped: lib("capped"),
        cmodule,
        peer: lib("rmkit_bench_peer"),
        alloc_rmkit: lib("rmkit_bench_alloc_rmkit"),
        alloc_system: lib("rmkit_bench_alloc_system"),
        memtest_rmkit: lib("memtest_rmkit"),
        memtest_system: lib("memtest_system"),
        json: lib("rmkit_json"),
        rejson,
    };
    let want = |s: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == s));
    let meta = machine();
    println!(
        "# rmkit benchmarks{}\n\n{} · {} CPUs ({}) · {} · {} · load average {}",
        if quick {
            " (quick smoke run: numbers are not meaningful)"
        } else {
            ""
        },
        meta["redis_server"].as_str().unwrap_or(""),
        meta["cpus"],
        meta["cpu_model"].as_str().unwrap_or(""),
        meta["kernel"].as_str().unwrap_or(""),
        meta["date_utc"].as_str().unwrap_or(""),
        meta["loadavg_at_start"].as_str().unwrap_or(""),
    );
    let mut targets: Vec<String> = Vec::new();

    if want("hgetset") {
        let v = hgetset::run(&cfg, &libs);
        for r in v["results"].as_array().unwrap() {
            if r["variant"] == "hashex HGETSET" {
                let f = |k: &str| r[k].as_f64().unwrap();
                let (c, l) = (f("ratio_ops_to_c"), f("ratio_ops_to_lua"));
                let (cc, cl) = (
                    f("ratio_cpu_efficiency_to_c"),
                    f("ratio_cpu_efficiency_to_lua"),
                );
                let busy = f("server_busy_median");
                // ops/s compare commands only while the server is the bottleneck.
                let ops = |ratio: f64, goal: f64| {
                    if busy >= 0.9 {
                        verdict(ratio >= goal).to_string()
                    } else {
                        format!("inconclusive: server only {:.0}% busy", busy * 100.0)
                    }
                };
                let (kc, kl) = (
                    f("ratio_call_efficiency_to_c"),
                    f("ratio_call_efficiency_to_lua"),
                );
                targets.push(format!(
                    "HGETSET -P {:<2} >= 1.00x C: per call {kc:.3}x ({}), server CPU/op {cc:.3}x ({}), ops/s {c:.3}x ({}); \
                     >= 1.5x Lua: per call {kl:.2}x ({}), server CPU/op {cl:.2}x ({}), ops/s {l:.2}x ({})",
                    r["pipeline"],
                    verdict(kc >= 1.0),
                    verdict(cc >= 1.0),
                    ops(c, 1.0),
                    verdict(kl >= 1.5),
                    verdict(cl >= 1.5),
                    ops(l, 1.5)
                ));
            }
        }
        write_json(&dir, "hgetset.json", &meta, &cfg, v);
    }
    if want("capped") {
        let v = capped::run(&cfg, &libs);
        for r in v["results"].as_array().unwrap() {
            let k = r["ratio_call_efficiency_to_c"].as_f64().unwrap();
            targets.push(format!(
                "{} >= 1.00x C per call: {k:.3}x ({})",
                r["command"].as_str().unwrap_or(""),
                verdict(k >= 1.0)
            ));
        }
        write_json(&dir, "capped.json", &meta, &cfg, v);
    }
    if want("alloc") {
        let v = alloc::run(&cfg, &libs);
        let r = &v["results"][1];
        let f = |k: &str| r[k].as_f64().unwrap();
        let (m, mw) = (f("mixed_ratio_to_raw"), f("mixed_ratio_to_raw_wall_min"));
        let (g, gw) = (
            f("grow_ratio_to_redis_module"),
            f("grow_ratio_to_redis_module_wall_min"),
        );
        targets.push(format!(
            "alloc/free (mixed) <= 1.03x raw RedisModule_Alloc: {m:.3}x CPU median ({}); {mw:.3}x wall minimum ({})",
            verdict(m <= 1.03),
            verdict(mw <= 1.03)
        ));
        targets.push(format!(
            "realloc-heavy (grow) <= 1.00x redis-module RedisAlloc: {g:.3}x CPU median ({}); {gw:.3}x wall minimum ({})",
            verdict(g <= 1.0),
            verdict(gw <= 1.0)
        ));
        write_json(&dir, "alloc.json", &meta, &cfg, v);
    }
    if want("accuracy") {
        match accuracy::run(&cfg, &libs) {
            Ok((v, rows)) => {
                let c = v["from_1mb_worst_err_vs_counted_pct"].as_f64().unwrap();
                let n = v["from_1mb_worst_err_vs_n_pct"].as_f64().unwrap();
                let p = v["from_1mb_worst_err_vs_n_pct_powers_of_two"]
                    .as_f64()
                    .unwrap();
                targets.push(format!(
                    "accounting <= 1% from 1 MB up: vs the module's count {c:.4}% ({}); vs n {n:.3}% ({}; powers of two {p:.4}%)",
                    verdict(c <= 1.0), verdict(n <= 1.0)
                ));
                write_json(&dir, "accuracy.json", &meta, &cfg, v);
                write(&dir, "accuracy.svg", &svg::accuracy(&rows));
            }
            Err(e) => println!("\naccuracy sweep skipped: {e}"),
        }
    }
    if want("json") {
        match json::run(&cfg, &libs) {
            Ok(v) => {
                targets.extend(json_targets(&v));
                write_json(&dir, "json.json", &meta, &cfg, v)
            }
            Err(e) => println!("\nJSON benchmark skipped: {e}"),
        }
    }
    let busy: f64 = loadavg()
        .split(' ')
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0.0);
    println!("\nLoad average at the end: {} (1, 5, 15 min).", loadavg());
    if busy > meta["cpus"].as_f64().unwrap_or(2.0) {
        println!(
            "Warning: the 5-minute load average exceeded the number of CPUs: something else was\n\
             running, so ops/s ratios are noisy; prefer the server CPU columns."
        );
    }
    if !targets.is_empty() {
        println!("\n## Targets\n");
        for t in &targets {
            println!("- {t}");
        }
    }
}

/// The issue's goals for the JSON module, from the JSON section's results: memory per document
/// at most half RedisJSON's, MEMORY USAGE within 5 % of Δused_memory, at least 1.2x RedisJSON's
/// ops/s on every command, and a 10 KB JSON.SET / JSON.GET at most 5x / 2.5x the command time of
/// a plain SET / GET of the same text.
fn json_targets(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mem = v["memory"].as_array().cloned().unwrap_or_default();
    let find = |doc: &Value, variant: &str| {
        mem.iter()
            .find(|m| m["doc_bytes"] == *doc && m["variant"] == variant)
            .cloned()
    };
    for m in mem.iter().filter(|m| m["variant"] == "rmkit JSON.SET") {
        let doc = &m["doc_bytes"];
        let ours = m["used_memory_per_doc"].as_f64().unwrap_or(f64::NAN);
        let truth = m["memory_usage_to_used_memory"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let mut line = format!(
            "JSON {doc} B: MEMORY USAGE within 5% of Δused_memory: {:+.1}% ({})",
            (truth - 1.0) * 100.0,
            verdict((truth - 1.0).abs() <= 0.05)
        );
        if let Some(rj) = find(doc, "RedisJSON JSON.SET") {
            let theirs = rj["used_memory_per_doc"].as_f64().unwrap_or(f64::NAN);
            let rj_truth = rj["memory_usage_to_used_memory"]
                .as_f64()
                .unwrap_or(f64::NAN);
            line += &format!(
                " [RedisJSON {:+.1}%]; memory per document <= 0.5x RedisJSON: {ours:.0} vs {theirs:.0} B = {:.2}x ({})",
                (rj_truth - 1.0) * 100.0,
                ours / theirs,
                verdict(ours <= 0.5 * theirs)
            );
        }
        out.push(line);
    }
    for r in v["results"].as_array().into_iter().flatten() {
        if let Some(x) = r["ratio_ops_to_redisjson"].as_f64() {
            out.push(format!(
                "JSON {} B {} >= 1.2x RedisJSON's ops/s: {x:.2}x ({}), server CPU efficiency {:.2}x",
                r["doc_bytes"],
                r["op"].as_str().unwrap_or("").trim_start_matches("rmkit "),
                verdict(x >= 1.2),
                r["ratio_cpu_efficiency_to_redisjson"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ));
        }
        let goal = match r["op"].as_str() {
            Some("rmkit JSON.SET") => 5.0,
            Some("rmkit JSON.GET") => 2.5,
            _ => continue,
        };
        // The server's time per command (reading the request, the command, the reply), as the
        // goal is stated; the command time alone is printed beside it.
        if r["doc_bytes"]
            .as_u64()
            .is_some_and(|b| (5_000..50_000).contains(&b))
            && let Some(x) = r["ratio_server_cpu_to_native"].as_f64()
        {
            out.push(format!(
                "JSON {} B {} server time <= {goal}x the plain string command's: {x:.2}x ({}); \
                 command time alone {:.2}x",
                r["doc_bytes"],
                r["op"].as_str().unwrap_or("").trim_start_matches("rmkit "),
                verdict(x <= goal),
                r["ratio_usec_per_call_to_native"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ));
        }
    }
    out
}
