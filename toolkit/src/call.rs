//! Calling Redis commands from a module ([`Context::call`]), and replicating effects
//! ([`Context::replicate`], [`Context::replicate_verbatim`]).

use crate::{Context, Error, RedisStr, Reply, Result};

/// A reply from [`Context::call`], copied into Rust values (the C reply is freed at once).
#[derive(Debug, Clone, PartialEq)]
pub enum CallReply {
    /// Nil.
    Null,
    /// An integer.
    Integer(i64),
    /// A bulk or simple string.
    String(Vec<u8>),
    /// An array.
    Array(Vec<CallReply>),
    /// A map (RESP3).
    Map(Vec<(CallReply, CallReply)>),
    /// A set (RESP3).
    Set(Vec<CallReply>),
    /// A boolean (RESP3).
    Bool(bool),
    /// A double (RESP3).
    Double(f64),
    /// A big number's digits (RESP3).
    BigNumber(String),
    /// Verbatim text and its format (RESP3).
    Verbatim(String, Vec<u8>),
}

impl CallReply {
    /// The string value, if this is a string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            CallReply::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer value, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            CallReply::Integer(n) => Some(*n),
            _ => None,
        }
    }
}

impl From<CallReply> for Reply {
    fn from(r: CallReply) -> Reply {
        match r {
            CallReply::Null => Reply::Null,
            CallReply::Integer(n) => Reply::Integer(n),
            CallReply::String(s) => Reply::Bulk(s),
            CallReply::Array(v) => Reply::Array(v.into_iter().map(Into::into).collect()),
            CallReply::Map(v) => {
                Reply::Map(v.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
            }
            CallReply::Set(v) => Reply::Set(v.into_iter().map(Into::into).collect()),
            CallReply::Bool(b) => Reply::Bool(b),
            CallReply::Double(d) => Reply::Double(d),
            CallReply::BigNumber(s) => Reply::BigNumber(s),
            CallReply::Verbatim(f, text) => {
                let f = f.as_bytes();
                let format = [0, 1, 2].map(|i| f.get(i).copied().unwrap_or(b' '));
                Reply::Verbatim { format, text }
            }
        }
    }
}

/// How [`Context::call_with`] runs the command (the `RedisModule_Call` format flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Replicate the command to replicas and the AOF (`!`).
    pub replicate: bool,
    /// Refuse commands a script could not run: writes on a replica, deny-oom commands over
    /// maxmemory, and so on (`S`).
    pub script_mode: bool,
    /// Refuse write commands (`W`).
    pub no_writes: bool,
    /// Refuse deny-oom commands when over maxmemory (`M`).
    pub respect_oom: bool,
    /// Check the command and keys against the current user's ACL (`C`).
    pub check_acl: bool,
    /// Ask for RESP3 replies (maps, sets, doubles...) (`3`).
    pub resp3: bool,
}

impl Context {
    /// Runs a Redis command (not replicated by itself: use [`replicate_verbatim`](Self::replicate_verbatim)
    /// or [`CallOptions::replicate`]). An error reply comes back as `Err` with Redis's text.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result<()> {
    /// let old = ctx.call("HGET", &[b"user:1", b"name"])?;
    /// assert!(matches!(old, rmkit::call::CallReply::String(_) | rmkit::call::CallReply::Null));
    /// # Ok(()) }
    /// ```
    pub fn call(&self, command: &str, args: &[&[u8]]) -> Result<CallReply> {
        self.call_with(CallOptions::default(), command, args)
    }

    /// [`call`](Self::call) with options.
    pub fn call_with(
        &self,
        options: CallOptions,
        command: &str,
        args: &[&[u8]],
    ) -> Result<CallReply> {
        let mut fmt = String::from("E");
        for (on, flag) in [
            (options.replicate, '!'),
            (options.script_mode, 'S'),
            (options.no_writes, 'W'),
            (options.respect_oom, 'M'),
            (options.check_acl, 'C'),
            (options.resp3, '3'),
        ] {
            if on {
                fmt.push(flag);
            }
        }
        self.raw().call(&fmt, command, args)
    }

    /// Replicates `command args...` to replicas and the AOF (instead of the command the client
    /// sent), e.g. to replicate a deterministic effect of a non-deterministic command.
    pub fn replicate(&self, command: &str, args: &[&[u8]]) -> Result<()> {
        let args: Vec<Arg<'_>> = args.iter().map(|a| Arg::Bytes(a)).collect();
        self.replicate_with(command, &args)
    }

    /// [`replicate`](Self::replicate) with arguments of mixed kinds: strings Redis already
    /// holds (the command's own arguments, key names) are passed on without a copy, as the C
    /// API's `"s"` format does; bytes and integers become new strings.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, key: &rmkit::RedisStr, id: &str) -> rmkit::Result<()> {
    /// use rmkit::call::Arg;
    /// ctx.replicate_with("XADD", &[key.into(), "MAXLEN".into(), Arg::Int(10), id.into()])?;
    /// # Ok(()) }
    /// ```
    pub fn replicate_with(&self, command: &str, args: &[Arg<'_>]) -> Result<()> {
        if self.raw().replicate(command, args) {
            Ok(())
        } else {
            Err(Error::new(format!(
                "cannot replicate '{}' (unknown command?)",
                crate::error::excerpt(command.as_bytes())
            )))
        }
    }
}

/// One argument of [`Context::replicate_with`].
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A string Redis holds (passed on without copying).
    Str(&'a RedisStr),
    /// Bytes (copied into a new string).
    Bytes(&'a [u8]),
    /// An integer (written as its decimal digits).
    Int(i64),
}

impl<'a> From<&'a RedisStr> for Arg<'a> {
    fn from(s: &'a RedisStr) -> Self {
        Arg::Str(s)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(b: &'a [u8]) -> Self {
        Arg::Bytes(b)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Bytes(s.as_bytes())
    }
}

impl From<i64> for Arg<'_> {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}
