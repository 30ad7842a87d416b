//! `RedisModule_ReplyWith*`: sending a [`Reply`] or an [`Error`] to the client.

use super::{OK, RawCtx, api, cstring_lossy};
use crate::{Error, Reply};
use redis_module::raw;
use std::os::raw::c_int;

impl RawCtx {
    /// Sends `reply` to the client.
    pub(crate) fn send(&self, reply: &Reply) {
        let ctx = self.as_ptr();
        // SAFETY (all arms): a live context; buffers are valid for the lengths passed and Redis
        // copies them before returning.
        unsafe {
            match reply {
                Reply::Null => api!(RedisModule_ReplyWithNull)(ctx),
                Reply::Ok => api!(RedisModule_ReplyWithSimpleString)(ctx, c"OK".as_ptr()),
                Reply::Simple(s) => {
                    let s = cstring_lossy(&s.replace(['\r', '\n'], " "));
                    api!(RedisModule_ReplyWithSimpleString)(ctx, s.as_ptr())
                }
                Reply::Integer(v) => api!(RedisModule_ReplyWithLongLong)(ctx, *v),
                Reply::Double(v) => api!(RedisModule_ReplyWithDouble)(ctx, *v),
                Reply::Bulk(b) => {
                    api!(RedisModule_ReplyWithStringBuffer)(ctx, b.as_ptr().cast(), b.len())
                }
                Reply::String(s) => api!(RedisModule_ReplyWithString)(ctx, s.as_ptr()),
                Reply::Array(items) => {
                    api!(RedisModule_ReplyWithArray)(ctx, items.len() as _);
                    items.iter().for_each(|item| self.send(item));
                    OK
                }
                Reply::Map(pairs) => {
                    api!(RedisModule_ReplyWithMap)(ctx, pairs.len() as _);
                    for (k, v) in pairs {
                        self.send(k);
                        self.send(v);
                    }
                    OK
                }
                Reply::Set(items) => {
                    api!(RedisModule_ReplyWithSet)(ctx, items.len() as _);
                    items.iter().for_each(|item| self.send(item));
                    OK
                }
                Reply::Bool(b) => api!(RedisModule_ReplyWithBool)(ctx, c_int::from(*b)),
                Reply::BigNumber(digits) => {
                    api!(RedisModule_ReplyWithBigNumber)(ctx, digits.as_ptr().cast(), digits.len())
                }
                Reply::Deferred => OK,
                Reply::Verbatim { format, text } => {
                    let ext = [format[0], format[1], format[2], 0];
                    api!(RedisModule_ReplyWithVerbatimStringType)(
                        ctx,
                        text.as_ptr().cast(),
                        text.len(),
                        ext.as_ptr().cast(),
                    )
                }
                Reply::Error(e) => self.send_error_raw(e),
                Reply::Attributed { attributes, reply } => {
                    // Redis refuses attributes for a RESP2 client (and sends nothing then).
                    if api!(RedisModule_ReplyWithAttribute)(ctx, attributes.len() as _) == OK {
                        for (k, v) in attributes {
                            self.send(k);
                            self.send(v);
                        }
                    }
                    self.send(reply);
                    OK
                }
            }
        };
    }

    /// Sends `err` as an error reply.
    pub(crate) fn send_error(&self, err: &Error) {
        self.send_error_raw(err);
    }

    fn send_error_raw(&self, err: &Error) -> c_int {
        let msg = cstring_lossy(err.message());
        // SAFETY: a live context and a NUL-terminated message, copied by Redis.
        unsafe { api!(RedisModule_ReplyWithError)(self.as_ptr(), msg.as_ptr()) }
    }

    /// Opens an array (`map`: a map) whose length is set later by [`Self::close_postponed`].
    pub(crate) fn open_postponed(&self, kind: Postponed) {
        let len = raw::REDISMODULE_POSTPONED_LEN as _;
        // SAFETY: a live context; the length is set exactly once by `close_postponed`.
        unsafe {
            match kind {
                Postponed::Array => api!(RedisModule_ReplyWithArray)(self.as_ptr(), len),
                Postponed::Map => api!(RedisModule_ReplyWithMap)(self.as_ptr(), len),
                Postponed::Set => api!(RedisModule_ReplyWithSet)(self.as_ptr(), len),
            }
        };
    }

    /// Closes the innermost postponed reply opened by [`Self::open_postponed`].
    pub(crate) fn close_postponed(&self, kind: Postponed, len: usize) {
        // SAFETY: closes the postponed reply opened before, once.
        unsafe {
            match kind {
                Postponed::Array => api!(RedisModule_ReplySetArrayLength)(self.as_ptr(), len as _),
                Postponed::Map => api!(RedisModule_ReplySetMapLength)(self.as_ptr(), len as _),
                Postponed::Set => api!(RedisModule_ReplySetSetLength)(self.as_ptr(), len as _),
            }
        };
    }
}

/// The kinds of reply whose length can be postponed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Postponed {
    Array,
    Map,
    Set,
}
