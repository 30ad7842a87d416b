//! The `json_value`, `json_path` and `json_template` targets.

use crate::split_pair;
use rmkit_json::doc::{Doc, Kind, Node, SCRATCH_TEXT_BYTES};
use rmkit_json::ops::{self, Effect};
use rmkit_json::path::{self, Segment};
use rmkit_json::{parse, template};
use serde_json::Value;
use std::collections::BTreeSet;

/// Inputs longer than this are ignored: every property here is linear or quadratic in the input.
const MAX_INPUT: usize = 64 * 1024;

/// The `json_value` target: the input as JSON text, differentially against `serde_json::Value`.
/// - `parse` accepts exactly what serde_json accepts, and its errors read
///   `ERR invalid JSON: ... at line L column C`;
/// - the direct writer (`to_json`) writes what serde_json writes for the same nodes (with
///   RedisJSON's float format, `doc::Floats`);
/// - the compact text of the document means the same as the input (compared as
///   `serde_json::Value`s: repeated member names keep the last value in both);
/// - parsing the compact text again gives the same encoding, and the same text (this is what
///   RDB save/load, AOF rewrite and `JSON.GET` → `JSON.SET` do); nothing panics or overflows
///   the stack;
/// - the direct parser (`Doc::parse_fast`, the fast path of `parse`) accepts nothing that
///   serde_json (`Doc::parse_serde`) refuses, and what it accepts it encodes byte for byte as
///   the serde path does.
pub fn json_value(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    check_fast_path(data);
    let reference = serde_json::from_slice::<Value>(data);
    let doc = match parse(data) {
        Ok(doc) => doc,
        Err(e) => {
            let m = e.message();
            assert!(
                m.starts_with("ERR invalid JSON: ") && m.contains(" at line "),
                "{m}"
            );
            assert!(
                reference.is_err(),
                "serde_json accepts what parse refuses: {m}"
            );
            return;
        }
    };
    let reference = reference.expect("serde_json refuses what parse accepts");
    let text = doc.to_json();
    assert_eq!(
        text,
        rmkit_json::doc::to_vec(&doc.root()),
        "the direct writer and serde_json's differ"
    );
    let meaning: Value = serde_json::from_slice(&text).expect("compact output is JSON");
    assert!(
        meaning == reference,
        "the document means something else\ninput:   {}\ncompact: {}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&text),
    );
    let again = match parse(&text) {
        Ok(again) => again,
        Err(e) => panic!("compact output does not parse: {e:?}"),
    };
    assert!(
        again == doc,
        "parse(compact(doc)) != doc: {doc:?} vs {again:?}"
    );
    assert_eq!(again.to_json(), text, "compact is not stable");
}

/// `Doc::parse_fast` is `None` or the serde path's document, bytes and all; `None` whenever
/// the serde path fails.
fn check_fast_path(data: &[u8]) {
    let fast = Doc::parse_fast(data);
    // The reserved buffer (what JSON.SET parses in) gives the same document, and declines
    // only what is too long for it.
    Doc::reserve_scratch();
    let reused = Doc::parse_reusing(data, |p| p.to_doc());
    assert!(
        reused.is_none() || reused == fast,
        "the reserved buffer parses {:?} differently",
        String::from_utf8_lossy(data)
    );
    assert!(
        reused.is_some() || fast.is_none() || data.len() > SCRATCH_TEXT_BYTES,
        "the reserved buffer declines {:?}",
        String::from_utf8_lossy(data)
    );
    match (Doc::parse_serde(data), fast) {
        (Ok(serde), Some(fast)) => assert!(
            fast.bytes() == serde.bytes(),
            "the fast path encodes {:?} differently\nfast:  {:?}\nserde: {:?}",
            String::from_utf8_lossy(data),
            fast.bytes(),
            serde.bytes(),
        ),
        (Err(e), Some(_)) => panic!(
            "the fast path accepts what serde_json refuses ({e}): {:?}",
            String::from_utf8_lossy(data)
        ),
        (_, None) => {}
    }
}

