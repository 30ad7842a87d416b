//! Port of Redis 7.0's `tests/modules/misc.c`: calls (`RM_Call` with and without flags), the
//! database (size, random key, existence, flush), LRU/LFU clocks, the client (info, name,
//! certificate), the server version, logging from a detached context, monotonic time.
#![forbid(unsafe_code)]

use rmkit::call::{CallOptions, CallReply};
use rmkit::command::Rest;
use rmkit::key::OpenFlags;
use rmkit::prelude::*;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

rmkit::module! { name: "misc", version: 1 }

/// A call's reply as the C module passes it on (`RM_ReplyWithCallReply`).
fn pass_on(r: Result<CallReply>) -> Result<Reply> {
    r.map(Reply::from)
        .map_err(|e| Error::raw(e.message().to_owned()))
}

fn split(args: &Rest<'_>) -> Result<(String, Vec<Vec<u8>>)> {
    let (cmd, rest) = args
        .split_first()
        .ok_or_else(|| Error::wrong_arity("test.call_generic"))?;
    Ok((
        String::from_utf8_lossy(cmd.as_bytes()).into_owned(),
        rest.iter().map(|a| a.as_bytes().to_vec()).collect(),
    ))
}

/// `TEST.CALL_GENERIC command args...`.
#[rmkit::command(name = "test.call_generic")]
fn call_generic(ctx: &Context, args: Rest) -> Result<Reply> {
    let (cmd, rest) = split(&args)?;
    let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    pass_on(ctx.call(&cmd, &rest))
}

/// `TEST.CALL_INFO [section]`: `INFO` through a call.
#[rmkit::command(name = "test.call_info")]
fn call_info(ctx: &Context, section: Option<&RedisStr>) -> Result<Reply> {
    let args: Vec<&[u8]> = section.iter().map(|s| s.as_bytes()).collect();
    pass_on(ctx.call("INFO", &args))
}

/// Long double conversions: Rust has none and the toolkit offers none, so this says so (a
/// reply, not an error, so that the Tcl file goes on; see the note in scripts/conformance.sh).
#[rmkit::command(name = "test.ld_conversion")]
fn ld_conversion() -> Result<Reply> {
    Ok(Reply::from(
        "long double conversions are not available from Rust (the toolkit has f64 only)",
    ))
}

/// Unsigned 64-bit conversions both ways, and the strings they must refuse.
#[rmkit::command(name = "test.ull_conversion")]
fn ull_conversion() -> Result<Reply> {
    let s1 = RedisString::from_u64(u64::MAX);
    let s2 = RedisString::new(b"18446744073709551615");
    if s1.as_bytes() != s2.as_bytes() {
        return Err(Error::raw(format!(
            "Failed to convert unsigned long long to string ('{}' != '{}')",
            String::from_utf8_lossy(s1.as_bytes()),
            String::from_utf8_lossy(s2.as_bytes())
        )));
    }
    match s2.to_u64() {
        Some(u64::MAX) => {}
        other => {
            return Err(Error::raw(format!(
                "Failed to convert string to unsigned long long ({other:?} != {})",
                u64::MAX
            )));
        }
    }
    for bad in [&b"18446744073709551616"[..], b"-1"] {
        if RedisString::new(bad).to_u64().is_some() {
            return Err(Error::raw(
                "Invalid string successfully converted to unsigned long long",
            ));
        }
    }
    Ok(Reply::Simple("ok".into()))
}

/// Empties every database (`FLUSHALL` through a call: the toolkit does not expose
/// `RM_ResetDataset`, which would free values a `Key` of this command might still lend out).
#[rmkit::command(name = "test.flushall")]
fn flushall(ctx: &Context) -> Result<Reply> {
    ctx.call("FLUSHALL", &[])?;
    Ok(Reply::from("Ok"))
}

/// The number of keys.
#[rmkit::command(name = "test.dbsize")]
fn dbsize(ctx: &Context) -> Result<Reply> {
    Ok(Reply::from(ctx.db_size() as i64))
}

/// A random key (nil for an empty database).
#[rmkit::command(name = "test.randomkey")]
fn randomkey(ctx: &Context) -> Result<Reply> {
    Ok(ctx.random_key().map_or(Reply::Null, Reply::from))
}

/// Whether the key exists (a boolean), without touching it.
#[rmkit::command(name = "test.keyexists")]
fn keyexists(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    Ok(Reply::Bool(ctx.key_exists(key)))
}

fn untouched<'a>(ctx: &'a Context, name: &'a RedisStr) -> Result<rmkit::Key<'a>> {
    ctx.open_key_with(
        name,
        OpenFlags {
            notouch: true,
            ..OpenFlags::default()
        },
    )
}

/// The key's idle time in ms (-1 under an LFU policy).
#[rmkit::command(name = "test.getlru")]
fn getlru(ctx: &Context, name: &RedisStr) -> Result<Reply> {
    let key = untouched(ctx, name)?;
    Ok(Reply::from(
        key.idle_time().map_or(-1, |d| d.as_millis() as i64),
    ))
}

/// Sets the key's idle time (ms): 1 if it was set.
#[rmkit::command(name = "test.setlru")]
fn setlru(ctx: &Context, name: &RedisStr, idle: &RedisStr) -> Result<Reply> {
    let ms =
        rmkit::command::parse_i64(idle.as_bytes()).map_err(|_| Error::raw("invalid idle time"))?;
    let mut key = untouched(ctx, name)?;
    let set = key.set_idle_time(Duration::from_millis(ms.max(0) as u64));
    Ok(Reply::from(i64::from(set)))
}

