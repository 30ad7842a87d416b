//! Port of Redis 7.0's `tests/modules/scan.c`: `SCAN.SCAN_STRINGS` (every string key and its
//! value, by a keyspace scan) and `SCAN.SCAN_KEY key` (every element of a hash, set or sorted
//! set, by a key scan).
#![forbid(unsafe_code)]

use rmkit::command::KeyName;
use rmkit::key::ScanCursor;
use rmkit::prelude::*;

rmkit::module! { name: "scan", version: 1 }

/// `[[name, value], ...]` for every string key of the database.
#[rmkit::command(name = "scan.scan_strings", flags = "")]
fn scan_strings(ctx: &Context) -> Result<Reply> {
    let mut out = Vec::new();
    let mut cursor = ScanCursor::new();
    while ctx.scan(&mut cursor, |_, name, key| {
        if let Some(Ok(Some(value))) = key.as_ref().map(|k| k.string()) {
            out.push(Reply::Array(vec![
                Reply::Bulk(name.as_bytes().to_vec()),
                Reply::Bulk(value.to_vec()),
            ]));
        }
    }) {}
    Ok(Reply::Array(out))
}

/// `[[field, value], ...]` of a hash, `[[member, score], ...]` of a sorted set, `[[member,
/// nil], ...]` of a set.
#[rmkit::command(name = "scan.scan_key", flags = "")]
fn scan_key(ctx: &Context, name: KeyName) -> Result<Reply> {
    let key = ctx.open_key(name.0);
    if key.kind() == KeyKind::Empty {
        return Err(Error::raw("not found"));
    }
    let mut out = Vec::new();
    let mut cursor = ScanCursor::new();
    while key.scan_fields(&mut cursor, |field, value| {
        out.push(Reply::Array(vec![
            Reply::Bulk(field.as_bytes().to_vec()),
            value.map_or(Reply::Null, |v| Reply::Bulk(v.as_bytes().to_vec())),
        ]));
    })? {}
    Ok(Reply::Array(out))
}
