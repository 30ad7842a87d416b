//! Building module cdylibs with cargo and finding their shared libraries.
//!
//! Two entry points:
//!
//! - [`module_path()`] (what [`ServerBuilder::module`](crate::ServerBuilder::module) uses):
//!   a package of the workspace the test belongs to, built once per test process (debug
//!   profile). Packages listed under `[package.metadata.rmkit-test] modules = [...]` in the
//!   test crate's `Cargo.toml` are built together by one `cargo build` the first time any of
//!   them is asked for, which keeps cargo from resolving features differently per package.
//! - [`build_cdylib()`]: any crate, by manifest path, in the profile you choose; returns the
//!   library cargo reports (so a custom `[lib] name` is found too) and cargo's error output
//!   when the build fails.

use std::collections::HashMap;
use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

/// A cdylib cargo built: the package it came from and its shared library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdylib {
    /// The package name (`name` in `[package]`).
    pub package: String,
    /// The package version (`version` in `[package]`).
    pub version: String,
    /// The shared library (`lib<name>.so` on Linux).
    pub path: PathBuf,
}

/// Which cargo profile to build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `cargo build` (the `dev` profile).
    Debug,
    /// `cargo build --release`.
    Release,
}

/// The cargo binary: `$CARGO` (set when running under cargo) or `cargo` on `PATH`.
pub fn cargo() -> OsString {
    env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| OsString::from("cargo"))
}

