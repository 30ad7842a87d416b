//! The context Redis gives every callback: [`Context`].

use crate::ffi::key::OpenMode;
use crate::ffi::reply::Postponed;
use crate::ffi::{RawCtx, guard};
use crate::key::Key;
use crate::{Error, RedisStr, Reply, Result};

/// What a command (or a timer, an event handler, a locked worker) gets from Redis for the
/// duration of one call. Not `Send`: it belongs to the thread Redis called on.
///
/// Its methods, by topic:
///
/// | topic | methods |
/// |---|---|
/// | keys ([`crate::key`]) | [`open_key`](Self::open_key), [`open_key_writable`](Self::open_key_writable) |
/// | replication and notifications | [`replicate_verbatim`](Self::replicate_verbatim), [`replicate`](Self::replicate), [`notify_keyspace_event`](Self::notify_keyspace_event), [`publish`](Self::publish), [`publish_shard`](Self::publish_shard) |
/// | calling commands ([`crate::call`]) | [`call`](Self::call), [`call_with`](Self::call_with) |
/// | replies | [`stream_array`](Self::stream_array), [`check_reply_size`](Self::check_reply_size) |
/// | threads and timers ([`crate::thread`]) | [`block_on_thread`](Self::block_on_thread), [`create_timer`](Self::create_timer), [`stop_timer`](Self::stop_timer) |
/// | the server log | [`log`](Self::log) (or the `log` crate) |
pub struct Context {
    raw: RawCtx,
    /// A command's own context (the client can be blocked), not a timer's, an event's, a
    /// scan's or a blocked client's callback's.
    command: bool,
}

static_assertions::assert_not_impl_any!(Context: Send, Sync);

/// Keyspace notification classes (the letters of `notify-keyspace-events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    Generic,
    /// `$`: string commands.
    String,
    /// `h`: hash commands.
    Hash,
    /// `d`: module key type events.
    Module,
    /// `x`: keys expired.
    Expired,
    /// `e`: keys evicted by maxmemory.
    Evicted,
    /// `l`: list commands.
    List,
    /// `s`: set commands.
    Set,
    /// `z`: sorted set commands.
    ZSet,
    /// `t`: stream commands.
    Stream,
    /// `m`: a read found no key (key misses; not part of [`Notify::All`]).
    KeyMiss,
    /// A key was loaded from an RDB file (module-only; event `loaded`).
    Loaded,
    /// `n`: a key was created (event `new`; not part of [`Notify::All`]).
    New,
    /// `A`: every class above except [`KeyMiss`](Notify::KeyMiss), [`Loaded`](Notify::Loaded)
    /// and [`New`](Notify::New) (as `notify-keyspace-events A`).
    All,
}

impl Context {
    pub(crate) fn new(raw: RawCtx) -> Context {
        Context {
            raw,
            command: false,
        }
    }

    /// The context of a command call: the one kind whose client may be blocked.
    pub(crate) fn for_command(raw: RawCtx) -> Context {
        Context { raw, command: true }
    }

    /// `Err` unless this is a command's own context (blocking needs a client to block).
    pub(crate) fn check_can_block(&self) -> Result<()> {
        if self.command {
            Ok(())
        } else {
            Err(Error::new(
                "only a command can block its client: not from a timer, an event, a scan or \
                 a blocked client's callback",
            ))
        }
    }

    #[inline]
    pub(crate) fn raw(&self) -> &RawCtx {
        &self.raw
    }

