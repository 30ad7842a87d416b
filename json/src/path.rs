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

use crate::doc::{Doc, Edit, Kind, Node};
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
pub fn select<'a>(root: Node<'a>, path: &[Segment]) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    walk(root, path, &mut out);
    out
}

fn walk<'a>(v: Node<'a>, path: &[Segment], out: &mut Vec<Node<'a>>) {
    // Recursion depth is bounded by the document's depth (< 128): each step enters a child.
    let Some((seg, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (seg, v.kind()) {
        (Segment::Key(k), Kind::Object) => {
            if let Some(c) = v.get(k) {
                walk(c, rest, out);
            }
        }
        // JSON Pointer tokens are parsed as keys; on arrays they are indexes.
        (Segment::Key(k), Kind::Array) => {
            if let Some(c) = pointer_index(k).and_then(|i| v.index(i)) {
                walk(c, rest, out);
            }
        }
        (Segment::Index(i), Kind::Array) => {
            let len = v.len().unwrap_or(0) as i64;
            let i = if *i < 0 { len + i } else { *i };
            if let Some(c) = usize::try_from(i).ok().and_then(|i| v.index(i)) {
                walk(c, rest, out);
            }
        }
        (Segment::Wildcard, Kind::Object) => {
            for (_, c) in v.members() {
                walk(c, rest, out);
            }
        }
        (Segment::Wildcard, Kind::Array) => {
            for c in v.elements() {
                walk(c, rest, out);
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

/// Removes every value `path` selects below the root: the new document and how many values
/// it lost (`None` when the path selects nothing below the root; the caller deletes the key
/// for the root itself).
pub fn delete(doc: &Doc, path: &[Segment]) -> Option<(Doc, usize)> {
    let found: Vec<(usize, Edit)> = select(doc.root(), path)
        .iter()
        .filter(|n| n.offset() != 0)
        .map(|n| (n.offset(), Edit::Remove))
        .collect();
    (!found.is_empty()).then(|| (doc.edit(&found), found.len()))
}

/// The type name of a value, as RedisJSON names them.
pub fn type_name(v: Node<'_>) -> &'static str {
    v.kind().name()
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn delete_removes_every_match_without_shifting_errors() {
        let d = doc(json!({"a": [1, 2, 3, 4], "b": {"c": 1, "d": 2}}));
        let (d, n) = delete(&d, &parse(b"$.a[*]").unwrap()).unwrap();
        assert_eq!(n, 4);
        assert_eq!(d, doc(json!({"a": [], "b": {"c": 1, "d": 2}})));
        let (d, n) = delete(&d, &parse(b"$.b.c").unwrap()).unwrap();
        assert_eq!(n, 1);
        assert_eq!(delete(&d, &parse(b"$.nope").unwrap()), None);
        assert_eq!(delete(&d, &parse(b"$").unwrap()), None);
        assert_eq!(d, doc(json!({"a": [], "b": {"d": 2}})));
    }
}
