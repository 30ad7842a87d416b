//! A fake server allocator (the idea of `alloc/tests/common/mod.rs`, kept separate so the two
//! can evolve independently): libc malloc with a tagged header, counting every call.
//!
//! A block is `[pad][magic][size]` followed by the caller's bytes, so the fake knows its own
//! pointers and aborts on anything else: a `System` pointer handed to `free`/`realloc` here, a
//! double free, or a wild pointer fails loudly instead of corrupting the heap. With a prefix of
//! 16 (the default) caller pointers are 16-aligned like jemalloc's and glibc's; with 8 they are
//! 8 (mod 16), like zmalloc's size prefix on a server built without `malloc_size`.
//!
//! The header is read back through the block's *exposed* provenance, not through the pointer
//! the caller hands back: that pointer may have been narrowed to the caller's bytes (a `Box`
//! retag under Stacked Borrows), and reading below it through it is undefined behaviour.

use core::ffi::c_void;
use rmkit_alloc::RedisApi;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const MAGIC: usize = 0x5245_4449_535f_4655; // "REDIS_FU"
const FREED: usize = 0x0dea_dfee_dfee_d0de;

/// 8 or 16: the bytes of header right below a caller pointer (see the module docs).
static PREFIX: AtomicUsize = AtomicUsize::new(16);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static USED: AtomicUsize = AtomicUsize::new(0);

/// Calls of any allocation function so far.
pub fn calls() -> usize {
    CALLS.load(Relaxed)
}

/// Blocks the fake currently holds for its callers.
pub fn live_blocks() -> usize {
    LIVE.load(Relaxed)
}

/// Bytes the fake currently holds for its callers: what the server would count in
/// `used_memory` (the fake's `MallocSize` of a block is exactly the size asked for).
pub fn used() -> usize {
    USED.load(Relaxed)
}

/// The alignment of the fake's blocks relative to 16 (8 or 16).
pub fn prefix() -> usize {
    PREFIX.load(Relaxed)
}

/// Sets the header layout; only before [`api`]'s functions are first used.
pub(crate) fn set_prefix(prefix: usize) {
    assert!(prefix == 8 || prefix == 16, "prefix must be 8 or 16");
    PREFIX.store(prefix, Relaxed);
}

/// Bytes before the caller's pointer: padding, magic, size.
fn head() -> usize {
    16 - prefix() + 16
}

/// Writes the header into a fresh libc block of `head() + n` bytes; returns the caller pointer.
///
/// # Safety
/// `base` is null or a live libc block of at least `head() + n` bytes.
unsafe fn finish(base: *mut c_void, n: usize) -> *mut c_void {
    if base.is_null() {
        return base;
    }
    // Lets `open` reach the header from the caller's pointer (see the module docs).
    let _ = base.expose_provenance();
    // SAFETY: the block is `head() + n` bytes; both header words lie inside its first `head()`.
    unsafe {
        let user = base.cast::<u8>().add(head());
        user.sub(16).cast::<usize>().write_unaligned(MAGIC);
        user.sub(8).cast::<usize>().write_unaligned(n);
        USED.fetch_add(n, Relaxed);
        LIVE.fetch_add(1, Relaxed);
        user.cast()
    }
}

/// The libc block behind a caller pointer and its size; aborts on a pointer the fake did not
/// make (or already freed).
///
/// # Safety
/// `p` is claimed to come from [`finish`]. A foreign pointer is read out of bounds here, which
/// is the bug this fake exists to catch (and abort on).
unsafe fn open(p: *mut c_void) -> (*mut c_void, usize) {
    let base = core::ptr::with_exposed_provenance_mut::<u8>(p.addr().wrapping_sub(head()));
    // SAFETY: see the function's contract; `base` carries the whole block's provenance.
    unsafe {
        let user = base.add(head());
        let magic = user.sub(16).cast::<usize>().read_unaligned();
        if magic != MAGIC {
            let what = if magic == FREED {
                "was already freed"
            } else {
                "is not a server pointer"
            };
            eprintln!("fake server allocator: {p:?} {what}");
            std::process::abort();
        }
        (base.cast(), user.sub(8).cast::<usize>().read_unaligned())
    }
}

unsafe extern "C" fn alloc(n: usize) -> *mut c_void {
    CALLS.fetch_add(1, Relaxed);
    let Some(total) = head().checked_add(n) else {
        return core::ptr::null_mut();
    };
    // SAFETY: plain libc; `finish` gets a block of `head() + n` bytes or null.
    unsafe { finish(libc::malloc(total), n) }
}

unsafe extern "C" fn calloc(nmemb: usize, size: usize) -> *mut c_void {
    CALLS.fetch_add(1, Relaxed);
    let Some((n, total)) = nmemb
        .checked_mul(size)
        .and_then(|n| Some((n, head().checked_add(n)?)))
    else {
        return core::ptr::null_mut();
    };
    // SAFETY: plain libc; `finish` gets a zeroed block of `head() + n` bytes or null.
    unsafe { finish(libc::calloc(1, total), n) }
}

unsafe extern "C" fn realloc(p: *mut c_void, n: usize) -> *mut c_void {
    CALLS.fetch_add(1, Relaxed);
    let Some(total) = head().checked_add(n) else {
        return core::ptr::null_mut();
    };
    // SAFETY: `open` checks `p` is ours; libc realloc of its block keeps the header bytes, and
    // on failure leaves the block (and our accounting) untouched.
    unsafe {
        let (base, old) = open(p);
        let nb = libc::realloc(base, total);
        if nb.is_null() {
            return nb;
        }
        USED.fetch_sub(old, Relaxed);
        LIVE.fetch_sub(1, Relaxed);
        finish(nb, n)
    }
}

unsafe extern "C" fn free(p: *mut c_void) {
    CALLS.fetch_add(1, Relaxed);
    // SAFETY: `open` checks `p` is ours; the magic word is inside the block being freed.
    unsafe {
        let (base, old) = open(p);
        base.cast::<u8>()
            .add(head() - 16)
            .cast::<usize>()
            .write_unaligned(FREED);
        USED.fetch_sub(old, Relaxed);
        LIVE.fetch_sub(1, Relaxed);
        libc::free(base);
    }
}

unsafe extern "C" fn malloc_size(p: *mut c_void) -> usize {
    // SAFETY: `open` checks `p` is ours.
    unsafe { open(p).1 }
}

/// What the block behind `p` can hold: libc's usable size past the header (at least what was
/// asked for), so the allocator's keep-in-place growth is exercised.
unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    // SAFETY: `open` checks `p` is ours.
    let (base, n) = unsafe { open(p) };
    if cfg!(miri) {
        // Miri has no malloc_usable_size: exactly what was asked for.
        return n;
    }
    // SAFETY: a live libc block.
    unsafe { libc::malloc_usable_size(base.cast()) - head() }
}

/// The fake as the allocator API a server hands to `rmkit_alloc::install`.
pub fn api() -> RedisApi {
    RedisApi {
        alloc,
        try_alloc: None,
        calloc,
        try_calloc: None,
        realloc,
        try_realloc: None,
        free,
        malloc_size: Some(malloc_size),
        malloc_usable_size: Some(malloc_usable_size),
    }
}
