//! What every subcommand shares: errors, progress lines, server connections, INFO, checksums.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use redis::Value;
use sha2::{Digest, Sha256};

/// The tool's result: the error is a message for a person, printed as `error: ...`.
pub type Result<T> = std::result::Result<T, String>;

/// Prints a progress line (stderr, so that stdout stays the command's output).
pub fn progress(message: &str) {
    eprintln!("  {message}");
}

/// A server address from `host:port`, `:port`, a bare port or a `redis://` URL.
pub fn server_url(server: &str) -> String {
    if server.starts_with("redis://") || server.starts_with("rediss://") {
        return server.to_owned();
    }
    if let Ok(port) = server.parse::<u16>() {
        return format!("redis://127.0.0.1:{port}/");
    }
    match server.strip_prefix(':') {
        Some(port) => format!("redis://127.0.0.1:{port}/"),
        None => format!("redis://{server}/"),
    }
}

/// Connects to `server` (see [`server_url`]) with 2 s connect and 30 s read timeouts.
pub fn connect(server: &str) -> Result<redis::Connection> {
    let url = server_url(server);
    let client = redis::Client::open(url.as_str()).map_err(|e| format!("{server}: {e}"))?;
    let con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(|e| {
            format!("cannot connect to {server}: {e} (is a server running there? check --server)")
        })?;
    con.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    Ok(con)
}

/// Runs a command, its error reply turned into a message naming the command.
pub fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> Result<T> {
    rmkit_test::cmd(args)
        .query(con)
        .map_err(|e| format!("{}: {}", args.join(" "), rmkit_test::err_text(e)))
}

/// `INFO <section>` as `key -> value` (empty for a section the server does not have).
pub fn info(con: &mut redis::Connection, section: &str) -> Result<BTreeMap<String, String>> {
    let text: String = query(con, &["INFO", section])?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// "redis 7.0.15" / "valkey 8.1.8" from `INFO server`.
pub fn server_name(info: &BTreeMap<String, String>) -> String {
    match info.get("valkey_version") {
        Some(v) => format!("valkey {v}"),
        None => format!(
            "redis {}",
            info.get("redis_version").map(String::as_str).unwrap_or("?")
        ),
    }
}

/// A loaded module as `MODULE LIST` reports it.
#[derive(Debug, Clone)]
pub struct LoadedModule {
    /// Its name.
    pub name: String,
    /// Its (integer) version.
    pub ver: i64,
    /// The shared library it was loaded from (Redis 7.0+).
    pub path: String,
    /// The arguments it was loaded with.
    pub args: Vec<String>,
}

/// Text of a reply element (bulk or status string, integer).
pub fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::VerbatimString { text, .. } => text.clone(),
        other => format!("{other:?}"),
    }
}

/// The elements of an array reply (or the flattened pairs of a map reply).
pub fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a.clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

/// `MODULE LIST`.
pub fn module_list(con: &mut redis::Connection) -> Result<Vec<LoadedModule>> {
    let reply: Value = query(con, &["MODULE", "LIST"])?;
    Ok(items(&reply)
        .iter()
        .map(|m| {
            let kv = items(m);
            let mut module = LoadedModule {
                name: String::new(),
                ver: 0,
                path: String::new(),
                args: Vec::new(),
            };
            for pair in kv.chunks(2) {
                let [k, v] = pair else { continue };
                match text(k).as_str() {
                    "name" => module.name = text(v),
                    "ver" => module.ver = text(v).parse().unwrap_or(0),
                    "path" => module.path = text(v),
                    "args" => module.args = items(v).iter().map(text).collect(),
                    _ => {}
                }
            }
            module
        })
        .collect())
}

/// A command as `COMMAND INFO` reports it.
#[derive(Debug, Clone)]
pub struct CommandInfo {
    /// Its name (lower case, `parent|sub` for subcommands).
    pub name: String,
    /// Its arity (negative: at least that many).
    pub arity: i64,
    /// Its flags.
    pub flags: Vec<String>,
    /// First key, last key, step.
    pub keys: (i64, i64, i64),
}

