//! Port of Redis 7.0's `tests/modules/stream.c`: `STREAM.ADD`, `STREAM.ADDN`,
//! `STREAM.DELETE`, `STREAM.RANGE` (which deletes entries with a `selfdestruct` field while
//! iterating) and `STREAM.TRIM`.
#![forbid(unsafe_code)]

use rmkit::command::Rest;
use rmkit::key::stream::StreamId;
use rmkit::prelude::*;

rmkit::module! { name: "stream", version: 1 }

fn fields(rest: &[RedisStr]) -> Result<&[RedisStr]> {
    if !rest.len().is_multiple_of(2) {
        return Err(Error::new("wrong number of arguments"));
    }
    Ok(rest)
}

fn id(arg: &RedisStr) -> Result<StreamId> {
    StreamId::parse(arg).ok_or_else(|| Error::raw("Invalid stream ID"))
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_string().into_bytes())
}

/// `STREAM.ADD key field value [field value ...]`: `XADD key * ...`; the new ID.
#[rmkit::command(name = "stream.add", flags = "write")]
fn stream_add(mut key: WriteKey, rest: Rest) -> Result<Reply> {
    let fields = fields(&rest)?;
    let id = key
        .stream()
        .and_then(|mut s| s.add(None, fields))
        .map_err(|_| Error::new("StreamAdd failed"))?;
    Ok(id_reply(id))
}

/// `STREAM.ADDN key n field value [...]`: adds the entry `n` times; how many were added.
#[rmkit::command(name = "stream.addn", flags = "write")]
fn stream_addn(mut key: WriteKey, n: &RedisStr, rest: Rest) -> Result<Reply> {
    let n =
        rmkit::command::parse_i64(n.as_bytes()).map_err(|_| Error::raw("N must be a number"))?;
    let fields = fields(&rest)?;
    let mut added = 0;
    if let Ok(mut stream) = key.stream() {
        while added < n && stream.add(None, fields).is_ok() {
            added += 1;
        }
    }
    Ok(Reply::Integer(added))
}

/// `STREAM.DELETE key id`.
#[rmkit::command(name = "stream.delete", flags = "write")]
fn stream_delete(mut key: WriteKey, id_arg: &RedisStr) -> Result<Reply> {
    let id = id(id_arg)?;
    match key.stream().and_then(|mut s| s.delete(id)) {
        Ok(true) => Ok(Reply::Ok),
        _ => Err(Error::new("StreamDelete failed")),
    }
}

/// `STREAM.RANGE key start end` (start above end: reverse), as `[[id, [field, value, ...]],
/// ...]`; an entry with a field named `selfdestruct` is returned, then deleted.
#[rmkit::command(name = "stream.range", flags = "write")]
fn stream_range(mut key: WriteKey, start: &RedisStr, end: &RedisStr) -> Result<Reply> {
    let (mut start, mut end) = (id(start)?, id(end)?);
    let reverse = start > end;
    if reverse {
        std::mem::swap(&mut start, &mut end);
    }
    if key.kind() != KeyKind::Stream {
        return Err(Error::new("StreamIteratorStart failed"));
    }
    let mut stream = key.stream()?;
    let entries = stream.range(start, end, reverse)?;
    stream.retain_range(start, end, |e| {
        e.fields
            .iter()
            .any(|(f, _)| f.as_bytes() == b"selfdestruct")
    })?;
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                let fields = e
                    .fields
                    .into_iter()
                    .flat_map(|(f, v)| [Reply::String(f), Reply::String(v)])
                    .collect();
                Reply::Array(vec![id_reply(e.id), Reply::Array(fields)])
            })
            .collect(),
    ))
}

/// `STREAM.TRIM key MAXLEN|MINID =|~ value`: how many entries were removed.
#[rmkit::command(name = "stream.trim", flags = "write")]
fn stream_trim(
    mut key: WriteKey,
    by: &RedisStr,
    mark: &RedisStr,
    value: &RedisStr,
) -> Result<Reply> {
    enum By {
        Len(u64),
        Id(StreamId),
    }
    let by = if by.as_bytes().eq_ignore_ascii_case(b"minid") {
        By::Id(StreamId::parse(value).ok_or_else(|| Error::new("Invalid stream ID"))?)
    } else if by.as_bytes().eq_ignore_ascii_case(b"maxlen") {
        let n = rmkit::command::parse_i64(value.as_bytes())
            .map_err(|_| Error::new("Maxlen must be a number"))?;
        By::Len(u64::try_from(n).map_err(|_| Error::new("Trimming failed"))?)
    } else {
        return Err(Error::new("Invalid arguments"));
    };
    let approx = match mark.as_bytes() {
        b"~" => true,
        b"=" => false,
        _ => return Err(Error::new("Invalid approx-or-exact mark")),
    };
    let mut stream = key.stream().map_err(|_| Error::new("Trimming failed"))?;
    let n = match by {
        By::Len(n) => stream.trim_to_len(n, approx),
        By::Id(id) => stream.trim_below(id, approx),
    }
    .map_err(|_| Error::new("Trimming failed"))?;
    Ok(Reply::Integer(n as i64))
}
