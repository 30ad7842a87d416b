//! `json.fmt` templates: text with `{path}` placeholders filled from a document.
//!
//! - `{path}` is replaced by the value the path selects: a string is inserted as its text
//!   (no quotes, no escaping), any other value as compact JSON; several matches (`*`) are
//!   inserted as a JSON array. A path that selects nothing is an error (no silent blanks).
//! - `{{` and `}}` stand for literal braces. A lone `{` or `}` is an error naming its position,
//!   and so is an empty placeholder `{}` (write `{$}` for the whole document).
//! - Inside a JSONPath placeholder a quoted member name may contain braces: `{$['a}b']}`.
//!   (A JSON Pointer placeholder ends at its first `}`.)
//!
//! ```text
//! template: Hello {$.name}, you have {$.unread} messages {{inbox}}
//! document: {"name": "Ada", "unread": 3}
//! result:   Hello Ada, you have 3 messages {inbox}
//! ```
//!
//! Rendering is bounded before anything is built: [`Template::prepare`] selects each
//! *distinct* path once (with a [`Selector`], which indexes large arrays and objects on first
//! use), [`Rendering::len`] counts the exact output length with a cap (so a template that
//! would expand to gigabytes is refused after counting at most the cap), and only then does
//! [`Rendering::write`] produce the text, into a buffer of exactly that size.

use crate::doc::Node;
use crate::path::{self, Segment, Selector};
use rmkit::error::excerpt;
use std::collections::HashMap;

/// A parsed template: literal text and placeholders, each distinct path parsed once.
#[derive(Debug)]
pub struct Template<'t> {
    pieces: Vec<Piece<'t>>,
    /// Distinct placeholder paths: (their text, where they first appear, parsed).
    paths: Vec<(&'t [u8], usize, Vec<Segment>)>,
}

#[derive(Debug)]
enum Piece<'t> {
    /// Literal text, without braces.
    Text(&'t [u8]),
    /// A literal brace (from `{{` or `}}`).
    Brace(u8),
    /// The value of distinct path number `n`.
    Value(usize),
}

/// A template with its values selected from one document, ready to be measured and written.
pub struct Rendering<'r, 'a> {
    template: &'r Template<'r>,
    /// The values each distinct path selected (never empty).
    values: Vec<Vec<Node<'a>>>,
}

/// Parses `template`, or explains what is wrong with it.
pub fn parse(template: &[u8]) -> Result<Template<'_>, String> {
    let mut pieces = Vec::new();
    let mut paths: Vec<(&[u8], usize, Vec<Segment>)> = Vec::new();
    let mut distinct: HashMap<&[u8], usize> = HashMap::new();
    let mut text_start = 0;
    let mut i = 0;
    while i < template.len() {
        let b = template[i];
        if b != b'{' && b != b'}' {
            i += 1;
            continue;
        }
        if text_start < i {
            pieces.push(Piece::Text(&template[text_start..i]));
        }
        if template.get(i + 1) == Some(&b) {
            pieces.push(Piece::Brace(b));
            i += 2;
        } else if b == b'}' {
            return Err(format!(
                "invalid template: unmatched '}}' at byte {i} (write '}}}}' for a brace)"
            ));
        } else {
            let Some(len) = placeholder_len(&template[i + 1..]) else {
                return Err(format!(
                    "invalid template: unmatched '{{' at byte {i} (write '{{{{' for a brace)"
                ));
            };
            let p = &template[i + 1..i + 1 + len];
            if p.is_empty() {
                return Err(format!(
                    "invalid template: empty placeholder '{{}}' at byte {i} (write '{{$}}' for \
                     the whole document, '{{{{}}}}' for braces)"
                ));
            }
            let n = match distinct.get(p) {
                Some(&n) => n,
                None => {
                    let segments = path::parse(p).map_err(|e| {
                        format!("in template placeholder '{}' at byte {i}: {e}", excerpt(p))
                    })?;
                    paths.push((p, i, segments));
                    distinct.insert(p, paths.len() - 1);
                    paths.len() - 1
                }
            };
            pieces.push(Piece::Value(n));
            i += len + 2;
        }
        text_start = i;
    }
    if text_start < template.len() {
        pieces.push(Piece::Text(&template[text_start..]));
    }
    Ok(Template { pieces, paths })
}

