//! The one place in the toolkit that calls the C API (`redis_module::raw`). Everything above it
//! is safe Rust; every `unsafe` block here states the invariant it relies on.
//!
//! API pointers are never unwrapped blindly: the `api!` macro turns a missing one into a panic naming
//! the function, which the trampoline turns into an error reply, and `RedisModule_OnLoad`
//! checks the ones the toolkit needs up front so an old server fails the load with a clear
//! log line instead.

mod blocked;
mod call;
mod config;
mod context;
mod datatype;
mod events;
mod info;
mod key;
pub(crate) mod load;
mod string;
mod timer;

pub use blocked::{Locked, ThreadContext};
pub use call::{CallOptions, CallReply};
pub use context::{Context, LogLevel, Notify};
pub use datatype::{AofWriter, Digest, Measured, RdbReader, RdbWriter, TypeHandle, register_type};
pub use key::{Hash, Key, KeyKind};
pub use load::{ModuleDef, log, on_load, on_unload};
pub use string::{RedisStr, RedisString};
pub use timer::TimerId;

use crate::command::{Handler, arity_ok};
use crate::{Error, Reply};
use redis_module::raw;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Reads a C API function pointer, panicking with its name if the server did not provide it.
macro_rules! api {
    ($name:ident) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the fn-pointer statics are written once by RedisModule_Init (in OnLoad, before
        // any other toolkit code runs) and only read afterwards.
        let f = unsafe { ::redis_module::raw::$name };
        match f {
            Some(f) => f,
            None => $crate::ffi::missing_api(stringify!($name)),
        }
    }};
}
pub(crate) use api;

#[cold]
pub(crate) fn missing_api(name: &str) -> ! {
    panic!("this server does not provide {name}; rmkit needs Redis 7.0 or newer")
}

const OK: c_int = raw::REDISMODULE_OK as c_int;

/// The `extern "C"` function Redis calls for command `H`: checks arity, runs the handler inside
/// `catch_unwind`, sends its reply or error. A panic becomes `ERR command '<name>' panicked: ...`
/// for the client and a warning in the server log; the server keeps running.
///
/// # Safety
/// Only Redis calls this, with a valid context and `argc` valid argument strings.
pub unsafe extern "C" fn trampoline<H: Handler>(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: Redis passes a valid context for the duration of this call.
    let ctx = unsafe { Context::from_raw(ctx) };
    // SAFETY: Redis passes `argc` non-null strings that outlive this call.
    let args = unsafe { RedisStr::slice_from_raw(argv, argc) };
    if !arity_ok(H::ARITY, args.len()) {
        // SAFETY: valid context; Redis words the error itself.
        unsafe { api!(RedisModule_WrongArity)(ctx.as_ptr()) };
        return OK;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let reply = H::call(&ctx, args);
        match &reply {
            Ok(r) => ctx.send(r),
            Err(e) => ctx.send_error(e),
        }
        reply
    }));
    if let Err(payload) = outcome {
        let msg = panic_message(&*payload);
        ctx.send_error(&Error::new(format!(
            "command '{}' panicked: {msg} (see the server log)",
            H::NAME
        )));
        // A payload whose destructor panics would abort: leak it instead.
        std::mem::forget(payload);
    }
    OK
}

/// The text of a panic payload (`panic!("...")` gives `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

