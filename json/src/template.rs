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

use crate::path;
use serde_json::Value;

/// Renders `template` against `doc`, or explains what is wrong.
pub fn render(template: &[u8], doc: &Value) -> Result<Vec<u8>, String> {
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
                    [Value::String(s)] => out.extend_from_slice(s.as_bytes()),
                    [v] => out.extend(serde_json::to_vec(v).map_err(|e| e.to_string())?),
                    many => out.extend(serde_json::to_vec(many).map_err(|e| e.to_string())?),
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
    use serde_json::json;

    #[test]
    fn fills_placeholders_and_keeps_escaped_braces() {
        let doc = json!({"name": "Ada", "unread": 3, "tags": ["a", "b"], "o": {"k": null}});
        let r = render(
            b"Hello {$.name}, you have {$.unread} messages {{inbox}}",
            &doc,
        )
        .unwrap();
        assert_eq!(r, b"Hello Ada, you have 3 messages {inbox}");
        assert_eq!(
            render(b"{$.tags[*]}|{$.o}|{/tags/1}", &doc).unwrap(),
            b"[\"a\",\"b\"]|{\"k\":null}|b"
        );
        assert_eq!(render(b"", &doc).unwrap(), b"");
    }

    #[test]
    fn unbalanced_braces_and_missing_paths_are_errors() {
        let doc = json!({"a": 1});
        assert!(
            render(b"x {$.a", &doc)
                .unwrap_err()
                .contains("unmatched '{' at byte 2")
        );
        assert!(
            render(b"x } y", &doc)
                .unwrap_err()
                .contains("unmatched '}' at byte 2")
        );
        assert!(
            render(b"{$.b}", &doc)
                .unwrap_err()
                .contains("matches nothing")
        );
        assert!(render(b"{a}", &doc).unwrap_err().contains("invalid path"));
    }
}