    /// A snapshot of the server's `INFO` (`RedisModule_GetServerInfo`): `section` is what
    /// `INFO` takes (`"memory"`, `"all"`, `"everything"`, a module's `"<module>_<name>"`, ...).
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result<()> {
    /// let info = ctx.server_info("replication")?;
    /// let is_master = info.field("role").as_deref() == Some("master");
    /// # Ok(()) }
    /// ```
    pub fn server_info(&self, section: &str) -> Result<crate::server::info::ServerInfo> {
        self.raw
            .server_info(section)
            .ok_or_else(|| Error::new(format!("INFO {section} is not available")))
    }

    /// Opens `name` for reading. A missing key reads as [`KeyKind::Empty`](crate::key::KeyKind::Empty).
    #[inline]
    pub fn open_key<'a>(&'a self, name: &'a RedisStr) -> Key<'a> {
        Key::new(self.raw.open_key(name, OpenMode::default()), name, false)
    }

    /// Opens `name` with [`OpenFlags`](crate::key::OpenFlags) (`NOTOUCH`, `NOEXPIRE`, ...):
    /// `ERR` naming the flag if this server does not have it.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, name: &rmkit::RedisStr) -> rmkit::Result<()> {
    /// use rmkit::key::OpenFlags;
    /// // Read without changing the key's LRU/LFU clock.
    /// let key = ctx.open_key_with(name, OpenFlags { notouch: true, ..OpenFlags::default() })?;
    /// # Ok(()) }
    /// ```
    pub fn open_key_with<'a>(
        &'a self,
        name: &'a RedisStr,
        flags: crate::key::OpenFlags,
    ) -> Result<Key<'a>> {
        let mode = OpenMode::from_flags(flags)?;
        Ok(Key::new(self.raw.open_key(name, mode), name, flags.write))
    }

    /// Opens `name` for reading and writing (a missing key can then be created).
    #[inline]
    pub fn open_key_writable<'a>(&'a self, name: &'a RedisStr) -> Key<'a> {
        let mode = OpenMode {
            write: true,
            flags: 0,
        };
        Key::new(self.raw.open_key(name, mode), name, true)
    }

    /// The full name of the command running in this context as Redis knows it (`parent|sub`
    /// for a subcommand, in the case it was registered with); `None` outside a command (a
    /// timer, an event) or on servers before 7.0.
    pub fn command_name(&self) -> Option<String> {
        self.raw.current_command_name()
    }

    /// The database this context works on (`SELECT`), 0 by default.
    pub fn selected_db(&self) -> i32 {
        self.raw.selected_db()
    }

    /// Switches this context to database `db`. In a command this is the calling client's own
    /// selection (as `SELECT` would change it): select the previous database back before
    /// returning unless that is the point. `ERR` for a database that does not exist.
    pub fn select_db(&self, db: i32) -> Result<()> {
        if self.raw.select_db(db) {
            Ok(())
        } else {
            Err(Error::new("DB index is out of range"))
        }
    }

    /// The number of keys in the selected database (`DBSIZE`).
    pub fn db_size(&self) -> u64 {
        self.raw.db_size()
    }

    /// A random key name of the selected database (`RANDOMKEY`), `None` when it is empty.
    pub fn random_key(&self) -> Option<crate::RedisString> {
        self.raw.random_key()
    }

    /// Whether `key` exists, without touching it (no LRU/LFU update, no expiry, no keyspace
    /// miss notification).
    pub fn key_exists(&self, key: &RedisStr) -> bool {
        self.raw.key_exists(key)
    }

    /// Whether the module should avoid replicating now (a failover or a client pause is under
    /// way, so replicas would not catch up): for modules that generate traffic on their own,
    /// e.g. from timers.
    pub fn avoid_replica_traffic(&self) -> bool {
        self.raw.avoid_replica_traffic()
    }

    /// Publishes `message` on `channel` (`PUBLISH`): the number of clients that received it.
    /// In cluster mode it reaches every node, like `PUBLISH`.
    pub fn publish(&self, channel: &RedisStr, message: &RedisStr) -> usize {
        self.raw.publish(false, channel, message).max(0) as usize
    }

    /// Publishes `message` on shard channel `channel` (`SPUBLISH`, Redis 7.0): the number of
    /// clients that received it; in cluster mode only the shard of the channel's slot hears it.
    pub fn publish_shard(&self, channel: &RedisStr, message: &RedisStr) -> usize {
        self.raw.publish(true, channel, message).max(0) as usize
    }

    /// Whether the calling client speaks RESP3 (`HELLO 3`): for commands whose reply shape
    /// differs between the protocols beyond what [`Reply`] maps by itself. The same as
    /// `self.flags().resp3()` ([`flags`](Self::flags) has the context's other flags).
    #[inline]
    pub fn is_resp3(&self) -> bool {
        self.flags().resp3()
    }

    /// Replicates this command to replicas and the AOF exactly as the client sent it.
    ///
    /// Use it when the command is deterministic (the same arguments give the same effect);
    /// it is sent once, after the command, wrapped with the rest of the command's effects.
    #[inline]
    pub fn replicate_verbatim(&self) {
        self.raw.replicate_verbatim();
    }

    /// Emits a keyspace notification (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`),
    /// as native commands do, for clients subscribed to `class`.
    #[inline]
    pub fn notify_keyspace_event(&self, class: Notify, event: &str, key: &RedisStr) {
        self.raw.notify_keyspace_event(class, event, key);
    }

    /// Writes `msg` to the server log, prefixed with the module name.
    pub fn log(&self, level: crate::LogLevel, msg: &str) {
        crate::log::log(level, msg)
    }

    /// Checks that a reply of `bytes` may be built and sent, before building it: a command whose
    /// output can be much larger than its input (a template, pretty printing, the same path
    /// asked for many times) calls this with the exact size first, so one small request cannot
    /// make the server allocate gigabytes.
    ///
    /// Refused, with an error that names the sizes:
    /// - more than `limit` (the module's own cap, typically a config) or the server's
    ///   `proto-max-bulk-len` (`ERR ...`);
    /// - a large reply ([`LARGE_REPLY`] or more) when `maxmemory` is set and the reply does not
    ///   fit in what is left under it (`OOM ...`): an unread reply counts toward `used_memory`
    ///   and cannot be evicted, so the server would evict keys (or refuse every write) for it.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, rendered_len: usize) -> rmkit::Result<()> {
    /// ctx.check_reply_size(rendered_len, 64 << 20)?;
    /// # Ok(()) }
    /// ```
    pub fn check_reply_size(&self, bytes: usize, limit: usize) -> Result<()> {
        if bytes > limit {
            return Err(Error::new(format!(
                "the reply would be {bytes} bytes, over this module's limit of {limit} bytes"
            )));
        }
        if bytes < LARGE_REPLY {
            return Ok(());
        }
        let max_bulk = match self.call("CONFIG", &[b"GET", b"proto-max-bulk-len"])? {
            crate::call::CallReply::Array(v) => v
                .get(1)
                .and_then(|v| v.as_bytes())
                .and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok()),
            _ => None,
        };
        if let Some(max) = max_bulk
            && bytes as u64 > max
        {
            return Err(Error::new(format!(
                "the reply would be {bytes} bytes, over proto-max-bulk-len ({max} bytes)"
            )));
        }
        let memory = self
            .raw
            .server_info_u64("memory", &["maxmemory", "used_memory"]);
        if let [Some(max), Some(used)] = memory[..]
            && max > 0
            && used.saturating_add(bytes as u64) > max
        {
            return Err(Error::out_of_memory(format!(
                "the reply would be {bytes} bytes and used_memory is {used} of maxmemory {max}: \
                 an unread reply cannot be evicted; ask for less at once"
            )));
        }
        Ok(())
    }
}

