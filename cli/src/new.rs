//! `cargo rmkit new`: a module crate that builds and passes its own `cargo test` at once.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::util::Result;

/// `cargo rmkit new`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").multiple(false))]
pub struct NewArgs {
    /// The crate's name (also the module's name, with `-` as `_`).
    pub name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Depend on an rmkit checkout at this path (its toolkit/ and testkit/).
    #[arg(long, value_name = "P", group = "source")]
    pub rmkit_path: Option<PathBuf>,
    /// Depend on rmkit from this git repository.
    #[arg(long, value_name = "URL", group = "source")]
    pub rmkit_git: Option<String>,
    /// Depend on this rmkit version from the registry.
    #[arg(long, value_name = "V", group = "source")]
    pub rmkit_version: Option<String>,
}

/// Whether `name` is a valid crate and module name.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a usable module name: use 1-64 lower-case letters, digits, `_` or \
             `-`, starting with a letter (e.g. `counter`)"
        ))
    }
}

/// The dependency lines for rmkit and rmkit-test.
fn dependency_lines(a: &NewArgs) -> Result<(String, String)> {
    if let Some(p) = &a.rmkit_path {
        let p = p
            .canonicalize()
            .map_err(|e| format!("--rmkit-path {}: {e}", p.display()))?;
        if !p.join("toolkit/Cargo.toml").is_file() {
            return Err(format!(
                "--rmkit-path {}: no toolkit/Cargo.toml there; point it at an rmkit checkout",
                p.display()
            ));
        }
        let q = |sub: &str| format!("{{ path = {:?} }}", p.join(sub).display().to_string());
        return Ok((
            format!("rmkit = {}", q("toolkit")),
            format!("rmkit-test = {}", q("testkit")),
        ));
    }
    if let Some(url) = &a.rmkit_git {
        return Ok((
            format!("rmkit = {{ git = {url:?} }}"),
            format!("rmkit-test = {{ git = {url:?} }}"),
        ));
    }
    let v = a.rmkit_version.as_deref().unwrap_or("0.1");
    Ok((format!("rmkit = {v:?}"), format!("rmkit-test = {v:?}")))
}

/// `cargo rmkit new`.
pub fn run(a: &NewArgs) -> Result<()> {
    check_name(&a.name)?;
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.join("Cargo.toml").exists() {
        return Err(format!(
            "{} already has a Cargo.toml; pick another --dir",
            dir.display()
        ));
    }
    if a.rmkit_path.is_none() && a.rmkit_git.is_none() && a.rmkit_version.is_none() {
        eprintln!(
            "note: rmkit is not on crates.io yet; without --rmkit-path or --rmkit-git the crate \
             depends on rmkit = \"0.1\" from the registry"
        );
    }
    let (rmkit, rmkit_test) = dependency_lines(a)?;
    let module = a.name.replace('-', "_");
    let files = [
        ("Cargo.toml", cargo_toml(&a.name, &rmkit, &rmkit_test)),
        ("src/lib.rs", lib_rs(&module)),
        ("tests/module.rs", test_rs(&module)),
        ("README.md", readme(&a.name, &module)),
        (".gitignore", "/target\n".to_owned()),
    ];
    for (path, text) in &files {
        write(&dir.join(path), text)?;
    }
    // The versions rmkit is tested with (and already built, when target dirs are shared).
    if let Some(p) = &a.rmkit_path
        && p.join("Cargo.lock").is_file()
    {
        fs::copy(p.join("Cargo.lock"), dir.join("Cargo.lock"))
            .map_err(|e| format!("cannot copy {}/Cargo.lock: {e}", p.display()))?;
    }
    println!("created module crate `{}` in {}", a.name, dir.display());
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  cargo test         # builds it, loads it into redis-server, runs tests/module.rs");
    println!("  cargo rmkit build  # release build + what it registers");
    println!("  cargo rmkit run    # serve it on 127.0.0.1:6379 until Ctrl-C");
    Ok(())
}

