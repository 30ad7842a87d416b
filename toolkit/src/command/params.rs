//! Command parameter types: each knows how many arguments it takes, what `COMMAND DOCS` says
//! about it, whether it is a key, and how to parse itself.

use super::args::Args;
use super::docs::Arg;
use crate::key::Key;
use crate::{Context, Error, RedisStr, Result};
use std::ops::{Deref, DerefMut};

/// The arguments a parameter takes: arity, key role and documentation.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Arguments it always takes.
    pub min: usize,
    /// Arguments it takes at most (`usize::MAX`: any number).
    pub max: usize,
    /// Whether it is a key (or a group of keys), with its key spec flags.
    pub key: Option<KeyShape>,
    /// Its `COMMAND DOCS` entry (the name is replaced by the parameter's).
    pub doc: Arg,
}

/// The key role of a parameter.
#[derive(Debug, Clone, Copy)]
pub struct KeyShape {
    /// Key spec flags (`RO access`, `RW update`, ...); `#[key(flags = "...")]` overrides them.
    pub flags: &'static str,
    /// For a variadic group: every `step`-th argument is a key (1 for a plain key).
    pub step: usize,
}

impl Shape {
    /// Exactly one argument documented by `doc`.
    pub const fn one(doc: Arg) -> Shape {
        Shape {
            min: 1,
            max: 1,
            key: None,
            doc,
        }
    }

    /// One key argument with key spec `flags`.
    pub const fn key(flags: &'static str) -> Shape {
        Shape {
            min: 1,
            max: 1,
            key: Some(KeyShape { flags, step: 1 }),
            doc: Arg::key("", 0),
        }
    }

    /// One of `tokens` (a keyword enum).
    pub const fn keyword(tokens: &'static [Arg]) -> Shape {
        let doc = if tokens.len() == 1 {
            tokens[0]
        } else {
            Arg::one_of("", tokens)
        };
        Shape::one(doc)
    }

    /// Any number of arguments, documented by `doc` (marked optional and multiple).
    pub const fn rest(doc: Arg) -> Shape {
        Shape {
            min: 0,
            max: usize::MAX,
            key: None,
            doc: doc.optional().multiple(),
        }
    }

    /// This shape, optional (0 arguments allowed).
    pub const fn optional(self) -> Shape {
        Shape {
            min: 0,
            doc: self.doc.optional(),
            ..self
        }
    }
}

/// A type a command parameter can have. Implemented for the common argument kinds; implement
/// it for a type of your own to parse a part of the arguments as one value (say, JSON.GET's
/// `[INDENT s] [NEWLINE s] [SPACE s] [path ...]`).
///
/// | type | arguments | COMMAND DOCS |
/// |---|---|---|
/// | `&RedisStr` | one, as is (zero-copy) | string |
/// | `&[u8]`, `&str` (UTF-8 checked) | one | string |
/// | `i64`, `u64`, `f64` | one, Redis's number rules and errors | integer / double |
/// | [`ReadKey`], [`WriteKey`] | one key, opened | key (key spec `RO access` / `RW access update`) |
/// | [`KeyName`] | one key, not opened | key (`RW access update`, or `#[key(flags = ...)]`) |
/// | a [`keywords!`](crate::keywords!) enum | one of its tokens | pure token / oneof |
/// | `Option<T>` | `T`'s, or none at the end | optional |
/// | [`Rest`] | every argument left | string, optional multiple |
/// | [`Pairs`] | `a b [a b ...]` left | block, multiple |
pub trait Param<'a>: Sized {
    /// The arguments it takes.
    const SHAPE: Shape;
    /// Parses its arguments from `args` (the cursor of the command's arguments).
    fn parse(args: &mut Args<'a, RedisStr>, ctx: &'a Context) -> Result<Self>;
}

impl<'a> Param<'a> for &'a RedisStr {
    const SHAPE: Shape = Shape::one(Arg::string(""));
    #[inline]
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_arg()
    }
}

impl<'a> Param<'a> for &'a [u8] {
    const SHAPE: Shape = Shape::one(Arg::string(""));
    #[inline]
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_bytes()
    }
}

impl<'a> Param<'a> for &'a str {
    const SHAPE: Shape = Shape::one(Arg::string(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_str()
    }
}