/// The length of the placeholder that starts `rest` (just after its `{`), up to its closing
/// `}`; `None` if it is not closed. In a JSONPath (`$...`) a quoted member name (`['...']`,
/// `["..."]`, backslash escaping) may contain braces.
fn placeholder_len(rest: &[u8]) -> Option<usize> {
    let jsonpath = rest.first() == Some(&b'$');
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < rest.len() {
        let b = rest[i];
        match quote {
            Some(_) if b == b'\\' => i += 1, // skip the escaped byte
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'}' => return Some(i),
            None if jsonpath && (b == b'"' || b == b'\'') && i > 0 && rest[i - 1] == b'[' => {
                quote = Some(b)
            }
            None => {}
        }
        i += 1;
    }
    None
}

impl<'t> Template<'t> {
    /// Selects every distinct path once in the document under `doc`; an error names the
    /// first placeholder that selects nothing.
    pub fn prepare<'a>(&'t self, doc: Node<'a>) -> Result<Rendering<'t, 'a>, String> {
        let mut selector = Selector::new(doc);
        let mut values = Vec::with_capacity(self.paths.len());
        for (text, at, segments) in &self.paths {
            let found = selector.select(segments).map_err(|e| e.to_string())?;
            if found.is_empty() {
                return Err(format!(
                    "template placeholder '{}' at byte {at} matches nothing",
                    excerpt(text)
                ));
            }
            values.push(found);
        }
        Ok(Rendering {
            template: self,
            values,
        })
    }
}

impl Rendering<'_, '_> {
    /// The exact length of the rendered text, or `None` if it is more than `cap` bytes. Each
    /// distinct value is measured once and the count stops at the cap, so this costs at most
    /// about `cap` bytes of walking whatever the template asks for.
    pub fn len(&self, cap: usize) -> Option<usize> {
        let mut lens: Vec<Option<usize>> = vec![None; self.values.len()];
        let mut total = 0usize;
        for piece in &self.template.pieces {
            let add = match piece {
                Piece::Text(t) => t.len(),
                Piece::Brace(_) => 1,
                Piece::Value(n) => match lens[*n] {
                    Some(len) => len,
                    None => {
                        let len = value_len(&self.values[*n], cap - total)?;
                        lens[*n] = Some(len);
                        len
                    }
                },
            };
            total = total.checked_add(add).filter(|&t| t <= cap)?;
        }
        Some(total)
    }

    /// Appends the rendered text to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        for piece in &self.template.pieces {
            match piece {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Brace(b) => out.push(*b),
                Piece::Value(n) => write_value(&self.values[*n], out),
            }
        }
    }
}