/// Writes `text` to `path`, creating its directory.
fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The crate's Cargo.toml.
fn cargo_toml(name: &str, rmkit: &str, rmkit_test: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A Redis module is a shared library.
[lib]
crate-type = ["cdylib"]

[dependencies]
# rmkit brings its allocator (rmkit-alloc, as rmkit::alloc): `rmkit::module!` installs it.
{rmkit}

[dev-dependencies]
# Starts real redis-server processes with this module for the tests in tests/.
{rmkit_test}
redis = "1"

# One optimisation unit: the allocator's fast path inlines into the module. Line tables make a
# panic's backtrace in the server log name the line (and match rmkit's own release profile, so
# a shared CARGO_TARGET_DIR reuses its builds).
[profile.release]
debug = "line-tables-only"
lto = "fat"
codegen-units = 1

# Its own workspace, wherever it is created.
[workspace]
"#
    )
}

/// The module.
fn lib_rs(module: &str) -> String {
    format!(
        r#"//! `{module}`: a Redis module built with rmkit.
//!
//! - `{module}.bump key field` — add 1 to `field` of the hash at `key`; reply with the new count.
#![forbid(unsafe_code)]

use rmkit::prelude::*;

rmkit::module! {{ name: "{module}", version: 1 }}

/// Add 1 to field `field` of the hash at `key`; reply with the new count.
#[rmkit::command(
    name = "{module}.bump",
    flags = "write fast deny-oom",
    acl = "write hash",
    since = "0.1.0",
    complexity = "O(1)"
)]
fn bump(ctx: &Context, key: WriteKey, field: &RedisStr) -> Result<Reply> {{
    let hash = key.hash()?; // WRONGTYPE for anything but a hash
    let n = match hash.get(field) {{
        Some(old) => rmkit::command::parse_i64(old.as_bytes())? + 1,
        None => 1,
    }};
    hash.set(field, &RedisString::new(n.to_string().as_bytes()))?;
    ctx.notify_keyspace_event(Notify::Hash, "hset", key.name());
    ctx.replicate_verbatim();
    Ok(Reply::Integer(n))
}}
"#
    )
}

/// The integration test.
fn test_rs(module: &str) -> String {
    format!(
        r#"//! The module in a real redis-server (rmkit-test builds it and starts the server).

use rmkit_test::{{Server, q, q_err}};

#[test]
fn bump_counts_and_refuses_other_types() {{
    let server = Server::builder().module(env!("CARGO_PKG_NAME")).start();
    let mut con = server.client();

    let n: i64 = q(&mut con, &["{module}.bump", "k", "f"]);
    assert_eq!(n, 1);
    let n: i64 = q(&mut con, &["{module}.bump", "k", "f"]);
    assert_eq!(n, 2);
    let stored: String = q(&mut con, &["HGET", "k", "f"]);
    assert_eq!(stored, "2");

    let _: () = q(&mut con, &["SET", "s", "x"]);
    assert!(q_err(&mut con, &["{module}.bump", "s", "f"]).starts_with("WRONGTYPE"));
    assert!(q_err(&mut con, &["{module}.bump", "k"]).contains("wrong number of arguments"));

    // The module's memory is counted by Redis: the toolkit's INFO section says how much.
    let info: String = q(&mut con, &["INFO", "{module}_alloc"]);
    assert!(info.contains("live_bytes:"), "{{info}}");
}}
"#
    )
}

/// The crate's README.
fn readme(name: &str, module: &str) -> String {
    format!(
        r#"# {name}

A Redis module written with rmkit: every byte it allocates is
counted in Redis's `used_memory`.

```bash
cargo test                  # builds the module, starts redis-server with it, runs tests/module.rs
cargo build --release       # target/release/lib{module}.so
redis-server --loadmodule target/release/lib{module}.so
redis-cli {module}.bump k f # (integer) 1
```

With the `cargo rmkit` tool (`cargo install --path cli` in the rmkit checkout):

```bash
cargo rmkit build           # release build, loaded into a throwaway server: what it registers
cargo rmkit run             # serve it on 127.0.0.1:6379 until Ctrl-C
cargo rmkit package         # store it in ~/.redismodule/{module}/0.1.0/
cargo rmkit install {module} --server 127.0.0.1:6379
```

Needs Rust 1.87+, `redis-server` 7.0+ (`sudo apt-get install -y redis-server`), and `clang`
with `libclang-dev` (bindgen builds the Redis API bindings).
"#
    )
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_must_be_usable_as_crate_and_module_names() {
        assert!(check_name("counter").is_ok());
        assert!(check_name("my-mod2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("Counter").is_err());
        assert!(check_name("1x").is_err());
        assert!(check_name("a b").is_err());
    }
}
