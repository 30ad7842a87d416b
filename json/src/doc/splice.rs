//! In-place edits ([`Doc::edit_in_place`]): the edits are spliced into the document's own
//! buffer instead of copying it into a new one ([`Doc::edit`], the reference).
//!
//! An edit changes the bytes of one value (or inserts children into a container) and, through
//! the lengths and counts in their headers, every container around it. So the plan is:
//! 1. walk down from the root to each edit, skipping siblings by their encoded lengths (no
//!    allocation per child), and note one *splice* per change: a byte range of the old buffer
//!    and the bytes that replace it;
//! 2. on the way back up, each touched container gets a splice of its header with its new body
//!    length and count: a short header (3 bytes) when both fit a byte, else a long one (9
//!    bytes), exactly as the parser's `try_close` writes it, so the encoding stays canonical
//!    and the result is byte for byte the rebuild's. A header that changes width is one more
//!    change of length for its own parent;
//! 3. apply every splice in one pass: grow the buffer once (or shrink it once, at the end),
//!    move each run of untouched bytes straight to where it ends up (runs that move left in
//!    ascending order, runs that move right in descending order, so no run overwrites one not
//!    yet moved), then write the new bytes into the gaps.
//!
//! Each byte after the first change moves at most once, whatever the number of edits, so the
//! cost is a memmove of the bytes after the first change of length (none when no length
//! changes, as for most `NUMINCRBY`s) plus the walk to the edits.
//!
//! The buffer stays a `Box<[u8]>` of exactly the encoding (no capacity word: 16 more bytes per
//! key in the allocator's size classes). Growing it is a `realloc` that costs no copy while
//! the block's usable size (the server malloc's size class) holds the new length: rmkit's
//! allocator keeps such a block where it is, so a document grown by a few bytes per
//! `ARRAPPEND` is copied only when it crosses a size class.
//!
//! One case is left to the rebuild: an object that loses more than one member, or loses one
//! and gains some, or loses one whose last member is edited too (RedisJSON's removal order,
//! which the rebuild implements, moves the last member into each gap in turn).

use super::{Doc, Edit, Kind, LONG, Node, OBJ8, OBJ32, SHORT, put_number, put_str_header, sorted};

impl Doc {
    /// Applies `edits` like [`edit`](Self::edit) does, with the same resulting bytes, but in
    /// the document's own buffer: the cost is a move of the bytes after the first edit that
    /// changes a length, plus the walk from the root to the edits (see the module docs of
    /// `doc::splice`). The few cases that need the whole rebuild (an object losing several
    /// members at once) fall back to [`edit`](Self::edit).
    pub fn edit_in_place(&mut self, edits: &[(usize, Edit)]) {
        if !self.try_splice(edits) {
            *self = self.edit(edits);
        }
    }

    /// [`edit_in_place`](Self::edit_in_place) without the fallback: `false` (and the document
    /// unchanged) when the edits need the rebuild.
    pub(crate) fn try_splice(&mut self, edits: &[(usize, Edit)]) -> bool {
        // One edit (the usual case) needs no sorted copy of the list.
        let one;
        let many;
        let sorted: &[&(usize, Edit)] = match edits {
            [e] => {
                one = [e];
                &one
            }
            _ => {
                many = sorted(edits);
                &many
            }
        };
        let insert = match sorted.first().map(|e| (e.0, &e.1)) {
            Some((0, Edit::Number(n))) => {
                let mut out = Vec::with_capacity(9);
                put_number(&mut out, n);
                self.buf = out.into_boxed_slice();
                return true;
            }
            Some((0, Edit::Replace(bytes))) => {
                self.buf = bytes.as_slice().into();
                return true;
            }
            Some((
                0,
                Edit::Insert {
                    index,
                    count,
                    bytes,
                },
            )) => Some((*index, *count, bytes.as_slice())),
            _ => None,
        };
        let mut plan = Plan {
            splices: Vec::with_capacity(4 + 2 * sorted.len()),
            scratch: Vec::new(),
        };
        let planned = match sorted.first().map(|e| (e.0, &e.1)) {
            // A string at the root has nothing below it.
            Some((0, Edit::AppendStr(suffix))) if self.root().kind() == Kind::String => {
                Ok(plan.append(&self.buf, 0, suffix))
            }
            _ => plan.container(&self.buf, 0, insert, sorted),
        };
        let Ok(delta) = planned else {
            return false;
        };
        if !plan.splices.is_empty() {
            // Stable: of two insertions at one position, the inner container's comes first.
            plan.splices.sort_by_key(|s| (s.start, s.end));
            let len = self.buf.len();
            plan.apply(&mut self.buf, len, delta);
        }
        true
    }
}

