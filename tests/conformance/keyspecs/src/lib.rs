//! Port of Redis 7.0's `tests/modules/keyspecs.c`: commands whose keys are described by a
//! legacy key range or by explicit key specs (index and keyword searches, ranges, key counts).
//! Every command replies OK; what matters is what `COMMAND INFO` and `COMMAND GETKEYS` say.
#![forbid(unsafe_code)]

use rmkit::command::Rest;
use rmkit::command::docs::{BeginSearch, FindKeys, KeySpec};
use rmkit::prelude::*;

rmkit::module! { name: "keyspecs", version: 1 }

/// `{0, 1, 0}`: one key.
const ONE: FindKeys = FindKeys::Range {
    last_key: 0,
    step: 1,
    limit: 0,
};
/// `{-1, 1, 0}`: every argument to the end.
const TO_END: FindKeys = FindKeys::Range {
    last_key: -1,
    step: 1,
    limit: 0,
};

const fn at(index: i32, flags: &'static str, find: FindKeys) -> KeySpec {
    KeySpec::new(flags, BeginSearch::Index(index), find)
}

const fn after(
    keyword: &'static str,
    start_from: i32,
    flags: &'static str,
    find: FindKeys,
) -> KeySpec {
    KeySpec::new(
        flags,
        BeginSearch::Keyword {
            keyword,
            start_from,
        },
        find,
    )
}

const KEY_COUNT: FindKeys = FindKeys::KeyNum {
    key_num_index: 0,
    first_key: 1,
    step: 1,
};

const TWO_RANGES: &[KeySpec] = &[at(1, "RO access", ONE), at(2, "RW update", ONE)];
const TWO_RANGES_WITH_GAP: &[KeySpec] = &[at(1, "RO access", ONE), at(3, "RW update", ONE)];
const KEYWORD: &[KeySpec] = &[after("KEYS", 1, "RO access", TO_END)];
const COMPLEX1: &[KeySpec] = &[
    at(1, "RO", ONE),
    after("STORE", 2, "RW update", ONE),
    after("KEYS", 2, "RO access", KEY_COUNT),
];
const COMPLEX2: &[KeySpec] = &[
    after("STORE", 5, "RW update", ONE),
    at(1, "RO access", ONE),
    at(2, "RO access", ONE),
    at(3, "RW update", KEY_COUNT),
    after("MOREKEYS", 5, "RW update", TO_END),
];

/// Every other argument is a key, read only.
fn odd_arguments(args: &[RedisStr]) -> Vec<(usize, &'static str)> {
    (1..args.len())
        .step_by(2)
        .map(|i| (i, "RO access"))
        .collect()
}

/// Legacy range only: keys at 1, 3, 5, ... (like MSET).
#[rmkit::command(name = "kspec.none", flags = "", keys = (1, -1, 2))]
fn kspec_none(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Legacy range, and a getkeys function that reports the keys read-only.
#[rmkit::command(
    name = "kspec.nonewithgetkeys",
    flags = "getkeys-api",
    keys = (1, -1, 2),
    getkeys = odd_arguments
)]
fn kspec_nonewithgetkeys(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Two single-key specs, at 1 and 2.
#[rmkit::command(name = "kspec.tworanges", flags = "", key_specs = TWO_RANGES)]
fn kspec_tworanges(_first: &RedisStr, _args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Two single-key specs, at 1 and 3.
#[rmkit::command(name = "kspec.tworangeswithgap", flags = "", key_specs = TWO_RANGES_WITH_GAP)]
fn kspec_tworangeswithgap(_first: &RedisStr, _args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Keys are everything after `KEYS`.
#[rmkit::command(name = "kspec.keyword", flags = "", key_specs = KEYWORD)]
fn kspec_keyword(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// A key at 1, one after `STORE`, and a counted list after `KEYS`.
#[rmkit::command(name = "kspec.complex1", flags = "", key_specs = COMPLEX1)]
fn kspec_complex1(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Five specs (more than Redis keeps inline), the first not at a fixed index.
#[rmkit::command(name = "kspec.complex2", flags = "", key_specs = COMPLEX2)]
fn kspec_complex2(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}
