//! Replays every committed fuzz input through the targets, on stable, in a plain `cargo test`:
//! `fuzz/corpus/<target>/` (must exist and hold at least one file) and
//! `fuzz/artifacts/<target>/` (crash inputs kept as regressions, if the directory exists).
//! It prints how many inputs each target replayed and fails on the first failing input of each.
//!
//! Inputs listed in `fuzz/known-bugs.txt` (bugs in crates the fuzz project does not own) must
//! still fail; once one passes, the replay fails and asks for its line to be removed.
//!
//! A plain `main` (`harness = false`), because the `alloc` target checks the allocator's
//! process-wide counters exactly: no other thread may allocate meanwhile, and libtest's main
//! thread does (it reports results, and warns about tests running over 60 s, as they do under
//! Miri). `alloc` runs first: installing the fake server allocator early keeps the table of
//! early pointers small, and the parser targets then run with every allocation going through
//! `RedisAllocator` and the fake.
//!
//! ```text
//! cargo test -p rmkit-fuzz-targets --test replay                  # every target
//! cargo test -p rmkit-fuzz-targets --test replay -- json          # targets whose name contains "json"
//! cargo test -p rmkit-fuzz-targets --test replay -- --skip alloc  # all but alloc (no fake installed)
//! RMKIT_FUZZ_REPLAY_LIMIT=20 cargo test ...                       # at most 20 inputs per directory
//! ```
//! Other libtest flags (`--nocapture`, `--test-threads`, ...) are accepted and ignored. Under
//! Miri the limit defaults to 8.

mod common;

use rmkit_fuzz_targets::args::{data_type_names, registry_names};
use rmkit_fuzz_targets::{TARGETS, Target, install_fake_server_allocator};

fn target(name: &str) -> Target {
    TARGETS
        .iter()
        .find(|(t, _)| *t == name)
        .unwrap_or_else(|| panic!("no target {name:?}"))
        .1
}

/// Replays corpus and artifacts of `name` (leaving out `known` inputs); a problem is pushed.
fn replay_target(name: &str, known: &[(String, String)], problems: &mut Vec<String>) {
    let root = common::fuzz_dir();
    let corpus_dir = root.join("corpus").join(name);
    let corpus = match common::inputs(&corpus_dir) {
        Some(files) if !files.is_empty() => files,
        _ => {
            problems.push(format!("{}: missing or empty", corpus_dir.display()));
            return;
        }
    };
    let corpus: Vec<_> = corpus
        .into_iter()
        .filter(|p| {
            let file = p.file_name().unwrap_or_default().to_string_lossy();
            !known.iter().any(|(k, _)| *k == format!("{name}/{file}"))
        })
        .collect();
    let artifacts = common::inputs(&root.join("artifacts").join(name)).unwrap_or_default();
    let (all_corpus, all_artifacts) = (corpus.len(), artifacts.len());
    let mut ran = Vec::new();
    for files in [common::limited(corpus), common::limited(artifacts)] {
        match common::replay(target(name), &files) {
            Ok(n) => ran.push(n),
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                return;
            }
        }
    }
    println!(
        "{name:>13}: {} of {all_corpus} corpus inputs, {} of {all_artifacts} artifacts",
        ran[0], ran[1]
    );
}

/// Every input in `fuzz/known-bugs.txt` must still fail.
fn check_known_bugs(known: &[(String, String)], problems: &mut Vec<String>) {
    for (input, why) in known {
        let Some((name, file)) = input.split_once('/') else {
            problems.push(format!("known-bugs.txt: {input:?} is not <target>/<file>"));
            continue;
        };
        if !TARGETS.iter().any(|(t, _)| *t == name) {
            problems.push(format!("known-bugs.txt: no target {name:?}"));
            continue;
        }
        let path = common::fuzz_dir().join("corpus").join(name).join(file);
        if !path.is_file() {
            problems.push(format!("known-bugs.txt: {} does not exist", path.display()));
            continue;
        }
        match common::fails(target(name), &path) {
            Some(msg) => println!(
                "{name:>13}: known bug still there: {file} ({why})\n{:>15}{}",
                "",
                msg.lines().next().unwrap_or("")
            ),
            // Some checks need the native C library (strtod), which Miri cannot call.
            None if cfg!(miri) => println!("{name:>13}: known bug not checked under Miri: {file}"),
            None => problems.push(format!(
                "{}: passes now, so the bug is fixed: remove its line from fuzz/known-bugs.txt",
                path.display()
            )),
        }
    }
}

/// Which targets to run: libtest-style name filters (substrings) and `--skip` filters.
fn selected() -> impl Fn(&str) -> bool {
    let (mut filters, mut skips) = (Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                println!("replay: test");
                std::process::exit(0);
            }
            "--skip" => skips.extend(args.next()),
            a if a.starts_with("--skip=") => skips.push(a["--skip=".len()..].to_owned()),
            a if a.starts_with('-') => {}
            a => filters.push(a.to_owned()),
        }
    }
    move |name: &str| {
        (filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
            && !skips.iter().any(|s| name.contains(s.as_str()))
    }
}

fn main() {
    let run = selected();
    let known = common::known_bugs();
    let mut problems = Vec::new();
    let mut ran = 0;

    if run("alloc") {
        install_fake_server_allocator();
        replay_target("alloc", &known, &mut problems);
        ran += 1;
    }

    let names = registry_names();
    // Enough to know json (not another module) is linked; the `args` target checks every entry.
    // Under Miri the registry cannot be read (see `args::commands`).
    for expected in ["json.set", "json.get", "module.memory"] {
        if !cfg!(miri) && !names.iter().any(|n| n == expected) {
            problems.push(format!("'{expected}' is not in rmkit::COMMANDS: {names:?}"));
        }
    }
    if !cfg!(miri) && !data_type_names().contains(&"rmkitjson") {
        problems.push(format!(
            "json's data type is not in rmkit::datatype::DATA_TYPES: {:?}",
            data_type_names()
        ));
    }
    let known_here: Vec<_> = known
        .iter()
        .filter(|(input, _)| run(input.split('/').next().unwrap_or("")))
        .cloned()
        .collect();
    check_known_bugs(&known_here, &mut problems);
    for &(name, _) in TARGETS.iter().filter(|(t, _)| *t != "alloc" && run(t)) {
        replay_target(name, &known, &mut problems);
        ran += 1;
    }

    if problems.is_empty() {
        println!("replay: {ran} targets ok");
    } else {
        eprintln!("replay: FAILED\n{}", problems.join("\n"));
        std::process::exit(1);
    }
}
