//! Port of Redis 7.0's `tests/modules/blockonbackground.c` (module `block`): clients blocked
//! while a thread works, with the thread's time counted as the command's (`SLOWLOG`, `INFO
//! commandstats`), and a client blocked until another command releases it.
#![forbid(unsafe_code)]

use rmkit::prelude::*;
use rmkit::thread::BlockedClient;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

rmkit::module! { name: "block", version: 1 }

fn number(arg: &RedisStr) -> Result<u64> {
    rmkit::command::parse_i64(arg.as_bytes())
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Error::new("invalid count"))
}

/// Some number, as the C module replies `rand()`.
fn some_number() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::from(d.subsec_nanos() & 0x7fff_ffff))
}

/// Blocks the client; a thread sleeps `delay` ms (counted as the command's time when `track`)
/// and answers with a number; after `timeout` ms the client gets "Request timedout".
fn block_debug(ctx: &Context, delay: u64, timeout: u64, track: bool) -> Result<Reply> {
    ctx.block_client()
        .timeout(Duration::from_millis(timeout), |_| {
            Ok(Reply::Simple("Request timedout".into()))
        })
        .start(|bc| {
            std::thread::spawn(move || {
                if track {
                    bc.measure_time_start();
                }
                std::thread::sleep(Duration::from_millis(delay));
                if track {
                    bc.measure_time_end();
                }
                bc.reply(Ok(Reply::Integer(some_number())));
            });
        })
}

/// `BLOCK.DEBUG delay timeout`: the thread's time is tracked.
#[rmkit::command(name = "block.debug")]
fn debug(ctx: &Context, delay: &RedisStr, timeout: &RedisStr) -> Result<Reply> {
    block_debug(ctx, number(delay)?, number(timeout)?, true)
}

/// `BLOCK.DEBUG_NO_TRACK delay timeout`: the thread's time is not tracked.
#[rmkit::command(name = "block.debug_no_track")]
fn debug_no_track(ctx: &Context, delay: &RedisStr, timeout: &RedisStr) -> Result<Reply> {
    block_debug(ctx, number(delay)?, number(timeout)?, false)
}

/// `BLOCK.DOUBLE_DEBUG delay`: the thread sleeps `delay` ms twice, tracking each.
#[rmkit::command(name = "block.double_debug")]
fn double_debug(ctx: &Context, delay: &RedisStr) -> Result<Reply> {
    let delay = Duration::from_millis(number(delay)?);
    ctx.block_client()
        .timeout(Duration::ZERO, |_| {
            Ok(Reply::Simple("Request timedout".into()))
        })
        .start(|bc| {
            std::thread::spawn(move || {
                for _ in 0..2 {
                    bc.measure_time_start();
                    std::thread::sleep(delay);
                    bc.measure_time_end();
                }
                bc.reply(Ok(Reply::Integer(some_number())));
            });
        })
}

/// The client blocked by `block.block`, until `block.release` (one at a time).
static BLOCKED: Mutex<Option<BlockedClient>> = Mutex::new(None);

fn blocked() -> std::sync::MutexGuard<'static, Option<BlockedClient>> {
    BLOCKED.lock().unwrap_or_else(|p| p.into_inner())
}

/// `BLOCK.BLOCK timeout`: blocks until `block.release`; with a timeout (> 0) the client may
/// also time out (or be unblocked by `CLIENT UNBLOCK`) with "Timed out".
#[rmkit::command(name = "block.block")]
fn block(ctx: &Context, timeout: &RedisStr) -> Result<Reply> {
    let timeout =
        rmkit::command::parse_i64(timeout.as_bytes()).map_err(|_| Error::new("invalid timeout"))?;
    if blocked().is_some() {
        return Err(Error::new("another client already blocked"));
    }
    let mut b = ctx.block_client();
    if timeout > 0 {
        b = b.timeout(Duration::from_millis(timeout as u64), |_| {
            blocked().take(); // let go of the handle (its reply is not sent: timed out)
            Ok(Reply::Simple("Timed out".into()))
        });
    }
    b.start(|bc| *blocked() = Some(bc))
}

/// `BLOCK.IS_BLOCKED`: 1 while a client waits in `block.block`.
#[rmkit::command(name = "block.is_blocked")]
fn is_blocked() -> Result<Reply> {
    Ok(Reply::from(i64::from(blocked().is_some())))
}

/// `BLOCK.RELEASE reply`: answers the client blocked by `block.block` with `reply`.
#[rmkit::command(name = "block.release")]
fn release(reply: &[u8]) -> Result<Reply> {
    let bc = blocked()
        .take()
        .ok_or_else(|| Error::new("No blocked client"))?;
    bc.reply(Ok(Reply::from(reply)));
    Ok(Reply::Ok)
}
