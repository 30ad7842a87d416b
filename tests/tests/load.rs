//! Load: `redis-benchmark` drives 1,000,000 module commands (HGETSET, HMGETSET, JSON.SET,
//! JSON.GET, JSON.NUMINCRBY; pipelined `-P 16` and not; 50 clients per benchmark, hashex and
//! json benchmarks running at the same time) into one server with both modules. Then: no error
//! anywhere (benchmark exit status and output, `INFO errorstats`, `total_error_replies`, failed
//! and rejected calls), every command counted exactly once in `INFO commandstats`, and every key
//! holds a value of the expected shape, with the counters summing to exactly the number of
//! increments sent. Last, the data set survives `DEBUG RELOAD` unchanged.
//!
//! Takes ~15-30 s on a 2-core machine. `RMKIT_SOAK=1` sends 5,000,000 commands instead.

use redis::{Connection, Value};
use rmkit_tests::{Server, tool_binary};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Keys per random keyspace (`-r`) of the hash and document benchmarks.
const KEYSPACE: u64 = 10_000;
/// Counter documents, all created before the benchmarks so that no increment can miss.
const COUNTERS: u64 = 1_000;
/// The document JSON.SET writes; `__rand_int__` becomes 12 digits (a string: JSON numbers may
/// not have leading zeros).
const DOC: &str = r#"{"id":"__rand_int__","n":0,"tags":["a","b"]}"#;

/// One `redis-benchmark` run.
struct Job {
    requests: u64,
    pipeline: u32,
    keyspace: u64,
    /// The command and its arguments (the first is the name counted in commandstats).
    command: &'static [&'static str],
}

fn scale() -> u64 {
    if std::env::var_os("RMKIT_SOAK").is_some_and(|v| !v.is_empty() && v != "0") {
        5
    } else {
        1
    }
}

/// Phases run one after the other; the jobs of a phase run at the same time, so the server sees
/// hashex and json commands interleaved.
fn phases(k: u64) -> Vec<Vec<Job>> {
    let job = |requests: u64, pipeline, keyspace, command| Job {
        requests: requests * k,
        pipeline,
        keyspace,
        command,
    };
    vec![
        vec![
            job(
                300_000,
                16,
                KEYSPACE,
                &["HGETSET", "h:__rand_int__", "f", "__rand_int__"],
            ),
            job(
                150_000,
                16,
                KEYSPACE,
                &["JSON.SET", "doc:__rand_int__", DOC],
            ),
        ],
        vec![
            job(
                100_000,
                16,
                KEYSPACE,
                &[
                    "HMGETSET",
                    "m:__rand_int__",
                    "a",
                    "__rand_int__",
                    "b",
                    "__rand_int__",
                ],
            ),
            job(150_000, 16, KEYSPACE, &["JSON.GET", "doc:__rand_int__"]),
            job(
                100_000,
                16,
                COUNTERS,
                &["JSON.NUMINCRBY", "cnt:__rand_int__", "$.n", "1"],
            ),
        ],
        vec![
            job(
                50_000,
                1,
                KEYSPACE,
                &["HGETSET", "h:__rand_int__", "f", "__rand_int__"],
            ),
            job(50_000, 1, KEYSPACE, &["JSON.SET", "doc:__rand_int__", DOC]),
            job(50_000, 1, KEYSPACE, &["JSON.GET", "doc:__rand_int__"]),
            job(
                50_000,
                1,
                COUNTERS,
                &["JSON.NUMINCRBY", "cnt:__rand_int__", "$.n", "1"],
            ),
        ],
    ]
}

