//! The local module repository: `cargo rmkit package`, `cargo rmkit repo list`, and the
//! checked look-up `install` and `upgrade` use.
//!
//! Layout: `$RMKIT_REPO` (default `~/.redismodule`) / NAME / VERSION / {lib*.so, manifest.json}.
//! NAME is the module's name as the server reports it, VERSION the crate's version. A file is
//! only ever handed to a server after its SHA-256 matches the manifest.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::CrateArgs;
use crate::build::{inspect, print_registered, release_build};
use crate::util::{Result, sha256_file, thousands};

/// The manifest's file name inside NAME/VERSION/.
const MANIFEST: &str = "manifest.json";

/// The repository's root: `$RMKIT_REPO`, else `~/.redismodule`.
pub fn root() -> Result<PathBuf> {
    if let Some(r) = std::env::var_os("RMKIT_REPO").filter(|r| !r.is_empty()) {
        return Ok(PathBuf::from(r));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".redismodule"))
        .ok_or_else(|| "HOME is not set: set RMKIT_REPO to the repository's directory".into())
}

/// A stored package whose checksum was verified.
#[derive(Debug, Clone)]
pub struct Package {
    /// The module's name.
    pub name: String,
    /// The package version (the crate's).
    pub version: String,
    /// The module's integer version (MODULE LIST `ver`).
    pub module_version: i64,
    /// The verified shared library.
    pub lib: PathBuf,
}

/// Compares two versions numerically field by field (`0.10.0` > `0.9.1`), text as a fallback.
fn cmp_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parts(a).cmp(&parts(b)).then_with(|| a.cmp(b))
}

/// Reads and checks NAME/VERSION/: the manifest names this module and version, and the
/// library's SHA-256 is the manifest's.
fn verify(dir: &Path, name: &str, version: &str) -> Result<(Package, Value)> {
    let manifest_path = dir.join(MANIFEST);
    let text = fs::read_to_string(&manifest_path).map_err(|e| {
        format!(
            "{} is not a package: cannot read {MANIFEST} ({e}); `cargo rmkit package` in the \
             module's crate stores one",
            dir.display()
        )
    })?;
    let m: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", manifest_path.display()))?;
    if m["name"] != name || m["version"] != version {
        return Err(format!(
            "{} describes {}@{}, not {name}@{version}: refusing it",
            manifest_path.display(),
            m["name"].as_str().unwrap_or("?"),
            m["version"].as_str().unwrap_or("?"),
        ));
    }
    let file = m["file"].as_str().unwrap_or("");
    if file.is_empty() || file.contains('/') {
        return Err(format!("{} names no library file", manifest_path.display()));
    }
    let lib = dir.join(file);
    let expected = m["sha256"].as_str().unwrap_or("");
    let actual = sha256_file(&lib)?;
    if actual != expected {
        return Err(format!(
            "checksum mismatch for {}: its sha256 is {actual}, the manifest says {expected}; \
             the file was changed or replaced after packaging, so it will not be loaded \
             (run `cargo rmkit package` again in the module's crate)",
            lib.display()
        ));
    }
    Ok((
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            module_version: m["module_version"].as_i64().unwrap_or(0),
            lib,
        },
        m,
    ))
}

/// The versions stored for `name`, oldest first.
fn versions(root: &Path, name: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join(name))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort_by(|a, b| cmp_versions(a, b));
    v
}

/// Looks up `NAME[@VERSION]` (no version: the newest) and verifies it.
pub fn resolve(spec: &str) -> Result<Package> {
    let root = root()?;
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let stored = versions(&root, name);
    if stored.is_empty() {
        return Err(format!(
            "no module {name} in the repository {}; `cargo rmkit package` in its crate stores \
             it (`cargo rmkit repo list` shows what is there)",
            root.display()
        ));
    }
    let version = match version {
        Some(v) if stored.iter().any(|s| s == v) => v.to_owned(),
        Some(v) => {
            return Err(format!(
                "{name} has no version {v} in {}; stored: {}",
                root.display(),
                stored.join(", ")
            ));
        }
        None => stored.last().cloned().unwrap_or_default(),
    };
    verify(&root.join(name).join(&version), name, &version).map(|(p, _)| p)
}

