//! Allocator benchmark commands. No `module!` here: `rmkit-bench-alloc-rmkit` (rmkit's
//! allocator) and `rmkit-bench-alloc-system` (`System`) link this crate, so both run the very
//! same machine code and differ only in the global allocator.

use rmkit::args::parse_u64;
use rmkit::prelude::*;
use rmkit_bench_loops as loops;

fn count(arg: &RedisStr) -> Result<u64> {
    parse_u64(arg.as_bytes())
}

rmkit::command! {
    /// `n` alloc/free pairs of mixed sizes (16..4096 bytes); replies with the nanoseconds taken.
    name: "allocbench.mixed", flags: "readonly", arity: 2, keys: (0, 0, 0),
    fn mixed(ctx, args) {
        Ok(Reply::Integer(loops::mixed(count(&args[1])?) as i64))
    }
}

rmkit::command! {
    /// `rounds` rounds of growing 16 `Vec<u64>`s to 4096 elements with `push` (realloc-heavy);
    /// replies with the nanoseconds taken.
    name: "allocbench.grow", flags: "readonly", arity: 2, keys: (0, 0, 0),
    fn grow(ctx, args) {
        Ok(Reply::Integer(loops::grow(count(&args[1])?) as i64))
    }
}
