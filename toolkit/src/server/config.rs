//! Module configuration parameters (`CONFIG SET <module>.<name>`, `MODULE LOADEX ... CONFIG`),
//! collected with `linkme` from any linked crate.
//!
//! ```
//! use rmkit::server::config::{BoolConfig, EnumConfig, NumberConfig, StringConfig};
//!
//! /// Log every write.
//! pub static VERBOSE: BoolConfig = BoolConfig::new("verbose", false);
//! /// Largest document, in bytes.
//! pub static MAX_SIZE: NumberConfig = NumberConfig::new("max-size", 1 << 20, 0, 1 << 30);
//! /// Greeting text.
//! pub static GREETING: StringConfig = StringConfig::new("greeting", "hello");
//! /// Speed or safety.
//! pub static MODE: EnumConfig = EnumConfig::new("mode", &[("fast", 1), ("safe", 2)], 2);
//! rmkit::config!(VERBOSE, MAX_SIZE, GREETING, MODE);
//!
//! // Anywhere in the module (any thread):
//! if VERBOSE.get() && MAX_SIZE.get() > 0 && MODE.get() == 2 { /* ... */ }
//! # fn main() {}
//! ```
//! Each appears as `<module>.<name>` in `CONFIG GET`/`CONFIG SET`; values given with
//! `MODULE LOADEX path CONFIG <module>.<name> value` (or in redis.conf) apply at load.
//!
//! Builder methods (all `const`) add server flags and callbacks:
//! ```
//! use rmkit::Context;
//! use rmkit::server::config::{BoolConfig, EnumConfig, NumberConfig, StringConfig};
//!
//! fn no_admin(v: &str) -> Result<(), String> {
//!     if v.eq_ignore_ascii_case("admin") { Err("'admin' is reserved".into()) } else { Ok(()) }
//! }
//! fn check(_ctx: &Context) -> Result<(), String> {
//!     if LIMIT.get() == CACHE.get() { Err("limit and cache cannot be equal".into()) } else { Ok(()) }
//! }
//! /// Fixed at load (`CONFIG SET` answers "can't set immutable config").
//! pub static STRICT: BoolConfig = BoolConfig::new("strict", false).immutable();
//! /// Accepts `1mb`, `2gb`, ...; checked together with CACHE after every CONFIG SET.
//! pub static LIMIT: NumberConfig = NumberConfig::new("limit", 1024, 0, 1 << 30).memory().on_apply(check);
//! pub static CACHE: NumberConfig = NumberConfig::new("cache", 0, 0, 1 << 30).on_apply(check);
//! /// Hidden from `CONFIG GET *`, redacted in logs, never `admin`.
//! pub static USER: StringConfig = StringConfig::new("user", "guest").sensitive().hidden().validate(no_admin);
//! /// Several names at once: `CONFIG SET mymod.events "read write"`.
//! pub static EVENTS: EnumConfig = EnumConfig::new_flags("events", &[("read", 1), ("write", 2)], 3);
//! rmkit::config!(STRICT, LIMIT, CACHE, USER, EVENTS);
//! # fn main() {}
//! ```
//! `validate` runs before a value is stored: an `Err` refuses that `CONFIG SET` (or the load)
//! with its message and the value stays. `on_apply` runs once the whole `CONFIG SET` has stored
//! its values (and at load, after `LoadConfigs`); an `Err` makes Redis restore every value of that
//! `CONFIG SET` and reply with the message.

use crate::Context;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, Ordering};

/// A callback run after a `CONFIG SET` stored its values (`RedisModule_Register*Config`'s
/// `applyfn`); `Err` makes Redis restore the old values and reply with the message.
pub type ApplyFn = fn(&Context) -> Result<(), String>;

/// A check of a new value before it is stored (`validate`); `Err(message)` refuses it.
pub type Validate<T> = fn(T) -> Result<(), String>;

/// [`Validate`] for a [`StringConfig`] (the new value, borrowed).
pub type ValidateStr = fn(&str) -> Result<(), String>;

