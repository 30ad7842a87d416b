//! The path language of every command that takes a path, and of `json.fmt` placeholders:
//! RedisJSON 2.8's JSONPath (with its legacy form) plus RFC 6901 JSON Pointer. Pure functions of
//! bytes and values (fuzzable, no Redis).
//!
//! ```text
//! path      = "$" segment*                 JSONPath: $  $.a.b[0]  $..x  $[1:3]  $[?(@.n > 1)]
//!           | legacy                        anything else not starting with '/': ".", ".a.b",
//!                                           "a.b", "[0]", ".a[0]" (read as "$" + it, or "$." + it)
//!           | "" | "/" pointer              RFC 6901 JSON Pointer: /a/b/0   (~0 is '~', ~1 is '/')
//! segment   = "." name | ".*" | ".." (name | "*" | "[" bracket "]") | "."? "[" bracket "]"
//! bracket   = "*" | index ("," index)* | quoted ("," quoted)* | slice | "?" filter
//! name      = 1*( ALPHA / DIGIT / - _ ` ~ + # % $ ^ / : )
//! index     = ["-"] digits                  no leading zeros; negative counts from the end
//!                                           (and, as in RedisJSON, clamps to the first element)
//! slice     = [index] ":" [index] [":" [step]]   end exclusive; step >= 1
//! quoted    = '"' chars '"' | "'" chars "'"  (backslash escapes the quote and itself)
//! filter    = or          or = and ("||" and)*    and = test ("&&" test)*
//! test      = term [op term] | "(" or ")"    op = == != < <= > >= =~ (regular expression)
//! term      = "@" [rel] | "$" [rel] | number | quoted | true | false | null
//! ```
//! Spaces are allowed between tokens. `..` selects at the value itself and at every value
//! below it (pre-order); `[?(...)]` keeps the elements of an array (the member values of an
//! object, or a scalar itself) for which the filter holds. `@.x` (`$.x`) in a filter is the
//! value that path selects from the element (the root) when it selects exactly one.
//!
//! A `$` path replies one entry per match; a legacy path (or a JSON Pointer) replies its first
//! match ([`Path::legacy`]). Matches can repeat (`$[0,0]`) and nest (`$..*`).

use crate::doc::{Kind, Node};
use std::cmp::Ordering;
use std::fmt;

/// A member name in a path: kept inline up to 23 bytes (no allocation for the usual name, so
/// parsing `$.items[3].score` allocates only the list of segments).
pub type Name = smol_str::SmolStr;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A JSON Pointer token: an object member, or (if a canonical number) an array element.
    Key(Name),
    /// An object member (`.name`, `['name']`).
    Member(Name),
    /// Object members in this order (`['a','b']`).
    Members(Vec<Name>),
    /// An array element (negative: from the end, clamped to the first element).
    Index(i64),
    /// Array elements in this order (`[0,2,-1]`).
    Indexes(Vec<i64>),
    /// Array elements `start..end` by `step` (`[1:3]`, `[::2]`).
    Slice {
        /// First index (default 0).
        start: Option<i64>,
        /// End index, exclusive (default the length).
        end: Option<i64>,
        /// Step, at least 1.
        step: usize,
    },
    /// Every member or element.
    Wildcard,
    /// `..`: the rest of the path applies to this value and to every value below it.
    Descend,
    /// `[?(...)]`.
    Filter(Box<Expr>),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Any of these holds.
    Or(Vec<Expr>),
    /// All of these hold.
    And(Vec<Expr>),
    /// The term exists (a path selecting exactly one value; any literal).
    Exists(Term),
    /// A comparison.
    Cmp(Term, Op, Term),
    /// `term =~ pattern`: the term is a string the regular expression matches.
    Match(Term, Pattern),
}

/// The right side of `=~`, as RedisJSON reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// A string literal without quotes or backslashes inside, compiled once (`None`: not a
    /// valid regular expression, which matches nothing).
    Fixed(Option<Regex>),
    /// A path: its value, if a string, is the regular expression.
    Dynamic(Term),
    /// Anything else matches nothing (RedisJSON: a literal with an escape, a number, ...).
    Never,
}

/// A compiled regular expression (compared by its text).
#[derive(Debug, Clone)]
pub struct Regex(pub regex::Regex);

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// Compiles a pattern as RedisJSON does (`Regex::new`), within bounded memory.
fn compile_regex(p: &str) -> Option<Regex> {
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .ok()
        .map(Regex)
}

/// What one compilation of a pattern taken from the document costs, in budget steps.
const REGEX_STEPS: usize = 1000;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=~` (a regular expression; parsed into [`Expr::Match`])
    Re,
}

/// An operand of a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// `@...`: relative to the element being filtered.
    Current(Vec<Segment>),
    /// `$...`: from the document's root.
    Root(Vec<Segment>),
    /// An integer literal.
    Int(i64),
    /// A decimal literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// `true`/`false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A parsed path: its segments and whether it is a legacy path (first match only).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The steps from the root.
    pub segments: Vec<Segment>,
    /// A legacy path (`.a`, `a`, `.`) or a JSON Pointer: commands reply its first match (or an
    /// error), not one entry per match.
    pub legacy: bool,
}

