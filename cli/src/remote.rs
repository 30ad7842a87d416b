//! `cargo rmkit install|modules|upgrade`: modules on a running server.
//!
//! The server loads the library from the repository's path, so it must run on this machine
//! (or see the same files).

use clap::Args;
use serde_json::json;

use crate::repo::{Package, resolve};
use crate::util::{
    LoadedModule, Result, alloc_info, connect, info, module_commands, module_list, query,
    server_name, thousands,
};

/// `cargo rmkit install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The packaged module, `NAME` (newest version) or `NAME@VERSION`.
    pub module: String,
    /// The server: `host:port`, a port, or a `redis://` URL.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub server: String,
    /// A module argument (repeat for several).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// A module config to set at load: `--config NAME VALUE` (repeat for several).
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"])]
    pub config: Vec<String>,
}

/// `cargo rmkit modules`.
#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// The server: `host:port`, a port, or a `redis://` URL.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub server: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `cargo rmkit upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The packaged version to run, `NAME@VERSION` (or `NAME` for the newest).
    pub module: String,
    /// The server: `host:port`, a port, or a `redis://` URL.
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub server: String,
}

/// `MODULE LOADEX lib [CONFIG k v ...] [ARGS ...]`; a refusal quotes the server's log when it
/// can be read.
fn loadex(
    con: &mut redis::Connection,
    package: &Package,
    configs: &[String],
    args: &[String],
) -> Result<()> {
    let lib = package.lib.display().to_string();
    let mut cmd = vec!["MODULE", "LOADEX", lib.as_str()];
    for pair in configs.chunks(2) {
        cmd.push("CONFIG");
        cmd.extend(pair.iter().map(String::as_str));
    }
    if !args.is_empty() {
        cmd.push("ARGS");
        cmd.extend(args.iter().map(String::as_str));
    }
    query::<()>(con, &cmd).map_err(|e| {
        let hint =
            if e.contains("MODULE command not allowed") || e.contains("enable-module-command") {
                "\nthe server forbids MODULE commands: start it with --enable-module-command local \
             (or yes)"
                    .to_owned()
            } else {
                server_log_lines(con)
                    .map(|l| format!("\nthe server's log says:\n{l}"))
                    .unwrap_or_else(|| "\n(see the server's log for the reason)".into())
            };
        format!(
            "the server refused {}@{}: {e}{hint}",
            package.name, package.version
        )
    })
}

/// The last lines about modules in the server's log, if it is a file this process can read.
fn server_log_lines(con: &mut redis::Connection) -> Option<String> {
    let reply: Vec<String> = query(con, &["CONFIG", "GET", "logfile"]).ok()?;
    let mut path = std::path::PathBuf::from(reply.get(1)?);
    if path.as_os_str().is_empty() {
        return None;
    }
    if path.is_relative() {
        let dir: Vec<String> = query(con, &["CONFIG", "GET", "dir"]).ok()?;
        path = std::path::Path::new(dir.get(1)?).join(path);
    }
    let log = std::fs::read_to_string(path).ok()?;
    let tail: Vec<&str> = log.lines().rev().take(400).collect();
    let text: String = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    let excerpt = crate::util::log_excerpt(&text);
    (!excerpt.is_empty()).then_some(excerpt)
}

/// The loaded module named `name`, if any.
fn loaded(con: &mut redis::Connection, name: &str) -> Result<Option<LoadedModule>> {
    Ok(module_list(con)?.into_iter().find(|m| m.name == name))
}

/// `cargo rmkit install`.
pub fn install(a: &InstallArgs) -> Result<()> {
    let package = resolve(&a.module)?;
    let mut con = connect(&a.server)?;
    if let Some(m) = loaded(&mut con, &package.name)? {
        return Err(format!(
            "{} is already loaded on {} (module version {}, from {}); to replace it run \
             `cargo rmkit upgrade {}@{} --server {}`",
            m.name, a.server, m.ver, m.path, package.name, package.version, a.server
        ));
    }
    loadex(&mut con, &package, &a.config, &a.args)?;
    let now = loaded(&mut con, &package.name)?
        .ok_or("MODULE LOADEX succeeded but MODULE LIST does not show the module")?;
    println!(
        "installed {}@{} (module version {}) on {} from {}",
        package.name,
        package.version,
        now.ver,
        a.server,
        package.lib.display()
    );
    Ok(())
}

