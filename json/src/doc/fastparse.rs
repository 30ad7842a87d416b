//! The fast path of [`Doc::parse`]: JSON text straight to the encoding, without serde.
//!
//! serde_json driving a [`Visitor`](serde::de::Visitor) spends most of its time in the
//! machinery between its tokenizer and the encoding: a UTF-8 check per string, a float parse
//! and a search for the float's shortest decimal per number, a call per value, a `Vec` push per
//! field. This parser reads the text once and writes the encoding as it goes:
//! - the whole input is checked to be UTF-8 once ([`std::str::from_utf8`] is fast on ASCII);
//!   a string without escapes is then copied as one slice, its end found 8 bytes at a time
//!   ([`specials`]); one of up to 31 bytes is copied as a fixed 16- or 32-byte block;
//! - a float whose digits make a mantissa that fits `i32` and whose decimal exponent is within
//!   `-22..=22` *is* its own shortest decimal, so it is stored as `DEC8/16/32` without any
//!   float arithmetic (the argument is at [`Parser::number`]); other floats are read by
//!   `str::parse::<f64>` (correctly rounded, as serde_json's `float_roundtrip` is) and stored
//!   by the serde path's own `put_f64`;
//! - the encoding is written into a buffer with room ([`Out`]), fixed-size fields by fixed-size
//!   copies; integers, strings and container headers are written as `put_int`, `put_u64`,
//!   `put_str` and `try_close` write them; repeated member names are looked for with a cheap
//!   key per name, and an object that has some is rebuilt by the serde path's
//!   `dedup_members`.
//!
//! It accepts only what it is sure of and answers `None` for anything else — invalid JSON,
//! nesting of 127 levels or more, a lone surrogate, a float out of range — so that serde_json
//! ([`Doc::parse_serde`]) stays the one authority for what is accepted and for every error
//! message. What it accepts it encodes byte for byte as the serde path does: the unit tests
//! below and the `json_value` fuzz target check both properties.

use std::cell::Cell;

use super::{
    ARR8, ARR32, DEC8, DEC16, DEC32, Doc, FALSE, I8, I16, I32, I64, LONG, NULL, Node, OBJ8, OBJ32,
    SHORT, SMALL_OBJECT, STR8, STR32, TRUE, U64, dedup_members, put_f64,
};

/// Containers nest less deep than this on the fast path: a document with a container at depth
/// `MAX_DEPTH` goes to serde_json, which accepts up to 127 levels and words the error past
/// them. Also bounds this parser's recursion.
const MAX_DEPTH: usize = 127;

impl Doc {
    /// The fast path of [`parse`](Self::parse): the document if this parser is sure of it,
    /// `None` for anything it leaves to serde_json ([`parse_serde`](Self::parse_serde)):
    /// invalid JSON, nesting of 127 levels or more, lone surrogates, numbers out of range.
    /// When it returns a document, that document's encoding is byte for byte what
    /// [`parse_serde`](Self::parse_serde) builds from the same text.
    ///
    /// ```
    /// use rmkit_json::doc::Doc;
    ///
    /// let text = br#"{"a": [1, 2.5, "x\n"], "b": null}"#;
    /// assert_eq!(Doc::parse_fast(text), Some(Doc::parse_serde(text).unwrap()));
    /// assert_eq!(Doc::parse_fast(b"[1,]"), None); // serde_json says why
    /// ```
    pub fn parse_fast(text: &[u8]) -> Option<Doc> {
        let (mut buf, len) = parse_into(text, Vec::with_capacity(text.len() + 64));
        buf.truncate(len?);
        Some(Doc {
            buf: buf.into_boxed_slice(),
        })
    }

    /// Gives the calling thread a parse buffer of [`SCRATCH_BYTES`], kept for every later
    /// [`parse_reusing`](Self::parse_reusing) on it. The module reserves it at load, on the
    /// thread that runs commands, so that its memory is part of the module from the start:
    /// `used_memory` does not move when the first document is parsed, and no key's
    /// `MEMORY USAGE` includes it.
    pub fn reserve_scratch() {
        SCRATCH.with(|s| {
            let kept = s.take();
            s.set(if kept.capacity() == SCRATCH_BYTES {
                kept
            } else {
                Vec::with_capacity(SCRATCH_BYTES)
            });
        });
    }

