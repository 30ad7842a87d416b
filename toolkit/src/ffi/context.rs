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
        unsafe { Key::from_raw(self.as_ptr(), p, false) }
    }

    /// Opens `name` for reading and writing (a missing key can then be created).
    #[inline]
    pub fn open_key_writable(&self, name: &RedisStr) -> Key<'_> {
        let mode = (raw::REDISMODULE_READ | raw::REDISMODULE_WRITE) as c_int;
        // SAFETY: as in `open_key`.
        let p = unsafe { api!(RedisModule_OpenKey)(self.as_ptr(), name.as_ptr(), mode) };
        // SAFETY: as in `open_key`.
        unsafe { Key::from_raw(self.as_ptr(), p, true) }
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

/// Replies below this are sent without asking the server anything: smaller than the smallest
/// `proto-max-bulk-len` Redis allows (1 MiB) and harmless under any maxmemory.
pub const LARGE_REPLY: usize = 1 << 20;

impl Context {
    /// Checks that a reply of `bytes` may be built and sent, before building it: a command whose
    /// output can be much larger than its input (a template, pretty printing, the same path
    /// asked for many times) calls this with the exact size first, so one small request cannot
    /// make the server allocate gigabytes.
    ///
    /// Refused, with an error that names the sizes:
    /// - more than `limit` (the module's own cap, typically a config) or the server's
    ///   `proto-max-bulk-len` (`ERR ...`);
    /// - a large reply (1 MiB or more) when `maxmemory` is set and the reply does not fit in
    ///   what is left under it (`OOM ...`): an unread reply counts toward `used_memory` and
    ///   cannot be evicted, so the server would evict keys (or refuse every write) for it.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, rendered_len: usize) -> rmkit::Result<()> {
    /// ctx.check_reply_size(rendered_len, 64 << 20)?;
    /// # Ok(()) }
    /// ```
    pub fn check_reply_size(&self, bytes: usize, limit: usize) -> crate::Result<()> {
        if bytes > limit {
            return Err(crate::Error::new(format!(
                "the reply would be {bytes} bytes, over this module's limit of {limit} bytes"
            )));
        }
        if bytes < LARGE_REPLY {
            return Ok(());
        }
        let max_bulk = match self.call("CONFIG", &[b"GET", b"proto-max-bulk-len"])? {
            crate::ffi::CallReply::Array(v) => v
                .get(1)
                .and_then(|v| v.as_bytes())
                .and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok()),
            _ => None,
        };
        if let Some(max) = max_bulk
            && bytes as u64 > max
        {
            return Err(crate::Error::new(format!(
                "the reply would be {bytes} bytes, over proto-max-bulk-len ({max} bytes)"
            )));
        }
        let memory = self.server_info_u64("memory", &["maxmemory", "used_memory"]);
        if let [Some(max), Some(used)] = memory[..]
            && max > 0
            && used.saturating_add(bytes as u64) > max
        {
            return Err(crate::Error::out_of_memory(format!(
                "the reply would be {bytes} bytes and used_memory is {used} of maxmemory {max}: \
                 an unread reply cannot be evicted; ask for less at once"
            )));
        }
        Ok(())
    }

    /// Unsigned fields of one `INFO` section (`None` for a field the server does not report).
    pub(crate) fn server_info_u64(&self, section: &str, fields: &[&str]) -> Vec<Option<u64>> {
        let section = super::cstring_lossy(section);
        // SAFETY: valid context; the info object is freed below, before returning.
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
                (err == 0).then_some(v)
            })
            .collect();
        // SAFETY: the info object created above.
        unsafe { api!(RedisModule_FreeServerInfo)(self.as_ptr(), info) };
        out
    }
}
