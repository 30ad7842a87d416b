//! `hashex`: hash extensions for Redis, built with rmkit.
//!
//! - `HGETSET key field value` — set a hash field and return its previous value (nil if none).
//! - `HMGETSET key field value [field value ...]` — the same for many fields at once; returns
//!   the previous values in order.
//!
//! Both are binary-safe, reply `WRONGTYPE` on a key holding something else, emit the `hset`
//! keyspace event like `HSET`, and replicate as one write.
#![forbid(unsafe_code)]

use rmkit::command::Pairs;
use rmkit::prelude::*;

rmkit::module! { name: "hashex", version: 1 }

/// Set `field` in the hash at `key` to `value` and return the field's previous value (nil if
/// it had none).
#[rmkit::command(
    name = "hgetset",
    flags = "write fast deny-oom",
    acl = "write hash",
    since = "1.0.0",
    complexity = "O(1)"
)]
fn hgetset(ctx: &Context, key: WriteKey, field: &RedisStr, value: &RedisStr) -> Result<Reply> {
    let hash = key.hash()?;
    let old = hash.get(field);
    hash.set(field, value)?;
    ctx.notify_keyspace_event(Notify::Hash, "hset", key.name());
    ctx.replicate_verbatim();
    Ok(old.into())
}

/// Set every `field value` pair in the hash at `key` and return the previous values, in order
/// (nil for fields that were absent). Any number of pairs.
#[rmkit::command(
    name = "hmgetset",
    flags = "write deny-oom",
    acl = "write hash",
    since = "1.0.0",
    complexity = "O(N) where N is the number of fields"
)]
fn hmgetset(ctx: &Context, key: WriteKey, data: Pairs) -> Result<Reply> {
    let hash = key.hash()?;
    let mut old = Vec::with_capacity(data.len());
    for (field, value) in data.iter() {
        old.push(hash.get(field));
        hash.set(field, value)?;
    }
    ctx.notify_keyspace_event(Notify::Hash, "hset", key.name());
    ctx.replicate_verbatim();
    Ok(old.into())
}
