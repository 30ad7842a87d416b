//! `capped`: bounded collections for Redis, built with rmkit — one command per key type, each
//! written against the toolkit's typed key API (no `ctx.call`), as code to copy.
//!
//! | command | what |
//! |---|---|
//! | `LPUSHCAP key cap element [element ...]` | `LPUSH`, then drop from the tail so at most `cap` remain; the new length |
//! | `ZINCRCAP key cap increment member` | `ZINCRBY`, then drop the lowest-scored members so at most `cap` remain; the new score, or nil if `member` was dropped |
//! | `XADDMAXLEN key maxlen field value [field value ...]` | `XADD key * ...` then an exact `MAXLEN` trim; the new ID |
//! | `APPENDCAP key max value` | `APPEND`, keeping only the last `max` bytes; the new length |
//! | `TTLCAP key max-ms` | lowers the key's TTL to at most `max-ms` (sets one if it has none); the TTL in ms |
//! | `PEEK key` | `[type, length, ttl-ms or -1]` without touching the key's LRU/LFU clock |
//! | `KEYS.COUNT pattern` | how many keys match `pattern` (a SCAN, not `KEYS`: the server keeps serving) |
//! | `KEYS.UNLINK pattern` | unlinks every key matching `pattern`; how many |
//!
//! Every write replicates as the command itself and signals the keys it changed; every error
//! is Redis's wording (`WRONGTYPE ...`, `ERR ... is not an integer ...`).
#![forbid(unsafe_code)]

use rmkit::call::Arg;
use rmkit::command::{Pairs, Rest};
use rmkit::key::list::End;
use rmkit::key::zset::{Bound, ZaddFlags};
use rmkit::key::{OpenFlags, ScanCursor, glob_match};
use rmkit::prelude::*;
use std::time::Duration;

rmkit::module! { name: "capped", version: 1 }

fn positive(n: i64, what: &str) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::new(format!("{what} must be a positive integer")))
}

/// Push `elements` at the head of the list at `key`, then trim it to its `cap` newest
/// elements; reply the new length.
#[rmkit::command(
    name = "lpushcap",
    flags = "write deny-oom fast",
    acl = "write list",
    since = "1.0.0",
    complexity = "O(N) for N pushed and dropped elements"
)]
fn lpushcap(ctx: &Context, key: WriteKey, cap: i64, elements: Rest) -> Result<Reply> {
    let cap = positive(cap, "cap")?;
    if elements.is_empty() {
        return Err(Error::new(
            "wrong number of arguments for 'lpushcap' command",
        ));
    }
    let list = key.list()?;
    for e in elements.iter() {
        list.push(End::Head, e)?;
    }
    while list.len() > cap {
        list.pop(End::Tail)?;
    }
    ctx.notify_keyspace_event(Notify::List, "lpush", key.name());
    ctx.replicate_verbatim();
    Ok(Reply::from(list.len()))
}

/// Add `increment` to `member`'s score in the sorted set at `key`, then drop the
/// lowest-scored members until at most `cap` remain; reply the new score, or nil if `member`
/// itself was dropped.
#[rmkit::command(
    name = "zincrcap",
    flags = "write deny-oom fast",
    acl = "write sortedset",
    since = "1.0.0",
    complexity = "O(log N) per dropped member"
)]
fn zincrcap(
    ctx: &Context,
    mut key: WriteKey,
    cap: i64,
    increment: f64,
    member: &RedisStr,
) -> Result<Reply> {
    let cap = positive(cap, "cap")?;
    let mut zset = key.zset()?;
    let (_, score) = zset.incr_by(member, increment, ZaddFlags::default())?;
    let mut dropped_self = false;
    while zset.len() > cap {
        let lowest = zset
            .range_by_score(
                Bound::Inclusive(f64::NEG_INFINITY),
                Bound::Inclusive(f64::INFINITY),
                false,
            )
            .next();
        let Some((m, _)) = lowest else { break };
        dropped_self |= m.as_bytes() == member.as_bytes();
        zset.remove(&m)?;
    }
    ctx.notify_keyspace_event(Notify::ZSet, "zincr", key.name());
    ctx.replicate_verbatim();
    Ok(match score {
        Some(s) if !dropped_self => Reply::Double(s),
        _ => Reply::Null,
    })
}

/// Append an entry of `field value` pairs to the stream at `key` with an automatic ID, then
/// trim the stream to its `maxlen` newest entries (exactly); reply the new ID.
#[rmkit::command(
    name = "xaddmaxlen",
    flags = "write deny-oom fast",
    acl = "write stream",
    since = "1.0.0",
    complexity = "O(1) plus O(N) for N trimmed entries"
)]
fn xaddmaxlen(ctx: &Context, mut key: WriteKey, maxlen: i64, fields: Pairs) -> Result<Reply> {
    if maxlen < 0 {
        return Err(Error::new("maxlen must not be negative"));
    }
    let mut stream = key.stream()?;
    let id = stream.add(None, fields.0)?;
    stream.trim_to_len(maxlen as u64, false)?;
    // Replicate what happened, not the command: a replica must store the same ID. The key
    // and the fields go on as the strings Redis already holds (no copies).
    let id_text = id.to_string();
    let mut args: Vec<Arg<'_>> = Vec::with_capacity(4 + fields.0.len());
    args.extend([
        key.name().into(),
        "MAXLEN".into(),
        Arg::Int(maxlen),
        id_text.as_str().into(),
    ]);
    args.extend(fields.0.iter().map(Arg::from));
    ctx.replicate_with("XADD", &args)?;
    ctx.notify_keyspace_event(Notify::Stream, "xadd", key.name());
    Ok(Reply::Bulk(id_text.into_bytes()))
}

