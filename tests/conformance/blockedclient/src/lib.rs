//! Port of Redis 7.0's `tests/modules/blockedclient.c`: the server lock from worker threads,
//! `RM_Call` from a blocked client's thread (with format flags), commands that must not block
//! (inside MULTI, or called by `RM_Call`), yielding during slow commands (`-BUSY`).
#![forbid(unsafe_code)]

use rmkit::call::{CallOptions, CallReply};
use rmkit::command::Rest;
use rmkit::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

rmkit::module! { name: "blockedclient", version: 1 }

/// `do_bg_rm_call` waits (yielding) while this is set.
static SLOW_BG_OPERATION: AtomicBool = AtomicBool::new(false);
/// Whether `do_bg_rm_call` is waiting now.
static IN_SLOW_BG_OPERATION: AtomicBool = AtomicBool::new(false);
/// Stops `slow_fg_command`.
static ABORT: AtomicBool = AtomicBool::new(false);

/// The C module's replies where a client cannot block (simple strings, not errors): the
/// toolkit refuses to block there, and says which case it is.
fn not_blockable(e: Error) -> Result<Reply> {
    let text = e.message();
    if text.contains("MULTI") {
        Ok(Reply::Simple(
            "Blocked client is not supported inside multi".into(),
        ))
    } else if text.contains("not allowed here") {
        Ok(Reply::Simple("Blocked client is not allowed".into()))
    } else {
        Err(e)
    }
}

/// Takes the server lock on a worker thread, and from a second thread tries it (and fails:
/// the worker holds it).
#[rmkit::command(name = "acquire_gil")]
fn acquire_gil(ctx: &Context) -> Result<Reply> {
    ctx.block_on_thread(Duration::ZERO, |tctx| {
        let locked = tctx.lock();
        let mut other = locked.detached()?;
        let got = std::thread::spawn(move || other.try_lock().is_some())
            .join()
            .map_err(|_| Error::new("the second thread panicked"))?;
        drop(locked);
        if got {
            return Err(Error::new("a second thread got the lock the worker holds"));
        }
        Ok(Reply::Ok)
    })
    .or_else(not_blockable)
}

/// The reply of a call, as the C module passes it on (`RM_ReplyWithCallReply`).
fn pass_on(r: Result<CallReply>) -> Result<Reply> {
    r.map(Reply::from)
        .map_err(|e| Error::raw(e.message().to_owned()))
}

/// `DO_RM_CALL command args...`: runs it and replies what it replied. (The arity is checked
/// here, as the C module does, so that a missing command counts as a failed call of this one
/// in `INFO commandstats`, not as a rejected one.)
#[rmkit::command(name = "do_rm_call", flags = "write")]
fn do_rm_call(ctx: &Context, args: Rest) -> Result<Reply> {
    let Some((command, args)) = args.split_first() else {
        return Err(Error::wrong_arity("do_rm_call"));
    };
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    pass_on(ctx.call(&String::from_utf8_lossy(command.as_bytes()), &args))
}

/// The `RedisModule_Call` format letters of `do_bg_rm_call_format`.
fn options(format: &[u8]) -> CallOptions {
    let has = |c: u8| format.contains(&c);
    CallOptions {
        replicate: has(b'!'),
        script_mode: has(b'S'),
        no_writes: has(b'W'),
        respect_oom: has(b'M'),
        check_acl: has(b'C'),
        resp3: has(b'3'),
    }
}

