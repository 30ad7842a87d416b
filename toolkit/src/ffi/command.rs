//! Commands: the monomorphised `extern "C"` trampoline Redis calls, and registration
//! (`CreateCommand`, `CreateSubcommand`, `SetCommandInfo`, `SetCommandACLCategories`).

use super::{OK, RawCtx, RedisStr, api, cstring_lossy, guard, has_api};
use crate::command::docs::{
    Arg, ArgKind, BeginSearch, FindKeys, KeyFlags, KeySpec, key_spec_flags,
};
use crate::command::{Handler, arity_ok};
use crate::{Context, Error};
use redis_module::raw;
use std::ffi::{CString, c_char};
use std::fmt;
use std::os::raw::c_int;
use std::ptr;

/// The `extern "C"` function Redis calls for a command (`RedisModuleCmdFunc`).
pub type RawCommandFn = unsafe extern "C" fn(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int;

/// "command 'name'", formatted only if a panic needs it.
struct Named(&'static str);

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command '{}'", self.0)
    }
}

/// The function Redis calls for command `H`.
///
/// - A key-position request (`COMMAND GETKEYS`, ACL key checks, cluster routing) for a command
///   with `getkeys-api` is answered from `H::GETKEYS` and the body never runs: a body run in
///   that mode would open keys with a context that has none (signal 11 in Redis 7.0).
/// - Arity is checked (Redis checks it too when it knows it: `SetCommandInfo`).
/// - The body runs inside the panic guard: a panic becomes `ERR command '<name>' panicked: ...` for
///   the client and a warning in the server log; the server keeps running.
///
/// # Safety
/// Only Redis calls this, with a valid context and `argc` valid argument strings.
pub unsafe extern "C" fn trampoline<H: Handler>(
    ctx: *mut raw::RedisModuleCtx,
    argv: *mut *mut raw::RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: Redis passes a valid context for the duration of this call.
    let raw_ctx = unsafe { RawCtx::from_raw(ctx) };
    // SAFETY: Redis passes `argc` non-null strings that outlive this call.
    let args = unsafe { RedisStr::slice_from_raw(argv, argc) };
    super::thread::free_pending_detached();
    if let Some(getkeys) = H::GETKEYS
        && raw_ctx.is_keys_position_request()
    {
        if let Some(keys) = guard(Named(H::NAME), || getkeys(args)) {
            // A readonly command only reads the keys it names, unless it says otherwise.
            let default = H::READONLY.then_some(KeyFlags(KeyFlags::RO.0 | KeyFlags::ACCESS.0));
            for k in keys {
                if (1..args.len()).contains(&k.index) {
                    raw_ctx.key_at_pos(k.index, k.flags.or(default));
                }
            }
        }
        return OK;
    }
    if !arity_ok(H::ARITY, args.len()) {
        // SAFETY: a live context; Redis words the error itself.
        unsafe { api!(RedisModule_WrongArity)(ctx) };
        return OK;
    }
    let ctx = Context::for_command(raw_ctx);
    match guard(Named(H::NAME), || H::call(&ctx, args)) {
        Some(Ok(reply)) => ctx.raw().send(&reply),
        Some(Err(e)) => ctx.raw().send_error(&e),
        None => ctx.raw().send_error(&Error::new(format!(
            "command '{}' panicked: {} (see the server log)",
            H::NAME,
            super::last_panic()
        ))),
    }
    OK
}

impl RawCtx {
    /// `RedisModule_IsKeysPositionRequest`.
    #[inline]
    pub(crate) fn is_keys_position_request(&self) -> bool {
        // SAFETY: a live command context.
        unsafe { api!(RedisModule_IsKeysPositionRequest)(self.as_ptr()) != 0 }
    }

    /// `RedisModule_KeyAtPosWithFlags` (or `KeyAtPos` without flags, or on a server without
    /// it).
    pub(crate) fn key_at_pos(&self, pos: usize, flags: Option<crate::command::docs::KeyFlags>) {
        match flags {
            Some(f) if has_api!(RedisModule_KeyAtPosWithFlags) => {
                // SAFETY: a live context in key-position mode.
                unsafe {
                    api!(RedisModule_KeyAtPosWithFlags)(self.as_ptr(), pos as c_int, f.0 as c_int)
                };
            }
            // SAFETY: a live context in key-position mode.
            _ => unsafe { api!(RedisModule_KeyAtPos)(self.as_ptr(), pos as c_int) },
        }
    }

