//! A `#[global_allocator]` that routes a Redis module's Rust allocations through the server's
//! own allocator (`RedisModule_Alloc` and friends), so `maxmemory`, eviction and `INFO memory`
//! see every byte the module holds.
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: rmkit_alloc::RedisAllocator = rmkit_alloc::RedisAllocator::new();
//! ```
//! Module authors do not write this: `rmkit::module!` emits it and calls [`install`] from
//! `RedisModule_OnLoad`. Until then — and in a plain `cargo test`, outside any server — every
//! allocation is served by [`System`], and those pointers go back to `System` when freed, even
//! after the switch.
//!
//! # Guarantees
//! - **Any layout.** Alignments up to the server malloc's guaranteed minimum (probed at install:
//!   16 on glibc, jemalloc and tcmalloc; 8 if zmalloc adds a size header) are served by a single
//!   `RedisModule_Alloc`; larger alignments over-allocate by `align` bytes and keep the original
//!   pointer just below the one returned. Nothing relies on jemalloc's size classes.
//! - **realloc** goes through `RedisModule_Realloc` whenever the alignment allows, except when
//!   growing a block to at most [`REALLOC_MOVES_UP_TO`] bytes, where allocate + copy + free is
//!   measurably cheaper than the server malloc's realloc; **alloc_zeroed** goes through
//!   `RedisModule_Calloc`.
//! - **Recoverable OOM.** `RedisModule_TryAlloc` (and `TryCalloc`/`TryRealloc` where the server
//!   has them) are preferred: out of memory returns null, so `try_reserve` can recover instead
//!   of the server aborting.
//! - **Counters** ([`stats`]): live bytes, peak, live and total allocations, kept with relaxed
//!   atomics and without a locked instruction on the server's main thread.
//! - **Measurement** ([`measure`]): the exact `used_memory` bytes a closure allocated.
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]

mod api;
mod measure;
mod preinit;
mod stats;

pub use api::{AllocFn, CallocFn, FreeFn, ReallocFn, RedisApi, SizeFn};
pub use measure::measure;

use api::TABLE;
use core::alloc::{GlobalAlloc, Layout};
use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::alloc::System;

/// Serving from `System`: not installed yet (or installing was refused).
const SYSTEM: u8 = 0;
/// [`install`] is switching: allocations wait (briefly) for it to finish.
const SWITCHING: u8 = 1;
/// Serving from the server.
const REDIS: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(SYSTEM);
/// `System` allocations between deciding to use `System` and recording the pointer.
static EARLY_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// The alignment every server allocation of at least 16 bytes is known to have.
static MIN_ALIGN: AtomicUsize = AtomicUsize::new(16);
/// The hot path's one check: layouts aligned to at most this go straight to the server with
/// one call. 0 until [`install`] has switched (set last, with release ordering, after `STATE`),
/// so a non-zero value also means "installed".
static DIRECT: AtomicUsize = AtomicUsize::new(0);
/// `realloc` growing a block to at most this many bytes allocates, copies and frees instead of
/// calling `RedisModule_Realloc`; larger blocks, and every shrink, go through
/// `RedisModule_Realloc` (where the server's malloc may resize in place).
///
/// jemalloc moves a growing block of these sizes nearly always (small size classes always, large
/// ones when the following pages are taken), but first tries to extend it in place under its
/// arena lock. Measured with `bench/run.sh` (16 `Vec<u64>`s grown side by side to 32 KiB): plain
/// `RedisModule_Realloc` 1.10x the time of alloc + copy + free, this threshold 1.05x (the rest
/// is the counters).
pub const REALLOC_MOVES_UP_TO: usize = 64 * 1024;
/// Set at [`install`] when the server can allocate without aborting (`RedisModule_TryAlloc`) but
/// not reallocate (no `RedisModule_TryRealloc`, as on Redis 7.0): then every growing block moves
/// (allocate + copy + free), so a failed growth is a null `realloc` (an `Err` from
/// `Vec::try_reserve`) instead of the server's out-of-memory abort.
static MOVE_LARGE: AtomicBool = AtomicBool::new(false);

