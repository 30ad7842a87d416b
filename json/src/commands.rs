//! The commands in RedisJSON 2.8's syntax and replies (RESP2 and RESP3), plus the seed's own
//! forms where they cannot be mistaken for RedisJSON's (the rule is in the README's json
//! section and on `JSON.SET` and `JSON.GET` below).
//!
//! Every write plans its change first ([`ops`]) and applies it only when the whole command
//! succeeds: an error leaves the document unchanged, and nothing is replicated.

use crate::doc::{Doc, Kind, Node};
use crate::ops::{self, Effect, NumOp, SetCond};
use crate::path::{self, Path};
use crate::{Json, apply, max_reply, pretty, reply_buffer, too_large};
use rmkit::command::{Keyword, Rest};
use rmkit::datatype::Measured;
use rmkit::prelude::*;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::ser::Formatter;
use std::borrow::Cow;
use std::io;

/// A path argument: parsed, with its text as given and as RedisJSON rewrites a legacy path
/// (`a.b` → `$.a.b`), which some of RedisJSON's error messages quote.
pub(crate) struct PathArg<'a> {
    pub path: Path,
    /// The argument as given (error messages and JSON.GET's keys quote it).
    arg: &'a [u8],
}

impl<'a> PathArg<'a> {
    pub(crate) fn parse(arg: &'a [u8]) -> Result<PathArg<'a>> {
        let path = path::parse_path(arg).map_err(|e| Error::new(e.to_string()))?;
        Ok(PathArg { path, arg })
    }

    fn root() -> PathArg<'static> {
        PathArg::parse(b".").expect("the legacy root parses")
    }

    /// The path as given.
    fn original(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.arg)
    }

    /// The path as RedisJSON's error messages quote it ([`fixed`]).
    fn fixed(&self) -> String {
        fixed(&self.original())
    }

    fn legacy(&self) -> bool {
        self.path.legacy
    }

    fn segs(&self) -> &[path::Segment] {
        &self.path.segments
    }

    /// RedisJSON deletes or replaces the whole key only for the exact root (`$`, `.`).
    fn is_root(&self) -> bool {
        self.path.is_root()
    }
}

/// RedisJSON's rewrite of a legacy path to a `$` path (its error messages quote it).
fn fixed(p: &str) -> String {
    let b = p.as_bytes();
    if b.first() == Some(&b'$') && (b.len() < 2 || b[1] == b'.' || b[1] == b'[') {
        p.to_owned()
    } else if p == "." {
        "$".to_owned()
    } else if p.starts_with('.') {
        format!("${p}")
    } else if p.starts_with('/') || p.is_empty() {
        // A JSON Pointer (this module's own form) is quoted as given.
        p.to_owned()
    } else {
        format!("$.{p}")
    }
}

fn path_or_root(arg: Option<&RedisStr>) -> Result<PathArg<'_>> {
    arg.map_or_else(|| Ok(PathArg::root()), |a| PathArg::parse(a.as_bytes()))
}

fn doesnt_exist(p: &str) -> Error {
    Error::raw(format!("ERR Path '{p}' does not exist"))
}

fn doesnt_exist_or(p: &str, or: &str) -> Error {
    Error::raw(format!("ERR Path '{p}' does not exist or {or}"))
}

fn expected(what: &str, found: &str) -> Error {
    Error::raw(format!(
        "WRONGTYPE wrong type of path value - expected {what} but found {found}"
    ))
}

/// An integer argument as RedisJSON reads it (its error is `Couldn't parse as integer`).
fn int_arg(arg: &RedisStr) -> Result<i64> {
    rmkit::command::parse_i64(arg.as_bytes()).map_err(|_| Error::raw("Couldn't parse as integer"))
}

/// RESP3's `FORMAT EXPAND`/`EXPAND1` (typed RESP3 values instead of JSON text).
fn format_unsupported() -> Error {
    Error::new("FORMAT EXPAND and EXPAND1 are not supported by this module; use FORMAT STRING")
}

/// [`path::try_select`], a too costly path as the command's error.
fn sel<'a>(root: Node<'a>, segs: &[path::Segment]) -> Result<Vec<Node<'a>>> {
    ops::select(root, segs)
}

/// The first match (what a legacy path replies).
fn first<'a>(root: Node<'a>, segs: &[path::Segment]) -> Result<Option<Node<'a>>> {
    Ok(sel(root, segs)?.into_iter().next())
}

fn no_key() -> Error {
    Error::new("could not perform this operation on a key that doesn't exist")
}

/// A JSON value argument, RedisJSON's errors (the parser's reason, line and column). Parsed
/// in the thread's reserved buffer where it fits (one exact allocation, no shrinking).
fn value_arg(arg: &[u8]) -> Result<Doc> {
    match Doc::parse_reusing(arg, |p| p.to_doc()) {
        Some(doc) => Ok(doc),
        None => Doc::parse(arg).map_err(|e| Error::raw(e.to_string())),
    }
}

/// A JSON value argument that RedisJSON reads with serde_json directly (`ERR <reason>`).
fn plain_value_arg(arg: &[u8]) -> Result<Doc> {
    Doc::parse(arg).map_err(|e| Error::new(e.to_string()))
}

/// Whether RedisJSON reads this path text as a legacy path (it does not start with `$.`,
/// `$[` and is not `$`).
fn legacy_text(p: &[u8]) -> bool {
    !(p.first() == Some(&b'$') && (p.len() < 2 || p[1] == b'.' || p[1] == b'['))
}

