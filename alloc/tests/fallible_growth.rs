//! On a server with `RedisModule_TryAlloc` but no `TryRealloc` (Redis 7.0), growing a block must
//! never reach the aborting `RedisModule_Realloc`: a growth the server cannot serve is a null
//! `realloc`, which `Vec::try_reserve` reports as an error, and the module lives on.

mod common;

use common::{Fake, TRY_LIMIT};
use rmkit_alloc::RedisAllocator;
use std::sync::atomic::Ordering::Relaxed;

#[global_allocator]
static A: RedisAllocator = RedisAllocator::new();

/// The fake server's memory: allocations above this fail (its realloc would abort).
const LIMIT: usize = 64 << 20;

#[test]
fn growth_past_what_the_server_has_is_an_error_not_an_abort() {
    TRY_LIMIT.store(LIMIT, Relaxed);
    // SAFETY: the fake's functions live for the whole process and are thread-safe.
    unsafe { rmkit_alloc::install(Fake::<16>::api_without_try_realloc()) }.expect("install");

    // Grows past REALLOC_MOVES_UP_TO through every size class the server can serve.
    let mut v: Vec<u8> = Vec::new();
    for i in 0..(4 << 20) {
        v.push(i as u8);
    }
    assert_eq!(v.len(), 4 << 20);

    // More than the server has: an error, the Vec untouched.
    let err = v.try_reserve(LIMIT * 2);
    assert!(err.is_err(), "a growth the server cannot serve must fail");
    assert_eq!(v.len(), 4 << 20);
    assert!(v.iter().enumerate().all(|(i, &b)| b == i as u8));

    // Fresh allocations fail the same way.
    assert!(Vec::<u8>::new().try_reserve_exact(LIMIT + 1).is_err());

    // And what does fit still grows.
    v.try_reserve(16 << 20).expect("within the server's memory");
    v.resize(20 << 20, 7);
    assert_eq!(v[(20 << 20) - 1], 7);
}
