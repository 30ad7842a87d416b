//! Locating the server binary (`redis-server`, or `valkey-server`) and its tools.

use std::env;
use std::path::{Path, PathBuf};

/// Environment variable that overrides which `redis-server` binary is run.
const OVERRIDE_VAR: &str = "RMKIT_REDIS_SERVER";

/// What to tell the user when no `redis-server` can be found.
const NOT_FOUND: &str = "neither redis-server nor valkey-server found on PATH. Install one with: \
    sudo apt-get install -y redis-server redis-tools   (or set RMKIT_REDIS_SERVER=/path/to/redis-server)";

/// Returns the `redis-server` binary the harness runs.
///
/// This is `$RMKIT_REDIS_SERVER` if that variable is set (and not empty), otherwise the
/// first executable `redis-server` found on `PATH`, otherwise the first `valkey-server`.
///
/// # Panics
///
/// If none gives a binary, with instructions on how to install one. Tests are never
/// skipped for lack of a server.
pub fn server_binary() -> PathBuf {
    try_server_binary().unwrap_or_else(|e| panic!("{e}"))
}

/// [`server_binary()`] without the panic: `Err` says how to install a server.
pub fn try_server_binary() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os(OVERRIDE_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let path = env::var_os("PATH").unwrap_or_default();
    ["redis-server", "valkey-server"]
        .iter()
        .find_map(|name| {
            env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|candidate| is_executable(candidate))
        })
        .ok_or_else(|| NOT_FOUND.to_owned())
}

/// Whether `path` is a regular file that may be executed.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = path.metadata() else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Returns the path of another Redis tool, such as `"redis-cli"` or `"redis-benchmark"`,
/// matching the server the harness runs.
///
/// This is the file `name` next to [`server_binary()`] if there is one (so that
/// `$RMKIT_REDIS_SERVER` pointing into a source build also selects that build's tools),
/// otherwise the first executable `name` found on `PATH`.
///
/// # Panics
///
/// If neither exists, with instructions on how to install the tools.
pub fn tool_binary(name: &str) -> PathBuf {
    try_tool_binary(name).unwrap_or_else(|e| panic!("{e}"))
}

/// [`tool_binary()`] without the panic: `Err` says how to install the tools.
pub fn try_tool_binary(name: &str) -> Result<PathBuf, String> {
    if let Some(sibling) = try_server_binary()
        .ok()
        .and_then(|s| s.parent().map(|dir| dir.join(name)))
        && is_executable(&sibling)
    {
        return Ok(sibling);
    }
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            format!(
                "{name} not found next to the redis-server binary or on PATH. Install it with: \
                 sudo apt-get install -y redis-tools"
            )
        })
}
