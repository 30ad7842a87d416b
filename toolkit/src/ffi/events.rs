//! Keyspace notifications and server events: subscribing, and the dispatchers Redis calls.

use super::{RawCtx, RedisStr, api, guard, has_api};
use crate::Context;
use crate::server::events::{
    ClientInfo, EventKind, KEYSPACE_HANDLERS, KeyRemoval, LoadSource, ReplicationInfo,
    SERVER_EVENT_HANDLERS, SaveKind, ServerEvent,
};
use redis_module::raw;
use std::ffi::{CStr, c_char, c_int, c_void};

/// The keyspace notification classes this server knows (`RedisModule_GetKeyspaceNotificationFlagsAll`;
/// a server without it knows the classes of Redis 6.0).
pub(crate) fn keyspace_classes_supported() -> i32 {
    if has_api!(RedisModule_GetKeyspaceNotificationFlagsAll) {
        // SAFETY: a plain query of the server, callable at any time after init.
        unsafe { api!(RedisModule_GetKeyspaceNotificationFlagsAll)() }
    } else {
        raw::REDISMODULE_NOTIFY_ALL | raw::REDISMODULE_NOTIFY_KEY_MISS
    }
}

/// Whether the server knows event `id` (`RedisModule_IsSubEventSupported` of its first
/// sub-event). Events without sub-events (shutdown, cron, swapdb) report none as supported:
/// for them the subscription's own answer decides.
pub(crate) fn event_supported(id: u64) -> bool {
    if matches!(
        id,
        raw::REDISMODULE_EVENT_SHUTDOWN
            | raw::REDISMODULE_EVENT_CRON_LOOP
            | raw::REDISMODULE_EVENT_SWAPDB
    ) {
        return true;
    }
    if !has_api!(RedisModule_IsSubEventSupported) {
        return id <= raw::REDISMODULE_EVENT_SWAPDB;
    }
    let event = raw::RedisModuleEvent { id, dataver: 1 };
    // SAFETY: a plain query of the server with a by-value event.
    unsafe { api!(RedisModule_IsSubEventSupported)(event, 0) != 0 }
}

/// Subscribes the dispatchers to what the declared handlers ask for.
pub(crate) fn subscribe(ctx: &RawCtx) -> Result<(), String> {
    let ctx = ctx.as_ptr();
    let mask = KEYSPACE_HANDLERS.iter().fold(0, |m, h| m | h.mask);
    if mask != 0 {
        let unknown = mask & !keyspace_classes_supported();
        if unknown != 0 {
            return Err(format!(
                "this server does not know the keyspace notification classes 0x{unknown:x} \
                 (a newer Redis or Valkey is needed); subscribe to fewer classes"
            ));
        }
        // SAFETY: valid load context; the dispatcher is a plain function of this image.
        let r = unsafe {
            api!(RedisModule_SubscribeToKeyspaceEvents)(ctx, mask, Some(dispatch_keyspace))
        };
        if r != raw::REDISMODULE_OK as c_int {
            return Err("RedisModule_SubscribeToKeyspaceEvents failed".into());
        }
    }
    let kinds = SERVER_EVENT_HANDLERS.iter().fold(0u64, |m, h| m | h.kinds);
    let every = EventKind::ALL.iter().chain([&EventKind::Key]);
    for kind in every.filter(|k| kinds & (1 << k.id()) != 0) {
        let id = kind.id();
        let needs = if *kind == EventKind::Key {
            "Redis 7.2+ or Valkey"
        } else {
            "a newer Redis or Valkey"
        };
        if !event_supported(id) {
            return Err(format!(
                "this server does not support the server event {kind:?} (REDISMODULE_EVENT id \
                 {id}); {needs} is needed, or drop EventKind::{kind:?} from on_server_event!"
            ));
        }
        let event = raw::RedisModuleEvent { id, dataver: 1 };
        // SAFETY: valid load context; a plain function of this image.
        let r =
            unsafe { api!(RedisModule_SubscribeToServerEvent)(ctx, event, Some(dispatch_server)) };
        if r != raw::REDISMODULE_OK as c_int {
            return Err(format!(
                "RedisModule_SubscribeToServerEvent({kind:?}) failed"
            ));
        }
    }
    Ok(())
}

unsafe extern "C" fn dispatch_keyspace(
    ctx: *mut raw::RedisModuleCtx,
    kind: c_int,
    event: *const c_char,
    key: *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: Redis passes a valid context, a NUL-terminated event name and a live key.
    let (ctx, event, key) = unsafe {
        (
            Context::new(RawCtx::from_raw(ctx)),
            CStr::from_ptr(event),
            RedisStr::from_raw_ref(&key),
        )
    };
    let event = event.to_str().unwrap_or("?");
    for h in KEYSPACE_HANDLERS.iter().filter(|h| h.mask & kind != 0) {
        guard("keyspace event handler", || (h.handler)(&ctx, event, key));
    }
    raw::REDISMODULE_OK as c_int
}

