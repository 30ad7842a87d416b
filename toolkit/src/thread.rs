//! Work off the main thread, and later on it.
//!
//! | item | for |
//! |---|---|
//! | [`Context::block_on_thread`] | run slow work on a thread while the server serves others, then reply |
//! | [`ThreadContext`], [`Locked`] | what the worker gets: the server lock, and a [`Context`] while it is held |
//! | [`Context::create_timer`], [`TimerId`] | run a closure on the main thread after a delay |
//! | [`Context::block_on_keys`], [`BlockOnKeys`] | block a client until a key is ready (`BLPOP` for any condition) |
//! | [`Context::signal_key_as_ready`] | wake clients blocked on a key a module changed |
//! | [`Context::block_client`], [`BlockedClient`] | block a client and answer it later, from any thread or command |
//! | [`Context::detached`], [`DetachedContext`] | a thread the module runs itself: the server lock, and a [`Context`] while it is held |
//! | [`Context::yield_to_clients`] | let the server answer other clients (`-BUSY`) during a long command |
//!
//! Nothing Redis owns crosses threads: a [`Context`] and a [`RedisStr`](crate::RedisStr) are
//! not `Send` (the compiler refuses to move them into a worker), a worker's reply is copied
//! into plain Rust data before it goes back, and the keyspace is reached only under the lock.

use crate::ffi::thread::{BlockedHandle, DetachedCtx, LockedCtx, SafeCtx};
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

/// A context for a thread the module runs itself (a background job, a listener...), made by
/// [`Context::detached`]. It can be moved to that thread (`Send`), not shared (`!Sync`); the
/// keyspace is reached only through [`lock`](Self::lock), and nothing a [`Locked`] gives out
/// (a [`Context`], keys, Redis strings) can leave the thread or outlive the guard.
///
/// `MODULE UNLOAD` is refused while a `DetachedContext` is alive (the thread holding it runs
/// this module's code): drop it when the thread ends, e.g. from an
/// [`on_unload!`](crate::on_unload!)-triggered stop flag.
///
/// ```no_run
/// use rmkit::thread::DetachedContext;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// static STOP: AtomicBool = AtomicBool::new(false);
///
/// fn start(ctx: &rmkit::Context) -> rmkit::Result<()> {
///     let mut detached: DetachedContext = ctx.detached()?;
///     std::thread::spawn(move || {
///         while !STOP.load(Ordering::Relaxed) {
///             // work without the lock, then briefly:
///             let locked = detached.lock();
///             let (key, value) = (rmkit::RedisString::new(b"heartbeat"), rmkit::RedisString::new(b"alive"));
///             let _ = locked.open_key_writable(&key).set_string(&value);
///             drop(locked);
///             std::thread::sleep(std::time::Duration::from_millis(100));
///         }
///         // `detached` is dropped here: the module may be unloaded again.
///     });
///     Ok(())
/// }
/// ```
pub struct DetachedContext {
    inner: DetachedCtx,
}

static_assertions::assert_impl_all!(DetachedContext: Send);
static_assertions::assert_not_impl_any!(DetachedContext: Sync);
static_assertions::assert_not_impl_any!(Locked<'static>: Send, Sync);

impl DetachedContext {
    /// Takes the server's lock (waiting for the main thread to be between commands) and gives
    /// access to the keyspace while the guard lives. Keep it short: the server serves no one
    /// meanwhile.
    ///
    /// # Panics
    /// If this thread already holds the server lock (the main thread always does while it runs
    /// module code; a worker does while a guard lives): the lock is not reentrant, and waiting
    /// would deadlock the server.
    pub fn lock(&mut self) -> Locked<'_> {
        let lock = self.inner.lock();
        Locked {
            ctx: lock.context(),
            _lock: lock,
        }
    }

    /// The lock if it is free right now, else `None` (never waits; `None` also on a thread
    /// that already holds it).
    pub fn try_lock(&mut self) -> Option<Locked<'_>> {
        let lock = self.inner.try_lock()?;
        Some(Locked {
            ctx: lock.context(),
            _lock: lock,
        })
    }
}

