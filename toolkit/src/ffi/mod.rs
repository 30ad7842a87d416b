//! The raw glue: the only module of the toolkit that may use `unsafe` (the crate root says
//! `#![deny(unsafe_code)]`; this module is the one `#[allow]`).
//!
//! It calls the C API through `redis_module::raw` and exposes two kinds of things to the rest
//! of the crate, both safe to use:
//! - **handle types** that can only be made here, from pointers Redis passed or returned, and
//!   whose lifetimes keep them from outliving what they point to: [`RawCtx`], string views
//!   ([`RedisStr`]), key handles ([`key::KeyHandle`]), RDB/AOF I/O ([`datatype::Io`]), ...;
//! - **one function per C call** on those handles (no policy: the topic modules above decide
//!   what a call means, which errors it has and what it returns to users);
//! - the `extern "C"` functions Redis calls (command trampolines, data type callbacks, config
//!   getters and setters, event dispatchers, timers, blocked-client callbacks), each running
//!   the Rust side inside [`guard`].
//!
//! API pointers are never unwrapped blindly: `api!` turns a missing one into a panic naming the
//! function (which the guards turn into an error reply or a log line); `RedisModule_OnLoad`
//! checks the ones the toolkit needs up front, so an old server fails the load with a clear
//! log line instead.
#![allow(unsafe_code)]

pub(crate) mod block;
pub(crate) mod call;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod ctx;
pub(crate) mod datatype;
pub(crate) mod events;
pub(crate) mod filter;
pub(crate) mod key;
pub(crate) mod keytypes;
pub(crate) mod module;
pub(crate) mod registry;
pub(crate) mod reply;
pub(crate) mod scan;
pub(crate) mod string;
pub(crate) mod thread;

pub use ctx::RawCtx;
pub use string::{RedisStr, RedisString};

use redis_module::raw;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Reads a C API function pointer, panicking with its name if the server did not provide it.
macro_rules! api {
    ($name:ident) => {{
        // SAFETY: the fn-pointer statics are written once by RedisModule_Init (in OnLoad, before
        // any other toolkit code runs) and only read afterwards.
        #[allow(unused_unsafe)]
        let f = unsafe { ::redis_module::raw::$name };
        match f {
            Some(f) => f,
            None => $crate::ffi::missing_api(stringify!($name)),
        }
    }};
}
pub(crate) use api;

/// Whether the server provides C API function `$name` (for features newer servers add).
macro_rules! has_api {
    ($name:ident) => {{
        // SAFETY: as in `api!`.
        #[allow(unused_unsafe)]
        let f = unsafe { ::redis_module::raw::$name };
        f.is_some()
    }};
}
pub(crate) use has_api;

/// Stores `f` in the first empty slot of a fixed table of callbacks (each slot has its own
/// monomorphised trampoline that Redis is given) and returns the slot; `None` if all are taken.
pub(crate) fn claim_slot(slots: &[std::sync::atomic::AtomicPtr<()>], f: *mut ()) -> Option<usize> {
    use std::sync::atomic::Ordering;
    slots.iter().position(|s| {
        s.compare_exchange(std::ptr::null_mut(), f, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

#[cold]
pub(crate) fn missing_api(name: &str) -> ! {
    panic!("this server does not provide {name}; rmkit needs Redis 7.0 or newer")
}

pub(crate) const OK: c_int = raw::REDISMODULE_OK as c_int;
pub(crate) const ERR: c_int = raw::REDISMODULE_ERR as c_int;

/// The one panic guard behind every callback Redis makes into Rust: runs `f`; if it panics,
/// logs `rmkit: <what> panicked: <message>` (the panic hook has already logged where) and
/// returns `None` — the caller answers with an error reply or a failure code where Redis allows
/// one. The payload is leaked, never dropped: a payload whose destructor panics would abort the
/// server, and a payload that is a type from this image must not outlive an unload.
pub(crate) fn guard<R>(what: impl std::fmt::Display, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            let msg = panic_message(&*payload).to_owned();
            std::mem::forget(payload);
            crate::log::log(
                crate::log::LogLevel::Warning,
                &format!("rmkit: {what} panicked: {msg}"),
            );
            PANICKED.with(|m| *m.borrow_mut() = Some(msg));
            None
        }
    }
}

thread_local! {
    /// The message of the last panic [`guard`] caught on this thread (for the error reply).
    static PANICKED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The message of the panic the last [`guard`] on this thread caught.
pub(crate) fn last_panic() -> String {
    PANICKED
        .with(|m| m.borrow_mut().take())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The text of a panic payload (`panic!("...")` gives `&str` or `String`), on one line.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "non-string panic payload"
    };
    text.replace(['\r', '\n'], " ")
}

/// Calls `f` with `s` as a NUL-terminated C string, on the stack when it is short (no heap
/// allocation on hot paths such as keyspace notifications), else as a [`cstring_lossy`].
#[inline]
pub(crate) fn with_cstr<R>(s: &str, f: impl FnOnce(*const std::os::raw::c_char) -> R) -> R {
    let mut buf = [0u8; 64];
    if s.len() < buf.len() && !s.as_bytes().contains(&0) {
        buf[..s.len()].copy_from_slice(s.as_bytes());
        f(buf.as_ptr().cast())
    } else {
        f(cstring_lossy(s).as_ptr())
    }
}

/// A C string of `s`, with any NUL bytes (which C would cut at) replaced by spaces.
pub(crate) fn cstring_lossy(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', " ")).expect("NULs were replaced")
}