fn bg_rm_call(
    ctx: &Context,
    format: Option<Vec<u8>>,
    command: Vec<u8>,
    args: Vec<Vec<u8>>,
) -> Result<Reply> {
    ctx.block_on_thread(Duration::ZERO, move |tctx| {
        let locked = tctx.lock();
        if SLOW_BG_OPERATION.load(Ordering::Relaxed) {
            IN_SLOW_BG_OPERATION.store(true, Ordering::Relaxed);
            while SLOW_BG_OPERATION.load(Ordering::Relaxed) {
                locked.yield_to_clients(Some("Slow module operation"));
                std::thread::sleep(Duration::from_millis(1));
            }
            IN_SLOW_BG_OPERATION.store(false, Ordering::Relaxed);
        }
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let opts = format.as_deref().map(options).unwrap_or_default();
        let r = locked.call_with(opts, &String::from_utf8_lossy(&command), &args);
        drop(locked);
        match (format, r) {
            // Without a format the C module calls without `E`: a command Redis cannot run
            // (unknown, wrong arity) gives it no reply at all.
            (None, Err(e))
                if e.message().starts_with("ERR unknown command")
                    || e.message().starts_with("ERR wrong number of arguments") =>
            {
                Err(Error::raw("NULL reply returned"))
            }
            (_, r) => pass_on(r),
        }
    })
    .or_else(not_blockable)
}

/// `DO_BG_RM_CALL command args...`: the call, from a blocked client's thread.
#[rmkit::command(name = "do_bg_rm_call")]
fn do_bg_rm_call(ctx: &Context, command: &RedisStr, args: Rest) -> Result<Reply> {
    let args = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    bg_rm_call(ctx, None, command.as_bytes().to_vec(), args)
}

/// `DO_BG_RM_CALL_FORMAT format command args...`: the same with `RedisModule_Call` flags.
#[rmkit::command(name = "do_bg_rm_call_format")]
fn do_bg_rm_call_format(
    ctx: &Context,
    format: &RedisStr,
    command: &RedisStr,
    args: Rest,
) -> Result<Reply> {
    let args = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    bg_rm_call(
        ctx,
        Some(format.as_bytes().to_vec()),
        command.as_bytes().to_vec(),
        args,
    )
}

/// Blocks the client and answers it at once (true), without a thread.
#[rmkit::command(name = "do_fake_bg_true")]
fn do_fake_bg_true(ctx: &Context) -> Result<Reply> {
    ctx.block_client()
        .start(|bc| bc.reply(Ok(Reply::Bool(true))))
        .or_else(not_blockable)
}

/// `SLOW_FG_COMMAND us`: runs until `stop_slow_fg_command` (0) or for `us` microseconds,
/// yielding: to clients (who get `-BUSY`) when unbounded, to events only otherwise.
#[rmkit::command(name = "slow_fg_command")]
fn slow_fg_command(ctx: &Context, block_time: &RedisStr) -> Result<Reply> {
    let us = rmkit::command::parse_i64(block_time.as_bytes())
        .map_err(|_| Error::raw("Invalid integer value"))?;
    let start = Instant::now();
    while !ABORT.load(Ordering::Relaxed) {
        if us == 0 {
            ctx.yield_to_clients(Some("Slow module operation"));
        } else {
            ctx.yield_to_events();
        }
        std::thread::sleep(Duration::from_millis(1));
        if us > 0 && start.elapsed() > Duration::from_micros(us as u64) {
            break;
        }
    }
    ABORT.store(false, Ordering::Relaxed);
    Ok(Reply::Integer(1))
}

/// Stops `slow_fg_command`.
#[rmkit::command(name = "stop_slow_fg_command", flags = "allow-busy")]
fn stop_slow_fg_command() -> Result<Reply> {
    ABORT.store(true, Ordering::Relaxed);
    Ok(Reply::Integer(1))
}

/// `SET_SLOW_BG_OPERATION 0|1`.
#[rmkit::command(name = "set_slow_bg_operation", flags = "allow-busy")]
fn set_slow_bg_operation(on: &RedisStr) -> Result<Reply> {
    let on = rmkit::command::parse_i64(on.as_bytes())
        .map_err(|_| Error::raw("Invalid integer value"))?;
    SLOW_BG_OPERATION.store(on != 0, Ordering::Relaxed);
    Ok(Reply::Ok)
}

/// Whether `do_bg_rm_call` waits in its slow operation now (1 or 0).
#[rmkit::command(name = "is_in_slow_bg_operation", flags = "allow-busy")]
fn is_in_slow_bg_operation() -> Result<Reply> {
    Ok(Reply::from(i64::from(
        IN_SLOW_BG_OPERATION.load(Ordering::Relaxed),
    )))
}
