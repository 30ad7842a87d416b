//! ACL users and authentication: module users ([`ModuleUser`]), the ACL users Redis holds
//! ([`AclUser`]), permission checks ([`User`]), authenticating the calling client
//! ([`Context::authenticate_as`], [`Context::authenticate_as_acl_user`]), closing a client
//! ([`Context::deauthenticate_and_close`]), the ACL log ([`Context::acl_log`]) and redacting
//! arguments from SLOWLOG and MONITOR ([`Context::redact_argument`]).
//!
//! What Redis owns cannot outlive what Redis allows: an [`AclUser`] borrows the [`Context`]
//! it was looked up in (an `ACL DELUSER` between two commands would leave it dangling), so
//! keeping one past the callback is a compile error. A [`ModuleUser`] is the module's own and
//! lives until dropped — and dropping it **disconnects every client authenticated as it**
//! (Redis's rule): keep it in a static for as long as clients may use it.
//!
//! ```no_run
//! use rmkit::prelude::*;
//! use rmkit::server::acl::ModuleUser;
//! use std::sync::Mutex;
//!
//! static ADMIN: Mutex<Option<ModuleUser>> = Mutex::new(None);
//!
//! #[rmkit::command(name = "mymod.login", flags = "no-auth")]
//! fn login(ctx: &Context) -> Result<Reply> {
//!     let mut admin = ADMIN.lock().unwrap();
//!     let user = match admin.as_mut() {
//!         Some(u) => u,
//!         None => admin.insert(ModuleUser::new(ctx, "admin", &["on", "allcommands", "allkeys"])?),
//!     };
//!     let id = ctx.authenticate_as(user, None)?;
//!     Ok(Reply::Integer(id as i64))
//! }
//! # fn main() {}
//! ```

use crate::ffi::client::UserHandle;
use crate::{Context, Error, RedisStr, Result};
use std::marker::PhantomData;

/// A user this module created (`RedisModule_CreateModuleUser`): not in `ACL LIST`, never
/// saved, authenticated into only by the module ([`Context::authenticate_as`]).
///
/// Dropping it frees it and **disconnects every client authenticated as it** (Redis's rule).
/// Drop it where the module holds the server lock: in a command, a timer or `on_unload!`.
pub struct ModuleUser {
    handle: UserHandle,
    name: String,
}

impl ModuleUser {
    /// A new module user `name` with `rules` applied in order (the words of `ACL SETUSER`:
    /// `on`, `>password`, `allcommands`, `+get`, `~keys:*`, `&channel`, ...). A new user is
    /// off and may do nothing until its rules say so. `ERR` naming the first rule Redis
    /// refuses.
    pub fn new(ctx: &Context, name: &str, rules: &[&str]) -> Result<ModuleUser> {
        let _ = ctx;
        let user = ModuleUser {
            handle: UserHandle::create(name),
            name: name.to_owned(),
        };
        for rule in rules {
            user.set_acl(ctx, rule)?;
        }
        Ok(user)
    }

    /// Applies one `ACL SETUSER` rule (`RedisModule_SetModuleUserACL`).
    pub fn set_acl(&self, ctx: &Context, rule: &str) -> Result<()> {
        let _ = ctx;
        if self.handle.set_acl(rule) {
            Ok(())
        } else {
            Err(Error::new(format!(
                "invalid ACL rule '{}' for module user '{}' (see ACL SETUSER)",
                crate::error::excerpt(rule.as_bytes()),
                self.name
            )))
        }
    }

    /// The user's name (what `ACL WHOAMI` answers to its clients).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An ACL user Redis holds (`ACL SETUSER`), looked up for permission checks
/// ([`Context::acl_user`], [`Context::current_acl_user`]). It borrows the context it was
/// looked up in: it cannot be kept past the callback.
///
/// ```compile_fail
/// // error: lifetime may not live long enough (the user borrows `ctx`)
/// fn keep(ctx: &rmkit::Context) -> rmkit::server::acl::AclUser<'static> {
///     ctx.current_acl_user().unwrap()
/// }
/// ```
pub struct AclUser<'c> {
    handle: UserHandle,
    _ctx: PhantomData<&'c Context>,
}