impl Path {
    /// Whether this is the root itself (`$`, `.`, or the empty pointer).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }
}

/// A path that does not parse: what is wrong and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// What is wrong.
    pub reason: &'static str,
    /// Byte offset in the path.
    pub at: usize,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path: {} at byte {}", self.reason, self.at)
    }
}

/// Parses a path (see the module docs for the grammar); only its segments.
pub fn parse(path: &[u8]) -> Result<Vec<Segment>, PathError> {
    parse_path(path).map(|p| p.segments)
}

/// Parses a path, telling a `$` path from a legacy one (RedisJSON's rule: a path is a `$`
/// path when it is `$` or starts with `$.` or `$[`; JSON Pointers count as legacy).
pub fn parse_path(path: &[u8]) -> Result<Path, PathError> {
    match path {
        [] => Ok(Path {
            segments: Vec::new(),
            legacy: true,
        }),
        [b'/', ..] => parse_pointer(path).map(|segments| Path {
            segments,
            legacy: true,
        }),
        [b'$'] | [b'$', b'.' | b'[', ..] => Ok(Path {
            segments: Parser::new(path, 0).query()?,
            legacy: false,
        }),
        // Legacy: "." is the root, ".a" reads "$.a", anything else "$." + it. Offsets in errors
        // stay those of the text as given.
        [b'.'] => Ok(Path {
            segments: Vec::new(),
            legacy: true,
        }),
        [b'.', ..] => {
            let mut p = Parser::new(path, 0);
            let segments = p.root()?;
            Ok(Path {
                segments,
                legacy: true,
            })
        }
        _ => {
            let mut p = Parser::new(path, 0);
            let segments = p.root_after_dot()?;
            Ok(Path {
                segments,
                legacy: true,
            })
        }
    }
}

fn parse_pointer(path: &[u8]) -> Result<Vec<Segment>, PathError> {
    let text = std::str::from_utf8(path).map_err(|e| PathError {
        reason: "not UTF-8",
        at: e.valid_up_to(),
    })?;
    let mut out = Vec::new();
    let mut offset = 1;
    for token in text[1..].split('/') {
        let mut key = String::with_capacity(token.len());
        let mut chars = token.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some((_, '0')) => key.push('~'),
                    Some((_, '1')) => key.push('/'),
                    _ => {
                        return Err(PathError {
                            reason: "'~' must be followed by 0 or 1",
                            at: offset + i,
                        });
                    }
                }
            } else {
                key.push(c);
            }
        }
        // A pointer token is both a member name and (if numeric) an index: decided per value.
        out.push(Segment::Key(key.into()));
        offset += token.len() + 1;
    }
    Ok(out)
}

/// The deepest filter nesting accepted (parentheses and nested `@` paths): bounds the
/// parser's and the evaluator's recursion.
const MAX_NESTING: usize = 32;