/// The global allocator. See the [crate docs](crate).
#[derive(Debug, Default, Clone, Copy)]
pub struct RedisAllocator;

impl RedisAllocator {
    /// The allocator; use it as `#[global_allocator] static A: RedisAllocator = RedisAllocator::new();`.
    pub const fn new() -> Self {
        RedisAllocator
    }
}

// SAFETY: every pointer returned is valid for `layout` (see `server_alloc`), and each pointer is
// released by the allocator that produced it (System pointers are recorded in `preinit`).
//
// Each method is a short inlined fast path for the common case (installed, alignment served
// directly, not an early pointer) and an out-of-line slow path for everything else.
unsafe impl GlobalAlloc for RedisAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        if align <= DIRECT.load(Ordering::Acquire) {
            let n = layout.size().max(align);
            // SAFETY: installed (DIRECT != 0); the server allocator accepts any size.
            let raw = unsafe { TABLE.alloc(n) };
            if !raw.is_null() {
                account_alloc(raw, n);
                check_aligned(raw, align);
            }
            return raw;
        }
        // SAFETY: forwarded contract.
        unsafe { allocate(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { allocate(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let align = layout.align();
        if align <= DIRECT.load(Ordering::Acquire) && !preinit::may_contain(ptr) {
            let n = layout.size().max(align);
            if measure::active() {
                // SAFETY: `ptr` is a live server block of `n` requested bytes.
                measure::record(-(unsafe { TABLE.usable(ptr, n) } as isize));
            }
            stats::on_free(n);
            // SAFETY: a server pointer (installed, and not an early System one).
            return unsafe { TABLE.free(ptr) };
        }
        // SAFETY: forwarded contract.
        unsafe { dealloc_slow(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let (old, new) = (layout.size().max(align), new_size.max(align));
        let route = route(
            DIRECT.load(Ordering::Acquire),
            align,
            old,
            new,
            MOVE_LARGE.load(Ordering::Relaxed),
            measure::on_this_thread(),
            preinit::may_contain(ptr),
        );
        let p = match route {
            // SAFETY: installed, `ptr` is a live server block of `old` requested bytes.
            Route::Move => unsafe { move_block(ptr, layout.size(), new) },
            // SAFETY: `ptr` is a live server block (installed, not an early pointer).
            Route::Resize => unsafe { TABLE.realloc(ptr, new) },
            // SAFETY: forwarded contract.
            Route::Slow => return unsafe { realloc_slow(ptr, layout, new_size) },
        };
        if !p.is_null() {
            check_aligned(p, align);
            stats::on_resize(old, new);
        }
        p // on failure the old block is untouched, as GlobalAlloc requires
    }
}

/// How [`GlobalAlloc::realloc`] serves a block, decided from nothing but its arguments (so it is
/// unit-tested exhaustively): `direct` is [`DIRECT`] (0 before [`install`]), `old`/`new` the
/// requested sizes (`size.max(align)`), `move_large` is [`MOVE_LARGE`], `measuring` whether a
/// [`measure`] scope is open on the calling thread, `maybe_early` the early-pointer filter's
/// answer for the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Allocate, copy, free: a block growing to at most [`REALLOC_MOVES_UP_TO`] bytes, or any
    /// growth on a server whose realloc cannot fail without aborting ([`MOVE_LARGE`]).
    Move,
    /// `RedisModule_Realloc`: shrinking, or growing past [`REALLOC_MOVES_UP_TO`].
    Resize,
    /// Off the fast path ([`realloc_slow`]): not installed, over-aligned, measured on this
    /// thread, or possibly an early System pointer. The slow path serves server blocks with
    /// the same [`moves`] rule, so only the accounting differs, never the server call.
    Slow,
}

#[inline]
const fn route(
    direct: usize,
    align: usize,
    old: usize,
    new: usize,
    move_large: bool,
    measuring: bool,
    maybe_early: bool,
) -> Route {
    if align > direct || measuring || maybe_early {
        Route::Slow
    } else if moves(old, new, move_large) {
        Route::Move
    } else {
        Route::Resize
    }
}

/// Whether a block growing from `old` to `new` requested bytes is moved (allocate + copy +
/// free) rather than resized:
/// - up to [`REALLOC_MOVES_UP_TO`] bytes, because the server malloc's realloc usually moves
///   such a block anyway (jemalloc after trying to extend it in place under its arena lock);
/// - at any size when `move_large` ([`MOVE_LARGE`]): the server has `RedisModule_TryAlloc` but
///   no `RedisModule_TryRealloc` (Redis 7.0–7.2), so only a fresh allocation can fail without
///   aborting the server, and `Vec::try_reserve` must be able to fail.
#[inline]
const fn moves(old: usize, new: usize, move_large: bool) -> bool {
    new > old && (new <= REALLOC_MOVES_UP_TO || move_large)
}

/// Moves the `len` live bytes of server block `ptr` into a new server block of `new` bytes and
/// frees `ptr` — or keeps `ptr` if its usable size already holds `new` bytes; null (and `ptr`
/// untouched) if the server has no memory.
///
/// # Safety
/// Installed; `ptr` is a live server block holding at least `len` bytes, `len <= new`.
#[inline]
unsafe fn move_block(ptr: *mut u8, len: usize, new: usize) -> *mut u8 {
    // A block that already holds `new` bytes (the server malloc's size class) stays: no copy,
    // and nothing can fail. The server counted its whole usable size when it was allocated.
    // SAFETY: `ptr` is a live server block.
    if unsafe { TABLE.holds(ptr, new) } {
        return ptr;
    }
    // SAFETY: installed; any size.
    let p = unsafe { TABLE.alloc(new) };
    if !p.is_null() {
        // SAFETY: `ptr` holds `len` bytes, `p` at least as many; distinct blocks.
        unsafe { ptr::copy_nonoverlapping(ptr, p, len) };
        // SAFETY: a live server block, replaced by `p`.
        unsafe { TABLE.free(ptr) };
    }
    p
}

/// `dealloc` off the fast path: over-aligned server blocks, early System pointers, and
/// everything before [`install`].
#[cold]
#[inline(never)]
unsafe fn dealloc_slow(ptr: *mut u8, layout: Layout) {
    // Before the switch every live pointer is a System one; after it, only recorded ones.
    let early = preinit::remove(ptr) || STATE.load(Ordering::Acquire) != REDIS;
    if early {
        // SAFETY: `ptr` came from System with this layout.
        unsafe { System.dealloc(ptr, layout) }
    } else {
        // SAFETY: `ptr` came from `server_alloc`/`server_realloc` with this layout.
        unsafe { server_free(ptr, layout) }
    }
}

/// `realloc` off the fast path: over-aligned blocks, inside a [`measure`] scope, early System
/// pointers, and everything before [`install`].
#[cold]
#[inline(never)]
unsafe fn realloc_slow(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    if STATE.load(Ordering::Acquire) == REDIS && !preinit::contains(ptr) {
        // SAFETY: `ptr` is a server pointer allocated with `layout`.
        return unsafe { server_realloc(ptr, layout, new_size) };
    }
    // SAFETY: `ptr` is a System pointer; forwarded contract.
    if let Some(p) = unsafe { early_realloc(ptr, layout, new_size) } {
        return p;
    }
    // The allocator was installed meanwhile: move the block to the server.
    // SAFETY: `new_size` > 0 and does not overflow with `align` (GlobalAlloc::realloc contract).
    let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
    // SAFETY: forwarded contract.
    let new = unsafe { allocate(new_layout, false) };
    if !new.is_null() {
        // SAFETY: both blocks are valid for the smaller size and do not overlap.
        unsafe { ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        // SAFETY: `ptr` is a live System pointer allocated with `layout`.
        unsafe { dealloc_slow(ptr, layout) };
    }
    new
}

/// `System.realloc` of an early pointer while still on System, keeping the record exact.
/// `None` if the allocator is being (or has been) installed.
#[inline]
unsafe fn early_realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> Option<*mut u8> {
    if preinit::overflowed() && STATE.load(Ordering::Acquire) == SYSTEM {
        // SAFETY: forwarded contract; nothing is recorded any more.
        return Some(unsafe { System.realloc(ptr, layout, new_size) });
    }
    EARLY_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let result = if STATE.load(Ordering::SeqCst) == SYSTEM {
        preinit::remove(ptr);
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        // On failure the old block stays live (and recorded).
        preinit::insert(if p.is_null() { ptr } else { p });
        Some(p)
    } else {
        None
    };
    EARLY_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Serves `layout` from the server once installed, from System (recorded) before: `alloc`'s
/// slow path and `alloc_zeroed`.
unsafe fn allocate(layout: Layout, zeroed: bool) -> *mut u8 {
    loop {
        match STATE.load(Ordering::Acquire) {
            // SAFETY: installed; forwarded contract.
            REDIS => return unsafe { server_alloc(layout, zeroed) },
            SWITCHING => core::hint::spin_loop(),
            _ => {
                if preinit::overflowed() {
                    // Switching is impossible now: plain System, nothing to record.
                    // SAFETY: forwarded contract.
                    return unsafe { system_alloc(layout, zeroed) };
                }
                // Dekker-style handshake with `install`: either it sees us in flight and waits
                // until the pointer is recorded, or we see it switching and retry.
                EARLY_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
                if STATE.load(Ordering::SeqCst) != SYSTEM {
                    EARLY_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                // SAFETY: forwarded contract.
                let p = unsafe { system_alloc(layout, zeroed) };
                if !p.is_null() {
                    preinit::insert(p);
                }
                EARLY_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                return p;
            }
        }
    }
}

#[inline]
unsafe fn system_alloc(layout: Layout, zeroed: bool) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe {
        if zeroed {
            System.alloc_zeroed(layout)
        } else {
            System.alloc(layout)
        }
    }
}

/// How a layout is served by the server, and how many bytes are requested for it.
#[derive(Clone, Copy)]
enum Plan {
    /// One server allocation of this many bytes (≥ size and ≥ align), returned as is.
    Direct(usize),
    /// `size + align` bytes; the pointer returned is aligned up inside, with the server's
    /// pointer stored in the word just below it.
    OverAligned(usize),
}

#[inline]
fn plan(size: usize, align: usize) -> Option<Plan> {
    if align <= MIN_ALIGN.load(Ordering::Relaxed) {
        // C17 7.22.3: malloc(n) is aligned for any fundamental type of size <= n, so asking for
        // at least `align` bytes gives `align` alignment (up to the probed minimum).
        Some(Plan::Direct(size.max(align)))
    } else {
        size.checked_add(align).map(Plan::OverAligned)
    }
}

#[inline]
unsafe fn server_alloc(layout: Layout, zeroed: bool) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    let Some(plan) = plan(size, align) else {
        return ptr::null_mut();
    };
    let (Plan::Direct(n) | Plan::OverAligned(n)) = plan;
    // SAFETY: installed; the server allocator accepts any size.
    let raw = unsafe {
        if zeroed {
            TABLE.calloc(n)
        } else {
            TABLE.alloc(n)
        }
    };
    if raw.is_null() {
        return raw;
    }
    account_alloc(raw, n);
    match plan {
        Plan::Direct(_) => {
            check_aligned(raw, align);
            raw
        }
        Plan::OverAligned(_) => {
            // `raw` is MIN_ALIGN (>= 8) aligned and align > MIN_ALIGN, so the offset is a
            // non-zero multiple of MIN_ALIGN in 8..=align: room for the header word, and
            // `offset + size <= n`.
            let offset = align - (raw as usize & (align - 1));
            // SAFETY: in bounds of the `n`-byte block (see above).
            let user = unsafe { raw.add(offset) };
            // SAFETY: `user - 8` is inside the block, 8-aligned, and not part of the user's bytes.
            unsafe { user.cast::<*mut u8>().sub(1).write(raw) };
            // The header is read back through the address of the pointer the caller frees,
            // which may be narrowed to the user's bytes: expose the block's provenance.
            let _ = raw.expose_provenance();
            user
        }
    }
}

/// The server pointer and requested size behind a pointer from `server_alloc`.
#[inline]
unsafe fn server_block(ptr: *mut u8, layout: Layout) -> (*mut u8, usize) {
    // `plan` succeeded for this layout when it was allocated and MIN_ALIGN has not changed since
    // (it is only set while no server pointer exists).
    match plan(layout.size(), layout.align()) {
        Some(Plan::Direct(n)) => (ptr, n),
        Some(Plan::OverAligned(n)) => {
            let header =
                core::ptr::with_exposed_provenance::<*mut u8>(ptr.addr() - size_of::<usize>());
            // SAFETY: the header word written by `server_alloc`, inside the block whose
            // provenance it exposed.
            (unsafe { header.read() }, n)
        }
        None => unreachable!("layout was allocated, so its plan exists"),
    }
}

#[inline]
unsafe fn server_free(ptr: *mut u8, layout: Layout) {
    // SAFETY: forwarded contract.
    let (raw, n) = unsafe { server_block(ptr, layout) };
    if measure::active() {
        // SAFETY: `raw` is live and from the server.
        measure::record(-(unsafe { TABLE.usable(raw, n) } as isize));
    }
    stats::on_free(n);
    // SAFETY: `raw` came from the server's allocator.
    unsafe { TABLE.free(raw) }
}

#[inline]
unsafe fn server_realloc(ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    let align = layout.align();
    match (plan(layout.size(), align), plan(new_size, align)) {
        (Some(Plan::Direct(old)), Some(Plan::Direct(new))) => {
            let before = if measure::active() {
                // SAFETY: `ptr` is live and from the server.
                unsafe { TABLE.usable(ptr, old) as isize }
            } else {
                0
            };
            let p = if moves(old, new, MOVE_LARGE.load(Ordering::Relaxed)) {
                // SAFETY: `ptr` is a live server block holding `layout.size()` <= `new` bytes.
                unsafe { move_block(ptr, layout.size(), new) }
            } else {
                // SAFETY: `ptr` is a live server pointer.
                unsafe { TABLE.realloc(ptr, new) }
            };
            if p.is_null() {
                return p; // the old block is untouched, as GlobalAlloc requires
            }
            check_aligned(p, align);
            stats::on_resize(old, new);
            if measure::active() {
                // SAFETY: `p` is live and from the server.
                measure::record(unsafe { TABLE.usable(p, new) } as isize - before);
            }
            p
        }
        // Over-aligned: the server's realloc may move the block to a different alignment
        // offset, so allocate, copy and free.
        _ => {
            // SAFETY: GlobalAlloc::realloc guarantees this layout is valid.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
            // SAFETY: installed.
            let p = unsafe { server_alloc(new_layout, false) };
            if !p.is_null() {
                // SAFETY: both valid for the smaller size, distinct blocks.
                unsafe { ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size)) };
                // SAFETY: `ptr` is a live server pointer of `layout`.
                unsafe { server_free(ptr, layout) };
            }
            p
        }
    }
}

#[inline]
fn account_alloc(raw: *mut u8, n: usize) {
    stats::on_alloc(n);
    if measure::active() {
        // SAFETY: `raw` is live and from the server.
        measure::record(unsafe { TABLE.usable(raw, n) } as isize);
    }
}

/// The server broke malloc's alignment contract: continuing would be undefined behaviour.
#[inline]
fn check_aligned(p: *mut u8, align: usize) {
    if p as usize & (align - 1) != 0 {
        misaligned()
    }
}

#[cold]
fn misaligned() -> ! {
    const MSG: &[u8] = b"rmkit-alloc: the server allocator returned a pointer below its probed alignment; aborting\n";
    // SAFETY: writing a static buffer to stderr; allocation-free on purpose.
    unsafe { libc::write(2, MSG.as_ptr().cast(), MSG.len()) };
    std::process::abort()
}

/// Why [`install`] left the allocator on `System`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallError {
    /// Too many allocations made before installing are still live to track which are System's.
    TooManyEarlyAllocations,
    /// The server's malloc returned a pointer that is not even 8-byte aligned.
    Misaligned {
        /// The address's alignment (its lowest set bit).
        alignment: usize,
    },
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::TooManyEarlyAllocations => write!(
                f,
                "too many allocations made before module init are still live to tell them apart; \
                 module memory stays on the system allocator and is invisible to INFO memory \
                 (allocate less before RedisModule_OnLoad)"
            ),
            InstallError::Misaligned { alignment } => write!(
                f,
                "the server allocator returned a {alignment}-byte aligned pointer (8 is the \
                 minimum rmkit supports); module memory stays on the system allocator"
            ),
        }
    }
}

