//! What each writing command does to a document, as pure functions of the document and the
//! command's arguments: no Redis, so the `json_ops` fuzz target runs the very code the
//! commands run, against a reference model, after every step.
//!
//! Each function *plans* the change and returns an [`Effect`] (and the reply's data); the
//! command applies the effect to the key only when there is one, so a command that changes
//! nothing writes nothing (no modified-key signal, no replication, no notification).
//!
//! ```
//! use rmkit_json::doc::Doc;
//! use rmkit_json::ops::{self, Effect};
//! use rmkit_json::path::parse;
//!
//! let doc = Doc::parse(br#"{"a": 1, "b": [1, 2]}"#).unwrap();
//! let (effect, results) = ops::numincrby(doc.root(), &parse(b"$.a").unwrap(), &2.into()).unwrap();
//! assert_eq!(results, [Some(3.into())]);
//! assert_eq!(effect.apply(&doc).unwrap().to_json(), br#"{"a":3,"b":[1,2]}"#);
//! ```

use crate::doc::{Doc, Edit, Node};
use crate::path::{self, Segment};
use rmkit::Error;
use serde_json::Number;

/// The change a command makes to the document at its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing changes: the key is not written.
    Nothing,
    /// These edits ([`Doc::edit`]) give the new document.
    Edit(Vec<(usize, Edit)>),
    /// The key goes away.
    DeleteKey,
}

impl Effect {
    /// The document after the effect: `None` if the key is deleted, the same document if
    /// nothing changes.
    pub fn apply(&self, doc: &Doc) -> Option<Doc> {
        match self {
            Effect::Nothing => Some(doc.clone()),
            Effect::Edit(edits) => Some(doc.edit(edits)),
            Effect::DeleteKey => None,
        }
    }

    /// Whether the key is written at all.
    pub fn changes(&self) -> bool {
        !matches!(self, Effect::Nothing)
    }
}

/// `JSON.DEL key [path]`: removes every value `path` selects (the root: the whole key); the
/// effect and how many values go.
pub fn del(root: Node<'_>, path: &[Segment]) -> (Effect, usize) {
    let found = path::select(root, path);
    if found.iter().any(|n| n.offset() == root.offset()) {
        return (Effect::DeleteKey, 1);
    }
    let edits: Vec<(usize, Edit)> = found.iter().map(|n| (n.offset(), Edit::Remove)).collect();
    let n = edits.len();
    let effect = if edits.is_empty() {
        Effect::Nothing
    } else {
        Effect::Edit(edits)
    };
    (effect, n)
}

/// `JSON.NUMINCRBY key path by`: adds `by` to every number `path` selects (the root
/// included); the effect and one result per selected value (`None` for values that are not
/// numbers). Integers stay integers unless the sum overflows `i64`/`u64` (then it is a float).
/// If any sum is not a finite number nothing changes and the command fails.
pub fn numincrby(
    root: Node<'_>,
    path: &[Segment],
    by: &Number,
) -> Result<(Effect, Vec<Option<Number>>), Error> {
    let mut edits = Vec::new();
    let mut results = Vec::new();
    for found in path::select(root, path) {
        match found.as_number() {
            Some(n) => {
                let sum = add(&n, by).ok_or_else(|| Error::new("result is not a number"))?;
                results.push(Some(sum.clone()));
                edits.push((found.offset(), Edit::Number(sum)));
            }
            None => results.push(None),
        }
    }
    let effect = if edits.is_empty() {
        Effect::Nothing
    } else {
        Effect::Edit(edits)
    };
    Ok((effect, results))
}

/// `a + b` for JSON numbers: the sum of two integers is an integer while it fits `i64` or
/// `u64` (computed exactly), else a float; a float in either makes a float; `None` if that is
/// not finite.
pub fn add(a: &Number, b: &Number) -> Option<Number> {
    if let (Some(x), Some(y)) = (a.as_i128(), b.as_i128()) {
        let sum = x + y; // two 64-bit integers cannot overflow i128
        if let Ok(s) = i64::try_from(sum) {
            return Some(s.into());
        }
        if let Ok(s) = u64::try_from(sum) {
            return Some(s.into());
        }
    }
    Number::from_f64(a.as_f64()? + b.as_f64()?)
}

