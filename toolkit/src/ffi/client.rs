//! Clients, users and ACLs: the calls behind [`crate::server::client`] and
//! [`crate::server::acl`], and the owned `RedisModuleUser *` handle.

use super::{OK, RawCtx, RedisStr, RedisString, api, guard, has_api};
use redis_module::raw;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

/// `RedisModuleClientInfo` (version 1) as Redis fills it.
pub(crate) struct RawClientInfo {
    pub(crate) flags: u64,
    pub(crate) id: u64,
    pub(crate) addr: String,
    pub(crate) port: u16,
    pub(crate) db: u16,
}

impl RawCtx {
    /// `RedisModule_GetClientId` (0 when the context has no client).
    pub(crate) fn client_id(&self) -> u64 {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_GetClientId)(self.as_ptr()) }
    }

    /// `RedisModule_GetClientNameById` (`None`: no such client, or it has no name).
    pub(crate) fn client_name(&self, id: u64) -> Option<RedisString> {
        // SAFETY: a live context; the string is new and ours (no auto memory).
        let p = unsafe { api!(RedisModule_GetClientNameById)(self.as_ptr(), id) };
        // SAFETY: a fresh string we own.
        NonNull::new(p).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// `RedisModule_SetClientNameById`: `Err` with the errno's text (`ENOENT`: no such client,
    /// `EINVAL`: a name with spaces or newlines).
    pub(crate) fn set_client_name(&self, id: u64, name: &RedisStr) -> Result<(), String> {
        // SAFETY: a live string; Redis copies the name. On the main thread (a live context).
        let r = unsafe { api!(RedisModule_SetClientNameById)(id, name.as_ptr()) };
        if r == OK {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().to_string())
        }
    }

    /// `RedisModule_GetClientCertificate` (`None`: no TLS, or no client certificate).
    pub(crate) fn client_certificate(&self, id: u64) -> Option<RedisString> {
        // SAFETY: a live context; the string is new and ours (no auto memory).
        let p = unsafe { api!(RedisModule_GetClientCertificate)(self.as_ptr(), id) };
        // SAFETY: a fresh string we own.
        NonNull::new(p).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// `RedisModule_GetContextFlags`.
    pub(crate) fn context_flags(&self) -> u32 {
        // SAFETY: a live context.
        unsafe { api!(RedisModule_GetContextFlags)(self.as_ptr()) as u32 }
    }

    /// `RedisModule_GetCurrentUserName` (`None` without a client).
    pub(crate) fn current_user_name(&self) -> Option<RedisString> {
        // SAFETY: a live context; the string is new and ours (this toolkit never enables
        // auto memory).
        let p = unsafe { api!(RedisModule_GetCurrentUserName)(self.as_ptr()) };
        // SAFETY: a fresh string we own.
        NonNull::new(p).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// `RedisModule_GetClientUserNameById` (`None` for no such client).
    pub(crate) fn client_user_name(&self, id: u64) -> Option<RedisString> {
        // SAFETY: a live context; the string is new and ours.
        let p = unsafe { api!(RedisModule_GetClientUserNameById)(self.as_ptr(), id) };
        // SAFETY: a fresh string we own.
        NonNull::new(p).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// `RedisModule_GetClientInfoById` (`None` for no such client).
    pub(crate) fn client_info(&self, id: u64) -> Option<RawClientInfo> {
        let mut ci = raw::RedisModuleClientInfo {
            version: 1,
            flags: 0,
            id: 0,
            addr: [0; 46],
            port: 0,
            db: 0,
        };
        // SAFETY: `ci` is a version-1 struct Redis fills in place.
        let r = unsafe {
            api!(RedisModule_GetClientInfoById)(
                (&mut ci as *mut raw::RedisModuleClientInfo).cast(),
                id,
            )
        };
        if r != OK {
            return None;
        }
        let addr: Vec<u8> = ci
            .addr
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        Some(RawClientInfo {
            flags: ci.flags,
            id: ci.id,
            addr: String::from_utf8_lossy(&addr).into_owned(),
            port: ci.port,
            db: ci.db,
        })
    }

    /// `RedisModule_GetServerVersion` (`None` where the server lacks it: Redis 7.0).
    pub(crate) fn server_version(&self) -> Option<u32> {
        if !has_api!(RedisModule_GetServerVersion) {
            return None;
        }
        // SAFETY: takes no arguments.
        Some(unsafe { api!(RedisModule_GetServerVersion)() } as u32)
    }

    /// `RedisModule_GetServerInfo` field as text.
    pub(crate) fn server_info_str(&self, section: &str, field: &str) -> Option<String> {
        let (section, field) = (super::cstring_lossy(section), super::cstring_lossy(field));
        // SAFETY: a live context; the field's C string is copied before the info object is
        // freed.
        unsafe {
            let info = api!(RedisModule_GetServerInfo)(self.as_ptr(), section.as_ptr());
            if info.is_null() {
                return None;
            }
            let p = api!(RedisModule_ServerInfoGetFieldC)(info, field.as_ptr());
            let out =
                (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
            api!(RedisModule_FreeServerInfo)(self.as_ptr(), info);
            out
        }
    }

    /// `RedisModule_AuthenticateClientWithUser`: the client id, or `None` (disabled user, or
    /// a context without a real client).
    pub(crate) fn authenticate_with_user(
        &self,
        user: &UserHandle,
        on_change: Option<fn(u64)>,
    ) -> Option<u64> {
        let mut id = 0u64;
        let (cb, privdata) = callback(on_change);
        // SAFETY: a live context and user; `privdata` is a fn pointer `user_changed` turns
        // back; Redis drops the callback when our module unloads.
        let r = unsafe {
            api!(RedisModule_AuthenticateClientWithUser)(
                self.as_ptr(),
                user.ptr.as_ptr(),
                cb,
                privdata,
                &mut id,
            )
        };
        (r == OK).then_some(id)
    }

    /// `RedisModule_AuthenticateClientWithACLUser`.
    pub(crate) fn authenticate_with_acl_user(
        &self,
        name: &[u8],
        on_change: Option<fn(u64)>,
    ) -> Option<u64> {
        let mut id = 0u64;
        let (cb, privdata) = callback(on_change);
        // SAFETY: a live context; `name` is valid for its length; as above for the callback.
        let r = unsafe {
            api!(RedisModule_AuthenticateClientWithACLUser)(
                self.as_ptr(),
                name.as_ptr().cast(),
                name.len(),
                cb,
                privdata,
                &mut id,
            )
        };
        (r == OK).then_some(id)
    }

    /// `RedisModule_DeauthenticateAndCloseClient`.
    pub(crate) fn deauthenticate_and_close(&self, id: u64) -> bool {
        // SAFETY: a live context; Redis checks the id.
        unsafe { api!(RedisModule_DeauthenticateAndCloseClient)(self.as_ptr(), id) == OK }
    }

    /// `RedisModule_RedactClientCommandArgument`.
    pub(crate) fn redact_argument(&self, pos: usize) -> bool {
        let Ok(pos) = c_int::try_from(pos) else {
            return false;
        };
        // SAFETY: a live context; Redis checks the position.
        unsafe { api!(RedisModule_RedactClientCommandArgument)(self.as_ptr(), pos) == OK }
    }

    /// `RedisModule_ACLAddLogEntry`.
    pub(crate) fn acl_add_log_entry(&self, user: &UserHandle, object: &RedisStr, reason: u32) {
        // SAFETY: a live context, user and string; Redis copies what it keeps.
        unsafe {
            api!(RedisModule_ACLAddLogEntry)(
                self.as_ptr(),
                user.ptr.as_ptr(),
                object.as_ptr(),
                reason as _,
            )
        }
    }
}

fn callback(on_change: Option<fn(u64)>) -> (raw::RedisModuleUserChangedFunc, *mut c_void) {
    match on_change {
        Some(f) => (Some(user_changed), f as *mut c_void),
        None => (None, std::ptr::null_mut()),
    }
}

extern "C" fn user_changed(id: u64, privdata: *mut c_void) {
    // SAFETY: `privdata` is the `fn(u64)` that `callback` stored (same size as a pointer).
    let f: fn(u64) = unsafe { std::mem::transmute::<*mut c_void, fn(u64)>(privdata) };
    guard("the user-changed callback", || f(id));
}

/// An owned `RedisModuleUser *` (freed with `RedisModule_FreeModuleUser` on drop): a module
/// user this module created, or a wrapper Redis made around an ACL user.
#[doc(hidden)]
pub struct UserHandle {
    ptr: NonNull<raw::RedisModuleUser>,
}

impl UserHandle {
    /// `RedisModule_CreateModuleUser`.
    pub(crate) fn create(name: &str) -> UserHandle {
        let name = super::cstring_lossy(name);
        // SAFETY: a NUL-terminated name Redis copies.
        let p = unsafe { api!(RedisModule_CreateModuleUser)(name.as_ptr()) };
        UserHandle {
            ptr: NonNull::new(p).expect("RedisModule_CreateModuleUser returned NULL"),
        }
    }

    /// `RedisModule_GetModuleUserFromUserName` (`None` for no such ACL user).
    pub(crate) fn from_acl_name(name: &RedisStr) -> Option<UserHandle> {
        // SAFETY: a live string; the result is ours to free.
        let p = unsafe { api!(RedisModule_GetModuleUserFromUserName)(name.as_ptr()) };
        NonNull::new(p).map(|ptr| UserHandle { ptr })
    }

    /// `RedisModule_SetModuleUserACL`.
    pub(crate) fn set_acl(&self, op: &str) -> bool {
        let op = super::cstring_lossy(op);
        // SAFETY: a live user and a NUL-terminated rule.
        unsafe { api!(RedisModule_SetModuleUserACL)(self.ptr.as_ptr(), op.as_ptr()) == OK }
    }

    /// `RedisModule_ACLCheckCommandPermissions` on `argv` (command name first).
    pub(crate) fn check_command(&self, argv: &[RedisStr]) -> bool {
        let Ok(argc) = c_int::try_from(argv.len()) else {
            return false;
        };
        // SAFETY: RedisStr is a transparent string pointer, so `argv` is the array the C API
        // takes; Redis only reads it.
        unsafe {
            api!(RedisModule_ACLCheckCommandPermissions)(
                self.ptr.as_ptr(),
                argv.as_ptr() as *mut *mut raw::RedisModuleString,
                argc,
            ) == OK
        }
    }

    /// `RedisModule_ACLCheckKeyPermissions` with `REDISMODULE_CMD_KEY_*` flags.
    pub(crate) fn check_key(&self, key: &RedisStr, flags: u32) -> bool {
        // SAFETY: a live user and string.
        unsafe {
            api!(RedisModule_ACLCheckKeyPermissions)(
                self.ptr.as_ptr(),
                key.as_ptr(),
                flags as c_int,
            ) == OK
        }
    }

    /// `RedisModule_ACLCheckChannelPermissions` with `REDISMODULE_CMD_CHANNEL_*` flags.
    pub(crate) fn check_channel(&self, channel: &RedisStr, flags: u32) -> bool {
        // SAFETY: a live user and string.
        unsafe {
            api!(RedisModule_ACLCheckChannelPermissions)(
                self.ptr.as_ptr(),
                channel.as_ptr(),
                flags as c_int,
            ) == OK
        }
    }
}

impl Drop for UserHandle {
    fn drop(&mut self) {
        // SAFETY: we own the handle; for a module user this also disconnects its clients.
        unsafe { api!(RedisModule_FreeModuleUser)(self.ptr.as_ptr()) };
    }
}

// SAFETY: a RedisModuleUser is plain data Redis reads only under its lock; every call on a
// handle is made where the caller holds the lock (the public API asks for a `&Context`).
unsafe impl Send for UserHandle {}

/// What an auth callback decided (see `crate::server::acl::AuthOutcome`), in C terms.
pub(crate) enum RawAuth {
    Handled,
    Denied(String),
    NotHandled,
}

/// An auth callback as the topic module stores it.
pub(crate) type AuthFn = fn(&crate::Context, &RedisStr, &RedisStr) -> RawAuth;

/// How many auth callbacks one module may register.
pub(crate) const AUTH_SLOTS: usize = 4;
static AUTH_FNS: [std::sync::atomic::AtomicPtr<()>; AUTH_SLOTS] =
    [const { std::sync::atomic::AtomicPtr::new(std::ptr::null_mut()) }; AUTH_SLOTS];

extern "C" fn auth_trampoline<const I: usize>(
    ctx: *mut raw::RedisModuleCtx,
    username: *mut raw::RedisModuleString,
    password: *mut raw::RedisModuleString,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    const NOT_HANDLED: c_int = raw::REDISMODULE_AUTH_NOT_HANDLED as c_int;
    const HANDLED: c_int = raw::REDISMODULE_AUTH_HANDLED as c_int;
    let f = AUTH_FNS[I].load(std::sync::atomic::Ordering::Acquire);
    if f.is_null() || ctx.is_null() || username.is_null() || password.is_null() {
        return NOT_HANDLED;
    }
    // SAFETY: only `register_auth_callback` stores here, and only `AuthFn` pointers.
    let f: AuthFn = unsafe { std::mem::transmute::<*mut (), AuthFn>(f) };
    // SAFETY: Redis passes a live context and strings for the duration of this call.
    let (ctx, user, pass) = unsafe {
        (
            crate::Context::new(RawCtx::from_raw(ctx)),
            RedisStr::from_raw_ref(&username),
            RedisStr::from_raw_ref(&password),
        )
    };
    let outcome = guard("an auth callback", || f(&ctx, user, pass)).unwrap_or_else(|| {
        RawAuth::Denied(
            "ERR the module's authentication callback failed (see the server log)".into(),
        )
    });
    match outcome {
        RawAuth::Handled => HANDLED,
        RawAuth::NotHandled => NOT_HANDLED,
        RawAuth::Denied(msg) => {
            if !err.is_null() {
                // The server sends `ERR <msg>` itself.
                let msg = msg.strip_prefix("ERR ").unwrap_or(&msg);
                // SAFETY: Redis reads the error string and frees it (it owns what we pass).
                unsafe { *err = RedisString::new(msg.as_bytes()).into_raw() };
            }
            HANDLED
        }
    }
}

const AUTH_TRAMPOLINES: [raw::RedisModuleAuthCallback; AUTH_SLOTS] = [
    Some(auth_trampoline::<0>),
    Some(auth_trampoline::<1>),
    Some(auth_trampoline::<2>),
    Some(auth_trampoline::<3>),
];

impl RawCtx {
    /// Whether the server has `RedisModule_RegisterAuthCallback` (Redis 7.2+, Valkey 8).
    pub(crate) fn has_auth_callbacks(&self) -> bool {
        has_api!(RedisModule_RegisterAuthCallback)
    }

    /// `RedisModule_RegisterAuthCallback` in a free slot; `false` if all are taken.
    pub(crate) fn register_auth_callback(&self, f: AuthFn) -> bool {
        let Some(slot) = super::claim_slot(&AUTH_FNS, f as *mut ()) else {
            return false;
        };
        // SAFETY: a live context; the trampoline lives as long as the image and Redis drops
        // the callback when the module unloads.
        unsafe { api!(RedisModule_RegisterAuthCallback)(self.as_ptr(), AUTH_TRAMPOLINES[slot]) };
        true
    }
}

/// Frees every auth slot (at load: Redis dropped the callbacks of a previous load).
pub(crate) fn reset_auth() {
    for s in &AUTH_FNS {
        s.store(std::ptr::null_mut(), std::sync::atomic::Ordering::Release);
    }
}

// The topic modules spell these bits out (they never name `raw`); the header must agree.
const _: () = {
    assert!(raw::REDISMODULE_CTX_FLAGS_LUA == 1 << 0);
    assert!(raw::REDISMODULE_CTX_FLAGS_SLAVE == 1 << 3);
    assert!(raw::REDISMODULE_CTX_FLAGS_OOM == 1 << 10);
    assert!(raw::REDISMODULE_CTX_FLAGS_LOADING == 1 << 13);
    assert!(raw::REDISMODULE_CTX_FLAGS_DENY_BLOCKING == 1 << 21);
    assert!(raw::REDISMODULE_CTX_FLAGS_RESP3 == 1 << 22);
    assert!(raw::REDISMODULE_CTX_FLAGS_ASYNC_LOADING == 1 << 23);
    assert!(raw::REDISMODULE_CLIENTINFO_FLAG_SSL == 1);
    assert!(raw::REDISMODULE_CLIENTINFO_FLAG_MULTI == 32);
    assert!(raw::REDISMODULE_CMD_KEY_ACCESS == 1 << 4);
    assert!(raw::REDISMODULE_CMD_KEY_UPDATE == 1 << 5);
    assert!(raw::REDISMODULE_CMD_KEY_INSERT == 1 << 6);
    assert!(raw::REDISMODULE_CMD_KEY_DELETE == 1 << 7);
    assert!(raw::REDISMODULE_CMD_CHANNEL_PATTERN == 1);
    assert!(raw::REDISMODULE_CMD_CHANNEL_PUBLISH == 1 << 1);
    assert!(raw::REDISMODULE_CMD_CHANNEL_SUBSCRIBE == 1 << 2);
    assert!(raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_AUTH == 0);
    assert!(raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_CMD == 1);
    assert!(raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_KEY == 2);
    assert!(raw::RedisModuleACLLogEntryReason_REDISMODULE_ACL_LOG_CHANNEL == 3);
};