struct Parser<'p> {
    s: &'p [u8],
    i: usize,
    depth: usize,
    /// Whether the last quoted string had no quote or backslash inside (RedisJSON's plain
    /// string literal, the only kind `=~` reads as a pattern).
    plain: bool,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_`~+#%$^/:".contains(&b)
}

impl<'p> Parser<'p> {
    fn new(s: &'p [u8], i: usize) -> Self {
        Parser {
            s,
            i,
            depth: 0,
            plain: true,
        }
    }

    fn err<T>(&self, reason: &'static str) -> Result<T, PathError> {
        Err(PathError { reason, at: self.i })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.spaces();
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, t: &[u8]) -> bool {
        self.spaces();
        if self.s[self.i..].starts_with(t) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn at_end(&mut self) -> bool {
        self.spaces();
        self.i >= self.s.len()
    }

    /// `"$" segment* EOI`.
    fn query(&mut self) -> Result<Vec<Segment>, PathError> {
        self.i = 1; // past '$'
        let segs = self.segments(false)?;
        if !self.at_end() {
            return self.err("expected '.', '..' or '['");
        }
        Ok(segs)
    }

    /// Legacy `.a...`: segments to the end.
    fn root(&mut self) -> Result<Vec<Segment>, PathError> {
        let segs = self.segments(false)?;
        if !self.at_end() {
            return self.err("expected '.', '..' or '['");
        }
        Ok(segs)
    }

    /// Legacy `a.b` (read as `$.a.b`): a first name or `*` or bracket, then segments.
    fn root_after_dot(&mut self) -> Result<Vec<Segment>, PathError> {
        let segs = self.segments(true)?;
        if segs.is_empty() {
            return self.err("expected a member name, '*' or '['");
        }
        if !self.at_end() {
            return self.err("expected '.', '..' or '['");
        }
        Ok(segs)
    }

    /// Segments until something that is not one. `first`: a bare name or `*` may start.
    fn segments(&mut self, mut first: bool) -> Result<Vec<Segment>, PathError> {
        let mut out = Vec::new();
        loop {
            self.spaces();
            match self.peek() {
                Some(b'.') if self.s.get(self.i + 1) == Some(&b'.') => {
                    self.i += 2;
                    out.push(Segment::Descend);
                    self.spaces();
                    match self.peek() {
                        Some(b'*') => {
                            self.i += 1;
                            out.push(Segment::Wildcard);
                        }
                        Some(b'[') => {
                            self.i += 1;
                            out.push(self.bracket()?);
                        }
                        Some(b) if is_name_byte(b) => out.push(Segment::Member(self.name())),
                        _ => return self.err("expected a member name, '*' or '[' after '..'"),
                    }
                }
                Some(b'.') => {
                    self.i += 1;
                    self.spaces();
                    match self.peek() {
                        Some(b'*') => {
                            self.i += 1;
                            out.push(Segment::Wildcard);
                        }
                        Some(b'[') => {
                            self.i += 1;
                            out.push(self.bracket()?);
                        }
                        Some(b) if is_name_byte(b) => out.push(Segment::Member(self.name())),
                        _ => return self.err("expected a member name after '.'"),
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    out.push(self.bracket()?);
                }
                Some(b'*') if first => {
                    self.i += 1;
                    out.push(Segment::Wildcard);
                }
                Some(b) if first && is_name_byte(b) => out.push(Segment::Member(self.name())),
                _ => return Ok(out),
            }
            first = false;
        }
    }

    fn name(&mut self) -> Name {
        let start = self.i;
        while self.peek().is_some_and(is_name_byte) {
            self.i += 1;
        }
        Name::new(
            std::str::from_utf8(&self.s[start..self.i]).expect("only ASCII bytes are name bytes"),
        )
    }

    /// After `[`: the bracket's content and `]`.
    fn bracket(&mut self) -> Result<Segment, PathError> {
        self.spaces();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Segment::Wildcard
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![Name::from(self.quoted()?)];
                while self.eat(b',') {
                    self.spaces();
                    if !matches!(self.peek(), Some(b'\'' | b'"')) {
                        return self.err("expected a quoted name");
                    }
                    names.push(self.quoted()?.into());
                }
                if names.len() == 1 {
                    Segment::Member(names.pop().expect("one name"))
                } else {
                    Segment::Members(names)
                }
            }
            Some(b'?') => {
                // `[?(...)]`, or without the parentheses (`[?@.n > 1]`), as RedisJSON reads it.
                self.i += 1;
                Segment::Filter(Box::new(self.or()?))
            }
            Some(b':') => self.slice(None)?,
            _ => {
                let first = self.index()?;
                self.spaces();
                match self.peek() {
                    Some(b':') => self.slice(Some(first))?,
                    Some(b',') => {
                        let mut all = vec![first];
                        while self.eat(b',') {
                            all.push(self.index()?);
                        }
                        Segment::Indexes(all)
                    }
                    _ => Segment::Index(first),
                }
            }
        };
        if !self.eat(b']') {
            return self.err("expected ']'");
        }
        Ok(seg)
    }

    /// At `:` (after an optional start): `[start]:[end][:[step]]`.
    fn slice(&mut self, start: Option<i64>) -> Result<Segment, PathError> {
        self.i += 1; // ':'
        self.spaces();
        let end = match self.peek() {
            Some(b'-' | b'0'..=b'9') => Some(self.index()?),
            _ => None,
        };
        let mut step = 1;
        if self.eat(b':') {
            self.spaces();
            if let Some(b'1'..=b'9') = self.peek() {
                let at = self.i;
                let n = self.index()?;
                step = usize::try_from(n).map_err(|_| PathError {
                    reason: "a slice step is a positive number",
                    at,
                })?;
            }
        }
        Ok(Segment::Slice { start, end, step })
    }

    /// `-?[1-9][0-9]* | -?[0-9]`.
    fn index(&mut self) -> Result<i64, PathError> {
        self.spaces();
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let text = &self.s[digits..self.i];
        if text.is_empty() || (text.len() > 1 && text[0] == b'0') {
            self.i = start;
            return self.err("expected an index, a slice, '*', '?' or a quoted name");
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(PathError {
                reason: "index out of range",
                at: start,
            })
    }

    /// At a quote: the name (backslash escapes the quote and itself).
    fn quoted(&mut self) -> Result<String, PathError> {
        let q = self.s[self.i];
        self.i += 1;
        let start = self.i;
        let mut key = Vec::new();
        loop {
            match self.peek() {
                None => return self.err("unterminated quoted name"),
                Some(b'\\') => match self.s.get(self.i + 1) {
                    Some(&c) if c == q || c == b'\\' => {
                        key.push(c);
                        self.i += 2;
                    }
                    _ => {
                        self.i += 1;
                        return self.err("a backslash escapes only the quote or a backslash");
                    }
                },
                Some(c) if c == q => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    key.push(c);
                    self.i += 1;
                }
            }
        }
        self.plain = !self.s[start..self.i - 1]
            .iter()
            .any(|b| matches!(b, b'"' | b'\'' | b'\\'));
        String::from_utf8(key).map_err(|_| PathError {
            reason: "member name is not UTF-8",
            at: self.i,
        })
    }

    fn nest(&mut self) -> Result<(), PathError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err("filter nested too deeply");
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, PathError> {
        self.nest()?;
        let mut any = vec![self.and()?];
        while self.eat_str(b"||") {
            any.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if any.len() == 1 {
            any.pop().expect("one")
        } else {
            Expr::Or(any)
        })
    }

    fn and(&mut self) -> Result<Expr, PathError> {
        let mut all = vec![self.test()?];
        while self.eat_str(b"&&") {
            all.push(self.test()?);
        }
        Ok(if all.len() == 1 {
            all.pop().expect("one")
        } else {
            Expr::And(all)
        })
    }

    fn test(&mut self) -> Result<Expr, PathError> {
        if self.eat(b'(') {
            let e = self.or()?;
            if !self.eat(b')') {
                return self.err("expected ')'");
            }
            return Ok(e);
        }
        let left = self.term()?;
        self.spaces();
        let op = if self.eat_str(b"==") {
            Op::Eq
        } else if self.eat_str(b"!=") {
            Op::Ne
        } else if self.eat_str(b"<=") {
            Op::Le
        } else if self.eat_str(b">=") {
            Op::Ge
        } else if self.eat_str(b"=~") {
            Op::Re
        } else if self.eat_str(b"<") {
            Op::Lt
        } else if self.eat_str(b">") {
            Op::Gt
        } else {
            return Ok(Expr::Exists(left));
        };
        let right = self.term()?;
        if op == Op::Re {
            let pattern = match right {
                Term::Str(p) if self.plain => Pattern::Fixed(compile_regex(&p)),
                t @ (Term::Current(_) | Term::Root(_)) => Pattern::Dynamic(t),
                _ => Pattern::Never,
            };
            return Ok(Expr::Match(left, pattern));
        }
        Ok(Expr::Cmp(left, op, right))
    }

    fn term(&mut self) -> Result<Term, PathError> {
        self.spaces();
        match self.peek() {
            Some(c @ (b'@' | b'$')) => {
                self.i += 1;
                self.nest()?;
                let segs = self.segments(true)?;
                self.depth -= 1;
                Ok(if c == b'@' {
                    Term::Current(segs)
                } else {
                    Term::Root(segs)
                })
            }
            Some(b'\'' | b'"') => self.quoted().map(Term::Str),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.index()?;
                let mut float = false;
                if self.peek() == Some(b'.')
                    && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)
                {
                    float = true;
                    self.i += 1;
                    while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                        self.i += 1;
                    }
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
                if !float && let Ok(i) = text.parse::<i64>() {
                    return Ok(Term::Int(i));
                }
                Ok(Term::Float(text.parse::<f64>().unwrap_or(0.0)))
            }
            _ if self.eat_str(b"true") => Ok(Term::Bool(true)),
            _ if self.eat_str(b"false") => Ok(Term::Bool(false)),
            _ if self.eat_str(b"null") => Ok(Term::Null),
            _ => self.err("expected '@', '$', a number, a string, true, false or null"),
        }
    }
}

/// The values `path` selects in the document under `root`, in RedisJSON's order (document
/// order for the plain forms; unions in the order written; `..` pre-order). Matches can repeat
/// and nest.
///
/// Finding an array element or an object member walks the container's children; to select
/// many paths in one document, use a [`Selector`], which indexes large containers once.
///
/// The walk is bounded ([`budget`]): a path whose evaluation would take more steps than that
/// (`$..*..*..*`, filters with `..` inside `..`) stops and selects nothing more; commands
/// use [`try_select`], which reports it.
pub fn select<'a>(root: Node<'a>, path: &[Segment]) -> Vec<Node<'a>> {
    try_select(root, path).unwrap_or_else(|e| e.partial)
}

/// What [`select`] finds, or [`TooCostly`] if the walk needed more than [`budget`] steps.
pub fn try_select<'a>(root: Node<'a>, path: &[Segment]) -> Result<Vec<Node<'a>>, TooCostly<'a>> {
    let mut out = Vec::new();
    let mut find = Direct::new(budget(root));
    walk(root, root, path, &mut out, &mut find);
    if find.left == 0 {
        return Err(TooCostly {
            steps: budget(root),
            partial: out,
        });
    }
    Ok(out)
}

/// How many steps (values visited, filter terms included) one path may take on the document
/// under `root`: 1,000,000 plus 32 per byte of its encoding, enough for any path without
/// nested recursive descents, and a bound on the ones with them.
pub fn budget(root: Node<'_>) -> usize {
    1_000_000usize.saturating_add(root.encoded().len().saturating_mul(32))
}

/// A path that needs more steps than [`budget`] allows on this document.
#[derive(Debug)]
pub struct TooCostly<'a> {
    /// The budget that ran out.
    pub steps: usize,
    /// What was selected before it did.
    pub partial: Vec<Node<'a>>,
}

impl fmt::Display for TooCostly<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the path needs more than {} steps on this document; select less at once",
            self.steps
        )
    }
}

/// The first value `path` selects (what a legacy path replies).
pub fn first<'a>(root: Node<'a>, path: &[Segment]) -> Option<Node<'a>> {
    select(root, path).into_iter().next()
}

/// [`first`], reporting a path that is too costly.
pub fn try_first<'a>(root: Node<'a>, path: &[Segment]) -> Result<Option<Node<'a>>, TooCostly<'a>> {
    try_select(root, path).map(|v| v.into_iter().next())
}

/// Selects many paths in one document at a bounded cost: the first lookup in an array or
/// object of more than [`Selector::INDEXED`] children records where each child starts, so
/// later lookups in it (any index, any name) cost O(1) instead of a walk over the container.
/// A template with thousands of `{$[-k]}` placeholders on a 1M-element array thus costs one
/// walk of the array, not one per placeholder.
///
/// ```
/// use rmkit_json::doc::Doc;
/// use rmkit_json::path::{Selector, parse};
///
/// let doc = Doc::parse(b"[10, 20, 30]").unwrap();
/// let mut sel = Selector::new(doc.root());
/// assert_eq!(sel.select(&parse(b"$[-1]").unwrap()).unwrap()[0].to_json(), b"30");
/// assert_eq!(sel.select(&parse(b"$[0]").unwrap()).unwrap()[0].to_json(), b"10");
/// ```
pub struct Selector<'a> {
    root: Node<'a>,
    lookup: Cached<'a>,
}

