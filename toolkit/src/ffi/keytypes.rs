//! The C calls on a key handle for every key type: strings (DMA), lists, sorted sets,
//! streams, expiry, unlink, length, and field scans.

use super::key::KeyHandle;
use super::{OK, RedisStr, RedisString, api};
use crate::key::stream::StreamId;
use crate::key::zset::{ZaddFlags, Zadded};
use redis_module::raw;
use std::os::raw::{c_int, c_long};
use std::ptr::{self, NonNull};

/// The `errno` the last C call set (the list and stream calls report why they failed there).
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn clear_errno() {
    // SAFETY: writing this thread's errno.
    unsafe { *libc::__errno_location() = 0 };
}

/// Why a list or stream call failed (`errno`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `EDOM`: an index out of range.
    OutOfRange,
    /// `ENOTSUP`: the key holds another type (or is empty).
    WrongType,
    /// `EBADF`: the key is not open for writing.
    ReadOnly,
    /// `ENOENT`: nothing there (no current stream entry, no such ID).
    NotFound,
    /// `EINVAL` and anything else.
    Invalid,
}

fn failure() -> Failure {
    match errno() {
        libc::EDOM => Failure::OutOfRange,
        libc::ENOTSUP => Failure::WrongType,
        libc::EBADF => Failure::ReadOnly,
        libc::ENOENT => Failure::NotFound,
        _ => Failure::Invalid,
    }
}

fn owned(p: *mut raw::RedisModuleString) -> Option<RedisString> {
    // SAFETY: a string the C API created for us (no auto memory), owned by the caller.
    NonNull::new(p).map(|p| unsafe { RedisString::from_raw(p) })
}

