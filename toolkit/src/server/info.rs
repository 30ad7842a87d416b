//! `INFO` sections: the toolkit's `<module>_alloc` section (the allocator's counters).

use crate::ffi::module::InfoCtx;

/// Writes the module's INFO sections (called by the server's INFO callback).
pub(crate) fn write_sections(info: &InfoCtx, _for_crash_report: bool) {
    let s = rmkit_alloc::stats();
    info.section("alloc");
    info.field_u64("routed", u64::from(s.routed));
    info.field_u64("live_bytes", s.live_bytes as u64);
    info.field_u64("peak_bytes", s.peak_bytes as u64);
    info.field_u64("live_allocations", s.live_allocations as u64);
    info.field_u64("total_allocations", s.total_allocations);
}