impl<'a> Selector<'a> {
    /// Containers with more children than this are indexed on first lookup.
    pub const INDEXED: usize = 32;

    /// A selector over the document under `root`.
    pub fn new(root: Node<'a>) -> Self {
        Selector {
            root,
            lookup: Cached {
                left: budget(root),
                ..Cached::default()
            },
        }
    }

    /// What [`select`] returns for `path`. All the paths of one selector share one [`budget`]:
    /// once it is spent, this fails.
    pub fn select(&mut self, path: &[Segment]) -> Result<Vec<Node<'a>>, TooCostly<'a>> {
        let mut out = Vec::new();
        walk(self.root, self.root, path, &mut out, &mut self.lookup);
        if self.lookup.left == 0 {
            return Err(TooCostly {
                steps: budget(self.root),
                partial: out,
            });
        }
        Ok(out)
    }
}

/// How [`walk`] finds one child of a container.
trait Lookup<'a> {
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>>;
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>>;
    /// Takes one step of the budget; `false` once it is spent.
    fn spend(&mut self) -> bool;
    /// Takes `n` steps (all that is left, and `false`, if fewer remain).
    fn spend_many(&mut self, n: usize) -> bool {
        (0..n).all(|_| self.spend())
    }
}

/// Walks the container each time.
struct Direct {
    left: usize,
}

