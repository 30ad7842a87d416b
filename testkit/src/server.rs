//! Running `redis-server` child processes.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{module_path, try_server_binary};

/// How long a server may take to answer `PING` after being spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Server::wait_for_sync`] waits for a replica to finish syncing.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Server::wait_caught_up_with`] waits for a replica to apply the primary's stream.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// Interval between two checks while polling.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Read timeout of connections from [`Server::client`]: a hung server fails the test.
const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times a start is retried on another port when the chosen one was taken.
const PORT_RETRIES: usize = 3;

/// Name of the server's log file inside its directory.
const LOG_FILE: &str = "redis.log";

/// Name of the file that receives the server's stdout and stderr (errors reported before
/// the log file is opened, such as bad configuration, only appear there).
const STDIO_FILE: &str = "redis.stdio";

/// Ports handed out by this process, never handed out twice, so that servers started in
/// parallel by one test process do not race for the same port.
static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A running `redis-server` child process, listening on `127.0.0.1` with its own
/// temporary working directory.
///
/// Dropping it kills the process. If the current thread is panicking at that point, the
/// server's log is printed to stderr and its directory is kept (and its path printed).
#[derive(Debug)]
pub struct Server {
    /// The running process; `None` only between [`Server::stop`] and a restart.
    child: Option<Child>,
    /// Port the server listens on (or last listened on).
    port: u16,
    /// Owns the working directory; `None` once kept by `Drop`.
    tempdir: Option<TempDir>,
    /// The working directory's path.
    dir: PathBuf,
    /// Every argument of the command line except `--port P`.
    args: Vec<OsString>,
    /// `ulimit -v` for the process, in KiB.
    address_space_kib: Option<u64>,
    /// The server binary.
    binary: PathBuf,
}

/// Where a module to load comes from.
#[derive(Debug, Clone)]
enum ModuleSource {
    /// A cdylib package of the test's workspace, built by [`module_path()`].
    Package(String),
    /// A shared library already built.
    File(PathBuf),
}

/// Configures a [`Server`] before starting it; see [`Server::builder`].
#[derive(Debug, Default, Clone)]
#[must_use = "a ServerBuilder does nothing until `start` is called"]
pub struct ServerBuilder {
    /// Modules to load, each with its arguments.
    modules: Vec<(ModuleSource, Vec<String>)>,
    /// The server binary, if not [`server_binary()`](crate::server_binary).
    binary: Option<PathBuf>,
    /// `--key values...` options, after the harness defaults.
    config: Vec<(String, Vec<String>)>,
    /// `ulimit -v` for the process, in KiB.
    address_space_kib: Option<u64>,
}

impl ServerBuilder {
    /// Loads the module built from the workspace cdylib package `package` (e.g.
    /// `"hashex"`, `"memtest-rmkit"`), with no arguments. See [`module_path()`].
    pub fn module(self, package: &str) -> Self {
        self.module_with_args(package, &[])
    }

    /// Loads the module built from the workspace cdylib package `package`, passing it
    /// `args` (the extra items after the path in `--loadmodule <path> args...`).
    pub fn module_with_args(mut self, package: &str, args: &[&str]) -> Self {
        self.modules.push((
            ModuleSource::Package(package.to_owned()),
            args.iter().map(|&arg| arg.to_owned()).collect(),
        ));
        self
    }

    /// Loads the shared library at `path` (built by [`build_cdylib()`](crate::build_cdylib) or
    /// anything else), passing it `args`.
    pub fn module_file(mut self, path: impl Into<PathBuf>, args: &[&str]) -> Self {
        self.modules.push((
            ModuleSource::File(path.into()),
            args.iter().map(|&arg| arg.to_owned()).collect(),
        ));
        self
    }