/// Server flags (`REDISMODULE_CONFIG_*`), kept as the toolkit's own bits.
pub(crate) mod flag {
    pub const IMMUTABLE: u32 = 1;
    pub const SENSITIVE: u32 = 2;
    pub const HIDDEN: u32 = 16;
    pub const PROTECTED: u32 = 32;
    pub const DENY_LOADING: u32 = 64;
    pub const MEMORY: u32 = 128;
    pub const BITFLAGS: u32 = 256;
}

macro_rules! common_builders {
    () => {
        /// Settable only at load (`MODULE LOADEX ... CONFIG`, redis.conf): `CONFIG SET` is
        /// refused with "can't set immutable config".
        pub const fn immutable(mut self) -> Self {
            self.flags |= flag::IMMUTABLE;
            self
        }
        /// Holds a secret (`REDISMODULE_CONFIG_SENSITIVE`). Redis 7.0 and Valkey 8.1 accept the
        /// flag but drop it when they register the config (their `maskModuleConfigFlags` does
        /// not carry it over): the value is *not* redacted from `SLOWLOG`/`MONITOR` on these
        /// servers, so do not rely on it to hide a secret.
        pub const fn sensitive(mut self) -> Self {
            self.flags |= flag::SENSITIVE;
            self
        }
        /// Left out of `CONFIG GET <pattern>` (only its full name shows it).
        pub const fn hidden(mut self) -> Self {
            self.flags |= flag::HIDDEN;
            self
        }
        /// Becomes immutable when the server runs with `enable-protected-configs no`.
        pub const fn protected(mut self) -> Self {
            self.flags |= flag::PROTECTED;
            self
        }
        /// `CONFIG SET` is refused while the server loads its data.
        pub const fn deny_loading(mut self) -> Self {
            self.flags |= flag::DENY_LOADING;
            self
        }
        /// Runs `f` after every `CONFIG SET` that changed this parameter (see the
        /// [module docs](crate::server::config)).
        pub const fn on_apply(mut self, f: ApplyFn) -> Self {
            self.apply = Some(f);
            self
        }
    };
}

/// A yes/no parameter.
#[derive(Debug)]
pub struct BoolConfig {
    pub(crate) name: &'static str,
    pub(crate) default: bool,
    pub(crate) value: AtomicBool,
    pub(crate) flags: u32,
    pub(crate) validate: Option<Validate<bool>>,
    pub(crate) apply: Option<ApplyFn>,
}

impl BoolConfig {
    /// A parameter `name` (the module name is prefixed by Redis) starting at `default`.
    pub const fn new(name: &'static str, default: bool) -> Self {
        BoolConfig {
            name,
            default,
            value: AtomicBool::new(default),
            flags: 0,
            validate: None,
            apply: None,
        }
    }
    common_builders!();
    /// Checks a new value before it is stored: `Err(message)` refuses it.
    pub const fn validate(mut self, f: Validate<bool>) -> Self {
        self.validate = Some(f);
        self
    }
    /// The current value.
    pub fn get(&self) -> bool {
        self.value.load(Ordering::Relaxed)
    }
    /// For [`config!`](crate::config!).
    pub const fn as_config(&'static self) -> ConfigRef {
        ConfigRef::Bool(self)
    }
}

/// An integer parameter with bounds (Redis rejects values outside them, with its own message).
#[derive(Debug)]
pub struct NumberConfig {
    pub(crate) name: &'static str,
    pub(crate) default: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
    pub(crate) value: AtomicI64,
    pub(crate) flags: u32,
    pub(crate) validate: Option<Validate<i64>>,
    pub(crate) apply: Option<ApplyFn>,
}

impl NumberConfig {
    /// A parameter `name` in `min..=max` starting at `default`. A default outside the bounds
    /// (or `min > max`) does not compile.
    pub const fn new(name: &'static str, default: i64, min: i64, max: i64) -> Self {
        if min > max {
            panic!("NumberConfig: min is greater than max");
        }
        if default < min || default > max {
            panic!("NumberConfig: the default is outside min..=max");
        }
        NumberConfig {
            name,
            default,
            min,
            max,
            value: AtomicI64::new(default),
            flags: 0,
            validate: None,
            apply: None,
        }
    }
    common_builders!();
    /// Accepts memory units (`CONFIG SET x 1mb` stores 1048576); a negative value is refused
    /// ("argument must be a memory value"), so a negative default does not compile.
    pub const fn memory(mut self) -> Self {
        if self.default < 0 {
            panic!("NumberConfig::memory: a memory value cannot be negative (the default is)");
        }
        self.flags |= flag::MEMORY;
        self
    }
    /// Checks a new value (already within the bounds) before it is stored: `Err(message)`
    /// refuses it.
    pub const fn validate(mut self, f: Validate<i64>) -> Self {
        self.validate = Some(f);
        self
    }
    /// The current value.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
    /// For [`config!`](crate::config!).
    pub const fn as_config(&'static self) -> ConfigRef {
        ConfigRef::Number(self)
    }
}

