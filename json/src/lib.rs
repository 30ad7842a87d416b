//! `json`: a JSON data type for Redis, built with rmkit.
//!
//! | command | reply |
//! |---|---|
//! | `JSON.SET key json [NX\|XX]` | `OK`, or nil when NX/XX says no |
//! | `JSON.GET key [PRETTY]` | the document (compact, or indented by 2) or nil |
//! | `JSON.PATH key path [PRETTY]` | a JSON array of the values `path` selects, or nil |
//! | `JSON.FMT key template` | the template with `{path}` placeholders filled in ([`template`]) |
//! | `JSON.DEL key [path]` | how many values were removed (`$` removes the key) |
//! | `JSON.TYPE key [path]` | `object`, `array`, `string`, `integer`, `number`, `boolean`, `null` |
//! | `JSON.ARRLEN key [path]` | array length(s) |
//! | `JSON.NUMINCRBY key path n` | a JSON array of the new values (nil entries for non-numbers) |
//! | `JSON.DEBUG MEMORY key` | the bytes the document holds, as measured by the allocator |
//!
//! Paths are a JSONPath subset or a JSON Pointer ([`path`]). A document is stored in one
//! compact buffer ([`doc`]), usually smaller than its JSON text; object members keep their
//! order. `MEMORY USAGE` reports the bytes the document really holds, measured by the
//! allocator, and stays exact after edits.

pub mod doc;
pub mod ops;
pub mod path;
pub mod template;

use doc::{Doc, Kind, Node};
use rmkit::args::Args;
use rmkit::prelude::*;
use rmkit::{Arg, KeySpec};

rmkit::module! { name: "json", version: 1 }

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
pub static MAX_REPLY_BYTES: rmkit::config::NumberConfig =
    rmkit::config::NumberConfig::new("max-reply-bytes", 64 << 20, 1 << 10, i64::MAX);
rmkit::config!(MAX_REPLY_BYTES);

/// The reply limit in bytes.
fn max_reply() -> usize {
    usize::try_from(MAX_REPLY_BYTES.get()).unwrap_or(usize::MAX)
}

/// An output buffer of exactly `len` bytes, or `OOM` if the server cannot give it (never an
/// abort: the allocator's fallible path).
fn reply_buffer(len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| {
        Error::out_of_memory(format!("not enough memory for a reply of {len} bytes"))
    })?;
    Ok(out)
}

/// The pretty text of `v`, measured and checked against the reply limit before it is built.
fn pretty(ctx: &Context, v: Node<'_>) -> Result<Vec<u8>> {
    let limit = max_reply();
    let len = v.json_pretty_len(limit).ok_or_else(|| too_large(limit))?;
    ctx.check_reply_size(len, limit)?;
    let mut out = reply_buffer(len)?;
    v.write_json_pretty(&mut out);
    Ok(out)
}

fn too_large(limit: usize) -> Error {
    Error::new(format!(
        "the reply would be more than {limit} bytes (json.max-reply-bytes); ask for less at once"
    ))
}

fn segments(p: &RedisStr) -> Result<Vec<path::Segment>> {
    path::parse(p.as_bytes()).map_err(|e| Error::new(e.to_string()))
}

/// Key specs: what each command does to its key (COMMAND INFO, ACL key permissions).
const READS: &[KeySpec] = &[KeySpec::single(1, "RO access")];
const WRITES: &[KeySpec] = &[KeySpec::single(1, "RW update")];
const DELETES: &[KeySpec] = &[KeySpec::single(1, "RW delete")];
const INCREMENTS: &[KeySpec] = &[KeySpec::single(1, "RW access update")];

rmkit::keywords! {
    /// `JSON.SET`'s condition.
    pub enum Cond { Nx = "NX", Xx = "XX" }
}

rmkit::keywords! {
    /// Output formatting.
    pub enum Format { Pretty = "PRETTY" }
}

/// `[PRETTY]` at the end of the arguments.
fn is_pretty(args: &mut Args<'_, RedisStr>) -> Result<bool> {
    let pretty = args.optional::<Format>()?.is_some();
    args.done()?;
    Ok(pretty)
}

