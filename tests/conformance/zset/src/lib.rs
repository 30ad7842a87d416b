//! Port of Redis 7.0's `tests/modules/zset.c`: `ZSET.REM key element`.
#![forbid(unsafe_code)]

use rmkit::prelude::*;

rmkit::module! { name: "zset", version: 1 }

/// Removes `element` from the sorted set at `key`; replies 1 if it was there, else 0 (an
/// emptied sorted set deletes the key).
#[rmkit::command(name = "zset.rem", flags = "write")]
fn zset_rem(mut key: WriteKey, element: &RedisStr) -> Result<Reply> {
    let removed = key
        .zset()
        .and_then(|mut z| z.remove(element))
        .map_err(|_| Error::new("ZsetRem failed"))?;
    Ok(Reply::Integer(removed.into()))
}