    /// [`parse_fast`](Self::parse_fast) into this thread's reserved buffer
    /// ([`reserve_scratch`](Self::reserve_scratch)), handing the result to `f`, which makes
    /// the document with [`Parsed::to_doc`]: one block of exactly its size, where `parse_fast`
    /// allocates a block with room and then shrinks it (for a small document, a second
    /// allocation and copy in the server's malloc). `f` may run the copy in a
    /// [`Measured::build`](rmkit::datatype::Measured::build), which then counts nothing else.
    /// `None` — and `f` not called — when the fast path declines the text, when it is too long
    /// for the buffer, or when this thread reserved none: parse it the usual way then.
    ///
    /// ```
    /// use rmkit_json::doc::Doc;
    ///
    /// let text = br#"{"a":[1,2.5]}"#;
    /// assert_eq!(Doc::parse_reusing(text, |p| p.to_doc()), None); // nothing reserved yet
    /// Doc::reserve_scratch();
    /// let doc = Doc::parse_reusing(text, |p| p.to_doc()).unwrap();
    /// assert_eq!(doc, Doc::parse_fast(text).unwrap());
    /// assert_eq!(Doc::parse_reusing(b"[1,]", |p| p.to_doc()), None);
    /// ```
    pub fn parse_reusing<R>(text: &[u8], f: impl FnOnce(Parsed<'_>) -> R) -> Option<R> {
        if text.len() > SCRATCH_TEXT_BYTES {
            return None;
        }
        let mut buf = SCRATCH.with(Cell::take);
        if buf.capacity() != SCRATCH_BYTES {
            // None reserved on this thread (or it was not kept): leave it so.
            SCRATCH.with(|s| s.set(buf));
            return None;
        }
        buf.clear();
        let (buf, len) = parse_into(text, buf);
        let result = len.map(|len| f(Parsed(&buf[..len])));
        // Kept only as reserved: had it grown (the bound above says it cannot), its memory
        // would appear in no key and move `used_memory`, so it would be freed instead.
        if buf.capacity() == SCRATCH_BYTES {
            SCRATCH.with(|s| s.set(buf));
        }
        result
    }
}

/// A document parsed by [`Doc::parse_reusing`], still in the thread's parse buffer.
pub struct Parsed<'a>(&'a [u8]);

impl Parsed<'_> {
    /// The document, in a block of exactly its size.
    pub fn to_doc(&self) -> Doc {
        Doc { buf: self.0.into() }
    }
}

/// The size of the parse buffer a thread keeps ([`Doc::reserve_scratch`]).
pub const SCRATCH_BYTES: usize = 16 * 1024;

/// The longest text parsed in the reserved buffer ([`Doc::parse_reusing`]): its encoding fits
/// the buffer whatever it holds. An encoding is at most 1.8x its text (`1e99,` is 5 bytes of
/// text, an 8-byte float and its tag), plus a long header held open for each of up to 127
/// nested containers.
pub const SCRATCH_TEXT_BYTES: usize = (SCRATCH_BYTES - 64 - LONG * MAX_DEPTH) / 2;

