//! # rmkit — Redis modules in Rust whose every byte Redis can see
//!
//! A complete module:
//!
//! ```
//! use rmkit::prelude::*;
//!
//! rmkit::module! { name: "greet", version: 1 }
//!
//! rmkit::command! {
//!     /// Store a greeting for a user in a hash and return the previous one.
//!     name: "greet.set", flags: "write fast deny-oom", arity: 3, keys: (1, 1, 1),
//!     fn greet_set(ctx, args) {
//!         let key = ctx.open_key_writable(&args[1]);
//!         let hash = key.hash()?;                       // WRONGTYPE if not a hash
//!         let field = RedisString::new(b"greeting");
//!         let old = hash.get(&field);
//!         hash.set(&field, &args[2])?;
//!         ctx.replicate_verbatim();
//!         Ok(old.into())                                // nil when there was none
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! - [`module!`] emits `RedisModule_OnLoad`/`OnUnload` and makes
//!   [`RedisAllocator`](alloc::RedisAllocator) the global allocator: every Rust allocation of the
//!   module goes through `RedisModule_Alloc`, so `maxmemory`, eviction and `INFO memory` see it.
//! - [`command!`] declares a command in any crate linked into the module (collected with
//!   `linkme`; no table, no limit). Arity is checked before the body runs, errors use Redis's
//!   wording, and a panic becomes an `ERR` reply plus a server log line — never a crash.
//! - Every module also gets `<module>.memory` and an `INFO <module>_alloc` section with the
//!   allocator's counters.
//! - The `log` crate writes to the server log (`log::info!` → `notice`, and so on).
//!
//! A crate that only contributes commands must still be referenced by the module crate
//! (`use that_crate as _;`), or the linker drops it and its commands with it.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod args;
pub mod command;
pub mod config;
pub mod datatype;
pub mod error;
pub mod events;
pub mod ffi;
pub mod lifecycle;
mod logger;
mod memory;
mod reply;

pub use command::{Arg, COMMANDS, CommandDef, CommandInfo, KeySpec};
pub use error::{Error, Result};
pub use ffi::{Context, Hash, Key, KeyKind, LogLevel, Notify, RedisStr, RedisString, TimerId, log};
pub use reply::Reply;

/// The allocator crate (`rmkit-alloc`): counters, [`measure`](alloc::measure).
pub use rmkit_alloc as alloc;

#[doc(hidden)]
pub use linkme;
#[doc(hidden)]
pub use redis_module::raw as __raw;

/// What a module file usually needs.
pub mod prelude {
    pub use crate::datatype::DataType;
    pub use crate::ffi::{AofWriter, Digest, RdbReader, RdbWriter};
    pub use crate::{Context, Error, KeyKind, Notify, RedisStr, RedisString, Reply, Result};
}

/// Declares the module: its name and version, `RedisModule_OnLoad`/`OnUnload`, and the global
/// allocator.
///
/// ```
/// rmkit::module! { name: "mymod", version: 1 }
/// # fn main() {}
/// ```
/// `allocator: System` keeps Rust's system allocator instead (module memory is then invisible
/// to Redis — useful only to show the difference):
/// ```
/// rmkit::module! { name: "mymod", version: 1, allocator: System }
/// # fn main() {}
/// ```
/// The name must be 1–64 bytes of `[A-Za-z0-9_-]`; anything else fails to compile.
#[macro_export]
macro_rules! module {
    (name: $name:literal, version: $version:expr $(,)?) => {
        $crate::module!(@emit $name, $version, true);
        #[global_allocator]
        static __RMKIT_GLOBAL_ALLOCATOR: $crate::alloc::RedisAllocator =
            $crate::alloc::RedisAllocator::new();
    };
    (name: $name:literal, version: $version:expr, allocator: System $(,)?) => {
        $crate::module!(@emit $name, $version, false);
        #[global_allocator]
        static __RMKIT_GLOBAL_ALLOCATOR: ::std::alloc::System = ::std::alloc::System;
    };
    (@emit $name:literal, $version:expr, $redis_allocator:expr) => {
        const _: () = assert!(
            $crate::valid_module_name($name),
            "module name must be 1-64 bytes of [A-Za-z0-9_-]"
        );
        static __RMKIT_MODULE: $crate::ffi::ModuleDef = $crate::ffi::ModuleDef {
            name: match ::std::ffi::CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                Ok(name) => name,
                Err(_) => panic!("module name contains NUL"),
            },
            version: $version,
            redis_allocator: $redis_allocator,
        };

        /// Called by Redis on `MODULE LOAD` / `--loadmodule`.
        ///
        /// # Safety
        /// Only Redis calls this.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn RedisModule_OnLoad(
            ctx: *mut $crate::__raw::RedisModuleCtx,
            argv: *mut *mut $crate::__raw::RedisModuleString,
            argc: ::std::os::raw::c_int,
        ) -> ::std::os::raw::c_int {
            // SAFETY: forwarded from Redis.
            unsafe { $crate::ffi::on_load(ctx, argv, argc, &__RMKIT_MODULE) }
        }

        /// Called by Redis on `MODULE UNLOAD`.
        ///
        /// # Safety
        /// Only Redis calls this.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn RedisModule_OnUnload(
            ctx: *mut $crate::__raw::RedisModuleCtx,
        ) -> ::std::os::raw::c_int {
            // SAFETY: forwarded from Redis.
            unsafe { $crate::ffi::on_unload(ctx) }
        }
    };
}

/// Whether `name` is a valid module name (1–64 bytes of `[A-Za-z0-9_-]`); used by [`module!`]
/// at compile time.
pub const fn valid_module_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name_chars_ok(name)
}

/// Whether every byte of `name` is in `[A-Za-z0-9_-]` (module and data type names).
pub(crate) const fn name_chars_ok(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
