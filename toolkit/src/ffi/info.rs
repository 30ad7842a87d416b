//! `RedisModule_SetCommandInfo`: a declaration's docs, key specs and arguments, as C structs.

use super::{LogLevel, cstring_lossy, log};
use crate::command::{Arg, ArgKind, BeginSearch, CommandDef, FindKeys, key_spec_flags};
use redis_module::raw;
use std::ffi::{CString, c_char};
use std::ptr;

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
                summary: ptr::null(),
                since: ptr::null(),
                flags: flags as i32,
                deprecated_since: ptr::null(),
                subargs: self.args(a.subargs),
                display_text: ptr::null(),
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

/// Registers the declaration's metadata on `cmd` (a command of this module). Servers without
/// the API keep what CreateCommand gave them (arity -1; the trampoline checks arity anyway).
/// Returns whether ACL categories had to be skipped (server older than 7.2).
///
/// # Safety
/// `cmd` is a live command of the module being loaded.
pub(crate) unsafe fn set_command_info(
    cmd: *mut raw::RedisModuleCommand,
    name: &str,
    def: &CommandDef,
) -> Result<bool, String> {
    let mut arena = Arena::default();
    let mut specs: Vec<raw::RedisModuleCommandKeySpec> = Vec::new();
    for spec in def.info.key_specs {
        // SAFETY: all-zero is a valid (empty) key spec: NULL notes, zero flags and unions.
        let mut ks: raw::RedisModuleCommandKeySpec = unsafe { std::mem::zeroed() };
        ks.flags = key_spec_flags(spec.flags)?;
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
                ks.find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE;
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
                ks.find_keys_type = raw::RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_KEYNUM;
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
    let summary = crate::ffi::load::summary(def.doc);
    let info = raw::RedisModuleCommandInfo {
        version: &VERSION,
        summary: if summary.is_empty() {
            ptr::null()
        } else {
            arena.str(&summary)
        },
        complexity: arena.opt(Some(def.info.complexity)),
        since: arena.opt(Some(def.info.since)),
        history: ptr::null_mut(),
        tips: arena.opt(Some(def.info.tips)),
        arity: def.arity,
        key_specs: if specs.is_empty() {
            ptr::null_mut()
        } else {
            specs.as_mut_ptr()
        },
        args: arena.args(def.info.args),
    };
    // SAFETY: reading fn-pointer statics set by Init.
    if let Some(set) = unsafe { raw::RedisModule_SetCommandInfo } {
        // SAFETY: a command of this module; `info` and everything it points to live in `arena`
        // and `specs` until after the call, and Redis copies them.
        if unsafe { set(cmd, &info) } != raw::REDISMODULE_OK as i32 {
            return Err(
                "RedisModule_SetCommandInfo refused its metadata (see the server log)".into(),
            );
        }
    }
    if !def.info.acl.is_empty() {
        // SAFETY: as above.
        match unsafe { raw::RedisModule_SetCommandACLCategories } {
            Some(f) => {
                let cats = cstring_lossy(def.info.acl);
                // SAFETY: a command of this module; Redis parses the string before returning.
                if unsafe { f(cmd, cats.as_ptr()) } != raw::REDISMODULE_OK as i32 {
                    return Err(format!("unknown ACL categories '{}'", def.info.acl));
                }
            }
            None => {
                log(
                    LogLevel::Verbose,
                    &format!(
                        "rmkit: command '{name}': ACL categories '{}' not set",
                        def.info.acl
                    ),
                );
                return Ok(true);
            }
        }
    }
    Ok(false)
}