/// The path of a read whose legacy form answers nil for a path that does not parse (RedisJSON's
/// JSON.TYPE, JSON.OBJKEYS, JSON.OBJLEN): `Ok(None)` then.
fn lenient_path(arg: Option<&RedisStr>) -> Result<Option<PathArg<'_>>> {
    match path_or_root(arg) {
        Ok(p) => Ok(Some(p)),
        Err(_) if arg.is_some_and(|a| legacy_text(a.as_bytes())) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A JSON value argument as a key's value, its bytes measured. Parsed into the thread's
/// reserved buffer where it fits ([`Doc::parse_reusing`]), so that the measured scope holds
/// one exact allocation instead of a parse buffer and its shrinking.
fn measured_value(arg: &[u8]) -> Result<Measured<Json>> {
    Doc::parse_reusing(arg, |p| Measured::build(|| Ok(Json(p.to_doc()))))
        .unwrap_or_else(|| Measured::build(|| value_arg(arg).map(Json)))
}

fn null_or<T>(v: Option<T>, f: impl FnOnce(T) -> Reply) -> Reply {
    v.map_or(Reply::Null, f)
}

fn int(n: usize) -> Reply {
    Reply::from(n)
}

fn array<T>(items: Vec<Option<T>>, f: impl Fn(T) -> Reply) -> Reply {
    Reply::Array(items.into_iter().map(|v| null_or(v, &f)).collect())
}

// ---- formatting ------------------------------------------------------------------------------

/// `JSON.GET`'s INDENT / NEWLINE / SPACE, applied exactly as RedisJSON's formatter does.
#[derive(Default, Clone, Copy)]
struct Style<'a> {
    indent: Option<&'a [u8]>,
    newline: Option<&'a [u8]>,
    space: Option<&'a [u8]>,
}

impl Style<'_> {
    fn plain(&self) -> bool {
        self.indent.is_none() && self.newline.is_none() && self.space.is_none()
    }
}

struct Styled<'a> {
    style: Style<'a>,
    level: usize,
    has_value: bool,
}

impl Styled<'_> {
    fn new_line<W: io::Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        if let Some(n) = self.style.newline {
            w.write_all(n)?;
        }
        if let Some(s) = self.style.indent {
            for _ in 0..self.level {
                w.write_all(s)?;
            }
        }
        Ok(())
    }

    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: io::Write + ?Sized>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// `]` or `}`: on a line of its own when the container had members.
    fn close<W: io::Write + ?Sized>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.new_line(w)?;
        }
        w.write_all(bracket)
    }

    /// Before an element or a member: a comma unless it is the first, then the line break.
    fn next_item<W: io::Write + ?Sized>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.new_line(w)
    }
}

impl Formatter for Styled<'_> {
    fn begin_array<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.next_item(w, first)
    }
    fn end_array_value<W: io::Write + ?Sized>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.next_item(w, first)
    }
    fn begin_object_value<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b":")?;
        match self.style.space {
            Some(s) => w.write_all(s),
            None => Ok(()),
        }
    }
    fn end_object_value<W: io::Write + ?Sized>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// What `JSON.GET` replies for its paths.
