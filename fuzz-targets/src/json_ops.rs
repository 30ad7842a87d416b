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
//! notified). Every planned effect is applied the way the module applies it, in place
//! ([`Effect::apply_in_place`]), and must give byte for byte the document the rebuild
//! ([`Effect::apply`]) gives. `Reload` saves the document the way RDB/AOF do and loads it back:
//! what comes back must equal what was saved, byte for byte.

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
    /// `JSON.SET key <path> <value> [NX|XX]`.
    SetAt(PathSpec, Gen, Cond),
    /// `JSON.ARRAPPEND key <path> <value>...` (at most 3 values).
    Append(PathSpec, Vec<Gen>),
    /// `JSON.ARRINSERT key <path> <index> <value>...` (at most 3 values).
    Insert(PathSpec, i8, Vec<Gen>),
    /// `JSON.ARRPOP key <path> <index>`.
    Pop(PathSpec, i8),
    /// `JSON.ARRTRIM key <path> <start> <stop>`.
    Trim(PathSpec, i8, i8),
    /// `JSON.MERGE key <path> <patch>`.
    Merge(PathSpec, Gen),
    /// `JSON.STRAPPEND key <path> <string>` (one of the generator's names, maybe repeated).
    StrAppend(PathSpec, u8, u8),
}

#[derive(Debug, Arbitrary)]
enum Cond {
    None,
    Nx,
    Xx,
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
                store = applied(doc, &effect);
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
                        store = applied(doc, &effect);
                    }
                    // Not a finite sum: an error, and nothing changes in either.
                    (Err(_), None) => {}
                    (got, expected) => panic!(
                        "JSON.NUMINCRBY {}: store {got:?}, reference {expected:?}",
                        show(&text)
                    ),
                }
            }
            Op::SetAt(p, g, cond) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                if steps.is_empty() {
                    // JSON.SET at the root replaces the key without planning (`Op::Set`).
                    continue;
                }
                let segs = path::parse(&text).expect("generated paths parse");
                let (json, value) = g.value();
                let stored = rmkit_json::parse(json.as_bytes()).expect("generated JSON parses");
                let cond = match cond {
                    Cond::None => None,
                    Cond::Nx => Some(ops::SetCond::Nx),
                    Cond::Xx => Some(ops::SetCond::Xx),
                };
                let expected = reference_set(v, &steps, &value, cond);
                let got = ops::set(doc.root(), &segs, &stored, cond).map(|e| {
                    let writes = e.changes();
                    (e, writes)
                });
                store = step("JSON.SET", &text, doc, v, got, expected);
            }
            // The commands need a value at least.
            Op::Append(_, gens) | Op::Insert(_, _, gens) if gens.is_empty() => {}
            Op::Append(p, gens) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let (docs, values) = items(&gens);
                let mut new = v.clone();
                let replies = each_array(&mut new, &steps, |a| {
                    a.extend(values.iter().cloned());
                    Ok(a.len())
                });
                let got = ops::arrappend(doc.root(), &segs, &docs);
                let expected = replies.map(|r| (new, r));
                store = step("JSON.ARRAPPEND", &text, doc, v, got, expected);
            }
            Op::Insert(p, index, gens) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let (docs, values) = items(&gens);
                let index = i64::from(index);
                let mut new = v.clone();
                let replies = each_array(&mut new, &steps, |a| {
                    let len = a.len() as i64;
                    let at = if index < 0 { len + index } else { index };
                    if !(0..=len).contains(&at) {
                        return Err(());
                    }
                    let at = at as usize;
                    a.splice(at..at, values.iter().cloned());
                    Ok(a.len())
                });
                let got = ops::arrinsert(doc.root(), &segs, index, &docs);
                let expected = replies.map(|r| (new, r));
                store = step("JSON.ARRINSERT", &text, doc, v, got, expected);
            }
            Op::Pop(p, index) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let index = i64::from(index);
                let mut new = v.clone();
                let replies = each_array(&mut new, &steps, |a| {
                    if a.is_empty() {
                        return Ok(None);
                    }
                    let len = a.len() as i64;
                    // RedisJSON: negative from the end (clamped to 0), past the end the last.
                    let at = if index < 0 {
                        (len + index).max(0)
                    } else {
                        index.min(len - 1)
                    };
                    Ok(Some(a.remove(at as usize)))
                });
                let got = ops::arrpop(doc.root(), &segs, index).map(|(effect, popped)| {
                    let popped: Vec<Option<Option<M>>> = popped
                        .into_iter()
                        .map(|r| {
                            r.map(|p| {
                                p.map(|text| {
                                    M::of(Doc::parse(&text).expect("popped JSON parses").root())
                                })
                            })
                        })
                        .collect();
                    (effect, popped)
                });
                let expected = replies.map(|r| (new, r));
                store = step("JSON.ARRPOP", &text, doc, v, got, expected);
            }
            Op::Trim(p, start, stop) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let (start, stop) = (i64::from(start), i64::from(stop));
                let mut new = v.clone();
                let replies = each_array(&mut new, &steps, |a| {
                    let (from, to) = reference_trim(a.len() as i64, start, stop);
                    a.truncate(to);
                    a.drain(..from);
                    Ok(a.len())
                });
                let got = ops::arrtrim(doc.root(), &segs, start, stop);
                let expected = replies.map(|r| (new, r));
                store = step("JSON.ARRTRIM", &text, doc, v, got, expected);
            }
            Op::Merge(p, g) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let (json, patch) = g.value();
                let stored = rmkit_json::parse(json.as_bytes()).expect("generated JSON parses");
                let mut found = Vec::new();
                reference_select(v, &steps, &mut Vec::new(), &mut found);
                let expected = if found.is_empty() {
                    reference_set(v, &steps, &patch, None)
                } else {
                    let mut new = v.clone();
                    for f in &found {
                        reference_merge(get_mut(&mut new, f), &patch);
                    }
                    Ok((new, true))
                };
                let got = ops::merge(doc.root(), &segs, &stored).map(|e| {
                    let writes = e.changes();
                    (e, writes)
                });
                store = step("JSON.MERGE", &text, doc, v, got, expected);
            }
            Op::StrAppend(p, name, times) => {
                let (Some(doc), Some(v)) = (&store, &mut model) else {
                    continue;
                };
                let (text, steps) = p.render();
                let segs = path::parse(&text).expect("generated paths parse");
                let suffix = NAMES[usize::from(name) % NAMES.len()].repeat(usize::from(times % 80));
                let mut found = Vec::new();
                reference_select(v, &steps, &mut Vec::new(), &mut found);
                let mut new = v.clone();
                let replies: Vec<Option<usize>> = found
                    .iter()
                    .map(|f| match get_mut(&mut new, f) {
                        M::Str(s) => {
                            s.push_str(&suffix);
                            Some(s.len())
                        }
                        _ => None,
                    })
                    .collect();
                // Writes whenever a string is selected, even for an empty suffix.
                let writes = replies.iter().any(Option::is_some);
                let got = ops::strappend(doc.root(), &segs, &suffix);
                match got {
                    Ok((effect, reply)) => {
                        assert_eq!(reply, replies, "JSON.STRAPPEND {} reply", show(&text));
                        assert_eq!(effect.changes(), writes, "JSON.STRAPPEND writes");
                        *v = new;
                        store = applied(doc, &effect);
                    }
                    Err(e) => panic!("JSON.STRAPPEND {}: {e:?}", show(&text)),
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

/// The document after `effect`, applied in place as the module does
/// ([`Effect::apply_in_place`]) and checked byte for byte against the rebuild
/// ([`Effect::apply`]).
fn applied(doc: &Doc, effect: &Effect) -> Option<Doc> {
    let rebuilt = effect.apply(doc);
    let mut in_place = doc.clone();
    let kept = effect.apply_in_place(&mut in_place);
    match rebuilt {
        Some(rebuilt) => {
            assert!(kept, "in place keeps the key the rebuild keeps");
            assert_eq!(
                in_place.bytes(),
                rebuilt.bytes(),
                "in place vs rebuild for {effect:?} on {doc:?}"
            );
            Some(in_place)
        }
        None => {
            assert!(!kept, "in place deletes the key the rebuild deletes");
            None
        }
    }
}

/// What a planned command and the reference agree on: the store's result (an effect and its
/// reply, or an error) against the reference's (the new model and its reply, or an error).
/// Applies the effect (checked by [`applied`]), updates the model, and returns the new store.
trait Reply: std::fmt::Debug {
    /// Whether the key is written.
    fn writes(&self, old: &M, new: &M) -> bool;
}

/// Replies that are a list, one entry per selected value: the key is written iff the document
/// changes (the array commands never write without a change).
impl<T: std::fmt::Debug> Reply for Vec<T> {
    fn writes(&self, old: &M, new: &M) -> bool {
        old != new
    }
}

/// `JSON.SET`/`JSON.MERGE`: whether the key is written is the reference's own answer (a SET
/// that replaces a value by an equal one still writes).
impl Reply for bool {
    fn writes(&self, _: &M, _: &M) -> bool {
        *self
    }
}

fn step<R: Reply + PartialEq, E: std::fmt::Debug, F: std::fmt::Debug>(
    cmd: &str,
    path: &[u8],
    doc: &Doc,
    model: &mut M,
    got: Result<(Effect, R), E>,
    expected: Result<(M, R), F>,
) -> Option<Doc> {
    match (got, expected) {
        (Ok((effect, reply)), Ok((new, expected))) => {
            assert_eq!(reply, expected, "{cmd} {} reply", show(path));
            assert_eq!(
                effect.changes(),
                expected.writes(model, &new),
                "{cmd} {}: writes iff it should",
                show(path)
            );
            *model = new;
            applied(doc, &effect)
        }
        (Err(_), Err(_)) => Some(doc.clone()),
        (got, expected) => panic!(
            "{cmd} {}: store {got:?}, reference {expected:?}",
            show(path)
        ),
    }
}

/// The documents and model values of `JSON.ARRAPPEND`/`ARRINSERT`'s arguments (at most 3).
fn items(gens: &[Gen]) -> (Vec<Doc>, Vec<M>) {
    gens.iter()
        .take(3)
        .map(|g| {
            let (json, value) = g.value();
            let d = rmkit_json::parse(json.as_bytes()).expect("generated JSON parses");
            (d, value)
        })
        .unzip()
}

/// Runs `f` on every array `steps` selects in `v`; one reply per selected value (`None` for a
/// value that is not an array). `Err` (the whole command fails) if `f` fails for any.
fn each_array<R>(
    v: &mut M,
    steps: &[Step],
    mut f: impl FnMut(&mut Vec<M>) -> Result<R, ()>,
) -> Result<Vec<Option<R>>, ()> {
    let mut found = Vec::new();
    reference_select(v, steps, &mut Vec::new(), &mut found);
    found
        .iter()
        .map(|p| match get_mut(v, p) {
            M::Arr(a) => f(a).map(Some),
            _ => Ok(None),
        })
        .collect()
}

/// `JSON.ARRTRIM`'s kept range `from..to` of an array of `len` (RedisJSON's index rules).
fn reference_trim(len: i64, start: i64, stop: i64) -> (usize, usize) {
    let norm = |i: i64| {
        if i < 0 {
            (len + i).max(0)
        } else if len > 0 {
            i.min(len - 1)
        } else {
            0
        }
    };
    let stop = norm(stop);
    let start = if start < len { norm(start) } else { stop + 1 };
    if start > stop || len == 0 {
        (0, 0)
    } else {
        (start as usize, stop as usize + 1)
    }
}

/// The reference `JSON.SET key path value [NX|XX]` below an existing document: the new model
/// and whether the key is written, or an error.
fn reference_set(
    v: &M,
    steps: &[Step],
    value: &M,
    cond: Option<ops::SetCond>,
) -> Result<(M, bool), &'static str> {
    let mut new = v.clone();
    let mut found = Vec::new();
    reference_select(v, steps, &mut Vec::new(), &mut found);
    // NX never looks at what the path finds: it goes on to where a member would be added.
    if !found.is_empty() && cond != Some(ops::SetCond::Nx) {
        for f in &found {
            *get_mut(&mut new, f) = value.clone();
        }
        return Ok((new, true));
    }
    if cond == Some(ops::SetCond::Xx) {
        return Ok((new, false));
    }
    if steps.iter().any(|s| matches!(s, Step::All)) {
        return Err("wrong static path");
    }
    let Some((last, parent)) = steps.split_last() else {
        return Err("path must end with object key to set");
    };
    let name = match last {
        Step::Name(k) | Step::Token(k) => k,
        _ if found.is_empty() => return Err("array index out of range"),
        _ => return Ok((new, false)),
    };
    let mut parents = Vec::new();
    reference_select(v, parent, &mut Vec::new(), &mut parents);
    let mut writes = false;
    for p in &parents {
        if let M::Obj(m) = get_mut(&mut new, p)
            && !m.iter().any(|(k, _)| k == name)
        {
            m.push((name.clone(), value.clone()));
            writes = true;
        }
    }
    Ok((new, writes))
}

/// The reference RFC 7396 merge, with RedisJSON's member order: a removed member's place goes
/// to the object's last member; a new one goes at the end.
fn reference_merge(target: &mut M, patch: &M) {
    let M::Obj(p) = patch else {
        *target = patch.clone();
        return;
    };
    let M::Obj(t) = target else {
        *target = without_nulls(patch);
        return;
    };
    for (k, v) in p {
        let at = t.iter().position(|(name, _)| name == k);
        match (at, v) {
            (Some(i), M::Null) => {
                t.swap_remove(i);
            }
            (None, M::Null) => {}
            (Some(i), v) => reference_merge(&mut t[i].1, v),
            (None, v) => t.push((k.clone(), without_nulls(v))),
        }
    }
}

/// A patch merged into nothing: its objects without their `null` members.
fn without_nulls(v: &M) -> M {
    match v {
        M::Obj(m) => M::Obj(
            m.iter()
                .filter(|(_, v)| *v != M::Null)
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
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

    /// `{"a": [1, 2], "b": {}}` as the generator spells it.
    fn set_object() -> Op {
        // pick 7 (object) of 3 members: "a" (pick 6: array of 2: 5, 7), "b" (object of 0).
        Op::Set(Gen(vec![7, 2, 0, 6, 2, 2, 5, 2, 7, 1, 7, 0]))
    }

    #[test]
    fn array_commands_and_member_writes_are_checked_in_place() {
        let a = || path(vec![Seg::Name(0)]);
        let b = || path(vec![Seg::Name(1)]);
        let value = || vec![Gen(vec![3, 0, 0, 0, 0, 0, 0, 0, 1])];
        run(vec![
            set_object(),
            Op::Append(a(), value()),
            Op::Append(path(vec![Seg::All]), value()),
            Op::Insert(a(), 0, value()),
            Op::Insert(a(), -1, value()),
            Op::Insert(a(), 100, value()), // out of range: an error, nothing changes
            Op::Pop(a(), -1),
            Op::Pop(a(), 0),
            Op::Trim(a(), 1, 2),
            Op::Trim(a(), 0, 0),
            Op::Pop(a(), 0),
            Op::Pop(a(), 0), // empty: nil, no write
            Op::SetAt(
                path(vec![Seg::Name(1), Seg::Name(2)]),
                Gen(vec![2, 9]),
                Cond::None,
            ),
            Op::SetAt(
                path(vec![Seg::Name(1), Seg::Name(2)]),
                Gen(vec![2, 9]),
                Cond::Nx,
            ),
            Op::SetAt(
                path(vec![Seg::Name(1), Seg::Name(0)]),
                Gen(vec![6, 1, 0]),
                Cond::Xx,
            ),
            Op::SetAt(b(), Gen(vec![2, 3]), Cond::Xx),
            Op::Merge(a(), Gen(vec![7, 2, 0, 0, 1, 2, 4])),
            Op::Merge(path(vec![]), Gen(vec![7, 2, 0, 0, 3, 2, 4])),
            Op::SetAt(b(), Gen(vec![5]), Cond::None),
            Op::StrAppend(b(), 1, 200), // past 255 bytes: the long string header
            Op::StrAppend(path(vec![Seg::All]), 0, 0),
            Op::Reload,
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
