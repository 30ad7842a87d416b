//! Port of Redis 7.0's `tests/modules/commandfilter.c`: a command filter that rewrites
//! arguments (`@delme` deleted, `@replaceme` replaced, `@insertbefore`/`@insertafter` get a
//! neighbour, `@retain` keeps the next argument, `@log` reroutes the command through
//! `commandfilter.log`, which pushes it onto a log list and runs it). Load arguments: the log
//! key's name and `1` to register the filter with NOSELF.
#![forbid(unsafe_code)]

use rmkit::command::Rest;
use rmkit::key::list::End;
use rmkit::prelude::*;
use rmkit::server::filter::{CommandFilter, FilterArgs, FilterOptions, RetainedString};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

rmkit::module! { name: "commandfilter", version: 1 }

/// The log list's key name (first load argument).
static LOG_KEY: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// The filter, until `commandfilter.unregister`.
static FILTER: Mutex<Option<CommandFilter>> = Mutex::new(None);
/// The argument after the last `@retain`.
static RETAINED: Mutex<Option<RetainedString>> = Mutex::new(None);
/// While `commandfilter.log` runs its command (the filter leaves that call alone).
static IN_LOG_COMMAND: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn load(ctx: &Context, args: &[RedisStr]) -> Result<()> {
    let [log_key, noself] = args else {
        return Err(Error::new("Log key name not specified"));
    };
    *lock(&LOG_KEY) = log_key.as_bytes().to_vec();
    let noself = std::str::from_utf8(noself.as_bytes())
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
        != 0;
    lock(&RETAINED).take();
    *lock(&FILTER) = Some(ctx.register_command_filter(filter, FilterOptions { noself })?);
    Ok(())
}
fn on_load(load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
    self::load(load.context(), load.args()).map_err(|e| e.message().to_owned())
}
rmkit::on_load!(on_load);

fn unload() {
    lock(&RETAINED).take();
    lock(&FILTER).take();
}
rmkit::on_unload!(unload);

fn filter(args: &mut FilterArgs) {
    if IN_LOG_COMMAND.load(Ordering::Relaxed) {
        return;
    }
    let mut log = false;
    let mut pos = 0;
    while pos < args.len() {
        let Some(arg) = args.get(pos) else { break };
        match arg {
            b"@delme" => {
                args.delete(pos);
                continue;
            }
            b"@replaceme" => {
                args.replace(pos, b"--replaced--");
            }
            b"@insertbefore" => {
                args.insert(pos, b"--inserted-before--");
                pos += 1;
            }
            b"@insertafter" => {
                args.insert(pos + 1, b"--inserted-after--");
                pos += 1;
            }
            b"@retain" => {
                if let Some(s) = args.retain(pos + 1) {
                    *lock(&RETAINED) = Some(s);
                }
                pos += 1;
            }
            b"@log" => log = true,
            _ => {}
        }
        pos += 1;
    }
    if log {
        args.insert(0, b"commandfilter.log");
    }
}

/// Resets the flag when `commandfilter.log`'s call ends, even by a panic.
struct InLog;
impl Drop for InLog {
    fn drop(&mut self) {
        IN_LOG_COMMAND.store(false, Ordering::Relaxed);
    }
}

/// A called command's reply; a command Redis could not run is the C module's simple string.
fn passed_on(reply: Result<rmkit::call::CallReply>) -> Result<Reply> {
    match reply {
        Ok(r) => Ok(r.into()),
        Err(e) if e.message().starts_with("ERR calling '") => {
            Ok(Reply::Simple("Unknown command or invalid arguments".into()))
        }
        Err(e) => Err(e),
    }
}

/// `commandfilter.log command arg ...`: pushes `command arg ...` onto the log list, then
/// runs it (unfiltered) and replies its reply.
#[rmkit::command(name = "commandfilter.log", flags = "write deny-oom")]
fn log_command(ctx: &Context, command: &RedisStr, rest: Rest) -> Result<Reply> {
    let mut line = command.as_bytes().to_vec();
    for a in rest.iter() {
        line.push(b' ');
        line.extend_from_slice(a.as_bytes());
    }
    let log_key = RedisString::new(&lock(&LOG_KEY));
    ctx.open_key_writable(&log_key)
        .list()?
        .push(End::Head, &RedisString::new(&line))?;
    IN_LOG_COMMAND.store(true, Ordering::Relaxed);
    let _in_log = InLog;
    let args: Vec<&[u8]> = rest.iter().map(|a| a.as_bytes()).collect();
    passed_on(ctx.call(command.to_str()?, &args))
}

/// `commandfilter.ping`: `PING @log` through `ctx.call` (so the filter logs it).
#[rmkit::command(name = "commandfilter.ping", flags = "deny-oom")]
fn ping(ctx: &Context) -> Result<Reply> {
    passed_on(ctx.call("ping", &[b"@log"]))
}

/// `commandfilter.retained`: the argument kept by the last `@retain`, or nil.
#[rmkit::command(name = "commandfilter.retained", flags = "readonly")]
fn retained(ctx: &Context) -> Result<Reply> {
    Ok(match lock(&RETAINED).as_ref() {
        Some(s) => Reply::Bulk(s.get(ctx).as_bytes().to_vec()),
        None => Reply::Null,
    })
}

/// `commandfilter.unregister`: unregisters the filter; `0` (Redis's OK) or `1` (ERR).
#[rmkit::command(name = "commandfilter.unregister", flags = "write deny-oom")]
fn unregister(ctx: &Context) -> Result<Reply> {
    let ok = match lock(&FILTER).take() {
        Some(f) => ctx.unregister_command_filter(f).is_ok(),
        None => false,
    };
    Ok(Reply::Integer(if ok { 0 } else { 1 }))
}
