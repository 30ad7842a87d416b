//! Scoped measurement: how many bytes of server memory did this closure take (or give back)?

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Scopes open on any thread; the allocator only looks at its thread-local when this is non-zero.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Net server bytes of the innermost open scope on this thread; `None` outside any scope.
    static DELTA: Cell<Option<isize>> = const { Cell::new(None) };
}

/// Whether any thread is measuring (one relaxed load on the allocation path).
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Relaxed) != 0
}

/// Whether a scope is open on *this* thread: what changes how this thread's blocks are resized.
/// Costs one relaxed load while no thread measures; the thread-local is read only when some
/// thread does.
#[inline]
pub(crate) fn on_this_thread() -> bool {
    active() && DELTA.try_with(|d| d.get().is_some()).unwrap_or(false)
}

/// Adds `bytes` (negative for frees) to this thread's open scope, if any.
pub(crate) fn record(bytes: isize) {
    // `try_with`: never panic inside the allocator, even while TLS is being torn down.
    let _ = DELTA.try_with(|d| {
        if let Some(v) = d.get() {
            d.set(Some(v.wrapping_add(bytes)));
        }
    });
}

/// Runs `f` and returns its result with the net number of bytes of *server* memory it
/// allocated on this thread (negative if it freed more than it allocated).
///
/// Bytes are counted as the server counts them in `used_memory` (`RedisModule_MallocSize`,
/// i.e. the allocator's usable size), so the figure is what `INFO memory` moves by. Data types
/// use it to keep an exact `MEMORY USAGE`: measure building a value, then add the measured
/// delta of every later edit.
///
/// Only allocations made through [`RedisAllocator`](crate::RedisAllocator) after it was
/// installed are counted; before that (and in a plain `cargo test`) the result is 0. Scopes
/// nest: an inner scope's bytes count in the outer one too.
///
/// ```
/// let (v, bytes) = rmkit_alloc::measure(|| vec![0u8; 1000]);
/// assert_eq!(v.len(), 1000);
/// // Outside a server (or with another #[global_allocator]) nothing is routed, so nothing is counted.
/// assert_eq!(bytes, 0);
/// ```
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, isize) {
    struct Scope {
        outer: Option<isize>,
    }
    impl Drop for Scope {
        fn drop(&mut self) {
            let inner = DELTA.with(|d| d.get()).unwrap_or(0);
            DELTA.with(|d| d.set(self.outer.map(|o| o.wrapping_add(inner))));
            ACTIVE.fetch_sub(1, Relaxed);
        }
    }
    let outer = DELTA.with(|d| d.replace(Some(0)));
    ACTIVE.fetch_add(1, Relaxed);
    let scope = Scope { outer };
    let r = f();
    let bytes = DELTA.with(|d| d.get()).unwrap_or(0);
    drop(scope);
    (r, bytes)
}
