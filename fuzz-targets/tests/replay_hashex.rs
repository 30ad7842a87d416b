//! The `args` corpus against hashex's commands.
//!
//! hashex and rmkit_json are both module crates, each with its own `#[global_allocator]`, so
//! no binary can link both (see the crate docs). This test links hashex and includes the
//! `args` target's source by path instead of linking `rmkit_fuzz_targets`.

mod common;

use hashex as _;

#[path = "../src/args.rs"]
#[allow(dead_code)]
mod args;

#[test]
fn args_corpus_against_hashex_commands() {
    let names = args::registry_names();
    // (Under Miri the registry cannot be read: see `args::commands`.)
    for expected in ["hgetset", "hmgetset", "module.memory"] {
        assert!(
            cfg!(miri) || names.iter().any(|n| n == expected),
            "'{expected}' is not in rmkit::COMMANDS: {names:?}"
        );
    }
    let root = common::fuzz_dir();
    let corpus = common::inputs(&root.join("corpus/args")).unwrap_or_default();
    assert!(!corpus.is_empty(), "fuzz/corpus/args is missing or empty");
    let artifacts = common::inputs(&root.join("artifacts/args")).unwrap_or_default();
    for files in [corpus, artifacts] {
        let files = common::limited(files);
        let n = common::replay(args::args, &files).unwrap_or_else(|e| panic!("args: {e}"));
        println!("args (hashex): {n} inputs");
    }
}
