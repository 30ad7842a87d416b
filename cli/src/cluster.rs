//! `cargo rmkit cluster up|status|watch|install|down`: a local Redis Cluster of real
//! `redis-server` processes, recorded in `<dir>/cluster.json` (pids, ports, modules) so that
//! the other subcommands find them.

use std::collections::BTreeSet;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::repo::{Package, resolve};
use crate::util::{
    Result, alloc_info, connect, info, is_server_process, log_excerpt, module_list, progress,
    query, thousands, wait_until,
};

/// The state file inside the cluster's directory.
const STATE: &str = "cluster.json";

/// `cargo rmkit cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start masters (and replicas) in cluster mode, form the cluster, wait for cluster_state:ok.
    Up(UpArgs),
    /// Per node: role, slots, keys, memory, modules, allocator bytes; warns about trouble.
    Status(StatusArgs),
    /// Stop every process `up` started (checked by pid).
    Down(DirArgs),
    /// Print the status every few seconds, with what changed since the last one, until Ctrl-C.
    Watch(WatchArgs),
    /// Rolling upgrade: restart every node with the new module version, replicas first, each
    /// master after failing over to its upgraded replica (no slot goes unserved).
    Install(RollArgs),
}

/// `cargo rmkit cluster watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Where the cluster lives.
    #[command(flatten)]
    pub dir: DirArgs,
    /// Seconds between two looks.
    #[arg(long, default_value_t = 2)]
    pub interval: u64,
    /// Stop after this many looks (default: until Ctrl-C).
    #[arg(long)]
    pub count: Option<u64>,
}

/// `cargo rmkit cluster install`.
#[derive(Debug, Args)]
pub struct RollArgs {
    /// Where the cluster lives.
    #[command(flatten)]
    pub dir: DirArgs,
    /// The packaged module to run everywhere, NAME@VERSION (replaces the loaded NAME; repeat
    /// for several).
    #[arg(required = true, value_name = "NAME@V")]
    pub modules: Vec<String>,
}

/// Where the cluster's state lives.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// The cluster's directory (node directories and cluster.json).
    #[arg(long, default_value = "rmkit-cluster", value_name = "D")]
    pub dir: PathBuf,
}

/// `cargo rmkit cluster up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the cluster lives.
    #[command(flatten)]
    pub dir: DirArgs,
    /// How many masters (at least 3).
    #[arg(long, default_value_t = 3)]
    pub masters: usize,
    /// Replicas per master.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// A packaged module every node loads, NAME or NAME@VERSION (repeat for several).
    #[arg(long = "module", value_name = "NAME@V")]
    pub modules: Vec<String>,
    /// The first node's port; node i listens on P+i and its cluster bus on P+i+10000.
    #[arg(long, default_value_t = 7000, value_name = "P")]
    pub port_base: u16,
    /// cluster-node-timeout in milliseconds (how long before a silent node counts as failed).
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub node_timeout: u64,
}

/// `cargo rmkit cluster status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the cluster lives.
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs a cluster subcommand.
pub fn run(command: ClusterCommand) -> Result<()> {
    match command {
        ClusterCommand::Up(a) => up(&a),
        ClusterCommand::Status(a) => status(&a.dir.dir, a.json),
        ClusterCommand::Down(a) => down(&a),
        ClusterCommand::Install(a) => roll(&a),
        ClusterCommand::Watch(a) => watch(&a),
    }
}

/// A node as recorded in the state file.
#[derive(Debug, Clone)]
struct Node {
    /// Client port on 127.0.0.1.
    port: u16,
    /// The server's pid.
    pid: u32,
    /// Its directory.
    dir: PathBuf,
}

/// Reads `<dir>/cluster.json`.
fn read_state(dir: &Path) -> Result<Vec<Node>> {
    let path = dir.join(STATE);
    let text = fs::read_to_string(&path).map_err(|e| {
        format!(
            "no cluster recorded in {} ({e}); start one with `cargo rmkit cluster up --dir {}`",
            dir.display(),
            dir.display()
        )
    })?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    Ok(v["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| Node {
            port: n["port"].as_u64().unwrap_or(0) as u16,
            pid: n["pid"].as_u64().unwrap_or(0) as u32,
            dir: PathBuf::from(n["dir"].as_str().unwrap_or("")),
        })
        .collect())
}