impl Direct {
    fn new(left: usize) -> Self {
        Direct { left }
    }
}

impl<'a> Lookup<'a> for Direct {
    fn spend(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>> {
        array.index(i)
    }
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>> {
        object.get(name)
    }
}

/// Indexes large containers on first lookup (see [`Selector`]).
/// Children are recorded by offset (8 bytes each, not a 24-byte `Node`).
#[derive(Default)]
struct Cached<'a> {
    left: usize,
    arrays: std::collections::HashMap<usize, Vec<usize>>,
    objects: std::collections::HashMap<usize, std::collections::HashMap<&'a str, usize>>,
}

impl<'a> Lookup<'a> for Cached<'a> {
    fn spend(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
    fn index(&mut self, array: Node<'a>, i: usize) -> Option<Node<'a>> {
        if array.len().unwrap_or(0) <= Selector::INDEXED {
            return array.index(i);
        }
        let at = *self
            .arrays
            .entry(array.offset())
            .or_insert_with(|| array.elements().map(|e| e.offset()).collect())
            .get(i)?;
        Some(array.node_at(at))
    }
    fn member(&mut self, object: Node<'a>, name: &str) -> Option<Node<'a>> {
        if object.len().unwrap_or(0) <= Selector::INDEXED {
            return object.get(name);
        }
        let at = *self
            .objects
            .entry(object.offset())
            // Member names are unique (the parser keeps one per name).
            .or_insert_with(|| object.members().map(|(k, v)| (k, v.offset())).collect())
            .get(name)?;
        Some(object.node_at(at))
    }
}

/// RedisJSON's index rule: a negative index counts from the end and clamps to 0; a positive
/// one past the end selects nothing.
fn abs_index(i: i64, len: usize) -> usize {
    if i >= 0 {
        usize::try_from(i).unwrap_or(usize::MAX).min(len)
    } else {
        usize::try_from((len as i64).saturating_add(i).max(0)).unwrap_or(0)
    }
}

fn walk<'a>(
    root: Node<'a>,
    v: Node<'a>,
    path: &[Segment],
    out: &mut Vec<Node<'a>>,
    find: &mut impl Lookup<'a>,
) {
    // Recursion depth is bounded by the document's depth (< 128) times the segments: each
    // step either enters a child or consumes a segment. The work is bounded by the budget.
    if !find.spend() {
        return;
    }
    let Some((seg, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match (seg, v.kind()) {
        (Segment::Member(k) | Segment::Key(k), Kind::Object) => {
            if let Some(c) = find.member(v, k) {
                walk(root, c, rest, out, find);
            }
        }
        (Segment::Members(ks), Kind::Object) => {
            for k in ks {
                if let Some(c) = find.member(v, k) {
                    walk(root, c, rest, out, find);
                }
            }
        }
        // JSON Pointer tokens are parsed as keys; on arrays they are indexes.
        (Segment::Key(k), Kind::Array) => {
            if let Some(c) = pointer_index(k).and_then(|i| find.index(v, i)) {
                walk(root, c, rest, out, find);
            }
        }
        (Segment::Index(i), Kind::Array) => {
            let n = v.len().unwrap_or(0);
            if let Some(c) = find.index(v, abs_index(*i, n)) {
                walk(root, c, rest, out, find);
            }
        }
        (Segment::Indexes(is), Kind::Array) => {
            let n = v.len().unwrap_or(0);
            for i in is {
                if let Some(c) = find.index(v, abs_index(*i, n)) {
                    walk(root, c, rest, out, find);
                }
            }
        }
        (Segment::Slice { start, end, step }, Kind::Array) => {
            let n = v.len().unwrap_or(0);
            let from = start.map_or(0, |s| abs_index(s, n));
            let to = end.map_or(n, |e| abs_index(e, n));
            if from < to {
                for (i, c) in v.elements().enumerate().skip(from).take(to - from) {
                    if (i - from) % step == 0 {
                        walk(root, c, rest, out, find);
                    }
                }
            }
        }
        (Segment::Wildcard, Kind::Object | Kind::Array) => {
            for c in children(v) {
                walk(root, c, rest, out, find);
            }
        }
        (Segment::Descend, _) => {
            walk(root, v, rest, out, find);
            descend(root, v, rest, out, find);
        }
        (Segment::Filter(e), Kind::Object | Kind::Array) => {
            for c in children(v) {
                if holds(root, c, e, find) {
                    walk(root, c, rest, out, find);
                }
            }
        }
        (Segment::Filter(e), _) if holds(root, v, e, find) => walk(root, v, rest, out, find),
        _ => {}
    }
}

/// `..`: the rest at every value below `v`, pre-order.
fn descend<'a>(
    root: Node<'a>,
    v: Node<'a>,
    rest: &[Segment],
    out: &mut Vec<Node<'a>>,
    find: &mut impl Lookup<'a>,
) {
    for c in children(v) {
        walk(root, c, rest, out, find);
        descend(root, c, rest, out, find);
    }
}

/// The values of a container (array elements, object member values; nothing for a scalar).
fn children<'a>(v: Node<'a>) -> impl Iterator<Item = Node<'a>> + use<'a> {
    v.values()
}

fn pointer_index(token: &str) -> Option<usize> {
    if token == "0"
        || (!token.starts_with('0')
            && !token.is_empty()
            && token.bytes().all(|b| b.is_ascii_digit()))
    {
        token.parse().ok()
    } else {
        None
    }
}

/// What a filter term evaluates to.
enum Val<'a> {
    Node(Node<'a>),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Null,
    Invalid,
}

fn term<'c, 'a: 'c, 'p: 'c>(
    root: Node<'a>,
    at: Node<'a>,
    t: &'p Term,
    find: &mut impl Lookup<'a>,
) -> Val<'c> {
    let mut one = |from: Node<'a>, segs: &[Segment]| {
        let mut found = Vec::new();
        walk(root, from, segs, &mut found, find);
        if found.len() == 1 {
            Val::Node(found[0])
        } else {
            Val::Invalid
        }
    };
    match t {
        Term::Current(segs) => one(at, segs),
        Term::Root(segs) => one(root, segs),
        Term::Int(i) => Val::Int(*i),
        Term::Float(f) => Val::Float(*f),
        Term::Str(s) => Val::Str(s),
        Term::Bool(b) => Val::Bool(*b),
        Term::Null => Val::Null,
    }
}

