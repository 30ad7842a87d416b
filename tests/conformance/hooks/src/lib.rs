//! Port of Redis 7.0's `tests/modules/hooks.c` (module `testhook`): subscribes to every server
//! event and records, per event name, how often it came and its last value (a number or a
//! string); `HOOKS.EVENT_COUNT name`, `HOOKS.EVENT_LAST name`, `HOOKS.CLEAR`. Persistence and
//! shutdown events are also written to the server log as `module-event-<name>` (background
//! saves report in the fork child, where the record would be lost).
#![forbid(unsafe_code)]

use rmkit::LogLevel;
use rmkit::prelude::*;
use rmkit::server::events::{EventKind, LoadSource, SaveKind, ServerEvent};
use std::collections::HashMap;
use std::sync::Mutex;

rmkit::module! { name: "testhook", version: 1 }

/// The last value an event was recorded with.
#[derive(Clone)]
enum Last {
    Int(i64),
    Str(String),
}

/// name → (count, last value). Only the main thread (or a fork child) touches it.
static EVENTS: Mutex<Option<HashMap<String, (i64, Last)>>> = Mutex::new(None);

fn record(name: &str, value: Last) {
    let mut events = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    let entry = events
        .get_or_insert_with(HashMap::new)
        .entry(name.to_owned())
        .or_insert((0, Last::Int(0)));
    entry.0 += 1;
    entry.1 = value;
}

fn num(name: &str, value: i64) {
    record(name, Last::Int(value));
}

fn on_event(ctx: &Context, event: ServerEvent) {
    use ServerEvent as E;
    match event {
        E::ClientConnected(c) => num("client-connected", c.id as i64),
        E::ClientDisconnected(c) => num("client-disconnected", c.id as i64),
        E::FlushStart { db } => num("flush-start", db.into()),
        E::FlushEnd { db } => num("flush-end", db.into()),
        E::BecameMaster(ri) => record("role-master", Last::Str(ri.master_host.unwrap_or_default())),
        E::BecameReplica(ri) => record(
            "role-replica",
            Last::Str(ri.master_host.unwrap_or_default()),
        ),
        E::ReplicaOnline => num("replica-online", 0),
        E::ReplicaOffline => num("replica-offline", 0),
        E::MasterLinkUp => num("masterlink-up", 0),
        E::MasterLinkDown => num("masterlink-down", 0),
        E::PersistenceStarted(_) | E::PersistenceEnded | E::PersistenceFailed => {
            let name = match event {
                E::PersistenceStarted(SaveKind::Rdb) => "persistence-rdb-start",
                E::PersistenceStarted(SaveKind::Aof) => "persistence-aof-start",
                E::PersistenceStarted(SaveKind::SyncAof) => "persistence-syncaof-start",
                E::PersistenceStarted(SaveKind::SyncRdb) => "persistence-syncrdb-start",
                E::PersistenceEnded => "persistence-end",
                _ => "persistence-failed",
            };
            ctx.log(LogLevel::Warning, &format!("module-event-{name}"));
            if matches!(
                event,
                E::PersistenceStarted(SaveKind::SyncRdb | SaveKind::SyncAof)
            ) {
                num(name, 0);
            }
        }
        E::LoadingStarted(LoadSource::Rdb) => num("loading-rdb-start", 0),
        E::LoadingStarted(LoadSource::Aof) => num("loading-aof-start", 0),
        E::LoadingStarted(LoadSource::Replication) => num("loading-repl-start", 0),
        E::LoadingEnded => num("loading-end", 0),
        E::LoadingFailed => num("loading-failed", 0),
        E::LoadingProgress {
            source, progress, ..
        } => {
            let name = if source == LoadSource::Rdb {
                "loading-progress-rdb"
            } else {
                "loading-progress-aof"
            };
            num(name, progress.into());
        }
        E::Shutdown => ctx.log(LogLevel::Warning, "module-event-shutdown"),
        E::Cron { hz } => num("cron-loop", hz.into()),
        E::ModuleLoaded { name, .. } => record("module-loaded", Last::Str(name)),
        E::ModuleUnloaded { name, .. } => record("module-unloaded", Last::Str(name)),
        E::SwapDb { db1, db2 } => {
            num("swapdb-first", db1.into());
            num("swapdb-second", db2.into());
        }
        E::ConfigChanged(names) => {
            num("config-change-count", names.len() as i64);
            record(
                "config-change-first",
                Last::Str(names.into_iter().next().unwrap_or_default()),
            );
        }
        _ => {}
    }
}
rmkit::on_server_event!(
    &[
        EventKind::RoleChange,
        EventKind::ReplicaChange,
        EventKind::MasterLink,
        EventKind::Persistence,
        EventKind::Loading,
        EventKind::LoadingProgress,
        EventKind::ClientChange,
        EventKind::Flush,
        EventKind::Shutdown,
        EventKind::Cron,
        EventKind::ModuleChange,
        EventKind::SwapDb,
        EventKind::Config,
    ],
    on_event
);

