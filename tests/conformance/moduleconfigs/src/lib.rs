//! Port of Redis 7.0's `tests/modules/moduleconfigs.c`: one config of each kind (bool,
//! immutable bool, string, enum, bitflags enum, memory number, number), a value the string's
//! setter refuses, apply callbacks that refuse combinations, and the `noload` argument that
//! skips `RedisModule_LoadConfigs` (Redis then fails a load that was given config values).
#![forbid(unsafe_code)]

use rmkit::Context;
use rmkit::module::Load;
use rmkit::server::config::{BoolConfig, EnumConfig, NumberConfig, StringConfig};

rmkit::module! { name: "moduleconfigs", version: 1 }

const CHOICES: &[(&str, i32)] = &[
    ("none", 0),
    ("five", 5),
    ("one", 1),
    ("two", 2),
    ("four", 4),
];

/// Settable at runtime; cannot be yes together with `immutable_bool`.
pub static MUTABLE_BOOL: BoolConfig = BoolConfig::new("mutable_bool", true).on_apply(bool_apply);
/// Settable only at load.
pub static IMMUTABLE_BOOL: BoolConfig = BoolConfig::new("immutable_bool", false)
    .immutable()
    .on_apply(bool_apply);
/// Any text but `rejectisfreed`.
pub static STRING: StringConfig =
    StringConfig::new("string", "secret password").validate(reject_is_freed);
/// One of the choices.
pub static ENUM: EnumConfig = EnumConfig::new("enum", CHOICES, 1);
/// Any combination of the choices.
pub static FLAGS: EnumConfig = EnumConfig::new_flags("flags", CHOICES, 3);
/// A memory value (`1mb`); cannot equal `numeric`.
pub static MEMORY_NUMERIC: NumberConfig = NumberConfig::new("memory_numeric", 1024, 0, 3_000_000)
    .memory()
    .on_apply(longlong_apply);
/// A number in -5..=2000; cannot equal `memory_numeric`.
pub static NUMERIC: NumberConfig =
    NumberConfig::new("numeric", -1, -5, 2000).on_apply(longlong_apply);

rmkit::config!(
    MUTABLE_BOOL,
    IMMUTABLE_BOOL,
    STRING,
    ENUM,
    FLAGS,
    MEMORY_NUMERIC,
    NUMERIC
);

fn reject_is_freed(v: &str) -> Result<(), String> {
    if v.eq_ignore_ascii_case("rejectisfreed") {
        Err("Cannot set string to 'rejectisfreed'".into())
    } else {
        Ok(())
    }
}

fn bool_apply(_: &Context) -> Result<(), String> {
    if MUTABLE_BOOL.get() && IMMUTABLE_BOOL.get() {
        Err("Bool configs cannot both be yes.".into())
    } else {
        Ok(())
    }
}

fn longlong_apply(_: &Context) -> Result<(), String> {
    if NUMERIC.get() == MEMORY_NUMERIC.get() {
        Err("These configs cannot equal each other.".into())
    } else {
        Ok(())
    }
}

/// `noload` as the first argument: the values given at load are not applied.
fn on_load(load: &mut Load) -> Result<(), String> {
    if load
        .args()
        .first()
        .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(b"noload"))
    {
        load.skip_load_configs();
    }
    Ok(())
}
rmkit::on_load!(on_load);
