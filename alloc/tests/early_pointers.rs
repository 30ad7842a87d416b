//! Pointers allocated before `install` (from System) go back to System afterwards — freed,
//! reallocated (migrated to the server) or dropped from another thread — while new allocations
//! go to the server. The fake server aborts the test if it ever sees a System pointer.

mod common;

use common::{ALLOCS, FREES};
use rmkit_alloc::RedisAllocator;
use std::sync::atomic::Ordering::Relaxed;

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

#[repr(align(4096))]
struct Page([u8; 4096]);

#[test]
fn early_pointers_return_to_system_after_install() {
    // Before install: everything is System, nothing reaches the fake.
    let early_small: Vec<Box<u64>> = (0..1000).map(Box::new).collect();
    let early_page = Box::new(Page([7; 4096]));
    assert_eq!(early_page.0[4095], 7);
    assert_eq!(&*early_page as *const Page as usize % 4096, 0);
    let mut early_grow: Vec<u8> = Vec::with_capacity(10);
    early_grow.extend_from_slice(b"early data");
    let early_other_thread: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    assert_eq!(ALLOCS.load(Relaxed), 0);
    let before = rmkit_alloc::stats();
    assert!(!before.routed);
    assert!(before.early_allocations >= 1000, "{before:?}");

    common::install::<16>();
    assert!(rmkit_alloc::is_routed());

    // New allocations go to the server.
    let late = vec![1u8; 1000];
    assert!(ALLOCS.load(Relaxed) >= 1);

    // Early frees go to System: the fake's free count does not move.
    let frees = FREES.load(Relaxed);
    drop(early_small);
    drop(early_page);
    assert_eq!(
        FREES.load(Relaxed),
        frees,
        "an early pointer reached RedisModule_Free"
    );
    // ... also from another thread (spawning allocates from the server, so count inside it).
    std::thread::spawn(move || {
        let frees = FREES.load(Relaxed);
        drop(early_other_thread);
        assert_eq!(
            FREES.load(Relaxed),
            frees,
            "an early pointer reached RedisModule_Free"
        );
    })
    .join()
    .unwrap();
    let frees = FREES.load(Relaxed);

    // Growing an early Vec moves it to the server and frees the System block.
    early_grow.extend_from_slice(&[b'!'; 100_000]);
    assert_eq!(&early_grow[..10], b"early data");
    let moved = early_grow.as_ptr();
    drop(early_grow); // now a server pointer: the fake checks its tag
    assert!(
        FREES.load(Relaxed) > frees,
        "the migrated block should be freed by the server"
    );
    let _ = moved;
    drop(late);
}
