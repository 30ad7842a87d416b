//! Keyspace notifications and server events, collected with `linkme` from any linked crate.
//!
//! ```
//! use rmkit::server::events::ServerEvent;
//! use rmkit::{Context, Notify, RedisStr};
//!
//! fn on_hash_write(_ctx: &Context, event: &str, key: &RedisStr) {
//!     rmkit::log::log(rmkit::LogLevel::Verbose, &format!("{event} on {:?}", key));
//! }
//! rmkit::on_keyspace_event!(&[Notify::Hash, Notify::Expired], on_hash_write);
//!
//! fn on_server(_ctx: &Context, event: ServerEvent) {
//!     if event == ServerEvent::Shutdown { /* flush caches */ }
//! }
//! rmkit::on_server_event!(on_server); // flush and shutdown
//!
//! fn on_config(_ctx: &Context, event: ServerEvent) {
//!     if let ServerEvent::ConfigChanged(names) = event { /* reread `names` */ }
//! }
//! rmkit::on_server_event!(&[rmkit::server::events::EventKind::Config], on_config);
//! # fn main() {}
//! ```
//! Handlers run on the main thread inside `catch_unwind` (except background-save
//! [`ServerEvent::PersistenceStarted`]/`Ended`, which Redis reports in the fork child): a panic
//! is logged, never fatal.
//!
//! A keyspace handler may call back into Redis with [`Context::call`](crate::Context::call),
//! writes included, as Redis 7.0 and Valkey 8.1 allow: the write runs at once, nested inside
//! the command that notified (inside its `MULTI` or script: see
//! [`Context::flags`](crate::Context::flags)), and notifies in turn, so a handler that
//! writes must not react to its own writes forever. It must not keep the key string past the
//! call (copy it).

use crate::{Context, Notify, RedisStr};

/// A keyspace notification handler (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct KeyspaceHandler {
    /// The classes it wants (`REDISMODULE_NOTIFY_*` bits, see [`mask`]).
    pub mask: i32,
    /// Called with the event name (`hset`, `del`, `expired`, ...) and the key.
    pub handler: fn(&Context, &str, &RedisStr),
}

#[doc(hidden)]
pub use crate::ffi::registry::KEYSPACE_HANDLERS;

/// The notification bits of `classes`.
#[doc(hidden)]
pub const fn mask(classes: &[Notify]) -> i32 {
    let mut m = 0;
    let mut i = 0;
    while i < classes.len() {
        m |= classes[i].bits();
        i += 1;
    }
    m
}

/// Where a load reads from ([`ServerEvent::LoadingStarted`], [`ServerEvent::LoadingProgress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// An RDB file (startup, `DEBUG RELOAD`).
    Rdb,
    /// The append-only file.
    Aof,
    /// A replica loading what its master sent.
    Replication,
}

/// What a save writes ([`ServerEvent::PersistenceStarted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// A background RDB save (`BGSAVE`, `save` points): reported **in the fork child**.
    Rdb,
    /// A background AOF rewrite: reported in the fork child.
    Aof,
    /// A synchronous RDB save (`SAVE`, `DEBUG RELOAD`, shutdown): on the main thread.
    SyncRdb,
    /// A synchronous AOF rewrite: on the main thread.
    SyncAof,
}

/// The client of [`ServerEvent::ClientConnected`] / [`ServerEvent::ClientDisconnected`]: the
/// same type [`Context::client_info`](crate::Context::client_info) returns.
pub use super::client::ClientInfo;

/// The replication state of [`ServerEvent::BecameMaster`] / [`ServerEvent::BecameReplica`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationInfo {
    /// The server is now a master.
    pub master: bool,
    /// The master's host (a replica only).
    pub master_host: Option<String>,
    /// The master's port (a replica only; else 0).
    pub master_port: i32,
    /// The main replication id.
    pub replid1: String,
    /// The secondary replication id.
    pub replid2: String,
    /// The main replication offset.
    pub repl1_offset: u64,
    /// The offset up to which `replid2` is valid.
    pub repl2_offset: u64,
}