/// The length of one placeholder's text (at most `cap`).
fn value_len(found: &[Node<'_>], cap: usize) -> Option<usize> {
    match found {
        [v] => match v.as_str() {
            Some(s) => Some(s.len()).filter(|&n| n <= cap),
            None => v.json_len(cap),
        },
        many => {
            // `[` a `,` b ... `]`
            let mut total = many.len() + 1;
            for v in many {
                total = total.checked_add(v.json_len(cap.checked_sub(total)?)?)?;
            }
            Some(total).filter(|&n| n <= cap)
        }
    }
}

fn write_value(found: &[Node<'_>], out: &mut Vec<u8>) {
    match found {
        [v] => match v.as_str() {
            Some(s) => out.extend_from_slice(s.as_bytes()),
            None => v.write_json(out),
        },
        many => {
            out.push(b'[');
            for (i, v) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                v.write_json(out);
            }
            out.push(b']');
        }
    }
}

/// Renders `template` against `doc` with no size limit (tests and fuzzing; commands measure
/// first, see [`Rendering::len`]).
pub fn render(template: &[u8], doc: Node<'_>) -> Result<Vec<u8>, String> {
    let parsed = parse(template)?;
    let rendering = parsed.prepare(doc)?;
    let mut out = Vec::with_capacity(rendering.len(usize::MAX).unwrap_or(0));
    rendering.write(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;

    fn doc(text: &str) -> Doc {
        Doc::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn fills_placeholders_and_keeps_escaped_braces() {
        let d = doc(r#"{"name": "Ada", "unread": 3, "tags": ["a", "b"], "o": {"k": null}}"#);
        let doc = d.root();
        let r = render(
            b"Hello {$.name}, you have {$.unread} messages {{inbox}}",
            doc,
        )
        .unwrap();
        assert_eq!(r, b"Hello Ada, you have 3 messages {inbox}");
        assert_eq!(
            render(b"{$.tags[*]}|{$.o}|{/tags/1}", doc).unwrap(),
            b"[\"a\",\"b\"]|{\"k\":null}|b"
        );
        assert_eq!(render(b"", doc).unwrap(), b"");
    }

    #[test]
    fn unbalanced_braces_empty_and_missing_paths_are_errors() {
        let d = doc(r#"{"a": 1}"#);
        let doc = d.root();
        let err = |t: &[u8]| render(t, doc).unwrap_err();
        assert!(err(b"x {$.a").contains("unmatched '{' at byte 2"));
        assert!(err(b"x } y").contains("unmatched '}' at byte 2"));
        assert!(err(b"{$.b}").contains("matches nothing"));
        assert!(err(b"{a b}").contains("invalid path"));
        assert!(
            err(b"ab{}").contains("empty placeholder '{}' at byte 2"),
            "{}",
            err(b"ab{}")
        );
    }

    #[test]
    fn a_quoted_member_name_may_contain_braces() {
        let d = doc(r#"{"a}b": 1, "{c": "x", "q'}": 2}"#);
        let doc = d.root();
        assert_eq!(render(b"{$['a}b']}", doc).unwrap(), b"1");
        assert_eq!(render(b"<{$[\"{c\"]}>", doc).unwrap(), b"<x>");
        assert_eq!(render(b"{$['q\\'}']}", doc).unwrap(), b"2");
    }

    #[test]
    fn errors_quote_at_most_128_bytes_of_the_path() {
        let long = format!("{{$.{}}}", "x".repeat(5000));
        let e = render(long.as_bytes(), doc("{}").root()).unwrap_err();
        assert!(e.len() < 300, "{e}");
        assert!(e.contains("..."), "{e}");
    }

    #[test]
    fn each_distinct_path_is_selected_once_and_the_length_is_exact() {
        let d = doc(r#"{"s": "hello", "n": [1, 2, 3]}"#);
        let t = parse(b"{$.s}{$.s}{$.n}{$.n[*]}{{").unwrap();
        assert_eq!(t.paths.len(), 3, "three distinct paths");
        let r = t.prepare(d.root()).unwrap();
        let mut out = Vec::new();
        r.write(&mut out);
        assert_eq!(out, b"hellohello[1,2,3][1,2,3]{");
        assert_eq!(r.len(usize::MAX), Some(out.len()));
        assert_eq!(r.len(out.len()), Some(out.len()));
        assert_eq!(r.len(out.len() - 1), None);
    }

    #[test]
    fn an_enormous_expansion_is_measured_up_to_the_cap_only() {
        let big = format!("\"{}\"", "x".repeat(1 << 20));
        let d = doc(&big);
        let template = "{$}".repeat(3000); // 3 GiB of output
        let t = parse(template.as_bytes()).unwrap();
        let r = t.prepare(d.root()).unwrap();
        assert_eq!(r.len(64 << 20), None);
    }
}
