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

use crate::doc::{self, Doc, Edit, Kind, Node};
use crate::path::{self, Segment};
use rmkit::Error;
use serde_json::Number;

/// The change a command makes to the document at its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing changes: the key is not written.
    Nothing,
    /// These edits ([`Doc::edit_in_place`], or [`Doc::edit`] for a copy) give the new
    /// document. The key is written even when the list is empty (`JSON.MERGE` of `{}`).
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

    /// [`apply`](Self::apply) to the document itself ([`Doc::edit_in_place`]); `false` if
    /// the key is to be deleted (the document is then unchanged).
    pub fn apply_in_place(&self, doc: &mut Doc) -> bool {
        match self {
            Effect::Nothing => true,
            Effect::Edit(edits) => {
                doc.edit_in_place(edits);
                true
            }
            Effect::DeleteKey => false,
        }
    }

    /// Whether the key is written at all.
    pub fn changes(&self) -> bool {
        !matches!(self, Effect::Nothing)
    }
}

/// `JSON.DEL key [path]`: removes every value `path` selects (the root: the whole key); the
/// effect and how many values go. A value selected twice, or inside another selected value,
/// counts once (RedisJSON's rule: only the topmost of nested matches is deleted).
pub fn del(root: Node<'_>, path: &[Segment]) -> Result<(Effect, usize), Error> {
    let found = select(root, path)?;
    if found.iter().any(|n| n.offset() == root.offset()) {
        return Ok((Effect::DeleteKey, 1));
    }
    let edits: Vec<(usize, Edit)> = outermost(&found)
        .into_iter()
        .map(|n| (n.offset(), Edit::Remove))
        .collect();
    let n = edits.len();
    Ok((effect(edits), n))
}

/// [`path::try_select`], its failure as the command's error.
pub fn select<'a>(root: Node<'a>, path: &[Segment]) -> Result<Vec<Node<'a>>, Error> {
    path::try_select(root, path).map_err(|e| Error::new(e.to_string()))
}

/// The matches without repeats and without those inside another match, in document order.
pub fn outermost<'a>(found: &[Node<'a>]) -> Vec<Node<'a>> {
    let mut sorted: Vec<Node<'a>> = found.to_vec();
    sorted.sort_by_key(|n| n.offset());
    let mut out: Vec<Node<'a>> = Vec::with_capacity(sorted.len());
    let mut end = 0;
    for n in sorted {
        if !out.is_empty() && n.offset() < end {
            continue;
        }
        end = n.offset() + n.encoded().len();
        out.push(n);
    }
    out
}

fn effect(edits: Vec<(usize, Edit)>) -> Effect {
    if edits.is_empty() {
        Effect::Nothing
    } else {
        Effect::Edit(edits)
    }
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
    numop(root, path, by, NumOp::Incr)
}

/// What `JSON.NUMINCRBY` / `JSON.NUMMULTBY` do to each number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    /// `a + b` ([`add`]).
    Incr,
    /// `a * b` ([`mul`]).
    Mult,
}

/// [`numincrby`] for either operation.
pub fn numop(
    root: Node<'_>,
    path: &[Segment],
    by: &Number,
    op: NumOp,
) -> Result<(Effect, Vec<Option<Number>>), Error> {
    numop_on(&select(root, path)?, by, op)
}

/// [`numop`] on values already selected (the command selects once, to see whether it must
/// read `by` at all).
pub fn numop_on(
    selected: &[Node<'_>],
    by: &Number,
    op: NumOp,
) -> Result<(Effect, Vec<Option<Number>>), Error> {
    let mut edits = Vec::new();
    let mut results = Vec::with_capacity(selected.len());
    for &found in selected {
        match found.as_number() {
            Some(n) => {
                let new = match op {
                    NumOp::Incr => add(&n, by),
                    NumOp::Mult => mul(&n, by),
                }
                .ok_or_else(|| Error::raw("result is not a number"))?;
                results.push(Some(new.clone()));
                edits.push((found.offset(), Edit::Number(new)));
            }
            None => results.push(None),
        }
    }
    Ok((effect(edits), results))
}

/// `a * b` for JSON numbers, like [`add`]: exact while two integers' product fits `i64`/`u64`.
pub fn mul(a: &Number, b: &Number) -> Option<Number> {
    if let (Some(x), Some(y)) = (a.as_i128(), b.as_i128())
        && let Some(p) = x.checked_mul(y)
    {
        if let Ok(p) = i64::try_from(p) {
            return Some(p.into());
        }
        if let Ok(p) = u64::try_from(p) {
            return Some(p.into());
        }
    }
    Number::from_f64(a.as_f64()? * b.as_f64()?)
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
        Ok(_) => Err(Error::raw("bad input number")),
        Err(e) => Err(Error::new(e.to_string())),
    }
}