enum Out<'a> {
    One(Node<'a>),
    Many(Vec<Node<'a>>),
    Map(Vec<(Cow<'a, str>, Out<'a>)>),
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Out::One(n) => n.serialize(s),
            Out::Many(v) => v.serialize(s),
            Out::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Counts bytes up to a cap (then fails, ending the serializer early).
struct Count {
    len: usize,
    cap: usize,
}

impl io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len = self.len.saturating_add(buf.len());
        if self.len > self.cap {
            return Err(io::Error::other("over the cap"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The text of `out` in `style`, measured against the reply limit before it is built.
fn render(ctx: &Context, out: &Out<'_>, style: Style<'_>) -> Result<Vec<u8>> {
    match (out, style.plain()) {
        (Out::One(n), true) => return Ok(n.to_json()),
        // Straight from the encoding (serde would decode every value first).
        (Out::Many(nodes), true) => return crate::matches_json(ctx, nodes),
        _ => {}
    }
    let limit = max_reply();
    let mut count = Count { len: 0, cap: limit };
    let fmt = || Styled {
        style,
        level: 0,
        has_value: false,
    };
    if out
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut count,
            fmt(),
        ))
        .is_err()
    {
        return Err(too_large(limit));
    }
    ctx.check_reply_size(count.len, limit)?;
    let mut buf = reply_buffer(count.len)?;
    out.serialize(&mut serde_json::Serializer::with_formatter(
        &mut buf,
        crate::doc::Floats(fmt()),
    ))
    .map_err(|e| Error::new(e.to_string()))?;
    Ok(buf)
}

// ---- reading ---------------------------------------------------------------------------------

rmkit::keywords! {
    /// `JSON.GET`'s options.
    pub enum GetOption { Indent = "INDENT", Newline = "NEWLINE", Space = "SPACE", NoEscape = "NOESCAPE", Format = "FORMAT" }
}

/// The document, or the values at the paths, as JSON text (RedisJSON's `JSON.GET key [INDENT s]
/// [NEWLINE s] [SPACE s] [path ...]`: one legacy path replies its first value, one `$` path an
/// array of matches, several paths an object keyed by path). The seed's `JSON.GET key PRETTY`
/// (exactly the upper-case word, alone) still indents by two spaces; `.PRETTY` is the member.
#[rmkit::command(
    name = "json.get",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the size of the values"
)]
fn json_get(ctx: &Context, key: ReadKey, args: Rest) -> Result<Reply> {
    if let [only] = &args[..]
        && only.as_bytes() == b"PRETTY"
    {
        return match key.value::<Json>()? {
            None => Ok(Reply::Null),
            Some(j) => pretty(ctx, j.0.root()).map(Reply::Bulk),
        };
    }
    let mut style = Style::default();
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let b = a.as_bytes();
        let option = if b.len() > 8 {
            None
        } else {
            GetOption::parse(b)
        };
        let mut value = || {
            it.next()
                .map(|v| v.as_bytes())
                .ok_or_else(|| Error::wrong_arity("json.get"))
        };
        match option {
            Some(GetOption::Indent) => style.indent = Some(value()?),
            Some(GetOption::Newline) => style.newline = Some(value()?),
            Some(GetOption::Space) => style.space = Some(value()?),
            Some(GetOption::NoEscape) => {}
            Some(GetOption::Format) => {
                // RedisJSON's checks, in its order; only STRING (the default) is served.
                if !ctx.is_resp3() && paths.is_empty() {
                    return Err(Error::new("FORMAT argument is not supported on RESP2"));
                }
                match value()? {
                    b"STRING" => {}
                    b"EXPAND" | b"EXPAND1" if ctx.is_resp3() => return Err(format_unsupported()),
                    b"EXPAND" | b"EXPAND1" => {}
                    _ => return Err(Error::new("wrong reply format")),
                }
            }
            None => paths.push(b),
        }
    }
    let Some(j) = key.value::<Json>()? else {
        return Ok(Reply::Null);
    };
    let root = j.0.root();
    if paths.len() <= 1 {
        let p = match paths.first() {
            Some(p) => PathArg::parse(p)?,
            None => PathArg::root(),
        };
        let out = if p.legacy() {
            Out::One(first(root, p.segs())?.ok_or_else(|| doesnt_exist(&p.fixed()))?)
        } else {
            Out::Many(sel(root, p.segs())?)
        };
        return render(ctx, &out, style).map(Reply::Bulk);
    }
    let parsed: Vec<(PathArg<'_>, &[u8])> = paths
        .iter()
        .filter_map(|p| PathArg::parse(p).ok().map(|a| (a, *p)))
        .collect();
    let all_legacy = parsed.iter().all(|(p, _)| p.legacy());
    let mut map: Vec<(Cow<'_, str>, Out<'_>)> = Vec::new();
    for (p, _) in &parsed {
        if map.iter().any(|(k, _)| *k == p.original()) {
            continue;
        }
        let value = if all_legacy {
            Out::One(first(root, p.segs())?.ok_or_else(|| doesnt_exist(&p.original()))?)
        } else {
            Out::Many(sel(root, p.segs())?)
        };
        map.push((p.original(), value));
    }
    render(ctx, &Out::Map(map), style).map(Reply::Bulk)
}

fn mget_keys(args: &[RedisStr]) -> Vec<usize> {
    (1..args.len().saturating_sub(1)).collect()
}

/// The value at `path` in each key (nil for a missing key, a key of another type or a path
/// that matches nothing): `JSON.MGET key [key ...] path`.
#[rmkit::command(
    name = "json.mget",
    flags = "readonly getkeys-api",
    acl = "read",
    since = "1.0.0",
    complexity = "O(M*N): M keys, N the size of the values",
    getkeys = mget_keys
)]
fn json_mget(ctx: &Context, args: Rest) -> Result<Reply> {
    let [keys @ .., p] = &args[..] else {
        return Err(Error::wrong_arity("json.mget"));
    };
    if keys.is_empty() {
        return Err(Error::wrong_arity("json.mget"));
    }
    let p = PathArg::parse(p.as_bytes()).ok();
    let mut out = Vec::with_capacity(keys.len());
    let mut total = 0usize;
    for name in keys {
        let key = ctx.open_key(name);
        let reply = match (key.value::<Json>(), &p) {
            (Ok(Some(j)), Some(p)) => {
                let root = j.0.root();
                let text = if p.legacy() {
                    first(root, p.segs())?.map(|n| n.to_json())
                } else {
                    let found = sel(root, p.segs())?;
                    let room = max_reply().saturating_sub(total);
                    let len = crate::doc::array_json_len(&found, room)
                        .ok_or_else(|| too_large(max_reply()))?;
                    let mut t = reply_buffer(len)?;
                    crate::doc::write_array_json(&found, &mut t);
                    Some(t)
                };
                match text {
                    Some(t) => {
                        total += t.len();
                        if total > max_reply() {
                            return Err(too_large(max_reply()));
                        }
                        Reply::Bulk(t)
                    }
                    None => Reply::Null,
                }
            }
            _ => Reply::Null,
        };
        out.push(reply);
    }
    Ok(Reply::Array(out))
}

/// The JSON type of the value at path (`$`: of each match): `object`, `array`, `string`,
/// `integer`, `number`, `boolean`, `null`. RESP3 wraps the reply in one more array.
#[rmkit::command(
    name = "json.type",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_type(ctx: &Context, key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let p = lenient_path(path)?;
    let doc = key.value::<Json>()?;
    let reply = match (doc, p) {
        (None, _) | (_, None) => Reply::Null,
        (Some(j), Some(p)) => type_reply(j, &p)?,
    };
    Ok(if ctx.is_resp3() {
        Reply::Array(vec![reply])
    } else {
        reply
    })
}

