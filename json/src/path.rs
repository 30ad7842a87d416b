//! The path language of `json.path`, `json.del`, `json.type`, `json.arrlen`, `json.numincrby`
//! and `json.fmt` placeholders. Pure functions of bytes and values (fuzzable, no Redis).
//!
//! ```text
//! path     = "$" segment*            JSONPath subset: $  $.a  $.a.b[0]  $.a[*]  $["key with space"]  $.a[-1]
//!          | "" | "/" pointer        RFC 6901 JSON Pointer: /a/b/0   (~0 is '~', ~1 is '/')
//! segment  = "." name | ".*" | "[" index "]" | "[*]" | "[" quoted "]"
//! name     = 1*( ALPHA / DIGIT / "_" / "-" / "$" / non-ASCII )
//! index    = ["-"] 1*DIGIT           negative counts from the end
//! quoted   = '"' chars '"' | "'" chars "'"   (backslash escapes the quote and itself)
//! ```
//! `*` selects every member of an object or element of an array. A path selects zero or more
//! values; selecting nothing is not an error.

use crate::doc::{Kind, Node};
use std::fmt;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object member.
    Key(String),
    /// An array element (negative: from the end).
    Index(i64),
    /// Every member or element.
    Wildcard,
}

/// A path that does not parse: what is wrong and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// What is wrong.
    pub reason: &'static str,
    /// Byte offset in the path.
    pub at: usize,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path: {} at byte {}", self.reason, self.at)
    }
}

/// Parses a path (see the module docs for the grammar).
pub fn parse(path: &[u8]) -> Result<Vec<Segment>, PathError> {
    match path.first() {
        None => Ok(Vec::new()),
        Some(b'/') => parse_pointer(path),
        Some(b'$') => parse_jsonpath(path),
        Some(_) => Err(PathError {
            reason: "a path starts with '$' (JSONPath) or '/' (JSON Pointer)",
            at: 0,
        }),
    }
}

fn parse_pointer(path: &[u8]) -> Result<Vec<Segment>, PathError> {
    let text = std::str::from_utf8(path).map_err(|e| PathError {
        reason: "not UTF-8",
        at: e.valid_up_to(),
    })?;
    let mut out = Vec::new();
    let mut offset = 1;
    for token in text[1..].split('/') {
        let mut key = String::with_capacity(token.len());
        let mut chars = token.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some((_, '0')) => key.push('~'),
                    Some((_, '1')) => key.push('/'),
                    _ => {
                        return Err(PathError {
                            reason: "'~' must be followed by 0 or 1",
                            at: offset + i,
                        });
                    }
                }
            } else {
                key.push(c);
            }
        }
        // A pointer token is both a member name and (if numeric) an index: decided per value.
        out.push(Segment::Key(key));
        offset += token.len() + 1;
    }
    Ok(out)
}

fn parse_jsonpath(path: &[u8]) -> Result<Vec<Segment>, PathError> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < path.len() {
        match path[i] {
            b'.' => {
                i += 1;
                if path.get(i) == Some(&b'*') {
                    out.push(Segment::Wildcard);
                    i += 1;
                    continue;
                }
                let start = i;
                while i < path.len() && is_name_byte(path[i]) {
                    i += 1;
                }
                if i == start {
                    return Err(PathError {
                        reason: "expected a member name after '.'",
                        at: i,
                    });
                }
                let name = std::str::from_utf8(&path[start..i]).map_err(|_| PathError {
                    reason: "member name is not UTF-8",
                    at: start,
                })?;
                out.push(Segment::Key(name.to_owned()));
            }
            b'[' => {
                i += 1;
                match path.get(i) {
                    Some(b'*') => {
                        i += 1;
                        out.push(Segment::Wildcard);
                    }
                    Some(&q @ (b'"' | b'\'')) => {
                        i += 1;
                        let mut key = Vec::new();
                        loop {
                            match path.get(i) {
                                None => {
                                    return Err(PathError {
                                        reason: "unterminated quoted name",
                                        at: i,
                                    });
                                }
                                Some(b'\\') => {
                                    let Some(&c) = path.get(i + 1) else {
                                        return Err(PathError {
                                            reason: "unterminated quoted name",
                                            at: i + 1,
                                        });
                                    };
                                    key.push(c);
                                    i += 2;
                                }
                                Some(&c) if c == q => {
                                    i += 1;
                                    break;
                                }
                                Some(&c) => {
                                    key.push(c);
                                    i += 1;
                                }
                            }
                        }
                        let key = String::from_utf8(key).map_err(|_| PathError {
                            reason: "member name is not UTF-8",
                            at: i,
                        })?;
                        out.push(Segment::Key(key));
                    }
                    _ => {
                        let start = i;
                        if path.get(i) == Some(&b'-') {
                            i += 1;
                        }
                        while i < path.len() && path[i].is_ascii_digit() {
                            i += 1;
                        }
                        let text = std::str::from_utf8(&path[start..i]).unwrap_or("");
                        let index = text.parse::<i64>().map_err(|_| PathError {
                            reason: "expected an index, '*' or a quoted name",
                            at: start,
                        })?;
                        out.push(Segment::Index(index));
                    }
                }
                if path.get(i) != Some(&b']') {
                    return Err(PathError {
                        reason: "expected ']'",
                        at: i,
                    });
                }
                i += 1;
            }
            _ => {
                return Err(PathError {
                    reason: "expected '.' or '['",
                    at: i,
                });
            }
        }
    }
    Ok(out)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$' || b >= 0x80
}

