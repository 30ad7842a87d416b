//! `RedisModule_Scan` over the keyspace and `RedisModule_ScanKey` over a key's elements, and
//! the scan cursor they share.

use super::key::KeyHandle;
use super::{RawCtx, RedisStr, api};
use crate::Context;
use crate::key::Key;
use redis_module::raw;
use std::any::Any;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::NonNull;

/// A `RedisModuleScanCursor` (freed on drop). Plain memory holding a position: it may be kept
/// between commands (for example in a module static) and used from any thread's command.
pub(crate) struct ScanCursor(NonNull<raw::RedisModuleScanCursor>);

// SAFETY: the cursor is a small heap struct with an integer position and a done flag; the C
// API reads it only inside RM_Scan/RM_ScanKey, which run on the thread holding the server
// lock, and `&mut` access makes every use exclusive.
unsafe impl Send for ScanCursor {}

impl ScanCursor {
    pub(crate) fn new() -> Self {
        // SAFETY: creates a fresh cursor we own.
        let p = unsafe { api!(RedisModule_ScanCursorCreate)() };
        ScanCursor(NonNull::new(p).expect("RedisModule_ScanCursorCreate returned NULL"))
    }

    fn as_ptr(&mut self) -> *mut raw::RedisModuleScanCursor {
        self.0.as_ptr()
    }

    /// `RedisModule_ScanCursorRestart`.
    pub(crate) fn restart(&mut self) {
        // SAFETY: a live cursor of ours.
        unsafe { api!(RedisModule_ScanCursorRestart)(self.0.as_ptr()) };
    }
}

impl Drop for ScanCursor {
    fn drop(&mut self) {
        // SAFETY: a cursor we own, destroyed once.
        unsafe { api!(RedisModule_ScanCursorDestroy)(self.0.as_ptr()) };
    }
}

/// A callback and the panic it raised, if any: after a panic the rest of the step is skipped
/// and the panic continues in Rust once the C call has returned (never across it).
struct Visit<'f, F: ?Sized> {
    f: &'f mut F,
    panic: Option<Box<dyn Any + Send>>,
}

impl<F: ?Sized> Visit<'_, F> {
    fn run(&mut self, call: impl FnOnce(&mut F)) {
        if self.panic.is_none() {
            let f = &mut *self.f;
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| call(f))) {
                self.panic = Some(p);
            }
        }
    }

    fn finish<R>(self, r: R) -> R {
        match self.panic {
            Some(p) => resume_unwind(p),
            None => r,
        }
    }
}

/// What a keyspace scan callback gets.
type ScanFn<'f> = dyn FnMut(&Context, &RedisStr, Option<Key<'_>>) + 'f;
/// What a key field scan callback gets.
type FieldFn<'f> = dyn FnMut(&RedisStr, Option<&RedisStr>) + 'f;

impl RawCtx {
    /// One `RedisModule_Scan` step; whether there is more.
    pub(crate) fn scan(&self, cursor: &mut ScanCursor, f: &mut ScanFn<'_>) -> bool {
        let mut visit = Visit { f, panic: None };
        let data = &mut visit as *mut Visit<'_, ScanFn<'_>>;
        // SAFETY: a live context and cursor; `data` points to `visit`, which outlives the
        // call; the callback is only called during it.
        let more = unsafe {
            api!(RedisModule_Scan)(self.as_ptr(), cursor.as_ptr(), Some(scan_cb), data.cast())
        } != 0;
        visit.finish(more)
    }
}

unsafe extern "C" fn scan_cb(
    ctx: *mut raw::RedisModuleCtx,
    keyname: *mut raw::RedisModuleString,
    key: *mut raw::RedisModuleKey,
    data: *mut c_void,
) {
    // SAFETY: `data` is the `Visit` that `scan` passed, alive and not otherwise borrowed
    // during the call.
    let visit = unsafe { &mut *(data as *mut Visit<'_, ScanFn<'_>>) };
    // SAFETY: the scan's context, valid during the callback.
    let ctx = Context::new(unsafe { RawCtx::from_raw(ctx) });
    // SAFETY: the key name lives during the callback.
    let name = unsafe { RedisStr::from_raw_ref(&keyname) };
    // Redis opened the key for reading and closes it after the callback: borrowed, not closed.
    let handle = (!key.is_null()).then(|| KeyHandle::borrowed(ctx.raw(), key));
    visit.run(|f| {
        let key = handle.map(|h| Key::new(h, name, false));
        f(&ctx, name, key)
    });
}

impl KeyHandle<'_> {
    /// One `RedisModule_ScanKey` step: calls `f(field, value)` for each element (value `None`
    /// for sets); whether there is more.
    pub(crate) fn scan_fields(&self, cursor: &mut ScanCursor, f: &mut FieldFn<'_>) -> bool {
        let Some(p) = self.raw_ptr() else {
            return false;
        };
        let mut visit = Visit { f, panic: None };
        let data = &mut visit as *mut Visit<'_, FieldFn<'_>>;
        // SAFETY: an open key and a live cursor; `data` points to `visit`, which outlives the
        // call.
        let more = unsafe {
            api!(RedisModule_ScanKey)(p, cursor.as_ptr(), Some(scan_key_cb), data.cast())
        } != 0;
        visit.finish(more)
    }
}

unsafe extern "C" fn scan_key_cb(
    _key: *mut raw::RedisModuleKey,
    field: *mut raw::RedisModuleString,
    value: *mut raw::RedisModuleString,
    data: *mut c_void,
) {
    // SAFETY: `data` is the `Visit` that `scan_fields` passed, alive during the call.
    let visit = unsafe { &mut *(data as *mut Visit<'_, FieldFn<'_>>) };
    // SAFETY: the field and value strings live during the callback.
    let field = unsafe { RedisStr::from_raw_ref(&field) };
    let value = (!value.is_null()).then(|| unsafe { RedisStr::from_raw_ref(&value) });
    visit.run(|f| f(field, value));
}