impl<'a> Param<'a> for i64 {
    const SHAPE: Shape = Shape::one(Arg::integer(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_i64()
    }
}

impl<'a> Param<'a> for u64 {
    const SHAPE: Shape = Shape::one(Arg::integer(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_u64()
    }
}

impl<'a> Param<'a> for f64 {
    const SHAPE: Shape = Shape::one(Arg::double(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_f64()
    }
}

impl<'a, T: Param<'a>> Param<'a> for Option<T> {
    const SHAPE: Shape = T::SHAPE.optional();
    fn parse(args: &mut Args<'a, RedisStr>, ctx: &'a Context) -> Result<Self> {
        if args.is_empty() {
            Ok(None)
        } else {
            T::parse(args, ctx).map(Some)
        }
    }
}

/// Every argument not consumed yet (a variadic tail), zero-copy.
#[derive(Debug, Clone, Copy)]
pub struct Rest<'a>(pub &'a [RedisStr]);

impl<'a> Deref for Rest<'a> {
    type Target = [RedisStr];
    fn deref(&self) -> &[RedisStr] {
        self.0
    }
}

impl<'a> Param<'a> for Rest<'a> {
    const SHAPE: Shape = Shape::rest(Arg::string(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        Ok(Rest(args.rest()))
    }
}

/// One or more `a b` pairs (`field value [field value ...]`); an odd count is the command's
/// wrong-arity error.
#[derive(Debug, Clone, Copy)]
pub struct Pairs<'a>(pub &'a [RedisStr]);

impl<'a> Pairs<'a> {
    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a RedisStr, &'a RedisStr)> + use<'a> {
        self.0.chunks_exact(2).map(|p| (&p[0], &p[1]))
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// Whether there are none (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const PAIR: &[Arg] = &[Arg::string("field"), Arg::string("value")];

impl<'a> Param<'a> for Pairs<'a> {
    const SHAPE: Shape = Shape {
        min: 2,
        max: usize::MAX,
        key: None,
        doc: Arg::block("", PAIR).multiple(),
    };
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        if args.is_empty() || !args.len().is_multiple_of(2) {
            // Named only on the error path: building the name costs an allocation.
            return Err(Error::wrong_arity(&args.command()));
        }
        Ok(Pairs(args.rest()))
    }
}

/// A key argument that is not opened (the command opens it later, say in a timer, or calls a
/// command on it): its name, and a key spec (`RW access update` unless the parameter says
/// otherwise with `#[key(flags = "RO access")]`). Derefs to [`RedisStr`].
#[derive(Debug, Clone, Copy)]
pub struct KeyName<'a>(pub &'a RedisStr);

impl<'a> Param<'a> for KeyName<'a> {
    const SHAPE: Shape = Shape::key("RW access update");
    #[inline]
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        args.next_arg().map(KeyName)
    }
}

impl<'a> Deref for KeyName<'a> {
    type Target = RedisStr;
    fn deref(&self) -> &RedisStr {
        self.0
    }
}

/// A key argument, opened for reading (key spec `RO access`). Derefs to [`Key`].
pub struct ReadKey<'a> {
    key: Key<'a>,
}

/// A key argument, opened for reading and writing (key spec `RW access update`; change it with
/// `#[key(flags = "RW insert")]` on the parameter). Derefs to [`Key`].
pub struct WriteKey<'a> {
    key: Key<'a>,
}

impl<'a> Param<'a> for ReadKey<'a> {
    const SHAPE: Shape = Shape::key("RO access");
    #[inline]
    fn parse(args: &mut Args<'a, RedisStr>, ctx: &'a Context) -> Result<Self> {
        Ok(ReadKey {
            key: ctx.open_key(args.next_arg()?),
        })
    }
}

impl<'a> Param<'a> for WriteKey<'a> {
    const SHAPE: Shape = Shape::key("RW access update");
    #[inline]
    fn parse(args: &mut Args<'a, RedisStr>, ctx: &'a Context) -> Result<Self> {
        Ok(WriteKey {
            key: ctx.open_key_writable(args.next_arg()?),
        })
    }
}

impl<'a> Deref for ReadKey<'a> {
    type Target = Key<'a>;
    fn deref(&self) -> &Key<'a> {
        &self.key
    }
}

/// Mutable for the views whose iteration lives in the key ([`Key::zset`], [`Key::stream`]);
/// writes through it are still refused (the key is open for reading).
impl<'a> DerefMut for ReadKey<'a> {
    fn deref_mut(&mut self) -> &mut Key<'a> {
        &mut self.key
    }
}

impl<'a> Deref for WriteKey<'a> {
    type Target = Key<'a>;
    fn deref(&self) -> &Key<'a> {
        &self.key
    }
}

impl<'a> DerefMut for WriteKey<'a> {
    fn deref_mut(&mut self) -> &mut Key<'a> {
        &mut self.key
    }
}