    /// `RedisModule_GetCommandKeysWithFlags`: the keys of the command line `args`
    /// (`args[0]` the command), with flags; `Err(errno)` (`ENOENT`: no such command, `EINVAL`:
    /// wrong arity).
    pub(crate) fn command_keys(
        &self,
        args: &[RedisStr],
    ) -> Result<Vec<crate::command::KeyAt>, i32> {
        use crate::command::{KeyAt, docs::KeyFlags};
        let mut n: c_int = 0;
        let mut flags: *mut c_int = std::ptr::null_mut();
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: a live context; `args` are live strings (RedisStr is a transparent pointer);
        // Redis only reads them. The returned arrays are ours to free with RedisModule_Free.
        let idx = unsafe {
            api!(RedisModule_GetCommandKeysWithFlags)(
                self.as_ptr(),
                args.as_ptr().cast_mut().cast(),
                args.len() as c_int,
                &mut n,
                &mut flags,
            )
        };
        if idx.is_null() {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            return if errno == 0 {
                Ok(Vec::new())
            } else {
                Err(errno)
            };
        }
        let n = usize::try_from(n).unwrap_or(0);
        // SAFETY: Redis returned `n` indexes (and, when asked, `n` flags).
        let keys = unsafe {
            (0..n)
                .map(|i| KeyAt {
                    index: *idx.add(i) as usize,
                    flags: (!flags.is_null()).then(|| KeyFlags(*flags.add(i) as u64)),
                })
                .collect()
        };
        // SAFETY: both arrays were allocated by Redis for us, freed once.
        unsafe {
            api!(RedisModule_Free)(idx.cast());
            if !flags.is_null() {
                api!(RedisModule_Free)(flags.cast());
            }
        }
        Ok(keys)
    }
}

/// Whether the server can put module commands in ACL categories (Redis 7.2+, Valkey 8).
pub(crate) fn server_has_acl_categories() -> bool {
    has_api!(RedisModule_SetCommandACLCategories)
}

/// A command of this module, as `RedisModule_GetCommand` returned it.
pub(crate) struct CommandHandle(*mut raw::RedisModuleCommand);

/// Everything `CreateCommand` needs besides the name.
pub(crate) struct Registration<'a> {
    pub(crate) callback: Option<RawCommandFn>,
    pub(crate) flags: &'a str,
    pub(crate) keys: (i32, i32, i32),
}

impl RawCtx {
    /// `RedisModule_CreateCommand` + `GetCommand`; `None` if Redis refused.
    pub(crate) fn create_command(&self, name: &str, r: &Registration<'_>) -> Option<CommandHandle> {
        let cname = CString::new(name).ok()?;
        let cflags = CString::new(r.flags).ok()?;
        // SAFETY: the load context; Redis copies the name and parses the flags; the callback
        // is a monomorphised trampoline in this image (or NULL: a container command).
        let ok = unsafe {
            api!(RedisModule_CreateCommand)(
                self.as_ptr(),
                cname.as_ptr(),
                r.callback,
                cflags.as_ptr(),
                r.keys.0,
                r.keys.1,
                r.keys.2,
            )
        } == OK;
        // SAFETY: the load context; the name of a command just created.
        let cmd = unsafe { api!(RedisModule_GetCommand)(self.as_ptr(), cname.as_ptr()) };
        (ok && !cmd.is_null()).then_some(CommandHandle(cmd))
    }

