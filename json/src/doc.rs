//! The stored form of a document: one compact byte buffer per key.
//!
//! A parsed document is not a tree of heap nodes (a `serde_json::Value` takes ~18 bytes of
//! server memory per byte of JSON text, RedisJSON's interned values ~3.3) but one allocation
//! holding a tagged, length-prefixed encoding that is usually smaller than the JSON text itself.
//! Reading walks it in place ([`Node`]); writing splices each change into the buffer
//! ([`Doc::edit_in_place`]: a move of the bytes after the change plus the headers of the
//! containers around it), with a rebuild in one pass ([`Doc::edit`], copying untouched subtrees
//! as whole byte ranges) as the reference and the fallback.
//!
//! ```text
//! value   = NULL | FALSE | TRUE
//!         | I8 i8 | I16 i16 | I32 i32 | I64 i64 | U64 u64 | F64 f64     (little endian)
//!         | DEC8 i8 e | DEC16 i16 e | DEC32 i32 e | NEGZERO            (a float: mantissa x 10^e)
//!         | STR8 u8-len bytes | STR32 u32-len bytes                      (UTF-8)
//!         | ARR8 u8-body-len u8-count value*  | ARR32 u32-body-len u32-count value*
//!         | OBJ8 u8-body-len u8-count (string value)* | OBJ32 u32-body-len u32-count (string value)*
//! ```
//! A float is stored as the shortest decimal that reads back as it (`0.5` is `5e-1`: 3 bytes,
//! not 9) when the mantissa fits 32 bits and `|e| <= 22` — then one IEEE multiplication or
//! division rebuilds it exactly — and as its 8 bytes otherwise; `-0.0` has a tag of its own.
//! Object members keep the order of the JSON text; a repeated member name keeps its first
//! position and its last value (what JavaScript's `JSON.parse` does). Removing a member moves
//! the object's last member into its place, as RedisJSON does (so `JSON.GET` after `JSON.DEL`
//! reads the same there and here).
//!
//! ```
//! use rmkit_json::doc::{Doc, Kind};
//!
//! let doc = Doc::parse(br#"{"name": "Ada", "langs": ["en", "fr"], "age": 36}"#).unwrap();
//! assert_eq!(doc.to_json(), br#"{"name":"Ada","langs":["en","fr"],"age":36}"#);
//! let langs = doc.root().get("langs").unwrap();
//! assert_eq!(langs.kind(), Kind::Array);
//! assert_eq!(langs.len(), Some(2));
//! assert_eq!(langs.index(1).unwrap().as_str(), Some("fr"));
//! assert!(doc.bytes().len() < 45); // smaller than the text
//! ```

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::Formatter;
use std::fmt;

mod splice;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const I8: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const U64: u8 = 7;
const F64: u8 = 8;
const STR8: u8 = 9;
const STR32: u8 = 10;
const ARR8: u8 = 11;
const ARR32: u8 = 12;
const OBJ8: u8 = 13;
const OBJ32: u8 = 14;
const DEC8: u8 = 15;
const DEC16: u8 = 16;
const DEC32: u8 = 17;
const NEGZERO: u8 = 18;

#[cold]
#[inline(never)]
fn unknown_tag(tag: u8) -> ! {
    unreachable!("unknown tag {tag}")
}

/// The encoded size of each scalar tag (tag byte included); 0 for strings, containers and
/// unknown tags, whose size is in their header.
static FIXED_SIZE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[NULL as usize] = 1;
    t[FALSE as usize] = 1;
    t[TRUE as usize] = 1;
    t[I8 as usize] = 2;
    t[I16 as usize] = 3;
    t[I32 as usize] = 5;
    t[I64 as usize] = 9;
    t[U64 as usize] = 9;
    t[F64 as usize] = 9;
    t[NEGZERO as usize] = 1;
    t[DEC8 as usize] = 3;
    t[DEC16 as usize] = 4;
    t[DEC32 as usize] = 6;
    t
};

/// Bytes of a long container header: tag, u32 body length, u32 count.
const LONG: usize = 9;
/// Bytes of a short container header: tag, u8 body length, u8 count.
const SHORT: usize = 3;

/// A JSON document in its compact encoding (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct Doc {
    buf: Box<[u8]>,
}

/// The JSON type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool,
    /// A number without fraction or exponent that fits i64 or u64.
    Integer,
    /// Any other number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    /// The type name as RedisJSON's `JSON.TYPE` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// One change for [`Doc::edit`], at the offset of a value ([`Node::offset`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Remove the value (with its member name, in an object).
    Remove,
    /// Replace the value by a number.
    Number(serde_json::Number),
    /// Replace the value by this encoded value (from [`Node::encoded`], [`Doc::into_bytes`]
    /// or the `encode_*` functions).
    Replace(Vec<u8>),
    /// Insert `count` encoded children into the array or object at this offset, before its
    /// child `index` (at the end when `index` is its length or more): `bytes` holds elements
    /// ([`Node::encoded`]) for an array, name and value pairs ([`encode_member`]) for an object,
    /// whose names must be new to it. In an object that also loses members, the new ones go
    /// before member `index` where the removals leave it, or at the end if it is removed.
    /// Unlike the other edits, an insertion does not hide the edits below its container: they
    /// apply too. Ignored at a value that is not an array or object.
    Insert {
        /// The child the new ones go before (its index before any edit).
        index: usize,
        /// How many children `bytes` holds.
        count: usize,
        /// The encoded children.
        bytes: Vec<u8>,
    },
    /// Append these UTF-8 bytes to the string (its length must stay under 4 GiB: the caller's
    /// check). Ignored at a value that is not a string.
    AppendStr(Vec<u8>),
}

impl Doc {
    /// Parses JSON text. Errors are serde_json's (reason, line and column); nesting deeper than
    /// 127 levels is refused (`recursion limit exceeded`), so no input can overflow the stack.
    ///
    /// Most documents are read by a direct parser ([`parse_fast`](Self::parse_fast)); whatever
    /// it is not sure of goes to serde_json ([`parse_serde`](Self::parse_serde)), which decides
    /// what is accepted and words every error. Both build the same bytes.
    pub fn parse(text: &[u8]) -> Result<Doc, serde_json::Error> {
        match Doc::parse_fast(text) {
            Some(doc) => Ok(doc),
            None => Doc::parse_serde(text),
        }
    }

    /// [`parse`](Self::parse) by serde_json alone, through a visitor that writes the encoding
    /// (the reference for [`parse_fast`](Self::parse_fast)).
    pub fn parse_serde(text: &[u8]) -> Result<Doc, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let mut out = Vec::with_capacity(text.len() + 16);
        Build { out: &mut out }.deserialize(&mut de)?;
        de.end()?;
        Ok(Doc {
            buf: out.into_boxed_slice(),
        })
    }

    /// The root value.
    pub fn root(&self) -> Node<'_> {
        Node {
            buf: &self.buf,
            at: 0,
        }
    }

    /// The encoding (what the key holds besides the toolkit's box).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> Vec<u8> {
        self.root().to_json()
    }

    /// A new document with `edits` applied: the reference implementation of
    /// [`edit_in_place`](Self::edit_in_place), which gives the same bytes. Each edit names the
    /// [`offset`](Node::offset) of a value (offsets that name no value are ignored; of several
    /// edits at one offset the first counts; an edit inside a value that is removed or replaced
    /// is ignored). Untouched subtrees are copied as byte ranges, so the cost is one pass over
    /// the bytes plus the work along the edited paths.
    ///
    /// An edit at offset 0 (the root itself) replaces the whole document by its number
    /// ([`Edit::Number`]) or encoding ([`Edit::Replace`]), or inserts into it
    /// ([`Edit::Insert`]); removing the root is the caller's business (delete the key), so
    /// [`Edit::Remove`] at offset 0 is ignored.
    pub fn edit(&self, edits: &[(usize, Edit)]) -> Doc {
        let sorted = sorted(edits);
        let insert = match sorted.first().map(|e| (e.0, &e.1)) {
            Some((0, Edit::Number(n))) => {
                let mut out = Vec::with_capacity(9);
                put_number(&mut out, n);
                return Doc {
                    buf: out.into_boxed_slice(),
                };
            }
            Some((0, Edit::Replace(bytes))) => {
                return Doc {
                    buf: bytes.clone().into_boxed_slice(),
                };
            }
            Some((0, e @ Edit::Insert { .. })) => Some(e),
            Some((0, Edit::AppendStr(suffix))) if self.root().kind() == Kind::String => {
                let mut out = Vec::with_capacity(self.buf.len() + suffix.len() + 3);
                put_appended(&mut out, self.root(), suffix);
                return Doc {
                    buf: out.into_boxed_slice(),
                };
            }
            _ => None,
        };
        let mut out = Vec::with_capacity(self.buf.len());
        copy_edited(self.root(), insert, &sorted, &mut out);
        Doc {
            buf: out.into_boxed_slice(),
        }
    }
}

/// The edits by offset, the first of each offset only (the rules of [`Doc::edit`]).
fn sorted(edits: &[(usize, Edit)]) -> Vec<&(usize, Edit)> {
    let mut sorted: Vec<&(usize, Edit)> = edits.iter().collect();
    sorted.sort_by_key(|e| e.0);
    sorted.dedup_by_key(|e| e.0);
    sorted
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_json()))
    }
}