/// Shared by the read commands `CMD key [path]`: parses the arguments, opens the key, and
/// calls `f` with the document and the path (`None`: the root); nil when the key is missing.
fn read_at_optional_path(
    ctx: &Context,
    args: &[RedisStr],
    f: impl FnOnce(Node<'_>, Option<Vec<path::Segment>>) -> Result,
) -> Result {
    let mut args = Args::new(args);
    let name = args.next_arg()?;
    let segs = optional_path(&mut args)?;
    let key = ctx.open_key(name);
    match key.value::<Json>()? {
        None => Ok(Reply::Null),
        Some(doc) => f(doc.0.root(), segs),
    }
}

/// An optional path at the end of the arguments (`None`: the root).
fn optional_path(args: &mut Args<'_, RedisStr>) -> Result<Option<Vec<path::Segment>>> {
    let p = if args.is_empty() {
        None
    } else {
        Some(segments(args.next_arg()?)?)
    };
    args.done()?;
    Ok(p)
}

rmkit::command! {
    /// Store a JSON document at key (replacing any JSON value there). NX: only if the key does
    /// not exist; XX: only if it does. Invalid JSON leaves the key untouched.
    name: "json.set", flags: "write deny-oom", arity: -3, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the size of the document", acl: "write",
        key_specs: WRITES,
        args: &[Arg::key("key", 0), Arg::string("json"),
                Arg::one_of("condition", &[Arg::token("NX"), Arg::token("XX")]).optional()],
    },
    fn json_set(ctx, args) {
        let mut args = Args::new(args);
        let (name, text) = (args.next_arg()?, args.next_bytes()?);
        let cond = args.optional::<Cond>()?;
        args.done()?;
        let key = ctx.open_key_writable(name);
        let exists = key.value::<Json>()?.is_some();
        // Invalid JSON is an error whatever NX/XX would have decided. Parsed (and measured)
        // first, stored only if the condition holds.
        let doc = rmkit::datatype::Measured::build(|| parse(text).map(Json))?;
        if matches!((cond, exists), (Some(Cond::Nx), true) | (Some(Cond::Xx), false)) {
            return Ok(Reply::Null);
        }
        key.set_measured(doc)?;
        ctx.notify_keyspace_event(Notify::Module, "json.set", name);
        ctx.replicate_verbatim();
        Ok(Reply::Ok)
    }
}

rmkit::command! {
    /// The document at key as JSON text (PRETTY: indented), or nil.
    name: "json.get", flags: "readonly fast", arity: -2, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the size of the document", acl: "read",
        key_specs: READS, args: &[Arg::key("key", 0), Arg::token("PRETTY").optional()],
    },
    fn json_get(ctx, args) {
        let mut args = Args::new(args);
        let name = args.next_arg()?;
        let is_pretty = is_pretty(&mut args)?;
        let key = ctx.open_key(name);
        match key.value::<Json>()? {
            None => Ok(Reply::Null),
            Some(j) if is_pretty => pretty(ctx, j.0.root()).map(Reply::Bulk),
            Some(j) => Ok(Reply::Bulk(j.0.to_json())),
        }
    }
}

rmkit::command! {
    /// A JSON array of the values the path selects (PRETTY: indented), or nil if no key.
    name: "json.path", flags: "readonly fast", arity: -3, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the size of the document", acl: "read",
        key_specs: READS,
        args: &[Arg::key("key", 0), Arg::string("path"), Arg::token("PRETTY").optional()],
    },
    fn json_path(ctx, args) {
        let mut args = Args::new(args);
        let (name, segs) = (args.next_arg()?, segments(args.next_arg()?)?);
        let is_pretty = is_pretty(&mut args)?;
        let key = ctx.open_key(name);
        let Some(j) = key.value::<Json>()? else { return Ok(Reply::Null) };
        let found = path::select(j.0.root(), &segs);
        if !is_pretty {
            // Matches never overlap: the text is at most ~6x the document, like JSON.GET.
            return Ok(Reply::Bulk(serde_json::to_vec(&found).expect("a document always serialises")));
        }
        let limit = max_reply();
        let len = doc::pretty_len(&found, limit).ok_or_else(|| too_large(limit))?;
        ctx.check_reply_size(len, limit)?;
        let mut out = reply_buffer(len)?;
        serde_json::to_writer_pretty(&mut out, &found).expect("writing to a Vec cannot fail");
        Ok(Reply::Bulk(out))
    }
}

rmkit::command! {
    /// Render a template with `{path}` placeholders from the document (`{{`/`}}` for braces).
    name: "json.fmt", flags: "readonly", arity: 3, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the size of the template and the values", acl: "read",
        key_specs: READS, args: &[Arg::key("key", 0), Arg::string("template")],
    },
    fn json_fmt(ctx, args) {
        let key = ctx.open_key(&args[1]);
        let Some(j) = key.value::<Json>()? else { return Ok(Reply::Null) };
        let parsed = template::parse(args[2].as_bytes()).map_err(Error::new)?;
        let rendering = parsed.prepare(j.0.root()).map_err(Error::new)?;
        // Measured (each distinct value once, at most up to the limit) before anything is built.
        let limit = max_reply();
        let len = rendering.len(limit).ok_or_else(|| too_large(limit))?;
        ctx.check_reply_size(len, limit)?;
        let mut out = reply_buffer(len)?;
        rendering.write(&mut out);
        Ok(Reply::Bulk(out))
    }
}

rmkit::command! {
    /// Remove the values the path selects (default `$`: the whole key); reply how many.
    name: "json.del", flags: "write", arity: -2, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the size of the document", acl: "write",
        key_specs: DELETES, args: &[Arg::key("key", 0), Arg::string("path").optional()],
    },
    fn json_del(ctx, args) {
        let mut args = Args::new(args);
        let name = args.next_arg()?;
        let segs = optional_path(&mut args)?.unwrap_or_default();
        let key = ctx.open_key_writable(name);
        let Some(doc) = key.value::<Json>()? else { return Ok(Reply::Integer(0)) };
        let (effect, removed) = ops::del(doc.0.root(), &segs);
        apply(ctx, &key, name, "json.del", effect)?;
        Ok(Reply::from(removed))
    }
}

