//! Module lifecycle hooks, collected with `linkme` from any linked crate.

/// Functions run by `RedisModule_OnUnload`, in link order.
#[linkme::distributed_slice]
pub static ON_UNLOAD: [fn()];

/// Runs `f` when the module is unloaded (`MODULE UNLOAD`).
///
/// Use it to free what module statics hold: if the module registered a thread-local destructor
/// or spawned a thread, the dynamic loader keeps its code mapped after unload and a later
/// `MODULE LOAD` sees the old statics — memory they still hold would stay counted in
/// `used_memory` forever. A panic in `f` is logged and the unload goes on.
///
/// ```
/// use std::sync::Mutex;
/// static CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
///
/// fn clear_cache() {
///     if let Ok(mut c) = CACHE.lock() {
///         *c = Vec::new();
///     }
/// }
/// rmkit::on_unload!(clear_cache);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_unload {
    ($f:path) => {
        const _: () = {
            #[$crate::linkme::distributed_slice($crate::lifecycle::ON_UNLOAD)]
            #[linkme(crate = $crate::linkme)]
            static HOOK: fn() = $f;
        };
    };
}