fn type_reply(j: &Json, p: &PathArg<'_>) -> Result<Reply> {
    let root = j.0.root();
    Ok(if p.legacy() {
        null_or(first(root, p.segs())?, |n| Reply::from(path::type_name(n)))
    } else {
        Reply::Array(
            sel(root, p.segs())?
                .into_iter()
                .map(|n| Reply::from(path::type_name(n)))
                .collect(),
        )
    })
}

/// The length in bytes of the string at path (`$`: of each match, nil for non-strings).
#[rmkit::command(
    name = "json.strlen",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_strlen(key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let p = path_or_root(path)?;
    let doc = key.value::<Json>()?;
    if p.legacy() {
        let Some(j) = doc else {
            return Ok(Reply::Null);
        };
        let n = first(j.0.root(), p.segs())?.ok_or_else(|| doesnt_exist(&p.fixed()))?;
        return match n.as_str() {
            Some(s) => Ok(int(s.len())),
            None => Err(expected("string", path::type_name(n))),
        };
    }
    let j = doc.ok_or_else(no_key)?;
    Ok(Reply::Array(
        sel(j.0.root(), p.segs())?
            .into_iter()
            .map(|n| null_or(n.as_str(), |s| int(s.len())))
            .collect(),
    ))
}

/// The length of the array at path (`$`: of each match, nil for non-arrays).
#[rmkit::command(
    name = "json.arrlen",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_arrlen(key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let p = path_or_root(path)?;
    let Some(j) = key.value::<Json>()? else {
        return if p.legacy() {
            Ok(Reply::Null)
        } else {
            Err(no_key())
        };
    };
    let found = sel(j.0.root(), p.segs())?;
    if p.legacy() {
        let first = found.first().ok_or_else(|| doesnt_exist(&p.original()))?;
        return match first.kind() {
            Kind::Array => Ok(int(first.len().unwrap_or(0))),
            _ => Err(doesnt_exist_or(&p.original(), "not an array")),
        };
    }
    Ok(Reply::Array(
        found
            .into_iter()
            .map(|n| null_or(n.len().filter(|_| n.kind() == Kind::Array), int))
            .collect(),
    ))
}

/// The member names of the object at path (`$`: of each match, nil for non-objects).
#[rmkit::command(
    name = "json.objkeys",
    flags = "readonly",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of members"
)]
fn json_objkeys(key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let Some(p) = lenient_path(path)? else {
        return Ok(Reply::Null);
    };
    let keys = |n: Node<'_>| Reply::Array(n.members().map(|(k, _)| Reply::from(k)).collect());
    let doc = key.value::<Json>()?;
    if p.legacy() {
        let Some(j) = doc else {
            return Ok(Reply::Null);
        };
        return match first(j.0.root(), p.segs())? {
            None => Ok(Reply::Null),
            Some(n) if n.kind() == Kind::Object => Ok(keys(n)),
            Some(_) => Err(doesnt_exist_or(&p.fixed(), "not an object")),
        };
    }
    let j = doc.ok_or_else(no_key)?;
    Ok(Reply::Array(
        sel(j.0.root(), p.segs())?
            .into_iter()
            .map(|n| {
                if n.kind() == Kind::Object {
                    keys(n)
                } else {
                    Reply::Null
                }
            })
            .collect(),
    ))
}

/// How many members the object at path has (`$`: each match, nil for non-objects).
#[rmkit::command(
    name = "json.objlen",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_objlen(key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let Some(p) = lenient_path(path)? else {
        return Ok(Reply::Null);
    };
    let doc = key.value::<Json>()?;
    if p.legacy() {
        let Some(j) = doc else {
            return Ok(Reply::Null);
        };
        return match first(j.0.root(), p.segs())? {
            None => Ok(Reply::Null),
            Some(n) if n.kind() == Kind::Object => Ok(int(n.len().unwrap_or(0))),
            Some(n) => Err(expected("object", path::type_name(n))),
        };
    }
    let j = doc.ok_or_else(|| doesnt_exist_or(&p.fixed(), "not an object"))?;
    Ok(Reply::Array(
        sel(j.0.root(), p.segs())?
            .into_iter()
            .map(|n| null_or(n.len().filter(|_| n.kind() == Kind::Object), int))
            .collect(),
    ))
}

/// The first index of a JSON value in the array at path, in `[start, stop)` (`$`: for each
/// match, nil for non-arrays), -1 if absent.
#[rmkit::command(
    name = "json.arrindex",
    flags = "readonly",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the size of the arrays"
)]
fn json_arrindex(key: ReadKey, path: &RedisStr, value: &[u8], bounds: Rest) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let num = |i: usize| -> Result<i64> { bounds.get(i).map_or(Ok(0), int_arg) };
    let (start, stop) = (num(0)?, num(1)?);
    if bounds.len() > 2 {
        return Err(Error::wrong_arity("json.arrindex"));
    }
    let v = plain_value_arg(value)?;
    let j = key
        .value::<Json>()?
        .ok_or_else(|| doesnt_exist(&p.original()))?;
    let root = j.0.root();
    if p.legacy() {
        let arr = first(root, p.segs())?.ok_or_else(|| doesnt_exist(&p.fixed()))?;
        return match ops::arrindex(arr, v.root(), start, stop) {
            Some(i) => Ok(Reply::Integer(i)),
            None => Err(expected("array", path::type_name(arr))),
        };
    }
    Ok(Reply::Array(
        sel(root, p.segs())?
            .into_iter()
            .map(|a| null_or(ops::arrindex(a, v.root(), start, stop), Reply::Integer))
            .collect(),
    ))
}

