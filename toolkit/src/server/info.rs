//! `INFO`: the module's own sections ([`on_info!`](crate::on_info!), written to an
//! [`InfoSink`]), the toolkit's `<module>_alloc` section (the allocator's counters, written
//! with the same API), and reading the server's `INFO` ([`Context::server_info`](crate::Context::server_info)).
//!
//! ```
//! use rmkit::server::info::InfoSink;
//!
//! fn stats(info: &mut InfoSink, _for_crash_report: bool) {
//!     info.section("stats"); // INFO mymod_stats
//!     info.field_u64("hits", 3); // mymod_hits:3
//!     info.field_str("mode", "fast");
//!     info.begin_dict("db0"); // mymod_db0:keys=3,expires=1
//!     info.field_i64("keys", 3);
//!     info.field_i64("expires", 1);
//!     info.end_dict();
//! }
//! rmkit::on_info!(stats);
//! # fn main() {}
//! ```

use crate::ffi::module::InfoCtx;

pub use crate::ffi::ctx::ServerInfo;

/// What an [`on_info!`](crate::on_info!) function runs as: the sink, and whether the
/// server is writing a crash report.
pub type InfoFn = fn(&mut InfoSink<'_>, bool);

#[doc(hidden)]
pub use crate::ffi::registry::ON_INFO;

/// Where an [`on_info!`](crate::on_info!) function writes. Redis prefixes each section and
/// field name with `<module>_` (an empty section name is the section `<module>` itself) and
/// replaces characters that would break the `INFO` format (`:`, `,`, `=` ...) with `_`.
/// Fields belong to the last section opened; a dict field's members until
/// [`end_dict`](Self::end_dict).
pub struct InfoSink<'a> {
    ctx: &'a InfoCtx,
}

impl std::fmt::Debug for InfoSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InfoSink")
    }
}

impl InfoSink<'_> {
    /// Opens section `<module>_<name>` (`""`: the section `<module>`). Redis writes a section
    /// only if the `INFO` call asked for it (`INFO <module>`, `INFO <module>_<name>`,
    /// `INFO modules`, `INFO everything`); the fields that follow are then skipped cheaply.
    pub fn section(&mut self, name: &str) {
        self.ctx.section(name);
    }
    /// A text field (binary-safe).
    pub fn field_str(&mut self, name: &str, value: &str) {
        self.ctx.field_bytes(name, value.as_bytes());
    }
    /// A signed integer field.
    pub fn field_i64(&mut self, name: &str, value: i64) {
        self.ctx.field_i64(name, value);
    }
    /// An unsigned integer field.
    pub fn field_u64(&mut self, name: &str, value: u64) {
        self.ctx.field_u64(name, value);
    }
    /// A floating-point field.
    pub fn field_f64(&mut self, name: &str, value: f64) {
        self.ctx.field_f64(name, value);
    }
    /// Opens a dict field `<module>_<name>:k1=v1,k2=v2` whose members are the fields added
    /// until [`end_dict`](Self::end_dict) (or the next section).
    pub fn begin_dict(&mut self, name: &str) {
        self.ctx.begin_dict(name);
    }
    /// Closes the dict field opened by [`begin_dict`](Self::begin_dict).
    pub fn end_dict(&mut self) {
        self.ctx.end_dict();
    }
}

/// Registers `f` to write sections of the module's `INFO` (see the [module docs](self)).
/// Functions run in link order after the toolkit's `alloc` section; a panic is logged and the
/// rest of `INFO` is written.
#[macro_export]
macro_rules! on_info {
    ($f:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::server::info::ON_INFO)]
            #[linkme(crate = $crate::__private::linkme)]
            static INFO: $crate::server::info::InfoFn = $f;
        };
    };
}

/// The toolkit's section `<module>_alloc`: the allocator's counters.
fn alloc_section(info: &mut InfoSink, _for_crash_report: bool) {
    let s = rmkit_alloc::stats();
    info.section("alloc");
    info.field_u64("routed", u64::from(s.routed));
    info.field_u64("live_bytes", s.live_bytes as u64);
    info.field_u64("peak_bytes", s.peak_bytes as u64);
    info.field_u64("live_allocations", s.live_allocations as u64);
    info.field_u64("total_allocations", s.total_allocations);
}

/// Writes the module's INFO sections (called by the server's INFO callback).
pub(crate) fn write_sections(info: &InfoCtx, for_crash_report: bool) {
    let mut sink = InfoSink { ctx: info };
    alloc_section(&mut sink, for_crash_report);
    for f in ON_INFO.iter() {
        if crate::ffi::guard("an on_info function", || f(&mut sink, for_crash_report)).is_none() {
            // A dict field left open by the panic is closed by the next section.
            continue;
        }
    }
}