/// A server event, with what the server tells about it.
///
/// Subscribe with [`on_server_event!`](crate::on_server_event!), naming the [`EventKind`]s
/// wanted: the module subscribes to nothing else (so a cron handler costs nothing unless asked).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// This server became a master ([`EventKind::RoleChange`]).
    BecameMaster(ReplicationInfo),
    /// This server became a replica ([`EventKind::RoleChange`]).
    BecameReplica(ReplicationInfo),
    /// A replica of this master came online ([`EventKind::ReplicaChange`]).
    ReplicaOnline,
    /// A replica of this master went offline ([`EventKind::ReplicaChange`]).
    ReplicaOffline,
    /// This replica's link to its master came up ([`EventKind::MasterLink`]).
    MasterLinkUp,
    /// This replica's link to its master went down ([`EventKind::MasterLink`]).
    MasterLinkDown,
    /// A load began ([`EventKind::Loading`]).
    LoadingStarted(LoadSource),
    /// A load finished ([`EventKind::Loading`]).
    LoadingEnded,
    /// A load failed ([`EventKind::Loading`]).
    LoadingFailed,
    /// A long load is under way ([`EventKind::LoadingProgress`]): `progress` is the percentage
    /// done (-1 when unknown), `hz` how often this is reported.
    LoadingProgress {
        /// RDB or AOF.
        source: LoadSource,
        /// Reports per second.
        hz: i32,
        /// Percent done, or -1.
        progress: i32,
    },
    /// A save began ([`EventKind::Persistence`]); background ones report in the fork child.
    PersistenceStarted(SaveKind),
    /// A save finished ([`EventKind::Persistence`]).
    PersistenceEnded,
    /// A save failed ([`EventKind::Persistence`]).
    PersistenceFailed,
    /// A client connected ([`EventKind::ClientChange`]).
    ClientConnected(ClientInfo),
    /// A client disconnected ([`EventKind::ClientChange`]).
    ClientDisconnected(ClientInfo),
    /// A module was loaded ([`EventKind::ModuleChange`]; not reported for this module itself).
    ModuleLoaded {
        /// Its name.
        name: String,
        /// Its version.
        version: i32,
    },
    /// A module was unloaded ([`EventKind::ModuleChange`]).
    ModuleUnloaded {
        /// Its name.
        name: String,
        /// Its version.
        version: i32,
    },
    /// `CONFIG SET` changed these parameters ([`EventKind::Config`]).
    ConfigChanged(Vec<String>),
    /// The server cron ran ([`EventKind::Cron`]), `hz` times a second.
    Cron {
        /// The server's current `hz`.
        hz: i32,
    },
    /// `SWAPDB db1 db2` ran ([`EventKind::SwapDb`]).
    SwapDb {
        /// The first database.
        db1: i32,
        /// The second database.
        db2: i32,
    },
    /// A fork child (save, rewrite, module fork) was born ([`EventKind::ForkChild`]).
    ForkChildBorn,
    /// The fork child exited ([`EventKind::ForkChild`]).
    ForkChildDied,
    /// A replica began loading a diskless sync asynchronously ([`EventKind::ReplAsyncLoad`],
    /// `repl-diskless-load swapdb`).
    ReplAsyncLoadStarted,
    /// The asynchronous load was aborted.
    ReplAsyncLoadAborted,
    /// The asynchronous load completed.
    ReplAsyncLoadCompleted,
    /// The event loop is about to sleep ([`EventKind::EventLoop`]).
    BeforeSleep,
    /// The event loop woke up ([`EventKind::EventLoop`]).
    AfterSleep,
    /// `FLUSHALL`/`FLUSHDB` is about to run on `db` (-1: every database) ([`EventKind::Flush`]).
    FlushStart {
        /// The database, -1 for all.
        db: i32,
    },
    /// `FLUSHALL`/`FLUSHDB` has run ([`EventKind::Flush`]).
    FlushEnd {
        /// The database, -1 for all.
        db: i32,
    },
    /// The server is shutting down ([`EventKind::Shutdown`]).
    Shutdown,
    /// A key was removed from the keyspace ([`EventKind::Key`]; Redis 7.2+ / Valkey only).
    KeyRemoved {
        /// The key's name.
        key: Vec<u8>,
        /// Why it went.
        reason: KeyRemoval,
    },
}

/// Why a key went ([`ServerEvent::KeyRemoved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRemoval {
    /// Deleted (`DEL`, `UNLINK`, a command emptying it, ...).
    Deleted,
    /// Expired.
    Expired,
    /// Evicted by `maxmemory`.
    Evicted,
    /// Overwritten by another value (`SET`, `RENAME` onto it, ...).
    Overwritten,
}