fn spawn(server: &Server, job: &Job) -> Child {
    Command::new(tool_binary("redis-benchmark"))
        .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
        .args(["-c", "50", "-n", &job.requests.to_string()])
        .args(["-r", &job.keyspace.to_string()])
        .args(["-P", &job.pipeline.to_string(), "--csv"])
        .args(job.command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-benchmark")
}

/// Waits for a benchmark; returns its requests per second. Fails on a non-zero exit (7.0 exits
/// at the first error reply, printing it) or any error text.
fn finish(child: Child, job: &Job) -> f64 {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = job.command.join(" ");
    assert!(
        out.status.success(),
        "redis-benchmark {what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        !stderr.to_lowercase().contains("error") && !stdout.to_lowercase().contains("error"),
        "redis-benchmark {what} reported errors:\n{stdout}\n{stderr}"
    );
    // "test","rps","avg_latency_ms",...; the test name may itself hold commas and quotes (the
    // JSON document), so take the numbers from the end of the line.
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("\"test\",\"rps\""), "{stdout}");
    let row = lines
        .next()
        .unwrap_or_else(|| panic!("no CSV row: {stdout}"));
    let fields: Vec<&str> = row.rsplitn(8, ',').collect();
    assert_eq!(fields.len(), 8, "{row}");
    let name = fields[7].trim_matches('"');
    assert_eq!(name, what, "{row}");
    let rps: f64 = fields[6]
        .trim_matches('"')
        .parse()
        .unwrap_or_else(|e| panic!("rps in {row}: {e}"));
    assert!(rps > 0.0, "{row}");
    rps
}

/// `calls=N,usec=...,rejected_calls=R,failed_calls=F` of `INFO commandstats`, by command name.
fn command_stats(con: &mut Connection) -> HashMap<String, HashMap<String, u64>> {
    info(con, "commandstats")
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("cmdstat_")?.to_owned();
            let fields = v
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
                .collect();
            Some((name, fields))
        })
        .collect()
}

/// `INFO <section>` as `key: value` pairs, on this connection.
fn info(con: &mut Connection, section: &str) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn is_rand(s: &[u8]) -> bool {
    s.len() == 12 && s.iter().all(u8::is_ascii_digit)
}

