//! `cargo rmkit` end to end, against real servers on loopback: a scaffolded crate through
//! build, its own tests, packaging two versions, install, modules and upgrade; and a 3+3 node
//! cluster with hashex through up, status, a killed master's failover, and down.
//!
//! Every build shares the workspace's target directory, so the scaffold reuses the rmkit
//! artifacts the workspace already built.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rmkit_test::{Server, q};

/// The tool under test.
const TOOL: &str = env!("CARGO_BIN_EXE_cargo-rmkit");

/// The workspace root (the rmkit checkout the scaffold depends on).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

/// The workspace's target directory, shared with every build the tests run.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => workspace().join(d),
        None => workspace().join("target"),
    }
}

/// Runs `cargo rmkit ARGS` (as cargo would: with the extra `rmkit`) in `dir` with repository
/// `repo`; returns the output whatever the exit status.
fn tool(dir: &Path, repo: &Path, args: &[&str]) -> Output {
    Command::new(TOOL)
        .arg("rmkit")
        .args(args)
        .current_dir(dir)
        .env("RMKIT_REPO", repo)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {TOOL}: {e}"))
}

/// Runs `cargo rmkit ARGS`, which must succeed; returns its stdout (and echoes both streams).
fn ok(dir: &Path, repo: &Path, args: &[&str]) -> String {
    let out = tool(dir, repo, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("$ cargo rmkit {}\n{stdout}", args.join(" "));
    assert!(
        out.status.success(),
        "cargo rmkit {} failed ({}):\n{stdout}\n{stderr}",
        args.join(" "),
        out.status
    );
    stdout
}

/// Runs `cargo rmkit ARGS`, which must fail; returns its stderr.
fn fails(dir: &Path, repo: &Path, args: &[&str]) -> String {
    let out = tool(dir, repo, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "cargo rmkit {} should fail:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Polls `cond` every 200 ms until it holds; panics naming `what` after `timeout`.
fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn new_build_test_package_install_modules_upgrade() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let root = workspace();
    let out = ok(
        tmp.path(),
        &repo,
        &["new", "counter", "--rmkit-path", root.to_str().unwrap()],
    );
    assert!(out.contains("created module crate `counter`"), "{out}");
    let krate = tmp.path().join("counter");
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "tests/module.rs",
        "README.md",
        "Cargo.lock",
    ] {
        assert!(krate.join(f).is_file(), "{f} missing");
    }
    assert!(fails(tmp.path(), &repo, &["new", "counter"]).contains("already has a Cargo.toml"));
    assert!(fails(tmp.path(), &repo, &["new", "Bad Name"]).contains("not a usable module name"));

    // build: what the module registered, from a server that loaded it.
    let out = ok(&krate, &repo, &["build"]);
    assert!(
        out.contains("module counter version 1 (loaded by "),
        "{out}"
    );
    assert!(
        out.contains("counter.bump    arity   3  write,denyoom,module,fast"),
        "{out}"
    );
    assert!(out.contains("keys 1..1 step 1"), "{out}");
    assert!(
        out.contains("rmkit: 2 commands, 0 data types and 0 configs registered"),
        "{out}"
    );

    // run: serves the module on the port until interrupted; a busy port is named.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_s = port.to_string();
    let mut serving = Command::new(TOOL)
        .args(["rmkit", "run", "--port", &port_s])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", target_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "cargo rmkit run to serve the module",
        Duration::from_secs(120),
        || {
            redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(300)))
                .and_then(|mut c| {
                    redis::cmd("counter.bump")
                        .arg("k")
                        .arg("f")
                        .query::<i64>(&mut c)
                })
                .is_ok_and(|n| n == 1)
        },
    );
    let err = fails(&krate, &repo, &["run", "--port", &port_s]);
    assert!(
        err.contains(&format!(
            "port {port} on 127.0.0.1 is in use; pass --port N"
        )),
        "{err}"
    );
    // `run` became the server: SIGINT (Ctrl-C) stops it cleanly.
    let pid = serving.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = serving.try_wait().unwrap() {
            assert!(status.success(), "the server exited with {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cargo rmkit run did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The scaffold's own tests pass as generated.
    let test = Command::new(rmkit_test::cargo())
        .arg("test")
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && text.contains("test bump_counts_and_refuses_other_types ... ok"),
        "the scaffold's cargo test failed:\n{text}\n{}",
        String::from_utf8_lossy(&test.stderr)
    );

    // package two versions side by side.
    let out = ok(&krate, &repo, &["package"]);
    assert!(
        out.contains("packaged counter@0.1.0 (module version 1"),
        "{out}"
    );
    assert!(ok(&krate, &repo, &["package"]).contains("already in"));
    let edit = |file: &str, from: &str, to: &str| {
        let path = krate.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit("Cargo.toml", "version = \"0.1.0\"", "version = \"0.2.0\"");
    edit("src/lib.rs", "version: 1 }", "version: 2 }");
    let out = ok(&krate, &repo, &["package"]);
    assert!(
        out.contains("packaged counter@0.2.0 (module version 2"),
        "{out}"
    );
    let list = ok(&krate, &repo, &["repo", "list"]);
    assert!(
        list.contains("counter          0.1.0           1"),
        "{list}"
    );
    assert!(
        list.contains("counter          0.2.0           2"),
        "{list}"
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("counter/0.1.0/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["sha256"].as_str().unwrap().len(), 64);
    let tested_with = manifest["server"]["tested_with"].as_str().unwrap();
    assert!(
        tested_with.starts_with("redis ") || tested_with.starts_with("valkey "),
        "{tested_with}"
    );
    assert_eq!(manifest["build"]["profile"], "release");

    // install 0.1.0 on a running server, then look at it.
    let server = Server::start();
    let addr = server.addr();
    let out = ok(
        &krate,
        &repo,
        &["install", "counter@0.1.0", "--server", &addr],
    );
    assert!(
        out.contains("installed counter@0.1.0 (module version 1)"),
        "{out}"
    );
    let err = fails(
        &krate,
        &repo,
        &["install", "counter@0.1.0", "--server", &addr],
    );
    assert!(
        err.contains("already loaded") && err.contains("cargo rmkit upgrade"),
        "{err}"
    );
    let mut con = server.client();
    let n: i64 = q(&mut con, &["counter.bump", "k", "f"]);
    assert_eq!(n, 1);
    let out = ok(&krate, &repo, &["modules", "--server", &addr]);
    assert!(
        out.contains("counter version 1, package counter@0.1.0"),
        "{out}"
    );
    assert!(
        out.contains("commands (2): counter.bump counter.memory"),
        "{out}"
    );
    assert!(out.contains("allocator: live "), "{out}");
    let json: serde_json::Value = serde_json::from_str(&ok(
        &krate,
        &repo,
        &["modules", "--server", &addr, "--json"],
    ))
    .unwrap();
    let m = &json["modules"][0];
    assert_eq!(m["ver"], 1);
    assert!(m["alloc"]["total_allocations"].as_i64().unwrap() > 0, "{m}");
    assert!(m["alloc"]["live_bytes"].is_i64(), "{m}");

    // While a client's last command was one of the module's, rmkit refuses the unload (Redis
    // 7.0 keeps a pointer to it); upgrade says why and what to do.
    let err = fails(
        &krate,
        &repo,
        &["upgrade", "counter@0.2.0", "--server", &addr],
    );
    assert!(
        err.contains("refused to unload counter") && err.contains("retry"),
        "{err}"
    );
    let _: String = q(&mut con, &["PING"]);

    // upgrade to 0.2.0; the data stays (a hash), the module version changes.
    let out = ok(
        &krate,
        &repo,
        &["upgrade", "counter@0.2.0", "--server", &addr],
    );
    assert!(out.contains("module version 1 -> 2"), "{out}");
    let n: i64 = q(&mut con, &["counter.bump", "k", "f"]);
    assert_eq!(n, 2);
    let out = ok(&krate, &repo, &["modules", "--server", &addr]);
    assert!(
        out.contains("counter version 2, package counter@0.2.0"),
        "{out}"
    );

    // A library changed after packaging is refused by checksum, and never reaches the server.
    let lib = repo.join("counter/0.1.0/libcounter.so");
    let mut bytes = std::fs::read(&lib).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&lib, bytes).unwrap();
    let err = fails(
        &krate,
        &repo,
        &["upgrade", "counter@0.1.0", "--server", &addr],
    );
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(ok(&krate, &repo, &["repo", "list"]).contains("REFUSED: checksum mismatch"));
    let out = ok(&krate, &repo, &["modules", "--server", &addr]);
    assert!(out.contains("counter version 2"), "{out}");
    // A version never packaged, and a module never packaged.
    let err = fails(
        &krate,
        &repo,
        &["install", "counter@9.9.9", "--server", &addr],
    );
    assert!(err.contains("stored: 0.1.0, 0.2.0"), "{err}");
    let err = fails(&krate, &repo, &["install", "nope", "--server", &addr]);
    assert!(err.contains("no module nope"), "{err}");
}

#[test]
fn a_module_that_does_not_load_is_refused_with_the_servers_log_line() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // The `dupe` fixture declares one command twice: rmkit fails its load.
    let manifest = workspace().join("Cargo.toml");
    let err = fails(
        tmp.path(),
        &repo,
        &[
            "build",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "-p",
            "dupe",
        ],
    );
    assert!(err.contains("the server refused to load"), "{err}");
    assert!(err.contains("declared twice"), "{err}");
}

#[test]
fn upgrade_of_a_module_with_a_data_type_says_what_to_do_instead() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // Two packages of the json module (it registers a data type), stored by hand.
    let lib = rmkit_test::module_path("rmkit-json");
    for version in ["0.1.0", "0.2.0"] {
        store(&repo, "json", version, &lib);
    }
    let server = Server::start();
    let addr = server.addr();
    ok(
        tmp.path(),
        &repo,
        &[
            "install",
            "json@0.1.0",
            "--server",
            &addr,
            "--config",
            "json.max-reply-bytes",
            "1000000",
        ],
    );
    let set: Vec<String> = q(
        &mut server.client(),
        &["CONFIG", "GET", "json.max-reply-bytes"],
    );
    assert_eq!(set[1], "1000000");
    let err = fails(
        tmp.path(),
        &repo,
        &["upgrade", "json@0.2.0", "--server", &addr],
    );
    assert!(err.contains("the server refused to unload json"), "{err}");
    assert!(
        err.contains("modules that register data types cannot be unloaded"),
        "{err}"
    );
    assert!(
        err.contains("restart the server with --loadmodule"),
        "{err}"
    );
    assert!(err.contains("json/0.2.0/librmkit_json.so"), "{err}");
    let out = ok(tmp.path(), &repo, &["modules", "--server", &addr]);
    assert!(out.contains("json version 1, package json@0.1.0"), "{out}");
}

