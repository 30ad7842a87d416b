//! Port of Redis 7.0's `tests/modules/timer.c`: timers that `INCR` a key when they fire
//! (`TEST.CREATETIMER ms key`), their remaining time (`TEST.GETTIMER id`) and stopping them
//! (`TEST.STOPTIMER id`).
#![forbid(unsafe_code)]

use rmkit::prelude::*;
use rmkit::thread::TimerId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

rmkit::module! { name: "timer", version: 1 }

/// The key each pending timer increments (what the C module keeps as the timer's data).
static KEYS: Mutex<Option<HashMap<u64, Vec<u8>>>> = Mutex::new(None);

fn with_keys<R>(f: impl FnOnce(&mut HashMap<u64, Vec<u8>>) -> R) -> R {
    let mut g = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(HashMap::new))
}

fn timer_id(arg: &RedisStr) -> Result<TimerId> {
    rmkit::command::parse_i64(arg.as_bytes())
        .map(|n| TimerId::from_u64(n as u64))
        .map_err(|_| Error::new("Invalid id specified."))
}

/// Starts a timer of `period` ms that increments `key` when it fires; replies its id.
#[rmkit::command(name = "test.createtimer")]
fn createtimer(ctx: &Context, period: &RedisStr, key: &RedisStr) -> Result<Reply> {
    let ms = rmkit::command::parse_i64(period.as_bytes())
        .map_err(|_| Error::new("Invalid time specified."))?;
    let name = key.as_bytes().to_vec();
    let fired = name.clone();
    // The id is known only once create_timer returned (the timer cannot fire before: both
    // run on the main thread).
    let own_id = Arc::new(AtomicU64::new(0));
    let own = Arc::clone(&own_id);
    let id = ctx.create_timer(Duration::from_millis(ms.max(0) as u64), move |ctx| {
        let _ = ctx.call("INCR", &[&fired]);
        with_keys(|k| k.remove(&own.load(Ordering::Relaxed)));
    });
    own_id.store(id.as_u64(), Ordering::Relaxed);
    with_keys(|k| k.insert(id.as_u64(), name));
    Ok(Reply::from(id.as_u64() as i64))
}

/// `[key, remaining ms]` of a pending timer, nil otherwise.
#[rmkit::command(name = "test.gettimer")]
fn gettimer(ctx: &Context, id: &RedisStr) -> Result<Reply> {
    let id = timer_id(id)?;
    let Some(left) = ctx.timer_remaining(id) else {
        return Ok(Reply::Null);
    };
    let key = with_keys(|k| k.get(&id.as_u64()).cloned()).unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::from(key),
        Reply::from(left.as_millis() as i64),
    ]))
}

/// Stops a pending timer: 1, or 0 if there was none.
#[rmkit::command(name = "test.stoptimer")]
fn stoptimer(ctx: &Context, id: &RedisStr) -> Result<Reply> {
    let id = timer_id(id)?;
    let stopped = ctx.stop_timer(id);
    if stopped {
        with_keys(|k| k.remove(&id.as_u64()));
    }
    Ok(Reply::from(i64::from(stopped)))
}