/// `cargo rmkit modules`.
pub fn modules(a: &ModulesArgs) -> Result<()> {
    let mut con = connect(&a.server)?;
    let server = server_name(&info(&mut con, "server")?);
    let repo = crate::repo::root().ok();
    let mut out = Vec::new();
    for m in module_list(&mut con)? {
        let commands = module_commands(&mut con, &m.name)?;
        let alloc = alloc_info(&mut con, &m.name)?;
        // NAME/VERSION/lib.so inside the repository: the package version.
        let package_version = repo.as_ref().and_then(|r| {
            let rel = std::path::Path::new(&m.path).strip_prefix(r).ok()?;
            let mut parts = rel.iter();
            let _name = parts.next()?;
            Some(parts.next()?.to_string_lossy().into_owned())
        });
        out.push(json!({
            "name": m.name,
            "ver": m.ver,
            "package_version": package_version,
            "path": m.path,
            "args": m.args,
            "commands": commands.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "alloc": alloc,
        }));
    }
    if a.json {
        let v = json!({ "server": a.server, "version": server, "modules": out });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("{} ({server}): {} modules", a.server, out.len());
    for m in &out {
        let package = m["package_version"]
            .as_str()
            .map(|v| format!(", package {}@{v}", m["name"].as_str().unwrap_or("")))
            .unwrap_or_default();
        println!(
            "{} version {}{package}  {}",
            m["name"].as_str().unwrap_or(""),
            m["ver"],
            m["path"].as_str().unwrap_or("")
        );
        let args: Vec<&str> = m["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str())
            .collect();
        if !args.is_empty() {
            println!("  args: {}", args.join(" "));
        }
        let commands: Vec<&str> = m["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .collect();
        println!("  commands ({}): {}", commands.len(), commands.join(" "));
        let alloc = &m["alloc"];
        match alloc["live_bytes"].as_i64() {
            Some(live) => println!(
                "  allocator: live {} bytes in {} allocations, peak {} bytes, {} allocations in all",
                thousands(live),
                thousands(alloc["live_allocations"].as_i64().unwrap_or(0)),
                thousands(alloc["peak_bytes"].as_i64().unwrap_or(0)),
                thousands(alloc["total_allocations"].as_i64().unwrap_or(0)),
            ),
            None => println!(
                "  allocator: no INFO {}_alloc section (not built with rmkit)",
                m["name"].as_str().unwrap_or("")
            ),
        }
    }
    Ok(())
}

/// `cargo rmkit upgrade`.
pub fn upgrade(a: &UpgradeArgs) -> Result<()> {
    let package = resolve(&a.module)?;
    let mut con = connect(&a.server)?;
    let Some(old) = loaded(&mut con, &package.name)? else {
        return Err(format!(
            "{} is not loaded on {}; install it with `cargo rmkit install {}@{} --server {}`",
            package.name, a.server, package.name, package.version, a.server
        ));
    };
    let same_file =
        std::path::Path::new(&old.path).canonicalize().ok() == package.lib.canonicalize().ok();
    if same_file {
        println!(
            "{}@{} is already loaded on {} (module version {})",
            package.name, package.version, a.server, old.ver
        );
        return Ok(());
    }
    if let Err(e) = query::<()>(&mut con, &["MODULE", "UNLOAD", &package.name]) {
        let advice = if e.contains("data types") || e.contains("exports one or more") {
            let load = std::iter::once(package.lib.display().to_string())
                .chain(old.args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "modules that register data types cannot be unloaded (Redis's rule). Instead \
                 restart the server with --loadmodule {load} (its data comes back from RDB/AOF), \
                 or on a replicated setup restart a replica with the new module, fail over to \
                 it (CLUSTER FAILOVER / REPLICAOF), then the old primary; for a cluster started \
                 by `cargo rmkit cluster up`, `cargo rmkit cluster install {}@{}` does that",
                package.name, package.version
            )
        } else if e.contains("used by other modules") {
            "another module uses its API; unload that one first".to_owned()
        } else {
            "the module refused for now (e.g. a client is in MULTI with one of its commands, or \
             its last command was one): retry when that client has moved on (the server's log \
             names it)"
                .to_owned()
        };
        return Err(format!(
            "the server refused to unload {}: {e}\n{advice}",
            package.name
        ));
    }
    if let Err(e) = loadex(&mut con, &package, &[], &old.args) {
        // Put the old version back so the server keeps its commands.
        let restored = query::<()>(&mut con, &{
            let mut c = vec!["MODULE", "LOAD", old.path.as_str()];
            c.extend(old.args.iter().map(String::as_str));
            c
        });
        return Err(match restored {
            Ok(()) => format!(
                "{e}\nthe old version (module version {}) is loaded again",
                old.ver
            ),
            Err(r) => format!("{e}\nreloading the old version failed too: {r}"),
        });
    }
    let now = loaded(&mut con, &package.name)?.ok_or("the new version is not in MODULE LIST")?;
    println!(
        "upgraded {} on {}: module version {} -> {} ({}@{}, from {})",
        package.name,
        a.server,
        old.ver,
        now.ver,
        package.name,
        package.version,
        package.lib.display()
    );
    Ok(())
}
