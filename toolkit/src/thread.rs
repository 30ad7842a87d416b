//! Work off the main thread, and later on it.
//!
//! | item | for |
//! |---|---|
//! | [`Context::block_on_thread`] | run slow work on a thread while the server serves others, then reply |
//! | [`ThreadContext`], [`Locked`] | what the worker gets: the server lock, and a [`Context`] while it is held |
//! | [`Context::create_timer`], [`TimerId`] | run a closure on the main thread after a delay |
//!
//! Nothing Redis owns crosses threads: a [`Context`] and a [`RedisStr`](crate::RedisStr) are
//! not `Send` (the compiler refuses to move them into a worker), a worker's reply is copied
//! into plain Rust data before it goes back, and the keyspace is reached only under the lock.

use crate::ffi::thread::{LockedCtx, SafeCtx};
use crate::{Context, Reply, Result};
use std::ops::Deref;
use std::time::Duration;

/// What a worker thread gets: a way to touch the keyspace under the server's lock.
pub struct ThreadContext<'t> {
    safe: &'t SafeCtx,
}

static_assertions::assert_not_impl_any!(ThreadContext<'static>: Send, Sync);

/// The server lock, held while this lives; derefs to a [`Context`] to open keys or call
/// commands.
pub struct Locked<'t> {
    ctx: Context,
    _lock: LockedCtx<'t>,
}

impl ThreadContext<'_> {
    /// Takes the server's lock (the main thread pauses between commands while it is held) and
    /// gives access to the keyspace. Keep it short.
    pub fn lock(&self) -> Locked<'_> {
        let lock = self.safe.lock();
        Locked {
            ctx: lock.context(),
            _lock: lock,
        }
    }
}

impl Deref for Locked<'_> {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl Context {
    /// Blocks the calling client and runs `work` on a new thread; the server keeps serving other
    /// clients meanwhile. When `work` returns, its reply (or error) goes to the client. A panic
    /// in `work` becomes `ERR worker panicked: ...` plus a log line. With a non-zero `timeout`
    /// the client gets `ERR timeout: the work took longer than ...` if `work` is still running.
    ///
    /// Return the value of this call from the command (it is [`Reply::Deferred`]).
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result {
    /// ctx.block_on_thread(std::time::Duration::ZERO, |tctx| {
    ///     let answer = 6 * 7; // slow work here, without the lock
    ///     let _locked = tctx.lock(); // then touch keys briefly if needed
    ///     Ok(rmkit::Reply::Integer(answer))
    /// })
    /// # }
    /// ```
    pub fn block_on_thread<F>(&self, timeout: Duration, work: F) -> Result
    where
        F: FnOnce(&ThreadContext<'_>) -> Result + Send + 'static,
    {
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        self.raw().block_on_thread(
            ms,
            Box::new(move |safe: &SafeCtx| work(&ThreadContext { safe })),
        )?;
        Ok(Reply::Deferred)
    }

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
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        TimerId(self.raw().create_timer(ms, Box::new(callback)))
    }

    /// Cancels a pending timer; returns whether it was still pending (its closure is dropped).
    pub fn stop_timer(&self, id: TimerId) -> bool {
        self.raw().stop_timer(id.0)
    }
}

/// A pending timer, as returned by [`Context::create_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);