#[test]
fn a_missing_server_binary_is_reported_with_how_to_install_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(TOOL)
        .args([
            "rmkit",
            "cluster",
            "up",
            "--port-base",
            &free_base(17000).to_string(),
            "--dir",
        ])
        .arg(tmp.path().join("cl"))
        .env("PATH", tmp.path())
        .env_remove("RMKIT_REDIS_SERVER")
        .env("RMKIT_REPO", tmp.path().join("repo"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("neither redis-server nor valkey-server found on PATH")
            && err.contains("sudo apt-get install -y redis-server"),
        "{err}"
    );
}

/// Stores `lib` in `repo` as NAME@VERSION by hand (a manifest with its checksum).
fn store(repo: &Path, name: &str, version: &str, lib: &Path) {
    let dir = repo.join(name).join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let file = lib.file_name().unwrap().to_str().unwrap();
    std::fs::copy(lib, dir.join(file)).unwrap();
    let sum = Command::new("sha256sum")
        .arg(dir.join(file))
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&sum.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let manifest = serde_json::json!({
        "name": name, "version": version, "module_version": 1, "file": file, "sha256": sha,
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn install_refusals_quote_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    // A library whose load fails (`dupe` declares a command twice), stored by hand: install
    // quotes the server's log line about it.
    store(&repo, "dupe", "0.1.0", &rmkit_test::module_path("dupe"));
    let server = Server::start();
    let err = fails(
        tmp.path(),
        &repo,
        &["install", "dupe", "--server", &server.addr()],
    );
    assert!(err.contains("the server refused dupe@0.1.0"), "{err}");
    assert!(err.contains("the server's log says:"), "{err}");
    assert!(err.contains("'dupe.cmd' is declared twice"), "{err}");

    // A server that forbids MODULE commands: say which option to set.
    let locked = Server::builder()
        .config("enable-module-command", "no")
        .start();
    let err = fails(
        tmp.path(),
        &repo,
        &["install", "dupe", "--server", &locked.addr()],
    );
    assert!(err.contains("--enable-module-command local"), "{err}");

    // Nothing listening: say so.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = fails(
        tmp.path(),
        &repo,
        &["modules", "--server", &format!("127.0.0.1:{port}")],
    );
    assert!(err.contains("cannot connect to 127.0.0.1:"), "{err}");
}

/// A base port P from `start` up such that P..P+6 and their bus ports P+10000.. are free now
/// (tests running at the same time pass different starts).
fn free_base(start: u16) -> u16 {
    let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
    (0..100u16)
        .map(|i| start + i * 37)
        .find(|&b| (0..6).all(|i| free(b + i) && free(b + i + 10000)))
        .expect("no free port range")
}

/// Brings the cluster down at the end, also when the test fails.
struct Down<'a> {
    /// The cluster's directory.
    dir: &'a Path,
    /// The repository.
    repo: &'a Path,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if self.dir.join("cluster.json").exists() {
            let _ = tool(
                self.dir,
                self.repo,
                &["cluster", "down", "--dir", self.dir.to_str().unwrap()],
            );
        }
    }
}

