//! The command context: keys, replication, notifications, logging.

use super::{Key, RedisStr, api};
use redis_module::raw;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

/// What a command handler gets from Redis for the duration of one call.
///
/// Not `Send`: it belongs to the thread Redis called the command on.
pub struct Context {
    ptr: NonNull<raw::RedisModuleCtx>,
    _not_send: PhantomData<*mut ()>,
}

static_assertions::assert_not_impl_any!(Context: Send, Sync);

/// Server log levels (`loglevel` in redis.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `verbose`
    Verbose,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
}

impl LogLevel {
    pub(crate) fn as_cstr(self) -> &'static std::ffi::CStr {
        match self {
            LogLevel::Debug => c"debug",
            LogLevel::Verbose => c"verbose",
            LogLevel::Notice => c"notice",
            LogLevel::Warning => c"warning",
        }
    }
}

/// Keyspace notification classes (the letters of `notify-keyspace-events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    Generic,
    /// `$`: string commands.
    String,
    /// `h`: hash commands.
    Hash,
    /// `d`: module key type events.
    Module,
    /// `x`: keys expired.
    Expired,
    /// `e`: keys evicted by maxmemory.
    Evicted,
}

impl Notify {
    /// The `REDISMODULE_NOTIFY_*` bit.
    pub const fn bits(self) -> i32 {
        match self {
            Notify::Generic => raw::REDISMODULE_NOTIFY_GENERIC,
            Notify::String => raw::REDISMODULE_NOTIFY_STRING,
            Notify::Hash => raw::REDISMODULE_NOTIFY_HASH,
            Notify::Module => raw::REDISMODULE_NOTIFY_MODULE,
            Notify::Expired => raw::REDISMODULE_NOTIFY_EXPIRED,
            Notify::Evicted => raw::REDISMODULE_NOTIFY_EVICTED,
        }
    }
}

impl Context {
    /// # Safety
    /// `ptr` is the valid context Redis passed to the current callback.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: *mut raw::RedisModuleCtx) -> Context {
        Context {
            ptr: NonNull::new(ptr).expect("Redis passed a NULL context"),
            _not_send: PhantomData,
        }
    }

    pub(crate) fn as_ptr(&self) -> *mut raw::RedisModuleCtx {
        self.ptr.as_ptr()
    }

    /// Opens `name` for reading. A missing key reads as [`KeyKind::Empty`](super::KeyKind::Empty).
    #[inline]
    pub fn open_key(&self, name: &RedisStr) -> Key<'_> {
        // SAFETY: valid context and key name; the key is closed by `Key`'s Drop, before the
        // context ends (the borrow ties it to `self`).
        let p = unsafe {
            api!(RedisModule_OpenKey)(self.as_ptr(), name.as_ptr(), raw::REDISMODULE_READ as c_int)
        };
        // SAFETY: `p` is a key handle of this context (or NULL for a missing key).
        unsafe { Key::from_raw(p, false) }
    }

    /// Opens `name` for reading and writing (a missing key can then be created).
    #[inline]
    pub fn open_key_writable(&self, name: &RedisStr) -> Key<'_> {
        let mode = (raw::REDISMODULE_READ | raw::REDISMODULE_WRITE) as c_int;
        // SAFETY: as in `open_key`.
        let p = unsafe { api!(RedisModule_OpenKey)(self.as_ptr(), name.as_ptr(), mode) };
        // SAFETY: as in `open_key`.
        unsafe { Key::from_raw(p, true) }
    }

    /// Replicates this command to replicas and the AOF exactly as the client sent it.
    ///
    /// Use it when the command is deterministic (the same arguments give the same effect);
    /// it is sent once, after the command, wrapped with the rest of the command's effects.
    #[inline]
    pub fn replicate_verbatim(&self) {
        // SAFETY: valid context.
        unsafe { api!(RedisModule_ReplicateVerbatim)(self.as_ptr()) };
    }

    /// Emits a keyspace notification (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`),
    /// as native commands do, for clients subscribed to `class`.
    #[inline]
    pub fn notify_keyspace_event(&self, class: Notify, event: &str, key: &RedisStr) {
        let class = class.bits();
        super::with_cstr(event, |event| {
            // SAFETY: valid context, NUL-terminated event and live key; Redis copies what it
            // keeps before returning.
            unsafe {
                api!(RedisModule_NotifyKeyspaceEvent)(self.as_ptr(), class, event, key.as_ptr())
            };
        });
    }

    /// Writes `msg` to the server log, prefixed with the module name.
    pub fn log(&self, level: LogLevel, msg: &str) {
        super::log(level, msg)
    }
}