/// The deepest nesting a stored document may reach (what the parser accepts): edits that
/// would go deeper are refused, so every stored document reloads from its RDB text.
pub const MAX_DEPTH: usize = 127;

/// Plans the edits of each selected value of the right kind: `f` gives them (none: the value
/// stays) and the reply's datum; values of another kind reply `None`. Fails as a whole
/// (nothing changes) when `f` fails for any value or an edit would nest too deep.
///
/// A selected value inside another one that is edited keeps only the outer one's edits (the
/// reply still has a datum for each): each value's edits are planned from the document as it
/// was, so the inner ones would not compose with the outer ones.
pub fn each<'a, R>(
    root: Node<'a>,
    path: &[Segment],
    kind: impl Fn(Node<'a>) -> bool,
    mut f: impl FnMut(Node<'a>) -> Result<(Vec<(usize, Edit)>, R), Error>,
) -> Result<(Effect, Vec<Option<R>>), Error> {
    // (start, end) of each edited value, with its edits.
    type Planned = (usize, usize, Vec<(usize, Edit)>);
    let mut planned: Vec<Planned> = Vec::new();
    let mut results = Vec::new();
    for found in select(root, path)? {
        if !kind(found) {
            results.push(None);
            continue;
        }
        let (edits, r) = f(found)?;
        if !edits.is_empty() {
            let start = found.offset();
            planned.push((start, start + found.encoded().len(), edits));
        }
        results.push(Some(r));
    }
    let edits = if planned.len() == 1 {
        // The usual single match: its edits as they are.
        planned.pop().map(|p| p.2).unwrap_or_default()
    } else {
        // Stable: of a value selected twice, the first plan counts.
        planned.sort_by_key(|p| p.0);
        let mut edits = Vec::new();
        let mut end = 0;
        for (start, stop, e) in planned {
            if start < end {
                continue;
            }
            end = stop;
            edits.extend(e);
        }
        edits
    };
    check_depth(root, &edits)?;
    Ok((effect(edits), results))
}

/// The one edit of the value itself, for [`each`].
fn at(n: Node<'_>, e: Edit) -> Vec<(usize, Edit)> {
    vec![(n.offset(), e)]
}

/// Refuses edits that would make the document nest deeper than [`MAX_DEPTH`]. Only the new
/// bytes are walked (and the path from the root to where they go), never copied.
pub fn check_depth(root: Node<'_>, edits: &[(usize, Edit)]) -> Result<(), Error> {
    for (at, e) in edits {
        let (inner, below) = match e {
            Edit::Replace(bytes) => (doc::encoded_depth(bytes), 0),
            // The new children sit one level below the container.
            Edit::Insert { bytes, .. } => {
                let object = root.node_at(*at).kind() == Kind::Object;
                (doc::children_depth(bytes, object), 1)
            }
            Edit::Remove | Edit::Number(_) | Edit::AppendStr(_) => continue,
        };
        if inner == 0 {
            continue;
        }
        let outer = root.depth_of(*at).unwrap_or(0) + below;
        if outer + inner > MAX_DEPTH {
            return Err(Error::new(format!(
                "the document would nest {} levels deep, more than {MAX_DEPTH}",
                outer + inner
            )));
        }
    }
    Ok(())
}

fn is(k: Kind) -> impl Fn(Node<'_>) -> bool {
    move |n| n.kind() == k
}

/// `JSON.TOGGLE`: flips every boolean selected; the new values.
pub fn toggle(root: Node<'_>, path: &[Segment]) -> Result<(Effect, Vec<Option<bool>>), Error> {
    each(root, path, is(Kind::Bool), |n| {
        let b = !n.as_bool().unwrap_or(false);
        Ok((at(n, Edit::Replace(doc::encode_bool(b))), b))
    })
}

/// `JSON.STRAPPEND`: appends `suffix` to every string selected (in place: the string is not
/// copied); the new lengths in bytes.
pub fn strappend(
    root: Node<'_>,
    path: &[Segment],
    suffix: &str,
) -> Result<(Effect, Vec<Option<usize>>), Error> {
    each(root, path, is(Kind::String), |n| {
        let len = n.str_len().unwrap_or(0) + suffix.len();
        if u32::try_from(len).is_err() {
            return Err(Error::new("string too long"));
        }
        Ok((at(n, Edit::AppendStr(suffix.as_bytes().to_vec())), len))
    })
}

/// The encoded `items` one after the other (what [`Edit::Insert`] takes for an array).
fn concat(items: &[Doc]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(items.iter().map(|d| d.bytes().len()).sum());
    for d in items {
        bytes.extend_from_slice(d.bytes());
    }
    bytes
}

/// `JSON.ARRAPPEND`: appends the encoded `items` to every array selected; the new lengths.
pub fn arrappend(
    root: Node<'_>,
    path: &[Segment],
    items: &[Doc],
) -> Result<(Effect, Vec<Option<usize>>), Error> {
    let mut bytes = Some(concat(items));
    each(root, path, is(Kind::Array), |n| {
        let len = n.len().unwrap_or(0);
        let insert = Edit::Insert {
            index: len,
            count: items.len(),
            // The first array takes the bytes, any other a copy.
            bytes: bytes.take().unwrap_or_else(|| concat(items)),
        };
        Ok((at(n, insert), len + items.len()))
    })
}

/// `JSON.ARRINSERT`: inserts `items` before `index` (negative: from the end) in every array
/// selected; the new lengths. An index outside `0..=len` fails the whole command.
pub fn arrinsert(
    root: Node<'_>,
    path: &[Segment],
    index: i64,
    items: &[Doc],
) -> Result<(Effect, Vec<Option<usize>>), Error> {
    let bytes = concat(items);
    each(root, path, is(Kind::Array), |n| {
        let len = n.len().unwrap_or(0) as i64;
        let i = if index < 0 { len + index } else { index };
        if !(0..=len).contains(&i) {
            return Err(Error::new("index out of bounds"));
        }
        let insert = Edit::Insert {
            index: i as usize,
            count: items.len(),
            bytes: bytes.clone(),
        };
        Ok((at(n, insert), len as usize + items.len()))
    })
}

/// RedisJSON's start index: negative counts from the end (clamped to 0), past the end is the
/// last element.
pub fn start_index(start: i64, len: i64) -> i64 {
    if start < 0 {
        0.max(len + start)
    } else {
        start.min(len - 1)
    }
}

/// What `JSON.ARRPOP` removed from one array: its JSON text (`None`: the array was empty).
pub type Popped = Option<Vec<u8>>;

/// `JSON.ARRPOP`: removes element `index` (see [`start_index`]) of every array selected;
/// the removed values' JSON text (`None` for an empty array).
pub fn arrpop(
    root: Node<'_>,
    path: &[Segment],
    index: i64,
) -> Result<(Effect, Vec<Option<Popped>>), Error> {
    each(root, path, is(Kind::Array), |n| {
        let len = n.len().unwrap_or(0);
        if len == 0 {
            return Ok((Vec::new(), None));
        }
        let i = start_index(index, len as i64) as usize;
        match n.index(i) {
            Some(e) => Ok((at(e, Edit::Remove), Some(e.to_json()))),
            None => Ok((Vec::new(), None)),
        }
    })
}

fn normalize(i: i64, len: i64) -> i64 {
    if i < 0 {
        len - len.min(-i)
    } else if len > 0 {
        (len - 1).min(i)
    } else {
        0
    }
}

/// `JSON.ARRTRIM`: keeps elements `start..=stop` of every array selected (RedisJSON's index
/// rules); the new lengths. The elements that go are removed one by one when they are at
/// most as many as those that stay (a few off the ends of a long array), else the array is
/// replaced by the ones that stay (a long array cut down to a few).
pub fn arrtrim(
    root: Node<'_>,
    path: &[Segment],
    start: i64,
    stop: i64,
) -> Result<(Effect, Vec<Option<usize>>), Error> {
    each(root, path, is(Kind::Array), |n| {
        let len = n.len().unwrap_or(0) as i64;
        let stop = normalize(stop, len);
        let start = if start < 0 || start < len {
            normalize(start, len)
        } else {
            stop + 1
        };
        let (from, to) = if start > stop || len == 0 {
            (0, 0)
        } else {
            (start as usize, stop as usize + 1)
        };
        let kept = to - from;
        let edits = if kept == len as usize {
            Vec::new()
        } else if len as usize - kept <= kept {
            n.elements()
                .enumerate()
                .filter(|(i, _)| !(from..to).contains(i))
                .map(|(_, e)| (e.offset(), Edit::Remove))
                .collect()
        } else {
            let new = doc::encode_array(n.elements().skip(from).take(kept).map(|e| e.encoded()));
            at(n, Edit::Replace(new))
        };
        Ok((edits, kept))
    })
}

/// `JSON.CLEAR`: empties every non-empty array and object selected and sets every non-zero
/// number to 0; how many values changed.
pub fn clear(root: Node<'_>, path: &[Segment]) -> Result<(Effect, usize), Error> {
    let clearable = |n: Node<'_>| match n.kind() {
        Kind::Array | Kind::Object => n.len().unwrap_or(0) > 0,
        Kind::Integer | Kind::Number => n.as_number().and_then(|x| x.as_f64()) != Some(0.0),
        _ => false,
    };
    let (effect, results) = each(root, path, clearable, |n| {
        let new = match n.kind() {
            Kind::Array => doc::encode_array([]),
            Kind::Object => doc::encode_object([]),
            _ => doc::encoded_number(&0.into()),
        };
        Ok((at(n, Edit::Replace(new)), ()))
    })?;
    let n = results.iter().filter(|r| r.is_some()).count();
    Ok((effect, n))
}

