//! `json`: a JSON data type for Redis, built with rmkit.
//!
//! The commands are RedisJSON 2.8's, with its replies byte for byte in RESP2 and RESP3
//! ([`commands`]; checked against `rejson.so` by `tests/tests/json_compat.rs`): `JSON.SET`,
//! `GET`, `MGET`, `MSET`, `DEL`/`FORGET`, `TYPE`, `NUMINCRBY`/`NUMMULTBY`, `STRAPPEND`/`STRLEN`,
//! `ARRAPPEND`/`ARRINDEX`/`ARRINSERT`/`ARRLEN`/`ARRPOP`/`ARRTRIM`, `OBJKEYS`/`OBJLEN`, `CLEAR`,
//! `TOGGLE`, `MERGE`, `RESP`, `DEBUG MEMORY|HELP`. This module adds:
//!
//! | command | reply |
//! |---|---|
//! | `JSON.SET key json [NX\|XX]` | the seed's form: `OK`, or nil when NX/XX says no |
//! | `JSON.GET key PRETTY` | the document indented by 2 (exactly `PRETTY`, alone) |
//! | `JSON.PATH key path [PRETTY]` | a JSON array of the values `path` selects, or nil |
//! | `JSON.FMT key template` | the template with `{path}` placeholders filled in ([`template`]) |
//!
//! Paths are RedisJSON's JSONPath (with legacy paths) or a JSON Pointer ([`path`]). A document
//! is stored in one compact buffer ([`doc`]), usually smaller than its JSON text; object
//! members keep their order. Every write is planned first ([`ops`]) and applied only if the
//! whole command succeeds. `MEMORY USAGE` reports the bytes the document really holds,
//! measured by the allocator, and stays exact after edits.

#![forbid(unsafe_code)]

pub mod commands;
pub mod doc;
pub mod ops;
pub mod path;
pub mod template;

use doc::{Doc, Node};
use rmkit::prelude::*;
use rmkit::server::config::NumberConfig;

rmkit::module! { name: "json", version: 1 }

/// At load, on the thread that runs commands: the buffer `JSON.SET` parses documents of up to
/// about 7 KB in ([`Doc::reserve_scratch`], 16 KB kept for the module's life).
fn reserve_parse_buffer(_load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
    Doc::reserve_scratch();
    Ok(())
}
rmkit::on_load!(reserve_parse_buffer);

/// A JSON document stored in a key (Redis type name `rmkitjson`).
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub Doc);

/// Parses JSON text; errors read `invalid JSON: <reason> at line L column C`. Nesting of 128
/// levels or more is refused (`recursion limit exceeded`; 127 is the deepest accepted), so no
/// input can overflow the stack.
pub fn parse(text: &[u8]) -> Result<Doc, Error> {
    Doc::parse(text).map_err(invalid)
}

fn invalid(e: serde_json::Error) -> Error {
    let full = e.to_string();
    let reason = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(r, _)| r);
    Error::new(format!(
        "invalid JSON: {reason} at line {} column {}",
        e.line(),
        e.column()
    ))
}

impl DataType for Json {
    const NAME: &'static str = "rmkitjson";
    const ENCODING_VERSION: i32 = 0;

    fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
        rdb.save_bytes(&self.0.to_json());
    }

    fn rdb_load(rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        parse(&rdb.load_bytes()?).map(Json)
    }

    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
        aof.emit("json.set", key, &[&self.0.to_json()]);
    }

    fn digest(&self, digest: &mut Digest<'_>) {
        digest.add(&self.0.to_json());
        digest.end_sequence();
    }

    fn copy(&self) -> Option<Self> {
        Some(self.clone())
    }
}

rmkit::data_type!(Json);

/// The largest reply a command whose output can outgrow the document (`JSON.FMT`, `PRETTY`)
/// may build, in bytes (`CONFIG SET json.max-reply-bytes`); never more than the server's
/// `proto-max-bulk-len`.
pub static MAX_REPLY_BYTES: NumberConfig =
    NumberConfig::new("max-reply-bytes", 64 << 20, 1 << 10, i64::MAX);
rmkit::config!(MAX_REPLY_BYTES);

/// The reply limit in bytes.
pub(crate) fn max_reply() -> usize {
    usize::try_from(MAX_REPLY_BYTES.get()).unwrap_or(usize::MAX)
}

/// An output buffer of exactly `len` bytes, or `OOM` if the server cannot give it (never an
/// abort: the allocator's fallible path).
pub(crate) fn reply_buffer(len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| {
        Error::out_of_memory(format!("not enough memory for a reply of {len} bytes"))
    })?;
    Ok(out)
}