/// Writes `node` with the edits below it applied, and `insert` ([`Edit::Insert`]) into it.
fn copy_edited(node: Node<'_>, insert: Option<&Edit>, edits: &[&(usize, Edit)], out: &mut Vec<u8>) {
    let (start, end) = (node.at, node.end());
    let lo = edits.partition_point(|e| e.0 <= start);
    let hi = edits.partition_point(|e| e.0 < end);
    let inside = &edits[lo..hi];
    let mut insert = match insert {
        Some(Edit::Insert {
            index,
            count,
            bytes,
        }) => Some((*index, *count, bytes.as_slice())),
        _ => None,
    };
    let changed = !inside.is_empty() || insert.is_some();
    let object = match node.kind() {
        Kind::Array if changed => false,
        Kind::Object if changed => true,
        // Nothing to change below (an offset inside a scalar names no value: ignored).
        _ => {
            out.extend_from_slice(&node.buf[start..end]);
            return;
        }
    };
    let header = open(out);
    let mut count = 0;
    let edit_at = |at: usize| {
        inside
            .binary_search_by_key(&at, |e| e.0)
            .ok()
            .map(|i| &inside[i].1)
    };
    let children: Vec<(Option<Name<'_>>, Node<'_>)> = node.children().collect();
    let mut order: Vec<usize> = (0..children.len()).collect();
    if object {
        // RedisJSON removes members one by one, in ascending name order, each time moving the
        // last member into the gap (its object is a hash table with swap-remove): the same
        // document text after JSON.DEL as there.
        let mut removed: Vec<(&[u8], usize)> = children
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| matches!(edit_at(c.at), Some(Edit::Remove)))
            .filter_map(|(i, (n, _))| n.map(|n| (n.as_bytes(), i)))
            .collect();
        removed.sort_unstable();
        for (_, i) in removed {
            if let Some(pos) = order.iter().position(|&j| j == i) {
                order.swap_remove(pos);
            }
        }
    }
    for &i in &order {
        if let Some((index, n, bytes)) = insert
            && index == i
        {
            out.extend_from_slice(bytes);
            count += n;
            insert = None;
        }
        let (name, child) = children[i];
        match edit_at(child.at) {
            Some(Edit::Remove) => continue,
            Some(Edit::Number(n)) => {
                if let Some(name) = name {
                    put_str(out, name.as_bytes());
                }
                put_number(out, n);
            }
            Some(Edit::Replace(bytes)) => {
                if let Some(name) = name {
                    put_str(out, name.as_bytes());
                }
                out.extend_from_slice(bytes);
            }
            Some(Edit::AppendStr(suffix)) => {
                if let Some(name) = name {
                    put_str(out, name.as_bytes());
                }
                put_appended(out, child, suffix);
            }
            e @ (None | Some(Edit::Insert { .. })) => {
                if let Some(name) = name {
                    out.extend_from_slice(&node.buf[name.at..child.at]);
                }
                copy_edited(child, e, inside, out);
            }
        }
        count += 1;
    }
    if let Some((_, n, bytes)) = insert {
        out.extend_from_slice(bytes);
        count += n;
    }
    close(out, header, count, object);
}

/// A value inside a [`Doc`]: a position in its buffer. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    buf: &'a [u8],
    at: usize,
}

/// Where a member name sits in the buffer (for copying it) and its bytes.
#[derive(Clone, Copy)]
struct Name<'a> {
    at: usize,
    bytes: &'a [u8],
}

impl<'a> Name<'a> {
    fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn text(&self) -> &'a str {
        std::str::from_utf8(self.bytes).expect("the parser stores only UTF-8 strings")
    }
}

impl<'a> Node<'a> {
    fn tag(&self) -> u8 {
        self.buf[self.at]
    }

    fn bytes_at<const N: usize>(&self, at: usize) -> [u8; N] {
        fixed(self.buf, at)
    }

    fn u32_at(&self, at: usize) -> usize {
        u32::from_le_bytes(self.bytes_at(at)) as usize
    }

    /// The value's offset in the document's buffer (what [`Doc::edit`] takes).
    pub fn offset(&self) -> usize {
        self.at
    }

    /// The value at `offset` of the same document: an offset that an earlier
    /// [`offset`](Self::offset) of one of its values returned.
    pub(crate) fn node_at(&self, offset: usize) -> Node<'a> {
        Node {
            buf: self.buf,
            at: offset,
        }
    }

    /// The JSON type.
    pub fn kind(&self) -> Kind {
        match self.tag() {
            NULL => Kind::Null,
            FALSE | TRUE => Kind::Bool,
            I8 | I16 | I32 | I64 | U64 => Kind::Integer,
            F64 | DEC8 | DEC16 | DEC32 | NEGZERO => Kind::Number,
            STR8 | STR32 => Kind::String,
            ARR8 | ARR32 => Kind::Array,
            _ => Kind::Object,
        }
    }

    /// (first body byte, body length, count) of a container.
    #[inline(always)]
    fn container(&self) -> Option<(usize, usize, usize)> {
        match self.tag() {
            ARR8 | OBJ8 => Some((
                self.at + SHORT,
                self.buf[self.at + 1] as usize,
                self.buf[self.at + 2] as usize,
            )),
            ARR32 | OBJ32 => Some((
                self.at + LONG,
                self.u32_at(self.at + 1),
                self.u32_at(self.at + 5),
            )),
            _ => None,
        }
    }

    /// The string's bytes: (first byte, length).
    fn string(&self) -> Option<(usize, usize)> {
        match self.tag() {
            STR8 => Some((self.at + 2, self.buf[self.at + 1] as usize)),
            STR32 => Some((self.at + 5, self.u32_at(self.at + 1))),
            _ => None,
        }
    }

    /// The offset just past the value: one table lookup for a scalar, the header's length for
    /// a string or container (skipping siblings is most of what reaching a child costs).
    #[inline(always)]
    fn end(&self) -> usize {
        let tag = self.tag();
        match FIXED_SIZE[usize::from(tag)] {
            0 => match tag {
                STR8 => self.at + 2 + usize::from(self.buf[self.at + 1]),
                ARR8 | OBJ8 => self.at + SHORT + usize::from(self.buf[self.at + 1]),
                STR32 => self.at + 5 + self.u32_at(self.at + 1),
                ARR32 | OBJ32 => self.at + LONG + self.u32_at(self.at + 1),
                _ => unknown_tag(tag),
            },
            size => self.at + usize::from(size),
        }
    }

    /// The value's encoding.
    pub fn encoded(&self) -> &'a [u8] {
        &self.buf[self.at..self.end()]
    }

    /// The length of a string in bytes (without reading it).
    pub fn str_len(&self) -> Option<usize> {
        self.string().map(|(_, len)| len)
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&'a str> {
        self.string().map(|(start, len)| {
            std::str::from_utf8(&self.buf[start..start + len])
                .expect("the parser stores only UTF-8 strings")
        })
    }

    /// The value of `true`/`false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.tag() {
            FALSE => Some(false),
            TRUE => Some(true),
            _ => None,
        }
    }

    /// The value of a number.
    pub fn as_number(&self) -> Option<serde_json::Number> {
        let at = self.at + 1;
        Some(match self.tag() {
            I8 => (self.buf[at] as i8).into(),
            I16 => i16::from_le_bytes(self.bytes_at(at)).into(),
            I32 => i32::from_le_bytes(self.bytes_at(at)).into(),
            I64 => i64::from_le_bytes(self.bytes_at(at)).into(),
            U64 => u64::from_le_bytes(self.bytes_at(at)).into(),
            F64 | DEC8 | DEC16 | DEC32 | NEGZERO => {
                serde_json::Number::from_f64(float_at(self.buf, self.at))
                    .expect("the parser stores only finite numbers")
            }
            _ => return None,
        })
    }

    /// How many elements (array) or members (object); `None` for other values.
    pub fn len(&self) -> Option<usize> {
        self.container().map(|(_, _, n)| n)
    }

    /// Whether this is an empty array or object (`None` for other values).
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }

    /// The children of an array or object (with member names); nothing for other values.
    fn children(&self) -> Children<'a> {
        let (next, len, _) = self.container().unwrap_or((self.at, 0, 0));
        Children {
            buf: self.buf,
            next,
            end: next + len,
            object: matches!(self.tag(), OBJ8 | OBJ32),
        }
    }

    /// The values of an array or object (elements; member values without their names),
    /// in document order; nothing for other values.
    pub fn values(&self) -> impl Iterator<Item = Node<'a>> + use<'a> {
        self.children().map(|(_, v)| v)
    }

    /// The elements of an array (nothing for other values).
    pub fn elements(&self) -> impl Iterator<Item = Node<'a>> + use<'a> {
        let is_array = self.kind() == Kind::Array;
        self.children().filter(move |_| is_array).map(|(_, v)| v)
    }

    /// The members of an object, in document order (nothing for other values).
    pub fn members(&self) -> impl Iterator<Item = (&'a str, Node<'a>)> + use<'a> {
        self.children()
            .filter_map(|(name, v)| name.map(|n| (n.text(), v)))
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<Node<'a>> {
        if self.kind() != Kind::Object {
            return None;
        }
        self.children()
            .find(|(k, _)| k.is_some_and(|k| k.as_bytes() == name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Element `i` of an array.
    pub fn index(&self, i: usize) -> Option<Node<'a>> {
        let (body, _, count) = self.container()?;
        if i >= count || !matches!(self.tag(), ARR8 | ARR32) {
            return None;
        }
        // Elements are back to back: skip `i` of them by their lengths.
        let mut at = body;
        for _ in 0..i {
            at = Node { buf: self.buf, at }.end();
        }
        Some(Node { buf: self.buf, at })
    }

    /// Compact JSON text of this value: byte for byte what [`to_vec`] (serde_json with RedisJSON's
    /// float format, [`Floats`]) writes for it
    /// (checked by the `json_value` fuzz target), written straight from the encoding.
    pub fn to_json(&self) -> Vec<u8> {
        // Text is rarely more than 1.5x the encoding (quotes, separators, digits): one
        // allocation, no growth, for the usual document.
        let len = self.end() - self.at;
        let mut out = Vec::with_capacity(len + len / 2 + 16);
        self.write_json(&mut out);
        out
    }

    /// Appends the compact JSON text of this value to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_value(self.buf, self.at, out);
    }

    /// An upper bound of [`json_len`](Self::json_len), in O(1): no byte of the encoding
    /// becomes more than 6 bytes of text (`\u00XX` for a control character in a string, `false,`
    /// for a one-byte `false`).
    pub fn json_len_bound(&self) -> usize {
        (self.end() - self.at).saturating_mul(6)
    }

    /// The exact length of [`to_json`](Self::to_json)'s text, counted without writing it; `None`
    /// as soon as it exceeds `cap` (the count then stops early: its cost is bounded by `cap`,
    /// not by the value's size).
    pub fn json_len(&self, cap: usize) -> Option<usize> {
        let mut count = Count::new(cap);
        write_value(self.buf, self.at, &mut count);
        count.total()
    }

    /// JSON text indented by two spaces (serde_json's pretty format).
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json_pretty(&mut out);
        out
    }

    /// The exact length of [`to_json_pretty`](Self::to_json_pretty)'s text, or `None` as soon as
    /// it exceeds `cap` (indentation makes pretty text of a deep document many times larger
    /// than the document: count before building it).
    pub fn json_pretty_len(&self, cap: usize) -> Option<usize> {
        pretty_len(self, cap)
    }

    /// Appends the pretty text to `out` (whose capacity should come from
    /// [`json_pretty_len`](Self::json_pretty_len)).
    pub fn write_json_pretty(&self, out: &mut Vec<u8>) {
        self.serialize(&mut serde_json::Serializer::with_formatter(
            out,
            Floats(serde_json::ser::PrettyFormatter::new()),
        ))
        .expect("writing to a Vec cannot fail");
    }
}