/// The values `path` selects in the document under `root`, in document order (distinct:
/// every segment descends one level, so no match contains another).
///
/// Finding an array element or an object member walks the container's children; to select
/// many paths in one document, use a [`Selector`], which indexes large containers once.
pub fn select<'a>(root: Node<'a>, path: &[Segment]) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    walk(root, path, &mut out, &mut Direct);
    out
}

/// Selects many paths in one document at a bounded cost: the first lookup in an array or
/// object of more than [`Selector::INDEXED`] children records where each child starts, so
/// later lookups in it (any index, any name) cost O(1) instead of a walk over the container.
/// A template with thousands of `{$[-k]}` placeholders on a 1M-element array thus costs one
/// walk of the array, not one per placeholder.
///
/// ```
/// use rmkit_json::doc::Doc;
/// use rmkit_json::path::{Selector, parse};
///
/// let doc = Doc::parse(b"[10, 20, 30]").unwrap();
/// let mut sel = Selector::new(doc.root());
/// assert_eq!(sel.select(&parse(b"$[-1]").unwrap())[0].to_json(), b"30");
/// assert_eq!(sel.select(&parse(b"$[0]").unwrap())[0].to_json(), b"10");
/// ```
pub struct Selector<'a> {
    root: Node<'a>,
    lookup: Cached<'a>,
}

impl<'a> Selector<'a> {
    /// Containers with more children than this are indexed on first lookup.
    pub const INDEXED: usize = 32;

    /// A selector over the document under `root`.
    pub fn new(root: Node<'a>) -> Self {
        Selector {
            root,
            lookup: Cached::default(),
        }
    }

    /// What [`select`] returns for `path`.
    pub fn select(&mut self, path: &[Segment]) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        walk(self.root, path, &mut out, &mut self.lookup);
        out
    }
}

/// How [`walk`] finds one child of a container.
trait Lookup<'a> {
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>>;
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>>;
}

/// Walks the container each time.
struct Direct;

impl<'a> Lookup<'a> for Direct {
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>> {
        array.index(i)
    }
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>> {
        object.get(name)
    }
}

/// Indexes large containers on first lookup (see [`Selector`]).
/// Children are recorded by offset (8 bytes each, not a 24-byte `Node`).
#[derive(Default)]
struct Cached<'a> {
    arrays: std::collections::HashMap<usize, Vec<usize>>,
    objects: std::collections::HashMap<usize, std::collections::HashMap<&'a str, usize>>,
}

impl<'a> Lookup<'a> for Cached<'a> {
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>> {
        if array.len().unwrap_or(0) <= Selector::INDEXED {
            return array.index(i);
        }
        let at = *self
            .arrays
            .entry(array.offset())
            .or_insert_with(|| array.elements().map(|e| e.offset()).collect())
            .get(i)?;
        Some(array.node_at(at))
    }
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>> {
        if object.len().unwrap_or(0) <= Selector::INDEXED {
            return object.get(name);
        }
        let at = *self
            .objects
            .entry(object.offset())
            // Member names are unique (the parser keeps one per name).
            .or_insert_with(|| object.members().map(|(k, v)| (k, v.offset())).collect())
            .get(name)?;
        Some(object.node_at(at))
    }
}