/// Bytes `start..end` of the old buffer become `with`.
struct Splice<'e> {
    start: usize,
    end: usize,
    with: With<'e>,
}

/// What a splice writes.
enum With<'e> {
    /// An edit's bytes (nothing, for a removal).
    Edit(&'e [u8]),
    /// A range of [`Plan::scratch`].
    Scratch(usize, usize),
    /// A container header of this many bytes.
    Header([u8; LONG], usize),
}

/// The edits need the rebuild.
struct Fallback;

struct Plan<'e> {
    splices: Vec<Splice<'e>>,
    /// Bytes some splices write that no edit holds: encoded numbers, and an object's last
    /// member moved into the place of a removed one (copied before the buffer changes).
    scratch: Vec<u8>,
}

impl With<'_> {
    fn bytes<'s>(&'s self, scratch: &'s [u8]) -> &'s [u8] {
        match self {
            With::Edit(b) => b,
            With::Scratch(from, to) => &scratch[*from..*to],
            With::Header(h, len) => &h[..*len],
        }
    }
}

impl Splice<'_> {
    /// How much longer the buffer gets.
    fn delta(&self, scratch: &[u8]) -> isize {
        self.with.bytes(scratch).len() as isize - (self.end - self.start) as isize
    }
}

/// The canonical header of a container (what `try_close` writes), `None` past 4 GiB.
fn header(object: bool, body: usize, count: usize) -> Option<([u8; LONG], usize)> {
    let mut h = [0; LONG];
    if let (Ok(b), Ok(n)) = (u8::try_from(body), u8::try_from(count)) {
        h[..SHORT].copy_from_slice(&[if object { OBJ8 } else { super::ARR8 }, b, n]);
        return Some((h, SHORT));
    }
    h[0] = if object { OBJ32 } else { super::ARR32 };
    h[1..5].copy_from_slice(&u32::try_from(body).ok()?.to_le_bytes());
    h[5..9].copy_from_slice(&u32::try_from(count).ok()?.to_le_bytes());
    Some((h, LONG))
}