/// Floats as RedisJSON writes them: the shortest text that reads back as the same number, by
/// `ryu` (`1e300`, `-0.0`, `0.5`), where serde_json 1.0.15x writes `1e+300`.
pub fn write_float<W: std::io::Write + ?Sized>(out: &mut W, v: f64) {
    let mut b = ryu::Buffer::new();
    // Writing to a Vec or a counter: only a counter past its cap fails, and it records that.
    let _ = out.write_all(b.format_finite(v).as_bytes());
}

/// A serde_json [`Formatter`] that writes floats with [`write_float`] and leaves everything
/// else to the wrapped formatter: `Floats(CompactFormatter)` writes what [`Node::to_json`]
/// writes, `Floats(PrettyFormatter::new())` what [`Node::to_json_pretty`] writes.
pub struct Floats<F>(pub F);

impl<F: Formatter> Formatter for Floats<F> {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        let mut b = ryu::Buffer::new();
        w.write_all(b.format_finite(v).as_bytes())
    }
    fn write_f32<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f32) -> std::io::Result<()> {
        self.write_f64(w, f64::from(v))
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// The length of the compact JSON text of an array of these values (what a `$` path replies,
/// [`write_array_json`]), up to `cap` (`None` past it: matches may overlap, so the text can
/// outgrow the document).
pub fn array_json_len(values: &[Node<'_>], cap: usize) -> Option<usize> {
    let mut count = Count::new(cap);
    write_array(values, &mut count);
    count.total()
}

/// Appends the compact JSON text of an array of these values: byte for byte what [`to_vec`]
/// writes for them, written straight from the encoding.
pub fn write_array_json(values: &[Node<'_>], out: &mut Vec<u8>) {
    write_array(values, out);
}

fn write_array<S: Sink>(values: &[Node<'_>], out: &mut S) {
    out.byte(b'[');
    for v in values {
        if out.full() {
            return;
        }
        write_value(v.buf, v.at, out);
        out.byte(b',');
    }
    close_bracket(out, false);
}

/// Appends a number as JSON text: what [`to_vec`] writes for it, without serde (the number
/// is encoded as the document would store it and written from that).
pub fn write_number_json(n: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(v) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    } else if let Some(v) = n.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    } else {
        // As `put_f64` stores it and `write_value` writes it back.
        let v = n.as_f64().unwrap_or_default();
        match shortest_decimal(v) {
            Some((m, e)) if !(v == 0.0 && v.is_sign_negative()) && float_matches(m, e, v) => {
                write_decimal::<_, false>(out, m, e)
            }
            _ => write_float(out, v),
        }
    }
}

/// A JSON array of numbers and nulls (what `JSON.NUMINCRBY` replies): what [`to_vec`] writes
/// for them, without serde.
pub fn numbers_json(values: &[Option<serde_json::Number>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 24 * values.len());
    out.push(b'[');
    for v in values {
        match v {
            Some(n) => write_number_json(n, &mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b',');
    }
    close_bracket(&mut out, false);
    out
}

/// Compact JSON of any serialisable value with this module's float format ([`Floats`]).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            Floats(serde_json::ser::CompactFormatter),
        ))
        .expect("writing JSON to a Vec cannot fail");
    out
}

/// The exact length of `serde_json::to_vec_pretty(value)`, or `None` as soon as it exceeds
/// `cap` (counted without building the text; the walk stops at the cap).
pub fn pretty_len<T: Serialize + ?Sized>(value: &T, cap: usize) -> Option<usize> {
    let mut count = Count::new(cap);
    // Counting cannot fail but by exceeding the cap, which stops the walk early.
    let _ = value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut count,
        Floats(serde_json::ser::PrettyFormatter::new()),
    ));
    count.total()
}

/// Where [`write_value`] writes: a `Vec<u8>`, or a [`Count`] that only measures.
trait Sink: std::io::Write {
    fn byte(&mut self, b: u8);
    fn slice(&mut self, s: &[u8]);
    /// Replaces a trailing `,` by `close`, else appends `close` (see [`close_bracket`]).
    fn close(&mut self, close: u8);
    /// `s` between double quotes.
    fn quoted(&mut self, s: &[u8]) {
        self.byte(b'"');
        self.slice(s);
        self.byte(b'"');
    }
    /// A short string: `"`, the first `len` (at most 16) bytes of `block`, then the first `n`
    /// bytes of `close` (its closing quote, and the `:` after a member name or the `,` after
    /// a value).
    fn framed(&mut self, block: &[u8; 16], len: usize, close: &[u8; 2], n: usize) {
        self.byte(b'"');
        self.slice(&block[..len]);
        self.slice(&close[..n]);
    }
    /// A short text (a number's) that `f` writes into 32 bytes of room, returning its
    /// length; `false` (nothing written) if `f` returns `None`.
    fn build(&mut self, f: impl FnOnce(&mut [u8; 32]) -> Option<usize>) -> bool {
        let mut text = [0u8; 32];
        let Some(n) = f(&mut text) else {
            return false;
        };
        self.slice(&text[..n]);
        true
    }
    /// Whether the output is already past what the caller wants: stop early.
    fn full(&self) -> bool {
        false
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
    #[inline]
    fn slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
    #[inline(always)]
    fn framed(&mut self, block: &[u8; 16], len: usize, close: &[u8; 2], n: usize) {
        // Fixed-size copies straight into the text (no call to memcpy), then the bytes past
        // the string are dropped again.
        let at = self.len();
        self.reserve(19);
        self.push(b'"');
        self.extend_from_slice(block);
        self.truncate(at + 1 + len);
        self.extend_from_slice(close);
        self.truncate(at + 1 + len + n);
    }
    #[inline(always)]
    fn build(&mut self, f: impl FnOnce(&mut [u8; 32]) -> Option<usize>) -> bool {
        // Written in place, in the room after the text: a text built on the stack and copied
        // as one wide load would wait for the digits' narrow stores (a store-forwarding stall
        // per number).
        let at = self.len();
        self.extend_from_slice(&[0u8; 32]);
        let room: &mut [u8; 32] = (&mut self[at..at + 32]).try_into().expect("32 bytes");
        let n = f(room);
        self.truncate(at + n.unwrap_or(0));
        n.is_some()
    }
    #[inline]
    fn quoted(&mut self, s: &[u8]) {
        self.reserve(s.len() + 2);
        self.push(b'"');
        self.extend_from_slice(s);
        self.push(b'"');
    }
    #[inline]
    fn close(&mut self, close: u8) {
        match self.last_mut() {
            Some(last @ b',') => *last = close,
            _ => self.push(close),
        }
    }
}

/// Counts the bytes a writer would produce, up to a cap.
struct Count {
    len: usize,
    cap: usize,
    last: u8,
}

impl Count {
    fn new(cap: usize) -> Self {
        Count {
            len: 0,
            cap,
            last: 0,
        }
    }