/// The module specs (`NAME@VERSION`) and node timeout recorded in `<dir>/cluster.json`.
fn read_setup(dir: &Path) -> Result<(Vec<String>, u64)> {
    let text = fs::read_to_string(dir.join(STATE)).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let modules = v["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{}@{}",
                m["name"].as_str().unwrap_or(""),
                m["version"].as_str().unwrap_or("")
            )
        })
        .collect();
    Ok((modules, v["node_timeout"].as_u64().unwrap_or(5000)))
}

/// Writes `<dir>/cluster.json`.
fn write_state(dir: &Path, nodes: &[Node], modules: &[Package], node_timeout: u64) -> Result<()> {
    let v = json!({
        "node_timeout": node_timeout,
        "nodes": nodes.iter().map(|n| json!({
            "port": n.port, "pid": n.pid, "dir": n.dir.display().to_string(),
        })).collect::<Vec<_>>(),
        "modules": modules.iter().map(|m| json!({
            "name": m.name, "version": m.version, "lib": m.lib.display().to_string(),
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())? + "\n";
    fs::write(dir.join(STATE), text)
        .map_err(|e| format!("cannot write {}: {e}", dir.join(STATE).display()))
}

/// Whether `port` can be bound on 127.0.0.1 now.
fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Starts one daemonized node and returns it once it answers PING.
/// `fresh`: clear the node's directory first (a restart keeps it: `nodes.conf` holds the node's
/// identity in the cluster).
fn start_node(
    binary: &Path,
    dir: &Path,
    port: u16,
    node_timeout: u64,
    modules: &[Package],
    fresh: bool,
) -> Result<Node> {
    let node_dir = dir.join(port.to_string());
    if fresh && node_dir.exists() {
        fs::remove_dir_all(&node_dir)
            .map_err(|e| format!("cannot clear {}: {e}", node_dir.display()))?;
    }
    fs::create_dir_all(&node_dir)
        .map_err(|e| format!("cannot create {}: {e}", node_dir.display()))?;
    let node_dir = node_dir.canonicalize().map_err(|e| e.to_string())?;
    let pidfile = node_dir.join("redis.pid");
    let mut cmd = Command::new(binary);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
        ])
        .args(["--cluster-node-timeout", &node_timeout.to_string()])
        .args(["--daemonize", "yes", "--save", "", "--appendonly", "no"])
        .args(["--enable-module-command", "local"])
        // Replicas sync at once (not after 5 s): a replica that never synced cannot fail over.
        .args(["--repl-diskless-sync-delay", "0"])
        .arg("--dir")
        .arg(&node_dir)
        .arg("--logfile")
        .arg(node_dir.join("redis.log"))
        .arg("--pidfile")
        .arg(&pidfile);
    for m in modules {
        cmd.arg("--loadmodule").arg(&m.lib);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} for port {port} exited with {}: {}{}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let addr = format!("127.0.0.1:{port}");
    let log = node_dir.join("redis.log");
    let mut pid = 0u32;
    wait_until(
        &format!("node {port} to answer PING"),
        Duration::from_secs(15),
        || {
            if let Ok(mut con) = connect(&addr)
                && let Ok(i) = info(&mut con, "server")
            {
                pid = i
                    .get("process_id")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                return Ok(None);
            }
            let recorded: Option<u32> = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse().ok());
            let text = fs::read_to_string(&log).unwrap_or_default();
            if let Some(p) = recorded
                && !is_server_process(p)
            {
                return Err(format!(
                    "the node on port {port} exited during startup; its log says:\n{}",
                    log_excerpt(&text)
                ));
            }
            if text.contains("Address already in use") {
                return Err(format!(
                    "port {port} is in use; pass --port-base with another base port"
                ));
            }
            Ok(Some("starting".into()))
        },
    )?;
    Ok(Node {
        port,
        pid,
        dir: node_dir,
    })
}

/// `cargo rmkit cluster up`.
fn up(a: &UpArgs) -> Result<()> {
    if a.masters < 3 {
        return Err("a Redis Cluster needs at least 3 masters: pass --masters 3 or more".into());
    }
    let dir = &a.dir.dir;
    if let Ok(nodes) = read_state(dir) {
        let alive: Vec<String> = nodes
            .iter()
            .filter(|n| is_server_process(n.pid))
            .map(|n| format!("{} (pid {})", n.port, n.pid))
            .collect();
        if !alive.is_empty() {
            return Err(format!(
                "a cluster recorded in {} is still running (nodes {}); stop it with \
                 `cargo rmkit cluster down --dir {}` or pass another --dir",
                dir.display(),
                alive.join(", "),
                dir.display()
            ));
        }
    }
    let binary = rmkit_test::try_server_binary()?;
    let redis_cli = rmkit_test::try_tool_binary("redis-cli")?;
    let modules: Vec<Package> = a
        .modules
        .iter()
        .map(|m| resolve(m))
        .collect::<Result<_>>()?;
    let total = a.masters * (1 + a.replicas);
    let ports: Vec<u16> = (0..total)
        .map(|i| {
            u16::try_from(a.port_base as usize + i)
                .ok()
                .filter(|p| p.checked_add(10000).is_some())
                .ok_or_else(|| {
                    format!(
                        "--port-base {} leaves no room for {total} nodes and their cluster bus \
                         ports (port + 10000 must stay below 65536)",
                        a.port_base
                    )
                })
        })
        .collect::<Result<_>>()?;
    for &p in &ports {
        for (port, what) in [(p, "client port"), (p + 10000, "cluster bus port")] {
            if !port_free(port) {
                return Err(format!(
                    "port {port} (the {what} of node {p}) is in use on 127.0.0.1; pass \
                     --port-base P for another range (node i uses P+i and P+i+10000)"
                ));
            }
        }
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut nodes = Vec::new();
    progress(&format!(
        "starting {total} nodes on ports {}-{} ({})",
        ports[0],
        ports[total - 1],
        binary.display()
    ));
    for &port in &ports {
        match start_node(&binary, dir, port, a.node_timeout, &modules, true) {
            Ok(n) => {
                nodes.push(n);
                write_state(dir, &nodes, &modules, a.node_timeout)?;
            }
            Err(e) => {
                stop_nodes(&nodes);
                let _ = fs::remove_file(dir.join(STATE));
                return Err(format!("{e}\n(stopped the nodes already started)"));
            }
        }
    }
    progress(&format!(
        "forming the cluster: redis-cli --cluster create ... --cluster-replicas {}",
        a.replicas
    ));
    let out = Command::new(&redis_cli)
        .args(["--cluster", "create"])
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
        .args([
            "--cluster-replicas",
            &a.replicas.to_string(),
            "--cluster-yes",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", redis_cli.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("[OK] All 16384 slots covered.") {
        stop_nodes(&nodes);
        let _ = fs::remove_file(dir.join(STATE));
        return Err(format!(
            "redis-cli --cluster create failed ({}); stopped the nodes:\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    wait_until(
        "cluster_state:ok on every node",
        Duration::from_secs(60),
        || {
            let mut ok = 0;
            for addr in &addrs {
                let good = connect(addr)
                    .and_then(|mut c| query::<String>(&mut c, &["CLUSTER", "INFO"]))
                    .is_ok_and(|i| {
                        i.contains("cluster_state:ok")
                            && i.contains(&format!("cluster_known_nodes:{total}\r"))
                    });
                ok += usize::from(good);
            }
            Ok((ok < total).then(|| format!("{ok}/{total} nodes ok")))
        },
    )?;
    if a.replicas > 0 {
        wait_replicas_streaming(&addrs, a.replicas)?;
    }
    println!(
        "cluster up: {} masters, {} replicas each, in {}",
        a.masters,
        a.replicas,
        dir.display()
    );
    status(dir, false)
}

/// Waits until every master streams its writes to all its replicas: each replica is `online`,
/// and a probe write (a key in the master's own slots, set then deleted) is acknowledged by
/// every replica (`WAIT`). Right after a full sync a master streams nothing until the
/// replica's first `REPLCONF ACK` (~1 s), so a write made then could be lost by a failover.
fn wait_replicas_streaming(addrs: &[String], replicas: usize) -> Result<()> {
    let masters: Vec<&String> = addrs
        .iter()
        .filter(|a| {
            connect(a)
                .and_then(|mut c| info(&mut c, "replication"))
                .is_ok_and(|r| r.get("role").map(String::as_str) == Some("master"))
        })
        .collect();
    for addr in masters {
        let mut con = connect(addr)?;
        wait_until(
            &format!("{addr}'s replicas to come online"),
            Duration::from_secs(60),
            || {
                let r = info(&mut con, "replication")?;
                let online = (0..replicas)
                    .filter(|i| {
                        r.get(&format!("slave{i}"))
                            .is_some_and(|s| s.contains("state=online"))
                    })
                    .count();
                Ok((online < replicas).then(|| format!("{online}/{replicas} online")))
            },
        )?;
        // A key this master serves: its own slot range from CLUSTER NODES.
        let nodes: String = query(&mut con, &["CLUSTER", "NODES"])?;
        let range: (i64, i64) = nodes
            .lines()
            .find(|l| l.contains("myself"))
            .and_then(|l| l.split(' ').nth(8))
            .and_then(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .ok_or_else(|| format!("{addr} serves no slots"))?;
        let key = (0..100_000)
            .map(|i| format!("rmkit:probe:{i}"))
            .find(|k| {
                query::<i64>(&mut con, &["CLUSTER", "KEYSLOT", k])
                    .is_ok_and(|s| (range.0..=range.1).contains(&s))
            })
            .ok_or("no probe key found")?;
        let mut acked = 0;
        wait_until(
            &format!("{addr}'s replicas to acknowledge a write"),
            Duration::from_secs(30),
            || {
                query::<()>(&mut con, &["SET", &key, "1"])?;
                query::<i64>(&mut con, &["DEL", &key])?;
                acked = query(&mut con, &["WAIT", &replicas.to_string(), "1000"])?;
                Ok((acked < replicas as i64).then(|| format!("{acked}/{replicas} acknowledged")))
            },
        )?;
    }
    Ok(())
}

/// What one node reports.
fn node_report(node: &Node) -> Value {
    let addr = format!("127.0.0.1:{}", node.port);
    let alive = is_server_process(node.pid);
    let Ok(mut con) = connect(&addr) else {
        return json!({
            "port": node.port, "pid": node.pid, "up": false, "process_alive": alive,
        });
    };
    let repl = info(&mut con, "replication").unwrap_or_default();
    let role = match repl.get("role").map(String::as_str) {
        Some("slave") => format!(
            "replica of {}",
            repl.get("master_port").map(String::as_str).unwrap_or("?")
        ),
        Some(r) => r.to_owned(),
        None => "?".into(),
    };
    let nodes_text: String = query(&mut con, &["CLUSTER", "NODES"]).unwrap_or_default();
    let slots: Vec<String> = nodes_text
        .lines()
        .find(|l| l.contains("myself"))
        .map(|l| l.split(' ').skip(8).map(str::to_owned).collect())
        .unwrap_or_default();
    let keys: i64 = query(&mut con, &["DBSIZE"]).unwrap_or(0);
    let used_memory: i64 = info(&mut con, "memory")
        .ok()
        .and_then(|m| m.get("used_memory").and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let modules: Vec<Value> = module_list(&mut con)
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let live = alloc_info(&mut con, &m.name)
                .ok()
                .and_then(|a| a.get("live_bytes").copied());
            json!({ "name": m.name, "ver": m.ver, "path": m.path, "alloc_live_bytes": live })
        })
        .collect();
    let cluster: String = query(&mut con, &["CLUSTER", "INFO"]).unwrap_or_default();
    let field = |k: &str| -> Value {
        cluster
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|v| Value::from(v.trim()))
            .unwrap_or(Value::Null)
    };
    json!({
        "port": node.port, "pid": node.pid, "up": true, "process_alive": alive,
        "role": role, "slots": slots, "keys": keys, "used_memory": used_memory,
        "modules": modules, "cluster_state": field("cluster_state"),
        "cluster_slots_ok": field("cluster_slots_ok"),
        "nodes_view": nodes_text,
    })
}

/// `cargo rmkit cluster status`.
fn status(dir: &Path, as_json: bool) -> Result<()> {
    let nodes = read_state(dir)?;
    let reports: Vec<Value> = nodes.iter().map(node_report).collect();
    let mut warnings = Vec::new();
    for r in reports.iter().filter(|r| r["up"] == false) {
        let why = if r["process_alive"] == true {
            "the process runs but does not answer"
        } else {
            "its process is gone"
        };
        warnings.push(format!(
            "node {} (pid {}) is down: {why}",
            r["port"], r["pid"]
        ));
    }
    let up: Vec<&Value> = reports.iter().filter(|r| r["up"] == true).collect();
    // Masters the live nodes see failing that still hold slots: no replica took over (yet).
    if let Some(view) = up.first().and_then(|r| r["nodes_view"].as_str()) {
        for line in view.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() > 8 && f[2].contains("master") && f[2].contains("fail") {
                warnings.push(format!(
                    "master {} is failing and still holds slots {}: no replica has taken over yet",
                    f[1].split('@').next().unwrap_or(f[1]),
                    f[8..].join(",")
                ));
            }
        }
    }
    let module_sets: BTreeSet<String> = up
        .iter()
        .map(|r| {
            r["modules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(module_label)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    if module_sets.len() > 1 {
        warnings.push(format!(
            "nodes run different modules: {}",
            module_sets
                .iter()
                .map(|s| format!("[{s}]"))
                .collect::<Vec<_>>()
                .join(" vs ")
        ));
    }
    // The cluster is ok only when every node that answers says so: right after a failover a
    // node keeps answering CLUSTERDOWN until its own next cron.
    let node_state = |r: &&Value| r["cluster_state"].as_str().unwrap_or("?").to_owned();
    let state = match up.iter().find(|r| node_state(r) != "ok") {
        _ if up.is_empty() => "unreachable".into(),
        Some(r) => node_state(r),
        None => "ok".into(),
    };
    for r in up.iter().filter(|r| node_state(r) != "ok") {
        warnings.push(format!(
            "node {} says cluster_state:{}",
            r["port"],
            node_state(r)
        ));
    }
    let slots_ok: i64 = up
        .first()
        .and_then(|r| r["cluster_slots_ok"].as_str())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if slots_ok < 16384 {
        warnings.push(format!(
            "{} of 16384 slots are not served (cluster_slots_ok:{slots_ok})",
            16384 - slots_ok
        ));
    }
    if state != "ok" {
        warnings.push(format!("cluster_state is {state}"));
    }
    if as_json {
        let nodes: Vec<Value> = reports
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if let Some(o) = r.as_object_mut() {
                    o.remove("nodes_view");
                }
                r
            })
            .collect();
        let v = json!({
            "dir": dir.display().to_string(), "cluster_state": state,
            "slots_ok": slots_ok, "nodes": nodes, "warnings": warnings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!(
        "cluster in {}: cluster_state:{state}, {slots_ok}/16384 slots served, {} of {} nodes up",
        dir.display(),
        up.len(),
        reports.len()
    );
    println!(
        "  {:<6} {:<8} {:<16} {:<14} {:>6} {:>12} {:>11}  MODULES",
        "PORT", "PID", "ROLE", "SLOTS", "KEYS", "USED_MEMORY", "ALLOC_LIVE"
    );
    for r in &reports {
        if r["up"] == false {
            println!(
                "  {:<6} {:<8} DOWN",
                r["port"].to_string(),
                r["pid"].to_string()
            );
            continue;
        }
        let slots: Vec<&str> = r["slots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .collect();
        let mods = r["modules"].as_array().cloned().unwrap_or_default();
        let names: Vec<String> = mods.iter().map(module_label).collect();
        let live: i64 = mods
            .iter()
            .filter_map(|m| m["alloc_live_bytes"].as_i64())
            .sum();
        println!(
            "  {:<6} {:<8} {:<16} {:<14} {:>6} {:>12} {:>11}  {}",
            r["port"].to_string(),
            r["pid"].to_string(),
            r["role"].as_str().unwrap_or(""),
            if slots.is_empty() {
                "-".into()
            } else {
                slots.join(",")
            },
            r["keys"].to_string(),
            thousands(r["used_memory"].as_i64().unwrap_or(0)),
            thousands(live),
            if names.is_empty() {
                "-".into()
            } else {
                names.join(", ")
            }
        );
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    Ok(())
}

/// Stops nodes: `SHUTDOWN NOSAVE`, then SIGKILL for any still running after 10 s. Returns
/// the pids still alive after that (none, normally).
fn stop_nodes(nodes: &[Node]) -> Vec<u32> {
    for n in nodes.iter().filter(|n| is_server_process(n.pid)) {
        if let Ok(mut con) = connect(&format!("127.0.0.1:{}", n.port)) {
            // The server closes the connection instead of replying.
            let _ = query::<()>(&mut con, &["SHUTDOWN", "NOSAVE"]);
        }
    }
    let gone = wait_until("the nodes to exit", Duration::from_secs(10), || {
        let alive = nodes.iter().filter(|n| is_server_process(n.pid)).count();
        Ok((alive > 0).then(|| format!("{alive} still running")))
    });
    if gone.is_err() {
        for n in nodes.iter().filter(|n| is_server_process(n.pid)) {
            let _ = Command::new("kill")
                .args(["-9", &n.pid.to_string()])
                .status();
        }
        let _ = wait_until("the nodes to die", Duration::from_secs(5), || {
            let alive = nodes.iter().filter(|n| is_server_process(n.pid)).count();
            Ok((alive > 0).then(|| format!("{alive} still running")))
        });
    }
    nodes
        .iter()
        .filter(|n| is_server_process(n.pid))
        .map(|n| n.pid)
        .collect()
}

/// `cargo rmkit cluster down`.
fn down(a: &DirArgs) -> Result<()> {
    let nodes = read_state(&a.dir)?;
    let running = nodes.iter().filter(|n| is_server_process(n.pid)).count();
    progress(&format!("stopping {running} running nodes"));
    let left = stop_nodes(&nodes);
    if !left.is_empty() {
        return Err(format!(
            "processes {left:?} are still running after SHUTDOWN and SIGKILL"
        ));
    }
    fs::remove_file(a.dir.join(STATE))
        .map_err(|e| format!("cannot remove {}: {e}", a.dir.join(STATE).display()))?;
    let pids: Vec<String> = nodes.iter().map(|n| n.pid.to_string()).collect();
    println!(
        "cluster down: {} nodes stopped (pids {}), none left running; logs kept in {}/PORT/redis.log",
        nodes.len(),
        pids.join(" "),
        a.dir.display()
    );
    Ok(())
}

/// `INFO replication` of the node on `port`.
fn replication(port: u16) -> Result<std::collections::BTreeMap<String, String>> {
    connect(&format!("127.0.0.1:{port}")).and_then(|mut c| info(&mut c, "replication"))
}

/// Waits until the node on `port` is a replica in sync with its master.
fn wait_synced(port: u16) -> Result<()> {
    wait_until(
        &format!("node {port} to sync with its master"),
        Duration::from_secs(60),
        || {
            let r = replication(port).unwrap_or_default();
            let synced = r.get("role").map(String::as_str) == Some("slave")
                && r.get("master_link_status").map(String::as_str) == Some("up")
                && r.get("master_sync_in_progress").map(String::as_str) == Some("0");
            Ok((!synced).then(|| "syncing".to_owned()))
        },
    )
}

/// Waits until every node has a connected bus link to every other and sees none failing.
fn wait_links(nodes: &[Node]) -> Result<()> {
    wait_until(
        "every node's cluster bus links",
        Duration::from_secs(60),
        || {
            let mut bad = 0;
            for n in nodes {
                let view: String = connect(&format!("127.0.0.1:{}", n.port))
                    .and_then(|mut c| query(&mut c, &["CLUSTER", "NODES"]))
                    .unwrap_or_default();
                let lines: Vec<&str> = view.lines().collect();
                let good = lines.len() == nodes.len()
                    && lines.iter().all(|l| {
                        let f: Vec<&str> = l.split(' ').collect();
                        f.len() > 7 && !f[2].contains("fail") && f[7] == "connected"
                    });
                bad += usize::from(!good);
            }
            Ok((bad > 0).then(|| format!("{bad} nodes still reconnecting")))
        },
    )
}

/// Stops the node (SHUTDOWN NOSAVE, checked by pid) and starts it again in its directory with
/// `modules`; returns the new node.
fn restart(
    binary: &Path,
    dir: &Path,
    node: &Node,
    timeout: u64,
    modules: &[Package],
) -> Result<Node> {
    let left = stop_nodes(std::slice::from_ref(node));
    if !left.is_empty() {
        return Err(format!(
            "node {} (pid {}) did not stop",
            node.port, node.pid
        ));
    }
    start_node(binary, dir, node.port, timeout, modules, false)
}

/// `cargo rmkit cluster install`: the rolling upgrade.
fn roll(a: &RollArgs) -> Result<()> {
    let dir = &a.dir.dir;
    let mut nodes = read_state(dir)?;
    let (old_specs, timeout) = read_setup(dir)?;
    // The new module set: the old one with each named module replaced, new ones appended.
    let mut specs = old_specs.clone();
    for m in &a.modules {
        let name = m.split('@').next().unwrap_or(m);
        match specs.iter_mut().find(|s| s.split('@').next() == Some(name)) {
            Some(s) => *s = m.clone(),
            None => specs.push(m.clone()),
        }
    }
    let modules: Vec<Package> = specs.iter().map(|s| resolve(s)).collect::<Result<_>>()?;
    let binary = rmkit_test::try_server_binary()?;
    let mut roles = Vec::new();
    for n in &nodes {
        let r = replication(n.port).map_err(|e| {
            format!(
                "node {} is not answering ({e}); fix it before a rolling upgrade",
                n.port
            )
        })?;
        roles.push(r);
    }
    let is_master = |r: &std::collections::BTreeMap<String, String>| {
        r.get("role").map(String::as_str) == Some("master")
    };
    // Masters without a replica would lose their keys (nodes keep no RDB/AOF).
    for (n, r) in nodes.iter().zip(&roles) {
        if is_master(r) && r.get("connected_slaves").map(String::as_str) == Some("0") {
            return Err(format!(
                "master {} has no replica: restarting it would lose its keys and leave its \
                 slots unserved; run the cluster with --replicas 1 or more",
                n.port
            ));
        }
    }
    progress(&format!(
        "rolling {} over {} nodes, replicas first",
        specs.join(" "),
        nodes.len()
    ));
    // 1. Replicas.
    for i in 0..nodes.len() {
        if is_master(&roles[i]) {
            continue;
        }
        progress(&format!(
            "restarting replica {} with the new modules",
            nodes[i].port
        ));
        nodes[i] = restart(&binary, dir, &nodes[i], timeout, &modules)?;
        write_state(dir, &nodes, &modules, timeout)?;
        wait_synced(nodes[i].port)?;
    }
    // 2. Each master: fail over to one of its (upgraded) replicas, then restart it as a replica.
    for i in 0..nodes.len() {
        if !is_master(&roles[i]) {
            continue;
        }
        let port = nodes[i].port;
        let replica = nodes
            .iter()
            .map(|n| n.port)
            .find(|&p| {
                replication(p).is_ok_and(|r| {
                    r.get("master_port").map(String::as_str) == Some(&port.to_string())
                })
            })
            .ok_or_else(|| format!("master {port} has no replica now; stopping the upgrade"))?;
        // The masters answer the vote over their bus links to the replica: those must be up
        // again after its restart, or the election goes unanswered.
        wait_links(&nodes)?;
        progress(&format!(
            "failing master {port} over to its replica {replica}"
        ));
        let mut con = connect(&format!("127.0.0.1:{replica}"))?;
        let mut asked = std::time::Instant::now();
        query::<()>(&mut con, &["CLUSTER", "FAILOVER"])?;
        wait_until(
            &format!("replica {replica} to take over from {port}"),
            Duration::from_secs(60),
            || {
                let new_master = replication(replica).is_ok_and(|r| is_master(&r));
                let old_replica = replication(port)
                    .is_ok_and(|r| r.get("role").map(String::as_str) == Some("slave"));
                if new_master && old_replica {
                    return Ok(None);
                }
                // A manual failover times out after 5 s (e.g. votes lost): ask again.
                if !new_master && asked.elapsed() > Duration::from_secs(8) {
                    query::<()>(&mut con, &["CLUSTER", "FAILOVER"])?;
                    asked = std::time::Instant::now();
                }
                Ok(Some("failing over".to_owned()))
            },
        )?;
        progress(&format!(
            "restarting {port} (now a replica) with the new modules"
        ));
        nodes[i] = restart(&binary, dir, &nodes[i], timeout, &modules)?;
        write_state(dir, &nodes, &modules, timeout)?;
        wait_synced(nodes[i].port)?;
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    wait_until(
        "cluster_state:ok on every node",
        Duration::from_secs(60),
        || {
            let ok = addrs
                .iter()
                .filter(|a| {
                    connect(a)
                        .and_then(|mut c| query::<String>(&mut c, &["CLUSTER", "INFO"]))
                        .is_ok_and(|i| i.contains("cluster_state:ok"))
                })
                .count();
            Ok((ok < addrs.len()).then(|| format!("{ok}/{} nodes ok", addrs.len())))
        },
    )?;
    println!(
        "rolled out {} to {} nodes (replicas first, masters after a failover each)",
        specs.join(" "),
        nodes.len()
    );
    status(dir, false)
}

/// One line per node that says what matters for watching: up/down, role, slots.
fn node_lines(dir: &Path) -> Result<Vec<String>> {
    Ok(read_state(dir)?
        .iter()
        .map(|n| {
            let r = node_report(n);
            if r["up"] == false {
                return format!("node {} DOWN", n.port);
            }
            let slots: Vec<&str> = r["slots"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .collect();
            format!(
                "node {} {} {}",
                n.port,
                r["role"].as_str().unwrap_or("?"),
                if slots.is_empty() {
                    "-".to_owned()
                } else {
                    slots.join(",")
                }
            )
        })
        .collect())
}

/// `cargo rmkit cluster watch`.
fn watch(a: &WatchArgs) -> Result<()> {
    let mut last: Option<Vec<String>> = None;
    let mut looks = 0;
    loop {
        status(&a.dir.dir, false)?;
        let now = node_lines(&a.dir.dir)?;
        if let Some(before) = &last {
            for line in now.iter().filter(|l| !before.contains(l)) {
                println!("changed: {line}");
            }
        }
        last = Some(now);
        looks += 1;
        if a.count.is_some_and(|c| looks >= c) {
            return Ok(());
        }
        println!();
        std::thread::sleep(Duration::from_secs(a.interval));
    }
}

/// "hashex@0.2.0 v1": the module's name, its package version when it was loaded from the
/// repository (`.../NAME/VERSION/lib.so`), and its module version.
fn module_label(m: &Value) -> String {
    let name = m["name"].as_str().unwrap_or("");
    let package = m["path"].as_str().and_then(|p| {
        let mut parts = Path::new(p).iter().rev().skip(1);
        let version = parts.next()?.to_string_lossy().into_owned();
        (parts.next()? == name).then_some(version)
    });
    match package {
        Some(v) => format!("{name}@{v} v{}", m["ver"]),
        None => format!("{name} v{}", m["ver"]),
    }
}
