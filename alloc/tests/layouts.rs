//! Every layout (alignments 1..=4096, sizes 1 B..1 MiB) through a 16-aligned server allocator:
//! aligned, writable, preserved by realloc, zeroed by alloc_zeroed, and accounted exactly.

mod common;

use common::{ALIGNS, SIZES};
use rmkit_alloc::RedisAllocator;
use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

/// Elements pushed in `vec_growth_moves_small_blocks_and_reallocs_large_ones`. Miri: 10 000,
/// which still grows the Vec through 12 reallocations (capacity 4 to 16384; the last past
/// `REALLOC_MOVES_UP_TO`).
const PUSHES: u64 = if cfg!(miri) { 10_000 } else { 100_000 };
/// Bytes of the zeroed Vec in `alloc_zeroed_uses_server_calloc` (Miri: 64 KiB).
const ZEROED: usize = if cfg!(miri) { 1 << 16 } else { 1 << 20 };

fn fill(p: *mut u8, n: usize, seed: u8) {
    for i in 0..n {
        // SAFETY: `p` is valid for `n` bytes.
        unsafe { p.add(i).write(seed.wrapping_add(i as u8)) };
    }
}

fn check(p: *mut u8, n: usize, seed: u8) {
    for i in 0..n {
        // SAFETY: `p` is valid for `n` bytes.
        assert_eq!(
            unsafe { p.add(i).read() },
            seed.wrapping_add(i as u8),
            "byte {i} of {n}"
        );
    }
}

#[test]
fn every_layout_is_aligned_writable_and_zeroed() {
    common::install::<16>();
    for &align in ALIGNS {
        for &size in SIZES {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size; freed with the same layout.
            unsafe {
                let p = A.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "alloc {size}/{align}");
                fill(p, size, 7);
                check(p, size, 7);
                let z = A.alloc_zeroed(layout);
                assert_eq!(z as usize % align, 0, "alloc_zeroed {size}/{align}");
                assert!(
                    (0..size).all(|i| z.add(i).read() == 0),
                    "zeroed {size}/{align}"
                );
                A.dealloc(z, layout);
                A.dealloc(p, layout);
            }
        }
    }
}

#[test]
fn realloc_preserves_contents_and_alignment_both_ways() {
    common::install::<16>();
    for &align in ALIGNS {
        for &size in SIZES {
            for &new in &[1usize, size / 2 + 1, size + 1, size * 3] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: as above.
                unsafe {
                    let p = A.alloc(layout);
                    fill(p, size, 3);
                    let q = A.realloc(p, layout, new);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "realloc {size}->{new}/{align}");
                    check(q, size.min(new), 3);
                    A.dealloc(q, Layout::from_size_align(new, align).unwrap());
                }
            }
        }
    }
}

#[test]
fn measured_bytes_match_the_server_and_return_to_zero() {
    common::install::<16>();
    // `measure` counts this thread only, so other tests running in parallel do not disturb it.
    for &align in ALIGNS {
        for &size in SIZES {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: as above.
            let (p, held) = rmkit_alloc::measure(|| unsafe { A.alloc(layout) });
            // The server is asked for max(size, align) bytes, or size + align when over-aligned.
            let expected = if align <= 16 {
                size.max(align)
            } else {
                size + align
            };
            assert_eq!(held, expected as isize, "{size}/{align}");
            // SAFETY: as above.
            let ((), freed) = rmkit_alloc::measure(|| unsafe { A.dealloc(p, layout) });
            assert_eq!(freed, -held);
        }
    }
}

/// Pushes `PUSHES` integers into a new Vec inside `scope`; returns the Vec and the `alloc` and
/// `realloc` calls the fake saw *on this thread* meanwhile (tests run in parallel on the same
/// fake: only this thread's calls are this test's).
fn grow(scope: impl FnOnce(&mut dyn FnMut() -> Vec<u64>) -> Vec<u64>) -> (Vec<u64>, usize, usize) {
    let count = |c: &'static std::thread::LocalKey<std::cell::Cell<usize>>| c.with(|c| c.get());
    let (allocs, reallocs) = (
        count(&common::THREAD_ALLOCS),
        count(&common::THREAD_REALLOCS),
    );
    let v = scope(&mut || {
        let mut v = Vec::new();
        for i in 0..PUSHES {
            v.push(i);
        }
        v
    });
    (
        v,
        count(&common::THREAD_ALLOCS) - allocs,
        count(&common::THREAD_REALLOCS) - reallocs,
    )
}

