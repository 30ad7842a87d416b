//! The toolkit's own contribution to every module: `<module>.memory`.

use crate::Reply;

crate::command! {
    /// The module's allocator counters as a map (RESP2: field/value pairs): routed (1 if Rust allocations go
    /// through RedisModule_Alloc), live_bytes, peak_bytes, live_allocations, total_allocations.
    name: "{module}.memory",
    flags: "readonly fast allow-loading allow-stale",
    arity: 1,
    keys: (0, 0, 0),
    fn module_memory(ctx, args) {
        let s = rmkit_alloc::stats();
        let field = |name: &str, v: u64| (Reply::from(name), Reply::Integer(v as i64));
        // A map for RESP3 clients; Redis flattens it to name, value, ... for RESP2.
        Ok(Reply::Map(vec![
            field("routed", u64::from(s.routed)),
            field("live_bytes", s.live_bytes as u64),
            field("peak_bytes", s.peak_bytes as u64),
            field("live_allocations", s.live_allocations as u64),
            field("total_allocations", s.total_allocations),
        ]))
    }
}