thread_local! {
    /// This thread's reserved parse buffer ([`Doc::reserve_scratch`]); empty if none.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Parses `text` into `buf` (whose capacity is the room to start with): the buffer back, and
/// the length of the encoding at its start if the fast path accepts the text.
fn parse_into(text: &[u8], buf: Vec<u8>) -> (Vec<u8>, Option<usize>) {
    // Every string length then fits the encoding's u32 fields (container bodies, which
    // can outgrow the text, are checked as they close); and once for the whole text: any
    // slice between two ASCII bytes is then UTF-8 too.
    if u32::try_from(text.len()).is_err() || std::str::from_utf8(text).is_err() {
        return (buf, None);
    }
    let mut p = Parser {
        text,
        pos: 0,
        out: Out {
            buf,
            len: 0,
            float: Vec::new(),
        },
        scratch: Vec::new(),
    };
    p.skip_ws();
    let parsed = p.value(0).is_some() && {
        p.skip_ws();
        p.pos == text.len()
    };
    let len = p.out.len;
    (p.out.buf, parsed.then_some(len))
}

/// How many bytes of room [`Out::grow`] adds at least.
const ROOM: usize = 512;

/// The encoding being written: `buf[..len]`. The bytes after `len` are room (zeros or stale
/// bytes), so that a fixed-size field is one fixed-size copy after one bounds check, where a
/// `Vec` push is a call.
struct Out {
    buf: Vec<u8>,
    len: usize,
    /// The encoding of one float, from `put_f64`.
    float: Vec<u8>,
}

impl Out {
    /// Appends `N` bytes.
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        if self.buf.len() - self.len < N {
            self.grow(N);
        }
        self.buf[self.len..self.len + N].copy_from_slice(&bytes);
        self.len += N;
    }

    /// Appends `bytes`.
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        if self.buf.len() - self.len < bytes.len() {
            self.grow(bytes.len());
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Makes room for `n` more bytes, a little at a time (the zeros are written just before the
    /// bytes that replace them) and within the capacity while it lasts (past it, the `Vec`
    /// grows by doubling).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        let room = (self.len + ROOM).min(self.buf.capacity());
        self.buf.resize(room.max(self.len + n), 0);
    }

    /// What `put_int` writes.
    #[inline]
    fn put_int(&mut self, v: i64) {
        if let Ok(v) = i8::try_from(v) {
            self.put([I8, v as u8]);
        } else if let Ok(v) = i16::try_from(v) {
            let [a, b] = v.to_le_bytes();
            self.put([I16, a, b]);
        } else if let Ok(v) = i32::try_from(v) {
            let [a, b, c, d] = v.to_le_bytes();
            self.put([I32, a, b, c, d]);
        } else {
            let [a, b, c, d, e, f, g, h] = v.to_le_bytes();
            self.put([I64, a, b, c, d, e, f, g, h]);
        }
    }

    /// What `put_u64` writes.
    #[inline]
    fn put_u64(&mut self, v: u64) {
        match i64::try_from(v) {
            Ok(v) => self.put_int(v),
            Err(_) => {
                let [a, b, c, d, e, f, g, h] = v.to_le_bytes();
                self.put([U64, a, b, c, d, e, f, g, h]);
            }
        }
    }

    /// What `put_str` writes for the first `len` (< `N` <= 255) bytes of `chunk`.
    #[inline(always)]
    fn put_short_str<const N: usize>(&mut self, len: usize, chunk: &[u8; N]) {
        if self.buf.len() - self.len < N + 2 {
            self.grow(N + 2);
        }
        let at = self.len;
        let out = &mut self.buf[at..at + N + 2];
        out[0] = STR8;
        out[1] = len as u8;
        out[2..].copy_from_slice(chunk);
        self.len = at + 2 + len;
    }

    /// What `put_str` writes (`s` is shorter than the text, so under 4 GiB).
    fn put_str(&mut self, s: &[u8]) {
        match u8::try_from(s.len()) {
            Ok(len) => self.put([STR8, len]),
            Err(_) => {
                let [a, b, c, d] = u32::try_from(s.len())
                    .expect("a string of a text under 4 GiB")
                    .to_le_bytes();
                self.put([STR32, a, b, c, d]);
            }
        }
        self.put_slice(s);
    }

    /// What `open` writes: a long header to be fixed by [`close`](Self::close).
    #[inline]
    fn open(&mut self) -> usize {
        let at = self.len;
        self.put([0; LONG]);
        at
    }

    /// What `try_close` does: the header of the container opened at `at`, short when its body
    /// and count fit a byte; `None` past the 4 GiB a long header can describe.
    #[inline]
    fn close(&mut self, at: usize, count: usize, object: bool) -> Option<()> {
        let body = self.len - at - LONG;
        if let (Ok(b), Ok(n)) = (u8::try_from(body), u8::try_from(count)) {
            self.buf.copy_within(at + LONG..self.len, at + SHORT);
            self.buf[at..at + SHORT].copy_from_slice(&[if object { OBJ8 } else { ARR8 }, b, n]);
            self.len -= LONG - SHORT;
        } else {
            let [b0, b1, b2, b3] = u32::try_from(body).ok()?.to_le_bytes();
            let [n0, n1, n2, n3] = u32::try_from(count).ok()?.to_le_bytes();
            let tag = if object { OBJ32 } else { ARR32 };
            self.buf[at..at + LONG].copy_from_slice(&[tag, b0, b1, b2, b3, n0, n1, n2, n3]);
        }
        Some(())
    }

    /// What `put_decimal` of `put_f64` writes for `m x 10^e` when that is the shortest decimal of
    /// its float.
    #[inline]
    fn put_decimal(&mut self, m: i32, e: i8) {
        let e = e as u8;
        if let Ok(m) = i8::try_from(m) {
            self.put([DEC8, m as u8, e]);
        } else if let Ok(m) = i16::try_from(m) {
            let [a, b] = m.to_le_bytes();
            self.put([DEC16, a, b, e]);
        } else {
            let [a, b, c, d] = m.to_le_bytes();
            self.put([DEC32, a, b, c, d, e]);
        }
    }

    /// What `put_f64` writes (it does the writing, into `float`).
    fn put_f64(&mut self, v: f64) {
        let mut float = std::mem::take(&mut self.float);
        float.clear();
        put_f64(&mut float, v);
        self.put_slice(&float);
        self.float = float;
    }

    /// Whether two members of the object whose body starts at `body` have the same name (for
    /// large objects, whose names [`repeats`] does not see).
    fn names_repeat(&self, body: usize) -> bool {
        let node = Node {
            buf: &self.buf[..self.len],
            at: 0,
        };
        let mut names: Vec<&[u8]> = node
            .children_from(body, true)
            .map(|(n, _)| n.map_or(&b""[..], |n| n.as_bytes()))
            .collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    }

    /// `dedup_members` on the object body at `body` with `count` members, the first at `names`.
    #[cold]
    fn dedup(&mut self, body: usize, count: usize, names: &[usize; SMALL_OBJECT]) -> usize {
        let mut members = self.buf[body..self.len].to_vec();
        let mut relative = [0; SMALL_OBJECT];
        for (r, &n) in relative.iter_mut().zip(names).take(count) {
            *r = n - body;
        }
        let count = dedup_members(&mut members, 0, count, &relative);
        self.len = body;
        self.put_slice(&members);
        count
    }
}

struct Parser<'t> {
    text: &'t [u8],
    pos: usize,
    out: Out,
    /// The decoded text of a string with escapes.
    scratch: Vec<u8>,
}

/// `0x0101010101010101`: one in every byte of a word.
const ONES: u64 = u64::from_ne_bytes([1; 8]);
/// `0x8080808080808080`: the top bit of every byte.
const HIGHS: u64 = ONES * 0x80;