impl std::error::Error for InstallError {}

/// Routes every later allocation through `api`.
///
/// Called by `rmkit::module!`'s `RedisModule_OnLoad` right after `RedisModule_Init`. Calling it
/// again (a module reloaded while its image stayed mapped) refreshes the pointers.
///
/// # Safety
/// `api` must be the allocation functions of the one server this process runs (any thread may
/// call them, for as long as the process lives), and every later call must pass the same
/// server's functions: blocks allocated through one `api` are freed through the next.
pub unsafe fn install(api: RedisApi) -> Result<(), InstallError> {
    if STATE.load(Ordering::Acquire) == REDIS {
        TABLE.store(&api);
        return Ok(());
    }
    if preinit::overflowed() {
        return Err(InstallError::TooManyEarlyAllocations);
    }
    // SAFETY: the caller vouches for `api`.
    let min_align = unsafe { probe_min_align(&api) }?;
    STATE.store(SWITCHING, Ordering::SeqCst);
    while EARLY_IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        core::hint::spin_loop();
    }
    if preinit::overflowed() {
        STATE.store(SYSTEM, Ordering::SeqCst);
        return Err(InstallError::TooManyEarlyAllocations);
    }
    MIN_ALIGN.store(min_align, Ordering::Relaxed);
    MOVE_LARGE.store(
        api.try_realloc.is_none() && api.try_alloc.is_some(),
        Ordering::Relaxed,
    );
    TABLE.store(&api);
    stats::claim_owner();
    STATE.store(REDIS, Ordering::Release);
    DIRECT.store(min_align, Ordering::Release);
    Ok(())
}

