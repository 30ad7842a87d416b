//! The allocator benchmark commands with Rust's `System` allocator (invisible to Redis).

use rmkit_bench_alloc as _;

rmkit::module! { name: "allocbench", version: 1, allocator: System }
