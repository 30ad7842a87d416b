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
        Reply::Attributed { attributes, reply } => Reply::Attributed {
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (sendable(k), sendable(v)))
                .collect(),
            reply: Box::new(sendable(*reply)),
        },
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
        lock_ctx(self.ctx)
    }
}

thread_local! {
    /// Whether this thread holds the server lock: the main thread always does while module
    /// code runs on it (set at load), a worker between `lock` and the guard's drop. Locking
    /// again would deadlock (the lock is not reentrant).
    static HOLDS_LOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread (the one that runs `RedisModule_OnLoad`: the main thread) as
/// holding the server lock whenever it runs module code.
pub(crate) fn mark_main_thread() {
    HOLDS_LOCK.with(|h| h.set(true));
}

/// Whether the calling thread holds the server lock (the main thread, or a locked worker).
pub(crate) fn holds_lock() -> bool {
    HOLDS_LOCK.with(|h| h.get())
}

fn lock_ctx<'t>(ctx: NonNull<raw::RedisModuleCtx>) -> LockedCtx<'t> {
    if holds_lock() {
        panic!(
            "the server lock is already held by this thread (the main thread, or a guard from \
             lock() still alive): locking again would deadlock; use the Context you have"
        );
    }
    // SAFETY: a thread-safe context owned by the caller; Lock pairs with Unlock in Drop.
    unsafe { api!(RedisModule_ThreadSafeContextLock)(ctx.as_ptr()) };
    HOLDS_LOCK.with(|h| h.set(true));
    free_pending_detached();
    LockedCtx {
        // SAFETY: the context is valid (and usable for keys) while the lock is held.
        raw: unsafe { RawCtx::from_raw(ctx.as_ptr()) },
        _t: PhantomData,
    }
}

fn try_lock_ctx<'t>(ctx: NonNull<raw::RedisModuleCtx>) -> Option<LockedCtx<'t>> {
    if holds_lock() {
        return None;
    }
    // SAFETY: as in `lock_ctx`; on OK the lock is ours and pairs with Unlock in Drop.
    let r = unsafe { api!(RedisModule_ThreadSafeContextTryLock)(ctx.as_ptr()) };
    if r != OK {
        return None;
    }
    HOLDS_LOCK.with(|h| h.set(true));
    free_pending_detached();
    Some(LockedCtx {
        // SAFETY: as in `lock_ctx`.
        raw: unsafe { RawCtx::from_raw(ctx.as_ptr()) },
        _t: PhantomData,
    })
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
        HOLDS_LOCK.with(|h| h.set(false));
        // SAFETY: the lock taken in `lock_ctx`/`try_lock_ctx`.
        unsafe { api!(RedisModule_ThreadSafeContextUnlock)(self.raw.as_ptr()) };
    }
}

/// How many detached contexts are alive: `MODULE UNLOAD` is refused while any is (a thread
/// holding one runs this image's code).
pub(crate) static LIVE_DETACHED: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// A detached thread-safe context (`RedisModule_GetDetachedThreadSafeContext`), owned: for a
/// thread the module runs itself. Used only under the lock (see [`DetachedCtx::lock`]).
pub(crate) struct DetachedCtx {
    ctx: NonNull<raw::RedisModuleCtx>,
}

// SAFETY: Redis documents thread-safe contexts as usable from any thread; every use of this one
// (other than taking the lock) happens while its owner holds the server lock, and it is not
// `Sync`, so one thread at a time owns it.
unsafe impl Send for DetachedCtx {}

impl RawCtx {
    /// `RedisModule_GetDetachedThreadSafeContext` for this context's module.
    pub(crate) fn detached(&self) -> Result<DetachedCtx> {
        if !super::has_api!(RedisModule_GetDetachedThreadSafeContext) {
            return Err(Error::new(
                "this server has no detached thread-safe contexts (Redis 6.2 or later)",
            ));
        }
        // SAFETY: a live context of this module, on the main thread (or locked).
        let ctx = unsafe { api!(RedisModule_GetDetachedThreadSafeContext)(self.as_ptr()) };
        let ctx = NonNull::new(ctx)
            .ok_or_else(|| Error::new("RedisModule_GetDetachedThreadSafeContext failed"))?;
        LIVE_DETACHED.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(DetachedCtx { ctx })
    }
}

impl DetachedCtx {
    /// Takes the server lock; panics if this thread already holds it (a deadlock otherwise).
    pub(crate) fn lock(&mut self) -> LockedCtx<'_> {
        lock_ctx(self.ctx)
    }

    /// The lock if it is free now (and this thread does not hold it).
    pub(crate) fn try_lock(&mut self) -> Option<LockedCtx<'_>> {
        try_lock_ctx(self.ctx)
    }
}

