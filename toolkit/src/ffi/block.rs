//! `RedisModule_BlockClientOnKeys` and its callbacks, `SignalKeyAsReady`.

use super::{OK, RawCtx, RedisStr, api, guard};
use crate::{Context, Error, Reply, Result};
use redis_module::raw;
use std::ffi::c_void;
use std::os::raw::c_int;

/// What a client blocked on keys waits with: called when a key is signalled ready, and on
/// timeout (or `CLIENT UNBLOCK`). Owned by Redis as the blocked client's private data from
/// `block_on_keys` until `free_waiter`.
pub(crate) struct Waiter {
    #[allow(clippy::type_complexity)]
    pub(crate) ready: Box<dyn FnMut(&Context, &RedisStr, &[RedisStr]) -> Result<Option<Reply>>>,
    #[allow(clippy::type_complexity)]
    pub(crate) timeout: Option<Box<dyn FnMut(&Context, &[RedisStr]) -> Result<Reply>>>,
}

impl RawCtx {
    /// `Err` where Redis cannot block this context's client: inside MULTI/EXEC or a script
    /// (Redis would answer an error itself), or a client that must not block (a command run by
    /// `RM_Call`, whose client is gone when the call returns: blocking it would leave Redis a
    /// dangling client).
    pub(crate) fn check_blockable(&self) -> Result<()> {
        // SAFETY: a live context.
        let flags = unsafe { api!(RedisModule_GetContextFlags)(self.as_ptr()) };
        let has = |f: u32| flags & f as c_int != 0;
        if has(raw::REDISMODULE_CTX_FLAGS_MULTI) || has(raw::REDISMODULE_CTX_FLAGS_LUA) {
            return Err(Error::new(
                "this command blocks its client, which is not possible inside MULTI/EXEC or a \
                 script; run it on its own",
            ));
        }
        if has(raw::REDISMODULE_CTX_FLAGS_DENY_BLOCKING) {
            return Err(Error::new(
                "this command blocks its client, which is not allowed here (called from \
                 another command, or a client that may not block)",
            ));
        }
        Ok(())
    }

    /// Blocks the client on `keys` (`timeout_ms` 0: no timeout) with `waiter`.
    pub(crate) fn block_on_keys(&self, keys: &[&RedisStr], timeout_ms: i64, waiter: Waiter) {
        let mut ptrs: Vec<*mut raw::RedisModuleString> = keys.iter().map(|k| k.as_ptr()).collect();
        let has_timeout = waiter.timeout.is_some();
        // Redis 7.0 calls the timeout callback without checking it: no callback, no timeout.
        let timeout_ms = if has_timeout { timeout_ms } else { 0 };
        let data = Box::into_raw(Box::new(waiter));
        // SAFETY: a live command context, not in MULTI or a script (checked by the caller);
        // Redis takes a reference to each key name; `data` is owned by Redis from here until it
        // calls `free_waiter` (served, timed out, unblocked or disconnected). Without a timeout
        // callback the timeout is 0 (forced above), so Redis never calls a NULL one.
        unsafe {
            api!(RedisModule_BlockClientOnKeys)(
                self.as_ptr(),
                Some(on_ready),
                if has_timeout { Some(on_timeout) } else { None },
                Some(free_waiter),
                timeout_ms,
                ptrs.as_mut_ptr(),
                ptrs.len() as c_int,
                data.cast(),
            )
        };
    }

    /// `RedisModule_SignalKeyAsReady`.
    pub(crate) fn signal_key_as_ready(&self, key: &RedisStr) {
        // SAFETY: a live context and key name (Redis copies it).
        unsafe { api!(RedisModule_SignalKeyAsReady)(self.as_ptr(), key.as_ptr()) };
    }
}

/// The waiter of a blocked client's callback context.
///
/// # Safety
/// `ctx` is the context of a reply or timeout callback of a client blocked by
/// `block_on_keys`, whose private data is a live `Waiter`.
unsafe fn waiter<'a>(ctx: *mut raw::RedisModuleCtx) -> &'a mut Waiter {
    // SAFETY: per the contract; Redis runs one callback of a blocked client at a time.
    unsafe { &mut *api!(RedisModule_GetBlockedClientPrivateData)(ctx).cast::<Waiter>() }
}

/// The blocked command's name, for messages.
fn command_name(args: &[RedisStr]) -> String {
    args.first().map_or_else(String::new, |a| {
        String::from_utf8_lossy(a.as_bytes()).into_owned()
    })
}

fn send(ctx: &Context, name: &str, outcome: Option<Result<Reply>>) {
    match outcome {
        Some(Ok(reply)) => ctx.raw().send(&reply),
        Some(Err(e)) => ctx.raw().send_error(&e),
        None => ctx.raw().send_error(&Error::new(format!(
            "command '{name}' panicked: {} (see the server log)",
            super::last_panic()
        ))),
    }
}

unsafe extern "C" fn on_ready(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: Redis calls this for a client blocked by `block_on_keys`, with its context and
    // the client's live arguments; the ready key lives during the call.
    let (w, args, key_ptr) = unsafe {
        (
            waiter(ctx),
            RedisStr::slice_from_raw(argv, argc),
            api!(RedisModule_GetBlockedClientReadyKey)(ctx),
        )
    };
    // SAFETY: the ready key (non-null in a reply callback for keys) lives during the call.
    let key = unsafe { RedisStr::from_raw_ref(&key_ptr) };
    // SAFETY: a live callback context.
    let cx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    let name = command_name(args);
    let name = name.as_str();
    match guard(format_args!("command '{name}' (ready key)"), || {
        (w.ready)(&cx, key, args)
    }) {
        Some(Ok(None)) => raw::REDISMODULE_ERR as c_int, // keep waiting
        Some(Ok(Some(reply))) => {
            send(&cx, name, Some(Ok(reply)));
            OK
        }
        other => {
            send(&cx, name, other.map(|r| r.map(|_| Reply::Null)));
            OK
        }
    }
}

unsafe extern "C" fn on_timeout(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: as for `on_ready`.
    let (w, args) = unsafe { (waiter(ctx), RedisStr::slice_from_raw(argv, argc)) };
    // SAFETY: a live callback context.
    let cx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    let name = command_name(args);
    let name = name.as_str();
    let outcome = match w.timeout.as_mut() {
        Some(f) => guard(format_args!("command '{name}' (timeout)"), || f(&cx, args)),
        None => Some(Err(Error::new("timeout"))),
    };
    send(&cx, name, outcome);
    OK
}

unsafe extern "C" fn free_waiter(_ctx: *mut raw::RedisModuleCtx, data: *mut c_void) {
    if !data.is_null() {
        // SAFETY: the box `block_on_keys` leaked, freed once by Redis's call.
        let w = unsafe { Box::from_raw(data.cast::<Waiter>()) };
        guard("a blocked client's state (drop)", move || drop(w));
    }
}
