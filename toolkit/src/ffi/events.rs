//! Keyspace notifications and server events: subscribing, and the dispatchers Redis calls.

use super::{RawCtx, RedisStr, api, guard};
use crate::Context;
use crate::server::events::{KEYSPACE_HANDLERS, SERVER_EVENT_HANDLERS, ServerEvent};
use redis_module::raw;
use std::ffi::{CStr, c_char, c_int, c_void};

/// Subscribes the dispatchers if any handler was declared.
pub(crate) fn subscribe(ctx: &RawCtx) -> Result<(), String> {
    let ctx = ctx.as_ptr();
    let mask = KEYSPACE_HANDLERS.iter().fold(0, |m, h| m | h.mask);
    if mask != 0 {
        // SAFETY: valid load context; the dispatcher is a plain function of this image.
        let r = unsafe {
            api!(RedisModule_SubscribeToKeyspaceEvents)(ctx, mask, Some(dispatch_keyspace))
        };
        if r != raw::REDISMODULE_OK as c_int {
            return Err("RedisModule_SubscribeToKeyspaceEvents failed".into());
        }
    }
    if !SERVER_EVENT_HANDLERS.is_empty() {
        for id in [
            raw::REDISMODULE_EVENT_FLUSHDB,
            raw::REDISMODULE_EVENT_SHUTDOWN,
        ] {
            let event = raw::RedisModuleEvent { id, dataver: 1 };
            // SAFETY: valid load context; a plain function of this image.
            let r = unsafe {
                api!(RedisModule_SubscribeToServerEvent)(ctx, event, Some(dispatch_server))
            };
            if r != raw::REDISMODULE_OK as c_int {
                return Err(format!("RedisModule_SubscribeToServerEvent({id}) failed"));
            }
        }
    }
    Ok(())
}

unsafe extern "C" fn dispatch_keyspace(
    ctx: *mut raw::RedisModuleCtx,
    kind: c_int,
    event: *const c_char,
    key: *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: Redis passes a valid context, a NUL-terminated event name and a live key.
    let (ctx, event, key) = unsafe {
        (
            Context::new(RawCtx::from_raw(ctx)),
            CStr::from_ptr(event),
            RedisStr::from_raw_ref(&key),
        )
    };
    let event = event.to_str().unwrap_or("?");
    for h in KEYSPACE_HANDLERS.iter().filter(|h| h.mask & kind != 0) {
        guard("keyspace event handler", || (h.handler)(&ctx, event, key));
    }
    raw::REDISMODULE_OK as c_int
}

unsafe extern "C" fn dispatch_server(
    ctx: *mut raw::RedisModuleCtx,
    eid: raw::RedisModuleEvent,
    subevent: u64,
    _data: *mut c_void,
) {
    let event = match (eid.id, subevent) {
        (raw::REDISMODULE_EVENT_FLUSHDB, raw::REDISMODULE_SUBEVENT_FLUSHDB_START) => {
            ServerEvent::FlushStart
        }
        (raw::REDISMODULE_EVENT_FLUSHDB, _) => ServerEvent::FlushEnd,
        (raw::REDISMODULE_EVENT_SHUTDOWN, _) => ServerEvent::Shutdown,
        _ => return,
    };
    // SAFETY: Redis passes a valid context.
    let ctx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    for h in SERVER_EVENT_HANDLERS.iter() {
        guard("server event handler", || (h.handler)(&ctx, event));
    }
}