/// An owned copy of a C string Redis passed (empty for NULL).
///
/// # Safety
/// `p` is NULL or NUL-terminated and live for the call.
unsafe fn owned(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: per the contract above.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// The typed event of `(id, subevent, data)`, or `None` for one this toolkit does not know.
///
/// # Safety
/// `data` is what Redis passes with event `id` (the structure documented for it, or NULL).
unsafe fn decode(id: u64, sub: u64, data: *mut c_void) -> Option<ServerEvent> {
    use ServerEvent as E;
    Some(match id {
        raw::REDISMODULE_EVENT_REPLICATION_ROLE_CHANGED => {
            // SAFETY: this event passes a RedisModuleReplicationInfo.
            let ri = unsafe { &*(data as *const raw::RedisModuleReplicationInfo) };
            let master = sub == raw::REDISMODULE_EVENT_REPLROLECHANGED_NOW_MASTER;
            // SAFETY: the strings are NULL or NUL-terminated for the call.
            let info = unsafe {
                ReplicationInfo {
                    master: ri.master != 0,
                    master_host: (!ri.masterhost.is_null()).then(|| owned(ri.masterhost)),
                    master_port: ri.masterport,
                    replid1: owned(ri.replid1),
                    replid2: owned(ri.replid2),
                    repl1_offset: ri.repl1_offset,
                    repl2_offset: ri.repl2_offset,
                }
            };
            if master {
                E::BecameMaster(info)
            } else {
                E::BecameReplica(info)
            }
        }
        raw::REDISMODULE_EVENT_PERSISTENCE => match sub {
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_RDB_START => E::PersistenceStarted(SaveKind::Rdb),
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_AOF_START => E::PersistenceStarted(SaveKind::Aof),
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_RDB_START => {
                E::PersistenceStarted(SaveKind::SyncRdb)
            }
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_AOF_START => {
                E::PersistenceStarted(SaveKind::SyncAof)
            }
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_ENDED => E::PersistenceEnded,
            raw::REDISMODULE_SUBEVENT_PERSISTENCE_FAILED => E::PersistenceFailed,
            _ => return None,
        },
        raw::REDISMODULE_EVENT_FLUSHDB => {
            // SAFETY: this event passes a RedisModuleFlushInfo.
            let db = unsafe { (*(data as *const raw::RedisModuleFlushInfo)).dbnum };
            if sub == raw::REDISMODULE_SUBEVENT_FLUSHDB_START {
                E::FlushStart { db }
            } else {
                E::FlushEnd { db }
            }
        }
        raw::REDISMODULE_EVENT_LOADING => match sub {
            raw::REDISMODULE_SUBEVENT_LOADING_RDB_START => E::LoadingStarted(LoadSource::Rdb),
            raw::REDISMODULE_SUBEVENT_LOADING_AOF_START => E::LoadingStarted(LoadSource::Aof),
            raw::REDISMODULE_SUBEVENT_LOADING_REPL_START => {
                E::LoadingStarted(LoadSource::Replication)
            }
            raw::REDISMODULE_SUBEVENT_LOADING_ENDED => E::LoadingEnded,
            raw::REDISMODULE_SUBEVENT_LOADING_FAILED => E::LoadingFailed,
            _ => return None,
        },
        raw::REDISMODULE_EVENT_CLIENT_CHANGE => {
            // SAFETY: this event passes a RedisModuleClientInfo.
            let ci = unsafe { &*(data as *const raw::RedisModuleClientInfo) };
            // SAFETY: `addr` is a NUL-terminated array inside the structure.
            let addr = unsafe { owned(ci.addr.as_ptr()) };
            let info = ClientInfo {
                id: ci.id,
                addr,
                port: ci.port,
                db: ci.db,
                flags: ci.flags,
            };
            if sub == raw::REDISMODULE_SUBEVENT_CLIENT_CHANGE_CONNECTED {
                E::ClientConnected(info)
            } else {
                E::ClientDisconnected(info)
            }
        }
        raw::REDISMODULE_EVENT_SHUTDOWN => E::Shutdown,
        raw::REDISMODULE_EVENT_REPLICA_CHANGE => {
            if sub == raw::REDISMODULE_SUBEVENT_REPLICA_CHANGE_ONLINE {
                E::ReplicaOnline
            } else {
                E::ReplicaOffline
            }
        }
        raw::REDISMODULE_EVENT_MASTER_LINK_CHANGE => {
            if sub == raw::REDISMODULE_SUBEVENT_MASTER_LINK_UP {
                E::MasterLinkUp
            } else {
                E::MasterLinkDown
            }
        }
        raw::REDISMODULE_EVENT_CRON_LOOP => {
            // SAFETY: this event passes a RedisModuleCronLoop.
            let hz = unsafe { (*(data as *const raw::RedisModuleCronLoopInfo)).hz };
            E::Cron { hz }
        }
        raw::REDISMODULE_EVENT_MODULE_CHANGE => {
            // SAFETY: this event passes a RedisModuleModuleChange with a live name.
            let (name, version) = unsafe {
                let mc = &*(data as *const raw::RedisModuleModuleChange);
                (owned(mc.module_name), mc.module_version)
            };
            if sub == raw::REDISMODULE_SUBEVENT_MODULE_LOADED {
                E::ModuleLoaded { name, version }
            } else {
                E::ModuleUnloaded { name, version }
            }
        }
        raw::REDISMODULE_EVENT_LOADING_PROGRESS => {
            // SAFETY: this event passes a RedisModuleLoadingProgress.
            let lp = unsafe { &*(data as *const raw::RedisModuleLoadingProgressInfo) };
            let source = if sub == raw::REDISMODULE_SUBEVENT_LOADING_PROGRESS_RDB {
                LoadSource::Rdb
            } else {
                LoadSource::Aof
            };
            E::LoadingProgress {
                source,
                hz: lp.hz,
                progress: lp.progress,
            }
        }
        raw::REDISMODULE_EVENT_SWAPDB => {
            // SAFETY: this event passes a RedisModuleSwapDbInfo.
            let si = unsafe { &*(data as *const raw::RedisModuleSwapDbInfo) };
            E::SwapDb {
                db1: si.dbnum_first,
                db2: si.dbnum_second,
            }
        }
        raw::REDISMODULE_EVENT_FORK_CHILD => {
            if sub == raw::REDISMODULE_SUBEVENT_FORK_CHILD_BORN {
                E::ForkChildBorn
            } else {
                E::ForkChildDied
            }
        }
        raw::REDISMODULE_EVENT_REPL_ASYNC_LOAD => match sub {
            raw::REDISMODULE_SUBEVENT_REPL_ASYNC_LOAD_STARTED => E::ReplAsyncLoadStarted,
            raw::REDISMODULE_SUBEVENT_REPL_ASYNC_LOAD_ABORTED => E::ReplAsyncLoadAborted,
            _ => E::ReplAsyncLoadCompleted,
        },
        raw::REDISMODULE_EVENT_EVENTLOOP => {
            if sub == raw::REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP {
                E::BeforeSleep
            } else {
                E::AfterSleep
            }
        }
        raw::REDISMODULE_EVENT_CONFIG => {
            // SAFETY: this event passes a RedisModuleConfigChange with `num_changes` names.
            let names = unsafe {
                let cc = &*(data as *const raw::RedisModuleConfigChange);
                (0..cc.num_changes as usize)
                    .map(|i| owned(*cc.config_names.add(i)))
                    .collect()
            };
            E::ConfigChanged(names)
        }
        raw::REDISMODULE_EVENT_KEY if has_api!(RedisModule_GetKeyNameFromModuleKey) => {
            // SAFETY: this event passes a RedisModuleKeyInfo with a key open for the call;
            // its name is a live string whose bytes are copied before returning.
            let key = unsafe {
                let ki = &*(data as *const raw::RedisModuleKeyInfo);
                let name = api!(RedisModule_GetKeyNameFromModuleKey)(ki.key);
                let mut len = 0;
                let p = api!(RedisModule_StringPtrLen)(name, &mut len);
                std::slice::from_raw_parts(p as *const u8, len).to_vec()
            };
            let reason = match sub {
                raw::REDISMODULE_SUBEVENT_KEY_DELETED => KeyRemoval::Deleted,
                raw::REDISMODULE_SUBEVENT_KEY_EXPIRED => KeyRemoval::Expired,
                raw::REDISMODULE_SUBEVENT_KEY_EVICTED => KeyRemoval::Evicted,
                raw::REDISMODULE_SUBEVENT_KEY_OVERWRITTEN => KeyRemoval::Overwritten,
                _ => return None,
            };
            E::KeyRemoved { key, reason }
        }
        _ => return None,
    })
}

unsafe extern "C" fn dispatch_server(
    ctx: *mut raw::RedisModuleCtx,
    eid: raw::RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    guard("server event", || {
        // SAFETY: Redis passes the data documented for `eid`.
        let Some(event) = (unsafe { decode(eid.id, subevent, data) }) else {
            return;
        };
        // SAFETY: Redis passes a valid context.
        let ctx = Context::new(unsafe { RawCtx::from_raw(ctx) });
        let bit = 1u64 << eid.id;
        for h in SERVER_EVENT_HANDLERS.iter().filter(|h| h.kinds & bit != 0) {
            let event = event.clone();
            guard("server event handler", || (h.handler)(&ctx, event));
        }
    });
}
