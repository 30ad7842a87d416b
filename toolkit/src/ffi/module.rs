//! `RedisModule_OnLoad` / `RedisModule_OnUnload` (exported by every module built with the
//! toolkit: they are defined here, so a module crate needs no `unsafe` and no `extern "C"`),
//! `RedisModule_Init`, the allocator switch, module options, the server log, and the
//! toolkit's `INFO` section.

use super::{ERR, OK, RawCtx, api, cstring_lossy, has_api};
use redis_module::raw;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Called by Redis on `MODULE LOAD` / `--loadmodule`.
///
/// # Safety
/// Only Redis calls this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn RedisModule_OnLoad(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: Redis's load context, valid for this call.
    let ctx = unsafe { RawCtx::from_raw(ctx) };
    // SAFETY: Redis passes `argc` module arguments that outlive this call.
    let args = unsafe { super::RedisStr::slice_from_raw(argv, argc) };
    match super::guard("loading the module", || crate::module::load(&ctx, args)) {
        Some(Ok(())) => OK,
        Some(Err(msg)) => {
            log_load_error(&ctx, &msg);
            ERR
        }
        None => {
            log_load_error(&ctx, &format!("panicked: {}", super::last_panic()));
            ERR
        }
    }
}

/// Called by Redis on `MODULE UNLOAD`; `ERR` keeps the module loaded.
///
/// # Safety
/// Only Redis calls this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn RedisModule_OnUnload(ctx: *mut raw::RedisModuleCtx) -> c_int {
    // SAFETY: the unload context Redis passed, valid for this call.
    let ctx = crate::Context::new(unsafe { RawCtx::from_raw(ctx) });
    match super::guard("unloading the module", || crate::module::unload(&ctx)) {
        Some(true) => {
            // Nothing of this image may run after the unload: the panic hook (a closure of
            // this image) goes, the detached log context is freed.
            let _ = super::guard("unloading the module", || {
                let _ = std::panic::take_hook();
                free_log_ctx(LOG_CTX.swap(std::ptr::null_mut(), Ordering::AcqRel));
            });
            OK
        }
        Some(false) | None => ERR,
    }
}

/// A line for a load that failed, through the load context (the detached one may not exist).
fn log_load_error(ctx: &RawCtx, msg: &str) {
    let name = crate::module::MODULES
        .first()
        .map_or("?".into(), |m| m.name.to_string_lossy());
    let line = cstring_lossy(
        &format!("rmkit: module '{name}' not loaded: {msg}").replace(['\r', '\n'], " "),
    );
    if has_api!(RedisModule_Log) {
        // SAFETY: the load context; "%s" with a NUL-terminated string.
        unsafe {
            api!(RedisModule_Log)(
                ctx.as_ptr(),
                c"warning".as_ptr(),
                c"%s".as_ptr(),
                line.as_ptr(),
            )
        };
    } else {
        eprintln!("{}", line.to_string_lossy());
    }
}

impl RawCtx {
    /// `RedisModule_Init` (fills this image's API pointers); false if Redis refused.
    pub(crate) fn init(&self, name: &std::ffi::CStr, version: i32) -> bool {
        // SAFETY: Redis's load context; fills the API fn-pointer statics of this image.
        unsafe {
            raw::Export_RedisModule_Init(
                self.as_ptr(),
                name.as_ptr(),
                version,
                raw::REDISMODULE_APIVER_1 as c_int,
            ) == OK
        }
    }

    /// `RedisModule_SetModuleOptions`: no implicit modified-key signals (the toolkit signals
    /// real writes), and with data types, RDB read errors reported to the loaders.
    pub(crate) fn set_module_options(&self, data_types: bool, repl_async_load: bool) {
        let mut options = raw::REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED;
        if data_types {
            options |= raw::REDISMODULE_OPTIONS_HANDLE_IO_ERRORS;
        }
        if repl_async_load {
            options |= raw::REDISMODULE_OPTIONS_HANDLE_REPL_ASYNC_LOAD;
        }
        // SAFETY: the load context.
        unsafe { api!(RedisModule_SetModuleOptions)(self.as_ptr(), options as c_int) };
    }

    /// Makes the detached context that [`log`] writes through (replacing one left by an
    /// earlier load of this image).
    pub(crate) fn open_log(&self) {
        let log_ctx = if has_api!(RedisModule_GetDetachedThreadSafeContext) {
            // SAFETY: the load context; the detached context lives until unload.
            unsafe { api!(RedisModule_GetDetachedThreadSafeContext)(self.as_ptr()) }
        } else {
            std::ptr::null_mut()
        };
        free_log_ctx(LOG_CTX.swap(log_ctx, Ordering::AcqRel));
    }

    /// `RedisModule_RegisterInfoFunc` with the toolkit's INFO callback.
    pub(crate) fn register_info(&self) {
        // SAFETY: the load context; the callback is a plain extern "C" fn of this image.
        unsafe { api!(RedisModule_RegisterInfoFunc)(self.as_ptr(), Some(info_callback)) };
    }
}