/// What a key check asks for ([`User::check_key`]); combine with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAccess(u32);

impl KeyAccess {
    /// Any access at all: the user may read or write the key (`%R~` or `%W~` or `~`).
    pub const ANY: KeyAccess = KeyAccess(0);
    /// Reading the key's value (`%R~`).
    pub const READ: KeyAccess = KeyAccess(1 << 4);
    /// Changing the key's value (`%W~`).
    pub const UPDATE: KeyAccess = KeyAccess(1 << 5);
    /// Adding to the key (`%W~`).
    pub const INSERT: KeyAccess = KeyAccess(1 << 6);
    /// Deleting from the key (`%W~`).
    pub const DELETE: KeyAccess = KeyAccess(1 << 7);
}

impl std::ops::BitOr for KeyAccess {
    type Output = KeyAccess;
    fn bitor(self, rhs: KeyAccess) -> KeyAccess {
        KeyAccess(self.0 | rhs.0)
    }
}

/// What a channel check asks for ([`User::check_channel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelAccess {
    /// `SUBSCRIBE channel`.
    Subscribe,
    /// `PUBLISH channel`.
    Publish,
    /// `PSUBSCRIBE pattern` (the pattern must be allowed literally).
    PatternSubscribe,
}

/// Why an entry goes into the ACL log ([`Context::acl_log`]); `ACL LOG` shows it as `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclLogReason {
    /// `auth`: an authentication failure.
    Auth,
    /// `command`: a command the user may not run.
    Command,
    /// `key`: a key the user may not access.
    Key,
    /// `channel`: a channel the user may not access.
    Channel,
}

mod sealed {
    pub trait Sealed {
        fn handle(&self) -> &crate::ffi::client::UserHandle;
    }
}

/// Permission checks, on a [`ModuleUser`] or an [`AclUser`]: `Ok(())` when allowed, else
/// `NOPERM ...` in Redis's words.
pub trait User: sealed::Sealed {
    /// Whether the user may run `args` (command name first, then its arguments: subcommands
    /// and keys count) (`RedisModule_ACLCheckCommandPermissions`).
    fn check_command(&self, args: &[RedisStr]) -> Result<()> {
        if args.is_empty() {
            return Err(Error::new("no command to check"));
        }
        if self.handle().check_command(args) {
            Ok(())
        } else {
            Err(Error::with_code(
                "NOPERM",
                "this user has no permissions to run this command",
            ))
        }
    }

    /// Whether the user may access `key` as `access` asks (`RedisModule_ACLCheckKeyPermissions`).
    fn check_key(&self, key: &RedisStr, access: KeyAccess) -> Result<()> {
        if self.handle().check_key(key, access.0) {
            Ok(())
        } else {
            Err(Error::with_code(
                "NOPERM",
                "this user has no permissions to access one of the keys used as arguments",
            ))
        }
    }

    /// Whether the user may use `channel` as `access` asks
    /// (`RedisModule_ACLCheckChannelPermissions`).
    fn check_channel(&self, channel: &RedisStr, access: ChannelAccess) -> Result<()> {
        let flags = match access {
            ChannelAccess::Subscribe => 1 << 2,
            ChannelAccess::Publish => 1 << 1,
            ChannelAccess::PatternSubscribe => (1 << 2) | 1,
        };
        if self.handle().check_channel(channel, flags) {
            Ok(())
        } else {
            Err(Error::with_code(
                "NOPERM",
                "this user has no permissions to access one of the channels used as arguments",
            ))
        }
    }
}

impl sealed::Sealed for ModuleUser {
    fn handle(&self) -> &UserHandle {
        &self.handle
    }
}
impl User for ModuleUser {}
impl sealed::Sealed for AclUser<'_> {
    fn handle(&self) -> &UserHandle {
        &self.handle
    }
}
impl User for AclUser<'_> {}