/// Replies below this are sent without asking the server anything: smaller than the smallest
/// `proto-max-bulk-len` Redis allows (1 MiB) and harmless under any maxmemory.
pub const LARGE_REPLY: usize = 1 << 20;

/// Writes the elements of a reply whose length is not known in advance
/// ([`Context::stream_array`], [`stream_set`](Context::stream_set),
/// [`stream_map`](Context::stream_map)).
pub struct ArrayWriter<'c> {
    ctx: &'c Context,
    len: usize,
}

impl ArrayWriter<'_> {
    /// Sends one element now (of an array or set).
    pub fn push(&mut self, item: impl Into<Reply>) {
        self.ctx.raw().send(&item.into());
        self.len += 1;
    }

    /// Sends one entry of a map now.
    pub fn pair(&mut self, key: impl Into<Reply>, value: impl Into<Reply>) {
        self.ctx.raw().send(&key.into());
        self.ctx.raw().send(&value.into());
        self.len += 1;
    }

    /// Elements sent so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was sent yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Context {
    /// Streams an array reply element by element (Redis's postponed array length): nothing is
    /// buffered in the module, which suits long results produced by a scan. Return the result
    /// of this call from the command.
    ///
    /// If `produce` fails or panics after some elements, the error becomes the array's last
    /// element (the array is always closed, so the connection stays in sync).
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result {
    /// ctx.stream_array(|out| {
    ///     for i in 0..1_000_000i64 {
    ///         out.push(i);
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn stream_array(
        &self,
        produce: impl FnOnce(&mut ArrayWriter<'_>) -> Result<(), Error>,
    ) -> Result {
        self.stream(Postponed::Array, produce)
    }

    /// Like [`stream_array`](Self::stream_array), for a set (RESP3 `~`; an array in RESP2).
    pub fn stream_set(
        &self,
        produce: impl FnOnce(&mut ArrayWriter<'_>) -> Result<(), Error>,
    ) -> Result {
        self.stream(Postponed::Set, produce)
    }

    /// Streams a map reply pair by pair (RESP3 `%`; a flat key/value array in RESP2):
    /// [`ArrayWriter::pair`] sends one entry. An error or panic of `produce` is sent as one
    /// last entry (an empty key and the error), so the reply stays well formed.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) -> rmkit::Result {
    /// ctx.stream_map(|out| {
    ///     out.pair("hits", 10i64);
    ///     out.pair("misses", 2i64);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn stream_map(
        &self,
        produce: impl FnOnce(&mut ArrayWriter<'_>) -> Result<(), Error>,
    ) -> Result {
        self.stream(Postponed::Map, produce)
    }

    fn stream(
        &self,
        kind: Postponed,
        produce: impl FnOnce(&mut ArrayWriter<'_>) -> Result<(), Error>,
    ) -> Result {
        self.raw().open_postponed(kind);
        let mut w = ArrayWriter { ctx: self, len: 0 };
        let failure = match guard("a streamed reply's producer", || produce(&mut w)) {
            Some(Ok(())) => None,
            Some(Err(e)) => Some(e),
            None => Some(Error::new(format!(
                "panicked while streaming: {} (see the server log)",
                crate::ffi::last_panic()
            ))),
        };
        if let Some(e) = failure {
            if kind == Postponed::Map {
                self.raw().send(&Reply::Bulk(Vec::new()));
            }
            self.raw().send_error(&e);
            w.len += 1;
        }
        self.raw().close_postponed(kind, w.len);
        Ok(Reply::Deferred)
    }
}