/// `JSON.SET`'s condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCond {
    /// `NX`: only where nothing is yet.
    Nx,
    /// `XX`: only where something is.
    Xx,
}

/// `JSON.SET key path value` on an existing document, below the root: replaces every value the
/// path selects (unless NX) or, when it selects none (unless XX), adds the member the path's
/// last step names to the object its other steps select (an insertion at its end: the object
/// is not copied). [`Effect::Nothing`] is RedisJSON's nil reply.
pub fn set(
    root: Node<'_>,
    path: &[Segment],
    value: &Doc,
    cond: Option<SetCond>,
) -> Result<Effect, Error> {
    if cond != Some(SetCond::Nx) {
        let found = select(root, path)?;
        if !found.is_empty() {
            let edits: Vec<(usize, Edit)> = outermost(&found)
                .into_iter()
                .map(|n| (n.offset(), Edit::Replace(value.bytes().to_vec())))
                .collect();
            check_depth(root, &edits)?;
            return Ok(effect(edits));
        }
    }
    if cond == Some(SetCond::Xx) {
        return Ok(Effect::Nothing);
    }
    if !path::is_static(path) {
        return Err(Error::raw("Err wrong static path"));
    }
    let Some((last, parent)) = path.split_last() else {
        return Err(Error::raw("Err path must end with object key to set"));
    };
    match last {
        Segment::Member(k) | Segment::Key(k) => {
            let mut edits = Vec::new();
            for p in select(root, parent)? {
                if p.kind() != Kind::Object || p.get(k).is_some() {
                    continue;
                }
                let insert = Edit::Insert {
                    index: p.len().unwrap_or(0),
                    count: 1,
                    bytes: doc::encode_member(k, value.bytes()),
                };
                edits.push((p.offset(), insert));
            }
            check_depth(root, &edits)?;
            Ok(effect(edits))
        }
        _ => {
            if select(root, path)?.is_empty() {
                Err(Error::new("array index out of range"))
            } else {
                Ok(Effect::Nothing)
            }
        }
    }
}