impl KeyHandle<'_> {
    fn p(&self) -> Option<*mut raw::RedisModuleKey> {
        self.raw_ptr()
    }

    /// `RedisModule_ValueLength` (0 for a missing key).
    pub(crate) fn value_length(&self) -> usize {
        // SAFETY: an open key handle.
        self.p()
            .map_or(0, |p| unsafe { api!(RedisModule_ValueLength)(p) })
    }

    /// `RedisModule_UnlinkKey`.
    pub(crate) fn unlink(&self) -> bool {
        // SAFETY: an open key handle.
        self.p()
            .is_some_and(|p| unsafe { api!(RedisModule_UnlinkKey)(p) } == OK)
    }

    /// `RedisModule_GetExpire` (relative) or `GetAbsExpire`: milliseconds, `None` without one.
    pub(crate) fn expire(&self, absolute: bool) -> Option<i64> {
        let p = self.p()?;
        // SAFETY: an open key handle.
        let ms = unsafe {
            if absolute {
                api!(RedisModule_GetAbsExpire)(p)
            } else {
                api!(RedisModule_GetExpire)(p)
            }
        };
        (ms != raw::REDISMODULE_NO_EXPIRE as i64).then_some(ms)
    }

    /// `RedisModule_SetExpire` / `SetAbsExpire` (`None`: remove the expire).
    pub(crate) fn set_expire(&self, ms: Option<i64>, absolute: bool) -> bool {
        let Some(p) = self.p() else { return false };
        let ms = ms.unwrap_or(raw::REDISMODULE_NO_EXPIRE as i64);
        // SAFETY: an open key handle.
        unsafe {
            if absolute {
                api!(RedisModule_SetAbsExpire)(p, ms) == OK
            } else {
                api!(RedisModule_SetExpire)(p, ms) == OK
            }
        }
    }

    // ---- strings --------------------------------------------------------------------------

    /// The string's bytes in place (`RedisModule_StringDMA`, read mode): valid while the key is
    /// borrowed and not written.
    pub(crate) fn string_bytes(&self) -> Option<&[u8]> {
        let p = self.p()?;
        let mut len = 0usize;
        // SAFETY: an open key holding a string (the caller checked the type); the buffer stays
        // valid until the key is written or closed, which needs `&mut self` or the drop.
        unsafe {
            let data = api!(RedisModule_StringDMA)(p, &mut len, raw::REDISMODULE_READ as c_int);
            if data.is_null() {
                return None;
            }
            Some(if len == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(data.cast::<u8>(), len)
            })
        }
    }

    /// The string's bytes for writing (`RedisModule_StringDMA`, write mode; the key must be a
    /// string or empty — an empty key becomes an empty string).
    pub(crate) fn string_bytes_mut(&mut self) -> Option<&mut [u8]> {
        let p = self.p()?;
        let mut len = 0usize;
        let mode = (raw::REDISMODULE_READ | raw::REDISMODULE_WRITE) as c_int;
        // SAFETY: an open writable key; the buffer is exclusively borrowed through `&mut self`
        // and valid until the next write or the close.
        unsafe {
            let data = api!(RedisModule_StringDMA)(p, &mut len, mode);
            if data.is_null() {
                return None;
            }
            Some(if len == 0 {
                &mut []
            } else {
                std::slice::from_raw_parts_mut(data.cast::<u8>(), len)
            })
        }
    }

    /// `RedisModule_StringSet`.
    pub(crate) fn string_set(&self, value: &RedisStr) -> bool {
        // SAFETY: an open key; Redis retains the string.
        self.p()
            .is_some_and(|p| unsafe { api!(RedisModule_StringSet)(p, value.as_ptr()) } == OK)
    }

    /// `RedisModule_StringTruncate` (grows with zero bytes, or shrinks).
    pub(crate) fn string_truncate(&mut self, len: usize) -> bool {
        // SAFETY: an open key.
        self.p()
            .is_some_and(|p| unsafe { api!(RedisModule_StringTruncate)(p, len) } == OK)
    }

    // ---- lists ----------------------------------------------------------------------------

    /// `RedisModule_ListPush` at the head (`true`) or tail.
    pub(crate) fn list_push(&self, head: bool, value: &RedisStr) -> Result<(), Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        let end = if head {
            raw::REDISMODULE_LIST_HEAD
        } else {
            raw::REDISMODULE_LIST_TAIL
        } as c_int;
        // SAFETY: an open key; Redis copies or retains the value.
        if unsafe { api!(RedisModule_ListPush)(p, end, value.as_ptr()) } == OK {
            Ok(())
        } else {
            Err(failure())
        }
    }

    /// `RedisModule_ListPop` from the head (`true`) or tail.
    pub(crate) fn list_pop(&self, head: bool) -> Option<RedisString> {
        let p = self.p()?;
        let end = if head {
            raw::REDISMODULE_LIST_HEAD
        } else {
            raw::REDISMODULE_LIST_TAIL
        } as c_int;
        // SAFETY: an open key; the popped string is ours.
        owned(unsafe { api!(RedisModule_ListPop)(p, end) })
    }

    /// `RedisModule_ListGet`.
    pub(crate) fn list_get(&self, index: i64) -> Result<RedisString, Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        clear_errno();
        // SAFETY: an open key; the string is ours.
        owned(unsafe { api!(RedisModule_ListGet)(p, index as c_long) }).ok_or_else(failure)
    }

    /// `RedisModule_ListSet` / `ListInsert` / `ListDelete` (`value` `None` with `insert` false:
    /// delete).
    pub(crate) fn list_edit(
        &self,
        index: i64,
        value: Option<&RedisStr>,
        insert: bool,
    ) -> Result<(), Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        clear_errno();
        // SAFETY: an open key; Redis copies or retains the value.
        let r = unsafe {
            match (value, insert) {
                (Some(v), false) => api!(RedisModule_ListSet)(p, index as c_long, v.as_ptr()),
                (Some(v), true) => api!(RedisModule_ListInsert)(p, index as c_long, v.as_ptr()),
                (None, _) => api!(RedisModule_ListDelete)(p, index as c_long),
            }
        };
        if r == OK { Ok(()) } else { Err(failure()) }
    }

    // ---- sorted sets ----------------------------------------------------------------------

    /// `RedisModule_ZsetAdd` with `ZADD`'s conditions.
    pub(crate) fn zset_add(
        &self,
        score: f64,
        member: &RedisStr,
        flags: ZaddFlags,
    ) -> Option<Zadded> {
        let p = self.p()?;
        let mut bits = zadd_in(flags);
        // SAFETY: an open key; the member is copied.
        (unsafe { api!(RedisModule_ZsetAdd)(p, score, member.as_ptr(), &mut bits) } == OK)
            .then(|| zadd_out(bits))
    }

    /// `RedisModule_ZsetIncrby`: what happened and the new score.
    pub(crate) fn zset_incrby(
        &self,
        member: &RedisStr,
        by: f64,
        flags: ZaddFlags,
    ) -> Option<(Zadded, f64)> {
        let p = self.p()?;
        let (mut bits, mut score) = (zadd_in(flags), 0f64);
        // SAFETY: an open key; the member is copied.
        (unsafe { api!(RedisModule_ZsetIncrby)(p, by, member.as_ptr(), &mut bits, &mut score) }
            == OK)
            .then(|| (zadd_out(bits), score))
    }

    /// `RedisModule_ZsetRem`: whether the member was there; `None` if the call failed.
    pub(crate) fn zset_rem(&self, member: &RedisStr) -> Option<bool> {
        let p = self.p()?;
        let mut deleted: c_int = 0;
        // SAFETY: an open key.
        (unsafe { api!(RedisModule_ZsetRem)(p, member.as_ptr(), &mut deleted) } == OK)
            .then_some(deleted != 0)
    }

    /// `RedisModule_ZsetScore`.
    pub(crate) fn zset_score(&self, member: &RedisStr) -> Option<f64> {
        let p = self.p()?;
        let mut score = 0f64;
        // SAFETY: an open key.
        (unsafe { api!(RedisModule_ZsetScore)(p, member.as_ptr(), &mut score) } == OK)
            .then_some(score)
    }

    /// Starts a score range (`RedisModule_Zset{First,Last}InScoreRange`); false if empty or not
    /// a sorted set.
    pub(crate) fn zset_range_score(
        &mut self,
        min: f64,
        max: f64,
        min_excl: bool,
        max_excl: bool,
        reverse: bool,
    ) -> bool {
        let Some(p) = self.p() else { return false };
        let (a, b) = (c_int::from(min_excl), c_int::from(max_excl));
        // SAFETY: an open key; the range is stopped by `zset_range_stop` (or the close).
        unsafe {
            if reverse {
                api!(RedisModule_ZsetLastInScoreRange)(p, min, max, a, b) == OK
            } else {
                api!(RedisModule_ZsetFirstInScoreRange)(p, min, max, a, b) == OK
            }
        }
    }

    /// Starts a lex range (`RedisModule_Zset{First,Last}InLexRange`, ZRANGEBYLEX syntax).
    pub(crate) fn zset_range_lex(&mut self, min: &RedisStr, max: &RedisStr, reverse: bool) -> bool {
        let Some(p) = self.p() else { return false };
        // SAFETY: an open key; the bounds are copied.
        unsafe {
            if reverse {
                api!(RedisModule_ZsetLastInLexRange)(p, min.as_ptr(), max.as_ptr()) == OK
            } else {
                api!(RedisModule_ZsetFirstInLexRange)(p, min.as_ptr(), max.as_ptr()) == OK
            }
        }
    }

    /// The current element of the range, or `None` at its end.
    pub(crate) fn zset_range_current(&mut self) -> Option<(RedisString, f64)> {
        let p = self.p()?;
        // SAFETY: an open key with a range started.
        unsafe {
            if api!(RedisModule_ZsetRangeEndReached)(p) != 0 {
                return None;
            }
            let mut score = 0f64;
            owned(api!(RedisModule_ZsetRangeCurrentElement)(p, &mut score)).map(|m| (m, score))
        }
    }

    /// Moves the range forward (`reverse`: backward); false at its end.
    pub(crate) fn zset_range_step(&mut self, reverse: bool) -> bool {
        let Some(p) = self.p() else { return false };
        // SAFETY: an open key with a range started.
        unsafe {
            if reverse {
                api!(RedisModule_ZsetRangePrev)(p) != 0
            } else {
                api!(RedisModule_ZsetRangeNext)(p) != 0
            }
        }
    }

    /// `RedisModule_ZsetRangeStop`.
    pub(crate) fn zset_range_stop(&mut self) {
        if let Some(p) = self.p() {
            // SAFETY: an open key (stopping without a range is a no-op).
            unsafe { api!(RedisModule_ZsetRangeStop)(p) };
        }
    }

    // ---- streams --------------------------------------------------------------------------

    /// `RedisModule_StreamAdd` of interleaved field/value `argv`, at `id` (`None`: automatic);
    /// the ID it got.
    pub(crate) fn stream_add(
        &self,
        id: Option<StreamId>,
        argv: &[RedisStr],
    ) -> Result<StreamId, Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        let mut sid = raw::RedisModuleStreamID {
            ms: id.map_or(0, |i| i.ms),
            seq: id.map_or(0, |i| i.seq),
        };
        let flags = if id.is_none() {
            raw::REDISMODULE_STREAM_ADD_AUTOID as c_int
        } else {
            0
        };
        clear_errno();
        // SAFETY: an open key; `argv` is a slice of live string pointers (RedisStr is a
        // transparent pointer) that Redis copies; `numfields` pairs.
        let r = unsafe {
            api!(RedisModule_StreamAdd)(
                p,
                flags,
                &mut sid,
                argv.as_ptr().cast_mut().cast(),
                (argv.len() / 2) as i64,
            )
        };
        if r == OK {
            Ok(StreamId {
                ms: sid.ms,
                seq: sid.seq,
            })
        } else {
            Err(failure())
        }
    }

    /// `RedisModule_StreamDelete`.
    pub(crate) fn stream_delete(&self, id: StreamId) -> Result<(), Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        let mut sid = raw::RedisModuleStreamID {
            ms: id.ms,
            seq: id.seq,
        };
        clear_errno();
        // SAFETY: an open key.
        if unsafe { api!(RedisModule_StreamDelete)(p, &mut sid) } == OK {
            Ok(())
        } else {
            Err(failure())
        }
    }

    /// `RedisModule_StreamIteratorStart` (`None` bounds: the stream's ends).
    pub(crate) fn stream_iter_start(
        &mut self,
        start: Option<StreamId>,
        end: Option<StreamId>,
        reverse: bool,
        exclusive: bool,
    ) -> Result<(), Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        let mut flags = 0;
        if reverse {
            flags |= raw::REDISMODULE_STREAM_ITERATOR_REVERSE as c_int;
        }
        if exclusive {
            flags |= raw::REDISMODULE_STREAM_ITERATOR_EXCLUSIVE as c_int;
        }
        let mut ids = [start, end].map(|id| {
            id.map(|i| raw::RedisModuleStreamID {
                ms: i.ms,
                seq: i.seq,
            })
        });
        let [a, b] = &mut ids;
        let ptr = |o: &mut Option<raw::RedisModuleStreamID>| {
            o.as_mut()
                .map_or(ptr::null_mut(), |v| v as *mut raw::RedisModuleStreamID)
        };
        clear_errno();
        // SAFETY: an open key; the IDs are copied; the iterator lives in the key until
        // `stream_iter_stop` (or the close).
        if unsafe { api!(RedisModule_StreamIteratorStart)(p, flags, ptr(a), ptr(b)) } == OK {
            Ok(())
        } else {
            Err(failure())
        }
    }

    /// `RedisModule_StreamIteratorNextID`: the next entry's ID and field count.
    pub(crate) fn stream_iter_next(&mut self) -> Option<(StreamId, usize)> {
        let p = self.p()?;
        let mut sid = raw::RedisModuleStreamID { ms: 0, seq: 0 };
        let mut n: c_long = 0;
        // SAFETY: an open key with an iterator started.
        let ok = unsafe { api!(RedisModule_StreamIteratorNextID)(p, &mut sid, &mut n) } == OK;
        ok.then_some((
            StreamId {
                ms: sid.ms,
                seq: sid.seq,
            },
            n as usize,
        ))
    }

    /// `RedisModule_StreamIteratorNextField` of the current entry.
    pub(crate) fn stream_iter_field(&mut self) -> Option<(RedisString, RedisString)> {
        let p = self.p()?;
        let (mut f, mut v) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: an open key with an iterator on an entry. Without auto memory the strings
        // are ours to free.
        if unsafe { api!(RedisModule_StreamIteratorNextField)(p, &mut f, &mut v) } != OK {
            return None;
        }
        Some((owned(f)?, owned(v)?))
    }

    /// `RedisModule_StreamIteratorDelete` of the current entry.
    pub(crate) fn stream_iter_delete(&mut self) -> Result<(), Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        clear_errno();
        // SAFETY: an open key with an iterator.
        if unsafe { api!(RedisModule_StreamIteratorDelete)(p) } == OK {
            Ok(())
        } else {
            Err(failure())
        }
    }

    /// `RedisModule_StreamIteratorStop`.
    pub(crate) fn stream_iter_stop(&mut self) {
        if let Some(p) = self.p() {
            // SAFETY: an open key (no iterator: an error code, ignored).
            unsafe { api!(RedisModule_StreamIteratorStop)(p) };
        }
    }

    /// `RedisModule_StreamTrimByLength` / `TrimByID`: how many entries went, or why not.
    pub(crate) fn stream_trim(
        &self,
        maxlen: Option<i64>,
        minid: Option<StreamId>,
        approx: bool,
    ) -> Result<u64, Failure> {
        let p = self.p().ok_or(Failure::WrongType)?;
        let flags = if approx {
            raw::REDISMODULE_STREAM_TRIM_APPROX as c_int
        } else {
            0
        };
        clear_errno();
        // SAFETY: an open key.
        let n = unsafe {
            match (maxlen, minid) {
                (Some(len), _) => api!(RedisModule_StreamTrimByLength)(p, flags, len),
                (None, Some(id)) => {
                    let mut sid = raw::RedisModuleStreamID {
                        ms: id.ms,
                        seq: id.seq,
                    };
                    api!(RedisModule_StreamTrimByID)(p, flags, &mut sid)
                }
                (None, None) => return Ok(0),
            }
        };
        u64::try_from(n).map_err(|_| failure())
    }
}