fn lookup(name: &RedisStr) -> Option<(i64, Last)> {
    let events = EVENTS.lock().unwrap_or_else(|e| e.into_inner());
    events
        .as_ref()?
        .get(&*String::from_utf8_lossy(name.as_bytes()))
        .cloned()
}

/// How often event `name` came (0 if never).
#[rmkit::command(name = "hooks.event_count", flags = "")]
fn event_count(name: &RedisStr) -> Result<Reply> {
    Ok(Reply::Integer(lookup(name).map_or(0, |(n, _)| n)))
}

/// The last value of event `name` (a number or a string; nil if it never came).
#[rmkit::command(name = "hooks.event_last", flags = "")]
fn event_last(name: &RedisStr) -> Result<Reply> {
    Ok(match lookup(name) {
        Some((_, Last::Int(n))) => Reply::Integer(n),
        Some((_, Last::Str(s))) => Reply::Bulk(s.into_bytes()),
        None => Reply::Null,
    })
}

/// Forgets every recorded event.
#[rmkit::command(name = "hooks.clear", flags = "")]
fn clear() -> Result<Reply> {
    *EVENTS.lock().unwrap_or_else(|e| e.into_inner()) = None;
    Ok(Reply::Ok)
}

// ---- rmkit's own additions (not in hooks.c; names start with `rmkit-`) -------------------
// The typed payloads the C module drops, and one recorder per keyspace notification class,
// for rmkit's Rust tests (tests/tests/server_events.rs).