    /// Runs `binary` (say, a `valkey-server`) instead of [`server_binary()`](crate::server_binary).
    pub fn binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Passes `--key value` on the command line. These come after the harness's own
    /// defaults, so they override them (e.g. `.config("appendonly", "yes")`). `value` is
    /// a single command-line argument.
    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.config.push((key.to_owned(), vec![value.to_owned()]));
        self
    }

    /// Limits the server's address space to `bytes` (`ulimit -v`), so that an allocation the
    /// server cannot serve fails the way it does on a host out of memory: tests of what a module
    /// does when an allocation fails, without needing a full machine.
    pub fn address_space_limit(mut self, bytes: u64) -> Self {
        self.address_space_kib = Some(bytes / 1024);
        self
    }

    /// Makes the server a replica of `primary` (`--replicaof 127.0.0.1 <port>`).
    /// Use [`Server::wait_for_sync`] to wait for the initial sync.
    pub fn replica_of(mut self, primary: &Server) -> Self {
        self.config.push((
            "replicaof".to_owned(),
            vec!["127.0.0.1".to_owned(), primary.port().to_string()],
        ));
        self
    }

    /// Builds the requested modules (see [`module_path()`]), starts the server and waits
    /// until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If the server cannot be started, exits during startup or is not ready within 10
    /// seconds; the message includes the server's log.
    pub fn start(self) -> Server {
        self.try_start()
            .unwrap_or_else(|message| panic!("{message}"))
    }

    /// [`ServerBuilder::start`] that returns what went wrong instead of panicking: the
    /// message says why and includes the server's log (for a module that refused to load, the
    /// server's own log line is in it).
    ///
    /// # Panics
    ///
    /// Only if a module package of the workspace fails to build (see [`module_path()`]).
    pub fn try_start(self) -> Result<Server, String> {
        let binary = match self.binary {
            Some(b) => b,
            None => try_server_binary()?,
        };
        let tempdir = tempfile::Builder::new()
            .prefix("rmkit-redis-")
            .tempdir()
            .map_err(|err| format!("rmkit-test: cannot create a temp dir: {err}"))?;
        let dir = tempdir.path().to_path_buf();

        let mut args: Vec<OsString> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.clone().into(),
            "--logfile".into(),
            dir.join(LOG_FILE).into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--daemonize".into(),
            "no".into(),
            "--enable-module-command".into(),
            "yes".into(),
            "--enable-debug-command".into(),
            "yes".into(),
            // Full syncs start at once instead of waiting 5 s for more replicas.
            "--repl-diskless-sync-delay".into(),
            "0".into(),
        ];
        for (source, module_args) in &self.modules {
            args.push("--loadmodule".into());
            args.push(match source {
                ModuleSource::Package(package) => module_path(package).into(),
                ModuleSource::File(path) => path.into(),
            });
            args.extend(module_args.iter().map(OsString::from));
        }
        for (key, values) in &self.config {
            args.push(format!("--{key}").into());
            args.extend(values.iter().map(OsString::from));
        }

        let mut server = Server {
            child: None,
            port: 0,
            tempdir: Some(tempdir),
            dir,
            args,
            address_space_kib: self.address_space_kib,
            binary,
        };
        // On error, dropping (not panicking) cleans up the process and the directory; the
        // message already contains the log.
        server.launch(None)?;
        Ok(server)
    }
}

impl Server {
    /// Returns a builder to configure modules and settings before starting a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Starts a server with no modules and the default configuration.
    ///
    /// # Panics
    ///
    /// As [`ServerBuilder::start`].
    pub fn start() -> Server {
        Self::builder().start()
    }