/// The commands module `name` registered (`COMMAND LIST FILTERBY MODULE` + `COMMAND INFO`),
/// sorted by name.
pub fn module_commands(con: &mut redis::Connection, name: &str) -> Result<Vec<CommandInfo>> {
    let names: Vec<String> = query(con, &["COMMAND", "LIST", "FILTERBY", "MODULE", name])?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["COMMAND", "INFO"];
    args.extend(names.iter().map(String::as_str));
    let reply: Value = query(con, &args)?;
    let mut out: Vec<CommandInfo> = items(&reply)
        .iter()
        .filter_map(|c| {
            let f = items(c);
            let int = |i: usize| f.get(i).map(text).and_then(|t| t.parse().ok()).unwrap_or(0);
            Some(CommandInfo {
                name: f.first().map(text)?,
                arity: int(1),
                flags: f
                    .get(2)
                    .map(items)
                    .unwrap_or_default()
                    .iter()
                    .map(text)
                    .collect(),
                keys: (int(3), int(4), int(5)),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The module's configs (`CONFIG GET <name>.*`), sorted.
pub fn module_configs(con: &mut redis::Connection, name: &str) -> Result<BTreeMap<String, String>> {
    let reply: Value = query(con, &["CONFIG", "GET", &format!("{name}.*")])?;
    Ok(items(&reply)
        .chunks(2)
        .filter_map(|p| match p {
            [k, v] => Some((text(k), text(v))),
            _ => None,
        })
        .collect())
}

/// The figures of an rmkit module's `INFO <name>_alloc` section (empty for other modules).
pub fn alloc_info(con: &mut redis::Connection, name: &str) -> Result<BTreeMap<String, i64>> {
    let section = format!("{name}_alloc");
    Ok(info(con, &section)?
        .into_iter()
        .filter_map(|(k, v)| {
            let k = k.strip_prefix(&format!("{name}_")).unwrap_or(&k).to_owned();
            v.parse().ok().map(|v| (k, v))
        })
        .collect())
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Calls `check` every 100 ms until it returns `Ok(None)` (done) or `timeout` passes; it
/// returns `Ok(Some(state))` while waiting, and `state` is shown in a progress line once a
/// second. The error names `what` and the last state.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<Option<String>>,
) -> Result<()> {
    let start = Instant::now();
    let mut last_print = Instant::now();
    loop {
        match check()? {
            None => return Ok(()),
            Some(state) => {
                if start.elapsed() >= timeout {
                    return Err(format!(
                        "timed out after {}s waiting for {what} ({state})",
                        timeout.as_secs()
                    ));
                }
                if last_print.elapsed() >= Duration::from_secs(1) {
                    progress(&format!(
                        "waiting for {what}: {state} ({}s)",
                        start.elapsed().as_secs()
                    ));
                    last_print = Instant::now();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The lines of a server log worth quoting when something failed: those about modules and
/// fatal configuration errors, else the warnings (`#`) that are not start-up boilerplate. At
/// most the last 8.
pub fn log_excerpt(log: &str) -> String {
    const BOILERPLATE: &[&str] = &[
        "oO0OoO0Oo",
        "Redis version=",
        "Valkey version=",
        "Configuration loaded",
        "Server initialized",
        "WARNING Memory overcommit",
        "WARNING: The TCP backlog",
        "Skip register defrag",
    ];
    let wanted = |l: &&str| {
        l.contains("odule")
            || l.contains("rmkit")
            || l.contains("FATAL")
            || l.contains("Bad directive")
            || l.contains("Address already in use")
    };
    let useful = |l: &&str| !BOILERPLATE.iter().any(|b| l.contains(b));
    let mut lines: Vec<&str> = log.lines().filter(wanted).filter(useful).collect();
    if lines.is_empty() {
        lines = log
            .lines()
            .filter(|l| l.contains(" # "))
            .filter(useful)
            .collect();
    }
    let start = lines.len().saturating_sub(8);
    lines[start..].join("\n")
}

/// Bytes, with thousands separators: 1234567 -> "1,234,567".
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Whether a process with this pid runs a Redis or Valkey server (guards against pid reuse).
pub fn is_server_process(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        let c = String::from_utf8_lossy(&c);
        (c.contains("redis-server") || c.contains("valkey-server"))
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_become_urls() {
        assert_eq!(server_url("6379"), "redis://127.0.0.1:6379/");
        assert_eq!(server_url(":7000"), "redis://127.0.0.1:7000/");
        assert_eq!(server_url("127.0.0.1:7000"), "redis://127.0.0.1:7000/");
        assert_eq!(server_url("redis://h:1/"), "redis://h:1/");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
    }

    #[test]
    fn log_excerpt_keeps_warnings_and_module_lines() {
        let log = "1:M 01 Jan * Server initialized\n\
                   1:M 01 Jan # Module /x.so failed to load: boom\n\
                   1:M 01 Jan * Ready\n";
        assert_eq!(
            log_excerpt(log),
            "1:M 01 Jan # Module /x.so failed to load: boom"
        );
    }
}