/// The `json_path` target: `sep path sep json`. Invalid JSON is replaced by `null` (so every
/// path still runs); see `check_path` for the properties.
pub fn json_path(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (p, doc) = split_pair(data);
    let parsed = match path::parse_path(p) {
        Ok(parsed) => parsed,
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
    let doc = parse(doc).unwrap_or_else(|_| null());
    check_legacy_agrees(&doc, p, &parsed);
    check_path(&doc, &parsed.segments);
    check_reply_text(&doc, &parsed.segments);
}

/// What a `$` path replies (the matches as a JSON array, written straight from the encoding)
/// is what serde_json writes for them, and its measured length is exact and honours a cap.
fn check_reply_text(doc: &Doc, segments: &[path::Segment]) {
    let Ok(found) = path::try_select(doc.root(), segments) else {
        return;
    };
    let expected = rmkit_json::doc::to_vec(&found);
    let mut direct = Vec::new();
    rmkit_json::doc::write_array_json(&found, &mut direct);
    assert_eq!(direct, expected, "the direct writer vs serde_json");
    let len = expected.len();
    assert_eq!(rmkit_json::doc::array_json_len(&found, len), Some(len));
    if len > 0 {
        assert_eq!(rmkit_json::doc::array_json_len(&found, len - 1), None);
    }
}

/// The legacy spelling of a `$.`/`$[` path (the same text without `$`) parses to the same
/// segments, is marked legacy, and its first match is the `$` form's first match.
fn check_legacy_agrees(doc: &Doc, text: &[u8], parsed: &path::Path) {
    if parsed.legacy || text.len() < 2 {
        return;
    }
    let legacy = &text[1..];
    let l = path::parse_path(legacy)
        .unwrap_or_else(|e| panic!("the legacy form of an accepted path is refused: {e}"));
    assert!(l.legacy, "a path without '$' must be legacy");
    assert_eq!(l.segments, parsed.segments, "legacy and $ forms differ");
    let all = path::select(doc.root(), &parsed.segments);
    let first = path::first(doc.root(), &l.segments);
    assert_eq!(
        first.map(|n| n.offset()),
        all.first().map(|n| n.offset()),
        "legacy first match vs $ matches"
    );
}

fn null() -> Doc {
    Doc::parse(b"null").expect("null parses")
}

/// An independent, plain tree of a document (built through `Node`'s accessors), with a
/// reference implementation of the path semantics on it (every segment but filters).
#[derive(Debug, PartialEq)]
enum Tree {
    Leaf(Vec<u8>),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

/// RedisJSON's index rule: negative from the end, clamped to 0; past the end: nothing.
fn clamp(i: i64, len: usize) -> usize {
    if i >= 0 {
        (i as u64).min(len as u64) as usize
    } else {
        (len as i64 + i).max(0) as usize
    }
}

impl Tree {
    fn of(n: Node<'_>) -> Tree {
        match n.kind() {
            Kind::Array => Tree::Array(n.elements().map(Tree::of).collect()),
            Kind::Object => Tree::Object(
                n.members()
                    .map(|(k, v)| (k.to_owned(), Tree::of(v)))
                    .collect(),
            ),
            _ => Tree::Leaf(n.to_json()),
        }
    }

    fn children(&self) -> Vec<&Tree> {
        match self {
            Tree::Leaf(_) => Vec::new(),
            Tree::Array(a) => a.iter().collect(),
            Tree::Object(m) => m.iter().map(|(_, c)| c).collect(),
        }
    }

    /// Where `segs` lead: the child ordinals from the root.
    fn select(&self, segs: &[Segment], at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        let Some((seg, rest)) = segs.split_first() else {
            out.push(at.clone());
            return;
        };
        let mut go = |i: usize, child: &Tree, out: &mut Vec<Vec<usize>>| {
            at.push(i);
            child.select(rest, at, out);
            at.pop();
        };
        match (seg, self) {
            (Segment::Key(k) | Segment::Member(k), Tree::Object(m)) => {
                if let Some(i) = m.iter().position(|(name, _)| name == k) {
                    go(i, &m[i].1, out);
                }
            }
            (Segment::Members(ks), Tree::Object(m)) => {
                for k in ks {
                    if let Some(i) = m.iter().position(|(name, _)| name == k) {
                        go(i, &m[i].1, out);
                    }
                }
            }
            (Segment::Key(k), Tree::Array(a)) => {
                let canonical = k == "0" || (!k.starts_with('0') && !k.is_empty());
                if let (true, Ok(i)) = (canonical, k.parse::<usize>())
                    && i < a.len()
                    && k.bytes().all(|b| b.is_ascii_digit())
                {
                    go(i, &a[i], out);
                }
            }
            (Segment::Index(i), Tree::Array(a)) => {
                let i = clamp(*i, a.len());
                if i < a.len() {
                    go(i, &a[i], out);
                }
            }
            (Segment::Indexes(is), Tree::Array(a)) => {
                for i in is {
                    let i = clamp(*i, a.len());
                    if i < a.len() {
                        go(i, &a[i], out);
                    }
                }
            }
            (Segment::Slice { start, end, step }, Tree::Array(a)) => {
                let from = start.map_or(0, |s| clamp(s, a.len()));
                let to = end.map_or(a.len(), |e| clamp(e, a.len()));
                let mut i = from;
                while i < to {
                    go(i, &a[i], out);
                    i += step;
                }
            }
            (Segment::Wildcard, Tree::Object(_) | Tree::Array(_)) => {
                for (i, c) in self.children().into_iter().enumerate() {
                    go(i, c, out);
                }
            }
            (Segment::Descend, _) => {
                self.select(rest, at, out);
                self.descend(rest, at, out);
            }
            (Segment::Filter(_), _) => unreachable!("filters are not modelled"),
            _ => {}
        }
    }

    fn descend(&self, rest: &[Segment], at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        for (i, c) in self.children().into_iter().enumerate() {
            at.push(i);
            c.select(rest, at, out);
            c.descend(rest, at, out);
            at.pop();
        }
    }

    fn at(&self, path: &[usize]) -> &Tree {
        path.iter().fold(self, |t, &i| match t {
            Tree::Array(a) => &a[i],
            Tree::Object(m) => &m[i].1,
            Tree::Leaf(_) => panic!("a leaf has no children"),
        })
    }

    /// The tree without the values at the `doomed` child-ordinal paths.
    fn without(&self, at: &mut Vec<usize>, doomed: &BTreeSet<Vec<usize>>) -> Tree {
        let here = at.clone();
        let mut keep = |i: usize, c: &Tree| {
            at.push(i);
            let kept = (!doomed.contains(at.as_slice())).then(|| c.without(at, doomed));
            at.pop();
            kept
        };
        match self {
            Tree::Leaf(text) => Tree::Leaf(text.clone()),
            Tree::Array(a) => Tree::Array(
                a.iter()
                    .enumerate()
                    .filter_map(|(i, c)| keep(i, c))
                    .collect(),
            ),
            Tree::Object(m) => {
                // RedisJSON's removal: in ascending name order, the last member moves into
                // each gap.
                let mut order: Vec<usize> = (0..m.len()).collect();
                let mut gone: Vec<(&str, usize)> = (0..m.len())
                    .filter(|&i| {
                        let mut child = here.clone();
                        child.push(i);
                        doomed.contains(&child)
                    })
                    .map(|i| (m[i].0.as_str(), i))
                    .collect();
                gone.sort_unstable();
                for (_, i) in gone {
                    let pos = order.iter().position(|&j| j == i).expect("a member");
                    order.swap_remove(pos);
                }
                Tree::Object(
                    order
                        .into_iter()
                        .filter_map(|i| keep(i, &m[i].1).map(|c| (m[i].0.clone(), c)))
                        .collect(),
                )
            }
        }
    }
}

fn has_filter(segs: &[Segment]) -> bool {
    segs.iter().any(|s| matches!(s, Segment::Filter(_)))
}

/// Properties of one parsed path on one document:
/// - `select` never panics and ends within its step budget (or reports that it ran out, and
///   then `JSON.DEL` fails and changes nothing); every match is a value of the document;
/// - without filters, it finds the same values, in the same order, as the reference [`Tree`]
///   (document order for the plain forms, written order for unions, pre-order for `..`);
/// - `ops::del` (what `JSON.DEL` runs) changes nothing when nothing matches, deletes the key
///   when the root matches, and otherwise removes exactly the matches, counting each value once
///   and none inside another match (compared with the reference's removal).
pub fn check_path(doc: &Doc, segs: &[Segment]) {
    let tree = Tree::of(doc.root());
    let Ok(selected) = path::try_select(doc.root(), segs) else {
        // Over the step budget: every command fails the same way, nothing changes.
        assert!(ops::del(doc.root(), segs).is_err());
        return;
    };
    for n in &selected {
        assert!(!path::type_name(*n).is_empty());
        assert!(n.offset() < doc.bytes().len());
    }
    let (effect, removed) = ops::del(doc.root(), segs).expect("within the budget");
    if has_filter(segs) {
        assert_eq!(selected.is_empty(), !effect.changes() && removed == 0);
        return;
    }
    let mut expected = Vec::new();
    tree.select(segs, &mut Vec::new(), &mut expected);
    assert_eq!(
        selected.len(),
        expected.len(),
        "select vs reference for {segs:?}"
    );
    for (got, at) in selected.iter().zip(&expected) {
        assert_eq!(
            &Tree::of(*got),
            tree.at(at),
            "select vs reference at {at:?}"
        );
    }
    if expected.is_empty() {
        assert_eq!(
            effect,
            Effect::Nothing,
            "delete of {segs:?} changed something"
        );
        assert_eq!(removed, 0);
        return;
    }
    if expected.iter().any(Vec::is_empty) {
        assert_eq!(effect, Effect::DeleteKey, "delete of the root {segs:?}");
        return;
    }
    let all: BTreeSet<Vec<usize>> = expected.into_iter().collect();
    let outermost: BTreeSet<Vec<usize>> = all
        .iter()
        .filter(|p| !(1..p.len()).any(|k| all.contains(&p[..k])))
        .cloned()
        .collect();
    assert_eq!(removed, outermost.len(), "delete count for {segs:?}");
    let edited = effect.apply(doc).expect("below the root: the key stays");
    let want = tree.without(&mut Vec::new(), &outermost);
    assert_eq!(Tree::of(edited.root()), want, "delete {segs:?}");
    assert!(
        parse(&edited.to_json()).is_ok_and(|again| again == edited),
        "the edited document does not round-trip"
    );
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
    let doc = parse(doc).unwrap_or_else(|_| null());
    let doc = doc.root();

    let rendered = template::render(t, doc);
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
    match template::render(&escaped, doc) {
        Ok(out) => assert_eq!(out, t, "escaped text did not render to itself"),
        Err(e) => panic!("escaped text is an invalid template: {e}"),
    }

    if t.first() != Some(&b'{') && !t.contains(&b'}') {
        let placeholder = [&b"{"[..], t, b"}"].concat();
        let got = template::render(&placeholder, doc);
        let expected = match path::parse(t) {
            // `{}` is an error (write `{$}`), not the whole document.
            _ if t.is_empty() => None,
            Err(_) => None,
            Ok(segs) => match path::select(doc, &segs).as_slice() {
                [] => None,
                [v] => Some(
                    v.as_str()
                        .map_or_else(|| v.to_json(), |s| s.as_bytes().to_vec()),
                ),
                // In the module's float format (RedisJSON's: `1e300`; serde_json's own
                // writes `1e+300`).
                many => Some(rmkit_json::doc::to_vec(many)),
            },
        };
        match (got, expected) {
            (Ok(got), Some(expected)) => assert_eq!(got, expected, "placeholder rendering"),
            (Err(_), None) => {}
            (got, expected) => panic!("placeholder: render {got:?}, select says {expected:?}"),
        }
    }
}