/// The value at path in Redis's own types (RESP): arrays as `[` then the elements, objects as
/// `{` then names and values, numbers as integers or doubles, `true`/`false` as simple strings.
#[rmkit::command(
    name = "json.resp",
    flags = "readonly",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the size of the value"
)]
fn json_resp(key: ReadKey, path: Option<&RedisStr>, _rest: Rest) -> Result<Reply> {
    let p = path_or_root(path)?;
    let Some(j) = key.value::<Json>()? else {
        return Ok(Reply::Null);
    };
    let root = j.0.root();
    if p.legacy() {
        let n = first(root, p.segs())?.ok_or_else(|| doesnt_exist(&p.fixed()))?;
        return Ok(resp(n));
    }
    Ok(Reply::Array(
        sel(root, p.segs())?.into_iter().map(resp).collect(),
    ))
}

fn resp(n: Node<'_>) -> Reply {
    match n.kind() {
        Kind::Null => Reply::Null,
        Kind::Bool => Reply::Simple(if n.as_bool() == Some(true) {
            "true".into()
        } else {
            "false".into()
        }),
        Kind::Integer | Kind::Number => {
            let x = n.as_number().expect("a number");
            match x.as_i64() {
                Some(i) => Reply::Integer(i),
                None => Reply::Double(x.as_f64().unwrap_or(0.0)),
            }
        }
        Kind::String => Reply::Bulk(n.as_str().unwrap_or("").as_bytes().to_vec()),
        Kind::Array => {
            let mut v = vec![Reply::Simple("[".into())];
            v.extend(n.elements().map(resp));
            Reply::Array(v)
        }
        Kind::Object => {
            let mut v = vec![Reply::Simple("{".into())];
            for (k, c) in n.members() {
                v.push(Reply::Bulk(k.as_bytes().to_vec()));
                v.push(resp(c));
            }
            Reply::Array(v)
        }
    }
}

/// The bytes the document holds, measured by the allocator (with a path: the encoded size of
/// the value there; `$`: of each match).
#[rmkit::command(
    name = "json.debug|memory",
    flags = "readonly",
    acl = "read",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_debug_memory(
    #[key(flags = "RO")] key: ReadKey,
    path: Option<&RedisStr>,
    _rest: Rest,
) -> Result<Reply> {
    let Some(path) = path else {
        return Ok(Reply::from(key.value_bytes::<Json>()?.unwrap_or(0)));
    };
    let p = PathArg::parse(path.as_bytes())?;
    let doc = key.value::<Json>()?;
    if p.legacy() {
        let Some(j) = doc else {
            return Ok(Reply::Integer(0));
        };
        if p.is_root() {
            return Ok(Reply::from(key.value_bytes::<Json>()?.unwrap_or(0)));
        }
        let n = first(j.0.root(), p.segs())?.ok_or_else(|| doesnt_exist(&p.fixed()))?;
        return Ok(int(n.encoded().len()));
    }
    let Some(j) = doc else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(
        sel(j.0.root(), p.segs())?
            .into_iter()
            .map(|n| int(n.encoded().len()))
            .collect(),
    ))
}

/// What JSON.DEBUG can do.
#[rmkit::command(name = "json.debug|help", flags = "readonly")]
fn json_debug_help() -> Result<Reply> {
    Ok(Reply::Array(vec![
        Reply::from("MEMORY <key> [path] - reports memory usage"),
        Reply::from("HELP                - this message"),
    ]))
}

// ---- writing ---------------------------------------------------------------------------------

rmkit::keywords! {
    /// `JSON.SET`'s condition.
    pub enum Cond { Nx = "NX", Xx = "XX" }
}

