//! The counters: exact live bytes and allocations, peak and total, from the owner thread and
//! from other threads (one test in this binary, so nothing else allocates meanwhile).

mod common;

use rmkit_alloc::RedisAllocator;

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

/// Threads allocating and freeing concurrently.
const THREADS: usize = 4;
/// Allocations per thread (Miri: 1000).
const ITERATIONS: usize = if cfg!(miri) { 1_000 } else { 10_000 };

#[test]
fn counters_track_live_peak_and_total_across_threads() {
    common::install::<16>();
    // std allocates a few things once, on the first thread spawn (thread handles, the spawning
    // thread's own handle): do that before taking the baseline.
    for _ in 0..4 {
        std::thread::spawn(|| drop(vec![0u8; 10])).join().unwrap();
    }
    let s0 = rmkit_alloc::stats();
    let v = vec![0u8; 1_000_000];
    let s1 = rmkit_alloc::stats();
    assert_eq!(s1.live_bytes - s0.live_bytes, 1_000_000);
    assert_eq!(s1.live_allocations - s0.live_allocations, 1);
    assert_eq!(s1.total_allocations - s0.total_allocations, 1);
    assert!(s1.peak_bytes >= s1.live_bytes);

    // A realloc changes bytes, not allocation counts.
    let mut w: Vec<u8> = Vec::with_capacity(100);
    w.reserve_exact(10_000);
    let s2 = rmkit_alloc::stats();
    assert_eq!(s2.live_bytes - s1.live_bytes, 10_000);
    assert_eq!(s2.live_allocations - s1.live_allocations, 1);

    // Threads allocating and freeing (also each other's blocks) leave the sum exact.
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut keep = Vec::new();
                for i in 0..ITERATIONS {
                    keep.push(vec![t as u8; 1 + i % 300]);
                    if i % 3 == 0 {
                        keep.swap_remove(i % keep.len());
                    }
                }
                keep
            })
        })
        .collect();
    let blocks: Vec<Vec<Vec<u8>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    drop(blocks); // freed on this (owner) thread: allocated elsewhere
    drop(w);
    drop(v);
    let s3 = rmkit_alloc::stats();
    assert_eq!(s3.live_bytes, s0.live_bytes, "{s0:?} vs {s3:?}");
    assert_eq!(s3.live_allocations, s0.live_allocations);
    assert!(s3.total_allocations > s0.total_allocations + (THREADS * ITERATIONS) as u64);
    assert!(s3.peak_bytes >= s1.live_bytes);
    rmkit_alloc::reset_peak();
    assert_eq!(rmkit_alloc::stats().peak_bytes, s3.live_bytes);
}
