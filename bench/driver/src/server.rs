//! A `redis-server` on a free loopback port, with chosen modules and config, killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
    dir: PathBuf,
    pub name: String,
}

impl Server {
    /// Starts `redis-server` with `modules` loaded and `config` (`name value` pairs); waits until
    /// it answers PING. Persistence is off and the working directory is a fresh temporary one (so
    /// no stray dump.rdb is ever loaded).
    pub fn start(name: &str, modules: &[&Path], config: &[(&str, &str)]) -> Result<Server, String> {
        for m in modules {
            if !m.exists() {
                return Err(format!("module {} not found (was it built?)", m.display()));
            }
        }
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("rmkit-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"));
        for m in modules {
            cmd.arg("--loadmodule").arg(m);
        }
        for (k, v) in config {
            cmd.arg(format!("--{k}")).arg(v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run redis-server ({e}); run scripts/setup.sh"))?;
        let mut server = Server {
            port,
            child,
            dir,
            name: name.to_string(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "redis-server for {name} exited ({status}); its log:\n{}",
                    server.log()
                ));
            }
            if let Ok(mut con) = server.try_client()
                && redis::cmd("PING").query::<String>(&mut con).is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server for {name} did not answer:\n{}",
                    server.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_client(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?
            .get_connection_with_timeout(Duration::from_secs(1))
    }

    /// A new connection (panics with the server log if it cannot connect).
    pub fn client(&self) -> redis::Connection {
        let con = self
            .try_client()
            .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", self.name, self.log()));
        con.set_read_timeout(Some(Duration::from_secs(600))).ok();
        con
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A field of `INFO <section>` as a number.
pub fn info_f64(con: &mut redis::Connection, section: &str, field: &str) -> f64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// Server CPU seconds (user + sys) so far: the main thread's where the server reports it.
pub fn cpu_seconds(con: &mut redis::Connection) -> f64 {
    let info: String = redis::cmd("INFO").arg("cpu").query(con).expect("INFO cpu");
    let get = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix(':')))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    match (
        get("used_cpu_user_main_thread"),
        get("used_cpu_sys_main_thread"),
    ) {
        (Some(u), Some(s)) => u + s,
        _ => get("used_cpu_user").unwrap_or(0.0) + get("used_cpu_sys").unwrap_or(0.0),
    }
}
