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

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, Ordering};

/// A yes/no parameter.
#[derive(Debug)]
pub struct BoolConfig {
    pub(crate) name: &'static str,
    pub(crate) default: bool,
    pub(crate) value: AtomicBool,
}

impl BoolConfig {
    /// A parameter `name` (the module name is prefixed by Redis) starting at `default`.
    pub const fn new(name: &'static str, default: bool) -> Self {
        BoolConfig {
            name,
            default,
            value: AtomicBool::new(default),
        }
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
        }
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
}

impl StringConfig {
    /// A parameter `name` starting at `default`.
    pub const fn new(name: &'static str, default: &'static str) -> Self {
        StringConfig {
            name,
            default,
            value: Mutex::new(None),
            returned: AtomicPtr::new(std::ptr::null_mut()),
        }
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
        }
    }
    /// The current value.
    pub fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
    /// The current value's name.
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

/// Registers configuration statics with the module (see the [module docs](self)).
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