/// Store a JSON value: `JSON.SET key path value [NX|XX]` (RedisJSON: the root `$` replaces the
/// document, a path below it replaces every match or adds the member its last step names;
/// NX/XX decide by whether the path exists). The seed's `JSON.SET key value [NX|XX]` still
/// works: with one argument after the key, or two of which the second is NX or XX, the first
/// is the document.
#[rmkit::command(
    name = "json.set",
    flags = "write deny-oom",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the document"
)]
fn json_set(
    ctx: &Context,
    #[key(flags = "RW update")] mut key: WriteKey,
    args: Rest,
) -> Result<Reply> {
    let (p, value, conds): (Option<&RedisStr>, &RedisStr, &[RedisStr]) = match &args[..] {
        [] => return Err(Error::wrong_arity("json.set")),
        [v] => (None, v, &[]),
        [v, c] if Cond::parse(c.as_bytes()).is_some() => (None, v, &args[1..]),
        [p, v, rest @ ..] => (Some(p), v, rest),
    };
    let seed = p.is_none();
    let mut cond = None;
    for c in conds {
        match (Cond::parse(c.as_bytes()), cond) {
            (Some(Cond::Nx), None) => cond = Some(SetCond::Nx),
            (Some(Cond::Xx), None) => cond = Some(SetCond::Xx),
            _ => return Err(Error::syntax()),
        }
    }
    let p = match p {
        Some(p) => PathArg::parse(p.as_bytes())?,
        None => PathArg::root(),
    };
    let exists = key.value::<Json>()?.is_some();
    if p.is_root() {
        // Parsed (and measured) before NX/XX decides: invalid JSON is an error either way.
        let doc = if seed {
            Measured::build(|| crate::parse(value.as_bytes()).map(Json))?
        } else {
            measured_value(value.as_bytes())?
        };
        if matches!(
            (cond, exists),
            (Some(SetCond::Nx), true) | (Some(SetCond::Xx), false)
        ) {
            return Ok(Reply::Null);
        }
        key.set_measured_keep_ttl(doc)?;
        ctx.notify_keyspace_event(Notify::Module, "json.set", key.name());
        ctx.replicate_verbatim();
        return Ok(Reply::Ok);
    }
    let v = value_arg(value.as_bytes())?;
    let Some(j) = key.value::<Json>()? else {
        return if cond == Some(SetCond::Xx) {
            Ok(Reply::Null)
        } else {
            Err(Error::new("new objects must be created at the root"))
        };
    };
    let effect = ops::set(j.0.root(), p.segs(), &v, cond)?;
    if !effect.changes() {
        return Ok(Reply::Null);
    }
    apply(ctx, &mut key, "json.set", effect)?;
    Ok(Reply::Ok)
}

fn mset_keys(args: &[RedisStr]) -> Vec<usize> {
    (1..args.len()).step_by(3).collect()
}

/// Set values in many keys at once, all or nothing: `JSON.MSET key path value [key path value
/// ...]` (each triple as `JSON.SET` does it, in order).
#[rmkit::command(
    name = "json.mset",
    flags = "write deny-oom getkeys-api",
    acl = "write",
    since = "1.0.0",
    complexity = "O(K*N): K triples, N the size of the documents",
    getkeys = mset_keys
)]
fn json_mset(ctx: &Context, args: Rest) -> Result<Reply> {
    if args.len() < 3 || !args.len().is_multiple_of(3) {
        return Err(Error::wrong_arity("json.mset"));
    }
    // Everything is checked against the data as it is before anything changes.
    let mut triples = Vec::with_capacity(args.len() / 3);
    for t in args.chunks_exact(3) {
        let key = ctx.open_key_writable(&t[0]);
        let doc = key.value::<Json>()?;
        let p = PathArg::parse(t[1].as_bytes())?;
        if !p.is_root() {
            let Some(j) = doc else {
                return Err(Error::new("new objects must be created at the root"));
            };
            ops::set(j.0.root(), p.segs(), &value_arg(t[2].as_bytes())?, None)?;
        }
        value_arg(t[2].as_bytes())?;
        triples.push((t, p));
    }
    for (t, p) in triples {
        let mut key = ctx.open_key_writable(&t[0]);
        if p.is_root() {
            key.set_measured_keep_ttl(measured_value(t[2].as_bytes())?)?;
            ctx.notify_keyspace_event(Notify::Module, "json.mset", key.name());
            continue;
        }
        let v = value_arg(t[2].as_bytes())?;
        let effect = match key.value::<Json>()? {
            Some(j) => ops::set(j.0.root(), p.segs(), &v, None)?,
            None => Effect::Nothing,
        };
        if let Effect::Edit(edits) = effect {
            key.update(|j: &mut Json| j.0.edit_in_place(&edits))?;
            ctx.notify_keyspace_event(Notify::Module, "json.mset", key.name());
        }
    }
    ctx.replicate_verbatim();
    Ok(Reply::Ok)
}

/// Merge a JSON value into the value at path (RFC 7396: `null` members are removed).
#[rmkit::command(
    name = "json.merge",
    flags = "write deny-oom",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the document"
)]
fn json_merge(
    ctx: &Context,
    mut key: WriteKey,
    path: &RedisStr,
    value: &[u8],
    _rest: Rest,
) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let patch = value_arg(value)?;
    let effect = match key.value::<Json>()? {
        None if p.is_root() => {
            // The parsed patch, copied inside the measured scope (not parsed again).
            key.set_measured_keep_ttl(Measured::build(|| Ok(Json(patch.clone())))?)?;
            ctx.notify_keyspace_event(Notify::Module, "json.merge", key.name());
            ctx.replicate_verbatim();
            return Ok(Reply::Ok);
        }
        None => return Err(Error::new("new objects must be created at the root")),
        Some(j) if p.is_root() => {
            let mut edits = Vec::new();
            ops::merge_edits(j.0.root(), patch.root(), &mut edits);
            ops::check_depth(j.0.root(), &edits)?;
            Effect::Edit(edits)
        }
        Some(j) => ops::merge(j.0.root(), p.segs(), &patch)?,
    };
    if !effect.changes() {
        return Ok(Reply::Null);
    }
    apply(ctx, &mut key, "json.merge", effect)?;
    Ok(Reply::Ok)
}

fn del(ctx: &Context, key: &mut rmkit::Key<'_>, path: Option<&RedisStr>) -> Result<Reply> {
    let p = path_or_root(path)?;
    let Some(doc) = key.value::<Json>()? else {
        return Ok(Reply::Integer(0));
    };
    let (effect, removed) = ops::del(doc.0.root(), p.segs())?;
    apply(ctx, key, "json.del", effect)?;
    Ok(Reply::from(removed))
}