/// Bytes that end the plain run of a string: `"`, `\\` and control characters.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The top bit of each byte of `w` that is `"`, `\\` or a control character is set (and maybe
/// some of the bytes above the first such byte: only the lowest set bit is exact). A byte
/// equal to `c` is a zero byte of `w ^ c`, and `(x - ONES) & !x & HIGHS` flags zero bytes;
/// `(w - 0x20 * ONES) & !w & HIGHS` likewise flags the bytes below `0x20`.
#[inline(always)]
fn specials(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) & !quote
        | backslash.wrapping_sub(ONES) & !backslash
        | w.wrapping_sub(ONES * 0x20) & !w)
        & HIGHS
}

/// The first `"`, `\\` or control character of `chunk`: `None` if there is none, else where
/// it is if it is a `"` (a string that ends there without an escape), `Some(None)` if it is
/// another one.
#[inline(always)]
fn quote_within(chunk: &[u8; 16]) -> Option<Option<usize>> {
    let lo = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
    let (word, found, base) = match specials(lo) {
        0 => (hi, specials(hi), 8),
        found => (lo, found, 0),
    };
    if found == 0 {
        return None;
    }
    // The first special byte, taken from the word (not loaded again).
    let bit = found.trailing_zeros();
    Some(((word >> (bit & !7)) as u8 == b'"').then_some(base + (bit / 8) as usize))
}

