//! `cargo rmkit build` and `cargo rmkit run`: build the crate in release, prove it loads.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rmkit_test::{Profile, Server};

use crate::CrateArgs;
use crate::util::{
    CommandInfo, Result, alloc_info, connect, info, log_excerpt, module_commands, module_configs,
    module_list, progress, server_name,
};

/// A release build of the crate.
#[derive(Debug, Clone)]
pub struct Built {
    /// The package name.
    pub package: String,
    /// The package version.
    pub version: String,
    /// The shared library.
    pub lib: PathBuf,
    /// The crate's directory.
    pub dir: PathBuf,
}

/// What a module registered, seen from a server that loaded it.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The module's name (MODULE LIST).
    pub name: String,
    /// Its integer version (MODULE LIST).
    pub ver: i64,
    /// The server that loaded it ("redis 7.0.15").
    pub server: String,
    /// Its commands.
    pub commands: Vec<CommandInfo>,
    /// Its configs and their defaults.
    pub configs: BTreeMap<String, String>,
    /// The toolkit's load line ("rmkit: 3 commands, 0 data types and 0 configs registered; ..."),
    /// for modules built with rmkit.
    pub load_line: Option<String>,
    /// The `INFO <name>_alloc` figures right after load.
    pub alloc: BTreeMap<String, i64>,
}

/// The manifest of the crate to build: `--manifest-path` or what `cargo locate-project` finds.
fn manifest(args: &CrateArgs) -> Result<PathBuf> {
    if let Some(m) = &args.manifest_path {
        return Ok(m.clone());
    }
    let out = Command::new(rmkit_test::cargo())
        .args(["locate-project", "--message-format", "plain"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "no Cargo.toml here or above: run this in a module crate (or pass --manifest-path); \
             `cargo rmkit new NAME` makes one\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Builds the crate's cdylib in release (cargo's progress shown).
pub fn release_build(args: &CrateArgs) -> Result<Built> {
    let manifest = manifest(args)?;
    let packages: Vec<&str> = args.package.iter().map(String::as_str).collect();
    progress(&format!(
        "building {} (cargo build --release)",
        manifest.display()
    ));
    let start = Instant::now();
    let libs = rmkit_test::build_cdylib(&manifest, &packages, Profile::Release, true)?;
    let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
    let lib = match libs.as_slice() {
        [] => {
            return Err(format!(
                "{} built no cdylib: a module crate needs `[lib] crate-type = [\"cdylib\"]`",
                manifest.display()
            ));
        }
        [one] => one.clone(),
        many => {
            let names: Vec<&str> = many.iter().map(|l| l.package.as_str()).collect();
            return Err(format!(
                "several cdylibs were built ({}); pick one with --package NAME",
                names.join(", ")
            ));
        }
    };
    progress(&format!(
        "built {} in {:.1}s",
        lib.path.display(),
        start.elapsed().as_secs_f64()
    ));
    Ok(Built {
        package: lib.package,
        version: lib.version,
        lib: lib.path,
        dir,
    })
}

/// Loads `lib` into a throwaway server and reads back what it registered; a module that does
/// not load is refused with the server's log lines about it.
pub fn inspect(lib: &Path) -> Result<Registered> {
    progress("loading it into a throwaway server");
    let server = Server::builder()
        .module_file(lib, &[])
        .try_start()
        .map_err(|message| {
            let log = message
                .split_once("-----\n")
                .map(|(_, log)| log)
                .unwrap_or(&message);
            let excerpt = log_excerpt(log);
            format!(
                "the server refused to load {}:\n{}",
                lib.display(),
                if excerpt.is_empty() { log } else { &excerpt }
            )
        })?;
    let mut con = connect(&server.addr())?;
    let modules = module_list(&mut con)?;
    let canonical = lib.canonicalize().unwrap_or_else(|_| lib.to_path_buf());
    let module = modules
        .iter()
        .find(|m| Path::new(&m.path).canonicalize().ok().as_deref() == Some(&canonical))
        .or_else(|| modules.first())
        .ok_or("the server started but MODULE LIST is empty")?
        .clone();
    let server_info = info(&mut con, "server")?;
    let load_line = server
        .log()
        .lines()
        .filter(|l| l.contains("registered"))
        .find_map(|l| l.find("rmkit: ").map(|i| l[i..].to_owned()));
    Ok(Registered {
        commands: module_commands(&mut con, &module.name)?,
        configs: module_configs(&mut con, &module.name)?,
        alloc: alloc_info(&mut con, &module.name)?,
        name: module.name,
        ver: module.ver,
        server: server_name(&server_info),
        load_line,
    })
}

/// Prints what a module registered.
pub fn print_registered(r: &Registered) {
    println!(
        "module {} version {} (loaded by {})",
        r.name, r.ver, r.server
    );
    println!("commands ({}):", r.commands.len());
    let width = r.commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let flags_width = r
        .commands
        .iter()
        .map(|c| c.flags.join(",").len())
        .max()
        .unwrap_or(0);
    for c in &r.commands {
        let keys = match c.keys {
            (0, _, _) => "no keys".to_owned(),
            (f, l, s) => format!("keys {f}..{l} step {s}"),
        };
        println!(
            "  {:width$}  arity {:>3}  {:flags_width$}  {}",
            c.name,
            c.arity,
            c.flags.join(","),
            keys
        );
    }
    if r.configs.is_empty() {
        println!("configs: none");
    } else {
        println!("configs ({}):", r.configs.len());
        for (k, v) in &r.configs {
            println!("  {k} = {v}");
        }
    }
    if let Some(live) = r.alloc.get("live_bytes") {
        println!(
            "allocator: {} bytes live after load (INFO {}_alloc)",
            crate::util::thousands(*live),
            r.name
        );
    }
    match &r.load_line {
        Some(line) => println!("load log: {line}"),
        None => println!("data types: (not an rmkit module: the server does not list them)"),
    }
}

/// `cargo rmkit build`.
pub fn build(args: &CrateArgs) -> Result<(Built, Registered)> {
    let built = release_build(args)?;
    let registered = inspect(&built.lib)?;
    println!("{}", built.lib.display());
    print_registered(&registered);
    Ok((built, registered))
}

/// `cargo rmkit run`: build, check the module loads (as `build` does), then become
/// `redis-server` on `port` with the module loaded (the process is replaced, so Ctrl-C reaches
/// the server directly and it shuts down cleanly). Its working directory is
/// `<target>/release/rmkit-run/`.
pub fn serve(
    args: &CrateArgs,
    port: u16,
    module_args: &[String],
    server_args: &[String],
) -> Result<()> {
    use std::os::unix::process::CommandExt;

    let built = release_build(args)?;
    let registered = inspect(&built.lib)?;
    print_registered(&registered);
    if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
        return Err(format!(
            "port {port} on 127.0.0.1 is in use; pass --port N to serve on another \
             (or stop what listens there: `redis-cli -p {port} shutdown nosave` if it is a redis)"
        ));
    }
    let binary = rmkit_test::try_server_binary()?;
    let dir = built
        .lib
        .parent()
        .unwrap_or(Path::new("."))
        .join("rmkit-run");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    println!(
        "serving {} on 127.0.0.1:{port} (redis-cli -p {port}); Ctrl-C stops",
        built.lib.display()
    );
    let err = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--enable-module-command", "local"])
        .arg("--dir")
        .arg(&dir)
        .arg("--loadmodule")
        .arg(&built.lib)
        .args(module_args)
        .args(server_args)
        .exec();
    Err(format!("cannot run {}: {err}", binary.display()))
}
