//! Blocked clients with a worker thread, thread-safe contexts and their lock, and timers.

use super::{OK, RawCtx, api, guard};
use crate::{Context, Error, Reply, Result};
use redis_module::raw;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

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

/// A thread-safe context of a worker thread. Not `Send`: it stays on the worker.
pub(crate) struct SafeCtx {
    ctx: NonNull<raw::RedisModuleCtx>,
    _not_send: PhantomData<*mut ()>,
}

/// The server lock, held while this lives.
pub(crate) struct LockedCtx<'t> {
    raw: RawCtx,
    _t: PhantomData<&'t SafeCtx>,
}

impl SafeCtx {
    /// Takes the server's lock (`RedisModule_ThreadSafeContextLock`).
    pub(crate) fn lock(&self) -> LockedCtx<'_> {
        // SAFETY: a thread-safe context of this worker; Lock pairs with Unlock in Drop.
        unsafe { api!(RedisModule_ThreadSafeContextLock)(self.ctx.as_ptr()) };
        LockedCtx {
            // SAFETY: the context is valid (and usable for keys) while the lock is held.
            raw: unsafe { RawCtx::from_raw(self.ctx.as_ptr()) },
            _t: PhantomData,
        }
    }
}

impl LockedCtx<'_> {
    /// The locked context (as a context of its own, for the lock's lifetime).
    pub(crate) fn context(&self) -> Context {
        // SAFETY: the same valid context, locked for as long as `self` lives, which the
        // returned value cannot outlive in the callers (they keep both together).
        Context::new(unsafe { RawCtx::from_raw(self.raw.as_ptr()) })
    }
}

impl Drop for LockedCtx<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock taken in `SafeCtx::lock`.
        unsafe { api!(RedisModule_ThreadSafeContextUnlock)(self.raw.as_ptr()) };
    }
}

/// The work of a blocked client: runs on the worker with its thread-safe context.
pub(crate) type Work = Box<dyn FnOnce(&SafeCtx) -> Result + Send>;

impl RawCtx {
    /// Blocks the calling client (`RedisModule_BlockClient`) and runs `work` on a new thread;
    /// its reply goes to the client when it returns. `Err` if the client cannot be blocked.
    pub(crate) fn block_on_thread(&self, timeout_ms: i64, work: Work) -> Result<()> {
        // SAFETY: a live command context; the callbacks are plain functions of this image.
        let bc = unsafe {
            api!(RedisModule_BlockClient)(
                self.as_ptr(),
                Some(on_reply),
                Some(on_timeout),
                Some(free_outcome),
                timeout_ms,
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
                        let safe = SafeCtx {
                            ctx,
                            _not_send: PhantomData,
                        };
                        let r = guard("worker thread", || work(&safe)).unwrap_or_else(|| {
                            Err(Error::new(format!(
                                "worker panicked: {} (see the server log)",
                                super::last_panic()
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
        Ok(())
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
            RawCtx::from_raw(ctx),
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
    OK
}

unsafe extern "C" fn on_timeout(
    ctx: *mut raw::RedisModuleCtx,
    _: *mut *mut raw::RedisModuleString,
    _: c_int,
) -> c_int {
    // SAFETY: the timeout callback's context.
    let ctx = unsafe { RawCtx::from_raw(ctx) };
    ctx.send_error(&Error::new(
        "timeout: the work took longer than the command allows",
    ));
    OK
}

unsafe extern "C" fn free_outcome(_: *mut raw::RedisModuleCtx, data: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the Outcome boxed by the worker, handed back exactly once.
        drop(unsafe { Box::from_raw(data as *mut Outcome) });
    }
}

/// A timer's closure.
pub(crate) type TimerFn = Box<dyn FnOnce(&Context)>;

impl RawCtx {
    /// `RedisModule_CreateTimer`: runs `callback` once after `ms` milliseconds.
    pub(crate) fn create_timer(&self, ms: i64, callback: TimerFn) -> u64 {
        let data: Box<TimerFn> = Box::new(callback);
        // SAFETY: a live context; Redis keeps `data` until the timer fires (reclaimed in
        // `fire`) or is stopped (reclaimed in `stop_timer`).
        unsafe {
            api!(RedisModule_CreateTimer)(self.as_ptr(), ms, Some(fire), Box::into_raw(data).cast())
        }
    }

    /// `RedisModule_StopTimer`: whether it was still pending (its closure is dropped).
    pub(crate) fn stop_timer(&self, id: u64) -> bool {
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: a live context; on success Redis hands back the data pointer we gave it.
        let r = unsafe { api!(RedisModule_StopTimer)(self.as_ptr(), id, &mut data) };
        if r == OK && !data.is_null() {
            // SAFETY: the Box<TimerFn> leaked by `create_timer`; Redis no longer holds it.
            drop(unsafe { Box::from_raw(data.cast::<TimerFn>()) });
            true
        } else {
            false
        }
    }
}

unsafe extern "C" fn fire(ctx: *mut raw::RedisModuleCtx, data: *mut c_void) {
    // SAFETY: Redis passes the data pointer from `create_timer` exactly once, when firing.
    let callback = unsafe { Box::from_raw(data.cast::<TimerFn>()) };
    // SAFETY: Redis passes a valid context for the duration of the callback.
    let ctx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    guard("timer callback", move || callback(&ctx));
}
