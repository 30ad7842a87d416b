//! The `json_ops` target: a stateful differential test of the json module's writes.
//!
//! The input ([`arbitrary`]) is a sequence of commands on one key. Each is applied twice:
//! - to the store, through the very functions the module's commands run
//!   ([`rmkit_json::ops`], `Doc::parse`, the data type's RDB save/load);
//! - to a reference model, a plain tree ([`M`], members in order like the store) with its own
//!   implementation of every command (written from the command reference, not from the
//!   module's code).
//!
//! After every step the key's content, the reply and whether the key was written at all must
//! agree (a command that changes nothing must not write: it would still be replicated and
//! notified). `Reload` saves the document the way RDB/AOF do and loads it back: what comes back
//! must equal what was saved, byte for byte.

use arbitrary::{Arbitrary, Unstructured};
use rmkit::datatype::DataType;
use rmkit::datatype::{RdbReader, RdbWriter};
use rmkit_json::doc::{Doc, Kind, Node};
use rmkit_json::ops::{self, Effect};
use rmkit_json::{Json, path};
use serde_json::Number;

/// The reference model of a document: a plain tree, object members in order.
#[derive(Debug, Clone, PartialEq)]
enum M {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Arr(Vec<M>),
    Obj(Vec<(String, M)>),
}

impl M {
    /// What the store holds, read through its accessors.
    fn of(n: Node<'_>) -> M {
        match n.kind() {
            Kind::Null => M::Null,
            Kind::Bool => M::Bool(n.as_bool().expect("a bool")),
            Kind::Integer | Kind::Number => M::Num(n.as_number().expect("a number")),
            Kind::String => M::Str(n.as_str().expect("a string").to_owned()),
            Kind::Array => M::Arr(n.elements().map(M::of).collect()),
            Kind::Object => M::Obj(n.members().map(|(k, v)| (k.to_owned(), M::of(v))).collect()),
        }
    }

    /// JSON text of the model (serde_json for the scalars).
    fn json(&self, out: &mut String) {
        match self {
            M::Null => out.push_str("null"),
            M::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            M::Num(n) => out.push_str(&n.to_string()),
            M::Str(s) => out.push_str(&serde_json::to_string(s).expect("a string")),
            M::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.json(out);
                }
                out.push(']');
            }
            M::Obj(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).expect("a string"));
                    out.push(':');
                    v.json(out);
                }
                out.push('}');
            }
        }
    }
}

/// At most this many commands per input (each is linear in the document).
const MAX_OPS: usize = 64;
/// Generated documents are at most this deep.
const MAX_DEPTH: usize = 4;

/// Member names the generator uses: few, so that paths hit.
const NAMES: &[&str] = &["a", "b", "c", "", "d e"];

#[derive(Debug, Arbitrary)]
enum Op {
    /// `JSON.SET key <value>` (the whole document).
    Set(Gen),
    /// `JSON.DEL key <path>`.
    Del(PathSpec),
    /// `JSON.NUMINCRBY key <path> <by>`.
    Incr(PathSpec, By),
    /// RDB save + load (also what AOF rewrite, COPY and replication round-trip through).
    Reload,
}

/// A JSON value, generated shallowly (see [`Gen::value`]).
#[derive(Debug, Arbitrary)]
struct Gen(Vec<u8>);

#[derive(Debug, Arbitrary)]
enum By {
    Int(i8),
    Big(i64),
    Float(i16),
    Huge,
}

#[derive(Debug, Arbitrary)]
struct PathSpec {
    pointer: bool,
    segments: Vec<Seg>,
}

#[derive(Debug, Arbitrary)]
enum Seg {
    Name(u8),
    Index(i8),
    All,
}

impl Gen {
    /// The JSON text to set and what it means.
    fn value(&self) -> (String, M) {
        let mut u = Unstructured::new(&self.0);
        let raw = gen_value(&mut u, 0);
        let mut text = String::new();
        raw.json(&mut text);
        (text, meaning(&raw))
    }
}