    /// The port the server listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's address, `"127.0.0.1:PORT"`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's URL for redis clients, `"redis://127.0.0.1:PORT/"`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The process id of the running server.
    ///
    /// # Panics
    ///
    /// If the server is stopped.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("redis-server (port {}) is stopped", self.port))
    }

    /// Opens a new connection to the server, with a 30 s read timeout so that a hung
    /// server fails the test instead of hanging it.
    ///
    /// # Panics
    ///
    /// If the connection fails; the message includes the server's log.
    pub fn client(&self) -> redis::Connection {
        let connect = || -> redis::RedisResult<redis::Connection> {
            let con = redis::Client::open(self.url())?.get_connection()?;
            con.set_read_timeout(Some(CLIENT_READ_TIMEOUT))?;
            Ok(con)
        };
        connect().unwrap_or_else(|err| {
            panic!(
                "cannot connect to redis-server at {}: {err}\n{}",
                self.addr(),
                self.log_report()
            )
        })
    }

    /// Runs `INFO <section>` and returns its `key:value` lines as a map (section headers
    /// and blank lines are skipped; the value is everything after the first `:`).
    ///
    /// # Panics
    ///
    /// If the connection or the command fails.
    pub fn info(&self, section: &str) -> HashMap<String, String> {
        let mut con = self.client();
        let text: String = redis::cmd("INFO")
            .arg(section)
            .query(&mut con)
            .unwrap_or_else(|err| {
                panic!(
                    "INFO {section} failed on redis-server at {}: {err}\n{}",
                    self.addr(),
                    self.log_report()
                )
            });
        parse_info(&text)
    }

    /// Returns the numeric field `field` of `INFO <section>`.
    ///
    /// # Panics
    ///
    /// If the field is missing or not an unsigned integer.
    pub fn info_u64(&self, section: &str, field: &str) -> u64 {
        let info = self.info(section);
        let Some(value) = info.get(field) else {
            let mut fields: Vec<&str> = info.keys().map(String::as_str).collect();
            fields.sort_unstable();
            panic!(
                "INFO {section} has no field `{field}` (fields: {})",
                fields.join(", ")
            );
        };
        value.parse().unwrap_or_else(|err| {
            panic!("INFO {section} field `{field}` is `{value}`, not an unsigned integer: {err}")
        })
    }

    /// The server's `used_memory`, from `INFO memory`.
    pub fn used_memory(&self) -> u64 {
        self.info_u64("memory", "used_memory")
    }

    /// "redis 7.0.15 (jemalloc-5.3.0)" or "valkey 8.1.8 (libc)": what is running, for the
    /// figures tests print.
    pub fn describe(&self) -> String {
        let server = self.info("server");
        let (name, version) = match server.get("valkey_version") {
            Some(v) => ("valkey", v.clone()),
            None => (
                "redis",
                server.get("redis_version").cloned().unwrap_or_default(),
            ),
        };
        let malloc = self
            .info("memory")
            .get("mem_allocator")
            .cloned()
            .unwrap_or_default();
        format!("{name} {version} ({malloc})")
    }

    /// The server's log so far (across restarts). Anything the process wrote to stdout
    /// or stderr (e.g. configuration errors reported before the log file is opened)
    /// follows, under a header line, if there is any.
    pub fn log(&self) -> String {
        let mut log = read_lossy(&self.dir.join(LOG_FILE));
        let stdio = read_lossy(&self.dir.join(STDIO_FILE));
        if !stdio.trim().is_empty() {
            if !log.is_empty() && !log.ends_with('\n') {
                log.push('\n');
            }
            log.push_str("----- redis-server stdout/stderr -----\n");
            log.push_str(&stdio);
        }
        log
    }

    /// The server's working directory, where its RDB and AOF files are written.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server (`SIGKILL`, so nothing is saved on the way out) and starts it
    /// again with the same command line and directory (so saved RDB/AOF files are
    /// loaded), on the same port if it is free, else on a new one. Waits until ready.
    ///
    /// # Panics
    ///
    /// If the server does not come back; the message includes the log.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        if let Err(message) = self.launch(Some(port)) {
            panic!("restarting redis-server failed: {message}");
        }
    }

    /// Kills the server (`SIGKILL`) and waits for it to exit. Does nothing if it is
    /// already stopped. [`Server::restart`] starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if the process already exited, which is fine.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Calls `cond` every 20 ms until it returns `true`.
    ///
    /// # Panics
    ///
    /// If `cond` is still `false` after `timeout`; the message names `what` and includes
    /// the server's log.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut(&Server) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} (redis-server at {})\n{}",
                    self.addr(),
                    self.log_report()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// For a replica: waits (at most 10 s) until `INFO replication` reports
    /// `master_link_status:up` and `master_sync_in_progress:0`.
    ///
    /// # Panics
    ///
    /// On timeout, with the replica's log.
    pub fn wait_for_sync(&self) {
        self.wait_for(
            "the replica to sync with its primary",
            SYNC_TIMEOUT,
            |server| {
                let info = server.info("replication");
                info.get("master_link_status").map(String::as_str) == Some("up")
                    && info.get("master_sync_in_progress").map(String::as_str) == Some("0")
            },
        );
    }

    /// For a replica: waits (at most 30 s) until it has applied everything `primary` had
    /// propagated when this was called, i.e. until its `slave_repl_offset` reaches the
    /// primary's `master_repl_offset` read first.
    ///
    /// Call it after the writes to compare have been acknowledged: they are then part of
    /// the primary's offset. (`WAIT` would do the same only on the connection that wrote: it
    /// waits for the offset of that connection's last write, and returns at once on a
    /// connection that never wrote.)
    ///
    /// # Panics
    ///
    /// On timeout, with the primary's offset and the replica's log.
    pub fn wait_caught_up_with(&self, primary: &Server) {
        let target = primary.info_u64("replication", "master_repl_offset");
        self.wait_for(
            &format!(
                "the replica to reach the primary's replication offset {target} (port {})",
                primary.port()
            ),
            CATCH_UP_TIMEOUT,
            |replica| {
                let info = replica.info("replication");
                let applied: u64 = info
                    .get("slave_repl_offset")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                applied >= target
            },
        );
    }

    /// The log under a header line naming the server, for panic messages.
    fn log_report(&self) -> String {
        format!(
            "----- redis-server log (port {}) -----\n{}",
            self.port,
            self.log()
        )
    }

    /// Spawns the server (preferring `preferred_port` if it is free) and waits until it
    /// is ready, retrying on a new port if the chosen one turns out to be taken.
    /// On error the process is stopped and the message includes the log.
    fn launch(&mut self, preferred_port: Option<u16>) -> Result<(), String> {
        let mut port = preferred_port
            .filter(|&port| port_is_free(port))
            .unwrap_or_else(free_port);
        for attempt in 0..=PORT_RETRIES {
            self.port = port;
            self.spawn()?;
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(Startup::PortTaken) if attempt < PORT_RETRIES => {
                    self.stop();
                    port = free_port();
                }
                Err(Startup::PortTaken) => {
                    self.stop();
                    return Err(format!(
                        "redis-server could not listen on a free port after {} attempts \
                         (Address already in use)\n{}",
                        PORT_RETRIES + 1,
                        self.log_report()
                    ));
                }
                Err(Startup::Failed(message)) => {
                    self.stop();
                    return Err(format!("{message}\n{}", self.log_report()));
                }
            }
        }
        unreachable!("the last attempt always returns")
    }

    /// Spawns the process on `self.port`, with stdout and stderr going to a file.
    fn spawn(&mut self) -> Result<(), String> {
        let binary = self.binary.clone();
        let stdio = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(STDIO_FILE))
            .map_err(|err| {
                format!(
                    "cannot create {STDIO_FILE} in {}: {err}",
                    self.dir.display()
                )
            })?;
        let stderr = stdio
            .try_clone()
            .map_err(|err| format!("cannot duplicate a file handle: {err}"))?;
        let mut command = match self.address_space_kib {
            None => Command::new(&binary),
            Some(kib) => {
                // The shell applies the limit, then becomes the server (same pid).
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                    .arg(&binary);
                c
            }
        };
        let child = command
            .arg("--port")
            .arg(self.port.to_string())
            .args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(stdio)
            .stderr(stderr)
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", binary.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls until the freshly spawned server answers `PING` (and is our process).
    fn wait_ready(&mut self) -> Result<(), Startup> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let child = self.child.as_mut().expect("wait_ready after spawn");
        let pid = child.id().to_string();
        let url = format!("redis://127.0.0.1:{}/", self.port);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    // Read only the log lines of this process: earlier runs (before a
                    // restart) may have logged the same error.
                    let log = read_lossy(&self.dir.join(LOG_FILE));
                    let ours = log
                        .lines()
                        .filter(|line| line.starts_with(&format!("{pid}:")))
                        .any(|line| line.contains("Address already in use"));
                    if ours {
                        return Err(Startup::PortTaken);
                    }
                    return Err(Startup::Failed(format!(
                        "redis-server exited during startup ({status})"
                    )));
                }
                Ok(None) => {}
                Err(err) => {
                    return Err(Startup::Failed(format!(
                        "cannot check the redis-server process: {err}"
                    )));
                }
            }
            match ping(&url) {
                // Another process (say, another test's server) may own the port: then
                // ours is about to exit with "Address already in use".
                Some(server_pid) if server_pid == pid => return Ok(()),
                Some(_) => return Err(Startup::PortTaken),
                None => {}
            }
            if Instant::now() >= deadline {
                return Err(Startup::Failed(format!(
                    "redis-server did not answer PING within {STARTUP_TIMEOUT:?}"
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!("{}", self.log_report());
            if let Some(tempdir) = self.tempdir.take() {
                let kept = tempdir.keep();
                eprintln!(
                    "----- redis-server dir kept for inspection: {} -----",
                    kept.display()
                );
            }
        }
    }
}

/// Why a spawned server did not become ready.
enum Startup {
    /// The port was taken by someone else: try another.
    PortTaken,
    /// Any other failure, described.
    Failed(String),
}

/// Sends `PING` to `url`; on `PONG`, returns the server's `process_id` from `INFO server`.
fn ping(url: &str) -> Option<String> {
    let client = redis::Client::open(url).ok()?;
    let mut con = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    con.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let pong: String = redis::cmd("PING").query(&mut con).ok()?;
    if pong != "PONG" {
        return None;
    }
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).ok()?;
    parse_info(&info).remove("process_id")
}

