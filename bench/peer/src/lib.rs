//! The peer: `RMHGETSET key field value` written the way a `redis-module` (2.0.8) user would,
//! with that crate's `Context`, `redis_command!`, `open_key_writable`, `hash_get`/`hash_set`, and
//! its `RedisAlloc` as the global allocator. Also hosts the allocator loops
//! (`RMBENCH.MIXED n`, `RMBENCH.GROW rounds`) so they run on `RedisAlloc`.
//!
//! The command bodies are safe code on the crate's API. `unsafe` appears only in
//! `RedisModule_OnLoad` (see there why `redis_module!` cannot be used on Redis 7.0). The crate's
//! hash API takes field names as `&str` (it builds a C string per call,
//! `REDISMODULE_HASH_CFIELDS`), so fields must be UTF-8 here; that is the crate's cost, measured
//! as is.

use redis_module::{
    Context, KeyType, NextArg, NotifyEvent, RedisError, RedisResult, RedisString, RedisValue,
    alloc::RedisAlloc, raw, redis_command,
};
use rmkit_bench_loops as loops;
use std::ffi::CString;
use std::os::raw::c_int;

fn rmhgetset(ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    if args.len() != 4 {
        return Err(RedisError::WrongArity);
    }
    let mut args = args.into_iter().skip(1);
    let key_name = args.next_arg()?;
    let field = args.next_arg()?;
    let value = args.next_arg()?;

    let key = ctx.open_key_writable(&key_name);
    if !matches!(key.key_type(), KeyType::Empty | KeyType::Hash) {
        return Err(RedisError::WrongType);
    }
    let field = field.try_as_str()?;
    let old = key.hash_get(field)?;
    key.hash_set(field, value);
    ctx.notify_keyspace_event(NotifyEvent::HASH, "hset", &key_name);
    ctx.replicate_verbatim();
    Ok(old.map_or(RedisValue::Null, RedisValue::BulkRedisString))
}

fn count(args: Vec<RedisString>) -> Result<u64, RedisError> {
    if args.len() != 2 {
        return Err(RedisError::WrongArity);
    }
    let mut args = args.into_iter().skip(1);
    args.next_u64()
}

fn mixed(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    Ok(RedisValue::Integer(loops::mixed(count(args)?) as i64))
}

fn grow(_ctx: &Context, args: Vec<RedisString>) -> RedisResult {
    Ok(RedisValue::Integer(loops::grow(count(args)?) as i64))
}

#[global_allocator]
static ALLOCATOR: RedisAlloc = RedisAlloc;

// Why not `redis_module!`: with the features this workspace pins (min-redis-compatibility-
// version-7-0), redis-module 2.0.8's macro always calls `commands::register_commands`, which
// requires `RedisModule_SetCommandACLCategories` (Redis 7.2+) and fails the load on Redis 7.0
// ("<rmpeer> RedisModule_SetCommandACLCategories does not exists"). So this is the macro's
// OnLoad minus that step: `Export_RedisModule_Init`, then the crate's own `redis_command!` per
// command (which skips ACL categories when the server lacks them). The two `unsafe` uses below
// are forced by that: an exported C entry point and the crate's unsafe init function.

/// Called by Redis on `--loadmodule`.
///
/// # Safety
/// Only Redis calls this, with its own context and arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn RedisModule_OnLoad(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    // SAFETY: `ctx` is the load context Redis passed; the name is NUL-terminated.
    let init = unsafe {
        raw::Export_RedisModule_Init(
            ctx,
            c"rmpeer".as_ptr(),
            1,
            raw::REDISMODULE_APIVER_1 as c_int,
        )
    };
    if init == raw::Status::Err as c_int {
        return raw::Status::Err as c_int;
    }
    redis_command!(
        ctx,
        "rmhgetset",
        rmhgetset,
        "write fast deny-oom",
        1,
        1,
        1,
        ""
    );
    redis_command!(ctx, "rmbench.mixed", mixed, "readonly", 0, 0, 0, "");
    redis_command!(ctx, "rmbench.grow", grow, "readonly", 0, 0, 0, "");
    raw::Status::Ok as c_int
}