impl Drop for DetachedCtx {
    fn drop(&mut self) {
        // Freeing the context frees its client, which touches server state: only under the
        // lock. Waiting for the lock here could deadlock (the main thread may be waiting for
        // this thread), so without it the context is queued and freed by the next holder.
        if holds_lock() {
            // SAFETY: our context, freed once, under the server lock; nothing uses it after.
            unsafe { free_detached(self.ctx) };
        } else if let Some(_lock) = try_lock_ctx(self.ctx) {
            // `_lock` (which only holds the pointer value) is released after the free: the
            // drain inside `try_lock_ctx` ran first, and Unlock does not read the context.
            // SAFETY: as above, under the lock just taken.
            unsafe { free_detached(self.ctx) };
        } else {
            if let Ok(mut q) = PENDING_FREE.lock() {
                q.push(SendPtr(self.ctx));
            }
            HAS_PENDING.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Frees a detached context and counts it gone.
///
/// # Safety
/// The caller holds the server lock; `ctx` is a detached context no one uses any more.
unsafe fn free_detached(ctx: NonNull<raw::RedisModuleCtx>) {
    // SAFETY: per the contract.
    unsafe { api!(RedisModule_FreeThreadSafeContext)(ctx.as_ptr()) };
    LIVE_DETACHED.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
}

/// A detached context waiting to be freed by a thread that holds the lock.
struct SendPtr(NonNull<raw::RedisModuleCtx>);
// SAFETY: only the pointer value crosses; it is used (freed) under the server lock.
unsafe impl Send for SendPtr {}

static PENDING_FREE: std::sync::Mutex<Vec<SendPtr>> = std::sync::Mutex::new(Vec::new());
static HAS_PENDING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Frees the detached contexts dropped by threads that could not take the lock. Called by
/// whoever holds it: the command trampoline (main thread), a thread that just locked, unload.
#[inline]
pub(crate) fn free_pending_detached() {
    if !HAS_PENDING.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    free_pending_slow();
}

#[cold]
fn free_pending_slow() {
    let pending = match PENDING_FREE.lock() {
        Ok(mut q) => {
            HAS_PENDING.store(false, std::sync::atomic::Ordering::Release);
            std::mem::take(&mut *q)
        }
        Err(_) => return,
    };
    for p in pending {
        // SAFETY: the caller holds the server lock; the context was dropped by its owner.
        unsafe { free_detached(p.0) };
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

impl RawCtx {
    /// `RedisModule_Yield(ctx, flags, busy_reply)`: with `clients`, other clients are served
    /// (`-BUSY busy_reply`), otherwise only events.
    pub(crate) fn yield_now(&self, clients: bool, busy_reply: Option<&str>) {
        let reply = busy_reply.map(super::cstring_lossy);
        let flags = if clients {
            raw::REDISMODULE_YIELD_FLAG_CLIENTS
        } else {
            raw::REDISMODULE_YIELD_FLAG_NONE
        };
        // SAFETY: a live context on the main thread; Redis reads the busy reply (or NULL for
        // its default) only during this call, while `reply` lives.
        unsafe {
            api!(RedisModule_Yield)(
                self.as_ptr(),
                flags as c_int,
                reply.as_ref().map_or(std::ptr::null(), |r| r.as_ptr()),
            )
        };
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

    /// `RedisModule_GetTimerInfo`: the milliseconds left, `None` if no such pending timer of
    /// this module.
    pub(crate) fn timer_remaining(&self, id: u64) -> Option<u64> {
        let mut remaining = 0u64;
        // SAFETY: a live context; Redis writes only the remaining time (data is not asked for).
        let r = unsafe {
            api!(RedisModule_GetTimerInfo)(self.as_ptr(), id, &mut remaining, std::ptr::null_mut())
        };
        (r == OK).then_some(remaining)
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

// ---- a blocked client answered later, from anywhere ----------------------------------------

/// What runs if a client blocked by [`RawCtx::block_client`] times out (or `CLIENT UNBLOCK`).
pub(crate) type OnTimeout = Box<dyn FnOnce(&Context) -> Result + Send>;

/// The timeout callbacks of clients blocked by `block_client`, by handle address: Redis hands
/// a timeout callback no private data (that comes with the unblock), so it finds its closure
/// here. Touched on the main thread only (block, reply, timeout, disconnect).
static TIMEOUTS: std::sync::Mutex<Vec<(usize, OnTimeout)>> = std::sync::Mutex::new(Vec::new());

fn take_timeout(bc: *mut raw::RedisModuleBlockedClient) -> Option<OnTimeout> {
    let mut t = TIMEOUTS.lock().ok()?;
    let i = t.iter().position(|(k, _)| *k == bc as usize)?;
    Some(t.swap_remove(i).1)
}

/// A client blocked by [`RawCtx::block_client`]: unblocked exactly once, by
/// [`BlockedHandle::unblock`] or on drop.
pub(crate) struct BlockedHandle(Option<Handle>);

impl RawCtx {
    /// `RedisModule_BlockClient` with the toolkit's callbacks: the reply is given later to
    /// [`BlockedHandle::unblock`]. `Err` where Redis cannot block (MULTI, scripts).
    pub(crate) fn block_client(
        &self,
        timeout_ms: i64,
        on_timeout: Option<OnTimeout>,
    ) -> Result<BlockedHandle> {
        self.check_blockable()?;
        let has_timeout = on_timeout.is_some();
        // SAFETY: a live command context (the caller checked `check_can_block`); the callbacks
        // are plain functions of this image. Without a timeout callback the timeout is 0 and
        // the callback NULL, so Redis never calls it (and CLIENT UNBLOCK refuses).
        let bc = unsafe {
            api!(RedisModule_BlockClient)(
                self.as_ptr(),
                Some(handle_reply),
                if has_timeout {
                    Some(handle_timeout)
                } else {
                    None
                },
                Some(free_outcome),
                if has_timeout { timeout_ms } else { 0 },
            )
        };
        let bc = NonNull::new(bc).ok_or_else(|| Error::new("this client cannot be blocked"))?;
        if let Some(f) = on_timeout {
            if let Ok(mut t) = TIMEOUTS.lock() {
                t.push((bc.as_ptr() as usize, f));
            }
            // SAFETY: the live blocked client; the callback is a plain function of this image.
            unsafe { api!(RedisModule_SetDisconnectCallback)(bc.as_ptr(), Some(on_disconnect)) };
        }
        Ok(BlockedHandle(Some(Handle(bc))))
    }
}

impl BlockedHandle {
    /// `RedisModule_UnblockClient` with `outcome` (sent by `handle_reply` on the main thread;
    /// dropped unsent if the client timed out or left).
    pub(crate) fn unblock(&mut self, outcome: Result) {
        if let Some(h) = self.0.take() {
            let data = Box::into_raw(Box::new(Outcome(outcome.map(sendable))));
            // SAFETY: the live blocked client, unblocked once (the handle is taken); Redis hands
            // `data` to handle_reply (if the client still waits), then to free_outcome.
            unsafe { api!(RedisModule_UnblockClient)(h.0.as_ptr(), data.cast()) };
        }
    }

    /// `RedisModule_BlockedClientMeasureTimeStart` / `End`.
    pub(crate) fn measure_time(&self, start: bool) {
        if let Some(h) = &self.0 {
            // SAFETY: the live blocked client (not yet unblocked); callable from any thread.
            unsafe {
                if start {
                    api!(RedisModule_BlockedClientMeasureTimeStart)(h.0.as_ptr());
                } else {
                    api!(RedisModule_BlockedClientMeasureTimeEnd)(h.0.as_ptr());
                }
            }
        }
    }
}

unsafe extern "C" fn handle_reply(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: the reply callback's context.
    let bc = unsafe { api!(RedisModule_GetBlockedClientHandle)(ctx) };
    drop(take_timeout(bc));
    // SAFETY: as for `on_reply` (the private data is our Outcome).
    unsafe { on_reply(ctx, argv, argc) }
}

unsafe extern "C" fn handle_timeout(
    ctx: *mut raw::RedisModuleCtx,
    _: *mut *mut raw::RedisModuleString,
    _: c_int,
) -> c_int {
    // SAFETY: the timeout callback's context.
    let (raw_ctx, bc) = unsafe {
        (
            RawCtx::from_raw(ctx),
            api!(RedisModule_GetBlockedClientHandle)(ctx),
        )
    };
    // Background time measured up to the timeout counts (a no-op when none is running).
    // SAFETY: the live blocked client of this callback.
    unsafe { api!(RedisModule_BlockedClientMeasureTimeEnd)(bc) };
    let outcome = match take_timeout(bc) {
        Some(f) => {
            // SAFETY: the same live callback context.
            let cx = Context::new(unsafe { RawCtx::from_raw(ctx) });
            guard("a blocked client's timeout callback", move || f(&cx)).unwrap_or_else(|| {
                Err(Error::new(format!(
                    "the timeout callback panicked: {} (see the server log)",
                    super::last_panic()
                )))
            })
        }
        None => Err(Error::new("timeout")),
    };
    match outcome {
        Ok(r) => raw_ctx.send(&r),
        Err(e) => raw_ctx.send_error(&e),
    }
    OK
}

unsafe extern "C" fn on_disconnect(
    _ctx: *mut raw::RedisModuleCtx,
    bc: *mut raw::RedisModuleBlockedClient,
) {
    let f = take_timeout(bc);
    guard("a blocked client's timeout callback (drop)", move || {
        drop(f)
    });
}

impl Drop for BlockedHandle {
    fn drop(&mut self) {
        self.unblock(Err(Error::new(
            "the module let go of this blocked client without a reply",
        )));
    }
}