/// RFC 7396 merge of `patch` into `target` (`None`: nothing there yet), as an encoding: a
/// non-object patch replaces; an object patch merges member by member, `null` removing.
pub fn merged(target: Option<Node<'_>>, patch: Node<'_>) -> Vec<u8> {
    if patch.kind() != Kind::Object {
        return patch.encoded().to_vec();
    }
    let mut members: Vec<(String, Vec<u8>)> = match target {
        Some(t) if t.kind() == Kind::Object => t
            .members()
            .map(|(k, v)| (k.to_owned(), v.encoded().to_vec()))
            .collect(),
        _ => Vec::new(),
    };
    for (k, p) in patch.members() {
        let at = members.iter().position(|(name, _)| name == k);
        if p.kind() == Kind::Null {
            // RedisJSON's object removes by moving the last member into the gap.
            if let Some(i) = at {
                members.swap_remove(i);
            }
            continue;
        }
        match at {
            Some(i) => {
                let current = Doc::from_encoded(std::mem::take(&mut members[i].1));
                members[i].1 = merged(Some(current.root()), p);
            }
            None => members.push((k.to_owned(), merged(None, p))),
        }
    }
    doc::encode_object(members.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

/// The edits that merge `patch` into `target` (what [`merged`] encodes, as edits): where both
/// are objects and the patch removes no member, each member the patch names is merged where
/// it is and the new ones are inserted at the end, in the patch's order, without copying the
/// object; otherwise (a removal moves members around in RedisJSON's order, a non-object
/// replaces) `target` is replaced by [`merged`].
pub fn merge_edits(target: Node<'_>, patch: Node<'_>, edits: &mut Vec<(usize, Edit)>) {
    let simple = patch.kind() == Kind::Object
        && target.kind() == Kind::Object
        && patch
            .members()
            .all(|(k, p)| p.kind() != Kind::Null || target.get(k).is_none());
    if !simple {
        edits.push((target.offset(), Edit::Replace(merged(Some(target), patch))));
        return;
    }
    let mut new = Vec::new();
    let mut count = 0;
    for (k, p) in patch.members() {
        match target.get(k) {
            Some(t) => merge_edits(t, p, edits),
            None if p.kind() == Kind::Null => {}
            None => {
                doc::put_member(&mut new, k, &merged(None, p));
                count += 1;
            }
        }
    }
    if count > 0 {
        let insert = Edit::Insert {
            index: target.len().unwrap_or(0),
            count,
            bytes: new,
        };
        edits.push((target.offset(), insert));
    }
}

/// `JSON.MERGE key path patch` on an existing document: merges into every value the path
/// selects ([`merge_edits`]), or adds the patch as a new member like [`set`] does.
/// [`Effect::Nothing`]: nil.
pub fn merge(root: Node<'_>, path: &[Segment], patch: &Doc) -> Result<Effect, Error> {
    let found = select(root, path)?;
    if found.is_empty() {
        return set(root, path, patch, None);
    }
    let mut edits = Vec::new();
    for n in outermost(&found) {
        merge_edits(n, patch.root(), &mut edits);
    }
    check_depth(root, &edits)?;
    // Written even if nothing changes (`{}` merged): RedisJSON replies OK and writes.
    Ok(Effect::Edit(edits))
}

/// RedisJSON's `JSON.ARRINDEX` equality: same type (integers and floats apart), numbers by
/// value, arrays element-wise, objects member-wise in any order.
pub fn same(a: Node<'_>, b: Node<'_>) -> bool {
    match (a.kind(), b.kind()) {
        (Kind::Array, Kind::Array) => {
            a.len() == b.len() && a.elements().zip(b.elements()).all(|(x, y)| same(x, y))
        }
        (Kind::Object, Kind::Object) => {
            a.len() == b.len()
                && a.members()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same(x, y)))
        }
        (Kind::Integer, Kind::Integer) | (Kind::Number, Kind::Number) => {
            match (a.as_number(), b.as_number()) {
                (Some(x), Some(y)) => match (x.as_i128(), y.as_i128()) {
                    (Some(x), Some(y)) => x == y,
                    _ => x.as_f64() == y.as_f64(),
                },
                _ => false,
            }
        }
        (x, y) => x == y && a.encoded() == b.encoded(),
    }
}