/// The first offset at or after `from` holding `"`, `\\` or a control character (`< 0x20`),
/// or `text.len()`: eight bytes at a time ([`specials`]; little endian, so the lowest flagged
/// byte is the first one).
fn plain_run_end(text: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = text.get(i..i + 8) {
        let found = specials(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < text.len() && !SPECIAL[text[i] as usize] {
        i += 1;
    }
    i
}

/// The bytes of the string whose encoding starts at `at` in `out`.
#[inline]
fn str_at(out: &[u8], at: usize) -> &[u8] {
    let (start, len) = if out[at] == STR8 {
        (at + 2, usize::from(out[at + 1]))
    } else {
        let len: [u8; 4] = out[at + 1..at + 5].try_into().expect("4 bytes");
        (at + 5, u32::from_le_bytes(len) as usize)
    };
    &out[start..start + len]
}

/// Whether two of the member names whose encodings start at `names` in `out` are equal. A key
/// per name (length, first and last byte) picks one bit of a word; only names whose bits
/// collide are compared (for a handful of names, that is rarely any).
fn repeats(out: &[u8], names: &[usize]) -> bool {
    let mut keys = [0u64; SMALL_OBJECT];
    let mut seen = 0u64;
    let mut collided = false;
    for (key, &at) in keys.iter_mut().zip(names) {
        let name = str_at(out, at);
        *key = match name {
            [] => 0,
            [first, .., last] | [first @ last] => {
                name.len() as u64 | u64::from(*first) << 32 | u64::from(*last) << 40
            }
        };
        let bit = 1 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        collided |= seen & bit != 0;
        seen |= bit;
    }
    if !collided {
        return false;
    }
    let keys = &keys[..names.len()];
    (1..keys.len()).any(|i| {
        (0..i).any(|j| keys[i] == keys[j] && str_at(out, names[i]) == str_at(out, names[j]))
    })
}

/// The value of an ASCII hex digit.
#[inline]
fn hex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

impl Parser<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Skips what serde_json takes for whitespace: space, `\t`, `\n`, `\r`.
    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next byte that is not whitespace, consumed (compact text: one test).
    #[inline(always)]
    fn next_token(&mut self) -> Option<u8> {
        match self.next()? {
            b' ' | b'\t' | b'\n' | b'\r' => {
                self.skip_ws();
                self.next()
            }
            b => Some(b),
        }
    }

    /// One value at `pos` (no whitespace before it), inside `depth` containers. Scalars are
    /// read right here, inlined into the container loops; only containers recurse.
    #[inline(always)]
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.string().map(drop)
            }
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true", TRUE),
            b'f' => self.literal(b"false", FALSE),
            b'n' => self.literal(b"null", NULL),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    #[inline(always)]
    fn literal<const N: usize>(&mut self, word: &[u8; N], tag: u8) -> Option<()> {
        if self.text.get(self.pos..self.pos + N)? != word {
            return None;
        }
        self.pos += N;
        self.out.put([tag]);
        Some(())
    }

    /// An array whose `[` is at `pos`, the `depth`-th container from the root.
    #[inline(never)]
    fn array(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let at = self.out.open();
        let mut count = 0;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                self.value(depth)?;
                count += 1;
                match self.next_token()? {
                    b',' => self.skip_ws(),
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.out.close(at, count, false)
    }

    /// An object whose `{` is at `pos`, the `depth`-th container from the root.
    #[inline(never)]
    fn object(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let at = self.out.open();
        let mut count = 0;
        // Where the first names start, as the serde path records them for `dedup_members`.
        let mut names = [0usize; SMALL_OBJECT];
        if self.next_token()? != b'}' {
            self.pos -= 1;
            loop {
                if self.next()? != b'"' {
                    return None;
                }
                if let Some(slot) = names.get_mut(count) {
                    *slot = self.out.len;
                }
                self.string()?;
                if self.next_token()? != b':' {
                    return None;
                }
                self.skip_ws();
                self.value(depth)?;
                count += 1;
                match self.next_token()? {
                    b',' => self.skip_ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        // `dedup_members` changes nothing in an object without repeated names: ask it only
        // when there is one (the serde path always asks).
        let body = at + LONG;
        let repeated = if count <= SMALL_OBJECT {
            repeats(&self.out.buf, &names[..count])
        } else {
            self.out.names_repeat(body)
        };
        if repeated {
            count = self.out.dedup(body, count, &names);
        }
        self.out.close(at, count, true)
    }

    /// A string whose opening `"` is just before `pos`; returns its decoded length.
    #[inline(always)]
    fn string(&mut self) -> Option<usize> {
        let start = self.pos;
        // Most strings (member names, short values) end within 16 or 32 bytes and have no
        // escape: find the end a word at a time, and copy 16 or 32 bytes as one block (the
        // bytes past the string are dropped again).
        if let Some(chunk) = self.text.get(start..start + 16) {
            let chunk: &[u8; 16] = chunk.try_into().expect("16 bytes");
            match quote_within(chunk) {
                Some(Some(len)) => {
                    self.out.put_short_str(len, chunk);
                    self.pos = start + len + 1;
                    return Some(len);
                }
                Some(None) => return self.long_string(start),
                None => {}
            }
            if let Some(chunk) = self.text.get(start..start + 32) {
                let chunk: &[u8; 32] = chunk.try_into().expect("32 bytes");
                let (_, second) = chunk.split_last_chunk::<16>().expect("16 of 32");
                if let Some(Some(len)) = quote_within(second) {
                    let len = 16 + len;
                    self.out.put_short_str(len, chunk);
                    self.pos = start + len + 1;
                    return Some(len);
                }
            }
        }
        self.long_string(start)
    }

    /// A string that [`string`](Self::string) did not finish: longer, or with an escape, or
    /// near the end of the text.
    #[inline(never)]
    fn long_string(&mut self, start: usize) -> Option<usize> {
        let end = plain_run_end(self.text, start);
        match self.text.get(end)? {
            b'"' => {
                self.out.put_str(&self.text[start..end]);
                self.pos = end + 1;
                Some(end - start)
            }
            b'\\' => self.escaped_string(start, end),
            // A control character: serde_json refuses it.
            _ => None,
        }
    }

    /// The rest of a string that starts at `start` and has an escape at `end`.
    fn escaped_string(&mut self, start: usize, mut end: usize) -> Option<usize> {
        self.scratch.clear();
        let mut from = start;
        loop {
            self.scratch.extend_from_slice(&self.text[from..end]);
            match self.text.get(end)? {
                b'"' => break,
                b'\\' => {
                    self.pos = end + 1;
                    self.escape()?;
                }
                _ => return None,
            }
            from = self.pos;
            end = plain_run_end(self.text, from);
        }
        self.pos = end + 1;
        self.out.put_str(&self.scratch);
        Some(self.scratch.len())
    }

    /// One escape after its `\\`, decoded into `scratch` as serde_json decodes it for a
    /// `&str`: surrogates must come in pairs (anything else is an error there: `None`).
    fn escape(&mut self) -> Option<()> {
        let b = match self.next()? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let n = self.hex4()?;
                let c = match n {
                    0xD800..=0xDBFF => {
                        if self.next()? != b'\\' || self.next()? != b'u' {
                            return None;
                        }
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    n => n,
                };
                let c = char::from_u32(c)?;
                let mut utf8 = [0; 4];
                self.scratch
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                return Some(());
            }
            _ => return None,
        };
        self.scratch.push(b);
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let d = self.text.get(self.pos..self.pos + 4)?;
        let n = (hex(d[0])? << 12) | (hex(d[1])? << 8) | (hex(d[2])? << 4) | hex(d[3])?;
        self.pos += 4;
        Some(n)
    }

    /// A number at `pos`, read as serde_json reads it (`deserialize_any`, `float_roundtrip`):
    /// - no fraction and no exponent: an integer. `0..=u64::MAX` is a `u64`, `-1..=-2^63` an
    ///   `i64`; `-0` and integers beyond those ranges are floats (`-0.0`, correctly rounded);
    /// - anything else is a float, correctly rounded, and out of range (infinite) an error.
    ///
    /// A float whose digits, without leading and trailing zeros, make a mantissa `m` with
    /// `1 <= |m| <= i32::MAX` and whose decimal exponent `e` is within `-22..=22` is stored as
    /// `m x 10^e` directly. That is what `put_f64` stores for the correctly rounded double `v`
    /// of the text: `m` and `10^|e|` are exact doubles (`|m| < 2^53`; `10^k = 2^k x 5^k` with
    /// `5^22 < 2^53`), so `v`, the correctly rounded `m x 10^e`, is what one IEEE operation
    /// gives (`m * 10^e` or `m / 10^-e`), and `put_f64`'s check (`float_matches`) holds. And
    /// `m x 10^e` is `v`'s shortest decimal: two different decimals of at most 15 significant
    /// digits never round to the same double (15 = `f64::DIGITS`; here `v` is normal), so no
    /// shorter decimal, and no other of the same length, reads back as `v` — which makes it
    /// the `(m, e)` that `shortest_decimal` finds (ryu's digits, trailing zeros moved into the
    /// exponent). One exception: `put_f64` stores whole numbers from 2^31 to 10^16 as 8 bytes
    /// (ryu spells them `12345678900.0`, whose digits overflow `shortest_decimal`'s
    /// mantissa), so those, like every other float, go to `put_f64` itself.
    fn number(&mut self) -> Option<()> {
        // A local cursor (stored back before anything is written).
        let text = self.text;
        let at = |i: usize| text.get(i).copied();
        let start = self.pos;
        let mut i = start;
        let negative = at(i) == Some(b'-');
        if negative {
            i += 1;
        }
        // The digits' value (wrapping: exact while `significant <= 19`), and how many digits
        // it has from the first non-zero one on.
        let mut m: u64 = 0;
        let mut significant = 0usize;
        // The integer part: `0` alone, or a digit 1-9 and any digits.
        let int_start = i;
        match at(i)? {
            b'0' => {
                i += 1;
                if let Some(b'0'..=b'9') = at(i) {
                    return None; // a leading zero
                }
            }
            b'1'..=b'9' => {
                while let Some(d @ b'0'..=b'9') = at(i) {
                    m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                    significant += 1;
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_end = i;
        let mut float = false;
        let mut fraction = 0usize;
        if at(i) == Some(b'.') {
            i += 1;
            float = true;
            let from = i;
            while let Some(d @ b'0'..=b'9') = at(i) {
                m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                // Not `m != 0`: a wrapped `m` can be 0 (20 digits of 2^64 are).
                if significant > 0 || d != b'0' {
                    significant += 1;
                }
                i += 1;
            }
            fraction = i - from;
            if fraction == 0 {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = at(i) {
            i += 1;
            float = true;
            let minus = match at(i)? {
                b'-' => {
                    i += 1;
                    true
                }
                b'+' => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let from = i;
            while let Some(d @ b'0'..=b'9') = at(i) {
                // Saturates far beyond any exponent stored as a decimal.
                exp = (exp * 10 + i64::from(d - b'0')).min(1 << 40);
                i += 1;
            }
            if i == from {
                return None;
            }
            if minus {
                exp = -exp;
            }
        }
        self.pos = i;
        if !float {
            let v = if significant <= 19 {
                m
            } else {
                let digits = &text[int_start..int_end];
                match digits.iter().try_fold(0u64, |v, &d| {
                    v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                }) {
                    Some(v) => v,
                    None => return self.float_slow(start),
                }
            };
            if !negative {
                self.out.put_u64(v);
            } else if v == 0 || v > 1 << 63 {
                // `-0` and below i64::MIN: floats, as serde_json reads them.
                return self.float_slow(start);
            } else {
                self.out.put_int((v as i64).wrapping_neg());
            }
            return Some(());
        }
        if significant > 19 {
            return self.float_slow(start);
        }
        if m == 0 {
            // Zero times any power of ten, as serde_json reads it.
            self.out.put_f64(if negative { -0.0 } else { 0.0 });
            return Some(());
        }
        // The fraction's leading zeros can be many (up to the text's length).
        let mut e = exp - i64::try_from(fraction).ok()?;
        while m.is_multiple_of(10) {
            m /= 10;
            e += 1;
        }
        match (i32::try_from(m), i8::try_from(e)) {
            (Ok(m32), Ok(e))
                if (-22..=-1).contains(&e)
                    || (0..=9).contains(&e) && m * 10u64.pow(e as u32) <= i32::MAX as u64 =>
            {
                self.out.put_decimal(if negative { -m32 } else { m32 }, e);
                Some(())
            }
            _ => self.float_slow(start),
        }
    }

    /// The number from `start` to `pos` (valid JSON number syntax) as a float, correctly
    /// rounded by `str::parse` as serde_json's `float_roundtrip` rounds it; `None` when it is
    /// out of range (serde_json: `number out of range`).
    #[cold]
    fn float_slow(&mut self, start: usize) -> Option<()> {
        // The number grammar is ASCII, so this is a `str` (the text was checked to be UTF-8).
        let text = std::str::from_utf8(&self.text[start..self.pos]).ok()?;
        let v: f64 = text.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        self.out.put_f64(v);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reserved buffer gives what `parse_fast` gives, for every text it takes, and stays
    /// the size it was reserved at, even for the texts that expand the most.
    #[test]
    fn the_reserved_buffer_parses_like_parse_fast_and_never_grows() {
        let limit = SCRATCH_TEXT_BYTES;
        let nested = format!("{}1e99{}", "[".repeat(125), "]".repeat(125));
        let mut floats = String::from("[");
        while floats.len() + 5 < limit - nested.len() {
            floats.push_str("1e99,");
        }
        floats.push_str(&nested);
        floats.push(']');
        let empties = format!("[{}[]]", "[],".repeat((limit - 4) / 3));
        let texts = [
            r#"{"id":1,"name":"user-000001","tags":["a","b"],"score":0.5,"active":false}"#,
            "[1,2,3]",
            "\"x\"",
            r#"{"a":1,"a":2}"#,
            floats.as_str(),
            empties.as_str(),
        ];
        // Nothing reserved on this thread yet: declined, the caller parses the usual way.
        assert!(Doc::parse_reusing(b"[1]", |p| p.to_doc()).is_none());
        Doc::reserve_scratch();
        for text in texts {
            assert!(text.len() <= limit, "{} > {limit}", text.len());
            let reused = Doc::parse_reusing(text.as_bytes(), |p| p.to_doc());
            assert_eq!(reused, Doc::parse_fast(text.as_bytes()), "{text:.60}");
            assert!(reused.is_some(), "{text:.60}");
            SCRATCH.with(|s| {
                let kept = s.take();
                assert_eq!(kept.capacity(), SCRATCH_BYTES, "after {text:.60}");
                s.set(kept);
            });
        }
        // What the fast path declines, or what is too long for the buffer, is left to the caller.
        assert!(Doc::parse_reusing(b"[1,]", |p| p.to_doc()).is_none());
        let long = format!("[{}1]", "1,".repeat(limit / 2));
        assert!(Doc::parse_reusing(long.as_bytes(), |p| p.to_doc()).is_none());
        assert!(Doc::parse_fast(long.as_bytes()).is_some());
    }

    /// The fast path accepts `text` and builds what the serde path builds.
    #[track_caller]
    fn same(text: &str) {
        let fast = Doc::parse_fast(text.as_bytes())
            .unwrap_or_else(|| panic!("the fast path refuses {text:?}"));
        let serde = Doc::parse_serde(text.as_bytes()).expect("serde_json accepts it");
        assert_eq!(fast.bytes(), serde.bytes(), "{text}");
    }

    /// The fast path leaves `text` to serde_json.
    #[track_caller]
    fn declines(text: &str) {
        assert!(Doc::parse_fast(text.as_bytes()).is_none(), "{text:?}");
    }

    fn bench_doc(records: usize) -> String {
        let items: Vec<String> = (0..records)
            .map(|i| {
                format!(
                    r#"{{"active":{},"email":"u{i}@example.com","id":{i},"name":"user-{i:06}","score":{:?},"tags":["a","b"]}}"#,
                    i % 2 == 0,
                    i as f64 * 0.5
                )
            })
            .collect();
        format!(r#"{{"items":[{}]}}"#, items.join(","))
    }

    #[test]
    fn typical_documents_take_the_fast_path() {
        let bench = bench_doc(100);
        assert!(bench.len() > 10_000);
        same(&bench);
        same(&bench_doc(1));
        same(
            r#" {"f": [0.5, -2.25, 1e-7, 3.14159, 1E+2, 100.0, 0.001, -1.5e3, 847.434],
                 "s": "tab\there \"q\" \\ \/ \b\f\n\r \u00e9\u20AC\ud83d\ude00 é €",
                 "n": {"a": {"b": [[[], {}], [null, true, false]]}},
                 "i": [0, -1, 127, -128, 40000, 2147483648, 9223372036854775807,
                       -9223372036854775808, 18446744073709551615]} "#,
        );
        let deep = format!("{}{}", "[".repeat(125), "]".repeat(125));
        same(&deep);
        same(r#"{"a":1,"b":2,"a":3}"#);
        same(r#"{"a":1,"\u0061":2,"abcdefgh1":3,"abcdefgh2":4,"abcdefgh1":[5]}"#);
        same(r#"{"abcdefghij":1,"abcdefghik":2,"":3,"\u0000":4,"":{"":5}}"#);
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", i % 20)).collect();
        same(&format!("{{{}}}", many.join(",")));
        let unique: Vec<String> = (0..40).map(|i| format!("\"k{i}\":[{i}]")).collect();
        same(&format!("{{{}}}", unique.join(",")));
        same(&format!(
            r#"["{}",{{"{}":1}}]"#,
            "x".repeat(300),
            "y".repeat(70_000)
        ));
    }

    #[test]
    fn numbers_are_stored_as_the_serde_path_stores_them() {
        for t in [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0e5",
            "-0E-5",
            "1",
            "-1",
            "1.0",
            "1e2",
            "1E+2",
            "1e-2",
            "1E-7",
            "0.1e-2",
            "1e22",
            "1e23",
            "-1e22",
            "1e-22",
            "1e-23",
            "9007199254740993",
            "9007199254740993.0",
            "123456789012345678",
            "123456789012345678.0",
            "1234567890123456789e5",
            "1234567890123456789.5e5",
            "1538906370e1",
            "2147483647.0",
            "2147483648.0",
            "2e9",
            "3e9",
            "2e16",
            "-1e10",
            "1234567890.12345",
            "2147483647e0",
            "2147483648e0",
            "-2147483648.0",
            "-2147483649.0",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "-18446744073709551616",
            "123456789012345678901234567890",
            "1.7976931348623157e308",
            "5e-324",
            "1e-400",
            "-1e-400",
            "1e-99999999999999999999",
            "0e99999999999999999999",
            "0.30000000000000004",
            "1.00000000000000000000000000001",
            "100000000000000000000000000000e-29",
            "0.000000000000000000000000000001",
            // 20 significant digits whose value wraps a u64 to exactly 0 (fuzzer's find).
            "1844674.4073709551616",
            "0.18446744073709551616",
            "18446744073709551616.0",
            "-36893488147419103232e-5",
        ] {
            same(t);
            same(&format!("[{t}]"));
        }
    }

    #[test]
    fn short_decimals_are_written_without_float_arithmetic_as_put_f64_writes_them() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits =
                (x >> 24) % [10, 1000, 100_000, 10_000_000, 3_000_000_000][(x % 5) as usize];
            let e = (x >> 8) % 50;
            let sign = if x & 0x80 == 0 { "" } else { "-" };
            let t = format!("{sign}{digits}e{}", e as i64 - 25);
            same(&t);
            let frac = (x >> 16) % 12;
            let s = format!("{digits:012}");
            let (int, f) = s.split_at(12 - frac as usize);
            let int = int.trim_start_matches('0');
            let t = format!(
                "{sign}{}.{}",
                if int.is_empty() { "0" } else { int },
                if f.is_empty() { "0" } else { f }
            );
            same(&t);
        }
    }

    /// The fast path and the serde path agree on `text`: the same bytes, or the fast path
    /// declines. Returns whether the fast path accepted it.
    #[track_caller]
    fn agree(text: &str) -> bool {
        match (
            Doc::parse_fast(text.as_bytes()),
            Doc::parse_serde(text.as_bytes()),
        ) {
            (Some(fast), Ok(serde)) => {
                assert_eq!(fast.bytes(), serde.bytes(), "{text}");
                true
            }
            (Some(_), Err(e)) => panic!("the fast path accepts {text:?}, serde_json says {e}"),
            (None, _) => false,
        }
    }

    #[test]
    fn long_and_extreme_numbers_round_as_serde_json_rounds_them() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let r = next();
            let digits: String = (0..1 + r % 40)
                .map(|i| char::from(b'0' + ((next() >> (i % 8)) % 10) as u8))
                .collect();
            let digits = digits.trim_start_matches('0');
            let int = if digits.is_empty() { "0" } else { digits };
            let sign = if r & 1 == 0 { "" } else { "-" };
            let exp = (next() % 700) as i64 - 350;
            let split = (next() as usize) % (int.len() + 1);
            let (a, b) = int.split_at(split);
            let a = if a.is_empty() { "0" } else { a };
            for text in [
                format!("{sign}{int}"),
                format!("{sign}{int}e{exp}"),
                format!("{sign}{a}.{b}0"),
                format!("{sign}{a}.{b}1E{exp}"),
                format!("{sign}0.{}{int}", "0".repeat((next() % 30) as usize)),
            ] {
                accepted += usize::from(agree(&text));
            }
        }
        // Most of them are in range (the rest, `1e300`-like out of range ones, are declined).
        assert!(accepted > 80_000, "{accepted}");
    }

    #[test]
    fn anything_unsure_is_left_to_serde_json() {
        for t in [
            "",
            " ",
            "[1,]",
            "{\"a\":1,}",
            "[1 2]",
            "01",
            "-",
            "-a",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            "truex",
            "[1]x",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\ud800x\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "\"abc",
            "{\"a\" 1}",
            "{1:2}",
            "1e400",
            "-1e400",
            "[1]\u{c}",
        ] {
            declines(t);
            assert_eq!(
                Doc::parse(t.as_bytes()).is_ok(),
                Doc::parse_serde(t.as_bytes()).is_ok(),
                "{t:?}"
            );
        }
        declines(&format!("{}{}", "[".repeat(127), "]".repeat(127)));
        declines(&format!("{}{}", "[".repeat(128), "]".repeat(128)));
        assert!(Doc::parse_fast(b"\"\xff\"").is_none());
        assert!(Doc::parse_fast(b"[1] \xff").is_none());
    }

    #[test]
    fn strings_of_every_short_length_near_the_end_of_the_text() {
        for len in 0..40 {
            let x = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let far = format!("{}]", " ".repeat(40));
            for (before, after) in [("", ""), ("[", "]"), ("[", "            ]"), ("[", &far)] {
                same(&format!("{before}\"{x}\"{after}"));
                same(&format!("{before}{{\"{x}\":\"{x}\",\"{x}\":1}}{after}"));
                for esc in ["\\n", "\\u00e9", "\\\\", "\\\""] {
                    for i in 0..=x.len() {
                        if x.is_char_boundary(i) {
                            same(&format!("{before}\"{}{esc}{}\"{after}", &x[..i], &x[i..]));
                        }
                    }
                }
                declines(&format!("{before}\"{x}\u{1f}\"{after}"));
                declines(&format!("{before}\"{x}{after}"));
            }
        }
    }

    #[test]
    fn plain_runs_end_at_quotes_backslashes_and_control_characters() {
        let text = b"abcdefghijklmnopqrstuvwxyz\xc3\xa9\x7f~";
        for i in 0..text.len() {
            for special in [b'"', b'\\', 0, 0x1f, b'\n'] {
                let mut t = text.to_vec();
                t[i] = special;
                for from in 0..=i {
                    assert_eq!(plain_run_end(&t, from), i, "{i} {from} {special}");
                }
            }
            assert_eq!(plain_run_end(text, i), text.len());
        }
    }
}