impl Context {
    /// The ACL user named `name`, or `None` if there is none.
    pub fn acl_user(&self, name: &RedisStr) -> Option<AclUser<'_>> {
        UserHandle::from_acl_name(name).map(|handle| AclUser {
            handle,
            _ctx: PhantomData,
        })
    }

    /// The ACL user the calling client is authenticated as; `ERR` where the callback has no
    /// client.
    pub fn current_acl_user(&self) -> Result<AclUser<'_>> {
        let name = self
            .raw()
            .current_user_name()
            .ok_or_else(|| Error::new("this context has no client, so no user"))?;
        self.acl_user(&name)
            .ok_or_else(|| Error::new("the calling client's user no longer exists"))
    }

    /// Authenticates the calling client as module user `user` and returns its client id.
    /// `on_change(client_id)` runs once when the client leaves that user (another `AUTH`,
    /// disconnection, the user freed); Redis forgets it if the module unloads. `ERR` if the
    /// user is off, or the context has no real client (a timer, an event, a thread).
    ///
    /// The client stays authenticated after the command: dropping `user` disconnects it.
    pub fn authenticate_as(&self, user: &ModuleUser, on_change: Option<fn(u64)>) -> Result<u64> {
        self.raw()
            .authenticate_with_user(&user.handle, on_change)
            .ok_or_else(|| {
                Error::new(format!(
                    "cannot authenticate as '{}': the user is off (add the rule 'on') or this \
                     context has no client",
                    user.name
                ))
            })
    }

    /// Authenticates the calling client as the ACL user `name` (as `AUTH` would, without a
    /// password) and returns its client id; `on_change` as in
    /// [`authenticate_as`](Self::authenticate_as). `ERR` if there is no such user, it is off,
    /// or the context has no real client.
    pub fn authenticate_as_acl_user(&self, name: &[u8], on_change: Option<fn(u64)>) -> Result<u64> {
        self.raw()
            .authenticate_with_acl_user(name, on_change)
            .ok_or_else(|| {
                Error::new(format!(
                    "cannot authenticate as '{}': no such ACL user, the user is off, or this \
                     context has no client",
                    crate::error::excerpt(name)
                ))
            })
    }

    /// Deauthenticates client `id` and closes its connection (asynchronously, after the
    /// current command: the calling client may name itself). `ERR` if no client has that id.
    pub fn deauthenticate_and_close(&self, id: u64) -> Result<()> {
        if self.raw().deauthenticate_and_close(id) {
            Ok(())
        } else {
            Err(Error::new(format!("no client with id {id}")))
        }
    }

    /// Hides argument `pos` of the current command (0 is the command name, so `pos` ≥ 1) from
    /// `SLOWLOG`, `MONITOR` and the ACL log: they show `(redacted)`. For secrets such as
    /// passwords. `ERR` if `pos` is out of range or the context has no command.
    pub fn redact_argument(&self, pos: usize) -> Result<()> {
        if pos >= 1 && self.raw().redact_argument(pos) {
            Ok(())
        } else {
            Err(Error::new(format!(
                "cannot redact argument {pos}: out of range (1 is the first argument)"
            )))
        }
    }

    /// Adds an entry to `ACL LOG` for `user` about `object` (a command name, key or
    /// channel), with context `module`.
    pub fn acl_log(&self, user: &impl User, object: &RedisStr, reason: AclLogReason) {
        let reason = match reason {
            AclLogReason::Auth => 0,
            AclLogReason::Command => 1,
            AclLogReason::Key => 2,
            AclLogReason::Channel => 3,
        };
        self.raw()
            .acl_add_log_entry(sealed::Sealed::handle(user), object, reason);
    }
}

/// What an authentication callback decided ([`Context::register_auth_callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The callback authenticated the client ([`Context::authenticate_as`] or
    /// [`Context::authenticate_as_acl_user`]): `AUTH` replies OK.
    Authenticated,
    /// The callback refuses: `AUTH` fails with `ERR <message>` (e.g. `"denied by policy"`; a
    /// leading `ERR ` is not repeated) and the failure goes to `ACL LOG`; no other callback
    /// or password check runs.
    Denied(String),
    /// Not this callback's user: the next module's callback, then Redis's own password check,
    /// decide.
    NotHandled,
}