/// `JSON.ARRINDEX`: the first index of `value` in `arr[start..end]` (RedisJSON's index rules:
/// `end` 0 means the length), -1 if absent; `None` if `arr` is not an array.
pub fn arrindex(arr: Node<'_>, value: Node<'_>, start: i64, end: i64) -> Option<i64> {
    if arr.kind() != Kind::Array {
        return None;
    }
    let len = arr.len().unwrap_or(0) as i64;
    if len == 0 {
        return Some(-1);
    }
    let start = start_index(start, len);
    let end = match end {
        0 => len,
        e if e < 0 => 0.max(len + e),
        e => e.min(len),
    };
    if end < start {
        return Some(-1);
    }
    Some(
        arr.elements()
            .enumerate()
            .skip(start as usize)
            .take((end - start) as usize)
            .find(|(_, e)| same(*e, value))
            .map_or(-1, |(i, _)| i as i64),
    )
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
        assert_eq!(
            del(d.root(), &parse(b"$.b").unwrap()).unwrap(),
            (Effect::Nothing, 0)
        );
        assert_eq!(
            del(d.root(), &parse(b"$").unwrap()).unwrap(),
            (Effect::DeleteKey, 1)
        );
        let (effect, n) = del(d.root(), &parse(b"$.a[*]").unwrap()).unwrap();
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
            "bad input number"
        );
    }
}