/// Append `value` to the string at `key`, keeping only its last `max` bytes; reply the new
/// length.
#[rmkit::command(
    name = "appendcap",
    flags = "write deny-oom fast",
    acl = "write string",
    since = "1.0.0",
    complexity = "O(max)"
)]
fn appendcap(ctx: &Context, mut key: WriteKey, max: i64, value: &[u8]) -> Result<Reply> {
    let max = positive(max, "max")?;
    let len = key.append(value)?;
    if len > max {
        // Shift the kept tail to the front, in place, then cut.
        key.string_mut()?.copy_within(len - max.., 0);
        key.truncate(max)?;
    }
    ctx.notify_keyspace_event(Notify::String, "append", key.name());
    ctx.replicate_verbatim();
    Ok(Reply::from(key.value_len()))
}

/// Lower the TTL of `key` to at most `max-ms` milliseconds (set one if it has none); reply the
/// TTL in milliseconds, or -2 if the key does not exist.
#[rmkit::command(
    name = "ttlcap",
    flags = "write fast",
    acl = "write keyspace",
    since = "1.0.0",
    complexity = "O(1)"
)]
fn ttlcap(ctx: &Context, mut key: WriteKey, max_ms: i64) -> Result<Reply> {
    let max = Duration::from_millis(positive(max_ms, "max-ms")? as u64);
    if key.kind() == KeyKind::Empty {
        return Ok(Reply::Integer(-2));
    }
    let ttl = match key.expire() {
        Some(t) if t <= max => t,
        _ => {
            key.set_expire(Some(max))?;
            ctx.notify_keyspace_event(Notify::Generic, "expire", key.name());
            ctx.replicate_verbatim();
            max
        }
    };
    Ok(Reply::Integer(ttl.as_millis() as i64))
}

/// `[type, length, ttl-ms or -1]` of `key`, read without touching its LRU/LFU clock (so a
/// monitoring script does not keep cold keys from being evicted).
#[rmkit::command(
    name = "peek",
    flags = "readonly fast",
    acl = "read keyspace",
    since = "1.0.0",
    complexity = "O(1)"
)]
fn peek(ctx: &Context, name: rmkit::command::KeyName) -> Result<Reply> {
    let key = ctx.open_key_with(
        name.0,
        OpenFlags {
            notouch: true,
            ..OpenFlags::default()
        },
    )?;
    let kind = match key.kind() {
        KeyKind::Empty => "none",
        KeyKind::String => "string",
        KeyKind::List => "list",
        KeyKind::Hash => "hash",
        KeyKind::Set => "set",
        KeyKind::ZSet => "zset",
        KeyKind::Module => "module",
        KeyKind::Stream => "stream",
    };
    let ttl = key.expire().map_or(-1, |t| t.as_millis() as i64);
    Ok(Reply::Array(vec![
        Reply::Simple(kind.into()),
        Reply::from(key.value_len()),
        Reply::Integer(ttl),
    ]))
}

/// The names of every key of the database that match `pattern`, scanning in steps.
fn matching(ctx: &Context, pattern: &[u8]) -> Vec<RedisString> {
    let mut names = Vec::new();
    let mut cursor = ScanCursor::new();
    while ctx.scan(&mut cursor, |_, name, _| {
        if glob_match(pattern, name.as_bytes()) {
            names.push(RedisString::new(name.as_bytes()));
        }
    }) {}
    names
}

/// How many keys match the glob `pattern` (`KEYS`'s syntax), by a keyspace scan.
#[rmkit::command(
    name = "keys.count",
    flags = "readonly",
    acl = "read keyspace slow",
    since = "1.0.0",
    complexity = "O(N) with N the number of keys in the database"
)]
fn keys_count(ctx: &Context, pattern: &[u8]) -> Result<Reply> {
    let mut n = 0usize;
    let mut cursor = ScanCursor::new();
    while ctx.scan(&mut cursor, |_, name, _| {
        n += usize::from(glob_match(pattern, name.as_bytes()));
    }) {}
    Ok(Reply::from(n))
}

/// Unlink every key matching `pattern`; reply how many. (The names are collected first and
/// unlinked after the scan: a scan may only change the key it is visiting.)
#[rmkit::command(
    name = "keys.unlink",
    flags = "write",
    acl = "write keyspace slow",
    since = "1.0.0",
    complexity = "O(N) with N the number of keys in the database"
)]
fn keys_unlink(ctx: &Context, pattern: &[u8]) -> Result<Reply> {
    let mut n = 0i64;
    for name in matching(ctx, pattern) {
        let mut key = ctx.open_key_writable(&name);
        if key.unlink()? {
            ctx.replicate("UNLINK", &[name.as_bytes()])?;
            ctx.notify_keyspace_event(Notify::Generic, "del", &name);
            n += 1;
        }
    }
    Ok(Reply::Integer(n))
}