fn zadd_in(f: ZaddFlags) -> c_int {
    let mut bits = 0;
    for (on, bit) in [
        (f.xx, raw::REDISMODULE_ZADD_XX),
        (f.nx, raw::REDISMODULE_ZADD_NX),
        (f.gt, raw::REDISMODULE_ZADD_GT),
        (f.lt, raw::REDISMODULE_ZADD_LT),
    ] {
        if on {
            bits |= bit as c_int;
        }
    }
    bits
}

fn zadd_out(bits: c_int) -> Zadded {
    if bits & raw::REDISMODULE_ZADD_ADDED as c_int != 0 {
        Zadded::Added
    } else if bits & raw::REDISMODULE_ZADD_UPDATED as c_int != 0 {
        Zadded::Updated
    } else {
        Zadded::Nothing
    }
}

/// `RedisModule_StringToStreamID` of `s` (Redis's own parser: `ms-seq`, `ms`, `-`, `+`).
pub(crate) fn parse_stream_id(s: &RedisStr) -> Option<StreamId> {
    let mut sid = raw::RedisModuleStreamID { ms: 0, seq: 0 };
    // SAFETY: a live string.
    (unsafe { api!(RedisModule_StringToStreamID)(s.as_ptr(), &mut sid) } == OK).then_some(
        StreamId {
            ms: sid.ms,
            seq: sid.seq,
        },
    )
}