/// A scalar node as a comparable value (containers compare only by `==`).
fn scalar<'a>(v: &Val<'a>) -> Option<Val<'a>> {
    Some(match v {
        Val::Node(n) => match n.kind() {
            Kind::Integer => {
                let num = n.as_number()?;
                match num.as_i64() {
                    Some(i) => Val::Int(i),
                    // u64 above i64::MAX: RedisJSON compares it as a double.
                    None => Val::Float(num.as_f64()?),
                }
            }
            Kind::Number => Val::Float(n.as_number()?.as_f64()?),
            Kind::String => Val::Str(n.as_str()?),
            Kind::Bool => Val::Bool(n.as_bool()?),
            Kind::Null => Val::Null,
            Kind::Array | Kind::Object => return None,
        },
        Val::Int(i) => Val::Int(*i),
        Val::Float(f) => Val::Float(*f),
        Val::Str(s) => Val::Str(s),
        Val::Bool(b) => Val::Bool(*b),
        Val::Null => Val::Null,
        Val::Invalid => return None,
    })
}

fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (scalar(a)?, scalar(b)?) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(&y)),
        (Val::Int(x), Val::Float(y)) => float_cmp(x as f64, y),
        (Val::Float(x), Val::Int(y)) => float_cmp(x, y as f64),
        (Val::Float(x), Val::Float(y)) => float_cmp(x, y),
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(&y)),
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn float_cmp(x: f64, y: f64) -> Option<Ordering> {
    Some(if x > y {
        Ordering::Greater
    } else if x < y {
        Ordering::Less
    } else {
        Ordering::Equal
    })
}

fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    if let (Val::Node(x), Val::Node(y)) = (a, b) {
        return deep_equal(*x, *y);
    }
    compare(a, b) == Some(Ordering::Equal)
}

/// Structural equality, numbers by value (`1 == 1.0`), object members in any order.
pub fn deep_equal(a: Node<'_>, b: Node<'_>) -> bool {
    match (a.kind(), b.kind()) {
        (Kind::Array, Kind::Array) => {
            a.len() == b.len()
                && a.elements()
                    .zip(b.elements())
                    .all(|(x, y)| deep_equal(x, y))
        }
        (Kind::Object, Kind::Object) => {
            a.len() == b.len()
                && a.members()
                    .all(|(k, x)| b.get(k).is_some_and(|y| deep_equal(x, y)))
        }
        _ => compare(&Val::Node(a), &Val::Node(b)) == Some(Ordering::Equal),
    }
}

fn holds<'a>(root: Node<'a>, at: Node<'a>, e: &Expr, find: &mut impl Lookup<'a>) -> bool {
    match e {
        Expr::Or(any) => any.iter().any(|e| holds(root, at, e, find)),
        Expr::And(all) => all.iter().all(|e| holds(root, at, e, find)),
        Expr::Exists(t) => !matches!(term(root, at, t, find), Val::Invalid),
        Expr::Cmp(l, op, r) => {
            let l = term(root, at, l, find);
            let r = term(root, at, r, find);
            match op {
                Op::Eq => equal(&l, &r),
                Op::Ne => !equal(&l, &r),
                Op::Lt => compare(&l, &r).is_some_and(Ordering::is_lt),
                Op::Le => compare(&l, &r).is_some_and(Ordering::is_le),
                Op::Gt => compare(&l, &r).is_some_and(Ordering::is_gt),
                Op::Ge => compare(&l, &r).is_some_and(Ordering::is_ge),
                Op::Re => false,
            }
        }
        Expr::Match(t, pattern) => {
            // RedisJSON: only a string value (from a path) can match.
            let Val::Node(n) = term(root, at, t, find) else {
                return false;
            };
            let Some(s) = n.as_str() else {
                return false;
            };
            match pattern {
                Pattern::Fixed(re) => re.as_ref().is_some_and(|re| re.0.is_match(s)),
                Pattern::Never => false,
                Pattern::Dynamic(p) => {
                    let Val::Node(pn) = term(root, at, p, find) else {
                        return false;
                    };
                    match pn.as_str() {
                        Some(p) if find.spend_many(REGEX_STEPS) => {
                            compile_regex(p).is_some_and(|re| re.0.is_match(s))
                        }
                        _ => false,
                    }
                }
            }
        }
    }
}

/// Whether the path can select at most one value (only names and single indexes): what
/// `JSON.SET` needs to create a new member.
pub fn is_static(path: &[Segment]) -> bool {
    path.iter()
        .all(|s| matches!(s, Segment::Member(_) | Segment::Key(_) | Segment::Index(_)))
}

