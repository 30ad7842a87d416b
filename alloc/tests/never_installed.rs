//! A process that never installs (a module's own `cargo test`): plain System behaviour, and once
//! more early pointers are live than can be told apart, `install` refuses instead of guessing.

mod common;

use rmkit_alloc::{InstallError, RedisAllocator};

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

/// Elements of the plain System Vec (Miri: 10 000).
const ELEMS: u64 = if cfg!(miri) { 10_000 } else { 100_000 };
/// Live early boxes: more than the early-pointer table has slots (16384; 4096 under Miri, see
/// `alloc/src/preinit.rs`), so recording overflows whatever the addresses.
const EARLY_BOXES: u32 = if cfg!(miri) { 5_000 } else { 100_000 };
/// Bytes of the Vec allocated after the refused install (Miri: 64 KiB).
const LATE: usize = if cfg!(miri) { 1 << 16 } else { 1 << 20 };

#[test]
fn without_install_everything_is_system_and_install_refuses_when_untrackable() {
    let v: Vec<u64> = (0..ELEMS).collect();
    assert_eq!(v.iter().sum::<u64>(), ELEMS * (ELEMS - 1) / 2);
    let (_, bytes) = rmkit_alloc::measure(|| vec![1u8; 4096]);
    assert_eq!(bytes, 0, "nothing is routed, so nothing is measured");
    let s = rmkit_alloc::stats();
    assert!(!s.routed);
    assert_eq!(s.live_bytes, 0);

    // Far more live early pointers than the table holds.
    let many: Vec<Box<u32>> = (0..EARLY_BOXES).map(Box::new).collect();
    // SAFETY: the fake's functions are valid for the process.
    let r = unsafe { rmkit_alloc::install(common::Fake::<16>::api()) };
    assert_eq!(r, Err(InstallError::TooManyEarlyAllocations));
    assert!(
        r.unwrap_err()
            .to_string()
            .contains("invisible to INFO memory")
    );
    assert!(!rmkit_alloc::is_routed());
    drop(many);
    let w = vec![2u8; LATE];
    assert_eq!(common::ALLOCS.load(std::sync::atomic::Ordering::Relaxed), 0);
    drop(w);
}