/// The alignment the server's malloc gives every block of at least 16 bytes: 16 on the usual
/// backends, 8 when zmalloc prefixes blocks with their size (servers built without malloc_size).
unsafe fn probe_min_align(api: &RedisApi) -> Result<usize, InstallError> {
    let mut min = 16;
    for size in [16, 24, 32, 48, 64, 96, 128, 256, 4096] {
        // SAFETY: the caller vouches for `api`.
        let p = unsafe { (api.alloc)(size) };
        if p.is_null() {
            continue;
        }
        let addr = p as usize;
        // SAFETY: `p` came from `api.alloc`.
        unsafe { (api.free)(p) };
        let alignment = 1 << addr.trailing_zeros().min(usize::BITS - 1);
        if alignment < 8 {
            return Err(InstallError::Misaligned { alignment });
        }
        min = min.min(alignment);
    }
    Ok(min)
}

/// A snapshot of the allocator's counters (see [`stats`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Whether allocations go to the server (false before [`install`] and outside a server).
    pub routed: bool,
    /// Bytes currently requested from the server (the server rounds them up to its size classes).
    pub live_bytes: usize,
    /// The highest `live_bytes` since the module loaded (or [`reset_peak`]).
    pub peak_bytes: usize,
    /// Server allocations currently live.
    pub live_allocations: usize,
    /// Server allocations ever made (a realloc counts once, when it allocated).
    pub total_allocations: u64,
    /// Allocations made from `System` before [`install`] that are still live.
    pub early_allocations: usize,
    /// The alignment served by a single server allocation (larger ones over-allocate).
    pub min_align: usize,
}

