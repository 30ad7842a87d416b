//! Calling Redis commands from a module, and replicating.

use super::{Context, RedisString, api, cstring_lossy};
use crate::{Error, Reply, Result};
use redis_module::raw;

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
    /// assert!(matches!(old, rmkit::ffi::CallReply::String(_) | rmkit::ffi::CallReply::Null));
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
        let mut fmt = String::from("vE");
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
        let strings: Vec<RedisString> = args.iter().map(|a| RedisString::new(a)).collect();
        let mut argv: Vec<*mut raw::RedisModuleString> =
            strings.iter().map(|s| s.as_ptr()).collect();
        let cmd = cstring_lossy(command);
        let fmt = cstring_lossy(&fmt);
        // SAFETY: valid context; "v" takes our strings and their count; Redis retains what it
        // keeps. The reply is ours to free.
        let reply = unsafe {
            api!(RedisModule_Call)(
                self.as_ptr(),
                cmd.as_ptr(),
                fmt.as_ptr(),
                argv.as_mut_ptr(),
                argv.len(),
            )
        };
        if reply.is_null() {
            let errno = std::io::Error::last_os_error();
            return Err(Error::new(format!("calling '{command}' failed ({errno})")));
        }
        // SAFETY: a live reply, freed right after copying.
        let converted = unsafe { convert(reply) };
        // SAFETY: the top-level reply we own.
        unsafe { api!(RedisModule_FreeCallReply)(reply) };
        converted
    }

    /// Replicates `command args...` to replicas and the AOF (instead of the command the client
    /// sent), e.g. to replicate a deterministic effect of a non-deterministic command.
    pub fn replicate(&self, command: &str, args: &[&[u8]]) -> Result<()> {
        let strings: Vec<RedisString> = args.iter().map(|a| RedisString::new(a)).collect();
        let mut argv: Vec<*mut raw::RedisModuleString> =
            strings.iter().map(|s| s.as_ptr()).collect();
        let cmd = cstring_lossy(command);
        // SAFETY: valid context; "v" as in `call`.
        let r = unsafe {
            api!(RedisModule_Replicate)(
                self.as_ptr(),
                cmd.as_ptr(),
                c"v".as_ptr(),
                argv.as_mut_ptr(),
                argv.len(),
            )
        };
        if r == raw::REDISMODULE_OK as i32 {
            Ok(())
        } else {
            Err(Error::new(format!(
                "cannot replicate '{command}' (unknown command?)"
            )))
        }
    }
}

/// Copies a call reply (and its children, which Redis frees with the top-level reply).
///
/// # Safety
/// `r` is a live call reply.
unsafe fn convert(r: *mut raw::RedisModuleCallReply) -> Result<CallReply> {
    // SAFETY (whole body): `r` and the elements Redis hands out are live until the top-level
    // reply is freed; string pointers are valid for the lengths returned.
    unsafe {
        let bytes = |r| {
            let mut len = 0usize;
            let p = api!(RedisModule_CallReplyStringPtr)(r, &mut len);
            if p.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec()
            }
        };
        let len = |r| api!(RedisModule_CallReplyLength)(r);
        Ok(match api!(RedisModule_CallReplyType)(r) as isize {
            raw::REDISMODULE_REPLY_STRING => CallReply::String(bytes(r)),
            raw::REDISMODULE_REPLY_ERROR => {
                // As the server worded it, code first.
                return Err(Error::raw(String::from_utf8_lossy(&bytes(r)).into_owned()));
            }
            raw::REDISMODULE_REPLY_INTEGER => {
                CallReply::Integer(api!(RedisModule_CallReplyInteger)(r))
            }
            raw::REDISMODULE_REPLY_NULL => CallReply::Null,
            raw::REDISMODULE_REPLY_ARRAY => CallReply::Array(
                (0..len(r))
                    .map(|i| convert(api!(RedisModule_CallReplyArrayElement)(r, i)))
                    .collect::<Result<_>>()?,
            ),
            raw::REDISMODULE_REPLY_SET => CallReply::Set(
                (0..len(r))
                    .map(|i| convert(api!(RedisModule_CallReplySetElement)(r, i)))
                    .collect::<Result<_>>()?,
            ),
            raw::REDISMODULE_REPLY_MAP => {
                let mut pairs = Vec::new();
                for i in 0..len(r) {
                    let (mut k, mut v) = (std::ptr::null_mut(), std::ptr::null_mut());
                    api!(RedisModule_CallReplyMapElement)(r, i, &mut k, &mut v);
                    pairs.push((convert(k)?, convert(v)?));
                }
                CallReply::Map(pairs)
            }
            raw::REDISMODULE_REPLY_BOOL => CallReply::Bool(api!(RedisModule_CallReplyBool)(r) != 0),
            raw::REDISMODULE_REPLY_DOUBLE => {
                CallReply::Double(api!(RedisModule_CallReplyDouble)(r))
            }
            raw::REDISMODULE_REPLY_BIG_NUMBER => {
                let mut n = 0usize;
                let p = api!(RedisModule_CallReplyBigNumber)(r, &mut n);
                CallReply::BigNumber(
                    String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), n))
                        .into_owned(),
                )
            }
            raw::REDISMODULE_REPLY_VERBATIM_STRING => {
                let (mut n, mut format) = (0usize, std::ptr::null());
                let p = api!(RedisModule_CallReplyVerbatim)(r, &mut n, &mut format);
                let f = if format.is_null() {
                    String::new()
                } else {
                    String::from_utf8_lossy(std::slice::from_raw_parts(format.cast::<u8>(), 3))
                        .into_owned()
                };
                CallReply::Verbatim(f, std::slice::from_raw_parts(p.cast::<u8>(), n).to_vec())
            }
            other => {
                return Err(Error::new(format!(
                    "unsupported reply type {other} from a called command"
                )));
            }
        })
    }
}
