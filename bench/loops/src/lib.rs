//! The allocator benchmark loops, in plain safe Rust: they allocate through whatever
//! `#[global_allocator]` the module that links them has chosen (rmkit's `RedisAllocator`,
//! `System`, or `redis-module`'s `RedisAlloc`). `bench/c/hgetset.c` runs the same loops with
//! direct `RedisModule_Alloc`/`Free`/`Realloc` calls; keep the two in step.
//!
//! Each function times itself with [`Instant`] and returns nanoseconds, so what is measured is
//! the allocator inside the server, not the network or the command dispatch.

use std::hint::black_box;
use std::time::Instant;

/// Live blocks in [`mixed`]'s ring (a power of two).
pub const RING: usize = 1024;
/// Vectors grown side by side in [`grow`].
pub const VECS: usize = 16;
/// Elements (`u64`) pushed into each vector in one round of [`grow`] (32 KiB at the end).
pub const LEN: usize = 4096;
const SEED: u64 = 0x2545_F491_4F6C_DD1D;

/// The next size in 16..=4096 (multiples of 16), from a 64-bit LCG (same constants as the C).
#[inline(always)]
pub fn next_size(x: &mut u64) -> usize {
    *x = x
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    16 + ((*x >> 33) as usize & 4080)
}

/// `n` alloc/free pairs of mixed sizes (16..=4096 bytes): block `i` replaces the block in ring
/// slot `i % RING`, so 1024 blocks stay live and frees come in allocation order, not LIFO.
/// Returns the nanoseconds taken, including freeing what the ring holds at the end.
pub fn mixed(n: u64) -> u64 {
    // Empty Vecs own no memory: exactly n allocations and n frees happen below.
    let mut ring: Vec<Vec<u8>> = (0..RING).map(|_| Vec::new()).collect();
    let mut x = SEED;
    let start = Instant::now();
    for i in 0..n {
        let mut block = Vec::with_capacity(next_size(&mut x));
        block.push(i as u8);
        ring[i as usize & (RING - 1)] = black_box(block);
    }
    ring.clear();
    let ns = start.elapsed().as_nanos() as u64;
    drop(black_box(ring));
    ns
}

/// `rounds` rounds of growing [`VECS`] `Vec<u64>`s side by side with `push` to [`LEN`]
/// elements each (capacity 4, 8, ... 4096: one allocation and ten reallocations per vector),
/// then dropping them. Returns the nanoseconds taken.
pub fn grow(rounds: u64) -> u64 {
    let start = Instant::now();
    for _ in 0..rounds {
        let mut vecs: [Vec<u64>; VECS] = Default::default();
        for j in 0..LEN as u64 {
            for v in vecs.iter_mut() {
                v.push(j);
            }
        }
        black_box(&mut vecs);
    }
    start.elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_in_range_and_vary() {
        let mut x = SEED;
        let sizes: Vec<usize> = (0..10_000).map(|_| next_size(&mut x)).collect();
        assert!(
            sizes
                .iter()
                .all(|&s| (16..=4096).contains(&s) && s % 16 == 0)
        );
        assert!(sizes.contains(&16) && sizes.contains(&4096));
    }

    #[test]
    fn loops_run() {
        mixed(10_000);
        grow(2);
    }
}
