//! Timers: run a closure on the main thread after a delay.

use super::{Context, LogLevel, api, log, panic_message};
use redis_module::raw;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// A pending timer, as returned by [`Context::create_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(raw::RedisModuleTimerID);

type Callback = Box<dyn FnOnce(&Context)>;

impl Context {
    /// Runs `callback` once on the server's main thread after `delay` (millisecond resolution),
    /// with a context of its own (keys can be opened; there is no client to reply to).
    ///
    /// A panic inside the callback is caught and logged; the server keeps running. Redis
    /// refuses `MODULE UNLOAD` while a timer is pending.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) {
    /// use std::time::Duration;
    /// let id = ctx.create_timer(Duration::from_millis(100), |ctx| {
    ///     let key = rmkit::RedisString::new(b"last-tick");
    ///     let _ = ctx.open_key_writable(&key).delete();
    /// });
    /// ctx.stop_timer(id); // changed our mind
    /// # }
    /// ```
    pub fn create_timer(
        &self,
        delay: Duration,
        callback: impl FnOnce(&Context) + 'static,
    ) -> TimerId {
        let data: Box<Callback> = Box::new(Box::new(callback));
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        // SAFETY: valid context; Redis keeps `data` until the timer fires (then we reclaim it in
        // `fire`) or is stopped (reclaimed in `stop_timer`).
        let id = unsafe {
            api!(RedisModule_CreateTimer)(self.as_ptr(), ms, Some(fire), Box::into_raw(data).cast())
        };
        TimerId(id)
    }

    /// Cancels a pending timer; returns whether it was still pending (its closure is dropped).
    pub fn stop_timer(&self, id: TimerId) -> bool {
        let mut data: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid context; on success Redis hands back the data pointer we gave it.
        let r = unsafe { api!(RedisModule_StopTimer)(self.as_ptr(), id.0, &mut data) };
        if r == raw::REDISMODULE_OK as i32 && !data.is_null() {
            // SAFETY: the Box<Callback> leaked by `create_timer`; Redis no longer holds it.
            drop(unsafe { Box::from_raw(data.cast::<Callback>()) });
            true
        } else {
            false
        }
    }
}

unsafe extern "C" fn fire(ctx: *mut raw::RedisModuleCtx, data: *mut c_void) {
    // SAFETY: Redis passes the data pointer from `create_timer` exactly once, when firing.
    let callback = unsafe { Box::from_raw(data.cast::<Callback>()) };
    // SAFETY: Redis passes a valid context for the duration of the callback.
    let ctx = unsafe { Context::from_raw(ctx) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || callback(&ctx))) {
        log(
            LogLevel::Warning,
            &format!(
                "rmkit: timer callback panicked: {}",
                panic_message(&*payload)
            ),
        );
        std::mem::forget(payload);
    }
}
