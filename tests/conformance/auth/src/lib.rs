//! Port of Redis 7.0's `tests/modules/auth.c` (module name `testacl`): a module user
//! `global`, authenticating the caller as it or as an ACL user, counting user changes, and
//! redacting arguments.
#![forbid(unsafe_code)]

use rmkit::command::Rest;
use rmkit::prelude::*;
use rmkit::server::acl::ModuleUser;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

rmkit::module! { name: "testacl", version: 1 }

/// The module user (replaced by each `auth.createmoduleuser`, which disconnects the clients
/// authenticated as the old one).
static GLOBAL: Mutex<Option<ModuleUser>> = Mutex::new(None);
/// User changes seen since the last `auth.changecount`.
static CHANGES: AtomicI64 = AtomicI64::new(0);

fn user_changed(_client_id: u64) {
    CHANGES.fetch_add(1, Ordering::Relaxed);
}

fn unload() {
    GLOBAL.lock().unwrap_or_else(|e| e.into_inner()).take();
}
rmkit::on_unload!(unload);

/// `auth.createmoduleuser`: (re)creates the module user `global` with every permission.
#[rmkit::command(name = "auth.createmoduleuser", flags = "")]
fn create_module_user(ctx: &Context) -> Result<Reply> {
    let mut global = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    global.take();
    *global = Some(ModuleUser::new(
        ctx,
        "global",
        &["allcommands", "allkeys", "on"],
    )?);
    Ok(Reply::Ok)
}

/// `auth.authmoduleuser`: authenticates the caller as `global`; replies its client id.
#[rmkit::command(name = "auth.authmoduleuser", flags = "no-auth")]
fn auth_module_user(ctx: &Context) -> Result<Reply> {
    let global = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    let user = global
        .as_ref()
        .ok_or_else(|| Error::new("no module user yet: call auth.createmoduleuser first"))?;
    let id = ctx.authenticate_as(user, Some(user_changed))?;
    Ok(Reply::Integer(id as i64))
}

/// `auth.authrealuser name`: authenticates the caller as ACL user `name`; replies its client
/// id, or `Invalid user`.
#[rmkit::command(name = "auth.authrealuser", flags = "no-auth")]
fn auth_real_user(ctx: &Context, name: &RedisStr) -> Result<Reply> {
    match ctx.authenticate_as_acl_user(name.as_bytes(), Some(user_changed)) {
        Ok(id) => Ok(Reply::Integer(id as i64)),
        Err(_) => Err(Error::raw("Invalid user")),
    }
}

/// `auth.redact arg ...`: redacts every other argument, counting from the last; replies OK.
#[rmkit::command(name = "auth.redact", flags = "")]
fn redact(ctx: &Context, args: Rest) -> Result<Reply> {
    let argc = args.len() + 1;
    for pos in (1..argc).rev().step_by(2) {
        ctx.redact_argument(pos)?;
    }
    Ok(Reply::Ok)
}

/// `auth.changecount`: user changes since the last call (and resets the count).
#[rmkit::command(name = "auth.changecount", flags = "")]
fn change_count(_ctx: &Context) -> Result<Reply> {
    Ok(Reply::Integer(CHANGES.swap(0, Ordering::Relaxed)))
}