impl ServerEvent {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        use ServerEvent as E;
        match self {
            E::BecameMaster(_) | E::BecameReplica(_) => EventKind::RoleChange,
            E::ReplicaOnline | E::ReplicaOffline => EventKind::ReplicaChange,
            E::MasterLinkUp | E::MasterLinkDown => EventKind::MasterLink,
            E::LoadingStarted(_) | E::LoadingEnded | E::LoadingFailed => EventKind::Loading,
            E::LoadingProgress { .. } => EventKind::LoadingProgress,
            E::PersistenceStarted(_) | E::PersistenceEnded | E::PersistenceFailed => {
                EventKind::Persistence
            }
            E::ClientConnected(_) | E::ClientDisconnected(_) => EventKind::ClientChange,
            E::ModuleLoaded { .. } | E::ModuleUnloaded { .. } => EventKind::ModuleChange,
            E::ConfigChanged(_) => EventKind::Config,
            E::Cron { .. } => EventKind::Cron,
            E::SwapDb { .. } => EventKind::SwapDb,
            E::ForkChildBorn | E::ForkChildDied => EventKind::ForkChild,
            E::ReplAsyncLoadStarted | E::ReplAsyncLoadAborted | E::ReplAsyncLoadCompleted => {
                EventKind::ReplAsyncLoad
            }
            E::BeforeSleep | E::AfterSleep => EventKind::EventLoop,
            E::FlushStart { .. } | E::FlushEnd { .. } => EventKind::Flush,
            E::Shutdown => EventKind::Shutdown,
            E::KeyRemoved { .. } => EventKind::Key,
        }
    }
}

/// The kinds of [`ServerEvent`] a handler subscribes to (Redis's `REDISMODULE_EVENT_*`).
///
/// Every kind but [`Key`](EventKind::Key) exists on Redis 7.0 and Valkey 8.1; `Key` needs
/// Redis 7.2+ or Valkey. A kind the server does not know fails the module load with a message
/// naming it (check [`EventKind::supported`] first to make it optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    /// [`ServerEvent::BecameMaster`], [`ServerEvent::BecameReplica`].
    RoleChange = 0,
    /// [`ServerEvent::PersistenceStarted`] / `Ended` / `Failed`.
    Persistence = 1,
    /// [`ServerEvent::FlushStart`], [`ServerEvent::FlushEnd`].
    Flush = 2,
    /// [`ServerEvent::LoadingStarted`] / `Ended` / `Failed`.
    Loading = 3,
    /// [`ServerEvent::ClientConnected`], [`ServerEvent::ClientDisconnected`].
    ClientChange = 4,
    /// [`ServerEvent::Shutdown`].
    Shutdown = 5,
    /// [`ServerEvent::ReplicaOnline`], [`ServerEvent::ReplicaOffline`].
    ReplicaChange = 6,
    /// [`ServerEvent::MasterLinkUp`], [`ServerEvent::MasterLinkDown`].
    MasterLink = 7,
    /// [`ServerEvent::Cron`] (`hz` times a second: ask for it only if needed).
    Cron = 8,
    /// [`ServerEvent::ModuleLoaded`], [`ServerEvent::ModuleUnloaded`].
    ModuleChange = 9,
    /// [`ServerEvent::LoadingProgress`].
    LoadingProgress = 10,
    /// [`ServerEvent::SwapDb`].
    SwapDb = 11,
    /// [`ServerEvent::ForkChildBorn`], [`ServerEvent::ForkChildDied`].
    ForkChild = 13,
    /// [`ServerEvent::ReplAsyncLoadStarted`] / `Aborted` / `Completed`.
    ReplAsyncLoad = 14,
    /// [`ServerEvent::BeforeSleep`], [`ServerEvent::AfterSleep`] (every loop iteration).
    EventLoop = 15,
    /// [`ServerEvent::ConfigChanged`].
    Config = 16,
    /// [`ServerEvent::KeyRemoved`] (Redis 7.2+ / Valkey; not on Redis 7.0).
    Key = 17,
}