/// The pretty text of `v`, measured and checked against the reply limit before it is built.
pub(crate) fn pretty(ctx: &Context, v: Node<'_>) -> Result<Vec<u8>> {
    let limit = max_reply();
    let len = v.json_pretty_len(limit).ok_or_else(|| too_large(limit))?;
    ctx.check_reply_size(len, limit)?;
    let mut out = reply_buffer(len)?;
    v.write_json_pretty(&mut out);
    Ok(out)
}

/// The values a `$` path selected as a JSON array, written straight from the encoding; matches
/// may nest (`$..*`), so the text is measured against the reply limit before it is built.
pub(crate) fn matches_json(ctx: &Context, found: &[Node<'_>]) -> Result<Vec<u8>> {
    let limit = max_reply();
    let len = doc::array_json_len(found, limit).ok_or_else(|| too_large(limit))?;
    ctx.check_reply_size(len, limit)?;
    let mut out = reply_buffer(len)?;
    doc::write_array_json(found, &mut out);
    Ok(out)
}

pub(crate) fn too_large(limit: usize) -> Error {
    Error::new(format!(
        "the reply would be more than {limit} bytes (json.max-reply-bytes); ask for less at once"
    ))
}

fn segments(p: &RedisStr) -> Result<Vec<path::Segment>> {
    path::parse(p.as_bytes()).map_err(|e| Error::new(e.to_string()))
}

rmkit::keywords! {
    /// Output formatting.
    pub enum Format { Pretty = "PRETTY" }
}

/// A JSON array of the values the path selects (PRETTY: indented), or nil if no key.
#[rmkit::command(
    name = "json.path",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the size of the document"
)]
fn json_path(
    ctx: &Context,
    key: ReadKey,
    path: &RedisStr,
    format: Option<Format>,
) -> Result<Reply> {
    let segs = segments(path)?;
    let Some(j) = key.value::<Json>()? else {
        return Ok(Reply::Null);
    };
    let found = ops::select(j.0.root(), &segs)?;
    if format.is_none() {
        return matches_json(ctx, &found).map(Reply::Bulk);
    }
    let limit = max_reply();
    let len = doc::pretty_len(&found, limit).ok_or_else(|| too_large(limit))?;
    ctx.check_reply_size(len, limit)?;
    let mut out = reply_buffer(len)?;
    serde::Serialize::serialize(
        &found,
        &mut serde_json::Serializer::with_formatter(
            &mut out,
            doc::Floats(serde_json::ser::PrettyFormatter::new()),
        ),
    )
    .expect("writing to a Vec cannot fail");
    Ok(Reply::Bulk(out))
}

/// Render a template with `{path}` placeholders from the document (`{{`/`}}` for braces).
#[rmkit::command(
    name = "json.fmt",
    flags = "readonly",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the size of the template and the values"
)]
fn json_fmt(ctx: &Context, key: ReadKey, template: &[u8]) -> Result<Reply> {
    let Some(j) = key.value::<Json>()? else {
        return Ok(Reply::Null);
    };
    let parsed = template::parse(template).map_err(Error::new)?;
    let rendering = parsed.prepare(j.0.root()).map_err(Error::new)?;
    // Measured (each distinct value once, at most up to the limit) before anything is built.
    let limit = max_reply();
    let len = rendering.len(limit).ok_or_else(|| too_large(limit))?;
    ctx.check_reply_size(len, limit)?;
    let mut out = reply_buffer(len)?;
    rendering.write(&mut out);
    Ok(Reply::Bulk(out))
}

/// Applies a planned [`ops::Effect`] to the key: nothing at all when it changes nothing (no
/// write, so no modified-key signal, notification or replication); else the edit (spliced into
/// the stored document inside `update`, so what its buffer gains or loses is measured), the
/// keyspace event and the replication of the command.
pub(crate) fn apply(
    ctx: &Context,
    key: &mut rmkit::Key<'_>,
    event: &str,
    effect: ops::Effect,
) -> Result<()> {
    match effect {
        ops::Effect::Nothing => return Ok(()),
        ops::Effect::Edit(edits) => {
            key.update(|j: &mut Json| j.0.edit_in_place(&edits))?;
        }
        ops::Effect::DeleteKey => {
            key.delete()?;
        }
    }
    ctx.notify_keyspace_event(Notify::Module, event, key.name());
    ctx.replicate_verbatim();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_reason_line_and_column() {
        assert_eq!(
            parse(b"{\"a\":}").unwrap_err().message(),
            "ERR invalid JSON: expected value at line 1 column 6"
        );
        assert_eq!(
            parse(b"").unwrap_err().message(),
            "ERR invalid JSON: EOF while parsing a value at line 1 column 0"
        );
        assert_eq!(
            parse(b"[1,\n2,]").unwrap_err().message(),
            "ERR invalid JSON: trailing comma at line 2 column 3"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = vec![b'['; 100_000];
        let e = parse(&deep).unwrap_err();
        assert!(
            e.message()
                .starts_with("ERR invalid JSON: recursion limit exceeded"),
            "{e}"
        );
    }
}
