//! `json.fmt` templates: text with `{path}` placeholders filled from a document.
//!
//! - `{path}` is replaced by the value the path selects: a string is inserted as its text
//!   (no quotes, no escaping), any other value as compact JSON; several matches (`*`) are
//!   inserted as a JSON array. A path that selects nothing is an error (no silent blanks).
//! - `{{` and `}}` stand for literal braces. A lone `{` or `}` is an error naming its position.
//!
//! ```text
//! template: Hello {$.name}, you have {$.unread} messages {{inbox}}
//! document: {"name": "Ada", "unread": 3}
//! result:   Hello Ada, you have 3 messages {inbox}
//! ```

use crate::doc::Node;
use crate::path;

/// Renders `template` against `doc`, or explains what is wrong.
pub fn render(template: &[u8], doc: Node<'_>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(template.len());
    let mut i = 0;
    while i < template.len() {
        match template[i] {
            b'{' if template.get(i + 1) == Some(&b'{') => {
                out.push(b'{');
                i += 2;
            }
            b'}' if template.get(i + 1) == Some(&b'}') => {
                out.push(b'}');
                i += 2;
            }
            b'}' => {
                return Err(format!(
                    "invalid template: unmatched '}}' at byte {i} (write '}}}}' for a brace)"
                ));
            }
            b'{' => {
                let Some(len) = template[i + 1..].iter().position(|&b| b == b'}') else {
                    return Err(format!(
                        "invalid template: unmatched '{{' at byte {i} (write '{{{{' for a brace)"
                    ));
                };
                let p = &template[i + 1..i + 1 + len];
                let segments = path::parse(p)
                    .map_err(|e| format!("in template placeholder at byte {i}: {e}"))?;
                let found = path::select(doc, &segments);
                match found.as_slice() {
                    [] => {
                        return Err(format!(
                            "template placeholder '{}' at byte {i} matches nothing",
                            String::from_utf8_lossy(p)
                        ));
                    }
                    [v] => match v.as_str() {
                        Some(s) => out.extend_from_slice(s.as_bytes()),
                        None => out.extend(v.to_json()),
                    },
                    many => {
                        out.extend(serde_json::to_vec(many).expect("a document always serialises"))
                    }
                }
                i += len + 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
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
    fn unbalanced_braces_and_missing_paths_are_errors() {
        let d = doc(r#"{"a": 1}"#);
        let doc = d.root();
        assert!(
            render(b"x {$.a", doc)
                .unwrap_err()
                .contains("unmatched '{' at byte 2")
        );
        assert!(
            render(b"x } y", doc)
                .unwrap_err()
                .contains("unmatched '}' at byte 2")
        );
        assert!(
            render(b"{$.b}", doc)
                .unwrap_err()
                .contains("matches nothing")
        );
        assert!(render(b"{a}", doc).unwrap_err().contains("invalid path"));
    }
}
