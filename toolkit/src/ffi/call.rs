//! `RedisModule_Call` (with the reply copied into Rust) and `RedisModule_Replicate`.

use super::{OK, RawCtx, RedisString, api, cstring_lossy};
use crate::call::CallReply;
use crate::{Error, Result};
use redis_module::raw;

impl RawCtx {
    /// `RedisModule_Call(ctx, command, "v" + flags, args)`, the reply copied and freed.
    pub(crate) fn call(&self, flags: &str, command: &str, args: &[&[u8]]) -> Result<CallReply> {
        let (_strings, mut argv) = super::string::argv(args);
        let cmd = cstring_lossy(command);
        let fmt = cstring_lossy(&format!("v{flags}"));
        // SAFETY: a live context; "v" takes our strings and their count; Redis retains what it
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

    /// `RedisModule_Replicate(ctx, command, "v", args)`; false if Redis refused.
    pub(crate) fn replicate(&self, command: &str, args: &[crate::call::Arg<'_>]) -> bool {
        use crate::call::Arg;
        // Strings made here for bytes and integers, freed after the call (Redis keeps its own
        // references to what it replicates).
        let mut made: Vec<RedisString> = Vec::new();
        let mut argv: Vec<*mut raw::RedisModuleString> = Vec::with_capacity(args.len());
        for a in args {
            match *a {
                Arg::Str(s) => argv.push(s.as_ptr()),
                Arg::Bytes(b) => {
                    let s = RedisString::new(b);
                    argv.push(s.as_ptr());
                    made.push(s);
                }
                Arg::Int(n) => {
                    let s = RedisString::from_i64(n);
                    argv.push(s.as_ptr());
                    made.push(s);
                }
            }
        }
        let cmd = cstring_lossy(command);
        // SAFETY: a live context; "v" takes `argv.len()` live strings, which Redis retains
        // (incrRefCount) for what it replicates; ours are freed when `made` drops after.
        let r = unsafe {
            api!(RedisModule_Replicate)(
                self.as_ptr(),
                cmd.as_ptr(),
                c"v".as_ptr(),
                argv.as_mut_ptr(),
                argv.len(),
            )
        };
        drop(made);
        r == OK
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