fn gen_value(u: &mut Unstructured<'_>, depth: usize) -> M {
    let pick: u8 = u.arbitrary().unwrap_or(0);
    match pick % if depth >= MAX_DEPTH { 6 } else { 8 } {
        0 => M::Null,
        1 => M::Bool(u.arbitrary().unwrap_or(false)),
        2 => M::Num(u.arbitrary::<i8>().unwrap_or(0).into()),
        3 => M::Num(u.arbitrary::<i64>().unwrap_or(0).into()),
        4 => M::Num(
            Number::from_f64(f64::from(u.arbitrary::<i16>().unwrap_or(0)) / 4.0).expect("finite"),
        ),
        5 => M::Str(NAMES[usize::from(pick / 8) % NAMES.len()].to_owned()),
        6 => {
            let n = u.int_in_range(0..=4).unwrap_or(0);
            M::Arr((0..n).map(|_| gen_value(u, depth + 1)).collect())
        }
        _ => {
            let n = u.int_in_range(0..=4).unwrap_or(0);
            let mut m: Vec<(String, M)> = Vec::new();
            for _ in 0..n {
                let k: u8 = u.arbitrary().unwrap_or(0);
                let name = NAMES[usize::from(k) % NAMES.len()];
                let v = gen_value(u, depth + 1);
                // JSON text with a repeated name means the last value at the first position:
                // that is what the generated text will say (it writes every pair).
                m.push((name.to_owned(), v));
            }
            M::Obj(m)
        }
    }
}

/// What a JSON text with these (possibly repeated) members means: each name once, at its
/// first position, with its last value (JavaScript's `JSON.parse`).
fn meaning(v: &M) -> M {
    match v {
        M::Arr(a) => M::Arr(a.iter().map(meaning).collect()),
        M::Obj(m) => {
            let mut out: Vec<(String, M)> = Vec::new();
            for (k, v) in m {
                let v = meaning(v);
                match out.iter_mut().find(|(name, _)| name == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k.clone(), v)),
                }
            }
            M::Obj(out)
        }
        other => other.clone(),
    }
}

impl By {
    fn number(&self) -> Number {
        match self {
            By::Int(i) => (*i).into(),
            By::Big(i) => (*i).into(),
            By::Float(f) => Number::from_f64(f64::from(*f) / 8.0).expect("finite"),
            By::Huge => Number::from_f64(f64::MAX).expect("finite"),
        }
    }
}

/// A path in the module's syntax, and the steps the reference follows.
enum Step {
    /// A JSONPath member name (objects only).
    Name(String),
    /// A JSON Pointer token: a member, or an index on arrays.
    Token(String),
    Index(i64),
    All,
}

impl PathSpec {
    fn render(&self) -> (Vec<u8>, Vec<Step>) {
        let segs = &self.segments[..self.segments.len().min(4)];
        let mut steps = Vec::new();
        if self.pointer && segs.iter().all(|s| !matches!(s, Seg::All)) {
            // JSON Pointer: every token is a name, or an index on arrays.
            let mut text = String::new();
            for s in segs {
                let token = match s {
                    Seg::Name(n) => NAMES[usize::from(*n) % NAMES.len()].to_owned(),
                    Seg::Index(i) => i.unsigned_abs().to_string(),
                    Seg::All => unreachable!(),
                };
                text.push('/');
                text.push_str(&token.replace('~', "~0").replace('/', "~1"));
                steps.push(Step::Token(token));
            }
            return (text.into_bytes(), steps);
        }
        let mut text = String::from("$");
        for s in segs {
            match s {
                Seg::Name(n) => {
                    let name = NAMES[usize::from(*n) % NAMES.len()];
                    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        text.push('.');
                        text.push_str(name);
                    } else {
                        text.push_str(&format!("['{name}']"));
                    }
                    steps.push(Step::Name(name.to_owned()));
                }
                Seg::Index(i) => {
                    text.push_str(&format!("[{i}]"));
                    steps.push(Step::Index(i64::from(*i)));
                }
                Seg::All => {
                    text.push_str("[*]");
                    steps.push(Step::All);
                }
            }
        }
        (text.into_bytes(), steps)
    }
}

/// The reference: where `steps` lead in `v`, as child paths (indexes into arrays, names in
/// objects), in document order.
#[derive(Debug, Clone, PartialEq)]
enum Child {
    At(usize),
    Member(String),
}