impl<'e> Plan<'e> {
    /// Plans the edits strictly inside the value at `at` (sorted by offset; others are
    /// skipped) and `insert` (index, count, bytes) into it; returns how much longer its
    /// encoding gets. Edits inside a scalar name no value: ignored, like the rebuild does.
    fn container(
        &mut self,
        buf: &[u8],
        at: usize,
        insert: Option<(usize, usize, &'e [u8])>,
        edits: &[&'e (usize, Edit)],
    ) -> Result<isize, Fallback> {
        let node = Node { buf, at };
        let Some((body, len, count)) = node.container() else {
            return Ok(0);
        };
        let end = body + len;
        let edits = {
            let lo = edits.partition_point(|e| e.0 <= at);
            let hi = edits.partition_point(|e| e.0 < end);
            &edits[lo..hi]
        };
        if edits.is_empty() && insert.is_none() {
            return Ok(0);
        }
        let object = matches!(node.tag(), OBJ8 | OBJ32);
        let had_insert = insert.is_some();
        // An insertion at the end (ARRAPPEND, a new member) needs no walk over the children.
        let (mut insert, at_end) = match insert {
            Some((index, n, bytes)) if index >= count => (None, Some((n, bytes))),
            other => (other, None),
        };
        let (mut body_delta, mut count_delta) = (0isize, 0isize);
        // An object's one removed member (start of its name, end of its value).
        let mut removed: Option<(usize, usize)> = None;
        // The last child seen, and whether an edit touched it.
        let (mut last, mut last_edited) = ((body, body), false);
        let (mut next, mut i, mut e) = (body, 0, 0);
        while next < end && (e < edits.len() || insert.is_some() || removed.is_some()) {
            // Children wholly before the next edit, with nothing to insert: skipped by their
            // lengths alone (reaching the end of a big array is this loop).
            if insert.is_none()
                && let Some(target) = edits.get(e).map(|x| x.0)
            {
                while next < end {
                    let value = if object {
                        Node { buf, at: next }.end()
                    } else {
                        next
                    };
                    let child_end = Node { buf, at: value }.end();
                    if child_end > target {
                        break;
                    }
                    last = (next, child_end);
                    last_edited = false;
                    next = child_end;
                    i += 1;
                }
                if next >= end {
                    break;
                }
            }
            let start = next;
            let value = if object {
                Node { buf, at: start }.end()
            } else {
                start
            };
            let child_end = Node { buf, at: value }.end();
            next = child_end;
            last = (start, child_end);
            last_edited = false;
            if let Some((index, n, bytes)) = insert
                && index == i
            {
                self.splices.push(Splice {
                    start,
                    end: start,
                    with: With::Edit(bytes),
                });
                body_delta += bytes.len() as isize;
                count_delta += n as isize;
                insert = None;
            }
            i += 1;
            // Offsets before the value (a member name) name no value.
            while e < edits.len() && edits[e].0 < value {
                e += 1;
            }
            let stop = e + edits[e..].partition_point(|x| x.0 < child_end);
            if stop == e {
                continue;
            }
            let here = &edits[e..stop];
            e = stop;
            last_edited = true;
            if here[0].0 != value {
                body_delta += self.container(buf, value, None, here)?;
                continue;
            }
            // An edit of the child itself: what is below it is replaced, removed or (for an
            // insertion) planned by the recursion.
            let old = (child_end - value) as isize;
            match &here[0].1 {
                Edit::Remove if object => {
                    if removed.replace((start, child_end)).is_some() {
                        return Err(Fallback);
                    }
                }
                Edit::Remove => {
                    self.splices.push(Splice {
                        start,
                        end: child_end,
                        with: With::Edit(&[]),
                    });
                    body_delta -= old;
                    count_delta -= 1;
                }
                Edit::Number(n) => {
                    let from = self.scratch.len();
                    put_number(&mut self.scratch, n);
                    self.splices.push(Splice {
                        start: value,
                        end: child_end,
                        with: With::Scratch(from, self.scratch.len()),
                    });
                    body_delta += (self.scratch.len() - from) as isize - old;
                }
                Edit::Replace(bytes) => {
                    self.splices.push(Splice {
                        start: value,
                        end: child_end,
                        with: With::Edit(bytes),
                    });
                    body_delta += bytes.len() as isize - old;
                }
                Edit::Insert {
                    index,
                    count,
                    bytes,
                } => {
                    body_delta +=
                        self.container(buf, value, Some((*index, *count, bytes)), here)?;
                }
                Edit::AppendStr(suffix) => body_delta += self.append(buf, value, suffix),
            }
        }
        if let Some((n, bytes)) = insert.map(|(_, n, bytes)| (n, bytes)).or(at_end) {
            self.splices.push(Splice {
                start: end,
                end,
                with: With::Edit(bytes),
            });
            body_delta += bytes.len() as isize;
            count_delta += n as isize;
        }
        if let Some((start, member_end)) = removed {
            if had_insert {
                return Err(Fallback);
            }
            if last.0 == start {
                self.splices.push(Splice {
                    start,
                    end: member_end,
                    with: With::Edit(&[]),
                });
            } else {
                // RedisJSON's removal: the last member takes the removed one's place.
                if last_edited {
                    return Err(Fallback);
                }
                let from = self.scratch.len();
                self.scratch.extend_from_slice(&buf[last.0..last.1]);
                self.splices.push(Splice {
                    start,
                    end: member_end,
                    with: With::Scratch(from, self.scratch.len()),
                });
                self.splices.push(Splice {
                    start: last.0,
                    end: last.1,
                    with: With::Edit(&[]),
                });
            }
            body_delta -= (member_end - start) as isize;
            count_delta -= 1;
        }
        if body_delta == 0 && count_delta == 0 {
            return Ok(0);
        }
        let new_len = len.checked_add_signed(body_delta).ok_or(Fallback)?;
        let new_count = count.checked_add_signed(count_delta).ok_or(Fallback)?;
        let (h, width) = header(object, new_len, new_count).ok_or(Fallback)?;
        self.splices.push(Splice {
            start: at,
            end: body,
            with: With::Header(h, width),
        });
        Ok(body_delta + width as isize - (body - at) as isize)
    }

    /// Plans appending `suffix` to the string at `at` (nothing if it is no string): the bytes
    /// go after its last one, and its header gets the new length (`STR8` -> `STR32` past 255
    /// bytes); returns how much longer its encoding gets.
    fn append(&mut self, buf: &[u8], at: usize, suffix: &'e [u8]) -> isize {
        let node = Node { buf, at };
        let Some((start, len)) = node.string() else {
            return 0;
        };
        let from = self.scratch.len();
        put_str_header(&mut self.scratch, len + suffix.len());
        let width = self.scratch.len() - from;
        self.splices.push(Splice {
            start: at,
            end: start,
            with: With::Scratch(from, self.scratch.len()),
        });
        self.splices.push(Splice {
            start: start + len,
            end: start + len,
            with: With::Edit(suffix),
        });
        (width + suffix.len()) as isize - (start - at) as isize
    }

    /// Applies the splices (sorted, disjoint) to `buf`, whose encoding (its first `old_len`
    /// bytes) gets `delta` bytes longer.
    fn apply(&self, buf: &mut Box<[u8]>, old_len: usize, delta: isize) {
        let new_len = old_len
            .checked_add_signed(delta)
            .expect("a document does not get shorter than empty");
        let mut v = std::mem::take(buf).into_vec();
        if new_len > v.len() {
            v.reserve_exact(new_len - v.len());
            v.resize(new_len, 0);
        }
        let splices = &self.splices;
        let scratch = self.scratch.as_slice();
        // The untouched bytes after splice j, up to the next one: they move by the sum of the
        // deltas of splices 0..=j.
        let run = |j: usize| {
            let next = splices.get(j + 1).map_or(old_len, |s| s.start);
            splices[j].end..next
        };
        let mut shift = 0isize;
        for (j, s) in splices.iter().enumerate() {
            shift += s.delta(scratch);
            let r = run(j);
            if shift < 0 && !r.is_empty() {
                let to = r.start.wrapping_add_signed(shift);
                v.copy_within(r, to);
            }
        }
        for j in (0..splices.len()).rev() {
            let r = run(j);
            if shift > 0 && !r.is_empty() {
                let to = r.start + shift as usize;
                v.copy_within(r, to);
            }
            shift -= splices[j].delta(scratch);
        }
        for s in splices {
            let bytes = s.with.bytes(scratch);
            let to = s.start.wrapping_add_signed(shift);
            v[to..to + bytes.len()].copy_from_slice(bytes);
            shift += s.delta(scratch);
        }
        v.truncate(new_len);
        *buf = v.into_boxed_slice();
    }
}

#[cfg(test)]
mod tests {
    use crate::doc::{Doc, Edit, Kind, Node, encode_member, encoded_number};
    use serde_json::Number;

    fn doc(text: &str) -> Doc {
        Doc::parse(text.as_bytes()).unwrap()
    }

    /// Applies `edits` in place, checks it needed no rebuild and gave the rebuild's bytes;
    /// returns the new text.
    fn spliced(d: &Doc, edits: &[(usize, Edit)]) -> String {
        let rebuilt = d.edit(edits);
        let mut d = d.clone();
        assert!(d.try_splice(edits), "fell back to the rebuild");
        assert_eq!(d.bytes(), rebuilt.bytes(), "in place vs rebuild");
        String::from_utf8(d.to_json()).unwrap()
    }

    fn at(d: &Doc, path: &str) -> Node<'static> {
        // Leaks the clone: tests only, keeps the helper signatures short.
        let d: &'static Doc = Box::leak(Box::new(d.clone()));
        let mut n = d.root();
        for step in path.split('/').filter(|s| !s.is_empty()) {
            n = match step.parse::<usize>() {
                Ok(i) if n.kind() == Kind::Array => n.index(i).unwrap(),
                _ => n.get(step).unwrap(),
            };
        }
        n
    }

    fn off(d: &Doc, path: &str) -> usize {
        at(d, path).offset()
    }

    fn items(texts: &[&str]) -> Vec<u8> {
        texts.iter().flat_map(|t| doc(t).into_bytes()).collect()
    }

    fn num(n: i64) -> Edit {
        Edit::Number(n.into())
    }

    /// Edits deep in big containers, where the walk skips the children before the edit by
    /// their lengths: every position, scalars and containers of both header widths among the
    /// skipped children, several edits at once, an object member removed far from the end.
    #[test]
    fn edits_after_many_skipped_children() {
        let element = |i: usize| match i % 5 {
            0 => format!("{i}"),
            1 => format!("\"s{i}\""),
            2 => format!("[{i},{{\"k\":{i}}}]"),
            3 => format!("\"{}\"", "x".repeat(300)),
            _ => "null".to_string(),
        };
        let n = 40;
        let array = format!("[{}]", (0..n).map(element).collect::<Vec<_>>().join(","));
        let object = format!(
            "{{{}}}",
            (0..n)
                .map(|i| format!("\"m{i}\":{}", element(i)))
                .collect::<Vec<_>>()
                .join(",")
        );
        for (text, step) in [(&array, ""), (&object, "m")] {
            let d = doc(text);
            for i in 0..n {
                let path = format!("{step}{i}");
                spliced(&d, &[(off(&d, &path), num(7))]);
                spliced(
                    &d,
                    &[(off(&d, &path), Edit::Replace(doc("[1,2]").into_bytes()))],
                );
                if step.is_empty() {
                    spliced(&d, &[(off(&d, &path), Edit::Remove)]);
                }
                if i + 5 < n {
                    let other = format!("{step}{}", i + 5);
                    spliced(&d, &[(off(&d, &path), num(-1)), (off(&d, &other), num(1))]);
                }
            }
            if !step.is_empty() {
                spliced(&d, &[(off(&d, "m37"), Edit::Remove)]);
            }
        }
    }

    #[test]
    fn each_kind_of_edit_in_arrays_and_objects() {
        let d = doc(r#"{"a":[1,2,3],"b":{"c":1,"d":"x","e":true},"f":5}"#);
        let cases: Vec<(Vec<(usize, Edit)>, &str)> = vec![
            (
                vec![(off(&d, "a/1"), Edit::Remove)],
                r#"{"a":[1,3],"b":{"c":1,"d":"x","e":true},"f":5}"#,
            ),
            // An object member: the last one moves into its place (RedisJSON's order).
            (
                vec![(off(&d, "b/c"), Edit::Remove)],
                r#"{"a":[1,2,3],"b":{"e":true,"d":"x"},"f":5}"#,
            ),
            (
                vec![(off(&d, "b/e"), Edit::Remove)],
                r#"{"a":[1,2,3],"b":{"c":1,"d":"x"},"f":5}"#,
            ),
            (
                vec![(off(&d, "f"), Edit::Remove)],
                r#"{"a":[1,2,3],"b":{"c":1,"d":"x","e":true}}"#,
            ),
            (
                vec![(off(&d, "a/0"), num(100_000))],
                r#"{"a":[100000,2,3],"b":{"c":1,"d":"x","e":true},"f":5}"#,
            ),
            (
                vec![(off(&d, "f"), Edit::Number(Number::from_f64(0.25).unwrap()))],
                r#"{"a":[1,2,3],"b":{"c":1,"d":"x","e":true},"f":0.25}"#,
            ),
            (
                vec![(
                    off(&d, "b/d"),
                    Edit::Replace(doc(r#"[null,{}]"#).into_bytes()),
                )],
                r#"{"a":[1,2,3],"b":{"c":1,"d":[null,{}],"e":true},"f":5}"#,
            ),
            (
                vec![(off(&d, "b"), Edit::Replace(doc("0").into_bytes()))],
                r#"{"a":[1,2,3],"b":0,"f":5}"#,
            ),
        ];
        for (i, (edits, expect)) in cases.iter().enumerate() {
            assert_eq!(spliced(&d, edits), *expect, "case {i}");
        }
        // Insertions before each element and at the end.
        for (index, expect) in [
            (0, r#"[7,"s",1,2,3]"#),
            (1, r#"[1,7,"s",2,3]"#),
            (2, r#"[1,2,7,"s",3]"#),
            (3, r#"[1,2,3,7,"s"]"#),
            (99, r#"[1,2,3,7,"s"]"#),
        ] {
            let insert = Edit::Insert {
                index,
                count: 2,
                bytes: items(&["7", "\"s\""]),
            };
            let text = spliced(&d, &[(off(&d, "a"), insert)]);
            let got: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(got["a"].to_string(), expect, "index {index}");
        }
        let member = Edit::Insert {
            index: 3,
            count: 1,
            bytes: encode_member("new", &doc("[1]").into_bytes()),
        };
        assert_eq!(
            spliced(&d, &[(off(&d, "b"), member)]),
            r#"{"a":[1,2,3],"b":{"c":1,"d":"x","e":true,"new":[1]},"f":5}"#
        );
    }

    #[test]
    fn edits_of_the_root() {
        let d = doc("[1,2]");
        let insert = |index| Edit::Insert {
            index,
            count: 1,
            bytes: items(&["{}"]),
        };
        assert_eq!(spliced(&d, &[(0, insert(0))]), "[{},1,2]");
        assert_eq!(spliced(&d, &[(0, insert(2))]), "[1,2,{}]");
        // An insertion into the root and an edit below it, in one call.
        let both = [(0, insert(1)), (off(&d, "1"), Edit::Remove)];
        assert_eq!(spliced(&d, &both), "[1,{}]");
        assert_eq!(spliced(&d, &[(0, num(-3))]), "-3");
        let r = Edit::Replace(doc(r#"{"x":null}"#).into_bytes());
        assert_eq!(spliced(&d, &[(0, r)]), r#"{"x":null}"#);
        // Removing the root is the caller's business; other edits still apply.
        assert_eq!(spliced(&d, &[(0, Edit::Remove)]), "[1,2]");
        assert_eq!(
            spliced(&d, &[(0, Edit::Remove), (off(&d, "0"), num(9))]),
            "[9,2]"
        );
        assert_eq!(spliced(&doc("{}"), &[(0, Edit::Remove)]), "{}");
        // An insertion into a scalar is ignored.
        assert_eq!(spliced(&doc("5"), &[(0, insert(0))]), "5");
        let member = Edit::Insert {
            index: 0,
            count: 1,
            bytes: encode_member("k", &encoded_number(&1.into())),
        };
        assert_eq!(spliced(&doc("{}"), &[(0, member)]), r#"{"k":1}"#);
    }

    #[test]
    fn offsets_that_name_no_value_change_nothing() {
        let d = doc(r#"{"abc":[1,"xyz"],"d":2}"#);
        let s = off(&d, "abc/1");
        let arr = off(&d, "abc");
        for at in [1, 2, arr - 3, arr + 1, s + 2, d.bytes().len() + 5] {
            assert_eq!(
                spliced(&d, &[(at, Edit::Remove)]),
                String::from_utf8(d.to_json()).unwrap()
            );
        }
        // Edits inside a removed or replaced value are ignored; the first edit of an offset
        // counts.
        let edits = [
            (arr, Edit::Replace(doc("7").into_bytes())),
            (off(&d, "abc/0"), num(5)),
            (off(&d, "d"), num(3)),
            (off(&d, "d"), Edit::Remove),
        ];
        assert_eq!(spliced(&d, &edits), r#"{"abc":7,"d":3}"#);
    }

    /// A short header holds a body of up to 255 bytes and up to 255 children; one byte more
    /// needs the long header, one byte less the short one again.
    #[test]
    fn headers_change_width_at_the_byte_boundaries_both_ways() {
        // Body length: two strings whose body is 253 bytes (`STR8 len bytes` each).
        let s1 = "x".repeat(125);
        let s2 = "y".repeat(124);
        let d = doc(&format!(r#"["{s1}","{s2}"]"#));
        assert_eq!(d.bytes()[2], 2);
        assert_eq!(d.bytes()[1], 253);
        let grow =
            |n: usize| Edit::Replace(doc(&format!("\"{}\"", "z".repeat(124 + n))).into_bytes());
        let second = off(&d, "1");
        for (n, long) in [(1, false), (2, false), (3, true), (100, true)] {
            let text = spliced(&d, &[(second, grow(n))]);
            let after = doc(&text);
            assert_eq!(
                after.bytes().len(),
                253 + n + if long { 9 } else { 3 },
                "+{n}"
            );
            // ... and back.
            let back = Edit::Replace(doc(&format!("\"{s2}\"")).into_bytes());
            let second = off(&after, "1");
            let mut b = after.clone();
            b.edit_in_place(&[(second, back)]);
            assert_eq!(b, d, "+{n} and back");
        }
        // Count: 254 one-byte elements; appending one stays short (255, 255), two go long.
        let nulls = format!("[{}]", vec!["null"; 254].join(","));
        let d = doc(&nulls);
        let append = |n: usize| Edit::Insert {
            index: usize::MAX,
            count: n,
            bytes: vec![0; n],
        };
        let one = spliced(&d, &[(0, append(1))]);
        assert_eq!(doc(&one).bytes().len(), 3 + 255);
        let two = spliced(&d, &[(0, append(2))]);
        let two = doc(&two);
        assert_eq!(two.bytes().len(), 9 + 256);
        assert_eq!(two.root().len(), Some(256));
        // Removing one of 256 goes short again.
        let last = off(&two, "255");
        assert_eq!(spliced(&two, &[(last, Edit::Remove)]), one);
        // A long array loses its last two: short again.
        let edits = [(off(&two, "0"), Edit::Remove), (last, Edit::Remove)];
        assert_eq!(spliced(&two, &edits), nulls);
    }

    #[test]
    fn nested_headers_all_change_width_together() {
        // {"a":{"b":[...]}} with every level just under 256 bytes of body.
        let inner: Vec<String> = (0..4)
            .map(|i| format!("\"{}\"", "s".repeat(54 + i)))
            .collect();
        let text = format!(r#"{{"a":{{"b":[{}]}},"z":1}}"#, inner.join(","));
        let d = doc(&text);
        let tags = at(&d, "a/b");
        assert!(d.bytes().len() < 256 + 3, "all three short");
        assert_eq!(tags.encoded().len(), 3 + 230);
        let long = Edit::Insert {
            index: 4,
            count: 1,
            bytes: items(&[&format!("\"{}\"", "t".repeat(30))]),
        };
        let grown = spliced(&d, &[(off(&d, "a/b"), long)]);
        let g = doc(&grown);
        // Root, "a" and "b" all have long headers now: 3 x 6 more bytes.
        assert_eq!(g.bytes().len(), d.bytes().len() + 32 + 18);
        // Removing the new element makes all three short again, in one edit.
        let back = spliced(&g, &[(off(&g, "a/b/4"), Edit::Remove)]);
        assert_eq!(back, text);
        // Several levels edited at once, the widths going both ways.
        let edits = [
            (off(&g, "a/b/4"), Edit::Remove),
            (
                off(&g, "z"),
                Edit::Replace(items(&[&format!("\"{}\"", "q".repeat(300))])),
            ),
        ];
        spliced(&g, &edits);
    }

    #[test]
    fn several_edits_in_one_call() {
        let d = doc(r#"{"a":[1,[2,3],{"k":1,"l":2,"m":3}],"b":{"x":1,"y":2},"c":"s"}"#);
        let edits = vec![
            (off(&d, "a/0"), num(1 << 40)),
            (off(&d, "a/1/0"), Edit::Remove),
            (
                off(&d, "a/1"),
                Edit::Insert {
                    index: 2,
                    count: 1,
                    bytes: items(&["4"]),
                },
            ),
            (off(&d, "a/2/k"), Edit::Remove),
            (off(&d, "b/y"), Edit::Remove),
            (
                off(&d, "b"),
                Edit::Insert {
                    index: 2,
                    count: 1,
                    bytes: encode_member("z", &items(&["null"])),
                },
            ),
            (off(&d, "c"), Edit::Replace(items(&["false"]))),
        ];
        // "b" loses a member and gains one: the rebuild's business.
        let rebuilt = d.edit(&edits);
        let mut inplace = d.clone();
        assert!(!inplace.clone().try_splice(&edits));
        inplace.edit_in_place(&edits);
        assert_eq!(inplace, rebuilt);
        let without_b_insert: Vec<(usize, Edit)> = edits
            .iter()
            .filter(|(at, _)| *at != off(&d, "b"))
            .cloned()
            .collect();
        assert_eq!(
            spliced(&d, &without_b_insert),
            r#"{"a":[1099511627776,[3,4],{"m":3,"l":2}],"b":{"x":1},"c":false}"#
        );
    }

    #[test]
    fn several_removals_in_one_object_fall_back_to_the_rebuild() {
        let d = doc(r#"{"a":1,"b":2,"c":3,"d":4}"#);
        let edits = [(off(&d, "a"), Edit::Remove), (off(&d, "c"), Edit::Remove)];
        assert!(!d.clone().try_splice(&edits));
        let mut e = d.clone();
        e.edit_in_place(&edits);
        assert_eq!(e.to_json(), br#"{"d":4,"b":2}"#);
        assert_eq!(e, d.edit(&edits));
        // A removal whose last member is edited too.
        let edits = [(off(&d, "a"), Edit::Remove), (off(&d, "d"), num(7))];
        assert!(!d.clone().try_splice(&edits));
        let mut e = d.clone();
        e.edit_in_place(&edits);
        assert_eq!(e.to_json(), br#"{"d":7,"b":2,"c":3}"#);
    }

    #[test]
    fn strings_grow_in_place_and_change_header_at_256_bytes() {
        let d = doc(&format!(r#"{{"s":"{}","t":[1]}}"#, "a".repeat(250)));
        let s = off(&d, "s");
        let append = |n: usize| [(s, Edit::AppendStr("b".repeat(n).into_bytes()))];
        for n in [0, 1, 5, 6, 300] {
            let text = spliced(&d, &append(n));
            let got: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(got["s"].as_str().unwrap().len(), 250 + n);
            // `STR8 len` up to 255 bytes, `STR32 len` past: 3 more header bytes.
            let header = if 250 + n > 255 { 5 } else { 2 };
            assert_eq!(at(&doc(&text), "s").encoded().len(), header + 250 + n);
        }
        // At the root; at a value that is not a string, ignored.
        assert_eq!(
            spliced(&doc("\"x\""), &[(0, Edit::AppendStr(b"yz".to_vec()))]),
            "\"xyz\""
        );
        assert_eq!(
            spliced(&d, &[(off(&d, "t"), Edit::AppendStr(b"z".to_vec()))]),
            String::from_utf8(d.to_json()).unwrap()
        );
        let edits = [
            (0, Edit::AppendStr(b"z".to_vec())),
            (off(&d, "t/0"), num(2)),
        ];
        assert!(spliced(&d, &edits).ends_with(r#""t":[2]}"#));
    }

    /// Every value's offset, with whether it is an array / object.
    fn offsets(n: Node<'_>, out: &mut Vec<(usize, Kind, usize)>) {
        out.push((n.offset(), n.kind(), n.len().unwrap_or(0)));
        for (_, c) in n.children() {
            offsets(c, out);
        }
    }

    /// Random documents and random edit lists: in place equals the rebuild, byte for byte.
    #[test]
    fn random_edits_match_the_rebuild() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        fn gen_text(rnd: &mut dyn FnMut(usize) -> usize, depth: usize, out: &mut String) {
            match rnd(if depth > 3 { 5 } else { 7 }) {
                0 => out.push_str("null"),
                1 => out.push_str(&format!("{}", rnd(100_000) as i64 - 50_000)),
                2 => out.push_str(&format!("{}.5", rnd(1000))),
                3 => out.push_str(&format!("\"{}\"", "w".repeat(rnd(300)))),
                4 => out.push_str("true"),
                5 => {
                    let big = rnd(4) == 0;
                    let n = rnd(if big { 300 } else { 6 });
                    out.push('[');
                    for i in 0..n {
                        if i > 0 {
                            out.push(',');
                        }
                        gen_text(rnd, depth + 1, out);
                    }
                    out.push(']');
                }
                _ => {
                    let n = rnd(6);
                    out.push('{');
                    for i in 0..n {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(&format!("\"m{i}\":"));
                        gen_text(rnd, depth + 1, out);
                    }
                    out.push('}');
                }
            }
        }
        let mut in_place = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            gen_text(&mut rnd, 0, &mut text);
            let d = doc(&text);
            let mut all = Vec::new();
            offsets(d.root(), &mut all);
            let mut edits = Vec::new();
            for _ in 0..1 + rnd(4) {
                let (at, kind, len) = all[rnd(all.len())];
                let mut value = String::new();
                gen_text(&mut rnd, 2, &mut value);
                let edit = match (rnd(5), kind) {
                    (0, _) => Edit::Remove,
                    (1, _) => {
                        let scale = if rnd(2) == 0 { 1 } else { 1 << 30 };
                        num(rnd(1 << 20) as i64 * scale)
                    }
                    (2, _) => Edit::Replace(doc(&value).into_bytes()),
                    (_, Kind::Array) => Edit::Insert {
                        index: rnd(len + 2),
                        count: 1,
                        bytes: doc(&value).into_bytes(),
                    },
                    (_, Kind::String) => Edit::AppendStr("é".repeat(rnd(150)).into_bytes()),
                    (_, Kind::Object) => Edit::Insert {
                        index: rnd(len + 2),
                        count: 1,
                        bytes: encode_member(
                            &format!("new{}", edits.len()),
                            &doc(&value).into_bytes(),
                        ),
                    },
                    _ => Edit::Remove,
                };
                let skew = usize::from(rnd(20) == 0);
                edits.push((at + skew, edit));
            }
            let rebuilt = d.edit(&edits);
            let mut e = d.clone();
            if e.try_splice(&edits) {
                in_place += 1;
            } else {
                e.edit_in_place(&edits);
            }
            assert_eq!(e.bytes(), rebuilt.bytes(), "{text} {edits:?}");
        }
        assert!(in_place > 2500, "{in_place} of 3000 in place");
    }
}