/// The first API function the toolkit needs that this server lacks, checked right after Init
/// so an old server fails the load with a clear line instead of a later error.
pub(crate) fn missing_required() -> Option<&'static str> {
    macro_rules! check {
        ($($name:ident),*) => {$(
            if !has_api!($name) {
                return Some(stringify!($name));
            }
        )*};
    }
    check!(
        RedisModule_Alloc,
        RedisModule_Calloc,
        RedisModule_Realloc,
        RedisModule_Free,
        RedisModule_CreateCommand,
        RedisModule_WrongArity,
        RedisModule_ReplyWithError,
        RedisModule_ReplyWithDouble,
        RedisModule_StringPtrLen,
        RedisModule_OpenKey,
        RedisModule_HashGet,
        RedisModule_HashSet,
        RedisModule_Log,
        RedisModule_RegisterInfoFunc,
        RedisModule_SetModuleOptions,
        RedisModule_SignalModifiedKey,
        RedisModule_GetKeyNameFromModuleKey
    );
    None
}

/// Routes every later Rust allocation through the server's allocator.
pub(crate) fn install_allocator() -> Result<(), rmkit_alloc::InstallError> {
    // SAFETY: reading fn-pointer statics set by Init (the mandatory ones were checked).
    let api = unsafe {
        rmkit_alloc::RedisApi {
            alloc: api!(RedisModule_Alloc),
            try_alloc: raw::RedisModule_TryAlloc,
            calloc: api!(RedisModule_Calloc),
            try_calloc: raw::RedisModule_TryCalloc,
            realloc: api!(RedisModule_Realloc),
            try_realloc: raw::RedisModule_TryRealloc,
            free: api!(RedisModule_Free),
            malloc_size: raw::RedisModule_MallocSize,
            malloc_usable_size: raw::RedisModule_MallocUsableSize,
        }
    };
    // SAFETY: the server's own allocation functions, valid for the life of the process.
    unsafe { rmkit_alloc::install(api) }
}

/// A detached context used for logging from anywhere (also outside commands and threads).
static LOG_CTX: AtomicPtr<raw::RedisModuleCtx> = AtomicPtr::new(std::ptr::null_mut());

fn free_log_ctx(ctx: *mut raw::RedisModuleCtx) {
    if !ctx.is_null() && has_api!(RedisModule_FreeThreadSafeContext) {
        // SAFETY: a detached context we created and no longer publish.
        unsafe { api!(RedisModule_FreeThreadSafeContext)(ctx) };
    }
}

/// Writes `msg` to the server log at `level` (`"warning"`, ...), or to stderr before the
/// module is loaded (e.g. in unit tests).
pub(crate) fn log(level: &std::ffi::CStr, msg: &str) {
    let ctx = LOG_CTX.load(Ordering::Acquire);
    // SAFETY: reading the fn-pointer static; see `api!`.
    match unsafe { raw::RedisModule_Log } {
        Some(f) if !ctx.is_null() => {
            let msg = cstring_lossy(msg);
            // SAFETY: `ctx` is the detached context created at load (valid until unload, which
            // clears it first); "%s" with a NUL-terminated string.
            unsafe { f(ctx, level.as_ptr(), c"%s".as_ptr(), msg.as_ptr()) };
        }
        _ => eprintln!("{msg}"),
    }
}

/// An INFO context Redis passed to the info callback.
pub(crate) struct InfoCtx(*mut raw::RedisModuleInfoCtx);

impl InfoCtx {
    /// `RedisModule_InfoAddSection` (`<module>_<name>`).
    pub(crate) fn section(&self, name: &str) {
        let name = cstring_lossy(name);
        // SAFETY: the info context of the running callback.
        unsafe { api!(RedisModule_InfoAddSection)(self.0, name.as_ptr()) };
    }

    /// `RedisModule_InfoAddFieldULongLong`.
    pub(crate) fn field_u64(&self, name: &str, v: u64) {
        let name = cstring_lossy(name);
        // SAFETY: as above.
        unsafe { api!(RedisModule_InfoAddFieldULongLong)(self.0, name.as_ptr(), v) };
    }

    /// `RedisModule_InfoAddFieldLongLong`.
    pub(crate) fn field_i64(&self, name: &str, v: i64) {
        let name = cstring_lossy(name);
        // SAFETY: as above.
        unsafe { api!(RedisModule_InfoAddFieldLongLong)(self.0, name.as_ptr(), v) };
    }

    /// `RedisModule_InfoAddFieldDouble`.
    pub(crate) fn field_f64(&self, name: &str, v: f64) {
        let name = cstring_lossy(name);
        // SAFETY: as above.
        unsafe { api!(RedisModule_InfoAddFieldDouble)(self.0, name.as_ptr(), v) };
    }

    /// `RedisModule_InfoAddFieldString` (binary-safe; Redis copies the value).
    pub(crate) fn field_bytes(&self, name: &str, v: &[u8]) {
        let name = cstring_lossy(name);
        let v = super::RedisString::new(v);
        // SAFETY: as above; `v` lives across the call.
        unsafe { api!(RedisModule_InfoAddFieldString)(self.0, name.as_ptr(), v.as_ptr()) };
    }

    /// `RedisModule_InfoBeginDictField`.
    pub(crate) fn begin_dict(&self, name: &str) {
        let name = cstring_lossy(name);
        // SAFETY: as above.
        unsafe { api!(RedisModule_InfoBeginDictField)(self.0, name.as_ptr()) };
    }

    /// `RedisModule_InfoEndDictField`.
    pub(crate) fn end_dict(&self) {
        // SAFETY: as above (Redis ignores an end without a begin).
        unsafe { api!(RedisModule_InfoEndDictField)(self.0) };
    }
}

/// `INFO <module>_...`: the toolkit's sections.
unsafe extern "C" fn info_callback(ctx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    let info = InfoCtx(ctx);
    super::guard("the INFO callback", || {
        crate::server::info::write_sections(&info, for_crash_report != 0)
    });
}