/// The calls growing a `Vec<u64>` to `PUSHES` elements must make: capacities 4, 8, 16, ...;
/// the first allocation, then a fresh allocation for each growth to at most
/// `REALLOC_MOVES_UP_TO` bytes and a `RedisModule_Realloc` for each larger one.
fn expected_calls() -> (usize, usize) {
    let grown: Vec<usize> = std::iter::successors(Some(8usize), |c| Some(c * 2))
        .take_while(|&c| c / 2 < PUSHES as usize)
        .map(|c| c * 8)
        .collect();
    let small = grown
        .iter()
        .filter(|&&b| b <= rmkit_alloc::REALLOC_MOVES_UP_TO)
        .count();
    let large = grown.len() - small;
    assert!(
        small >= 1 && large >= 1,
        "the test must grow both small and large blocks ({PUSHES} pushes)"
    );
    (1 + small, large)
}

#[test]
fn vec_growth_moves_small_blocks_and_reallocs_large_ones() {
    common::install::<16>();
    // How this thread's blocks are resized depends on nothing another thread does (a `measure`
    // scope open elsewhere, the early-pointer filter's false positives): the counts are exact.
    let (v, allocs, reallocs) = grow(|push| push());
    assert_eq!(
        (allocs, reallocs),
        expected_calls(),
        "(allocations, reallocs): small growth allocates anew, large growth reallocs"
    );
    assert_eq!(v.iter().sum::<u64>(), PUSHES * (PUSHES - 1) / 2);
}

#[test]
fn vec_growth_asks_the_server_the_same_while_this_thread_measures() {
    common::install::<16>();
    let ((v, allocs, reallocs), bytes) = rmkit_alloc::measure(|| grow(|push| push()));
    assert_eq!(
        (allocs, reallocs),
        expected_calls(),
        "(allocations, reallocs) inside a measure scope"
    );
    // What stays allocated is the Vec's last block (the fake reports requested sizes).
    assert_eq!(bytes, (v.capacity() * 8) as isize);
    assert_eq!(v.iter().sum::<u64>(), PUSHES * (PUSHES - 1) / 2);
}

#[test]
fn alloc_zeroed_uses_server_calloc() {
    common::install::<16>();
    let before = common::CALLOCS.load(std::sync::atomic::Ordering::Relaxed);
    let v = vec![0u8; ZEROED];
    assert!(v.iter().all(|&b| b == 0));
    assert!(common::CALLOCS.load(std::sync::atomic::Ordering::Relaxed) > before);
}

/// A block that grows within what the server malloc gave it (`RedisModule_MallocUsableSize`)
/// stays where it is: no call to the server, nothing measured, contents intact; growing past
/// it moves the block. Both on the fast path and inside a `measure` scope. (Not under Miri: it
/// has no `malloc_usable_size`, so the fake reports no room there.)
#[cfg(not(miri))]
#[test]
fn growth_within_the_usable_size_keeps_the_block() {
    common::install::<16>();
    let count = || common::THREAD_ALLOCS.with(|c| c.get());
    for measured in [false, true] {
        let mut v: Vec<u8> = Vec::with_capacity(100);
        v.extend((0..100).map(|i| i as u8));
        let usable = common::usable_size(v.as_ptr());
        assert!(usable > 100, "glibc rounds a 116-byte block up: {usable}");
        let (ptr, allocs) = (v.as_ptr(), count());
        let grow_in_place = |v: &mut Vec<u8>| v.reserve_exact(usable - v.len());
        let ((), delta) = if measured {
            rmkit_alloc::measure(|| grow_in_place(&mut v))
        } else {
            grow_in_place(&mut v);
            ((), 0)
        };
        assert_eq!(v.capacity(), usable);
        assert_eq!(
            v.as_ptr(),
            ptr,
            "grown within its usable size, the block moved"
        );
        assert_eq!(count(), allocs, "no server allocation");
        assert_eq!(delta, 0, "nothing new to measure");
        v.resize(usable, 7);
        v.reserve_exact(usable + 1 - v.len());
        assert_ne!(
            v.as_ptr(),
            ptr,
            "grown past its usable size, the block moves"
        );
        assert_eq!(count(), allocs + 1);
        assert!(v[..100].iter().enumerate().all(|(i, &b)| b == i as u8));
        assert!(v[100..].iter().all(|&b| b == 7));
    }
}