/// Builds the cdylibs of `packages` (empty: the package of `manifest`) of the crate or workspace
/// whose `Cargo.toml` is `manifest`, and returns one [`Cdylib`] per cdylib cargo produced.
///
/// With `progress`, cargo's own progress lines go to this process's stderr as they happen (for
/// a person watching); otherwise they are kept and added to the error. `Err` carries cargo's
/// exit status and the rendered errors.
pub fn build_cdylib(
    manifest: &Path,
    packages: &[&str],
    profile: Profile,
    progress: bool,
) -> Result<Vec<Cdylib>, String> {
    let cargo = cargo();
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--message-format=json-render-diagnostics");
    if profile == Profile::Release {
        command.arg("--release");
    }
    for package in packages {
        command.args(["-p", package]);
    }
    command.stdin(Stdio::null()).stderr(if progress {
        Stdio::inherit()
    } else {
        Stdio::piped()
    });
    let output = command
        .output()
        .map_err(|err| format!("could not run `{} build`: {err}", cargo.to_string_lossy()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut built = Vec::new();
    let mut errors = String::new();
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                let is_cdylib = msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
                if !is_cdylib {
                    continue;
                }
                let (package, version) = package_id(msg["package_id"].as_str().unwrap_or(""));
                let lib = msg["filenames"].as_array().and_then(|f| {
                    f.iter()
                        .filter_map(|f| f.as_str())
                        .find(|f| f.ends_with(env::consts::DLL_SUFFIX))
                });
                if let Some(lib) = lib {
                    built.push(Cdylib {
                        package: package
                            .unwrap_or_else(|| msg["target"]["name"].as_str().unwrap_or("").into()),
                        version: version.unwrap_or_default(),
                        path: PathBuf::from(lib),
                    });
                }
            }
            Some("compiler-message") => {
                if let Some(text) = msg["message"]["rendered"].as_str() {
                    errors.push_str(text);
                }
            }
            _ => {}
        }
    }
    if !output.status.success() {
        return Err(format!(
            "`cargo build --manifest-path {}` failed ({}):\n{}{}",
            manifest.display(),
            output.status,
            errors,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(built)
}

/// Name and version from a cargo package id: `path+file:///x/hashex#0.1.0`,
/// `path+file:///x/json#rmkit-json@0.1.0` or the older `hashex 0.1.0 (path+file:///x)`.
fn package_id(id: &str) -> (Option<String>, Option<String>) {
    if let Some((url, frag)) = id.rsplit_once('#') {
        return match frag.split_once('@') {
            Some((name, version)) => (Some(name.into()), Some(version.into())),
            None => (
                url.rsplit('/').next().map(str::to_owned),
                Some(frag.to_owned()),
            ),
        };
    }
    let mut words = id.split(' ');
    (
        words.next().map(str::to_owned),
        words.next().map(str::to_owned),
    )
}

/// What `cargo metadata --no-deps` says about the workspace of the running test.
#[derive(Debug)]
struct Workspace {
    /// The workspace's `Cargo.toml`.
    manifest: PathBuf,
    /// Packages of the running test's `[package.metadata.rmkit-test] modules` list.
    batch: Vec<String>,
}

/// The workspace of the running test, found from `$CARGO_MANIFEST_DIR` (cargo sets it when it
/// runs a test) or the current directory.
fn workspace() -> Result<&'static Workspace, String> {
    static WORKSPACE: OnceLock<Result<Workspace, String>> = OnceLock::new();
    WORKSPACE
        .get_or_init(|| {
            let dir = env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .or_else(|| env::current_dir().ok())
                .ok_or("rmkit-test: no CARGO_MANIFEST_DIR and no current directory")?;
            let output = Command::new(cargo())
                .args(["metadata", "--no-deps", "--format-version", "1"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|err| format!("rmkit-test: cannot run `cargo metadata`: {err}"))?;
            if !output.status.success() {
                return Err(format!(
                    "rmkit-test: `cargo metadata` in {} failed:\n{}",
                    dir.display(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            let meta: serde_json::Value = serde_json::from_slice(&output.stdout)
                .map_err(|err| format!("rmkit-test: `cargo metadata` printed no JSON: {err}"))?;
            let root = PathBuf::from(meta["workspace_root"].as_str().unwrap_or("."));
            let own_manifest = dir.join("Cargo.toml");
            let batch = meta["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(&own_manifest))
                .and_then(|p| p["metadata"]["rmkit-test"]["modules"].as_array())
                .map(|list| {
                    list.iter()
                        .filter_map(|m| m.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Workspace {
                manifest: root.join("Cargo.toml"),
                batch,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Outcomes of the builds this process ran: package → its library (or the error).
static BUILT: Mutex<Option<HashMap<String, Result<PathBuf, String>>>> = Mutex::new(None);

/// Returns the shared library built from the cdylib package `package` (e.g. `"hashex"`) of the
/// running test's workspace, building it first (debug profile) if this process has not yet.
///
/// The first request for a package in the test crate's `[package.metadata.rmkit-test]
/// modules` list builds the whole list in one `cargo build`; concurrent callers wait for it.
///
/// # Panics
///
/// If the build fails (with cargo's errors), or if `package` has no cdylib.
pub fn module_path(package: &str) -> PathBuf {
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let built = built.get_or_insert_with(HashMap::new);
    if !built.contains_key(package) {
        let ws = workspace().unwrap_or_else(|e| panic!("{e}"));
        let batch: Vec<&str> = if ws.batch.iter().any(|p| p == package) {
            ws.batch.iter().map(String::as_str).collect()
        } else {
            vec![package]
        };
        eprintln!("rmkit-test: building module cdylibs ({})", batch.join(", "));
        match build_cdylib(&ws.manifest, &batch, Profile::Debug, false) {
            Ok(libs) => {
                for p in &batch {
                    let lib = libs
                        .iter()
                        .find(|l| l.package == *p)
                        .map(|l| l.path.clone());
                    built.insert(
                        (*p).to_owned(),
                        lib.ok_or_else(|| {
                            format!(
                                "rmkit-test: package `{p}` built no cdylib; add \
                                 crate-type = [\"cdylib\"] to its [lib] section"
                            )
                        }),
                    );
                }
            }
            Err(e) => {
                for p in &batch {
                    built.insert((*p).to_owned(), Err(format!("rmkit-test: {e}")));
                }
            }
        }
    }
    match &built[package] {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::package_id;

    #[test]
    fn package_ids_of_every_cargo_format_are_read() {
        let s = |a: &str, b: &str| (Some(a.to_owned()), Some(b.to_owned()));
        assert_eq!(
            package_id("path+file:///x/hashex#0.1.0"),
            s("hashex", "0.1.0")
        );
        assert_eq!(
            package_id("path+file:///x/json#rmkit-json@0.2.0"),
            s("rmkit-json", "0.2.0")
        );
        assert_eq!(
            package_id("hashex 0.1.0 (path+file:///x)"),
            s("hashex", "0.1.0")
        );
    }
}