impl std::fmt::Debug for DetachedContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DetachedContext")
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
        self.check_can_block()?;
        self.raw().check_blockable()?;
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        self.raw().block_on_thread(
            ms,
            Box::new(move |safe: &SafeCtx| work(&ThreadContext { safe })),
        )?;
        Ok(Reply::Deferred)
    }

    /// A [`DetachedContext`] for a thread the module runs itself.
    pub fn detached(&self) -> Result<DetachedContext> {
        Ok(DetachedContext {
            inner: self.raw().detached()?,
        })
    }

    /// Lets the server answer other clients during a long command (`RedisModule_Yield` with
    /// `REDISMODULE_YIELD_FLAG_CLIENTS`): once the command has run longer than
    /// `busy-reply-threshold`, they get `-BUSY <busy_reply>` (or Redis's own text when `None`),
    /// and the server's cron runs. Call it every few milliseconds from the loop; cheap when
    /// nothing is due. Only in a command (or an RDB load), on the main thread.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, items: &[u64]) {
    /// for (i, _item) in items.iter().enumerate() {
    ///     // ... slow work on _item ...
    ///     if i % 1024 == 0 {
    ///         ctx.yield_to_clients(Some("mymod.rebuild is running, try again in a moment"));
    ///     }
    /// }
    /// # }
    /// ```
    pub fn yield_to_clients(&self, busy_reply: Option<&str>) {
        self.raw().yield_now(true, busy_reply);
    }

    /// Like [`yield_to_clients`](Self::yield_to_clients) without serving clients: the server
    /// runs its cron and other events while this command goes on, and clients wait (no
    /// `-BUSY`). `RedisModule_Yield` with `REDISMODULE_YIELD_FLAG_NONE`.
    pub fn yield_to_events(&self) {
        self.raw().yield_now(false, None);
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

    /// How long until a pending timer of this module fires; `None` once it fired or was
    /// stopped (or for an id that was never one).
    pub fn timer_remaining(&self, id: TimerId) -> Option<Duration> {
        self.raw().timer_remaining(id.0).map(Duration::from_millis)
    }
}

/// A client about to block until a [`BlockedClient`] answers it: from
/// [`Context::block_client`], finished with [`start`](Self::start).
#[must_use = "the client blocks only when `start()` is called and its value returned"]
pub struct BlockClient<'c> {
    ctx: &'c Context,
    timeout: Duration,
    on_timeout: Option<crate::ffi::thread::OnTimeout>,
}

/// A blocked client, to answer later with [`reply`](Self::reply) — from any thread (it is
/// `Send`) or from another command. Dropping it unanswered answers the client with an error, so
/// no client waits forever for a handle that is gone.
///
/// ```no_run
/// use rmkit::thread::BlockedClient;
/// use std::sync::Mutex;
///
/// /// The client waiting for the next `release` (one at a time).
/// static WAITING: Mutex<Option<BlockedClient>> = Mutex::new(None);
///
/// fn wait(ctx: &rmkit::Context) -> rmkit::Result {
///     ctx.block_client()
///         .timeout(std::time::Duration::from_secs(5), |_ctx| Ok(rmkit::Reply::Null))
///         .start(|bc| *WAITING.lock().unwrap() = Some(bc))
/// }
///
/// fn release(value: &[u8]) -> rmkit::Result {
///     if let Some(bc) = WAITING.lock().unwrap().take() {
///         bc.reply(Ok(rmkit::Reply::from(value)));
///     }
///     Ok(rmkit::Reply::Ok)
/// }
/// ```
pub struct BlockedClient {
    handle: BlockedHandle,
}

static_assertions::assert_impl_all!(BlockedClient: Send);

impl std::fmt::Debug for BlockedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockedClient")
    }
}

impl BlockedClient {
    /// Answers the client (on the main thread, at the next event loop turn) and lets it go on.
    /// If it timed out or disconnected meanwhile, the reply is dropped.
    pub fn reply(mut self, reply: Result) {
        self.handle.unblock(reply);
    }