fn on_payloads(_ctx: &Context, event: ServerEvent) {
    use ServerEvent as E;
    match event {
        E::ClientConnected(c) | E::ClientDisconnected(c) => {
            let flags: Vec<&str> = [
                (c.is_ssl(), "ssl"),
                (c.is_pubsub(), "pubsub"),
                (c.is_blocked(), "blocked"),
                (c.is_tracking(), "tracking"),
                (c.is_unix_socket(), "unixsocket"),
                (c.is_multi(), "multi"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            let flags = if flags.is_empty() {
                "none".to_owned()
            } else {
                flags.join(",")
            };
            record(
                "rmkit-client",
                Last::Str(format!(
                    "{} {}:{} db={} flags={flags}",
                    c.id, c.addr, c.port, c.db
                )),
            )
        }
        E::ModuleLoaded { name, version } => record(
            "rmkit-module-loaded",
            Last::Str(format!("{name} {version}")),
        ),
        E::ConfigChanged(names) => record("rmkit-config", Last::Str(names.join(" "))),
        E::BecameReplica(ri) => record(
            "rmkit-role-replica",
            Last::Str(format!(
                "master={} host={} port={}",
                ri.master,
                ri.master_host.unwrap_or_default(),
                ri.master_port
            )),
        ),
        E::BecameMaster(ri) => record(
            "rmkit-role-master",
            Last::Str(format!("master={}", ri.master)),
        ),
        E::PersistenceEnded => num("rmkit-persistence-end", 0),
        E::ForkChildBorn => num("rmkit-fork-born", 0),
        E::ForkChildDied => num("rmkit-fork-died", 0),
        E::LoadingEnded => num("rmkit-loading-end", 0),
        _ => {}
    }
}
rmkit::on_server_event!(
    &[
        EventKind::ClientChange,
        EventKind::ModuleChange,
        EventKind::Config,
        EventKind::RoleChange,
        EventKind::Persistence,
        EventKind::ForkChild,
        EventKind::Loading,
    ],
    on_payloads
);

/// One handler per keyspace class: `rmkit-class-<class>` records `event key`.
macro_rules! class_recorders {
    ($($f:ident => $class:ident, $name:literal;)*) => {$(
        fn $f(_ctx: &Context, event: &str, key: &RedisStr) {
            let key = String::from_utf8_lossy(key.as_bytes());
            record(concat!("rmkit-class-", $name), Last::Str(format!("{event} {key}")));
        }
        rmkit::on_keyspace_event!(&[Notify::$class], $f);
    )*};
}
class_recorders! {
    class_generic => Generic, "generic";
    class_string => String, "string";
    class_list => List, "list";
    class_set => Set, "set";
    class_hash => Hash, "hash";
    class_zset => ZSet, "zset";
    class_expired => Expired, "expired";
    class_evicted => Evicted, "evicted";
    class_stream => Stream, "stream";
    class_key_miss => KeyMiss, "keymiss";
    class_loaded => Loaded, "loaded";
    class_module => Module, "module";
    class_new => New, "new";
    class_all => All, "all";
}

/// `HOOKS.RMKIT_NOTIFY key`: fires a module (`d`) notification `rmkit` on `key`.
#[rmkit::command(name = "hooks.rmkit_notify", flags = "")]
fn rmkit_notify(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    ctx.notify_keyspace_event(Notify::Module, "rmkit", key);
    Ok(Reply::Ok)
}

/// Every event a handler subscribed to SwapDb alone received (dispatch filters by kind).
static SWAPDB_ONLY: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
/// Event-loop iterations seen (before sleep, after sleep).
static LOOP: [std::sync::atomic::AtomicI64; 2] = [
    std::sync::atomic::AtomicI64::new(0),
    std::sync::atomic::AtomicI64::new(0),
];

fn on_swapdb_only(_ctx: &Context, _event: ServerEvent) {
    SWAPDB_ONLY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
rmkit::on_server_event!(&[EventKind::SwapDb], on_swapdb_only);

fn on_loop(_ctx: &Context, event: ServerEvent) {
    let i = usize::from(event == ServerEvent::AfterSleep);
    LOOP[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}
rmkit::on_server_event!(&[EventKind::EventLoop], on_loop);

/// `HOOKS.RMKIT_COUNTERS`: `[events of the SwapDb-only handler, before-sleeps, after-sleeps]`.
#[rmkit::command(name = "hooks.rmkit_counters", flags = "")]
fn rmkit_counters() -> Result<Reply> {
    let get = |a: &std::sync::atomic::AtomicI64| {
        Reply::Integer(a.load(std::sync::atomic::Ordering::Relaxed))
    };
    Ok(Reply::Array(vec![
        get(&SWAPDB_ONLY),
        get(&LOOP[0]),
        get(&LOOP[1]),
    ]))
}

/// `HOOKS.RMKIT_SUPPORTED id`: 1 if this server has the event kind `REDISMODULE_EVENT_<id>`.
#[rmkit::command(name = "hooks.rmkit_supported", flags = "")]
fn rmkit_supported(id: i64) -> Result<Reply> {
    let kind = u64::try_from(id)
        .ok()
        .and_then(EventKind::from_id)
        .ok_or_else(|| Error::new("no such event kind"))?;
    Ok(Reply::Integer(kind.supported().into()))
}