impl Context {
    /// Sends `reply` to the client.
    pub(crate) fn send(&self, reply: &Reply) {
        let ctx = self.as_ptr();
        // SAFETY (all arms): valid context; buffers are valid for the lengths passed and Redis
        // copies them before returning.
        unsafe {
            match reply {
                Reply::Null => api!(RedisModule_ReplyWithNull)(ctx),
                Reply::Ok => api!(RedisModule_ReplyWithSimpleString)(ctx, c"OK".as_ptr()),
                Reply::Simple(s) => {
                    let s = cstring_lossy(s);
                    api!(RedisModule_ReplyWithSimpleString)(ctx, s.as_ptr())
                }
                Reply::Integer(v) => api!(RedisModule_ReplyWithLongLong)(ctx, *v),
                Reply::Double(v) => api!(RedisModule_ReplyWithDouble)(ctx, *v),
                Reply::Bulk(b) => {
                    api!(RedisModule_ReplyWithStringBuffer)(ctx, b.as_ptr().cast(), b.len())
                }
                Reply::String(s) => api!(RedisModule_ReplyWithString)(ctx, s.as_ptr()),
                Reply::Array(items) => {
                    api!(RedisModule_ReplyWithArray)(ctx, items.len() as _);
                    items.iter().for_each(|item| self.send(item));
                    OK
                }
                Reply::Map(pairs) => {
                    api!(RedisModule_ReplyWithMap)(ctx, pairs.len() as _);
                    for (k, v) in pairs {
                        self.send(k);
                        self.send(v);
                    }
                    OK
                }
                Reply::Set(items) => {
                    api!(RedisModule_ReplyWithSet)(ctx, items.len() as _);
                    items.iter().for_each(|item| self.send(item));
                    OK
                }
                Reply::Bool(b) => api!(RedisModule_ReplyWithBool)(ctx, c_int::from(*b)),
                Reply::BigNumber(digits) => {
                    api!(RedisModule_ReplyWithBigNumber)(ctx, digits.as_ptr().cast(), digits.len())
                }
                Reply::Deferred => OK,
                Reply::Verbatim { format, text } => {
                    let ext = [format[0], format[1], format[2], 0];
                    api!(RedisModule_ReplyWithVerbatimStringType)(
                        ctx,
                        text.as_ptr().cast(),
                        text.len(),
                        ext.as_ptr().cast(),
                    )
                }
            }
        };
    }

    /// Sends `err` as an error reply.
    pub(crate) fn send_error(&self, err: &Error) {
        let msg = cstring_lossy(err.message());
        // SAFETY: valid context and NUL-terminated message, copied by Redis.
        unsafe { api!(RedisModule_ReplyWithError)(self.as_ptr(), msg.as_ptr()) };
    }
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

/// Writes the elements of an array reply whose length is not known in advance
/// ([`Context::stream_array`]).
pub struct ArrayWriter<'c> {
    ctx: &'c Context,
    len: usize,
}

impl ArrayWriter<'_> {
    /// Sends one element now.
    pub fn push(&mut self, item: impl Into<Reply>) {
        self.ctx.send(&item.into());
        self.len += 1;
    }

    /// Elements sent so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Context {
    /// Streams an array reply element by element (Redis's postponed array length): nothing is
    /// buffered in the module, which suits long results produced by a scan. Return the result
    /// of this call from the command.
    ///
    /// If `produce` fails or panics after some elements, the error becomes the array's last
    /// element (the array is always closed, so the connection stays in sync).
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result {
    /// ctx.stream_array(|out| {
    ///     for i in 0..1_000_000i64 {
    ///         out.push(i);
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn stream_array(
        &self,
        produce: impl FnOnce(&mut ArrayWriter<'_>) -> Result<(), Error>,
    ) -> crate::Result {
        // SAFETY: valid context; the postponed length is set below, exactly once.
        unsafe {
            api!(RedisModule_ReplyWithArray)(self.as_ptr(), raw::REDISMODULE_POSTPONED_LEN as _)
        };
        let mut w = ArrayWriter { ctx: self, len: 0 };
        let outcome = catch_unwind(AssertUnwindSafe(|| produce(&mut w)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(payload) => {
                let msg = panic_message(&*payload).to_owned();
                std::mem::forget(payload);
                log(
                    LogLevel::Warning,
                    &format!("rmkit: stream_array producer panicked: {msg}"),
                );
                Some(Error::new(format!(
                    "panicked while streaming: {msg} (see the server log)"
                )))
            }
        };
        if let Some(e) = failure {
            self.send_error(&e);
            w.len += 1;
        }
        // SAFETY: closes the postponed array opened above.
        unsafe { api!(RedisModule_ReplySetArrayLength)(self.as_ptr(), w.len as _) };
        Ok(Reply::Deferred)
    }
}