/// Parses the text of an `INFO` reply into its `key:value` pairs.
fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Reads a file as text, replacing invalid UTF-8; empty if it cannot be read.
fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Whether `port` can be bound on `127.0.0.1` right now.
fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Picks a free loopback port that this process has not handed out before.
fn free_port() -> u16 {
    let mut used = USED_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
    let used = used.get_or_insert_with(HashSet::new);
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|err| panic!("rmkit-test: cannot bind 127.0.0.1:0: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("rmkit-test: cannot read a local address: {err}"))
            .port();
        if used.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_info_skips_headers_and_blanks() {
        let info = parse_info(
            "# Memory\r\nused_memory:1024\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0\r\n",
        );
        assert_eq!(info.len(), 2);
        assert_eq!(info["used_memory"], "1024");
        assert_eq!(info["db0"], "keys=1,expires=0");
    }

    #[test]
    fn port_held_by_another_server_is_detected() {
        let other = Server::start();
        let mut server = Server::start();
        server.stop();
        server.port = other.port;
        server.spawn().unwrap();
        assert!(matches!(server.wait_ready(), Err(Startup::PortTaken)));
        server.stop();

        // Preferring a taken port ends up on another one.
        server.launch(Some(other.port)).unwrap();
        assert_ne!(server.port, other.port);
        assert_eq!(
            server.info("server")["process_id"],
            server.pid().to_string()
        );
    }

    #[test]
    fn port_held_by_a_plain_listener_is_detected() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let mut server = Server::start();
        server.stop();
        server.port = listener.local_addr().unwrap().port();
        server.spawn().unwrap();
        assert!(matches!(server.wait_ready(), Err(Startup::PortTaken)));
        assert!(server.log().contains("Address already in use"));
        server.stop();
    }
}