    /// Starts counting time as the command's (background) time: `SLOWLOG`, `INFO
    /// commandstats` and latency tracking then include the work between this and
    /// [`measure_time_end`](Self::measure_time_end). Any thread.
    pub fn measure_time_start(&self) {
        self.handle.measure_time(true);
    }

    /// Stops counting (see [`measure_time_start`](Self::measure_time_start)). A timeout stops
    /// it too: the time until then counts.
    pub fn measure_time_end(&self) {
        self.handle.measure_time(false);
    }
}

impl<'c> BlockClient<'c> {
    /// Answer with `on_timeout`'s reply after `timeout` (`Duration::ZERO`: only on `CLIENT
    /// UNBLOCK`), if the client is still blocked then. Without a timeout callback the client
    /// waits for its [`BlockedClient`] alone, and `CLIENT UNBLOCK` refuses it.
    pub fn timeout(
        mut self,
        timeout: Duration,
        on_timeout: impl FnOnce(&Context) -> Result + Send + 'static,
    ) -> Self {
        self.timeout = timeout;
        self.on_timeout = Some(Box::new(on_timeout));
        self
    }

    /// Blocks the client and hands its [`BlockedClient`] to `keep` (to stash it, or move it to
    /// a thread). Return the result from the command ([`Reply::Deferred`]); `Err` where a client
    /// cannot block (MULTI, scripts, not a command's context).
    pub fn start(self, keep: impl FnOnce(BlockedClient)) -> Result {
        self.ctx.check_can_block()?;
        let ms = i64::try_from(self.timeout.as_millis()).unwrap_or(i64::MAX);
        let handle = self.ctx.raw().block_client(ms, self.on_timeout)?;
        let bc = BlockedClient { handle };
        // A panic in `keep` drops the handle, which answers the client (with an error): the
        // command must not answer as well, so the panic stops here (it is logged).
        let _ = crate::ffi::guard("block_client's keep closure", move || keep(bc));
        Ok(Reply::Deferred)
    }
}

impl Context {
    /// Blocks the calling client until a [`BlockedClient`] answers it (see there); the server
    /// serves other clients meanwhile.
    pub fn block_client(&self) -> BlockClient<'_> {
        BlockClient {
            ctx: self,
            timeout: Duration::ZERO,
            on_timeout: None,
        }
    }
}

/// A pending timer, as returned by [`Context::create_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(u64);

impl TimerId {
    /// The number Redis gave the timer (to show it, or send it to a client).
    pub fn as_u64(self) -> u64 {
        self.0
    }
    /// A timer id from its number (a client's, say). An id that is no pending timer of this
    /// module is simply not found by [`Context::stop_timer`] / [`Context::timer_remaining`].
    pub fn from_u64(id: u64) -> TimerId {
        TimerId(id)
    }
}

/// A client about to block on keys: from [`Context::block_on_keys`], finished with
/// [`start`](Self::start).
#[must_use = "the client blocks only when `start()` is called and its value returned"]
pub struct BlockOnKeys<'c> {
    ctx: &'c Context,
    keys: Vec<&'c crate::RedisStr>,
    timeout: Duration,
    waiter: crate::ffi::block::Waiter,
}