impl EventKind {
    /// Every kind Redis 7.0 has (a handler that wants them all; includes the frequent `Cron`
    /// and `EventLoop`; not [`Key`](EventKind::Key), which Redis 7.0 lacks).
    pub const ALL: &'static [EventKind] = &[
        EventKind::RoleChange,
        EventKind::Persistence,
        EventKind::Flush,
        EventKind::Loading,
        EventKind::ClientChange,
        EventKind::Shutdown,
        EventKind::ReplicaChange,
        EventKind::MasterLink,
        EventKind::Cron,
        EventKind::ModuleChange,
        EventKind::LoadingProgress,
        EventKind::SwapDb,
        EventKind::ForkChild,
        EventKind::ReplAsyncLoad,
        EventKind::EventLoop,
        EventKind::Config,
    ];

    /// The kinds `on_server_event!(handler)` without a list subscribes to (as before kinds
    /// existed): flush and shutdown.
    pub const DEFAULT: &'static [EventKind] = &[EventKind::Flush, EventKind::Shutdown];

    /// The `REDISMODULE_EVENT_*` id.
    pub const fn id(self) -> u64 {
        self as u8 as u64
    }

    /// The kind of a `REDISMODULE_EVENT_*` id.
    pub fn from_id(id: u64) -> Option<EventKind> {
        EventKind::ALL
            .iter()
            .copied()
            .chain([EventKind::Key])
            .find(|k| k.id() == id)
    }

    /// Whether the running server has this kind of event (meaningful once the module is
    /// loaded, e.g. in a command or an event handler).
    pub fn supported(self) -> bool {
        crate::ffi::events::event_supported(self.id())
    }
}

/// The event-id bits of `kinds`.
#[doc(hidden)]
pub const fn kinds_mask(kinds: &[EventKind]) -> u64 {
    let mut m = 0;
    let mut i = 0;
    while i < kinds.len() {
        m |= 1 << kinds[i].id();
        i += 1;
    }
    m
}

/// A server event handler (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct ServerEventHandler {
    /// The [`EventKind`]s it wants (bit `1 << id`, see [`kinds_mask`]).
    pub kinds: u64,
    /// Called for every [`ServerEvent`] of those kinds.
    pub handler: fn(&Context, ServerEvent),
}

#[doc(hidden)]
pub use crate::ffi::registry::SERVER_EVENT_HANDLERS;

/// Subscribes `handler: fn(&Context, &str, &RedisStr)` to keyspace notifications of `classes`
/// (a `&[Notify]`). Independent of the `notify-keyspace-events` setting. A class the server
/// does not know fails the load with a message naming it.
#[macro_export]
macro_rules! on_keyspace_event {
    ($classes:expr, $handler:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice(
                $crate::server::events::KEYSPACE_HANDLERS
            )]
            #[linkme(crate = $crate::__private::linkme)]
            static HANDLER: $crate::server::events::KeyspaceHandler =
                $crate::server::events::KeyspaceHandler {
                    mask: $crate::server::events::mask($classes),
                    handler: $handler,
                };
        };
    };
}

/// Subscribes `handler: fn(&Context, ServerEvent)` to server events of the given
/// [`EventKind`]s (a `&[EventKind]`); without a list, to [`EventKind::DEFAULT`] (flush and
/// shutdown).
///
/// ```
/// use rmkit::Context;
/// use rmkit::server::events::{EventKind, ServerEvent};
///
/// fn on_clients(_ctx: &Context, event: ServerEvent) {
///     if let ServerEvent::ClientConnected(client) = event {
///         let msg = format!("client {} from {}:{}", client.id, client.addr, client.port);
///         rmkit::log::log(rmkit::LogLevel::Verbose, &msg);
///     }
/// }
/// rmkit::on_server_event!(&[EventKind::ClientChange], on_clients);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_server_event {
    ($handler:path) => {
        $crate::on_server_event!($crate::server::events::EventKind::DEFAULT, $handler);
    };
    ($kinds:expr, $handler:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice(
                $crate::server::events::SERVER_EVENT_HANDLERS
            )]
            #[linkme(crate = $crate::__private::linkme)]
            static HANDLER: $crate::server::events::ServerEventHandler =
                $crate::server::events::ServerEventHandler {
                    kinds: $crate::server::events::kinds_mask($kinds),
                    handler: $handler,
                };
        };
    };
}