fn reference_select(v: &M, steps: &[Step], at: &mut Vec<Child>, out: &mut Vec<Vec<Child>>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(at.clone());
        return;
    };
    let mut go = |c: Child, child: &M, out: &mut Vec<Vec<Child>>| {
        at.push(c);
        reference_select(child, rest, at, out);
        at.pop();
    };
    match (step, v) {
        (Step::Name(k) | Step::Token(k), M::Obj(m)) => {
            if let Some((_, c)) = m.iter().find(|(name, _)| name == k) {
                go(Child::Member(k.clone()), c, out);
            }
        }
        (Step::Token(k), M::Arr(a)) => {
            let canonical = k == "0" || (!k.is_empty() && !k.starts_with('0'));
            if let (true, Ok(i)) = (canonical, k.parse::<usize>())
                && i < a.len()
            {
                go(Child::At(i), &a[i], out);
            }
        }
        (Step::Index(i), M::Arr(a)) => {
            // RedisJSON's rule: a negative index past the start clamps to the first element.
            let i = if *i < 0 {
                (a.len() as i64 + i).max(0)
            } else {
                *i
            };
            if (0..a.len() as i64).contains(&i) {
                go(Child::At(i as usize), &a[i as usize], out);
            }
        }
        (Step::All, M::Arr(a)) => {
            for (i, c) in a.iter().enumerate() {
                go(Child::At(i), c, out);
            }
        }
        (Step::All, M::Obj(m)) => {
            for (k, c) in m {
                go(Child::Member(k.clone()), c, out);
            }
        }
        _ => {}
    }
}

fn get_mut<'v>(v: &'v mut M, path: &[Child]) -> &'v mut M {
    path.iter().fold(v, |v, c| match (c, v) {
        (Child::At(i), M::Arr(a)) => &mut a[*i],
        (Child::Member(k), M::Obj(m)) => {
            &mut m
                .iter_mut()
                .find(|(name, _)| name == k)
                .expect("selected member")
                .1
        }
        _ => unreachable!("a selected path exists"),
    })
}

fn get<'v>(v: &'v M, path: &[Child]) -> &'v M {
    path.iter().fold(v, |v, c| match (c, v) {
        (Child::At(i), M::Arr(a)) => &a[*i],
        (Child::Member(k), M::Obj(m)) => {
            &m.iter()
                .find(|(name, _)| name == k)
                .expect("selected member")
                .1
        }
        _ => unreachable!("a selected path exists"),
    })
}

/// The reference `a + b`: integers stay integers while the sum fits i64 or u64.
fn reference_add(a: &Number, b: &Number) -> Option<Number> {
    if let (Some(x), Some(y)) = (a.as_i128(), b.as_i128())
        && let Some(s) = x.checked_add(y)
    {
        if let Ok(s) = i64::try_from(s) {
            return Some(s.into());
        }
        if let Ok(s) = u64::try_from(s) {
            return Some(s.into());
        }
    }
    Number::from_f64(a.as_f64()? + b.as_f64()?)
}

/// What the key holds in the store, as a model.
fn held(doc: &Option<Doc>) -> Option<M> {
    doc.as_ref().map(|d| M::of(d.root()))
}

/// The target function (see the module docs).
pub fn json_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(ops) = u.arbitrary_iter::<Op>() else {
        return;
    };
    let ops: Vec<Op> = ops.take(MAX_OPS).map_while(Result::ok).collect();
    run(ops);
}