/// The allocator's counters now.
///
/// ```
/// let s = rmkit_alloc::stats();
/// assert!(s.peak_bytes >= s.live_bytes || !s.routed);
/// ```
pub fn stats() -> Stats {
    Stats {
        routed: is_routed(),
        live_bytes: stats::live_bytes(),
        peak_bytes: stats::peak_bytes(),
        live_allocations: stats::live_allocations(),
        total_allocations: stats::total_allocations(),
        early_allocations: preinit::live(),
        min_align: MIN_ALIGN.load(Ordering::Relaxed),
    }
}

/// Whether allocations are being served by the server.
pub fn is_routed() -> bool {
    STATE.load(Ordering::Acquire) == REDIS
}

/// Starts a new peak window at the current live size.
pub fn reset_peak() {
    stats::reset_peak()
}

#[cfg(test)]
mod tests {
    use super::{REALLOC_MOVES_UP_TO, Route, moves, route};

    /// Sizes around every boundary the decision looks at.
    const SIZES: &[usize] = &[
        1,
        8,
        15,
        16,
        17,
        4096,
        REALLOC_MOVES_UP_TO - 1,
        REALLOC_MOVES_UP_TO,
        REALLOC_MOVES_UP_TO + 1,
        1 << 20,
        usize::MAX,
    ];