/// Parses a `NUMINCRBY` increment as RedisJSON does: the argument is JSON text (surrounding
/// whitespace allowed), and must be a number; errors are the JSON parser's (`ERR expected
/// value at line 1 column 1`).
pub fn parse_number(arg: &[u8]) -> Result<Number, Error> {
    match serde_json::from_slice::<serde_json::Value>(arg) {
        Ok(serde_json::Value::Number(n)) => Ok(n),
        Ok(_) => Err(Error::new("bad input number")),
        Err(e) => Err(Error::new(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::parse;

    fn doc(t: &str) -> Doc {
        Doc::parse(t.as_bytes()).unwrap()
    }

    #[test]
    fn numincrby_at_the_root_stores_what_it_replies() {
        for (text, by, expect) in [
            ("5", "1", "6"),
            ("5", "1.5", "6.5"),
            ("1.5", "1", "2.5"),
            ("9223372036854775807", "1", "9223372036854775808"),
        ] {
            let d = doc(text);
            for p in ["$", "", "/"] {
                let segs = parse(p.as_bytes()).unwrap();
                if p == "/" {
                    // "/" is the member "" of an object: nothing at a number's root.
                    let (effect, results) =
                        numincrby(d.root(), &segs, &parse_number(by.as_bytes()).unwrap()).unwrap();
                    assert_eq!((effect, results), (Effect::Nothing, vec![]));
                    continue;
                }
                let (effect, results) =
                    numincrby(d.root(), &segs, &parse_number(by.as_bytes()).unwrap()).unwrap();
                let after = effect.apply(&d).unwrap();
                assert_eq!(after.to_json(), expect.as_bytes(), "{text} + {by} at '{p}'");
                assert_eq!(
                    serde_json::to_vec(&results).unwrap(),
                    format!("[{expect}]").into_bytes()
                );
            }
        }
    }

    #[test]
    fn a_delete_that_matches_nothing_changes_nothing() {
        let d = doc(r#"{"a":[1,2]}"#);
        assert_eq!(del(d.root(), &parse(b"$.b").unwrap()), (Effect::Nothing, 0));
        assert_eq!(del(d.root(), &parse(b"$").unwrap()), (Effect::DeleteKey, 1));
        let (effect, n) = del(d.root(), &parse(b"$.a[*]").unwrap());
        assert_eq!(n, 2);
        assert_eq!(effect.apply(&d).unwrap().to_json(), br#"{"a":[]}"#);
    }

    #[test]
    fn increments_keep_integers_integral_until_overflow() {
        assert_eq!(add(&2.into(), &3.into()), Some(5.into()));
        assert_eq!(add(&u64::MAX.into(), &0.into()), Some(u64::MAX.into()));
        assert_eq!(
            add(&u64::MAX.into(), &1.into()).unwrap().as_f64(),
            Some(1.8446744073709552e19)
        );
        assert_eq!(
            add(&u64::MAX.into(), &(-1).into()),
            Some((u64::MAX - 1).into())
        );
        assert_eq!(
            add(&i64::MIN.into(), &(-1).into()).unwrap().as_f64(),
            Some(-9.223372036854776e18)
        );
        let half = Number::from_f64(1.5).unwrap();
        assert_eq!(add(&half, &1.into()).unwrap().as_f64(), Some(2.5));
        let max = Number::from_f64(f64::MAX).unwrap();
        assert_eq!(add(&max, &max), None);
    }

    #[test]
    fn increments_parse_like_redisjson() {
        assert_eq!(parse_number(b" 1 ").unwrap(), 1.into());
        assert_eq!(
            parse_number(b"nan").unwrap_err().message(),
            "ERR expected ident at line 1 column 2"
        );
        assert_eq!(
            parse_number(b"abc").unwrap_err().message(),
            "ERR expected value at line 1 column 1"
        );
        assert_eq!(
            parse_number(b"\"a\"").unwrap_err().message(),
            "ERR bad input number"
        );
    }
}