/// A text parameter (UTF-8).
#[derive(Debug)]
pub struct StringConfig {
    pub(crate) name: &'static str,
    pub(crate) default: &'static str,
    pub(crate) value: Mutex<Option<String>>,
    /// The `RedisModuleString` last handed to Redis by the getter (owned by the toolkit).
    pub(crate) returned: AtomicPtr<std::ffi::c_void>,
    pub(crate) flags: u32,
    pub(crate) validate: Option<ValidateStr>,
    pub(crate) apply: Option<ApplyFn>,
}

impl StringConfig {
    /// A parameter `name` starting at `default`.
    pub const fn new(name: &'static str, default: &'static str) -> Self {
        StringConfig {
            name,
            default,
            value: Mutex::new(None),
            returned: AtomicPtr::new(std::ptr::null_mut()),
            flags: 0,
            validate: None,
            apply: None,
        }
    }
    common_builders!();
    /// Checks a new value before it is stored: `Err(message)` refuses it (the `CONFIG SET`
    /// error, or the line in the log for a value given at load).
    pub const fn validate(mut self, f: ValidateStr) -> Self {
        self.validate = Some(f);
        self
    }
    /// The current value.
    pub fn get(&self) -> String {
        match self.value.lock() {
            Ok(v) => v.clone().unwrap_or_else(|| self.default.to_owned()),
            Err(_) => self.default.to_owned(),
        }
    }
    pub(crate) fn set(&self, v: String) {
        if let Ok(mut g) = self.value.lock() {
            *g = Some(v);
        }
    }
    /// For [`config!`](crate::config!).
    pub const fn as_config(&'static self) -> ConfigRef {
        ConfigRef::String(self)
    }
}

/// One of a fixed set of names, each mapped to an integer.
#[derive(Debug)]
pub struct EnumConfig {
    pub(crate) name: &'static str,
    pub(crate) choices: &'static [(&'static str, i32)],
    pub(crate) default: i32,
    pub(crate) value: AtomicI32,
    pub(crate) flags: u32,
    pub(crate) validate: Option<Validate<i32>>,
    pub(crate) apply: Option<ApplyFn>,
}

impl EnumConfig {
    /// A parameter `name` choosing among `choices` (name, value), starting at value `default`.
    /// A default that is none of the choices (or no choices) does not compile.
    pub const fn new(
        name: &'static str,
        choices: &'static [(&'static str, i32)],
        default: i32,
    ) -> Self {
        let mut i = 0;
        let mut found = false;
        while i < choices.len() {
            if choices[i].1 == default {
                found = true;
            }
            i += 1;
        }
        if !found {
            panic!("EnumConfig: the default is not the value of any choice");
        }
        EnumConfig {
            name,
            choices,
            default,
            value: AtomicI32::new(default),
            flags: 0,
            validate: None,
            apply: None,
        }
    }
    common_builders!();
    /// A parameter `name` taking several of `choices` at once (`CONFIG SET x "a b"`,
    /// `REDISMODULE_CONFIG_BITFLAGS`): the value is the OR of their integers, and `CONFIG GET`
    /// shows names whose values make it up. The values should be bits (a value `0` names "none
    /// of them"). A `default` with a bit no choice has does not compile.
    pub const fn new_flags(
        name: &'static str,
        choices: &'static [(&'static str, i32)],
        default: i32,
    ) -> Self {
        let mut all = 0;
        let mut i = 0;
        while i < choices.len() {
            all |= choices[i].1;
            i += 1;
        }
        if choices.is_empty() || default & !all != 0 {
            panic!("EnumConfig: the default has a bit that no choice has");
        }
        EnumConfig {
            name,
            choices,
            default,
            value: AtomicI32::new(default),
            flags: flag::BITFLAGS,
            validate: None,
            apply: None,
        }
    }
    /// Checks a new value before it is stored: `Err(message)` refuses it.
    pub const fn validate(mut self, f: Validate<i32>) -> Self {
        self.validate = Some(f);
        self
    }
    /// The current value.
    pub fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
    /// The current value's name ("" if no choice has exactly this value, e.g. a combination
    /// of a [`new_flags`](Self::new_flags) config).
    pub fn get_name(&self) -> &'static str {
        let v = self.get();
        self.choices
            .iter()
            .find(|(_, x)| *x == v)
            .map_or("", |(n, _)| n)
    }
    /// For [`config!`](crate::config!).
    pub const fn as_config(&'static self) -> ConfigRef {
        ConfigRef::Enum(self)
    }
}

