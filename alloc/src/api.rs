//! The server's allocation functions, as raw C function pointers.
//!
//! This crate knows nothing of Redis beyond these pointers: the toolkit reads them from the
//! module API table after `RedisModule_Init` and hands them to [`install`](crate::install);
//! tests hand it counting wrappers around libc.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// `RedisModule_Alloc` / `RedisModule_TryAlloc`.
pub type AllocFn = unsafe extern "C" fn(bytes: usize) -> *mut c_void;
/// `RedisModule_Calloc` / `RedisModule_TryCalloc`.
pub type CallocFn = unsafe extern "C" fn(nmemb: usize, size: usize) -> *mut c_void;
/// `RedisModule_Realloc` / `RedisModule_TryRealloc`.
pub type ReallocFn = unsafe extern "C" fn(ptr: *mut c_void, bytes: usize) -> *mut c_void;
/// `RedisModule_Free`.
pub type FreeFn = unsafe extern "C" fn(ptr: *mut c_void);
/// `RedisModule_MallocSize`: the bytes the server counts in `used_memory` for a pointer.
pub type SizeFn = unsafe extern "C" fn(ptr: *mut c_void) -> usize;

/// The server's allocator, as found in the module API table.
///
/// The `try_*` variants return NULL on out-of-memory instead of aborting the server, which lets
/// `Vec::try_reserve` and friends recover; they are used whenever the server has them
/// (`RedisModule_TryAlloc` since Redis 7.0, `TryCalloc`/`TryRealloc` since 7.4).
#[derive(Clone, Copy, Debug)]
pub struct RedisApi {
    /// `RedisModule_Alloc`.
    pub alloc: AllocFn,
    /// `RedisModule_TryAlloc`, if the server exports it.
    pub try_alloc: Option<AllocFn>,
    /// `RedisModule_Calloc`.
    pub calloc: CallocFn,
    /// `RedisModule_TryCalloc`, if the server exports it.
    pub try_calloc: Option<CallocFn>,
    /// `RedisModule_Realloc`.
    pub realloc: ReallocFn,
    /// `RedisModule_TryRealloc`, if the server exports it.
    pub try_realloc: Option<ReallocFn>,
    /// `RedisModule_Free`.
    pub free: FreeFn,
    /// `RedisModule_MallocSize`, if the server exports it (used only by [`measure`](crate::measure)).
    pub malloc_size: Option<SizeFn>,
    /// `RedisModule_MallocUsableSize`, if the server exports it (Redis 7.0+): the bytes of a
    /// block the module may use. A block that grows within them is not moved.
    pub malloc_usable_size: Option<SizeFn>,
}

/// The functions in use, stored as pointers (null = none) so that they can be swapped
/// atomically. Pointers, not integers, so that they keep their provenance (Miri checks this).
pub(crate) struct Table {
    alloc: AtomicPtr<()>,
    calloc: AtomicPtr<()>,
    realloc: AtomicPtr<()>,
    free: AtomicPtr<()>,
    size: AtomicPtr<()>,
    usable_size: AtomicPtr<()>,
}

pub(crate) static TABLE: Table = Table {
    alloc: AtomicPtr::new(core::ptr::null_mut()),
    calloc: AtomicPtr::new(core::ptr::null_mut()),
    realloc: AtomicPtr::new(core::ptr::null_mut()),
    free: AtomicPtr::new(core::ptr::null_mut()),
    size: AtomicPtr::new(core::ptr::null_mut()),
    usable_size: AtomicPtr::new(core::ptr::null_mut()),
};

impl Table {
    /// Stores `api`, preferring the non-aborting variants.
    pub(crate) fn store(&self, api: &RedisApi) {
        let alloc = api.try_alloc.unwrap_or(api.alloc);
        let calloc = api.try_calloc.unwrap_or(api.calloc);
        let realloc = api.try_realloc.unwrap_or(api.realloc);
        self.alloc.store(alloc as *mut (), Relaxed);
        self.calloc.store(calloc as *mut (), Relaxed);
        self.realloc.store(realloc as *mut (), Relaxed);
        self.free.store(api.free as *mut (), Relaxed);
        let size = api
            .malloc_size
            .map_or(core::ptr::null_mut(), |f| f as *mut ());
        self.size.store(size, Relaxed);
        let usable_size = api
            .malloc_usable_size
            .map_or(core::ptr::null_mut(), |f| f as *mut ());
        self.usable_size.store(usable_size, Relaxed);
    }

    // The loads below are only reached once the state is `REDIS`, which is published with
    // `Release` after `store`: the pointers are non-null and were made from the fn types.

    #[inline]
    pub(crate) unsafe fn alloc(&self, bytes: usize) -> *mut u8 {
        // SAFETY: the address was stored from an `AllocFn` (see the note above).
        unsafe { core::mem::transmute::<*mut (), AllocFn>(self.alloc.load(Relaxed))(bytes).cast() }
    }

    #[inline]
    pub(crate) unsafe fn calloc(&self, bytes: usize) -> *mut u8 {
        // SAFETY: the address was stored from a `CallocFn`.
        unsafe {
            core::mem::transmute::<*mut (), CallocFn>(self.calloc.load(Relaxed))(1, bytes).cast()
        }
    }

    #[inline]
    pub(crate) unsafe fn realloc(&self, ptr: *mut u8, bytes: usize) -> *mut u8 {
        // SAFETY: the address was stored from a `ReallocFn`; `ptr` came from this table.
        unsafe {
            core::mem::transmute::<*mut (), ReallocFn>(self.realloc.load(Relaxed))(
                ptr.cast(),
                bytes,
            )
            .cast()
        }
    }

    #[inline]
    pub(crate) unsafe fn free(&self, ptr: *mut u8) {
        // SAFETY: the address was stored from a `FreeFn`; `ptr` came from this table.
        unsafe { core::mem::transmute::<*mut (), FreeFn>(self.free.load(Relaxed))(ptr.cast()) }
    }

    /// Whether the live server block `ptr` can hold `bytes` as it is (its usable size, when the
    /// server tells it); `false` when it cannot tell.
    #[inline]
    pub(crate) unsafe fn holds(&self, ptr: *mut u8, bytes: usize) -> bool {
        match self.usable_size.load(Relaxed) {
            f if f.is_null() => false,
            // SAFETY: a non-zero address was stored from a `SizeFn`; `ptr` is live and ours.
            f => bytes <= unsafe { core::mem::transmute::<*mut (), SizeFn>(f)(ptr.cast()) },
        }
    }

    /// The bytes the server accounts for `ptr`, or `fallback` if it cannot tell us.
    #[inline]
    pub(crate) unsafe fn usable(&self, ptr: *mut u8, fallback: usize) -> usize {
        match self.size.load(Relaxed) {
            f if f.is_null() => fallback,
            // SAFETY: a non-zero address was stored from a `SizeFn`; `ptr` is live and ours.
            f => unsafe { core::mem::transmute::<*mut (), SizeFn>(f)(ptr.cast()) },
        }
    }
}

static_assertions::assert_eq_size!(AllocFn, *mut ());
static_assertions::assert_eq_size!(SizeFn, *mut ());