    #[test]
    fn realloc_route_is_decided_by_its_arguments_alone() {
        let flags = [false, true];
        for direct in [0, 8, 16] {
            for align in (0..=12).map(|s| 1usize << s) {
                for &old in SIZES {
                    for &new in SIZES {
                        for (move_large, measuring, maybe_early) in flags.iter().flat_map(|&a| {
                            flags.iter().flat_map(move |&b| flags.map(|c| (a, b, c)))
                        }) {
                            let got =
                                route(direct, align, old, new, move_large, measuring, maybe_early);
                            let expected =
                                if direct == 0 || align > direct || measuring || maybe_early {
                                    Route::Slow
                                } else if new > old && (new <= REALLOC_MOVES_UP_TO || move_large) {
                                    Route::Move
                                } else {
                                    Route::Resize
                                };
                            assert_eq!(
                                got, expected,
                                "direct {direct} align {align} {old} -> {new} move_large \
                                 {move_large} measuring {measuring} maybe_early {maybe_early}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn growth_moves_up_to_the_threshold_or_always_without_try_realloc() {
        assert!(moves(16, 32, false));
        assert!(moves(REALLOC_MOVES_UP_TO - 1, REALLOC_MOVES_UP_TO, false));
        assert!(!moves(REALLOC_MOVES_UP_TO, REALLOC_MOVES_UP_TO + 1, false));
        assert!(moves(REALLOC_MOVES_UP_TO, REALLOC_MOVES_UP_TO + 1, true));
        assert!(moves(1 << 20, 1 << 30, true));
        for move_large in [false, true] {
            assert!(!moves(32, 16, move_large), "shrinking resizes in place");
            assert!(!moves(32, 32, move_large), "same size");
        }
    }
}