/// A custom authentication callback: called for `AUTH user pass` and `HELLO ... AUTH user
/// pass` with the calling client's context.
pub type AuthCallback = fn(&Context, &RedisStr, &RedisStr) -> AuthOutcome;

const AUTH_OUTCOMES: usize = 4;
static AUTH_CALLBACKS: std::sync::Mutex<[Option<AuthCallback>; AUTH_OUTCOMES]> =
    std::sync::Mutex::new([None; AUTH_OUTCOMES]);

macro_rules! auth_slot {
    ($name:ident, $i:expr) => {
        fn $name(ctx: &Context, user: &RedisStr, pass: &RedisStr) -> crate::ffi::client::RawAuth {
            let f = AUTH_CALLBACKS.lock().unwrap_or_else(|e| e.into_inner())[$i];
            match f.map(|f| f(ctx, user, pass)) {
                Some(AuthOutcome::Authenticated) => crate::ffi::client::RawAuth::Handled,
                Some(AuthOutcome::Denied(m)) => crate::ffi::client::RawAuth::Denied(m),
                Some(AuthOutcome::NotHandled) | None => crate::ffi::client::RawAuth::NotHandled,
            }
        }
    };
}
auth_slot!(auth_slot0, 0);
auth_slot!(auth_slot1, 1);
auth_slot!(auth_slot2, 2);
auth_slot!(auth_slot3, 3);
const AUTH_SLOT_FNS: [crate::ffi::client::AuthFn; AUTH_OUTCOMES] =
    [auth_slot0, auth_slot1, auth_slot2, auth_slot3];

impl Context {
    /// Registers `callback` to decide `AUTH` attempts before Redis checks passwords
    /// (`RedisModule_RegisterAuthCallback`; callbacks of several modules run in turn, the
    /// latest first). Call it from [`on_load!`](crate::on_load!). Redis drops it when the module
    /// unloads. `ERR` naming the version needed on servers without custom authentication
    /// (Redis 7.0: it came in Redis 7.2 and Valkey 8), or past 4 callbacks.
    ///
    /// ```no_run
    /// use rmkit::prelude::*;
    /// use rmkit::server::acl::AuthOutcome;
    ///
    /// fn check(ctx: &Context, user: &RedisStr, pass: &RedisStr) -> AuthOutcome {
    ///     match (user.as_bytes(), pass.as_bytes()) {
    ///         (b"svc", b"token") => match ctx.authenticate_as_acl_user(b"svc", None) {
    ///             Ok(_) => AuthOutcome::Authenticated,
    ///             Err(e) => AuthOutcome::Denied(e.message().to_owned()),
    ///         },
    ///         (b"svc", _) => AuthOutcome::Denied("bad token".into()),
    ///         _ => AuthOutcome::NotHandled,
    ///     }
    /// }
    /// fn load(load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
    ///     load.context().register_auth_callback(check).map_err(|e| e.to_string())
    /// }
    /// rmkit::on_load!(load);
    /// # fn main() {}
    /// ```
    pub fn register_auth_callback(&self, callback: AuthCallback) -> Result<()> {
        if !self.raw().has_auth_callbacks() {
            return Err(Error::new(
                "custom authentication callbacks need Redis 7.2 or newer (or Valkey 8): this \
                 server has no RedisModule_RegisterAuthCallback",
            ));
        }
        let mut slots = AUTH_CALLBACKS.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = slots.iter().position(|s| s.is_none()) else {
            return Err(Error::new(
                "cannot register the auth callback: a module may have at most 4",
            ));
        };
        if !self.raw().register_auth_callback(AUTH_SLOT_FNS[i]) {
            return Err(Error::new(
                "cannot register the auth callback: a module may have at most 4",
            ));
        }
        slots[i] = Some(callback);
        Ok(())
    }
}

/// Forgets the registered callbacks (at load: Redis dropped those of a previous load).
pub(crate) fn reset_auth_callbacks() {
    *AUTH_CALLBACKS.lock().unwrap_or_else(|e| e.into_inner()) = [None; AUTH_OUTCOMES];
}
