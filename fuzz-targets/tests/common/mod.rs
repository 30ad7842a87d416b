//! Finding the committed fuzz inputs (shared by the replay tests).
#![allow(dead_code)] // each test binary uses part of it

use std::path::{Path, PathBuf};

/// Caps the inputs replayed per directory (e.g. under Miri); unset means all.
pub const LIMIT_ENV: &str = "RMKIT_FUZZ_REPLAY_LIMIT";

/// `fuzz/` in this repository.
pub fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of a corpus or artifact directory, sorted; hidden files (libFuzzer's temporaries)
/// are skipped. `None` if the directory does not exist.
pub fn inputs(dir: &Path) -> Option<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Some(files)
}

/// At most `RMKIT_FUZZ_REPLAY_LIMIT` (under Miri: 8 by default) of `files`, spread evenly over
/// them sorted by size.
pub fn limited(mut files: Vec<PathBuf>) -> Vec<PathBuf> {
    // Under `cargo miri`, a test runs with the environment it was *built* with: miri.sh
    // touches the test sources so that a changed limit takes effect.
    let limit = match std::env::var(LIMIT_ENV) {
        Ok(v) => v
            .parse::<usize>()
            .unwrap_or_else(|_| panic!("{LIMIT_ENV}={v}: expected a number")),
        Err(_) if cfg!(miri) => 8,
        Err(_) => return files,
    };
    if files.len() <= limit {
        return files;
    }
    files.sort_by_key(|p| (std::fs::metadata(p).map_or(0, |m| m.len()), p.clone()));
    let step = files.len() as f64 / limit as f64;
    (0..limit)
        .map(|i| files[(i as f64 * step) as usize].clone())
        .collect()
}

/// `fuzz/known-bugs.txt`: corpus inputs (`target/file`) that are expected to fail, with why.
pub fn known_bugs() -> Vec<(String, String)> {
    let path = fuzz_dir().join("known-bugs.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((input, why)) => (input.to_owned(), why.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

/// Whether `target` fails (panics) on the input in `path`, and with what message and where.
/// The panic is not printed (the caller reports it).
pub fn fails(target: fn(&[u8]), path: &Path) -> Option<String> {
    static LAST: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("(non-string panic)");
        let at = info
            .location()
            .map(|l| format!(" (at {l})"))
            .unwrap_or_default();
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = format!("{msg}{at}");
    }));
    let result = std::panic::catch_unwind(|| target(&data));
    std::panic::set_hook(previous);
    result.err()?;
    Some(std::mem::take(
        &mut *LAST.lock().unwrap_or_else(|e| e.into_inner()),
    ))
}

/// Runs `target` on every file; returns how many ran, or the first failure.
pub fn replay(target: fn(&[u8]), files: &[PathBuf]) -> Result<usize, String> {
    for (n, path) in files.iter().enumerate() {
        if let Some(msg) = fails(target, path) {
            return Err(format!(
                "{} (input {} of {}) fails: {msg}",
                path.display(),
                n + 1,
                files.len()
            ));
        }
    }
    Ok(files.len())
}
