//! Port of Redis 7.0's `tests/modules/keyspace_events.c` (module `testkeyspace`): records the
//! keys of `loaded` and module (`d`) notifications, writes to the keyspace from inside
//! notifications (`del` of `K` deletes `K_copy`, counting `multi`/`lua` when nested in a
//! transaction or script; an expiry increments `testkeyspace:expired`), and the commands that
//! drive it: `KEYSPACE.NOTIFY`, `KEYSPACE.IS_MODULE_KEY_NOTIFIED`, `KEYSPACE.IS_KEY_LOADED`,
//! `KEYSPACE.DEL_KEY_COPY`, `KEYSPACE.INCR_CASE1..3`.
#![forbid(unsafe_code)]

use rmkit::call::CallOptions;
use rmkit::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;

rmkit::module! { name: "testkeyspace", version: 1 }

/// Keys seen by `loaded` notifications.
static LOADED: Mutex<Option<HashMap<Vec<u8>, ()>>> = Mutex::new(None);
/// Keys seen by module (`d`) notifications.
static MODULE: Mutex<Option<HashMap<Vec<u8>, ()>>> = Mutex::new(None);

fn remember(log: &Mutex<Option<HashMap<Vec<u8>, ()>>>, key: &RedisStr) {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    log.get_or_insert_with(HashMap::new)
        .insert(key.as_bytes().to_vec(), ());
}

fn seen(log: &Mutex<Option<HashMap<Vec<u8>, ()>>>, key: &RedisStr) -> Reply {
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let hit = log.as_ref().is_some_and(|m| m.contains_key(key.as_bytes()));
    Reply::Array(vec![
        Reply::Integer(hit.into()),
        if hit {
            Reply::Bulk(key.as_bytes().to_vec())
        } else {
            Reply::Null
        },
    ])
}

/// `RedisModule_Call` with `!` (replicated).
fn replicated() -> CallOptions {
    CallOptions {
        replicate: true,
        ..CallOptions::default()
    }
}

fn on_loaded(_ctx: &Context, event: &str, key: &RedisStr) {
    if event == "loaded" {
        remember(&LOADED, key);
    }
}
rmkit::on_keyspace_event!(&[Notify::Loaded], on_loaded);

fn on_generic(ctx: &Context, event: &str, key: &RedisStr) {
    if event != "del" {
        return;
    }
    let mut copy = key.as_bytes().to_vec();
    copy.extend_from_slice(b"_copy");
    // Errors are ignored, as the C module does.
    let _ = ctx.call_with(replicated(), "DEL", &[&copy]);
    if ctx.flags().lua() {
        let _ = ctx.call("INCR", &[b"lua"]);
    }
    if ctx.flags().multi() {
        let _ = ctx.call("INCR", &[b"multi"]);
    }
}
rmkit::on_keyspace_event!(&[Notify::Generic], on_generic);

fn on_expired(ctx: &Context, _event: &str, _key: &RedisStr) {
    let _ = ctx.call_with(replicated(), "INCR", &[b"testkeyspace:expired"]);
}
rmkit::on_keyspace_event!(&[Notify::Expired], on_expired);

fn on_module(_ctx: &Context, _event: &str, key: &RedisStr) {
    remember(&MODULE, key);
}
rmkit::on_keyspace_event!(&[Notify::Module], on_module);

/// Fires a module (`d`) notification `notify` on `key`; replies nil.
#[rmkit::command(name = "keyspace.notify", flags = "")]
fn notify(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    ctx.notify_keyspace_event(Notify::Module, "notify", key);
    Ok(Reply::Null)
}

/// `[1, key]` if a module notification came for `key`, else `[0, nil]`.
#[rmkit::command(name = "keyspace.is_module_key_notified", flags = "")]
fn is_module_key_notified(key: &RedisStr) -> Result<Reply> {
    Ok(seen(&MODULE, key))
}

/// `[1, key]` if `key` was loaded from an RDB, else `[0, nil]`.
#[rmkit::command(name = "keyspace.is_key_loaded", flags = "")]
fn is_key_loaded(key: &RedisStr) -> Result<Reply> {
    Ok(seen(&LOADED, key))
}

/// `DEL key`, replicated (the notification handler then deletes `key_copy`).
#[rmkit::command(name = "keyspace.del_key_copy", flags = "write")]
fn del_key_copy(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    Ok(reply_of(ctx.call_with(
        replicated(),
        "DEL",
        &[key.as_bytes()],
    )))
}

fn reply_of(r: Result<rmkit::call::CallReply>) -> Reply {
    r.map(Reply::from).unwrap_or_else(Reply::Error)
}

/// `INCR key`, replicated by the call (`!`).
#[rmkit::command(name = "keyspace.incr_case1", flags = "write")]
fn incr_case1(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    Ok(reply_of(ctx.call_with(
        replicated(),
        "INCR",
        &[key.as_bytes()],
    )))
}

/// `INCR key`, replicated with `replicate`.
#[rmkit::command(name = "keyspace.incr_case2", flags = "write")]
fn incr_case2(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    let reply = reply_of(ctx.call("INCR", &[key.as_bytes()]));
    ctx.replicate("INCR", &[key.as_bytes()])?;
    Ok(reply)
}

/// `INCR key`, replicated verbatim.
#[rmkit::command(name = "keyspace.incr_case3", flags = "write")]
fn incr_case3(ctx: &Context, key: &RedisStr) -> Result<Reply> {
    let reply = reply_of(ctx.call("INCR", &[key.as_bytes()]));
    ctx.replicate_verbatim();
    Ok(reply)
}