#[test]
fn cluster_up_status_failover_down() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let manifest = workspace().join("Cargo.toml");
    let out = ok(
        tmp.path(),
        &repo,
        &[
            "package",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "-p",
            "hashex",
        ],
    );
    assert!(out.contains("packaged hashex@0.1.0"), "{out}");

    let dir = tmp.path().join("cl");
    let d = dir.to_str().unwrap();
    let base = free_base(21000);
    let base_s = base.to_string();
    let _down = Down {
        dir: &dir,
        repo: &repo,
    };

    // A busy port is named, with the flag to pass.
    let blocker = TcpListener::bind((Ipv4Addr::LOCALHOST, base + 2)).unwrap();
    let err = fails(
        tmp.path(),
        &repo,
        &[
            "cluster",
            "up",
            "--module",
            "hashex",
            "--port-base",
            &base_s,
            "--dir",
            d,
        ],
    );
    assert!(
        err.contains(&format!("port {} ", base + 2)) && err.contains("--port-base"),
        "{err}"
    );
    drop(blocker);

    let out = ok(
        tmp.path(),
        &repo,
        &[
            "cluster",
            "up",
            "--masters",
            "3",
            "--replicas",
            "1",
            "--module",
            "hashex@0.1.0",
            "--port-base",
            &base_s,
            "--dir",
            d,
            "--node-timeout",
            "2000",
        ],
    );
    assert!(
        out.contains("cluster_state:ok, 16384/16384 slots served, 6 of 6 nodes up"),
        "{out}"
    );
    assert_eq!(out.matches("hashex@0.1.0 v1").count(), 6, "{out}");

    // Commands through the cluster with redis-cli -c.
    let cli = rmkit_test::tool_binary("redis-cli");
    for (key, expect) in [("a", ""), ("b", ""), ("c", ""), ("a", "1")] {
        let out = Command::new(&cli)
            .args(["-c", "-p", &base_s, "hgetset", key, "f", "1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().last().unwrap_or("").trim(), expect, "{text}");
    }

    let status = |dir: &str| -> serde_json::Value {
        serde_json::from_str(&ok(
            tmp.path(),
            &repo,
            &["cluster", "status", "--dir", dir, "--json"],
        ))
        .unwrap()
    };
    let s = status(d);
    assert_eq!(s["cluster_state"], "ok");
    assert_eq!(s["warnings"].as_array().unwrap().len(), 0, "{s}");
    let nodes = s["nodes"].as_array().unwrap().clone();
    let masters: Vec<&serde_json::Value> = nodes.iter().filter(|n| n["role"] == "master").collect();
    assert_eq!(masters.len(), 3, "{s}");
    let keys: i64 = masters.iter().map(|m| m["keys"].as_i64().unwrap()).sum();
    assert_eq!(keys, 3, "{s}");
    for n in &nodes {
        assert_eq!(n["modules"][0]["name"], "hashex", "{n}");
        assert!(n["modules"][0]["alloc_live_bytes"].is_i64(), "{n}");
    }

    // Rolling upgrade to another package of hashex (the same library, stored as 0.2.0):
    // replicas first, then each master after a failover; no key is lost.
    let v2 = repo.join("hashex/0.2.0");
    std::fs::create_dir_all(&v2).unwrap();
    std::fs::copy(
        repo.join("hashex/0.1.0/libhashex.so"),
        v2.join("libhashex.so"),
    )
    .unwrap();
    let m = std::fs::read_to_string(repo.join("hashex/0.1.0/manifest.json")).unwrap();
    std::fs::write(
        v2.join("manifest.json"),
        m.replace("\"version\": \"0.1.0\"", "\"version\": \"0.2.0\""),
    )
    .unwrap();
    let out = ok(
        tmp.path(),
        &repo,
        &["cluster", "install", "hashex@0.2.0", "--dir", d],
    );
    assert!(out.contains("rolled out hashex@0.2.0 to 6 nodes"), "{out}");
    assert_eq!(out.matches("hashex@0.2.0 v1").count(), 6, "{out}");
    let s = status(d);
    assert_eq!(s["cluster_state"], "ok", "{s}");
    let nodes = s["nodes"].as_array().unwrap().clone();
    for n in &nodes {
        let path = n["modules"][0]["path"].as_str().unwrap();
        assert!(path.ends_with("hashex/0.2.0/libhashex.so"), "{n}");
    }
    for key in ["a", "b", "c"] {
        let out = Command::new(&cli)
            .args(["-c", "-p", &base_s, "hget", key, "f"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines().last().unwrap_or("").trim(),
            "1",
            "{key}: {text}"
        );
    }
    let masters: Vec<&serde_json::Value> = nodes.iter().filter(|n| n["role"] == "master").collect();
    assert_eq!(masters.len(), 3, "{s}");

    // kill -9 a master: status reports it down, and its replica takes over.
    let victim = masters[0];
    let port = victim["port"].as_u64().unwrap();
    let pid = victim["pid"].as_u64().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let replica_port = nodes
        .iter()
        .find(|n| n["role"] == format!("replica of {port}"))
        .unwrap_or_else(|| panic!("no replica of {port}: {s}"))["port"]
        .as_u64()
        .unwrap();
    wait_for(
        "status to report the killed master down",
        Duration::from_secs(10),
        || {
            let s = status(d);
            s["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["port"] == port && n["up"] == false)
                && s["warnings"].to_string().contains("is down")
        },
    );
    wait_for(
        &format!("replica {replica_port} to take over from master {port}"),
        Duration::from_secs(30),
        || {
            let s = status(d);
            s["cluster_state"] == "ok"
                && s["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["port"] == replica_port && n["role"] == "master")
        },
    );
    // No key was lost: the killed master's keys are served by its replica.
    for key in ["a", "b", "c"] {
        let out = Command::new(&cli)
            .args(["-c", "-p", &replica_port.to_string(), "hget", key, "f"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines().last().unwrap_or("").trim(),
            "1",
            "{key}: {text}"
        );
    }
    let text = ok(tmp.path(), &repo, &["cluster", "status", "--dir", d]);
    assert!(
        text.contains("DOWN") && text.contains("5 of 6 nodes up"),
        "{text}"
    );
    let text = ok(
        tmp.path(),
        &repo,
        &[
            "cluster",
            "watch",
            "--dir",
            d,
            "--count",
            "2",
            "--interval",
            "0",
        ],
    );
    assert_eq!(text.matches("5 of 6 nodes up").count(), 2, "{text}");

    // down stops every process it started.
    let pids: Vec<String> = nodes.iter().map(|n| n["pid"].to_string()).collect();
    let out = ok(tmp.path(), &repo, &["cluster", "down", "--dir", d]);
    assert!(out.contains("6 nodes stopped"), "{out}");
    for pid in &pids {
        let alive =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
        assert!(!alive, "pid {pid} still running after cluster down");
    }
    assert!(!dir.join("cluster.json").exists());
}