    /// `RedisModule_CreateSubcommand(parent, sub)` + `GetCommand("parent|sub")`.
    pub(crate) fn create_subcommand(
        &self,
        parent: &CommandHandle,
        full_name: &str,
        sub: &str,
        r: &Registration<'_>,
    ) -> Option<CommandHandle> {
        let csub = CString::new(sub).ok()?;
        let cflags = CString::new(r.flags).ok()?;
        // SAFETY: a container command of this module; as for CreateCommand.
        let ok = unsafe {
            api!(RedisModule_CreateSubcommand)(
                parent.0,
                csub.as_ptr(),
                r.callback,
                cflags.as_ptr(),
                r.keys.0,
                r.keys.1,
                r.keys.2,
            )
        } == OK;
        let full = cstring_lossy(full_name);
        // SAFETY: the load context; "parent|sub" names the subcommand just created.
        let cmd = unsafe { api!(RedisModule_GetCommand)(self.as_ptr(), full.as_ptr()) };
        (ok && !cmd.is_null()).then_some(CommandHandle(cmd))
    }
}

/// Owns every C string and array handed to Redis until SetCommandInfo returns (Redis copies).
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    args: Vec<Vec<raw::RedisModuleCommandArg>>,
}

impl Arena {
    fn str(&mut self, s: &str) -> *const c_char {
        let c = cstring_lossy(s);
        let p = c.as_ptr();
        self.strings.push(c);
        p
    }

    /// NULL for an absent (`None` or empty) string.
    fn opt(&mut self, s: Option<&str>) -> *const c_char {
        s.filter(|s| !s.is_empty())
            .map_or(ptr::null(), |s| self.str(s))
    }

    /// A zero-terminated C array of `args` (recursively for their subargs).
    fn args(&mut self, args: &[Arg]) -> *mut raw::RedisModuleCommandArg {
        if args.is_empty() {
            return ptr::null_mut();
        }
        let mut out: Vec<raw::RedisModuleCommandArg> = Vec::with_capacity(args.len() + 1);
        for a in args {
            let flags = (if a.optional {
                raw::REDISMODULE_CMD_ARG_OPTIONAL
            } else {
                0
            }) | (if a.multiple {
                raw::REDISMODULE_CMD_ARG_MULTIPLE
            } else {
                0
            });
            out.push(raw::RedisModuleCommandArg {
                name: self.str(a.name),
                type_: arg_type(a.kind),
                key_spec_index: a.key_spec,
                token: self.opt(a.token),
                summary: self.opt(a.summary),
                since: self.opt(a.since),
                flags: flags as i32,
                deprecated_since: self.opt(a.deprecated_since),
                subargs: self.args(a.subargs),
                display_text: self.opt(a.display_text),
            });
        }
        // SAFETY: the all-zero value (NULL name) is the array terminator Redis looks for.
        out.push(unsafe { std::mem::zeroed() });
        let p = out.as_mut_ptr();
        self.args.push(out); // moving the Vec does not move its heap buffer
        p
    }
}

fn arg_type(k: ArgKind) -> raw::RedisModuleCommandArgType {
    match k {
        ArgKind::String => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING,
        ArgKind::Integer => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER,
        ArgKind::Double => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_DOUBLE,
        ArgKind::Key => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY,
        ArgKind::Pattern => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PATTERN,
        ArgKind::UnixTime => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_UNIX_TIME,
        ArgKind::PureToken => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN,
        ArgKind::OneOf => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_ONEOF,
        ArgKind::Block => raw::RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_BLOCK,
    }
}

static VERSION: raw::RedisModuleCommandInfoVersion = raw::RedisModuleCommandInfoVersion {
    version: 1,
    sizeof_historyentry: size_of::<raw::RedisModuleCommandHistoryEntry>(),
    sizeof_keyspec: size_of::<raw::RedisModuleCommandKeySpec>(),
    sizeof_arg: size_of::<raw::RedisModuleCommandArg>(),
};

/// A command's metadata, for [`CommandHandle::set_info`].
pub(crate) struct Info<'a> {
    pub(crate) summary: &'a str,
    pub(crate) complexity: &'a str,
    pub(crate) since: &'a str,
    pub(crate) tips: &'a str,
    pub(crate) arity: i32,
    pub(crate) key_specs: &'a [KeySpec],
    pub(crate) args: &'a [Arg],
    pub(crate) history: &'a [(&'a str, &'a str)],
}

