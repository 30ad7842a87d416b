//! The allocator benchmark commands with rmkit's `RedisAllocator` (`RedisModule_Alloc`).

// Referencing the crate keeps its commands: an rlib nothing refers to is not linked at all.
use rmkit_bench_alloc as _;

rmkit::module! { name: "allocbench", version: 1 }
