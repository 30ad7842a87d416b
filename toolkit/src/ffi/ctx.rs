//! The context handle (`RedisModuleCtx *`) and the calls that need nothing else.

use super::{RedisStr, api, with_cstr};
use crate::Notify;
use redis_module::raw;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

/// A context Redis passed to the current callback (or a thread-safe context while locked).
/// Not `Send`: it belongs to the thread Redis called on. Made only in this module tree.
#[doc(hidden)]
pub struct RawCtx {
    ptr: NonNull<raw::RedisModuleCtx>,
    _not_send: PhantomData<*mut ()>,
}

impl RawCtx {
    /// # Safety
    /// `ptr` is the valid context Redis passed to the current callback, live while the result
    /// is used.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: *mut raw::RedisModuleCtx) -> RawCtx {
        RawCtx {
            ptr: NonNull::new(ptr).expect("Redis passed a NULL context"),
            _not_send: PhantomData,
        }
    }

    /// A second handle on the same context, for a callback run inside this one (the copy is
    /// dropped before this callback returns).
    pub(crate) fn clone_for_hook(&self) -> RawCtx {
        RawCtx {
            ptr: self.ptr,
            _not_send: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut raw::RedisModuleCtx {
        self.ptr.as_ptr()
    }

    /// `RedisModule_ReplicateVerbatim`.
    #[inline]
    pub(crate) fn replicate_verbatim(&self) {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_ReplicateVerbatim)(self.as_ptr()) };
    }

    /// `RedisModule_NotifyKeyspaceEvent`.
    #[inline]
    pub(crate) fn notify_keyspace_event(&self, class: Notify, event: &str, key: &RedisStr) {
        let class = class.bits();
        with_cstr(event, |event| {
            // SAFETY: a live context, a NUL-terminated event and a live key; Redis copies what
            // it keeps before returning.
            unsafe {
                api!(RedisModule_NotifyKeyspaceEvent)(self.as_ptr(), class, event, key.as_ptr())
            };
        });
    }

    /// Unsigned fields of one `INFO` section (`None` for a field the server does not report).
    pub(crate) fn server_info_u64(&self, section: &str, fields: &[&str]) -> Vec<Option<u64>> {
        let section = super::cstring_lossy(section);
        // SAFETY: a live context; the info object is freed below, before returning.
        let info = unsafe { api!(RedisModule_GetServerInfo)(self.as_ptr(), section.as_ptr()) };
        if info.is_null() {
            return vec![None; fields.len()];
        }
        let out = fields
            .iter()
            .map(|f| {
                let f = super::cstring_lossy(f);
                let mut err: c_int = 0;
                // SAFETY: a live info object; `err` receives whether the field exists.
                let v = unsafe {
                    api!(RedisModule_ServerInfoGetFieldUnsigned)(info, f.as_ptr(), &mut err)
                };
                (err == super::OK).then_some(v)
            })
            .collect();
        // SAFETY: the info object created above.
        unsafe { api!(RedisModule_FreeServerInfo)(self.as_ptr(), info) };
        out
    }

    /// Whether `INFO server` has `field` (e.g. `valkey_version`).
    pub(crate) fn server_info_has(&self, section: &str, field: &str) -> bool {
        let (section, field) = (super::cstring_lossy(section), super::cstring_lossy(field));
        // SAFETY: a live context; the info object is freed before returning and the field's
        // string is only compared for null while it lives.
        unsafe {
            let info = api!(RedisModule_GetServerInfo)(self.as_ptr(), section.as_ptr());
            if info.is_null() {
                return false;
            }
            let found = !api!(RedisModule_ServerInfoGetFieldC)(info, field.as_ptr()).is_null();
            api!(RedisModule_FreeServerInfo)(self.as_ptr(), info);
            found
        }
    }
}

impl Notify {
    /// The `REDISMODULE_NOTIFY_*` bit.
    pub(crate) const fn bits(self) -> i32 {
        match self {
            Notify::Generic => raw::REDISMODULE_NOTIFY_GENERIC,
            Notify::String => raw::REDISMODULE_NOTIFY_STRING,
            Notify::Hash => raw::REDISMODULE_NOTIFY_HASH,
            Notify::Module => raw::REDISMODULE_NOTIFY_MODULE,
            Notify::Expired => raw::REDISMODULE_NOTIFY_EXPIRED,
            Notify::Evicted => raw::REDISMODULE_NOTIFY_EVICTED,
            Notify::List => raw::REDISMODULE_NOTIFY_LIST,
            Notify::Set => raw::REDISMODULE_NOTIFY_SET,
            Notify::ZSet => raw::REDISMODULE_NOTIFY_ZSET,
            Notify::Stream => raw::REDISMODULE_NOTIFY_STREAM,
        }
    }
}