/// Remove the values the path selects (default: the whole key); reply how many.
#[rmkit::command(
    name = "json.del",
    flags = "write",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the document"
)]
fn json_del(
    ctx: &Context,
    #[key(flags = "RW delete")] mut key: WriteKey,
    path: Option<&RedisStr>,
    _rest: Rest,
) -> Result<Reply> {
    del(ctx, &mut key, path)
}

/// `JSON.DEL` by its other name.
#[rmkit::command(
    name = "json.forget",
    flags = "write",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the document"
)]
fn json_forget(
    ctx: &Context,
    #[key(flags = "RW delete")] mut key: WriteKey,
    path: Option<&RedisStr>,
    _rest: Rest,
) -> Result<Reply> {
    del(ctx, &mut key, path)
}

/// The legacy reply of a per-match write: its last value, or an error if nothing matched.
fn last<T>(results: &[Option<T>], err: impl FnOnce() -> Error) -> Result<&T> {
    results.iter().rev().flatten().next().ok_or_else(err)
}

fn num_op(
    ctx: &Context,
    key: &mut rmkit::Key<'_>,
    path: &RedisStr,
    by: &[u8],
    op: NumOp,
    event: &str,
) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let root = j.0.root();
    let found = sel(root, p.segs())?;
    let numbers = found
        .iter()
        .any(|n| matches!(n.kind(), Kind::Integer | Kind::Number));
    // RedisJSON reads the number only when there is a number to change.
    let by = if numbers {
        ops::parse_number(by)?
    } else {
        0.into()
    };
    let (effect, results) = ops::numop_on(&found, &by, op)?;
    apply(ctx, key, event, effect)?;
    if ctx.is_resp3() {
        return Ok(array(results, |n| match n.as_i64() {
            Some(i) => Reply::Integer(i),
            None => Reply::Double(n.as_f64().unwrap_or(0.0)),
        }));
    }
    if p.legacy() {
        let n = last(&results, || {
            doesnt_exist_or(&p.fixed(), "does not contains a number")
        })?;
        let mut out = Vec::new();
        crate::doc::write_number_json(n, &mut out);
        return Ok(Reply::Bulk(out));
    }
    Ok(Reply::Bulk(crate::doc::numbers_json(&results)))
}

/// Add a number to every number at path; the new values (`$`: a JSON array, nil entries for
/// non-numbers; legacy: the last new value).
#[rmkit::command(
    name = "json.numincrby",
    flags = "write deny-oom fast",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_numincrby(
    ctx: &Context,
    mut key: WriteKey,
    path: &RedisStr,
    increment: &[u8],
    _rest: Rest,
) -> Result<Reply> {
    num_op(
        ctx,
        &mut key,
        path,
        increment,
        NumOp::Incr,
        "json.numincrby",
    )
}

/// Multiply every number at path by a number; replies like JSON.NUMINCRBY.
#[rmkit::command(
    name = "json.nummultby",
    flags = "write deny-oom fast",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_nummultby(
    ctx: &Context,
    mut key: WriteKey,
    path: &RedisStr,
    factor: &[u8],
    _rest: Rest,
) -> Result<Reply> {
    num_op(ctx, &mut key, path, factor, NumOp::Mult, "json.nummultby")
}

/// Flip every boolean at path; the new values (`$`: 1/0 per match, nil for non-booleans;
/// legacy: `true`/`false`).
#[rmkit::command(
    name = "json.toggle",
    flags = "write deny-oom fast",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_toggle(ctx: &Context, mut key: WriteKey, path: &RedisStr, _rest: Rest) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, results) = ops::toggle(j.0.root(), p.segs())?;
    if p.legacy() {
        let b = *last(&results, || doesnt_exist_or(&p.fixed(), "not a bool"))?;
        apply(ctx, &mut key, "json.toggle", effect)?;
        return Ok(Reply::Bulk(b.to_string().into_bytes()));
    }
    apply(ctx, &mut key, "json.toggle", effect)?;
    Ok(array(results, |b| Reply::Integer(i64::from(b))))
}

/// Append a JSON string to every string at path (default the root); the new lengths.
#[rmkit::command(
    name = "json.strappend",
    flags = "write deny-oom",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the strings"
)]
fn json_strappend(
    ctx: &Context,
    mut key: WriteKey,
    first: &RedisStr,
    second: Option<&RedisStr>,
    _rest: Rest,
) -> Result<Reply> {
    let (p, value) = match second {
        Some(v) => (PathArg::parse(first.as_bytes())?, v),
        None => (PathArg::root(), first),
    };
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let root = j.0.root();
    let strings = sel(root, p.segs())?
        .into_iter()
        .any(|n| n.kind() == Kind::String);
    // RedisJSON reads the suffix only when there is a string to append it to.
    let suffix = if strings {
        let v = plain_value_arg(value.as_bytes())?;
        match v.root().as_str() {
            Some(s) => s.to_owned(),
            None => {
                return Err(expected(
                    "string",
                    &String::from_utf8_lossy(value.as_bytes()),
                ));
            }
        }
    } else {
        String::new()
    };
    let (effect, results) = ops::strappend(root, p.segs(), &suffix)?;
    if p.legacy() {
        let n = *last(&results, || doesnt_exist_or(&p.fixed(), "not a string"))?;
        apply(ctx, &mut key, "json.strappend", effect)?;
        return Ok(int(n));
    }
    apply(ctx, &mut key, "json.strappend", effect)?;
    Ok(array(results, int))
}

