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

    /// A second handle to the same context (for a `Context` made during a callback that
    /// holds only a `&RawCtx`; the copy is dropped before this callback returns).
    pub(crate) fn clone_ref(&self) -> RawCtx {
        RawCtx {
            ptr: self.ptr,
            _not_send: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut raw::RedisModuleCtx {
        self.ptr.as_ptr()
    }

    /// `RedisModule_PublishMessage` (or `PublishMessageShard`): the number of receivers.
    pub(crate) fn publish(&self, shard: bool, channel: &RedisStr, message: &RedisStr) -> i64 {
        // SAFETY: a live context and two live strings (Redis copies what it keeps).
        let n = unsafe {
            if shard {
                api!(RedisModule_PublishMessageShard)(
                    self.as_ptr(),
                    channel.as_ptr(),
                    message.as_ptr(),
                )
            } else {
                api!(RedisModule_PublishMessage)(self.as_ptr(), channel.as_ptr(), message.as_ptr())
            }
        };
        i64::from(n)
    }

    /// `RedisModule_GetCurrentCommandName`: `parent|sub` for a subcommand.
    pub(crate) fn current_command_name(&self) -> Option<String> {
        if !super::has_api!(RedisModule_GetCurrentCommandName) {
            return None;
        }
        // SAFETY: a live context; the name (NULL outside a command) lives while the command
        // does and is copied here.
        let p = unsafe { api!(RedisModule_GetCurrentCommandName)(self.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated name, valid for this call.
        Some(
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// `RedisModule_GetSelectedDb`.
    pub(crate) fn selected_db(&self) -> i32 {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_GetSelectedDb)(self.as_ptr()) }
    }

    /// `RedisModule_SelectDb`: false for a database that does not exist.
    pub(crate) fn select_db(&self, db: i32) -> bool {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_SelectDb)(self.as_ptr(), db) == super::OK }
    }

    /// `RedisModule_DbSize`.
    pub(crate) fn db_size(&self) -> u64 {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_DbSize)(self.as_ptr()) }
    }

    /// `RedisModule_RandomKey`: a new string we own, or `None` for an empty database.
    pub(crate) fn random_key(&self) -> Option<super::RedisString> {
        // SAFETY: a live context; without auto memory (the toolkit never enables it) the key
        // name returned is a new reference owned by the caller.
        let p = NonNull::new(unsafe { api!(RedisModule_RandomKey)(self.as_ptr()) })?;
        // SAFETY: that reference, freed in Drop.
        Some(unsafe { super::RedisString::from_raw(p) })
    }

    /// `RedisModule_KeyExists` (without touching the key).
    pub(crate) fn key_exists(&self, key: &RedisStr) -> bool {
        // SAFETY: a live context and key name.
        unsafe { api!(RedisModule_KeyExists)(self.as_ptr(), key.as_ptr()) != 0 }
    }

    /// `RedisModule_AvoidReplicaTraffic`.
    pub(crate) fn avoid_replica_traffic(&self) -> bool {
        // SAFETY: no arguments.
        unsafe { api!(RedisModule_AvoidReplicaTraffic)() != 0 }
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
            Notify::KeyMiss => raw::REDISMODULE_NOTIFY_KEY_MISS,
            Notify::Loaded => raw::REDISMODULE_NOTIFY_LOADED,
            Notify::New => raw::REDISMODULE_NOTIFY_NEW,
            Notify::All => raw::REDISMODULE_NOTIFY_ALL,
        }
    }
}

/// A snapshot of one or more of the server's `INFO` sections
/// ([`Context::server_info`](crate::Context::server_info)); freed when dropped.
pub struct ServerInfo {
    data: NonNull<raw::RedisModuleServerInfoData>,
    _not_send: PhantomData<*mut ()>,
}

impl std::fmt::Debug for ServerInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerInfo")
    }
}

impl RawCtx {
    /// `RedisModule_GetServerInfo`.
    pub(crate) fn server_info(&self, section: &str) -> Option<ServerInfo> {
        let section = super::cstring_lossy(section);
        // SAFETY: a live context; the snapshot is owned by the result (freed on drop).
        let data = unsafe { api!(RedisModule_GetServerInfo)(self.as_ptr(), section.as_ptr()) };
        NonNull::new(data).map(|data| ServerInfo {
            data,
            _not_send: PhantomData,
        })
    }
}

impl ServerInfo {
    /// The field's text (`None`: no such field in the sections asked for).
    pub fn field(&self, name: &str) -> Option<String> {
        let name = super::cstring_lossy(name);
        // SAFETY: a live snapshot; the returned string lives as long as it and is copied here.
        unsafe {
            let p = api!(RedisModule_ServerInfoGetFieldC)(self.data.as_ptr(), name.as_ptr());
            (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
        }
    }
    /// The field as a signed integer (`None`: missing, or not an integer).
    pub fn field_i64(&self, name: &str) -> Option<i64> {
        let name = super::cstring_lossy(name);
        let mut err: c_int = 0;
        // SAFETY: a live snapshot; `err` receives whether the field parsed.
        let v = unsafe {
            api!(RedisModule_ServerInfoGetFieldSigned)(self.data.as_ptr(), name.as_ptr(), &mut err)
        };
        (err == super::OK).then_some(v)
    }
    /// The field as an unsigned integer (`None`: missing, or not an unsigned integer).
    pub fn field_u64(&self, name: &str) -> Option<u64> {
        let name = super::cstring_lossy(name);
        let mut err: c_int = 0;
        // SAFETY: as above.
        let v = unsafe {
            api!(RedisModule_ServerInfoGetFieldUnsigned)(
                self.data.as_ptr(),
                name.as_ptr(),
                &mut err,
            )
        };
        (err == super::OK).then_some(v)
    }
    /// The field as a floating-point number (`None`: missing, or not a number).
    pub fn field_f64(&self, name: &str) -> Option<f64> {
        let name = super::cstring_lossy(name);
        let mut err: c_int = 0;
        // SAFETY: as above.
        let v = unsafe {
            api!(RedisModule_ServerInfoGetFieldDouble)(self.data.as_ptr(), name.as_ptr(), &mut err)
        };
        (err == super::OK).then_some(v)
    }
}

impl Drop for ServerInfo {
    fn drop(&mut self) {
        // SAFETY: the snapshot we own; a NULL context is allowed (no auto-memory tracking).
        unsafe { api!(RedisModule_FreeServerInfo)(std::ptr::null_mut(), self.data.as_ptr()) };
    }
}
