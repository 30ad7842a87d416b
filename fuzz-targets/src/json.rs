//! The `json_value`, `json_path` and `json_template` targets.

use crate::split_pair;
use rmkit_json::path::{self, Segment, Step};
use rmkit_json::{compact, parse, template};
use serde_json::Value;
use std::collections::BTreeSet;

/// Inputs longer than this are ignored: every property here is linear or quadratic in the input.
const MAX_INPUT: usize = 64 * 1024;

/// The `json_value` target: the input as JSON text. What parses must survive `compact` and a
/// second `parse` unchanged (this is what RDB save/load, AOF rewrite and `JSON.GET` →
/// `JSON.SET` do), and nothing may panic or overflow the stack.
pub fn json_value(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let v = match parse(data) {
        Ok(v) => v,
        Err(e) => {
            let m = e.message();
            assert!(
                m.starts_with("ERR invalid JSON: ") && m.contains(" at line "),
                "{m}"
            );
            return;
        }
    };
    let text = compact(&v);
    let reparse = |text: &[u8]| match parse(text) {
        Ok(again) => again,
        Err(e) => panic!(
            "compact output does not parse: {e:?}\ncompact: {}",
            String::from_utf8_lossy(text)
        ),
    };
    let again = reparse(&text);
    assert!(
        again == v,
        "parse(compact(v)) != v\ninput:   {}\ncompact: {}\nvalue:   {v:?}\nagain:   {again:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&text),
    );
    assert_eq!(compact(&again), text, "compact is not stable");
}

/// The `json_path` target: `sep path sep json`. Invalid JSON is replaced by `null` (so every
/// path still runs); see `check_path` for the properties.
pub fn json_path(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (p, doc) = split_pair(data);
    let segs = match path::parse(p) {
        Ok(segs) => segs,
        Err(e) => {
            assert!(
                e.at <= p.len(),
                "error offset {} beyond the path ({e})",
                e.at
            );
            assert!(e.to_string().starts_with("invalid path: "), "{e}");
            return;
        }
    };
    let doc = parse(doc).unwrap_or(Value::Null);
    check_path(&doc, &segs);
}

/// Properties of one parsed path on one document:
/// - `select` returns exactly the values `get` finds at each location `locate` lists (the same
///   references), and `get_mut` finds equal values;
/// - every location is as deep as the path is long (one step per segment), so no match is
///   nested in another; locations are distinct and in document order;
/// - `delete` (on a clone) returns 0 for the root path and otherwise exactly the number of
///   locations, and leaves the document minus exactly those values (checked against an
///   independent rebuild). "Fewer when matches overlap" cannot happen: equally deep locations
///   never overlap, and deleting deepest-last-first keeps the other indexes valid.
pub fn check_path(doc: &Value, segs: &[Segment]) {
    let found = path::locate(doc, segs);
    let selected = path::select(doc, segs);
    assert_eq!(selected.len(), found.len(), "select vs locate");
    let mut copy = doc.clone();
    for (at, sel) in found.iter().zip(&selected) {
        assert_eq!(at.len(), segs.len(), "location {at:?} for {segs:?}");
        let got = path::get(doc, at).unwrap_or_else(|| panic!("located {at:?} is not there"));
        assert!(std::ptr::eq(got, *sel), "select and get disagree at {at:?}");
        let type_name = path::type_name(got);
        assert!(!type_name.is_empty());
        assert_eq!(
            path::get_mut(&mut copy, at).as_deref(),
            Some(got),
            "get_mut at {at:?}"
        );
    }
    let order: Vec<Vec<usize>> = found.iter().map(|at| positions(doc, at)).collect();
    if let Some(w) = order.windows(2).position(|w| w[0] >= w[1]) {
        panic!(
            "locations not distinct and in document order: {:?} then {:?}",
            found[w],
            found[w + 1]
        );
    }

    let removed = path::delete(&mut copy, segs);
    if segs.is_empty() {
        assert_eq!(removed, 0, "the root path deleted something");
        assert_eq!(&copy, doc, "the root path changed the document");
        return;
    }
    assert_eq!(removed, found.len(), "delete vs locate for {segs:?}");
    let doomed: BTreeSet<Vec<Step>> = found.into_iter().collect();
    let expected = without(doc, &mut Vec::new(), &doomed);
    assert!(
        copy == expected,
        "delete {segs:?} left\n{copy}\nexpected\n{expected}"
    );
}

