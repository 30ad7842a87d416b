//! Port of Redis 7.0's `tests/modules/propagate.c` (module `propagate-test`): what reaches
//! replicas and the AOF when a module writes from timers, threads (with a blocked client's or a
//! detached context), notifications, nested calls and commands, and how Redis wraps it in
//! MULTI/EXEC.
#![forbid(unsafe_code)]

use rmkit::call::CallOptions;
use rmkit::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

rmkit::module! { name: "propagate-test", version: 1 }

/// `RedisModule_Call` with `!`: the call is replicated.
const REPLICATED: CallOptions = CallOptions {
    replicate: true,
    script_mode: false,
    no_writes: false,
    respect_oom: false,
    check_acl: false,
    resp3: false,
};

fn call_replicated(ctx: &Context, command: &str, args: &[&[u8]]) {
    let _ = ctx.call_with(REPLICATED, command, args);
}

/// Every keyspace event counts itself in `notifications`, replicated (a write from inside a
/// notification, which Redis nests into the command's MULTI/EXEC).
fn on_any_event(ctx: &Context, _event: &str, _key: &RedisStr) {
    call_replicated(ctx, "INCR", &[b"notifications"]);
}
rmkit::on_keyspace_event!(&[Notify::All], on_any_event);

/// How many times the `propagate-test.timer` chain fired.
static TIMES: AtomicU32 = AtomicU32::new(0);

fn timer_handler(ctx: &Context) {
    let _ = ctx.replicate("INCR", &[b"timer"]);
    if TIMES.fetch_add(1, Ordering::Relaxed) + 1 < 3 {
        ctx.create_timer(Duration::from_millis(100), timer_handler);
    } else {
        TIMES.store(0, Ordering::Relaxed);
    }
}

/// Three timers in a row, each replicating `INCR timer`.
#[rmkit::command(name = "propagate-test.timer")]
fn timer(ctx: &Context) -> Result<Reply> {
    ctx.create_timer(Duration::from_millis(100), timer_handler);
    Ok(Reply::Ok)
}

fn timer_nested(ctx: &Context, repl: bool) {
    let opts = CallOptions {
        replicate: repl,
        ..REPLICATED
    };
    let _ = ctx.replicate("INCRBY", &[b"timer-nested-start", b"1"]);
    let _ = ctx.call_with(opts, "propagate-test.nested", &[]);
    let _ = ctx.call_with(opts, "INCR", &[b"timer-nested-middle"]);
    let _ = ctx.replicate("INCRBY", &[b"timer-nested-end", b"1"]);
}

/// A timer that replicates around a nested module command (called without `!`).
#[rmkit::command(name = "propagate-test.timer-nested")]
fn timer_nested_cmd(ctx: &Context) -> Result<Reply> {
    ctx.create_timer(Duration::from_millis(100), |ctx| timer_nested(ctx, false));
    Ok(Reply::Ok)
}

/// The same with the nested calls replicated.
#[rmkit::command(name = "propagate-test.timer-nested-repl")]
fn timer_nested_repl_cmd(ctx: &Context) -> Result<Reply> {
    ctx.create_timer(Duration::from_millis(100), |ctx| timer_nested(ctx, true));
    Ok(Reply::Ok)
}

/// A timer that writes volatile keys around `CONFIG SET maxmemory 1` (the evictions follow).
#[rmkit::command(name = "propagate-test.timer-maxmemory")]
fn timer_maxmemory(ctx: &Context) -> Result<Reply> {
    ctx.create_timer(Duration::from_millis(100), |ctx| {
        call_replicated(
            ctx,
            "SETEX",
            &[b"timer-maxmemory-volatile-start", b"100", b"1"],
        );
        call_replicated(ctx, "CONFIG", &[b"SET", b"maxmemory", b"1"]);
        let _ = ctx.replicate("INCR", &[b"timer-maxmemory-middle"]);
        call_replicated(
            ctx,
            "SETEX",
            &[b"timer-maxmemory-volatile-end", b"100", b"1"],
        );
    });
    Ok(Reply::Ok)
}

