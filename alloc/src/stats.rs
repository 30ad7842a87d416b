//! Allocation counters, cheap enough for every allocation.
//!
//! Redis runs module commands on one thread, so that thread (the one that installed the
//! allocator, i.e. the server's main thread) updates its own counters with plain relaxed
//! load/store pairs — no locked instruction on the hot path. Any other thread (blocked-client
//! workers, thread-safe contexts, a module's own threads) uses atomic read-modify-writes on a
//! second set. Readers add the two; wrapping arithmetic keeps the sum exact when one thread frees
//! what another allocated.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// One thread class's counters. Live allocations are `total - frees`, so an allocation and a
/// free each update two words.
struct Set {
    bytes: AtomicUsize,
    total: AtomicU64,
    frees: AtomicU64,
}

impl Set {
    const fn new() -> Self {
        Set {
            bytes: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            frees: AtomicU64::new(0),
        }
    }
}

static OWNER: AtomicUsize = AtomicUsize::new(0);
static MAIN: Set = Set::new();
static OTHER: Set = Set::new();
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// A number unique to the calling thread while it lives: the thread pointer, read with one
/// instruction where we know the register (a call to `pthread_self` elsewhere, and under Miri).
#[inline(always)]
fn current_thread() -> usize {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    {
        let tp: usize;
        // SAFETY: on x86-64 Linux, %fs:0 holds the thread control block's pointer to itself
        // (the TLS ABI); reading it has no side effects.
        unsafe {
            core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        tp
    }
    #[cfg(all(target_arch = "aarch64", target_os = "linux", not(miri)))]
    {
        let tp: usize;
        // SAFETY: TPIDR_EL0 is the thread pointer register; reading it has no side effects.
        unsafe {
            core::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags))
        };
        tp
    }
    #[cfg(not(all(
        any(target_arch = "x86_64", target_arch = "aarch64"),
        target_os = "linux",
        not(miri)
    )))]
    {
        // SAFETY: pthread_self has no preconditions and cannot fail.
        unsafe { libc::pthread_self() as usize }
    }
}

/// Makes the calling thread the owner of the fast-path counters, unless one was already chosen:
/// the owner never changes, so no two threads ever update the plain counters.
pub(crate) fn claim_owner() {
    let _ = OWNER.compare_exchange(0, current_thread(), Relaxed, Relaxed);
}

#[inline]
fn on_owner() -> bool {
    current_thread() == OWNER.load(Relaxed)
}

#[inline]
pub(crate) fn on_alloc(bytes: usize) {
    let main = if on_owner() {
        let b = MAIN.bytes.load(Relaxed).wrapping_add(bytes);
        MAIN.bytes.store(b, Relaxed);
        MAIN.total
            .store(MAIN.total.load(Relaxed).wrapping_add(1), Relaxed);
        b
    } else {
        OTHER.bytes.fetch_add(bytes, Relaxed);
        OTHER.total.fetch_add(1, Relaxed);
        MAIN.bytes.load(Relaxed)
    };
    note_peak(main.wrapping_add(OTHER.bytes.load(Relaxed)));
}

#[inline]
pub(crate) fn on_free(bytes: usize) {
    if on_owner() {
        MAIN.bytes
            .store(MAIN.bytes.load(Relaxed).wrapping_sub(bytes), Relaxed);
        MAIN.frees
            .store(MAIN.frees.load(Relaxed).wrapping_add(1), Relaxed);
    } else {
        OTHER.bytes.fetch_sub(bytes, Relaxed);
        OTHER.frees.fetch_add(1, Relaxed);
    }
}

#[inline]
pub(crate) fn on_resize(old: usize, new: usize) {
    let main = if on_owner() {
        let b = MAIN.bytes.load(Relaxed).wrapping_sub(old).wrapping_add(new);
        MAIN.bytes.store(b, Relaxed);
        b
    } else {
        OTHER.bytes.fetch_add(new.wrapping_sub(old), Relaxed);
        MAIN.bytes.load(Relaxed)
    };
    note_peak(main.wrapping_add(OTHER.bytes.load(Relaxed)));
}

#[inline]
fn note_peak(live: usize) {
    if live > PEAK.load(Relaxed) {
        PEAK.fetch_max(live, Relaxed);
    }
}

#[inline]
pub(crate) fn live_bytes() -> usize {
    MAIN.bytes
        .load(Relaxed)
        .wrapping_add(OTHER.bytes.load(Relaxed))
}

pub(crate) fn live_allocations() -> usize {
    let total = total_allocations();
    let frees = MAIN
        .frees
        .load(Relaxed)
        .wrapping_add(OTHER.frees.load(Relaxed));
    total.wrapping_sub(frees) as usize
}

pub(crate) fn total_allocations() -> u64 {
    MAIN.total
        .load(Relaxed)
        .wrapping_add(OTHER.total.load(Relaxed))
}

pub(crate) fn peak_bytes() -> usize {
    PEAK.load(Relaxed)
}

/// Starts a new peak window at the current live size.
pub(crate) fn reset_peak() {
    PEAK.store(live_bytes(), Relaxed);
}