/// Applies a planned [`ops::Effect`] to the key: nothing at all when it changes nothing (no
/// write, so no modified-key signal, notification or replication); else the edit (built inside
/// `update`, so the new buffer's bytes are measured), the keyspace event and the replication of
/// the command.
fn apply(
    ctx: &Context,
    key: &rmkit::Key<'_>,
    name: &RedisStr,
    event: &str,
    effect: ops::Effect,
) -> Result<()> {
    match effect {
        ops::Effect::Nothing => return Ok(()),
        ops::Effect::Edit(edits) => {
            key.update(|j: &mut Json| j.0 = j.0.edit(&edits))?;
        }
        ops::Effect::DeleteKey => {
            key.delete()?;
        }
    }
    ctx.notify_keyspace_event(Notify::Module, event, name);
    ctx.replicate_verbatim();
    Ok(())
}

rmkit::command! {
    /// The JSON type of the document (or, with a path, an array of the selected values' types).
    name: "json.type", flags: "readonly fast", arity: -2, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the number of matches", acl: "read",
        key_specs: READS, args: &[Arg::key("key", 0), Arg::string("path").optional()],
    },
    fn json_type(ctx, args) {
        read_at_optional_path(ctx, args, |doc, segs| match segs {
            None => Ok(Reply::from(path::type_name(doc))),
            Some(segs) => {
                let found = path::select(doc, &segs);
                Ok(Reply::Array(found.into_iter().map(|v| Reply::from(path::type_name(v))).collect()))
            }
        })
    }
}

rmkit::command! {
    /// The length of the array at the root (or, with a path, of each selected value; nil for
    /// non-arrays).
    name: "json.arrlen", flags: "readonly fast", arity: -2, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the number of matches", acl: "read",
        key_specs: READS, args: &[Arg::key("key", 0), Arg::string("path").optional()],
    },
    fn json_arrlen(ctx, args) {
        read_at_optional_path(ctx, args, |doc, segs| match segs {
            None => match doc.kind() {
                Kind::Array => Ok(Reply::from(doc.len().unwrap_or(0))),
                other => Err(Error::new(format!("the document is {} {}, not an array",
                    if other.name().starts_with(['a', 'i', 'o']) { "an" } else { "a" },
                    other.name()))),
            },
            Some(segs) => {
                let found = path::select(doc, &segs);
                Ok(Reply::Array(
                    found.into_iter().map(|v| v.len().filter(|_| v.kind() == Kind::Array).into()).collect(),
                ))
            }
        })
    }
}

rmkit::command! {
    /// Add n to every number the path selects; reply a JSON array of the new values (null for
    /// selected values that are not numbers).
    name: "json.numincrby", flags: "write deny-oom fast", arity: 4, keys: (1, 1, 1),
    info: {
        since: "1.0.0", complexity: "O(N) in the number of matches", acl: "write",
        key_specs: INCREMENTS,
        args: &[Arg::key("key", 0), Arg::string("path"), Arg::double("increment")],
    },
    fn json_numincrby(ctx, args) {
        let segs = segments(&args[2])?;
        let by = ops::parse_number(args[3].as_bytes())?;
        let key = ctx.open_key_writable(&args[1]);
        let Some(doc) = key.value::<Json>()? else {
            return Err(Error::new("could not perform this operation on a key that doesn't exist"));
        };
        // Every new value is computed first: if one overflows, nothing changes.
        let (effect, results) = ops::numincrby(doc.0.root(), &segs, &by)?;
        apply(ctx, &key, &args[1], "json.numincrby", effect)?;
        Ok(Reply::Bulk(serde_json::to_vec(&results).expect("numbers always serialise")))
    }
}

rmkit::command! {
    /// The bytes the document holds, measured by the allocator (what MEMORY USAGE adds on top
    /// of the key's own overhead).
    name: "json.debug|memory", flags: "readonly", arity: 3, keys: (2, 2, 1),
    info: {
        since: "1.0.0", complexity: "O(1)", acl: "read",
        key_specs: &[KeySpec::single(2, "RO")], args: &[Arg::key("key", 0)],
    },
    fn json_debug_memory(ctx, args) {
        let key = ctx.open_key(&args[2]);
        Ok(Reply::from(key.value_bytes::<Json>()?.unwrap_or(0)))
    }
}

rmkit::command! {
    /// What JSON.DEBUG can do.
    name: "json.debug|help", flags: "readonly", arity: 2, keys: (0, 0, 0),
    fn json_debug_help(ctx, args) {
        Ok(Reply::Array(vec![
            Reply::from("JSON.DEBUG MEMORY <key>"),
            Reply::from("    The bytes the document holds, measured by the allocator."),
            Reply::from("JSON.DEBUG HELP"),
            Reply::from("    This text."),
        ]))
    }
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
