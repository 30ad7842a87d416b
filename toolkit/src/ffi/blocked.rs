//! Blocked clients: run slow work on a thread while the server serves others, then reply.

use super::{Context, LogLevel, api, log, panic_message};
use crate::{Error, Reply, Result};
use redis_module::raw;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::time::Duration;

/// A reply computed on a worker thread. `Reply::String` (a Redis-owned string) is turned into
/// plain bytes before it crosses, so nothing Redis owns is shared between threads.
struct Outcome(Result<Reply>);

// SAFETY: `sendable` below removes every `Reply::String`; the other variants own only Rust data.
unsafe impl Send for Outcome {}

fn sendable(r: Reply) -> Reply {
    match r {
        Reply::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Reply::Array(v) => Reply::Array(v.into_iter().map(sendable).collect()),
        Reply::Set(v) => Reply::Set(v.into_iter().map(sendable).collect()),
        Reply::Map(v) => Reply::Map(
            v.into_iter()
                .map(|(k, v)| (sendable(k), sendable(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The blocked client handle, usable from the worker thread.
struct Handle(NonNull<raw::RedisModuleBlockedClient>);

// SAFETY: Redis documents blocked-client handles (UnblockClient, GetThreadSafeContext) as
// usable from any thread.
unsafe impl Send for Handle {}

/// What a worker thread gets: a way to touch the keyspace under the server's lock.
pub struct ThreadContext {
    ctx: NonNull<raw::RedisModuleCtx>,
    _not_send: PhantomData<*mut ()>,
}

/// The server lock, held while this lives; derefs to a [`Context`] to open keys or call commands.
pub struct Locked<'t> {
    ctx: Context,
    _t: PhantomData<&'t ThreadContext>,
}

impl ThreadContext {
    /// Takes the server's lock (the main thread pauses between commands while it is held) and
    /// gives access to the keyspace. Keep it short.
    pub fn lock(&self) -> Locked<'_> {
        // SAFETY: a thread-safe context of this worker; Lock pairs with Unlock in Locked's Drop.
        unsafe { api!(RedisModule_ThreadSafeContextLock)(self.ctx.as_ptr()) };
        // SAFETY: the context is valid while the lock is held.
        Locked {
            ctx: unsafe { Context::from_raw(self.ctx.as_ptr()) },
            _t: PhantomData,
        }
    }
}

impl Deref for Locked<'_> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock taken in `ThreadContext::lock`.
        unsafe { api!(RedisModule_ThreadSafeContextUnlock)(self.ctx.as_ptr()) };
    }
}

impl Context {
    /// Blocks the calling client and runs `work` on a new thread; the server keeps serving other
    /// clients meanwhile. When `work` returns, its reply (or error) goes to the client. A panic
    /// in `work` becomes `ERR worker panicked: ...` plus a log line. With a non-zero `timeout`
    /// the client gets `ERR timeout: the work took longer than ...` if `work` is still running.
    ///
    /// Return the value of this call from the command (it is [`Reply::Deferred`]).
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result {
    /// ctx.block_on_thread(std::time::Duration::ZERO, |tctx| {
    ///     let answer = 6 * 7; // slow work here, without the lock
    ///     let _locked = tctx.lock(); // then touch keys briefly if needed
    ///     Ok(rmkit::Reply::Integer(answer))
    /// })
    /// # }
    /// ```
    pub fn block_on_thread<F>(&self, timeout: Duration, work: F) -> Result
    where
        F: FnOnce(&ThreadContext) -> Result + Send + 'static,
    {
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // SAFETY: valid command context; the callbacks are plain functions of this image.
        let bc = unsafe {
            api!(RedisModule_BlockClient)(
                self.as_ptr(),
                Some(on_reply),
                Some(on_timeout),
                Some(free_outcome),
                ms,
            )
        };
        let handle = Handle(NonNull::new(bc).ok_or_else(|| {
            Error::new("this client cannot be blocked here (MULTI, a script, or a replica)")
        })?);
        let spawned = std::thread::Builder::new()
            .name("rmkit-worker".into())
            .spawn(move || {
                let handle = handle;
                // SAFETY: a live blocked client; the thread-safe context is freed below.
                let tctx = unsafe { api!(RedisModule_GetThreadSafeContext)(handle.0.as_ptr()) };
                let outcome = match NonNull::new(tctx) {
                    None => Err(Error::new("RedisModule_GetThreadSafeContext failed")),
                    Some(ctx) => {
                        let t = ThreadContext {
                            ctx,
                            _not_send: PhantomData,
                        };
                        let r =
                            catch_unwind(AssertUnwindSafe(|| work(&t))).unwrap_or_else(|payload| {
                                let msg = panic_message(&*payload).to_owned();
                                std::mem::forget(payload);
                                log(
                                    LogLevel::Warning,
                                    &format!("rmkit: worker thread panicked: {msg}"),
                                );
                                Err(Error::new(format!(
                                    "worker panicked: {msg} (see the server log)"
                                )))
                            });
                        // SAFETY: the thread-safe context created above, no longer used.
                        unsafe { api!(RedisModule_FreeThreadSafeContext)(ctx.as_ptr()) };
                        r.map(sendable)
                    }
                };
                let data = Box::into_raw(Box::new(Outcome(outcome)));
                // SAFETY: unblocks once; Redis hands `data` to on_reply, then to free_outcome.
                unsafe { api!(RedisModule_UnblockClient)(handle.0.as_ptr(), data.cast()) };
            });
        if let Err(e) = spawned {
            // The closure (and the handle) is gone: the client would stay blocked forever, so
            // unblock it here with an error outcome instead.
            let data = Box::into_raw(Box::new(Outcome(Err(Error::new(format!(
                "cannot start a worker thread: {e}"
            ))))));
            // SAFETY: `bc` is the live blocked client created above and nothing else will
            // unblock it; Redis hands `data` to on_reply, then to free_outcome.
            unsafe { api!(RedisModule_UnblockClient)(bc, data.cast()) };
        }
        Ok(Reply::Deferred)
    }
}

unsafe extern "C" fn on_reply(
    ctx: *mut raw::RedisModuleCtx,
    _: *mut *mut raw::RedisModuleString,
    _: c_int,
) -> c_int {
    // SAFETY: the reply callback's context; its private data is our Outcome (or NULL).
    let (ctx, data) = unsafe {
        (
            Context::from_raw(ctx),
            api!(RedisModule_GetBlockedClientPrivateData)(ctx),
        )
    };
    if data.is_null() {
        ctx.send_error(&Error::new("the worker returned nothing"));
    } else {
        // SAFETY: the Outcome boxed by the worker; freed later by free_outcome.
        match unsafe { &(*(data as *const Outcome)).0 } {
            Ok(r) => ctx.send(r),
            Err(e) => ctx.send_error(e),
        }
    }
    raw::REDISMODULE_OK as c_int
}

unsafe extern "C" fn on_timeout(
    ctx: *mut raw::RedisModuleCtx,
    _: *mut *mut raw::RedisModuleString,
    _: c_int,
) -> c_int {
    // SAFETY: the timeout callback's context.
    let ctx = unsafe { Context::from_raw(ctx) };
    ctx.send_error(&Error::new(
        "timeout: the work took longer than the command allows",
    ));
    raw::REDISMODULE_OK as c_int
}

unsafe extern "C" fn free_outcome(_: *mut raw::RedisModuleCtx, data: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the Outcome boxed by the worker, handed back exactly once.
        drop(unsafe { Box::from_raw(data as *mut Outcome) });
    }
}