fn values(args: &[RedisStr], command: &str) -> Result<Vec<Doc>> {
    if args.is_empty() {
        return Err(Error::wrong_arity(command));
    }
    args.iter().map(|a| value_arg(a.as_bytes())).collect()
}

/// Append JSON values to every array at path; the new lengths.
#[rmkit::command(
    name = "json.arrappend",
    flags = "write deny-oom",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the arrays"
)]
fn json_arrappend(ctx: &Context, mut key: WriteKey, path: &RedisStr, items: Rest) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let items = values(&items, "json.arrappend")?;
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, results) = ops::arrappend(j.0.root(), p.segs(), &items)?;
    if p.legacy() {
        let n = *last(&results, || doesnt_exist_or(&p.original(), "not an array"))?;
        apply(ctx, &mut key, "json.arrappend", effect)?;
        return Ok(int(n));
    }
    apply(ctx, &mut key, "json.arrappend", effect)?;
    Ok(array(results, int))
}

/// Insert JSON values before an index of every array at path; the new lengths.
#[rmkit::command(
    name = "json.arrinsert",
    flags = "write deny-oom",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the arrays"
)]
fn json_arrinsert(
    ctx: &Context,
    mut key: WriteKey,
    path: &RedisStr,
    index: &RedisStr,
    items: Rest,
) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let index = int_arg(index)?;
    let items = values(&items, "json.arrinsert")?;
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, results) = ops::arrinsert(j.0.root(), p.segs(), index, &items)?;
    if p.legacy() {
        let n = *last(&results, || doesnt_exist_or(&p.fixed(), "not an array"))?;
        apply(ctx, &mut key, "json.arrinsert", effect)?;
        return Ok(int(n));
    }
    apply(ctx, &mut key, "json.arrinsert", effect)?;
    Ok(array(results, int))
}

/// Remove and return an element (default the last) of every array at path.
#[rmkit::command(
    name = "json.arrpop",
    flags = "write",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the arrays"
)]
fn json_arrpop(ctx: &Context, mut key: WriteKey, args: Rest) -> Result<Reply> {
    let mut args = &args[..];
    if let [f, format, rest @ ..] = args
        && f.as_bytes().eq_ignore_ascii_case(b"FORMAT")
    {
        // RedisJSON's checks, in its order; only STRINGS (the default) is served.
        match format.as_bytes() {
            b"STRINGS" | b"EXPAND" | b"EXPAND1" => {}
            _ => return Err(Error::new("wrong reply format")),
        }
        if !ctx.is_resp3() {
            return Err(Error::new("FORMAT argument is not supported on RESP2"));
        }
        if format.as_bytes() != b"STRINGS" {
            return Err(format_unsupported());
        }
        args = rest;
    }
    let (p, index) = match args {
        [] => (PathArg::root(), i64::MAX),
        [p, rest @ ..] => {
            args = rest;
            let index = args
                .first()
                .and_then(|i| rmkit::command::parse_i64(i.as_bytes()).ok())
                .unwrap_or(-1);
            (PathArg::parse(p.as_bytes())?, index)
        }
    };
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, results) = ops::arrpop(j.0.root(), p.segs(), index)?;
    if p.legacy() {
        let popped = last(&results, || doesnt_exist_or(&p.fixed(), "not an array"))?.clone();
        apply(ctx, &mut key, "json.arrpop", effect)?;
        return Ok(null_or(popped, Reply::Bulk));
    }
    apply(ctx, &mut key, "json.arrpop", effect)?;
    Ok(Reply::Array(
        results
            .into_iter()
            .map(|r| null_or(r.flatten(), Reply::Bulk))
            .collect(),
    ))
}

/// Keep only the elements `start..=stop` of every array at path; the new lengths.
#[rmkit::command(
    name = "json.arrtrim",
    flags = "write",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the size of the arrays"
)]
fn json_arrtrim(
    ctx: &Context,
    mut key: WriteKey,
    path: &RedisStr,
    start: &RedisStr,
    stop: &RedisStr,
    _rest: Rest,
) -> Result<Reply> {
    let p = PathArg::parse(path.as_bytes())?;
    let (start, stop) = (int_arg(start)?, int_arg(stop)?);
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, results) = ops::arrtrim(j.0.root(), p.segs(), start, stop)?;
    if p.legacy() {
        let n = *last(&results, || doesnt_exist_or(&p.fixed(), "not an array"))?;
        apply(ctx, &mut key, "json.arrtrim", effect)?;
        return Ok(int(n));
    }
    apply(ctx, &mut key, "json.arrtrim", effect)?;
    Ok(array(results, int))
}

/// Empty every array and object and zero every number at path (only the first path counts,
/// as in RedisJSON); how many values changed.
#[rmkit::command(
    name = "json.clear",
    flags = "write",
    acl = "write",
    since = "1.0.0",
    complexity = "O(N) in the number of matches"
)]
fn json_clear(ctx: &Context, mut key: WriteKey, paths: Rest) -> Result<Reply> {
    let p = path_or_root(paths.first())?;
    let j = key.value::<Json>()?.ok_or_else(no_key)?;
    let (effect, n) = ops::clear(j.0.root(), p.segs())?;
    apply(ctx, &mut key, "json.clear", effect)?;
    Ok(int(n))
}