/// The key's LFU frequency (-1 unless the policy is LFU).
#[rmkit::command(name = "test.getlfu")]
fn getlfu(ctx: &Context, name: &RedisStr) -> Result<Reply> {
    let key = untouched(ctx, name)?;
    Ok(Reply::from(key.access_frequency().map_or(-1, i64::from)))
}

/// Sets the key's LFU frequency: 1 if it was set.
#[rmkit::command(name = "test.setlfu")]
fn setlfu(ctx: &Context, name: &RedisStr, freq: &RedisStr) -> Result<Reply> {
    let f = rmkit::command::parse_i64(freq.as_bytes())
        .ok()
        .and_then(|f| u8::try_from(f).ok())
        .ok_or_else(|| Error::raw("invalid freq"))?;
    let mut key = untouched(ctx, name)?;
    Ok(Reply::from(i64::from(key.set_access_frequency(f))))
}

/// The calling client: `[flags, "ssl:pubsub:blocked:tracking:unixsocket:multi", id, .., addr,
/// .., port, .., db, ..]`.
#[rmkit::command(name = "test.clientinfo")]
fn clientinfo(ctx: &Context) -> Result<Reply> {
    let id = ctx
        .client_id()
        .ok_or_else(|| Error::raw("failed to get client info"))?;
    let ci = ctx
        .client_info(id)
        .ok_or_else(|| Error::raw("failed to get client info"))?;
    let flag = |on: bool, name: &str| if on { name.to_owned() } else { String::new() };
    let flags = [
        flag(ci.is_ssl(), "ssl"),
        flag(ci.is_pubsub(), "pubsub"),
        flag(ci.is_blocked(), "blocked"),
        flag(ci.is_tracking(), "tracking"),
        flag(ci.is_unix_socket(), "unixsocket"),
        flag(ci.is_multi(), "multi"),
    ]
    .join(":");
    Ok(Reply::Array(vec![
        Reply::from("flags"),
        Reply::from(flags),
        Reply::from("id"),
        Reply::from(ci.id as i64),
        Reply::from("addr"),
        Reply::from(ci.addr),
        Reply::from("port"),
        Reply::from(i64::from(ci.port)),
        Reply::from("db"),
        Reply::from(i64::from(ci.db)),
    ]))
}

/// The calling client's name (`-ERR No name` without one).
#[rmkit::command(name = "test.getname")]
fn getname(ctx: &Context) -> Result<Reply> {
    let id = ctx.client_id().unwrap_or(0);
    ctx.client_name(id)
        .map(Reply::from)
        .ok_or_else(|| Error::raw("-ERR No name"))
}

/// Names the calling client.
#[rmkit::command(name = "test.setname")]
fn setname(ctx: &Context, name: &RedisStr) -> Result<Reply> {
    let id = ctx.client_id().unwrap_or(0);
    ctx.set_client_name(id, name)?;
    Ok(Reply::Ok)
}

/// The server's version, `major.minor.patch`.
#[rmkit::command(name = "test.redisversion")]
fn redisversion(ctx: &Context) -> Result<Reply> {
    Ok(Reply::from(ctx.server_version()?.to_string()))
}

/// The calling client's TLS certificate (nil without TLS).
#[rmkit::command(name = "test.getclientcert")]
fn getclientcert(ctx: &Context) -> Result<Reply> {
    let id = ctx.client_id().unwrap_or(0);
    Ok(ctx.client_certificate(id).map_or(Reply::Null, Reply::from))
}

/// `TEST.LOG_TSCTX level message`: logs `message` at `level` (Redis's level names; others log
/// at verbose, as `RedisModule_Log` does).
#[rmkit::command(name = "test.log_tsctx")]
fn log_tsctx(ctx: &Context, level: &RedisStr, message: &RedisStr) -> Result<Reply> {
    let level = match level.as_bytes().to_ascii_lowercase().as_slice() {
        b"debug" => rmkit::LogLevel::Debug,
        b"notice" => rmkit::LogLevel::Notice,
        b"warning" => rmkit::LogLevel::Warning,
        _ => rmkit::LogLevel::Verbose,
    };
    ctx.log(level, &String::from_utf8_lossy(message.as_bytes()));
    Ok(Reply::Ok)
}

/// A command whose name INFO must sanitize (`:`).
#[rmkit::command(name = "test.weird:cmd", flags = "readonly")]
fn weird_cmd() -> Result<Reply> {
    Ok(Reply::Ok)
}

/// Microseconds on a monotonic clock.
#[rmkit::command(name = "test.monotonic_time")]
fn monotonic_time() -> Result<Reply> {
    static START: OnceLock<Instant> = OnceLock::new();
    Ok(Reply::from(
        START.get_or_init(Instant::now).elapsed().as_micros() as i64,
    ))
}

/// `TEST.RM_CALL command args...`: the call with `E` (errors are replies).
#[rmkit::command(name = "test.rm_call", flags = "allow-stale")]
fn rm_call(ctx: &Context, args: Rest) -> Result<Reply> {
    let (cmd, rest) = split(&args)?;
    let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    pass_on(ctx.call(&cmd, &rest))
}

/// `TEST.RM_CALL_FLAGS flags command args...`: the call with `RedisModule_Call` format flags.
#[rmkit::command(name = "test.rm_call_flags", flags = "allow-stale")]
fn rm_call_flags(ctx: &Context, flags: &RedisStr, args: Rest) -> Result<Reply> {
    let (cmd, rest) = split(&args)?;
    let rest: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    let f = flags.as_bytes();
    let has = |c: u8| f.contains(&c);
    let opts = CallOptions {
        replicate: has(b'!'),
        script_mode: has(b'S'),
        no_writes: has(b'W'),
        respect_oom: has(b'M'),
        check_acl: has(b'C'),
        resp3: has(b'3'),
    };
    pass_on(ctx.call_with(opts, &cmd, &rest))
}
