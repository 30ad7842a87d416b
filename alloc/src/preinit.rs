//! Which live pointers came from `System` before the allocator was installed.
//!
//! Before `RedisModule_Init` there is no server allocator, so allocations are served by
//! [`std::alloc::System`]. Those pointers must go back to `System` even after the switch: handing
//! a libc pointer to `RedisModule_Free` skews `used_memory` (Debian's redis shares one jemalloc
//! with libc) or crashes (a prefixed jemalloc, or zmalloc's size header). No address-range test
//! can tell the heaps apart, so every pre-init pointer is recorded here until it is freed.
//!
//! The set is a fixed, lock-free open-addressing table in static memory (it must never allocate).
//! Slots go `EMPTY → pointer ⇄ TOMBSTONE` and never back to `EMPTY`, so a lookup that meets
//! `EMPTY` may stop. Probing is bounded; when a pointer cannot be recorded the set is marked
//! overflowed and [`install`](crate::install) refuses to switch (the module then keeps using
//! `System` and says so). Inside a server this never happens: a cdylib allocates next to
//! nothing before `RedisModule_OnLoad`. In a plain `cargo test` that never installs, the table
//! simply stops recording once full.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Slots of the table. Smaller under Miri: there every use of the static reborrows (retags)
/// the whole array, a cost proportional to its size, so with 16384 slots a test that fills the
/// table ran for over ten minutes.
const SLOTS: usize = if cfg!(miri) { 1 << 12 } else { 1 << 14 };
const MAX_PROBE: usize = 64;
const EMPTY: usize = 0;
const TOMBSTONE: usize = 1;

static TABLE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(EMPTY) }; SLOTS];
/// Recorded pointers still live.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// One bit per home slot of every pointer ever inserted (never cleared): 2 KiB that stay in
/// cache, so the allocator's hot path rules out nearly every server pointer without touching
/// the 128 KiB table.
static FILTER: [AtomicU64; SLOTS / 64] = [const { AtomicU64::new(0) }; SLOTS / 64];
static OVERFLOWED: AtomicBool = AtomicBool::new(false);

#[inline]
fn home(ptr: usize) -> usize {
    // Fibonacci hashing of the address without its (always zero) low bits.
    ((ptr >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SLOTS.trailing_zeros()))
        & (SLOTS - 1)
}

/// Records `ptr` (non-null, from `System`). Returns false if the set is full.
pub(crate) fn insert(ptr: *mut u8) -> bool {
    if OVERFLOWED.load(Relaxed) {
        return false;
    }
    let p = ptr as usize;
    let h = home(p);
    // Before the pointer can be found in the table (and before `install` can complete).
    FILTER[h / 64].fetch_or(1 << (h % 64), Relaxed);
    let table = &TABLE; // once, not per probe (see SLOTS)
    for i in 0..MAX_PROBE {
        let slot = &table[(h + i) & (SLOTS - 1)];
        let cur = slot.load(Relaxed);
        if (cur == EMPTY || cur == TOMBSTONE)
            && slot.compare_exchange(cur, p, Relaxed, Relaxed).is_ok()
        {
            LIVE.fetch_add(1, Relaxed);
            return true;
        }
    }
    OVERFLOWED.store(true, Relaxed);
    false
}

/// Whether `ptr` may be recorded: false for nearly every pointer that is not (one load from a
/// 2 KiB bit set), true for every pointer that is.
#[inline]
pub(crate) fn may_contain(ptr: *mut u8) -> bool {
    if LIVE.load(Relaxed) == 0 {
        return false;
    }
    let h = home(ptr as usize);
    FILTER[h / 64].load(Relaxed) & (1 << (h % 64)) != 0
}

/// Forgets `ptr` if it was recorded; returns whether it was.
///
/// Only the thread that frees `ptr` looks it up, after the allocation happened-before the free,
/// so the slot written by [`insert`] is visible here.
pub(crate) fn remove(ptr: *mut u8) -> bool {
    if LIVE.load(Relaxed) == 0 {
        return false;
    }
    let p = ptr as usize;
    let h = home(p);
    let table = &TABLE;
    for i in 0..MAX_PROBE {
        let slot = &table[(h + i) & (SLOTS - 1)];
        match slot.load(Relaxed) {
            cur if cur == p => {
                slot.store(TOMBSTONE, Relaxed);
                LIVE.fetch_sub(1, Relaxed);
                return true;
            }
            EMPTY => return false,
            _ => {}
        }
    }
    false
}

/// Whether `ptr` is recorded.
pub(crate) fn contains(ptr: *mut u8) -> bool {
    if LIVE.load(Relaxed) == 0 {
        return false;
    }
    let p = ptr as usize;
    let h = home(p);
    let table = &TABLE;
    for i in 0..MAX_PROBE {
        match table[(h + i) & (SLOTS - 1)].load(Relaxed) {
            cur if cur == p => return true,
            EMPTY => return false,
            _ => {}
        }
    }
    false
}

/// Recorded pointers still live.
pub(crate) fn live() -> usize {
    LIVE.load(Relaxed)
}

/// Whether some pre-init pointer could not be recorded (then switching is unsafe).
pub(crate) fn overflowed() -> bool {
    OVERFLOWED.load(Relaxed)
}