fn bytes(v: &Value) -> &[u8] {
    match v {
        Value::BulkString(b) => b,
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

/// Every key, by SCAN.
fn all_keys(con: &mut Connection) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(con)
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Checks the shape of every key; returns (keys per prefix, sum of the counters).
fn check_data(con: &mut Connection) -> (HashMap<&'static str, u64>, u64) {
    let keys = all_keys(con);
    let mut per_prefix: HashMap<&'static str, u64> = HashMap::new();
    let mut counted = 0u64;
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("TYPE").arg(key);
            match key.split(|&b| b == b':').next() {
                Some(b"h" | b"m") => pipe.cmd("HGETALL").arg(key),
                _ => pipe.cmd("JSON.GET").arg(key),
            };
        }
        let replies: Vec<Value> = pipe.query(con).unwrap();
        for (key, pair) in chunk.iter().zip(replies.chunks(2)) {
            let name = String::from_utf8_lossy(key);
            let (prefix, rand) = name.split_once(':').unwrap_or_else(|| panic!("key {name}"));
            assert!(is_rand(rand.as_bytes()), "key {name}");
            let kind = match &pair[0] {
                Value::SimpleString(s) => s.clone(),
                other => panic!("TYPE {name}: {other:?}"),
            };
            let prefix: &'static str = match prefix {
                "h" | "m" => {
                    assert_eq!(kind, "hash", "{name}");
                    let Value::Array(fields) = &pair[1] else {
                        panic!("HGETALL {name}: {:?}", pair[1])
                    };
                    let mut fields: Vec<(&[u8], &[u8])> = fields
                        .chunks(2)
                        .map(|fv| (bytes(&fv[0]), bytes(&fv[1])))
                        .collect();
                    fields.sort();
                    let names: Vec<&[u8]> = fields.iter().map(|(f, _)| *f).collect();
                    let expected: &[&[u8]] = if prefix == "h" {
                        &[b"f"]
                    } else {
                        &[b"a", b"b"]
                    };
                    assert_eq!(names, expected, "fields of {name}");
                    assert!(fields.iter().all(|(_, v)| is_rand(v)), "{name}: {fields:?}");
                    if prefix == "h" { "h" } else { "m" }
                }
                "doc" => {
                    assert_eq!(kind, "rmkitjson", "{name}");
                    let text = String::from_utf8_lossy(bytes(&pair[1])).into_owned();
                    let id = text
                        .strip_prefix(r#"{"id":""#)
                        .and_then(|t| t.strip_suffix(r#"","n":0,"tags":["a","b"]}"#))
                        .unwrap_or_else(|| panic!("{name}: {text}"));
                    assert!(is_rand(id.as_bytes()), "{name}: {text}");
                    "doc"
                }
                "cnt" => {
                    assert_eq!(kind, "rmkitjson", "{name}");
                    let text = String::from_utf8_lossy(bytes(&pair[1])).into_owned();
                    let n: u64 = text
                        .strip_prefix(r#"{"n":"#)
                        .and_then(|t| t.strip_suffix('}'))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("{name}: {text}"));
                    counted += n;
                    "cnt"
                }
                other => panic!("unexpected key {name} (prefix {other})"),
            };
            *per_prefix.entry(prefix).or_default() += 1;
        }
    }
    (per_prefix, counted)
}

#[test]
fn a_million_module_commands_from_redis_benchmark_without_an_error_or_a_lost_write() {
    let started = Instant::now();
    let server = Server::builder()
        .module("hashex")
        .module("rmkit-json")
        .config("slowlog-log-slower-than", "-1")
        .start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..COUNTERS {
        pipe.cmd("JSON.SET")
            .arg(format!("cnt:{i:012}"))
            .arg(r#"{"n":0}"#)
            .ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();

    let k = scale();
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut sent = 0u64;
    let bench = Instant::now();
    for phase in phases(k) {
        let children: Vec<Child> = phase.iter().map(|job| spawn(&server, job)).collect();
        for (child, job) in children.into_iter().zip(&phase) {
            let rps = finish(child, job);
            eprintln!(
                "  {:>9} x {:<60} -P {:<2} {rps:>9.0} req/s",
                job.requests,
                job.command.join(" "),
                job.pipeline
            );
            *expected.entry(job.command[0].to_lowercase()).or_default() += job.requests;
            sent += job.requests;
        }
    }
    let bench = bench.elapsed();

    // No error anywhere.
    // (Read on the connection opened before CONFIG RESETSTAT: each new redis-rs connection
    // sends CLIENT SETINFO, which a 7.0 server answers with two errors.)
    let errorstats = info(&mut con, "errorstats");
    assert!(
        errorstats.is_empty(),
        "INFO errorstats: {errorstats:?}, commandstats: {:?}",
        info(&mut con, "commandstats")
    );
    let stats = info(&mut con, "stats");
    assert_eq!(
        stats.get("total_error_replies").map(String::as_str),
        Some("0"),
        "{stats:?}"
    );
    // Every command ran exactly as often as it was sent, none rejected or failed.
    let cmdstats = command_stats(&mut con);
    for (command, &n) in &expected {
        let s = cmdstats
            .get(command)
            .unwrap_or_else(|| panic!("{command} missing from commandstats: {cmdstats:?}"));
        assert_eq!(s.get("calls"), Some(&n), "{command}: {s:?}");
        assert_eq!(s.get("failed_calls"), Some(&0), "{command}: {s:?}");
        assert_eq!(s.get("rejected_calls"), Some(&0), "{command}: {s:?}");
    }

    // Every key has the expected shape; increments add up exactly.
    let (per_prefix, counted) = check_data(&mut con);
    let increments = expected["json.numincrby"];
    assert_eq!(
        counted, increments,
        "sum of the counters vs JSON.NUMINCRBY sent"
    );
    assert_eq!(per_prefix.get("cnt"), Some(&COUNTERS));
    for prefix in ["h", "m", "doc"] {
        let n = per_prefix.get(prefix).copied().unwrap_or(0);
        assert!(n > 0 && n <= KEYSPACE, "{prefix}: {n} keys");
    }
    // And it all survives an RDB round trip unchanged.
    let digest =
        |c: &mut Connection| -> String { redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap() };
    let before = digest(&mut con);
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut con).unwrap();
    assert_eq!(digest(&mut con), before, "after DEBUG RELOAD");

    eprintln!(
        "load: {sent} module commands by redis-benchmark in {:.1} s ({:.0}/s), 0 errors; keys \
         h:{} m:{} doc:{} cnt:{} (sum of counters {counted} = increments sent); total {:.1} s",
        bench.as_secs_f64(),
        sent as f64 / bench.as_secs_f64(),
        per_prefix["h"],
        per_prefix["m"],
        per_prefix["doc"],
        per_prefix["cnt"],
        started.elapsed().as_secs_f64()
    );
    assert!(sent >= 1_000_000);
}
