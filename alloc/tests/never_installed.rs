//! A process that never installs (a module's own `cargo test`): plain System behaviour, and once
//! more early pointers are live than can be told apart, `install` refuses instead of guessing.

mod common;

use rmkit_alloc::{InstallError, RedisAllocator};

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

#[test]
fn without_install_everything_is_system_and_install_refuses_when_untrackable() {
    let v: Vec<u32> = (0..100_000).collect();
    assert_eq!(
        v.iter().map(|&x| x as u64).sum::<u64>(),
        100_000 * 99_999 / 2
    );
    let (_, bytes) = rmkit_alloc::measure(|| vec![1u8; 4096]);
    assert_eq!(bytes, 0, "nothing is routed, so nothing is measured");
    let s = rmkit_alloc::stats();
    assert!(!s.routed);
    assert_eq!(s.live_bytes, 0);

    // Far more live early pointers than the table holds.
    let many: Vec<Box<u32>> = (0..100_000).map(Box::new).collect();
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
    let w = vec![2u8; 1 << 20];
    assert_eq!(common::ALLOCS.load(std::sync::atomic::Ordering::Relaxed), 0);
    drop(w);
}