/// A registered parameter of any kind.
#[derive(Debug, Clone, Copy)]
pub enum ConfigRef {
    /// A [`BoolConfig`].
    Bool(&'static BoolConfig),
    /// A [`NumberConfig`].
    Number(&'static NumberConfig),
    /// A [`StringConfig`].
    String(&'static StringConfig),
    /// An [`EnumConfig`].
    Enum(&'static EnumConfig),
}

impl ConfigRef {
    /// The parameter's name (without the module prefix).
    pub fn name(&self) -> &'static str {
        match self {
            ConfigRef::Bool(c) => c.name,
            ConfigRef::Number(c) => c.name,
            ConfigRef::String(c) => c.name,
            ConfigRef::Enum(c) => c.name,
        }
    }

    pub(crate) fn flags(&self) -> u32 {
        match self {
            ConfigRef::Bool(c) => c.flags,
            ConfigRef::Number(c) => c.flags,
            ConfigRef::String(c) => c.flags,
            ConfigRef::Enum(c) => c.flags,
        }
    }

    pub(crate) fn apply(&self) -> Option<ApplyFn> {
        match self {
            ConfigRef::Bool(c) => c.apply,
            ConfigRef::Number(c) => c.apply,
            ConfigRef::String(c) => c.apply,
            ConfigRef::Enum(c) => c.apply,
        }
    }

    /// Back to the default (at every load: statics may survive an unload).
    pub(crate) fn reset(&self) {
        match self {
            ConfigRef::Bool(c) => c.value.store(c.default, Ordering::Relaxed),
            ConfigRef::Number(c) => c.value.store(c.default, Ordering::Relaxed),
            ConfigRef::String(c) => {
                if let Ok(mut g) = c.value.lock() {
                    *g = None;
                }
            }
            ConfigRef::Enum(c) => c.value.store(c.default, Ordering::Relaxed),
        }
    }
}

#[doc(hidden)]
pub use crate::ffi::registry::CONFIGS;

/// Runs each distinct `on_apply` callback once (at load, after the values given at load were
/// applied); the first `Err` fails the load.
pub(crate) fn run_apply_callbacks(ctx: &Context) -> Result<(), String> {
    let mut done: Vec<ApplyFn> = Vec::new();
    for c in CONFIGS.iter() {
        let Some(f) = c.apply() else { continue };
        if done.iter().any(|g| std::ptr::fn_addr_eq(*g, f)) {
            continue;
        }
        done.push(f);
        match crate::ffi::guard("a config apply callback", || f(ctx)) {
            Some(Ok(())) => {}
            Some(Err(msg)) => {
                return Err(format!("configuration parameter '{}': {msg}", c.name()));
            }
            None => return Err("a config apply callback panicked (see the line above)".into()),
        }
    }
    Ok(())
}

/// Registers configuration statics with the module (see the [module docs](crate::server::config)).
#[macro_export]
macro_rules! config {
    ($($name:path),+ $(,)?) => {
        $(
            const _: () = {
                #[$crate::__private::linkme::distributed_slice($crate::server::config::CONFIGS)]
                #[linkme(crate = $crate::__private::linkme)]
                static ENTRY: $crate::server::config::ConfigRef = $name.as_config();
            };
        )+
    };
}