/// Applies `ops` to the store and the model, checking after every step.
fn run(ops: Vec<Op>) {
    let mut store: Option<Doc> = None;
    let mut model: Option<M> = None;
    for op in ops {
        match op {
            Op::Set(g) => {
                let (text, v) = g.value();
                store = Some(rmkit_json::parse(text.as_bytes()).expect("generated JSON parses"));
                model = Some(v);
            }
            Op::Del(p) => {
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue; // JSON.DEL of a missing key replies 0 and writes nothing
                };
                let (effect, removed) =
                    ops::del(doc.root(), &segs).expect("generated paths are cheap");
                let mut found = Vec::new();
                reference_select(v, &steps, &mut Vec::new(), &mut found);
                assert_eq!(removed, found.len(), "JSON.DEL reply for {}", show(&text));
                assert_eq!(
                    effect.changes(),
                    !found.is_empty(),
                    "JSON.DEL writes iff it removes"
                );
                if found.iter().any(|f| f.is_empty()) {
                    assert_eq!(effect, Effect::DeleteKey);
                    model = None;
                } else {
                    // Remove from the deepest/last first so earlier indexes stay valid.
                    for f in found.iter().rev() {
                        let (last, parent) = f.split_last().expect("below the root");
                        match (last, get_mut(v, parent)) {
                            (Child::At(i), M::Arr(a)) => {
                                a.remove(*i);
                            }
                            (Child::Member(k), M::Obj(m)) => {
                                // RedisJSON's removal: the last member moves into the gap.
                                if let Some(i) = m.iter().position(|(name, _)| name == k) {
                                    m.swap_remove(i);
                                }
                            }
                            _ => unreachable!(),
                        }
                    }
                }
                store = effect.apply(doc);
            }
            Op::Incr(p, by) => {
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let by = by.number();
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue; // an error for a missing key: nothing written
                };
                let mut found = Vec::new();
                reference_select(v, &steps, &mut Vec::new(), &mut found);
                let expected: Option<Vec<Option<Number>>> = found
                    .iter()
                    .map(|f| match get(v, f) {
                        M::Num(n) => reference_add(n, &by).map(Some),
                        _ => Some(None),
                    })
                    .collect();
                match (ops::numincrby(doc.root(), &segs, &by), expected) {
                    (Ok((effect, results)), Some(expected)) => {
                        assert_eq!(
                            results,
                            expected,
                            "JSON.NUMINCRBY reply for {}",
                            show(&text)
                        );
                        assert_eq!(
                            effect.changes(),
                            expected.iter().any(Option::is_some),
                            "JSON.NUMINCRBY writes iff it changes a number"
                        );
                        for (f, r) in found.iter().zip(&expected) {
                            if let Some(n) = r {
                                *get_mut(v, f) = M::Num(n.clone());
                            }
                        }
                        store = effect.apply(doc);
                    }
                    // Not a finite sum: an error, and nothing changes in either.
                    (Err(_), None) => {}
                    (got, expected) => panic!(
                        "JSON.NUMINCRBY {}: store {got:?}, reference {expected:?}",
                        show(&text)
                    ),
                }
            }
            Op::Reload => {
                if let Some(doc) = &store {
                    let mut buf = Vec::new();
                    Json(doc.clone()).rdb_save(&mut RdbWriter::to_buffer(&mut buf));
                    let loaded = Json::rdb_load(&mut RdbReader::from_bytes(&buf), 0)
                        .expect("what was saved loads");
                    assert_eq!(&loaded.0, doc, "RDB round trip changed the document");
                }
            }
        }
        assert_eq!(held(&store), model, "store and reference differ");
    }
}

fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `JSON.SET key 5`: the generator's pick 2 is an i8 number, here 5.
    fn set_five() -> Op {
        Op::Set(Gen(vec![2, 5]))
    }

    fn path(segments: Vec<Seg>) -> PathSpec {
        PathSpec {
            pointer: false,
            segments,
        }
    }

    #[test]
    fn numincrby_at_the_root_is_checked_against_the_model() {
        // The bug the adversarial review found: the reply said 6, the key kept 5.
        run(vec![
            set_five(),
            Op::Incr(path(vec![]), By::Int(1)),
            Op::Reload,
            Op::Incr(path(vec![]), By::Float(4)),
        ]);
    }

    #[test]
    fn writes_that_change_nothing_are_checked_not_to_write() {
        run(vec![
            Op::Set(Gen(vec![7, 2, 0, 6])), // an object
            Op::Del(path(vec![Seg::Name(1)])),
            Op::Incr(path(vec![Seg::All]), By::Huge),
            Op::Del(path(vec![])),
            Op::Incr(path(vec![]), By::Int(1)), // no key: nothing
        ]);
    }
}