impl CommandHandle {
    /// `RedisModule_SetCommandInfo`. Servers without the API keep what CreateCommand gave them
    /// (arity -1: the trampoline checks arity anyway).
    pub(crate) fn set_info(&self, info: &Info<'_>) -> Result<(), String> {
        let mut arena = Arena::default();
        let mut specs: Vec<raw::RedisModuleCommandKeySpec> = Vec::new();
        for spec in info.key_specs {
            // SAFETY: all-zero is a valid (empty) key spec: NULL notes, zero flags and unions.
            let mut ks: raw::RedisModuleCommandKeySpec = unsafe { std::mem::zeroed() };
            ks.flags = key_spec_flags(spec.flags)?;
            ks.notes = arena.opt(spec.notes);
            match spec.begin {
                BeginSearch::Index(pos) => {
                    ks.begin_search_type =
                        raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX;
                    ks.bs.index.pos = pos;
                }
                BeginSearch::Keyword {
                    keyword,
                    start_from,
                } => {
                    ks.begin_search_type =
                        raw::RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_KEYWORD;
                    ks.bs.keyword = raw::RedisModuleCommandKeySpec__bindgen_ty_1__bindgen_ty_2 {
                        keyword: arena.str(keyword),
                        startfrom: start_from,
                    };
                }
            }
            match spec.find {
                FindKeys::Range {
                    last_key,
                    step,
                    limit,
                } => {
                    ks.find_keys_type =
                        raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
                    ks.fk.range = raw::RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 {
                        lastkey: last_key,
                        keystep: step,
                        limit,
                    };
                }
                FindKeys::KeyNum {
                    key_num_index,
                    first_key,
                    step,
                } => {
                    ks.find_keys_type =
                        raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_KEYNUM;
                    ks.fk.keynum = raw::RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_2 {
                        keynumidx: key_num_index,
                        firstkey: first_key,
                        keystep: step,
                    };
                }
            }
            specs.push(ks);
        }
        if !specs.is_empty() {
            // SAFETY: the all-zero terminator (begin_search_type 0 = invalid ends the array).
            specs.push(unsafe { std::mem::zeroed() });
        }
        let mut history: Vec<raw::RedisModuleCommandHistoryEntry> = info
            .history
            .iter()
            .map(|(since, changes)| raw::RedisModuleCommandHistoryEntry {
                since: arena.str(since),
                changes: arena.str(changes),
            })
            .collect();
        if !history.is_empty() {
            history.push(raw::RedisModuleCommandHistoryEntry {
                since: ptr::null(),
                changes: ptr::null(),
            });
        }
        let c = raw::RedisModuleCommandInfo {
            version: &VERSION,
            summary: arena.opt(Some(info.summary)),
            complexity: arena.opt(Some(info.complexity)),
            since: arena.opt(Some(info.since)),
            history: if history.is_empty() {
                ptr::null_mut()
            } else {
                history.as_mut_ptr()
            },
            tips: arena.opt(Some(info.tips)),
            arity: info.arity,
            key_specs: if specs.is_empty() {
                ptr::null_mut()
            } else {
                specs.as_mut_ptr()
            },
            args: arena.args(info.args),
        };
        if has_api!(RedisModule_SetCommandInfo) {
            // SAFETY: a command of this module; `c` and everything it points to live in
            // `arena` and `specs` until after the call, and Redis copies them.
            if unsafe { api!(RedisModule_SetCommandInfo)(self.0, &c) } != OK {
                return Err(
                    "RedisModule_SetCommandInfo refused its metadata (see the server log)".into(),
                );
            }
        }
        Ok(())
    }

    /// `RedisModule_SetCommandACLCategories`: `Ok(false)` if the server lacks it (before 7.2).
    pub(crate) fn set_acl_categories(&self, categories: &str) -> Result<bool, String> {
        if !has_api!(RedisModule_SetCommandACLCategories) {
            return Ok(false);
        }
        let cats = cstring_lossy(categories);
        // SAFETY: a command of this module; Redis parses the string before returning.
        if unsafe { api!(RedisModule_SetCommandACLCategories)(self.0, cats.as_ptr()) } != OK {
            return Err(format!("unknown ACL categories '{categories}'"));
        }
        Ok(true)
    }
}