/// Output of a command, trimmed, or `None`.
fn command_output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `cargo rmkit package`.
pub fn package(args: &CrateArgs, force: bool) -> Result<()> {
    let built = release_build(args)?;
    let registered = inspect(&built.lib)?;
    print_registered(&registered);
    let root = root()?;
    let dir = root.join(&registered.name).join(&built.version);
    let file = built
        .lib
        .file_name()
        .ok_or("the built library has no file name")?
        .to_string_lossy()
        .into_owned();
    let sha = sha256_file(&built.lib)?;
    if dir.join(MANIFEST).is_file() {
        let old: Value = fs::read_to_string(dir.join(MANIFEST))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        if old["sha256"] == sha.as_str() {
            println!(
                "{}@{} is already in {} with this checksum",
                registered.name,
                built.version,
                dir.display()
            );
            return Ok(());
        }
        if !force {
            return Err(format!(
                "{}@{} is already packaged in {} with another checksum; bump the crate's version \
                 (Cargo.toml), or pass --force to replace it",
                registered.name,
                built.version,
                dir.display()
            ));
        }
    }
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stored = dir.join(&file);
    fs::copy(&built.lib, &stored)
        .map_err(|e| format!("cannot copy the library to {}: {e}", stored.display()))?;
    let size = fs::metadata(&stored).map(|m| m.len()).unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let manifest = json!({
        "name": registered.name,
        "version": built.version,
        "module_version": registered.ver,
        "file": file,
        "sha256": sha,
        "size": size,
        "server": {
            "tested_with": registered.server,
            "min_redis_version": "7.0",
            "note": "loads on Redis 7.0+ and Valkey (Redis module API); checked by loading it into the server above",
        },
        "commands": registered.commands.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "configs": registered.configs.keys().cloned().collect::<Vec<_>>(),
        "build": {
            "package": built.package,
            "profile": "release",
            "source": built.dir.display().to_string(),
            "git": command_output("git", &["rev-parse", "--short", "HEAD"], &built.dir),
            "rustc": command_output("rustc", &["--version"], &built.dir),
            "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
            "built_at_unix": now,
        },
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    fs::write(dir.join(MANIFEST), text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", dir.join(MANIFEST).display()))?;
    // Read back through the same check install uses.
    verify(&dir, &registered.name, &built.version)?;
    println!(
        "packaged {}@{} (module version {}, sha256 {}, {} bytes) in {}",
        registered.name,
        built.version,
        registered.ver,
        &sha[..16],
        thousands(size as i64),
        dir.display()
    );
    Ok(())
}

/// `cargo rmkit repo list`.
pub fn list(as_json: bool) -> Result<()> {
    let root = root()?;
    let mut names: Vec<String> = fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut rows = Vec::new();
    for name in &names {
        for version in versions(&root, name) {
            let dir = root.join(name).join(&version);
            rows.push(match verify(&dir, name, &version) {
                Ok((p, m)) => json!({
                    "name": name, "version": version, "module_version": p.module_version,
                    "sha256": m["sha256"], "size": m["size"], "tested_with": m["server"]["tested_with"],
                    "path": p.lib.display().to_string(), "status": "ok",
                }),
                Err(e) => json!({
                    "name": name, "version": version, "path": dir.display().to_string(),
                    "status": "refused", "error": e,
                }),
            });
        }
    }
    if as_json {
        let v = json!({ "repository": root.display().to_string(), "packages": rows });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("repository {}", root.display());
    if rows.is_empty() {
        println!("  (empty: `cargo rmkit package` in a module crate stores one)");
        return Ok(());
    }
    println!(
        "  {:<16} {:<10} {:>6} {:>10}  {:<16}  status",
        "NAME", "VERSION", "MODVER", "SIZE", "SHA256"
    );
    for r in &rows {
        let status = match r["status"].as_str() {
            Some("ok") => format!(
                "ok (tested with {})",
                r["tested_with"].as_str().unwrap_or("?")
            ),
            _ => format!("REFUSED: {}", r["error"].as_str().unwrap_or("")),
        };
        println!(
            "  {:<16} {:<10} {:>6} {:>10}  {:<16}  {}",
            r["name"].as_str().unwrap_or(""),
            r["version"].as_str().unwrap_or(""),
            r["module_version"]
                .as_i64()
                .map(|v| v.to_string())
                .unwrap_or_default(),
            r["size"].as_i64().map(thousands).unwrap_or_default(),
            r["sha256"]
                .as_str()
                .map(|s| &s[..16.min(s.len())])
                .unwrap_or(""),
            status
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cmp_versions;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(cmp_versions("0.10.0", "0.9.1"), Ordering::Greater);
        assert_eq!(cmp_versions("1.0.0", "1.0.0"), Ordering::Equal);
        assert_eq!(cmp_versions("0.1.0", "0.2.0"), Ordering::Less);
    }
}
