//! Allocator benchmark commands. No `module!` here: `rmkit-bench-alloc-rmkit` (rmkit's
//! allocator) and `rmkit-bench-alloc-system` (`System`) link this crate, so both run the very
//! same machine code and differ only in the global allocator.
#![forbid(unsafe_code)]

use rmkit::prelude::*;
use rmkit_bench_loops as loops;

/// `n` alloc/free pairs of mixed sizes (16..4096 bytes); replies with the nanoseconds taken.
#[rmkit::command(name = "allocbench.mixed", flags = "readonly")]
fn mixed(n: u64) -> Result<Reply> {
    Ok(Reply::Integer(loops::mixed(n) as i64))
}

/// `rounds` rounds of growing 16 `Vec<u64>`s to 4096 elements with `push` (realloc-heavy);
/// replies with the nanoseconds taken.
#[rmkit::command(name = "allocbench.grow", flags = "readonly")]
fn grow(rounds: u64) -> Result<Reply> {
    Ok(Reply::Integer(loops::grow(rounds) as i64))
}