impl Context {
    /// Blocks the client until one of `keys` is ready, then answers with `on_ready`: what
    /// `BLPOP` does, for any condition. A key is ready when a native command adds to a list,
    /// sorted set or stream at it, or a module calls
    /// [`signal_key_as_ready`](Self::signal_key_as_ready) for it.
    ///
    /// `on_ready(ctx, key, args)` gets the ready key and the command's arguments and returns
    /// `Ok(Some(reply))` to answer (and unblock), `Ok(None)` to keep waiting (the condition does
    /// not hold yet), or `Err` to answer with the error. It may be called many times; it owns
    /// what it captures (`move`), which is dropped when the client is done (answered, timed
    /// out, unblocked or disconnected). Without [`timeout`](BlockOnKeys::timeout) the client
    /// waits forever (and `CLIENT UNBLOCK ... TIMEOUT` cannot unblock it unless
    /// [`on_client_unblock`](BlockOnKeys::on_client_unblock) is given).
    ///
    /// Inside `MULTI`/`EXEC` or a script Redis cannot block a client: [`start`](BlockOnKeys::start)
    /// is then an error, so such commands answer at once there (check the condition first,
    /// as `BLPOP` does).
    ///
    /// ```no_run
    /// use rmkit::key::list::End;
    /// use rmkit::prelude::*;
    /// use std::time::Duration;
    ///
    /// /// BLPOP for one key, written with the list API.
    /// #[rmkit::command(name = "my.blpop", flags = "write blocking")]
    /// fn my_blpop(ctx: &Context, key: WriteKey, timeout_ms: u64) -> Result<Reply> {
    ///     if let Some(v) = key.list()?.pop(End::Head)? {
    ///         return Ok(Reply::String(v));
    ///     }
    ///     ctx.block_on_keys(&[key.name()], |ctx, name, _args| {
    ///         let key = ctx.open_key_writable(name);
    ///         Ok(key.list()?.pop(End::Head)?.map(Reply::String))
    ///     })
    ///     .timeout(Duration::from_millis(timeout_ms), |_ctx, _args| Ok(Reply::Null))
    ///     .start()
    /// }
    /// # fn main() {}
    /// ```
    pub fn block_on_keys<'c>(
        &'c self,
        keys: &[&'c crate::RedisStr],
        on_ready: impl FnMut(&Context, &crate::RedisStr, &[crate::RedisStr]) -> Result<Option<Reply>>
        + 'static,
    ) -> BlockOnKeys<'c> {
        BlockOnKeys {
            ctx: self,
            keys: keys.to_vec(),
            timeout: Duration::ZERO,
            waiter: crate::ffi::block::Waiter {
                ready: Box::new(on_ready),
                timeout: None,
            },
        }
    }

    /// Marks `key` ready: clients blocked on it (by [`block_on_keys`](Self::block_on_keys),
    /// or native blocking commands) are offered it once this command is done. Call it after
    /// changing a module value that someone may wait for.
    pub fn signal_key_as_ready(&self, key: &crate::RedisStr) {
        self.raw().signal_key_as_ready(key);
    }
}

impl BlockOnKeys<'_> {
    /// Gives up after `after` (zero: never) with the reply of `on_timeout`, which also answers
    /// `CLIENT UNBLOCK id TIMEOUT`.
    pub fn timeout(
        mut self,
        after: Duration,
        on_timeout: impl FnMut(&Context, &[crate::RedisStr]) -> Result<Reply> + 'static,
    ) -> Self {
        self.timeout = after;
        self.waiter.timeout = Some(Box::new(on_timeout));
        self
    }

    /// Without a timeout: lets `CLIENT UNBLOCK id TIMEOUT` unblock the client, answering with
    /// `on_unblock`.
    pub fn on_client_unblock(
        self,
        on_unblock: impl FnMut(&Context, &[crate::RedisStr]) -> Result<Reply> + 'static,
    ) -> Self {
        self.timeout(Duration::ZERO, on_unblock)
    }

    /// Blocks the client. Return its value from the command ([`Reply::Deferred`]); an error
    /// inside `MULTI`/`EXEC` or a script, where Redis cannot block, and from any context but a
    /// command's own (a timer, an event, a scan callback: there is no client to block).
    pub fn start(self) -> Result<Reply> {
        self.ctx.check_can_block()?;
        self.ctx.raw().check_blockable()?;
        let ms = i64::try_from(self.timeout.as_millis())
            .unwrap_or(i64::MAX)
            .max(i64::from(!self.timeout.is_zero()));
        self.ctx.raw().block_on_keys(&self.keys, ms, self.waiter);
        Ok(Reply::Deferred)
    }
}
