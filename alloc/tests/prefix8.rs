//! A server whose malloc only guarantees 8-byte alignment (zmalloc with a size prefix):
//! the probe notices and every layout is still served correctly aligned.

mod common;

use common::{ALIGNS, SIZES};
use rmkit_alloc::RedisAllocator;
use std::alloc::{GlobalAlloc, Layout};

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

#[test]
fn eight_aligned_server_still_serves_every_layout() {
    common::install::<8>();
    assert_eq!(rmkit_alloc::stats().min_align, 8);
    for &align in ALIGNS {
        for &size in SIZES {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero size, freed with the same layout.
            unsafe {
                let p = A.alloc(layout);
                assert_eq!(p as usize % align, 0, "{size}/{align}");
                p.write_bytes(0xAB, size);
                let q = A.realloc(p, layout, size * 2);
                assert_eq!(q as usize % align, 0, "realloc {size}/{align}");
                assert!((0..size).all(|i| q.add(i).read() == 0xAB));
                A.dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
            }
        }
    }
}