fn walk<'a>(v: Node<'a>, path: &[Segment], out: &mut Vec<Node<'a>>, find: &mut impl Lookup<'a>) {
    // Recursion depth is bounded by the document's depth (< 128): each step enters a child.
    let Some((seg, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (seg, v.kind()) {
        (Segment::Key(k), Kind::Object) => {
            if let Some(c) = find.member(v, k) {
                walk(c, rest, out, find);
            }
        }
        // JSON Pointer tokens are parsed as keys; on arrays they are indexes.
        (Segment::Key(k), Kind::Array) => {
            if let Some(c) = pointer_index(k).and_then(|i| find.index(v, i)) {
                walk(c, rest, out, find);
            }
        }
        (Segment::Index(i), Kind::Array) => {
            let len = v.len().unwrap_or(0) as i64;
            let i = if *i < 0 { len + i } else { *i };
            if let Some(c) = usize::try_from(i).ok().and_then(|i| find.index(v, i)) {
                walk(c, rest, out, find);
            }
        }
        (Segment::Wildcard, Kind::Object) => {
            for (_, c) in v.members() {
                walk(c, rest, out, find);
            }
        }
        (Segment::Wildcard, Kind::Array) => {
            for c in v.elements() {
                walk(c, rest, out, find);
            }
        }
        _ => {}
    }
}

fn pointer_index(token: &str) -> Option<usize> {
    if token == "0"
        || (!token.starts_with('0')
            && !token.is_empty()
            && token.bytes().all(|b| b.is_ascii_digit()))
    {
        token.parse().ok()
    } else {
        None
    }
}

/// The type name of a value, as RedisJSON names them.
pub fn type_name(v: Node<'_>) -> &'static str {
    v.kind().name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use serde_json::{Value, json};

    fn doc(v: Value) -> Doc {
        Doc::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn sel(v: &Value, p: &str) -> Vec<Value> {
        let d = doc(v.clone());
        select(d.root(), &parse(p.as_bytes()).unwrap())
            .into_iter()
            .map(|n| serde_json::from_slice(&n.to_json()).unwrap())
            .collect()
    }

    #[test]
    fn jsonpath_subset_selects_what_it_says() {
        let doc = json!({"a": {"b": [10, 20, 30]}, "c d": true, "e": [{"x": 1}, {"x": 2}]});
        assert_eq!(sel(&doc, "$"), std::slice::from_ref(&doc));
        assert_eq!(sel(&doc, "$.a.b[0]"), [json!(10)]);
        assert_eq!(sel(&doc, "$.a.b[-1]"), [json!(30)]);
        assert_eq!(sel(&doc, "$.a.b[*]"), [json!(10), json!(20), json!(30)]);
        assert_eq!(sel(&doc, "$['c d']"), [json!(true)]);
        assert_eq!(sel(&doc, "$[\"a\"].b[1]"), [json!(20)]);
        assert_eq!(sel(&doc, "$.e[*].x"), [json!(1), json!(2)]);
        assert_eq!(sel(&doc, "$.*").len(), 3);
        assert!(sel(&doc, "$.missing").is_empty());
        assert!(sel(&doc, "$.a.b[3]").is_empty());
    }

    #[test]
    fn json_pointer_works_too() {
        let doc = json!({"a": {"b": [10, 20]}, "x/y": 1, "t~": 2});
        assert_eq!(sel(&doc, "/a/b/1"), [json!(20)]);
        assert_eq!(sel(&doc, "/x~1y"), [json!(1)]);
        assert_eq!(sel(&doc, "/t~0"), [json!(2)]);
        assert_eq!(sel(&doc, ""), std::slice::from_ref(&doc));
        assert!(sel(&doc, "/a/b/01").is_empty());
    }

    #[test]
    fn bad_paths_say_where() {
        for (p, at) in [
            ("a", 0),
            ("$.", 2),
            ("$[", 2),
            ("$[1", 3),
            ("$['x", 4),
            ("$x", 1),
            ("/a~2", 2),
        ] {
            let e = parse(p.as_bytes()).unwrap_err();
            assert_eq!(e.at, at, "{p}: {e}");
        }
    }
}
