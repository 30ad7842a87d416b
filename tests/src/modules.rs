//! Building the workspace's module cdylibs and finding their shared libraries.

use std::collections::HashMap;
use std::env;
use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Workspace packages whose cdylibs are built together, by one `cargo build`, the first
/// time any test in the process asks for a module.
///
/// Add a package here when tests load it as a module. A package that is not listed still
/// works with [`module_path()`], but costs a `cargo build` of its own.
pub const MODULE_PACKAGES: &[&str] = &[
    "hashex",
    "rmkit-json",
    "capped",
    "memtest-rmkit",
    "memtest-system",
    "many",
    "dupe",
    "conformance-list",
    "conformance-zset",
    "conformance-stream",
    "conformance-scan",
    "conformance-hash",
    "conformance-getkeys",
    "conformance-blockonkeys",
    "conformance-datatype",
    "conformance-keyspecs",
];

/// Outcome of the one build of every package in [`MODULE_PACKAGES`].
static LISTED_BUILD: OnceLock<Result<(), String>> = OnceLock::new();

/// Outcomes of builds of packages missing from [`MODULE_PACKAGES`], by package.
static UNLISTED_BUILDS: Mutex<Option<HashMap<String, Result<(), String>>>> = Mutex::new(None);

/// Returns the path of the shared library built from the workspace cdylib package
/// `package` (e.g. `"hashex"`), building it first if this process has not done so yet.
///
/// The first call in a process runs one `cargo build` (debug profile, in the workspace
/// root, with `$CARGO` if set) of every package in [`MODULE_PACKAGES`]; concurrent
/// callers wait for it. The library is looked up in `$CARGO_TARGET_DIR/debug` (or
/// `<workspace>/target/debug`).
///
/// # Panics
///
/// If the build fails (with cargo's output), or if the library is missing afterwards.
pub fn module_path(package: &str) -> PathBuf {
    let built = if MODULE_PACKAGES.contains(&package) {
        LISTED_BUILD
            .get_or_init(|| cargo_build(MODULE_PACKAGES))
            .clone()
    } else {
        let mut builds = UNLISTED_BUILDS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        builds
            .get_or_insert_with(HashMap::new)
            .entry(package.to_owned())
            .or_insert_with(|| cargo_build(&[package]))
            .clone()
    };
    if let Err(message) = built {
        panic!("{message}");
    }

    // The ports of Redis's C test modules (tests/conformance/NAME) keep the C module's file
    // name: package `conformance-NAME`, library `libNAME`.
    let lib = package.strip_prefix("conformance-").unwrap_or(package);
    let path = target_dir()
        .join("debug")
        .join(format!("{DLL_PREFIX}{}{DLL_SUFFIX}", lib.replace('-', "_")));
    assert!(
        path.is_file(),
        "module library for package `{package}` not found at {} after a successful \
         `cargo build`; is `{package}` a workspace package with crate-type \"cdylib\" \
         (and no custom [lib] name)?",
        path.display()
    );
    path
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("rmkit-tests lives inside the workspace")
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root, where
/// the build runs), or `<workspace>/target`.
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Runs `cargo build -p <package>...` in the workspace root; `Err` holds a message with
/// cargo's stderr.
fn cargo_build(packages: &[&str]) -> Result<(), String> {
    eprintln!(
        "rmkit-tests: building module cdylibs ({})",
        packages.join(", ")
    );
    let cargo = env::var_os("CARGO")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.current_dir(workspace_root()).arg("build");
    for package in packages {
        command.args(["-p", package]);
    }
    let output = command.output().map_err(|err| {
        format!(
            "rmkit-tests: could not run `{} build` to build the module cdylibs: {err}",
            cargo.to_string_lossy()
        )
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rmkit-tests: building the module cdylibs ({}) failed ({}):\n{}{}",
            packages.join(", "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ))
    }
}