/// The type name of a value, as RedisJSON names them.
pub fn type_name(v: Node<'_>) -> &'static str {
    v.kind().name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use serde_json::{Value, json};

    fn doc(v: Value) -> Doc {
        Doc::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn sel(v: &Value, p: &str) -> Vec<Value> {
        let d = doc(v.clone());
        select(d.root(), &parse(p.as_bytes()).unwrap())
            .into_iter()
            .map(|n| serde_json::from_slice(&n.to_json()).unwrap())
            .collect()
    }

    #[test]
    fn jsonpath_selects_what_it_says() {
        let doc = json!({"a": {"b": [10, 20, 30]}, "c d": true, "e": [{"x": 1}, {"x": 2}]});
        assert_eq!(sel(&doc, "$"), std::slice::from_ref(&doc));
        assert_eq!(sel(&doc, "$.a.b[0]"), [json!(10)]);
        assert_eq!(sel(&doc, "$.a.b[-1]"), [json!(30)]);
        assert_eq!(sel(&doc, "$.a.b[-9]"), [json!(10)], "clamps like RedisJSON");
        assert_eq!(sel(&doc, "$.a.b[*]"), [json!(10), json!(20), json!(30)]);
        assert_eq!(sel(&doc, "$['c d']"), [json!(true)]);
        assert_eq!(sel(&doc, "$[\"a\"].b[1]"), [json!(20)]);
        assert_eq!(sel(&doc, "$.e[*].x"), [json!(1), json!(2)]);
        assert_eq!(sel(&doc, "$.*").len(), 3);
        assert!(sel(&doc, "$.missing").is_empty());
        assert!(sel(&doc, "$.a.b[3]").is_empty());
        assert_eq!(sel(&doc, "$..x"), [json!(1), json!(2)]);
        assert_eq!(sel(&doc, "$.a.b[0:2]"), [json!(10), json!(20)]);
        assert_eq!(sel(&doc, "$.a.b[::2]"), [json!(10), json!(30)]);
        assert_eq!(sel(&doc, "$.a.b[-2:]"), [json!(20), json!(30)]);
        assert_eq!(sel(&doc, "$.a.b[2,0]"), [json!(30), json!(10)]);
        assert_eq!(sel(&doc, "$['c d','a'].b[0]"), [json!(10)]);
        assert_eq!(sel(&doc, "$.e[?(@.x > 1)].x"), [json!(2)]);
        assert_eq!(sel(&doc, "$.e[?(@.x == 1 || @.x == 2)]").len(), 2);
        assert_eq!(sel(&doc, "$.e[?(@.x>=1 && @.x<2)].x"), [json!(1)]);
        assert_eq!(sel(&doc, "$.e[?(@.y)]").len(), 0);
        assert_eq!(sel(&doc, "$.e[?@.x == 2].x"), [json!(2)]);
        let names = json!([{"n": "Ada"}, {"n": "Bob"}, {"n": "ada"}, {"p": "^B"}]);
        assert_eq!(
            sel(&names, "$[?(@.n =~ '^[Aa]d')].n"),
            [json!("Ada"), json!("ada")]
        );
        assert_eq!(sel(&names, "$[?(@.n =~ $[3].p)].n"), [json!("Bob")]);
        assert!(
            sel(&names, "$[?(@.n =~ '(')]").is_empty(),
            "an invalid pattern"
        );
        assert!(
            sel(&names, "$[?(@.n =~ \"A\\\\d*\")]").is_empty(),
            "escaped: never"
        );
        assert_eq!(sel(&doc, "$.e[?(@.x == 2) || (@.x < 2)].x").len(), 2);
        assert_eq!(sel(&doc, "$.a.b[?(@ > $.e[1].x)]").len(), 3);
        assert_eq!(sel(&doc, "$.a.b[?(@ == 20)]"), [json!(20)]);
    }

    #[test]
    fn legacy_paths_read_as_dollar_paths() {
        for (legacy, modern) in [
            (".", "$"),
            (".a.b", "$.a.b"),
            ("a.b", "$.a.b"),
            ("[0]", "$[0]"),
            (".a[0]", "$.a[0]"),
            ("a[*]", "$.a[*]"),
            ("..x", "$..x"),
        ] {
            let l = parse_path(legacy.as_bytes()).unwrap();
            let m = parse_path(modern.as_bytes()).unwrap();
            assert!(l.legacy && !m.legacy, "{legacy}");
            assert_eq!(l.segments, m.segments, "{legacy}");
        }
        assert_eq!(
            parse_path(b"$a").unwrap().segments,
            [Segment::Member("$a".into())]
        );
    }

    #[test]
    fn json_pointer_works_too() {
        let doc = json!({"a": {"b": [10, 20]}, "x/y": 1, "t~": 2});
        assert_eq!(sel(&doc, "/a/b/1"), [json!(20)]);
        assert_eq!(sel(&doc, "/x~1y"), [json!(1)]);
        assert_eq!(sel(&doc, "/t~0"), [json!(2)]);
        assert_eq!(sel(&doc, ""), std::slice::from_ref(&doc));
        assert!(sel(&doc, "/a/b/01").is_empty());
    }

    #[test]
    fn bad_paths_say_where() {
        for (p, at) in [
            ("$.", 2),
            ("$[", 2),
            ("$[1", 3),
            ("$['x", 4),
            ("/a~2", 2),
            ("$[01]", 2),
            ("$[?(@.a <)]", 9),
            ("a b", 2),
        ] {
            let e = parse(p.as_bytes()).unwrap_err();
            assert_eq!(e.at, at, "{p}: {e}");
        }
    }

    #[test]
    fn costly_paths_fail_instead_of_running_for_ever() {
        let chain = format!("{}1{}", "[".repeat(20), "]".repeat(20));
        let text = format!("[{}]", vec![chain.as_str(); 200].join(","));
        let d = Doc::parse(text.as_bytes()).unwrap();
        let costly = parse(b"$..*..*..*..*..*..*").unwrap();
        match try_select(d.root(), &costly) {
            Err(e) => assert!(e.to_string().starts_with("the path needs more than"), "{e}"),
            Ok(v) => panic!("{} matches within the budget", v.len()),
        }
        let cheap = try_select(d.root(), &parse(b"$..*").unwrap()).map(|v| v.len());
        assert_eq!(cheap.ok(), Some(200 * 21));
    }

    #[test]
    fn deep_filters_are_refused_not_overflowing() {
        let p = format!("$[?({}@{})]", "(".repeat(100), ")".repeat(100));
        assert!(parse(p.as_bytes()).is_err());
    }
}
