//! Port of Redis 7.0's `tests/modules/publish.c`: `PUBLISH` and `SPUBLISH` from a module.
#![forbid(unsafe_code)]

use rmkit::prelude::*;

rmkit::module! { name: "publish", version: 1 }

/// Publishes `message` on `channel`; replies the number of receivers.
#[rmkit::command(name = "publish.classic")]
fn classic(ctx: &Context, channel: &RedisStr, message: &RedisStr) -> Result<Reply> {
    Ok(Reply::from(ctx.publish(channel, message)))
}

/// Publishes `message` on shard channel `channel`; replies the number of receivers.
#[rmkit::command(name = "publish.shard")]
fn shard(ctx: &Context, channel: &RedisStr, message: &RedisStr) -> Result<Reply> {
    Ok(Reply::from(ctx.publish_shard(channel, message)))
}