/// A timer that runs EVAL between replicated writes.
#[rmkit::command(name = "propagate-test.timer-eval")]
fn timer_eval(ctx: &Context) -> Result<Reply> {
    ctx.create_timer(Duration::from_millis(100), |ctx| {
        call_replicated(ctx, "INCRBY", &[b"timer-eval-start", b"1"]);
        call_replicated(
            ctx,
            "EVAL",
            &[b"redis.call('set',KEYS[1],ARGV[1])", b"1", b"foo", b"bar"],
        );
        let _ = ctx.replicate("INCR", &[b"timer-eval-middle"]);
        call_replicated(ctx, "INCRBY", &[b"timer-eval-end", b"1"]);
    });
    Ok(Reply::Ok)
}

/// A thread that, three times under the lock, replicates and calls (in the client's database).
#[rmkit::command(name = "propagate-test.thread")]
fn thread(ctx: &Context) -> Result<Reply> {
    let db = ctx.selected_db();
    let mut detached = ctx.detached()?;
    std::thread::spawn(move || {
        for _ in 0..3 {
            let locked = detached.lock();
            if locked.select_db(db).is_ok() {
                let _ = locked.replicate("INCR", &[b"a-from-thread"]);
                call_replicated(&locked, "INCR", &[b"thread-call"]);
                let _ = locked.replicate("INCR", &[b"b-from-thread"]);
            }
        }
    });
    Ok(Reply::Ok)
}

/// A thread with a detached context: replicate, two calls, replicate, under one lock.
#[rmkit::command(name = "propagate-test.detached-thread")]
fn detached_thread(ctx: &Context) -> Result<Reply> {
    let db = ctx.selected_db();
    let mut detached = ctx.detached()?;
    std::thread::spawn(move || {
        let locked = detached.lock();
        if locked.select_db(db).is_ok() {
            let _ = locked.replicate("INCR", &[b"thread-detached-before"]);
            call_replicated(&locked, "INCR", &[b"thread-detached-1"]);
            call_replicated(&locked, "INCR", &[b"thread-detached-2"]);
            let _ = locked.replicate("INCR", &[b"thread-detached-after"]);
        }
    });
    Ok(Reply::Ok)
}

/// Replicates two commands (wrapped in MULTI/EXEC by Redis).
#[rmkit::command(name = "propagate-test.simple")]
fn simple(ctx: &Context) -> Result<Reply> {
    ctx.replicate("INCR", &[b"counter-1"])?;
    ctx.replicate("INCR", &[b"counter-2"])?;
    Ok(Reply::Ok)
}

/// Replicated calls around replicated commands.
#[rmkit::command(name = "propagate-test.mixed")]
fn mixed(ctx: &Context) -> Result<Reply> {
    call_replicated(ctx, "INCR", &[b"using-call"]);
    ctx.replicate("INCR", &[b"counter-1"])?;
    ctx.replicate("INCR", &[b"counter-2"])?;
    call_replicated(ctx, "INCR", &[b"after-call"]);
    Ok(Reply::Ok)
}

/// Calls and module commands nested in one another, each replicating.
#[rmkit::command(name = "propagate-test.nested")]
fn nested(ctx: &Context) -> Result<Reply> {
    call_replicated(ctx, "INCR", &[b"using-call"]);
    call_replicated(ctx, "propagate-test.simple", &[]);
    ctx.replicate("INCR", &[b"counter-3"])?;
    ctx.replicate("INCR", &[b"counter-4"])?;
    call_replicated(ctx, "INCR", &[b"after-call"]);
    call_replicated(ctx, "INCR", &[b"before-call-2"]);
    call_replicated(ctx, "keyspace.incr_case1", &[b"asdf"]); // replicates INCR
    call_replicated(ctx, "keyspace.del_key_copy", &[b"asdf"]); // replicates DEL
    call_replicated(ctx, "INCR", &[b"after-call-2"]);
    Ok(Reply::Ok)
}

/// `INCR key`, replicated as this command itself (not the INCR it ran).
#[rmkit::command(name = "propagate-test.incr", flags = "write")]
fn incr(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    let r = ctx.call("INCR", &[key.as_bytes()]).map(Reply::from);
    ctx.replicate_verbatim();
    r.map_err(|e| Error::raw(e.message().to_owned()))
}