    fn total(&self) -> Option<usize> {
        (self.len <= self.cap).then_some(self.len)
    }
}

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.slice(buf);
        if self.full() {
            // Ends serde_json's pretty writer early; `total` reports the overflow.
            return Err(std::io::Error::other("over the cap"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink for Count {
    #[inline]
    fn byte(&mut self, b: u8) {
        self.len = self.len.saturating_add(1);
        self.last = b;
    }
    #[inline]
    fn slice(&mut self, s: &[u8]) {
        self.len = self.len.saturating_add(s.len());
        if let Some(&b) = s.last() {
            self.last = b;
        }
    }
    #[inline]
    fn close(&mut self, close: u8) {
        if self.last != b',' {
            self.len = self.len.saturating_add(1);
        }
        self.last = close;
    }
    #[inline]
    fn full(&self) -> bool {
        self.len > self.cap
    }
}

struct Children<'a> {
    buf: &'a [u8],
    next: usize,
    end: usize,
    object: bool,
}

impl<'a> Iterator for Children<'a> {
    type Item = (Option<Name<'a>>, Node<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let mut node = Node {
            buf: self.buf,
            at: self.next,
        };
        let name = if self.object {
            let (start, len) = node.string().expect("a member name is a string");
            let name = Name {
                at: node.at,
                bytes: &self.buf[start..start + len],
            };
            node.at = node.end();
            Some(name)
        } else {
            None
        };
        self.next = node.end();
        Some((name, node))
    }
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.kind() {
            Kind::Null => s.serialize_unit(),
            Kind::Bool => s.serialize_bool(self.tag() == TRUE),
            Kind::Integer | Kind::Number => self
                .as_number()
                .expect("a number node has a value")
                .serialize(s),
            Kind::String => s.serialize_str(self.as_str().unwrap_or_default()),
            Kind::Array => {
                let mut seq = s.serialize_seq(self.len())?;
                for e in self.elements() {
                    seq.serialize_element(&e)?;
                }
                seq.end()
            }
            Kind::Object => {
                let mut map = s.serialize_map(self.len())?;
                for (k, v) in self.members() {
                    map.serialize_entry(k, &v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_json()))
    }
}

// ---- writing -------------------------------------------------------------------------------

/// The `N` bytes at `at` (a fixed-size field of the encoding).
#[inline]
fn fixed<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf[at..at + N].try_into().expect("a field of N bytes")
}

/// Writes the value at `at` as compact JSON; returns the offset just past it. One pass over
/// the encoding: every header is read once, nothing is validated again. A sink that is
/// [`full`](Sink::full) stops the walk at the next container member.
fn write_value<S: Sink>(buf: &[u8], at: usize, out: &mut S) -> usize {
    match buf[at] {
        ARR8 | ARR32 | OBJ8 | OBJ32 => write_container(buf, at, out),
        _ => write_scalar::<S, false>(buf, at, out),
    }
}

/// [`write_value`] for a scalar, followed by a `,` if `COMMA` (as in a container, where the
/// last one becomes the closing bracket). Inlined into the container loop: most values are
/// scalars, and a call per value cost more than writing a short string; the `,` goes out with
/// the value's own fixed-size copy where there is one.
#[inline(always)]
fn write_scalar<S: Sink, const COMMA: bool>(buf: &[u8], at: usize, out: &mut S) -> usize {
    let n = usize::from(COMMA);
    match buf[at] {
        NULL => {
            out.slice(&b"null,"[..4 + n]);
            at + 1
        }
        FALSE => {
            out.slice(&b"false,"[..5 + n]);
            at + 1
        }
        TRUE => {
            out.slice(&b"true,"[..4 + n]);
            at + 1
        }
        I8 => {
            write_int::<S, COMMA>(out, i64::from(buf[at + 1] as i8));
            at + 2
        }
        I16 => {
            write_int::<S, COMMA>(out, i64::from(i16::from_le_bytes(fixed(buf, at + 1))));
            at + 3
        }
        I32 => {
            write_int::<S, COMMA>(out, i64::from(i32::from_le_bytes(fixed(buf, at + 1))));
            at + 5
        }
        I64 => {
            write_int::<S, COMMA>(out, i64::from_le_bytes(fixed(buf, at + 1)));
            at + 9
        }
        U64 => {
            write_digits::<S, COMMA>(out, false, u64::from_le_bytes(fixed(buf, at + 1)));
            at + 9
        }
        DEC8 | DEC16 | DEC32 => {
            let (m, e) = decimal_at(buf, at);
            write_decimal::<S, COMMA>(out, m, e);
            Node { buf, at }.end()
        }
        F64 | NEGZERO => {
            write_float(out, float_at(buf, at));
            if COMMA {
                out.byte(b',');
            }
            Node { buf, at }.end()
        }
        STR8 => {
            let len = usize::from(buf[at + 1]);
            write_str(out, buf, at + 2, len, b"\",", 1 + n);
            at + 2 + len
        }
        STR32 => {
            let len = u32::from_le_bytes(fixed(buf, at + 1)) as usize;
            write_str(out, buf, at + 5, len, b"\",", 1 + n);
            at + 5 + len
        }
        tag => unknown_tag(tag),
    }
}

/// A member name and its `:` (most names are short and need no escape: one fixed-size copy).
#[inline(always)]
fn write_key<S: Sink>(buf: &[u8], at: usize, out: &mut S) -> usize {
    let (start, len) = Node { buf, at }
        .string()
        .expect("a member name is a string");
    write_str(out, buf, start, len, b"\":", 2);
    start + len
}

/// The 16 bytes at `start` if a string of `len` bytes there fits them (and the buffer goes
/// on that far).
#[inline(always)]
fn short_block(buf: &[u8], start: usize, len: usize) -> Option<&[u8; 16]> {
    if len > 16 {
        return None;
    }
    buf.get(start..start + 16)
        .map(|b| b.try_into().expect("16 bytes"))
}

/// An integer as serde_json writes it (itoa's digits), then a `,` if `COMMA`.
#[inline(always)]
fn write_int<S: Sink, const COMMA: bool>(out: &mut S, v: i64) {
    write_digits::<S, COMMA>(out, v < 0, v.unsigned_abs());
}

/// `-` if `negative`, the digits of `v`, then a `,` if `COMMA`.
#[inline(always)]
fn write_digits<S: Sink, const COMMA: bool>(out: &mut S, negative: bool, v: u64) {
    out.build(|text| {
        let sign = usize::from(negative);
        text[0] = b'-';
        let end = sign + digit_count(v);
        digits_back(text, v, end);
        text[end] = b',';
        Some(end + usize::from(COMMA))
    });
}

/// How many decimal digits `v` has.
#[inline(always)]
fn digit_count(v: u64) -> usize {
    v.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// "00", "01", ... "99": two digits per division.
static PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `v` into `text` so that they end at `end`; returns where they
/// start.
#[inline]
fn digits_back(text: &mut [u8], mut v: u64, end: usize) -> usize {
    let mut i = end;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        text[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        i -= 2;
        text[i..i + 2].copy_from_slice(&PAIRS[r..r + 2]);
    } else {
        i -= 1;
        text[i] = b'0' + v as u8;
    }
    i
}

/// [`write_value`] for an array or object: its children in one loop, recursing only into
/// nested containers.
fn write_container<S: Sink>(buf: &[u8], at: usize, out: &mut S) -> usize {
    let node = Node { buf, at };
    let (mut p, len, _) = node.container().expect("a container tag");
    let end = p + len;
    let object = matches!(buf[at], OBJ8 | OBJ32);
    out.byte(if object { b'{' } else { b'[' });
    while p < end {
        if out.full() {
            return end;
        }
        if object {
            p = write_key(buf, p, out);
        }
        p = match buf[p] {
            ARR8 | ARR32 | OBJ8 | OBJ32 => {
                let end = write_container(buf, p, out);
                out.byte(b',');
                end
            }
            _ => write_scalar::<S, true>(buf, p, out),
        };
    }
    close_bracket(out, object);
    end
}

/// Ends a container: the last `,` written after each child becomes the closing bracket (an
/// empty container gets one appended after its opening bracket).
fn close_bracket<S: Sink>(out: &mut S, object: bool) {
    out.close(if object { b'}' } else { b']' });
}

/// How each byte appears inside a JSON string literal: 0 as is, else the escape letter (`u`:
/// `\u00XX`). serde_json's table.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// A JSON string literal, escaped exactly like serde_json does: `"` and `\\`, the short
/// escapes `\b \f \n \r \t`, `\u00XX` for other control characters; everything else as is.
/// The literal ends with the first `n` bytes of `close`: its closing `"`, and the `,` after a
/// value in a container when `n` is 2.
#[inline(always)]
fn write_str<S: Sink>(
    out: &mut S,
    buf: &[u8],
    start: usize,
    len: usize,
    close: &[u8; 2],
    n: usize,
) {
    // Most strings are short and need no escape: one check of two words, one fixed-size copy
    // (no call to memcpy).
    if let Some(block) = short_block(buf, start, len) {
        let first = plain_len(block, len);
        if first == len {
            out.framed(block, len, close, n);
        } else {
            write_escaped(out, &block[..len], first);
            out.slice(&close[1..n]);
        }
        return;
    }
    let first = plain_prefix(buf, start, len);
    if first == len {
        out.quoted(&buf[start..start + len]);
    } else {
        write_escaped(out, &buf[start..start + len], first);
    }
    out.slice(&close[1..n]);
}

/// [`plain_prefix`] of the first `len` (at most 16) bytes of `block`: the lowest mark is
/// always a byte to escape (a borrow only marks bytes after a real mark), so one past `len`
/// means none within.
#[inline(always)]
fn plain_len(block: &[u8; 16], len: usize) -> usize {
    let lo = escape_marks(u64::from_le_bytes(fixed(block, 0)));
    if lo != 0 {
        return ((lo.trailing_zeros() / 8) as usize).min(len);
    }
    if len <= 8 {
        return len;
    }
    let hi = escape_marks(u64::from_le_bytes(fixed(block, 8)));
    if hi != 0 {
        return (8 + (hi.trailing_zeros() / 8) as usize).min(len);
    }
    len
}

/// [`write_str`] for a string with a byte to escape at `first`.
#[inline(never)]
fn write_escaped<S: Sink>(out: &mut S, s: &[u8], first: usize) {
    out.byte(b'"');
    out.slice(&s[..first]);
    let mut start = first;
    for (i, &b) in s.iter().enumerate().skip(first) {
        let escape = ESCAPE[b as usize];
        if escape == 0 {
            continue;
        }
        out.slice(&s[start..i]);
        start = i + 1;
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        } else {
            out.slice(&[b'\\', escape]);
        }
    }
    out.slice(&s[start..]);
    out.byte(b'"');
}

/// How many of the `len` bytes at `buf[start..]` come before the first one that needs an
/// escape in a JSON string (a control character, `"` or `\\`: [`ESCAPE`] is not 0); eight
/// bytes per step, reading past the string where the buffer goes on.
#[inline]
fn plain_prefix(buf: &[u8], start: usize, len: usize) -> usize {
    let mut i = 0;
    while i < len {
        let Some(chunk) = buf.get(start + i..start + i + 8) else {
            // The last bytes of the buffer: one at a time.
            let rest = &buf[start + i..start + len];
            return i + rest
                .iter()
                .take_while(|&&b| ESCAPE[b as usize] == 0)
                .count();
        };
        let marks = escape_marks(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if marks != 0 {
            return (i + (marks.trailing_zeros() / 8) as usize).min(len);
        }
        i += 8;
    }
    len
}

/// The high bit of each byte of `w` (little-endian) that needs an escape in a JSON string: the
/// lowest one set marks exactly the first byte that is < 0x20, `"` or `\\` (`!w` masks bytes
/// >= 0x80); a borrow may mark later bytes too, which is harmless.
#[inline(always)]
fn escape_marks(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = w.wrapping_sub(ONES * 0x20);
    let quote = (w ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let slash = (w ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    (below | quote | slash) & !w & HIGH
}

fn put_int(out: &mut Vec<u8>, v: i64) {
    if let Ok(v) = i8::try_from(v) {
        out.extend_from_slice(&[I8, v as u8]);
    } else if let Ok(v) = i16::try_from(v) {
        out.push(I16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(v) {
        out.push(I32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(I64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    match i64::try_from(v) {
        Ok(v) => put_int(out, v),
        Err(_) => {
            out.push(U64);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Powers of ten exactly representable as `f64` (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The float stored at `at` (any float tag).
#[inline]
fn float_at(buf: &[u8], at: usize) -> f64 {
    let (m, e) = match buf[at] {
        F64 => return f64::from_le_bytes(fixed(buf, at + 1)),
        NEGZERO => return -0.0,
        _ => decimal_at(buf, at),
    };
    // Both operands are exact and IEEE rounds the one operation correctly, so this is the
    // float nearest to m x 10^e: the one the decimal was the shortest spelling of.
    let p = POW10[usize::from(e.unsigned_abs())];
    if e >= 0 {
        f64::from(m) * p
    } else {
        f64::from(m) / p
    }
}

/// The `(mantissa, exponent)` of a decimal float (tag DEC8, DEC16 or DEC32) at `at`.
#[inline]
fn decimal_at(buf: &[u8], at: usize) -> (i32, i8) {
    match buf[at] {
        DEC8 => (i32::from(buf[at + 1] as i8), buf[at + 2] as i8),
        DEC16 => (
            i32::from(i16::from_le_bytes(fixed(buf, at + 1))),
            buf[at + 3] as i8,
        ),
        _ => (i32::from_le_bytes(fixed(buf, at + 1)), buf[at + 5] as i8),
    }
}

/// Writes the decimal `m x 10^e` exactly as [`write_float`] writes the float it stands for
/// (ryu's layout: `12340000000.0`, `12.34`, `0.001234`, `1e30`, `1.234e33`), without
/// converting it back to binary and searching for its digits again: the stored decimal *is*
/// the shortest one (see [`shortest_decimal`]).
fn write_decimal<S: Sink, const COMMA: bool>(out: &mut S, m: i32, e: i8) {
    let written = out.build(|text| {
        let n = decimal_text(text, m, e)?;
        text[n] = b',';
        Some(n + usize::from(COMMA))
    });
    if !written {
        out.slice(&decimal_text_general(m, e));
        if COMMA {
            out.byte(b',');
        }
    }
}

/// [`write_decimal`]'s text for the usual decimals (`12.5`, `0.25`, `3.0`), written at the
/// start of `text` (its length is worked out first, the digits are written backwards from its
/// end); its length. `None` for the rest (exponent forms, more than four zeros after `0.`,
/// integral values past 16 digits), which [`decimal_text_general`] writes. At most 22 bytes.
#[inline]
fn decimal_text(text: &mut [u8; 32], m: i32, e: i8) -> Option<usize> {
    let (mut u, mut e) = (u64::from(m.unsigned_abs()), i32::from(e));
    if u == 0 {
        text[..3].copy_from_slice(b"0.0");
        return Some(3);
    }
    // Stored decimals have no trailing zeros; strip any anyway, as ryu's digits have none.
    while u % 10 == 0 {
        u /= 10;
        e += 1;
    }
    let sign = usize::from(m < 0);
    text[0] = b'-';
    if e >= 0 {
        // 1234e7 -> 12340000000.0, up to 16 digits.
        let (n, zeros) = (digit_count(u), e as usize);
        if n + zeros > 16 {
            return None;
        }
        let point = sign + n + zeros;
        digits_back(text, u, sign + n);
        text[sign + n..point].fill(b'0');
        text[point..point + 2].copy_from_slice(b".0");
        return Some(point + 2);
    }
    // u has at most 10 digits: 10 or more fraction digits put 0 before the point.
    let f = e.unsigned_abs() as usize;
    if f > 10 {
        return None;
    }
    // Constant divisors (a multiplication each) for the usual few fraction digits.
    let (int, frac) = match f {
        1 => (u / 10, u % 10),
        2 => (u / 100, u % 100),
        3 => (u / 1000, u % 1000),
        _ => (u / 10u64.pow(f as u32), u % 10u64.pow(f as u32)),
    };
    let point = if int == 0 {
        // 1234e-6 -> 0.001234, with at most four zeros after the point.
        if f - digit_count(frac) > 4 {
            return None;
        }
        text[sign] = b'0';
        sign + 1
    } else {
        // 1234e-2 -> 12.34
        let point = sign + digit_count(int);
        digits_back(text, int, point);
        point
    };
    text[point] = b'.';
    // The fraction, zero-padded to f digits: 1234e-2 -> 34, 5e-3 -> 005.
    let end = point + 1 + f;
    let first = digits_back(text, frac, end);
    text[point + 1..first].fill(b'0');
    Some(end)
}

/// The text of the decimal `m x 10^e` in ryu's layout, every case (the reference for
/// [`decimal_text`]).
#[cold]
fn decimal_text_general(m: i32, e: i8) -> Vec<u8> {
    let mut text = Vec::with_capacity(32);
    if m == 0 {
        text.extend_from_slice(b"0.0");
        return text;
    }
    if m < 0 {
        text.push(b'-');
    }
    // Stored decimals have no trailing zeros; strip any anyway, as ryu's digits have none.
    let (mut m, mut e) = (m.unsigned_abs(), i32::from(e));
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    let mut digits = itoa::Buffer::new();
    let d = digits.format(m).as_bytes();
    let length = d.len() as i32;
    let kk = length + e; // 10^(kk-1) <= |v| < 10^kk
    if 0 <= e && kk <= 16 {
        // 1234e7 -> 12340000000.0
        text.extend_from_slice(d);
        text.resize(text.len() + (kk - length) as usize, b'0');
        text.extend_from_slice(b".0");
    } else if 0 < kk && kk <= 16 {
        // 1234e-2 -> 12.34
        let (int, frac) = d.split_at(kk as usize);
        text.extend_from_slice(int);
        text.push(b'.');
        text.extend_from_slice(frac);
    } else if -5 < kk && kk <= 0 {
        // 1234e-6 -> 0.001234
        text.extend_from_slice(b"0.");
        text.resize(text.len() + (-kk) as usize, b'0');
        text.extend_from_slice(d);
    } else {
        // 1e30, 1234e30 -> 1.234e33
        text.push(d[0]);
        if length > 1 {
            text.push(b'.');
            text.extend_from_slice(&d[1..]);
        }
        text.push(b'e');
        text.extend_from_slice(itoa::Buffer::new().format(kk - 1).as_bytes());
    }
    text
}

/// The shortest decimal `(mantissa, exponent)` that reads back as `v` (ryu's digits, trailing
/// zeros moved into the exponent), if it is small enough for the decimal tags.
///
/// Most floats in documents are short decimals (`847.434`, `0.5`): those are found by trying
/// 0, 1, 2, ... fraction digits, one multiplication and one check each. The first count of
/// fraction digits that reads back is the shortest spelling: while `|m| < 2^31`, `v x 10^k` is
/// within 2^-21 of an integer that reads back, so rounding finds it, and no two decimals with
/// as many digits read back as the same double. Anything else (zero, long mantissas, large
/// exponents) asks ryu ([`shortest_decimal_by_ryu`]); the unit tests check that both agree.
fn shortest_decimal(v: f64) -> Option<(i32, i8)> {
    if v != 0.0 {
        for (k, p) in POW10.iter().enumerate().take(10) {
            let x = (v * p).round();
            if x.abs() > f64::from(i32::MAX) {
                break;
            }
            let (mut m, mut e) = (x as i32, -(k as i8));
            if float_matches(m, e, v) {
                while m != 0 && m % 10 == 0 {
                    m /= 10;
                    e += 1;
                }
                return Some((m, e));
            }
        }
    }
    shortest_decimal_by_ryu(v)
}

/// [`shortest_decimal`] from ryu's text of `v` (every finite `v`).
fn shortest_decimal_by_ryu(v: f64) -> Option<(i32, i8)> {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v).as_bytes();
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (digits, exp) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (
            &text[..i],
            std::str::from_utf8(&text[i + 1..])
                .ok()?
                .parse::<i32>()
                .ok()?,
        ),
        None => (text, 0),
    };
    let mut m: i64 = 0;
    let mut e = exp;
    let mut after_point = false;
    for &d in digits {
        match d {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                m = m.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
                if after_point {
                    e -= 1;
                }
                if m > i64::from(i32::MAX) * 10 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    while m != 0 && m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    let m = i32::try_from(if neg { -m } else { m }).ok()?;
    if !(-22..=22).contains(&e) || (m == 0 && neg) {
        return None;
    }
    Some((m, e as i8))
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 && v.is_sign_negative() {
        out.push(NEGZERO);
        return;
    }
    match shortest_decimal(v) {
        Some((m, e)) if float_matches(m, e, v) => {
            if let Ok(m) = i8::try_from(m) {
                out.extend_from_slice(&[DEC8, m as u8, e as u8]);
            } else if let Ok(m) = i16::try_from(m) {
                out.push(DEC16);
                out.extend_from_slice(&m.to_le_bytes());
                out.push(e as u8);
            } else {
                out.push(DEC32);
                out.extend_from_slice(&m.to_le_bytes());
                out.push(e as u8);
            }
        }
        _ => {
            out.push(F64);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Whether the decimal tags rebuild `v` bit for bit (always, by the argument in [`float_at`];
/// checked anyway, so a stored float can never change).
fn float_matches(m: i32, e: i8, v: f64) -> bool {
    let p = POW10[usize::from(e.unsigned_abs())];
    let back = if e >= 0 {
        f64::from(m) * p
    } else {
        f64::from(m) / p
    };
    back.to_bits() == v.to_bits()
}

fn put_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    if let Some(v) = n.as_i64() {
        put_int(out, v);
    } else if let Some(v) = n.as_u64() {
        put_u64(out, v);
    } else {
        put_f64(out, n.as_f64().unwrap_or_default());
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_str_header(out, s.len());
    out.extend_from_slice(s);
}

/// The header of a string of `len` bytes: `STR8 len` when it fits a byte, else `STR32 len`.
fn put_str_header(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(len) => out.extend_from_slice(&[STR8, len]),
        Err(_) => {
            // The parser refuses longer strings (visit_str); edits copy names it accepted, and
            // STRAPPEND checks the length.
            let len = u32::try_from(len).expect("a string under 4 GiB");
            out.push(STR32);
            out.extend_from_slice(&len.to_le_bytes());
        }
    }
}

/// Writes the string `node` with `suffix` appended (`node` itself if it is no string).
fn put_appended(out: &mut Vec<u8>, node: Node<'_>, suffix: &[u8]) {
    match node.string() {
        Some((start, len)) => {
            put_str_header(out, len + suffix.len());
            out.extend_from_slice(&node.buf[start..start + len]);
            out.extend_from_slice(suffix);
        }
        None => out.extend_from_slice(node.encoded()),
    }
}

/// Starts a container: a long header to be fixed by [`close`]; returns where it starts.
fn open(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; LONG]);
    at
}

/// Finishes a container opened at `at` with `count` children: a short header when it fits.
/// `None` if the body exceeds the 4 GiB a long header can describe.
fn try_close(out: &mut Vec<u8>, at: usize, count: usize, object: bool) -> Option<()> {
    let body = out.len() - at - LONG;
    if let (Ok(b), Ok(n)) = (u8::try_from(body), u8::try_from(count)) {
        out[at..at + SHORT].copy_from_slice(&[if object { OBJ8 } else { ARR8 }, b, n]);
        out.copy_within(at + LONG.., at + SHORT);
        out.truncate(out.len() - (LONG - SHORT));
    } else {
        out[at] = if object { OBJ32 } else { ARR32 };
        out[at + 1..at + 5].copy_from_slice(&u32::try_from(body).ok()?.to_le_bytes());
        out[at + 5..at + 9].copy_from_slice(&u32::try_from(count).ok()?.to_le_bytes());
    }
    Some(())
}

fn close(out: &mut Vec<u8>, at: usize, count: usize, object: bool) {
    // An edit never makes a container larger than one the parser accepted by more than a
    // number's 9 bytes per member.
    try_close(out, at, count, object).expect("container within 4 GiB")
}

mod fastparse;
pub use fastparse::{Parsed, SCRATCH_BYTES, SCRATCH_TEXT_BYTES};

/// Builds the encoding while serde_json parses (no intermediate tree).
struct Build<'b> {
    out: &'b mut Vec<u8>,
}

fn too_large<E: de::Error>() -> E {
    E::custom("document too large (a container over 4 GiB encoded)")
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push(NULL);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        put_int(self.out, v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        put_u64(self.out, v);
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("number out of range"));
        }
        put_f64(self.out, v);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if u32::try_from(v.len()).is_err() {
            return Err(too_large());
        }
        put_str(self.out, v.as_bytes());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let at = open(self.out);
        let mut count = 0;
        while seq.next_element_seed(Build { out: self.out })?.is_some() {
            count += 1;
        }
        try_close(self.out, at, count, false).ok_or_else(too_large)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at = open(self.out);
        let mut count = 0;
        // Where the first names start, so small objects are checked for repeats without
        // walking the members again.
        let mut names = [0usize; SMALL_OBJECT];
        loop {
            let name_at = self.out.len();
            if map.next_key_seed(Build { out: self.out })?.is_none() {
                break;
            }
            if let Some(slot) = names.get_mut(count) {
                *slot = name_at;
            }
            map.next_value_seed(Build { out: self.out })?;
            count += 1;
        }
        let count = dedup_members(self.out, at + LONG, count, &names);
        try_close(self.out, at, count, true).ok_or_else(too_large)
    }
}

/// Objects with at most this many members are checked for repeated names pairwise.
const SMALL_OBJECT: usize = 16;

/// Member names of the object body starting at `body` (to the end of `out`) are unique: a
/// repeated name keeps its first position and its last value. Returns the member count.
/// `small` holds where the first names start (all of them for an object of up to
/// [`SMALL_OBJECT`] members).
fn dedup_members(
    out: &mut Vec<u8>,
    body: usize,
    count: usize,
    small: &[usize; SMALL_OBJECT],
) -> usize {
    if count < 2 {
        return count;
    }
    let members = || Node { buf: out, at: 0 }.children_from(body, true);
    // Fast path, no allocation: compare names pairwise for small objects, sort above that.
    let has_dup = if count <= SMALL_OBJECT {
        let name = |at: usize| {
            let (start, len) = Node { buf: out, at }
                .string()
                .expect("a member name is a string");
            &out[start..start + len]
        };
        (1..count).any(|i| (0..i).any(|j| name(small[j]) == name(small[i])))
    } else {
        let mut names: Vec<&[u8]> = members()
            .map(|(n, _)| n.map_or(&b""[..], |n| n.as_bytes()))
            .collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    };
    if !has_dup {
        return count;
    }
    // Rare: rebuild the body. Each name's last value goes to its first position.
    let entries: Vec<(&[u8], usize, usize)> = members()
        .map(|(n, v)| (n.map_or(&b""[..], |n| n.as_bytes()), v.at, v.end()))
        .collect();
    let mut last = std::collections::HashMap::new();
    for (i, (name, _, _)) in entries.iter().enumerate() {
        last.insert(*name, i);
    }
    let mut body_out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, _, _) in &entries {
        if seen.insert(*name) {
            let (_, start, end) = entries[last[name]];
            put_str(&mut body_out, name);
            body_out.extend_from_slice(&out[start..end]);
        }
    }
    let unique = seen.len();
    out.truncate(body);
    out.extend_from_slice(&body_out);
    unique
}

impl<'a> Node<'a> {
    fn children_from(&self, next: usize, object: bool) -> Children<'a> {
        Children {
            buf: self.buf,
            next,
            end: self.buf.len(),
            object,
        }
    }
}

impl Doc {
    /// The encoding, to splice into another document ([`Edit::Replace`]).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf.into_vec()
    }

    /// How deeply the document nests (a scalar: 0, `[]`: 1, `[[1]]`: 2).
    pub fn depth(&self) -> usize {
        self.root().depth()
    }
}

impl<'a> Node<'a> {
    /// How deeply the value nests (a scalar: 0, `[]`: 1, `[[1]]`: 2).
    pub fn depth(&self) -> usize {
        match self.kind() {
            Kind::Array | Kind::Object => {
                1 + self.children().map(|(_, c)| c.depth()).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// How many containers enclose the value at `offset` (0 for the root); `None` if no value
    /// of this document starts there.
    pub fn depth_of(&self, offset: usize) -> Option<usize> {
        if offset == self.at {
            return Some(0);
        }
        let child = self
            .children()
            .map(|(_, c)| c)
            .find(|c| c.at <= offset && offset < c.end())?;
        child.depth_of(offset).map(|d| d + 1)
    }

    /// The member names and encodings of an object's members (nothing for other values).
    pub fn members_encoded(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + use<'a> {
        self.members().map(|(k, v)| (k, v.encoded()))
    }
}

impl Doc {
    /// A document from an encoding this module built (a value's [`Node::encoded`] bytes or an
    /// `encode_*` result).
    pub(crate) fn from_encoded(bytes: Vec<u8>) -> Doc {
        Doc {
            buf: bytes.into_boxed_slice(),
        }
    }
}

/// The encoding of an array of these encoded values.
pub fn encode_array<'b>(items: impl IntoIterator<Item = &'b [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let at = open(&mut out);
    let mut count = 0;
    for item in items {
        out.extend_from_slice(item);
        count += 1;
    }
    close(&mut out, at, count, false);
    out
}

/// The encoding of an object of these members (names must be distinct).
pub fn encode_object<'b>(members: impl IntoIterator<Item = (&'b str, &'b [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    let at = open(&mut out);
    let mut count = 0;
    for (name, value) in members {
        put_str(&mut out, name.as_bytes());
        out.extend_from_slice(value);
        count += 1;
    }
    close(&mut out, at, count, true);
    out
}

/// The encoding of one object member (its name, then its encoded value), for
/// [`Edit::Insert`] into an object.
pub fn encode_member(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 5 + value.len());
    put_member(&mut out, name, value);
    out
}

/// Appends one object member's encoding (see [`encode_member`]) to `out`.
pub fn put_member(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    put_str(out, name.as_bytes());
    out.extend_from_slice(value);
}

/// How deeply the encoded children in `bytes` nest (the largest [`Node::depth`] among them):
/// elements of an array, or name and value pairs of an object (`object`), as
/// [`Edit::Insert`] holds them.
pub fn children_depth(bytes: &[u8], object: bool) -> usize {
    Children {
        buf: bytes,
        next: 0,
        end: bytes.len(),
        object,
    }
    .map(|(_, c)| c.depth())
    .max()
    .unwrap_or(0)
}

/// How deeply one encoded value nests ([`Node::depth`]), without copying it into a [`Doc`].
pub fn encoded_depth(bytes: &[u8]) -> usize {
    Node { buf: bytes, at: 0 }.depth()
}

/// The encoding of a string.
pub fn encode_str(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 5);
    put_str(&mut out, s.as_bytes());
    out
}

/// The encoding of `true` or `false`.
pub fn encode_bool(b: bool) -> Vec<u8> {
    vec![if b { TRUE } else { FALSE }]
}

/// The encoding of a number, for [`Edit::Number`] users that want to know its size.
pub fn encoded_number(n: &serde_json::Number) -> Vec<u8> {
    let mut out = Vec::new();
    put_number(&mut out, n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        String::from_utf8(Doc::parse(text.as_bytes()).unwrap().to_json()).unwrap()
    }

    #[test]
    fn decimals_are_written_like_ryu_lays_them_out() {
        let mut mantissas: Vec<i32> = (-1000..=1000).collect();
        for d in 1..=10 {
            let p = 10i64.pow(d);
            for m in [p - 1, p, p + 1, p / 3, 2 * p / 3] {
                if let Ok(m) = i32::try_from(m) {
                    mantissas.extend([m, -m]);
                }
            }
        }
        mantissas.extend([
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1_234_567_891,
            1_000_000_007,
        ]);
        let mut fast = 0;
        for &m in &mantissas {
            for e in i8::MIN..=i8::MAX {
                let general = decimal_text_general(m, e);
                let mut out = Vec::new();
                write_decimal::<_, false>(&mut out, m, e);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&general),
                    "{m}e{e}"
                );
                // In a container: the same text and its `,`.
                out.clear();
                write_decimal::<_, true>(&mut out, m, e);
                assert_eq!(out.pop(), Some(b','), "{m}e{e}");
                assert_eq!(out, general, "{m}e{e}");
                if decimal_text(&mut [0; 32], m, e).is_some() {
                    fast += 1;
                }
                // The layout the general writer follows is ryu's, for the double it stands for.
                if (-20..=20).contains(&e) {
                    let v: f64 = format!("{m}e{e}").parse().expect("a float");
                    assert_eq!(
                        general,
                        ryu::Buffer::new().format_finite(v).as_bytes(),
                        "{m}e{e}"
                    );
                }
            }
        }
        assert!(
            fast > mantissas.len() * 20,
            "the fast path took only {fast}"
        );
    }

    #[test]
    fn integers_are_written_like_itoa() {
        let mut values: Vec<i64> = (-1000..=1000).collect();
        for d in 1..=18 {
            let p = 10i64.pow(d);
            values.extend([p - 1, p, p + 1, -p + 1, -p, -p - 1]);
        }
        values.extend([i64::MAX, i64::MIN, i64::MIN + 1, i64::from(i32::MIN)]);
        for v in values {
            let mut out = Vec::new();
            write_int::<_, false>(&mut out, v);
            assert_eq!(out, itoa::Buffer::new().format(v).as_bytes(), "{v}");
            out.clear();
            write_int::<_, true>(&mut out, v);
            assert_eq!(out.pop(), Some(b','), "{v}");
            assert_eq!(out, itoa::Buffer::new().format(v).as_bytes(), "{v}");
        }
        let mut unsigned = vec![0, 9, 10, 99, 100, u64::MAX, u64::MAX / 7, 1 << 63];
        unsigned.extend((1..20).flat_map(|d| [10u64.pow(d) - 1, 10u64.pow(d)]));
        for v in unsigned {
            let mut out = Vec::new();
            write_digits::<_, true>(&mut out, false, v);
            assert_eq!(out.pop(), Some(b','), "{v}");
            assert_eq!(out, itoa::Buffer::new().format(v).as_bytes(), "{v}");
            assert_eq!(digit_count(v), out.len(), "{v}");
        }
    }

    /// The word-at-a-time scan finds the first byte to escape exactly where the table does:
    /// every byte value at every position of strings of 0 to 24 bytes, with any bytes around
    /// them (read past the string) and at the very end of the buffer.
    #[test]
    fn plain_prefix_agrees_with_the_escape_table() {
        let by_table = |s: &[u8]| s.iter().take_while(|&&b| ESCAPE[b as usize] == 0).count();
        for len in 0..=24 {
            for pos in 0..len.max(1) {
                for b in 0..=255u8 {
                    for filler in [b'a', b'"', 0x01, 0xff, b'\\'] {
                        let mut buf = vec![filler; 3];
                        buf.extend(std::iter::repeat_n(b'x', len));
                        if len > 0 {
                            buf[3 + pos] = b;
                        }
                        // A byte before a special one may carry a borrow into it: vary it too.
                        if pos > 0 {
                            buf[3 + pos - 1] = filler;
                        }
                        let s = buf[3..3 + len].to_vec();
                        let want = by_table(&s);
                        assert_eq!(plain_prefix(&buf, 3, len), want, "{s:?} at the end");
                        buf.extend([filler; 9]);
                        assert_eq!(plain_prefix(&buf, 3, len), want, "{s:?} then {filler}");
                    }
                }
            }
        }
    }

    #[test]
    fn round_trips_every_kind_of_value_in_order() {
        for t in [
            "null",
            "true",
            "false",
            "0",
            "-1",
            "127",
            "128",
            "-129",
            "40000",
            "-2147483649",
            "9223372036854775807",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0.0",
            "1e300",
            "\"\"",
            "\"h\\u00e9\\n\\\"\"",
            "[]",
            "{}",
            "[1,[2,[3,{}]],{\"z\":1,\"a\":[true,null]}]",
            "{\"b\":1,\"a\":2,\"c\":{\"y\":[],\"x\":\"s\"}}",
        ] {
            let expect: serde_json::Value = serde_json::from_str(t).unwrap();
            let got = round(t);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&got).unwrap(),
                expect,
                "{t} -> {got}"
            );
            assert_eq!(round(&got), got, "compact text is a fixed point");
        }
        assert_eq!(round("{\"b\":1,\"a\":2}"), "{\"b\":1,\"a\":2}");
    }

    #[test]
    fn the_writer_matches_serde_json_byte_for_byte() {
        let text = "{\"s\":\"q\\\"b\\\\c\\u0001\\u001f\\b\\f\\n\\r\\t\\u007f\u{e9}\u{1F600}/\",\
                    \"n\":[0,-1,255,-40000,4294967296,18446744073709551615,-9223372036854775808],\
                    \"f\":[0.5,-0.0,1e300,1.7976931348623157e308,5e-324,100.0,0.1],\"e\":[{},[],null,true,false]}";
        let doc = Doc::parse(text.as_bytes()).unwrap();
        assert_eq!(doc.to_json(), to_vec(&doc.root()));
        // Escapes, lengths around the 8- and 16-byte steps, names and values, every scalar
        // before a `,` and last in its container.
        let names = [
            "",
            "a",
            "a\n",
            "\"q",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmno\\",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}x",
        ];
        let values = [
            r#""""#,
            r#""a""#,
            r#""\t""#,
            r#""0123456789abcde\u0000""#,
            "1.5",
            "-7",
            "null",
            "true",
            "false",
            "0.0",
            "1e300",
            "[]",
            "{}",
            r#"["x",2.25]"#,
        ];
        for n in names {
            let members: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{}:{v}", serde_json::to_string(&format!("{n}{i}")).unwrap()))
                .collect();
            let text = format!("{{{}}}", members.join(","));
            let doc = Doc::parse(text.as_bytes()).unwrap();
            assert_eq!(doc.to_json(), to_vec(&doc.root()), "{text}");
            for v in values {
                let text = format!("[{v},{},{v}]", serde_json::to_string(n).unwrap());
                let doc = Doc::parse(text.as_bytes()).unwrap();
                assert_eq!(doc.to_json(), to_vec(&doc.root()), "{text}");
            }
        }
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&doc.to_json()).unwrap(),
            v
        );
    }

    #[test]
    fn long_strings_and_big_containers_use_long_headers() {
        let s = "x".repeat(300);
        let arr: Vec<u32> = (0..1000).collect();
        let text = serde_json::to_string(&serde_json::json!({"s": s, "a": arr})).unwrap();
        let doc = Doc::parse(text.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(doc.to_json()).unwrap(), text);
        let root = doc.root();
        assert_eq!(root.get("s").unwrap().as_str().unwrap().len(), 300);
        let a = root.get("a").unwrap();
        assert_eq!(a.len(), Some(1000));
        assert_eq!(
            a.index(999).unwrap().as_number().unwrap().as_u64(),
            Some(999)
        );
        assert!(a.index(1000).is_none());
    }

    #[test]
    fn repeated_names_keep_first_position_and_last_value() {
        assert_eq!(round("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\":3,\"b\":2}");
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", i % 20)).collect();
        let text = format!("{{{}}}", many.join(","));
        let got: serde_json::Value = serde_json::from_str(&round(&text)).unwrap();
        let expect: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(got, expect);
        assert_eq!(Doc::parse(text.as_bytes()).unwrap().root().len(), Some(20));
    }

    #[test]
    fn smaller_than_the_text_for_typical_records() {
        let text = br#"[{"id":1,"name":"user00001","email":"user1@example.com","active":false,"score":847.434,"tags":["red"],"address":{"city":"Berlin","zip":"10001"}}]"#;
        let doc = Doc::parse(text).unwrap();
        assert!(doc.bytes().len() < text.len(), "{}", doc.bytes().len());
    }

    #[test]
    fn edits_remove_and_replace_values_anywhere() {
        let doc = Doc::parse(br#"{"a":[1,2,3],"b":{"c":1,"d":"x"},"e":5}"#).unwrap();
        let r = doc.root();
        let a = r.get("a").unwrap();
        let edits = [
            (a.index(1).unwrap().offset(), Edit::Remove),
            (r.get("b").unwrap().get("c").unwrap().offset(), Edit::Remove),
            (r.get("e").unwrap().offset(), Edit::Number(100_000.into())),
            (
                a.index(0).unwrap().offset(),
                Edit::Number(serde_json::Number::from_f64(0.5).unwrap()),
            ),
        ];
        let edited = doc.edit(&edits);
        assert_eq!(
            edited.to_json(),
            br#"{"a":[0.5,3],"b":{"d":"x"},"e":100000}"#
        );
        assert_eq!(doc.edit(&[]), doc);
        // Offsets that name no value (inside a string, a member name, the root) change nothing.
        let d = r.get("b").unwrap().get("d").unwrap().offset();
        let name = r.get("b").unwrap().offset() + 3;
        for at in [0, d + 2, name] {
            assert_eq!(doc.edit(&[(at, Edit::Remove)]), doc, "offset {at}");
        }
    }

    #[test]
    fn floats_are_stored_as_short_decimals_and_read_back_bit_for_bit() {
        for (text, bytes) in [
            ("0.5", 3),
            ("-0.0", 1),
            ("0.1", 3),
            ("3.14159", 6),
            ("-2.5e-7", 3),
            ("1e22", 3),
            ("1e23", 9),
            ("123456789.123", 9),
            ("1.7976931348623157e308", 9),
            ("5e-324", 9),
            ("100.0", 3),
            ("-32768.5", 6),
        ] {
            let doc = Doc::parse(text.as_bytes()).unwrap();
            assert_eq!(doc.bytes().len(), bytes, "{text}");
            let v: f64 = text.parse().unwrap();
            let n = doc.root().as_number().unwrap();
            assert_eq!(n.as_f64().unwrap().to_bits(), v.to_bits(), "{text}");
            assert_eq!(doc.to_json(), to_vec(&n), "{text}");
            assert_eq!(doc.root().kind(), Kind::Number);
        }
        let halves = Doc::parse(b"[0.5,0.5,0.5,0.5]").unwrap();
        assert!(halves.bytes().len() < 17, "{}", halves.bytes().len());
        // Every float from many random bit patterns survives.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for v in [f64::from_bits(x), (x % 100_000) as f64 / 1000.0] {
                if !v.is_finite() {
                    continue;
                }
                let mut out = Vec::new();
                put_f64(&mut out, v);
                assert_eq!(float_at(&out, 0).to_bits(), v.to_bits(), "{v:e}");
            }
        }
    }

    /// Random doubles of every kind: raw bit patterns, short decimals, integers, tiny values.
    fn sample_floats(n: usize) -> Vec<f64> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut out = Vec::with_capacity(4 * n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x >> 20) % 1_000_000_000;
            let scale = POW10[(x % 12) as usize];
            for v in [
                f64::from_bits(x),
                digits as f64 / scale,
                -(digits as f64) * scale,
                (x % 1000) as f64 / 1e15,
            ] {
                if v.is_finite() {
                    out.push(v);
                }
            }
        }
        out.extend([
            0.0,
            -0.0,
            0.5,
            1e22,
            1e23,
            2147483647.0,
            2147483648.0,
            0.1 + 0.2,
        ]);
        out
    }

    #[test]
    fn the_fast_shortest_decimal_is_ryus() {
        for v in sample_floats(50_000) {
            assert_eq!(
                shortest_decimal(v),
                shortest_decimal_by_ryu(v),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    }

    #[test]
    fn decimals_are_written_as_ryu_writes_their_float() {
        for v in sample_floats(50_000) {
            let Some((m, e)) = shortest_decimal(v) else {
                continue;
            };
            let mut direct = Vec::new();
            write_decimal::<_, false>(&mut direct, m, e);
            let mut by_ryu = Vec::new();
            write_float(&mut by_ryu, v);
            assert_eq!(
                String::from_utf8(direct).unwrap(),
                String::from_utf8(by_ryu).unwrap(),
                "{m}e{e}"
            );
        }
        // Every layout of ryu's, at its boundaries.
        for (m, e, text) in [
            (1234, 7, "12340000000.0"),
            (1, 15, "1000000000000000.0"),
            (1, 16, "1e16"),
            (1234, -2, "12.34"),
            (1234, -6, "0.001234"),
            (1, -5, "0.00001"),
            (1, -6, "1e-6"),
            (1234, 20, "1.234e23"),
            (-5, -1, "-0.5"),
            (0, 0, "0.0"),
        ] {
            let mut out = Vec::new();
            write_decimal::<_, false>(&mut out, m, e);
            assert_eq!(String::from_utf8(out).unwrap(), text, "{m}e{e}");
        }
    }

    #[test]
    fn number_replies_are_what_serde_writes() {
        let mut numbers: Vec<Option<serde_json::Number>> = sample_floats(2_000)
            .into_iter()
            .filter_map(serde_json::Number::from_f64)
            .map(Some)
            .collect();
        numbers.extend(
            [0i64, -1, 127, i64::MIN, i64::MAX]
                .map(|i| Some(i.into()))
                .into_iter()
                .chain([Some(u64::MAX.into()), None]),
        );
        assert_eq!(numbers_json(&numbers), to_vec(&numbers));
        assert_eq!(numbers_json(&[]), b"[]");
        for n in numbers.iter().flatten() {
            let mut out = Vec::new();
            write_number_json(n, &mut out);
            assert_eq!(out, to_vec(n), "{n}");
        }
    }

    #[test]
    fn errors_and_limits() {
        assert!(Doc::parse(b"[1,").is_err());
        assert!(Doc::parse(b"1 2").is_err());
        assert!(
            Doc::parse(&[b'['; 200])
                .unwrap_err()
                .to_string()
                .contains("recursion limit")
        );
        let deepest = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(round(&deepest), deepest);
    }
}
