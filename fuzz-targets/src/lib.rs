//! Fuzz targets for rmkit: one pure function per parser (and one for the allocator), each
//! panicking when a property is violated.
//!
//! The same functions run in two places:
//! - `fuzz/` (cargo-fuzz, nightly, libFuzzer + ASan): `fuzz_target!(|data| rmkit_fuzz_targets::args(data))`;
//! - `tests/replay.rs` (a plain stable `cargo test`): every committed input under
//!   `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/` is replayed, so a fixed crash stays
//!   fixed in CI without nightly or libFuzzer.
//!
//! | target | input | property |
//! |---|---|---|
//! | [`args()`] | argv, [separated](#input-formats) | `arity_ok` agrees with Redis's arity rule for every registered command, `validate` accepts every registered command, key positions fit every argc the arity allows, `parse_i64`/`parse_u64` never panic and agree with each other, an `Args` walk agrees with the plain parsers |
//! | [`numbers`] | raw bytes | `parse_i64`/`parse_u64` accept exactly the canonical decimal spellings of `i64`/`0..=i64::MAX` (differential against `str::parse`); `parse_f64` agrees with Redis's `string2d` (`strtod`) |
//! | [`glob()`] | pattern, name, [separated](#input-formats) | `rmkit::key::glob_match` agrees with a recursive reference written from Redis's `stringmatchlen` |
//! | [`json_value`] | JSON text | accepts what serde_json accepts; the compact text means what the input means (vs `serde_json::Value`); `parse` → `to_json` → `parse` gives the same encoding and text; the direct parser (`Doc::parse_fast`) accepts nothing serde_json refuses and builds the serde path's bytes |
//! | [`json_path`] | path, JSON, [separated](#input-formats) | every accepted path evaluates without panic; its legacy spelling (without `$`) parses to the same segments and has the same first match; without filters `select` agrees with a reference implementation on a plain tree (unions, slices, `..` included); `delete` removes exactly the outermost matches, each once |
//! | [`json_template`] | template, JSON, [separated](#input-formats) | `render` never panics; brace-free text renders to itself; escaped text renders to the original; `{path}` renders what `select` finds |
//! | [`json_ops()`] | commands ([`arbitrary`]) | a stateful differential test: `JSON.SET` (root and path, NX/XX), `JSON.DEL`, `JSON.NUMINCRBY`, `JSON.ARRAPPEND`/`ARRINSERT`/`ARRPOP`/`ARRTRIM`, `JSON.MERGE`, `JSON.STRAPPEND` (through `rmkit_json::ops`, what the commands run) and RDB save/load applied to the store and to a plain reference tree; every effect applied in place equals the rebuild byte for byte; after every step the content, the reply, and whether the key was written at all agree |
//! | [`rdb_load()`] | a saved json value, [framed](rmkit::datatype::RdbWriter#byte-framing) | `Json`'s `rdb_load` through `RdbReader::from_bytes` returns `Ok` or `Err`, never panics or over-allocates; what loads saves and loads back equal, saves identically again, and does not load without its last byte |
//! | [`alloc`] | operations ([`arbitrary`]) | `RedisAllocator` over a fake server allocator: alignment, zeroing, contents kept by realloc, no overlap, counters exact and back to where they started |
//!
//! # Input formats
//! The text targets use a format that is easy to write by hand (seed corpora are committed and
//! readable) and easy for a mutator: **the first byte of the input is a separator**.
//! - `args`: the rest, split on the separator, is argv: ` hgetset a a 2` (separator `' '`) is
//!   `["hgetset", "a", "a", "2"]`, `|x y|z` is `["x y", "z"]`; any argv can be written by
//!   picking a separator it does not contain. The empty input is the empty argv.
//! - `glob`, `json_path`, `json_template`: the rest up to the first separator is the path (template),
//!   everything after it the JSON document: `|$.a[0]|{"a":[1]}`.
//!
//! `rdb_load` reads the byte framing of [`RdbWriter::to_buffer`](rmkit::datatype::RdbWriter::to_buffer):
//! a JSON document is the byte `05`, its length as 8 bytes little endian, then the text.
//!
//! `alloc` decodes its operations with [`arbitrary`] (see [`alloc()`]).
//!
//! # Known bugs
//! `fuzz/known-bugs.txt` lists committed inputs that still fail because of a bug in a crate the
//! fuzz project does not own; the replay expects them to fail (see `tests/replay.rs`).
//!
//! # Why the `args` target sees the `json` module's commands, not hashex's
//! A module crate (`rmkit::module!`) defines the `#[global_allocator]` and
//! `RedisModule_OnLoad`, so two module crates cannot be linked into one binary (rustc: "the
//! `#[global_allocator]` in hashex conflicts with global allocator in: rmkit_json"). This crate
//! needs `rmkit_json`'s parsers, so `rmkit::__private::COMMANDS` here holds the json module's commands and
//! the toolkit's `{module}.memory`. `tests/replay_hashex.rs` links `hashex` instead (and
//! includes `src/args.rs` by path, without this crate) to check hashex's commands against the
//! same corpus.
//!
//! A consequence: the global allocator of every binary linking this crate is
//! `rmkit_alloc::RedisAllocator` (json's), so once [`alloc()`] has installed the fake server
//! allocator, *every* Rust allocation of that process goes through the fake (in the replay, the
//! parser targets' too: they run after `alloc`). [`alloc()`]'s exact counter checks therefore
//! need a process in which no other thread allocates meanwhile (the replay is a plain `main`,
//! not libtest, for that reason).
//!
//! # Under Miri
//! `linkme` finds the registry through the linker's `__start_`/`__stop_` section symbols,
//! extern statics Miri does not support, so under Miri [`args::commands`] is empty and `args`
//! checks only the argument parsers and the arity rule. `fuzz/miri.sh` runs the replay.
#![deny(unsafe_code, missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[allow(unsafe_code)]
mod alloc;
pub mod args;
#[allow(unsafe_code)]
pub mod fake;
mod glob;
mod json;
mod json_ops;
mod numbers;
mod rdb;

pub use alloc::{alloc, install_fake_server_allocator};
pub use args::args;
pub use glob::glob;
pub use json::{json_path, json_template, json_value};
pub use json_ops::json_ops;
pub use numbers::numbers;
pub use rdb::rdb_load;

/// A target: bytes in, a panic if a property fails.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("args", args),
    ("numbers", numbers),
    ("glob", glob),
    ("json_value", json_value),
    ("json_path", json_path),
    ("json_template", json_template),
    ("json_ops", json_ops),
    ("rdb_load", rdb_load),
    ("alloc", alloc),
];

/// Splits `sep rest` into the part before the first `sep` in `rest` and the part after it
/// (`json_path`, `json_template`). Without a second separator the second part is empty.
pub fn split_pair(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((&sep, rest)) = data.split_first() else {
        return (&[], &[]);
    };
    match rest.iter().position(|&b| b == sep) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_separator_only() {
        assert_eq!(split_pair(b""), (&b""[..], &b""[..]));
        assert_eq!(split_pair(b"|"), (&b""[..], &b""[..]));
        assert_eq!(split_pair(b"|$.a|[1,|2]"), (&b"$.a"[..], &b"[1,|2]"[..]));
        assert_eq!(split_pair(b"\n$\n"), (&b"$"[..], &b""[..]));
        assert_eq!(split_pair(b"|$.a"), (&b"$.a"[..], &b""[..]));
    }
}
