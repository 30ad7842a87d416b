//! A fake server allocator for tests: libc malloc with a tagged header, counting every call.
//!
//! A block is `[pad][magic][size]` + user bytes, so the fake knows its own pointers and aborts on
//! a foreign one: a System pointer reaching `free` here (or a fake pointer reaching libc `free`,
//! which glibc rejects) fails the test loudly. `PREFIX` 16 keeps user pointers 16-aligned (like
//! jemalloc or glibc); `PREFIX` 8 makes them 8 (mod 16), like zmalloc's size prefix.
#![allow(dead_code)]

use core::ffi::c_void;
use rmkit_alloc::RedisApi;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const MAGIC: usize = 0x5245_4449_535f_4d4d;
const LIVE_MAGIC_CLEARED: usize = 0;

pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static CALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static REALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static FREES: AtomicUsize = AtomicUsize::new(0);
/// Bytes the fake holds for its callers (what `used_memory` would count).
pub static USED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// `alloc` calls made on this thread (tests run in parallel: only these are theirs).
    pub static THREAD_ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// `realloc` calls made on this thread.
    pub static THREAD_REALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<usize>>) {
    // `try_with`: the allocator may run while this thread's locals are being destroyed.
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

pub struct Fake<const PREFIX: usize>;

impl<const PREFIX: usize> Fake<PREFIX> {
    const PAD: usize = 16 - PREFIX;
    const HEAD: usize = Self::PAD + 16;

    /// Writes the header into a fresh libc block and returns the user pointer.
    unsafe fn finish(base: *mut c_void, n: usize) -> *mut c_void {
        if base.is_null() {
            return base;
        }
        // SAFETY: the block is HEAD + n bytes long; the header words are inside it.
        unsafe {
            let user = base.cast::<u8>().add(Self::HEAD);
            user.sub(16).cast::<usize>().write_unaligned(MAGIC);
            user.sub(8).cast::<usize>().write_unaligned(n);
            USED.fetch_add(n, Relaxed);
            // `open` reads the header through the caller's (possibly narrowed) pointer.
            let _ = base.expose_provenance();
            user.cast()
        }
    }

    /// The libc block behind a user pointer and its size; aborts on a pointer the fake did not make.
    unsafe fn open(p: *mut c_void) -> (*mut c_void, usize) {
        // SAFETY: claimed to be ours: HEAD bytes precede `p`. A foreign pointer is read out of
        // bounds here, which is exactly the bug this fake exists to catch (and abort on).
        unsafe {
            let user = std::ptr::with_exposed_provenance_mut::<u8>(p.addr());
            if user.sub(16).cast::<usize>().read_unaligned() != MAGIC {
                eprintln!("fake server allocator: {p:?} is not a server pointer");
                std::process::abort();
            }
            (
                user.sub(Self::HEAD).cast(),
                user.sub(8).cast::<usize>().read_unaligned(),
            )
        }
    }

    unsafe extern "C" fn alloc(n: usize) -> *mut c_void {
        ALLOCS.fetch_add(1, Relaxed);
        bump(&THREAD_ALLOCS);
        // SAFETY: plain libc.
        unsafe { Self::finish(libc::malloc(Self::HEAD + n), n) }
    }

    unsafe extern "C" fn calloc(nmemb: usize, size: usize) -> *mut c_void {
        CALLOCS.fetch_add(1, Relaxed);
        let n = nmemb * size;
        // SAFETY: plain libc.
        unsafe { Self::finish(libc::calloc(1, Self::HEAD + n), n) }
    }

    unsafe extern "C" fn realloc(p: *mut c_void, n: usize) -> *mut c_void {
        REALLOCS.fetch_add(1, Relaxed);
        bump(&THREAD_REALLOCS);
        // SAFETY: `p` is checked to be ours; libc realloc of its block keeps the header.
        unsafe {
            let (base, old) = Self::open(p);
            let nb = libc::realloc(base, Self::HEAD + n);
            if nb.is_null() {
                return nb;
            }
            USED.fetch_sub(old, Relaxed);
            Self::finish(nb, n)
        }
    }

    unsafe extern "C" fn free(p: *mut c_void) {
        FREES.fetch_add(1, Relaxed);
        // SAFETY: `p` is checked to be ours.
        unsafe {
            let (base, old) = Self::open(p);
            base.cast::<u8>()
                .add(Self::HEAD - 16)
                .cast::<usize>()
                .write_unaligned(LIVE_MAGIC_CLEARED);
            USED.fetch_sub(old, Relaxed);
            libc::free(base);
        }
    }

    unsafe extern "C" fn size(p: *mut c_void) -> usize {
        // SAFETY: `p` is checked to be ours.
        unsafe { Self::open(p).1 }
    }

    /// What the block can hold: libc's usable size past the header (at least what was asked
    /// for), as `RedisModule_MallocUsableSize` reports the server malloc's size class.
    unsafe extern "C" fn usable_size(p: *mut c_void) -> usize {
        // SAFETY: `p` is checked to be ours; `base` is a live libc block.
        let (base, n) = unsafe { Self::open(p) };
        if cfg!(miri) {
            // Miri has no malloc_usable_size: exactly what was asked for.
            return n;
        }
        // SAFETY: a live libc block.
        unsafe { libc::malloc_usable_size(base) - Self::HEAD }
    }

    /// Like the server's `RedisModule_TryAlloc`: null above [`TRY_LIMIT`] bytes.
    unsafe extern "C" fn try_alloc(n: usize) -> *mut c_void {
        if n > TRY_LIMIT.load(Relaxed) {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded.
        unsafe { Self::alloc(n) }
    }

    /// Like `RedisModule_Realloc` on Redis 7.0, which has no `TryRealloc`: out of memory aborts
    /// the server (here: above [`TRY_LIMIT`] bytes).
    unsafe extern "C" fn aborting_realloc(p: *mut c_void, n: usize) -> *mut c_void {
        if n > TRY_LIMIT.load(Relaxed) {
            eprintln!("fake server allocator: realloc to {n} bytes is out of memory: abort");
            std::process::abort();
        }
        // SAFETY: forwarded.
        unsafe { Self::realloc(p, n) }
    }

    /// A server with `RedisModule_TryAlloc` but neither `TryCalloc` nor `TryRealloc` (Redis 7.0),
    /// out of memory above [`TRY_LIMIT`] bytes.
    pub fn api_without_try_realloc() -> RedisApi {
        RedisApi {
            try_alloc: Some(Self::try_alloc),
            realloc: Self::aborting_realloc,
            ..Self::api()
        }
    }

    pub fn api() -> RedisApi {
        RedisApi {
            alloc: Self::alloc,
            try_alloc: None,
            calloc: Self::calloc,
            try_calloc: None,
            realloc: Self::realloc,
            try_realloc: None,
            free: Self::free,
            malloc_size: Some(Self::size),
            malloc_usable_size: Some(Self::usable_size),
        }
    }
}

/// What the fake with `PREFIX` 16 says block `p` can hold (`RedisModule_MallocUsableSize`).
pub fn usable_size(p: *const u8) -> usize {
    // SAFETY: `p` is checked to be the fake's.
    unsafe { Fake::<16>::usable_size(p.cast_mut().cast()) }
}

/// Allocations larger than this fail in [`Fake::api_without_try_realloc`]'s server.
pub static TRY_LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Installs the fake with `PREFIX` once for this test binary.
pub fn install<const PREFIX: usize>() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: the fake's functions live for the whole process and are thread-safe.
    ONCE.call_once(|| unsafe { rmkit_alloc::install(Fake::<PREFIX>::api()).expect("install") });
}

/// Alignments 1..=4096 and sizes from 1 byte to 1 MiB around the interesting boundaries.
#[cfg(not(miri))]
pub const ALIGNS: &[usize] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
#[cfg(not(miri))]
pub const SIZES: &[usize] = &[
    1,
    2,
    3,
    7,
    8,
    9,
    15,
    16,
    17,
    24,
    31,
    100,
    1000,
    4095,
    4096,
    4097,
    16384,
    20000,
    65536,
    65537,
    1 << 20,
    (1 << 20) + 3,
];

/// Under Miri (~1000x slower) a subset of the sweep: the alignments on either side of the
/// server's 16 (1, 8, 16, 32) and the largest (4096); sizes below, at and above 16 and 4096,
/// and 20000 (a layout `20000/4096` that plain `RedisModule_Alloc` misaligns).
#[cfg(miri)]
pub const ALIGNS: &[usize] = &[1, 8, 16, 32, 4096];
#[cfg(miri)]
pub const SIZES: &[usize] = &[1, 7, 8, 9, 15, 16, 17, 4095, 4096, 4097, 20000];