/// The document-order position of a location: member ordinals in the object's iteration order,
/// element indexes in arrays.
fn positions(doc: &Value, at: &[Step]) -> Vec<usize> {
    let mut v = doc;
    let mut out = Vec::with_capacity(at.len());
    for step in at {
        let (i, next) = match (step, v) {
            (Step::Key(k), Value::Object(m)) => m
                .iter()
                .enumerate()
                .find(|(_, (key, _))| *key == k)
                .map(|(i, (_, c))| (i, c))
                .expect("located member exists"),
            (Step::Index(i), Value::Array(a)) => (*i, &a[*i]),
            _ => panic!("location {at:?} does not fit the document"),
        };
        out.push(i);
        v = next;
    }
    out
}

/// `v` rebuilt without the values at the `doomed` locations (an independent `delete`).
fn without(v: &Value, prefix: &mut Vec<Step>, doomed: &BTreeSet<Vec<Step>>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, c)| {
                    prefix.push(Step::Key(k.clone()));
                    let kept = (!doomed.contains(prefix.as_slice()))
                        .then(|| (k.clone(), without(c, prefix, doomed)));
                    prefix.pop();
                    kept
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    prefix.push(Step::Index(i));
                    let kept =
                        (!doomed.contains(prefix.as_slice())).then(|| without(c, prefix, doomed));
                    prefix.pop();
                    kept
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The `json_template` target: `sep template sep json` (invalid JSON is replaced by `null`).
/// - `render` never panics;
/// - a template without braces renders to itself;
/// - the template with every brace doubled renders to the template (escaping round trip);
/// - `{t}`, where `t` is the template bytes (if they can form one placeholder), renders to what
///   `path::select` finds for `t`: a string's text, another value's compact JSON, several
///   values as a JSON array, and an error for no match or a bad path.
pub fn json_template(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (t, doc) = split_pair(data);
    let doc = parse(doc).unwrap_or(Value::Null);

    let rendered = template::render(t, &doc);
    let has_braces = t.iter().any(|&b| b == b'{' || b == b'}');
    if let (Ok(out), false) = (&rendered, has_braces) {
        assert_eq!(out.as_slice(), t, "a template without braces changed");
    }
    if let Err(e) = &rendered {
        assert!(!e.is_empty());
    }

    let mut escaped = Vec::with_capacity(t.len() * 2);
    for &b in t {
        escaped.push(b);
        if b == b'{' || b == b'}' {
            escaped.push(b);
        }
    }
    match template::render(&escaped, &doc) {
        Ok(out) => assert_eq!(out, t, "escaped text did not render to itself"),
        Err(e) => panic!("escaped text is an invalid template: {e}"),
    }

    if t.first() != Some(&b'{') && !t.contains(&b'}') {
        let placeholder = [&b"{"[..], t, b"}"].concat();
        let got = template::render(&placeholder, &doc);
        let expected = match path::parse(t) {
            Err(_) => None,
            Ok(segs) => match path::select(&doc, &segs).as_slice() {
                [] => None,
                [Value::String(s)] => Some(s.as_bytes().to_vec()),
                [v] => Some(compact(v)),
                many => Some(compact(&Value::Array(
                    many.iter().map(|&v| v.clone()).collect(),
                ))),
            },
        };
        match (got, expected) {
            (Ok(got), Some(expected)) => assert_eq!(got, expected, "placeholder rendering"),
            (Err(_), None) => {}
            (got, expected) => panic!("placeholder: render {got:?}, select says {expected:?}"),
        }
    }
}
