//! Command declarations, collected from every linked crate with `linkme`.
//!
//! Each [`command!`](crate::command!) adds one [`CommandDef`] to the [`COMMANDS`] distributed
//! slice. `RedisModule_OnLoad` registers every entry it finds, whichever crate contributed it:
//! there is no table to edit and no limit on how many.

use crate::{Context, RedisStr, Result};

/// Every command of the module, gathered at link time.
#[linkme::distributed_slice]
pub static COMMANDS: [CommandDef];

/// The `extern "C"` function Redis calls for a command (`RedisModuleCmdFunc`).
pub type RawCommandFn = unsafe extern "C" fn(
    ctx: *mut redis_module::raw::RedisModuleCtx,
    argv: *mut *mut redis_module::raw::RedisModuleString,
    argc: std::os::raw::c_int,
) -> std::os::raw::c_int;

/// One command, as declared with [`command!`](crate::command!).
#[derive(Debug)]
pub struct CommandDef {
    /// The name, e.g. `"hgetset"`. A leading `{module}` is replaced by the module's name, so the
    /// toolkit can contribute `{module}.memory` to every module.
    pub name: &'static str,
    /// Redis command flags separated by spaces, e.g. `"write fast deny-oom"`.
    pub flags: &'static str,
    /// Redis arity: `n` means exactly `n` arguments including the command name, `-n` at least `n`.
    pub arity: i32,
    /// Position of the first key argument (0: no keys).
    pub first_key: i32,
    /// Position of the last key argument (negative counts from the end).
    pub last_key: i32,
    /// Step between key arguments.
    pub key_step: i32,
    /// The doc comment of the declaration (its first paragraph is the summary).
    pub doc: &'static str,
    /// Optional documentation and metadata for `COMMAND INFO`/`COMMAND DOCS`.
    pub info: CommandInfo,
    /// Where it was declared (`file:line`), for error messages.
    pub location: &'static str,
    /// The trampoline Redis calls.
    pub callback: RawCommandFn,
}

/// Documentation and metadata of a command beyond name, flags, arity and key range; all
/// optional. Registered with `RedisModule_SetCommandInfo` (Redis 7.0+) so `COMMAND INFO`,
/// `COMMAND DOCS` and `COMMAND GETKEYS` show them; ACL categories need Redis 7.2
/// (`RedisModule_SetCommandACLCategories`) and are skipped with a log line on older servers.
#[derive(Debug, Clone, Copy)]
pub struct CommandInfo {
    /// The module version that added the command, e.g. `"1.0.0"` (`""`: not given).
    pub since: &'static str,
    /// Time complexity, e.g. `"O(1)"` (`""`: not given).
    pub complexity: &'static str,
    /// Command tips for clients, e.g. `"nondeterministic_output"` (`""`: none).
    pub tips: &'static str,
    /// ACL categories, space separated, e.g. `"hash"` (Redis 7.2+).
    pub acl: &'static str,
    /// Key specifications; empty means Redis derives one from the key range.
    pub key_specs: &'static [KeySpec],
    /// The arguments, for `COMMAND DOCS`.
    pub args: &'static [Arg],
}

impl CommandInfo {
    /// No metadata.
    pub const EMPTY: CommandInfo = CommandInfo {
        since: "",
        complexity: "",
        tips: "",
        acl: "",
        key_specs: &[],
        args: &[],
    };
}

/// A key specification: where keys start and how to find the rest, with what the command does
/// to them.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Flags, space separated: one of `RO RW OW RM`, then any of `access update insert delete
    /// not_key incomplete variable_flags` (Redis's key-spec flags).
    pub flags: &'static str,
    /// Where the search for keys begins.
    pub begin: BeginSearch,
    /// How keys are found from there.
    pub find: FindKeys,
}

/// Where a key search begins.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searching from `start_from` (negative: from the end).
    Keyword {
        /// The keyword, e.g. `"STREAMS"`.
        keyword: &'static str,
        /// Where to start searching for it.
        start_from: i32,
    },
}

/// How keys are found once the search has begun.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// A range: the last key relative to the first (-1: to the end), a step, and a limit.
    Range {
        /// Index of the last key relative to the begin search (negative: from the end).
        last_key: i32,
        /// Step between keys.
        step: i32,
        /// With `last_key` -1: stop after `count / limit` keys (0: no limit).
        limit: i32,
    },
    /// A count argument followed by the keys.
    KeyNum {
        /// Index of the count argument relative to the begin search.
        key_num_index: i32,
        /// Index of the first key relative to the begin search.
        first_key: i32,
        /// Step between keys.
        step: i32,
    },
}

impl KeySpec {
    /// One key at argument `index`, with `flags`.
    pub const fn single(index: i32, flags: &'static str) -> KeySpec {
        KeySpec {
            flags,
            begin: BeginSearch::Index(index),
            find: FindKeys::Range {
                last_key: 0,
                step: 1,
                limit: 0,
            },
        }
    }
}

/// One documented argument (`COMMAND DOCS`).
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// For keys: the index of its key spec (-1: none).
    pub key_spec: i32,
    /// A keyword that precedes it (`EX` in `EX seconds`), or the token of a pure token.
    pub token: Option<&'static str>,
    /// May be left out.
    pub optional: bool,
    /// May be repeated.
    pub multiple: bool,
    /// The alternatives of a `OneOf` or the parts of a `Block`.
    pub subargs: &'static [Arg],
}

/// The type of a documented argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A double.
    Double,
    /// A key name.
    Key,
    /// A glob-style pattern.
    Pattern,
    /// A Unix time.
    UnixTime,
    /// A keyword alone (its `token`).
    PureToken,
    /// One of the `subargs`.
    OneOf,
    /// All of the `subargs`, in order.
    Block,
}

impl Arg {
    const fn new(name: &'static str, kind: ArgKind) -> Arg {
        Arg {
            name,
            kind,
            key_spec: -1,
            token: None,
            optional: false,
            multiple: false,
            subargs: &[],
        }
    }
    /// A string argument.
    pub const fn string(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::String)
    }
    /// An integer argument.
    pub const fn integer(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Integer)
    }
    /// A double argument.
    pub const fn double(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Double)
    }
    /// A key argument described by key spec `spec`.
    pub const fn key(name: &'static str, spec: i32) -> Arg {
        Arg {
            key_spec: spec,
            ..Arg::new(name, ArgKind::Key)
        }
    }
    /// A keyword on its own, e.g. `NX`.
    pub const fn token(word: &'static str) -> Arg {
        Arg {
            token: Some(word),
            ..Arg::new(word, ArgKind::PureToken)
        }
    }
    /// One of `choices`.
    pub const fn one_of(name: &'static str, choices: &'static [Arg]) -> Arg {
        Arg {
            subargs: choices,
            ..Arg::new(name, ArgKind::OneOf)
        }
    }
    /// All of `parts`, in order.
    pub const fn block(name: &'static str, parts: &'static [Arg]) -> Arg {
        Arg {
            subargs: parts,
            ..Arg::new(name, ArgKind::Block)
        }
    }
    /// Marks it optional.
    pub const fn optional(self) -> Arg {
        Arg {
            optional: true,
            ..self
        }
    }
    /// Marks it repeatable.
    pub const fn multiple(self) -> Arg {
        Arg {
            multiple: true,
            ..self
        }
    }
}

/// Key-spec flag names and their `REDISMODULE_CMD_KEY_*` bits.
pub const KEY_SPEC_FLAGS: &[(&str, u64)] = &[
    ("RO", 1),
    ("RW", 2),
    ("OW", 4),
    ("RM", 8),
    ("access", 16),
    ("update", 32),
    ("insert", 64),
    ("delete", 128),
    ("not_key", 256),
    ("incomplete", 512),
    ("variable_flags", 1024),
];

/// The bits of a key spec's flags, or the first unknown word.
pub fn key_spec_flags(flags: &str) -> std::result::Result<u64, String> {
    flags.split_ascii_whitespace().try_fold(0u64, |acc, word| {
        KEY_SPEC_FLAGS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|(_, bit)| acc | bit)
            .ok_or_else(|| format!("unknown key spec flag '{word}'"))
    })
}

/// A command's Rust side: implemented by [`command!`](crate::command!) on a zero-sized type,
/// one per command, so each gets its own monomorphised `extern "C"` trampoline (the C API passes
/// no user data to a command callback).
pub trait Handler {
    /// The command name, for error messages.
    const NAME: &'static str;
    /// Redis arity (see [`CommandDef::arity`]).
    const ARITY: i32;
    /// Runs the command. Arity has been checked, so `args[..ARITY]` may be indexed freely.
    fn call(ctx: &Context, args: &[RedisStr]) -> Result;
}

/// Whether `argc` arguments (command name included) satisfy `arity`.
pub const fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// The flags Redis accepts in `RedisModule_CreateCommand` (Redis 7.0).
pub const KNOWN_FLAGS: &[&str] = &[
    "write",
    "readonly",
    "admin",
    "deny-oom",
    "deny-script",
    "allow-loading",
    "pubsub",
    "random",
    "allow-stale",
    "no-monitor",
    "no-slowlog",
    "fast",
    "getkeys-api",
    "no-cluster",
    "no-auth",
    "may-replicate",
    "no-mandatory-keys",
    "blocking",
    "allow-busy",
    "getchannels-api",
];

/// Checks a declaration before it is registered: a problem here fails the module load with a
/// log line naming the command and where it was declared.
pub fn validate(def: &CommandDef, name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!(
            "command name {name:?} must be non-empty, without spaces"
        ));
    }
    if let Some(bad) = def
        .flags
        .split_ascii_whitespace()
        .find(|f| !KNOWN_FLAGS.contains(f))
    {
        return Err(format!(
            "command '{name}' has unknown flag '{bad}' (known: {})",
            KNOWN_FLAGS.join(" ")
        ));
    }
    if def.arity == 0 {
        return Err(format!(
            "command '{name}' has arity 0; use n (exactly) or -n (at least)"
        ));
    }
    if def.first_key < 0 || def.key_step < 0 || (def.first_key > 0 && def.key_step == 0) {
        return Err(format!(
            "command '{name}' has invalid key positions {} {} {}",
            def.first_key, def.last_key, def.key_step
        ));
    }
    if name.matches('|').count() > 1 || name.starts_with('|') || name.ends_with('|') {
        return Err(format!(
            "command '{name}': a subcommand is named 'parent|sub' (one level)"
        ));
    }
    for spec in def.info.key_specs {
        key_spec_flags(spec.flags).map_err(|e| format!("command '{name}': {e}"))?;
    }
    Ok(())
}

/// Declares a command and adds it to the module.
///
/// ```
/// use rmkit::prelude::*;
///
/// rmkit::command! {
///     /// Echo the argument back, upper-cased.
///     name: "doc.shout", flags: "readonly fast", arity: 2, keys: (0, 0, 0),
///     fn shout(_ctx, args) {
///         Ok(Reply::Bulk(args[1].as_bytes().to_ascii_uppercase()))
///     }
/// }
/// # fn main() {
/// assert!(rmkit::COMMANDS.iter().any(|c| c.name == "doc.shout" && c.arity == 2));
/// # }
/// ```
///
/// - `name`: the command; a leading `{module}` becomes the module's name.
/// - `flags`: Redis command flags ([`KNOWN_FLAGS`]); checked when the module loads.
/// - `arity`: `n` for exactly `n` arguments including the name, `-n` for at least `n`. Checked
///   before the body runs; a mismatch replies `ERR wrong number of arguments for '<name>' command`.
/// - `keys`: `(first, last, step)` key positions, `(0, 0, 0)` for none.
/// - `info: { ... }` (optional): [`CommandInfo`] fields — `since`, `complexity`, `tips`, `acl`,
///   `key_specs`, `args` — for `COMMAND INFO`/`COMMAND DOCS`.
/// - A name `"parent|sub"` declares a subcommand (`JSON.DEBUG MEMORY` style); the parent
///   container command is created for it.
/// - the body gets `ctx: &Context` and `args: &[RedisStr]` (zero-copy views of the arguments,
///   the command name first) and returns [`Result`](crate::Result)`<Reply>`. A panic inside is
///   caught: the client gets an `ERR` reply, the server log the panic message, and the server
///   keeps running.
#[macro_export]
macro_rules! command {
    (
        $(#[doc = $doc:literal])*
        name: $name:literal,
        flags: $flags:literal,
        arity: $arity:expr,
        keys: ($first:expr, $last:expr, $step:expr),
        $(info: { $($field:ident : $value:expr),* $(,)? },)?
        fn $fname:ident($ctx:ident, $args:ident) $body:block
    ) => {
        $(#[doc = $doc])*
        #[allow(unused_variables)]
        fn $fname($ctx: &$crate::Context, $args: &[$crate::RedisStr]) -> $crate::Result $body

        const _: () = {
            // A braced struct lives in the type namespace only, so `$fname(...)` below still
            // names the function while `trampoline::<$fname>` names this type.
            #[allow(non_camel_case_types)]
            struct $fname {}
            impl $crate::command::Handler for $fname {
                const NAME: &'static str = $name;
                const ARITY: i32 = $arity;
                fn call(ctx: &$crate::Context, args: &[$crate::RedisStr]) -> $crate::Result {
                    $fname(ctx, args)
                }
            }
            #[$crate::linkme::distributed_slice($crate::COMMANDS)]
            #[linkme(crate = $crate::linkme)]
            static DEF: $crate::command::CommandDef = $crate::command::CommandDef {
                name: $name,
                flags: $flags,
                arity: $arity,
                first_key: $first,
                last_key: $last,
                key_step: $step,
                doc: concat!($($doc, "\n"),*),
                info: $crate::command::CommandInfo {
                    $($($field: $value,)*)?
                    ..$crate::command::CommandInfo::EMPTY
                },
                location: concat!(file!(), ":", line!()),
                callback: $crate::ffi::trampoline::<$fname>,
            };
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(flags: &'static str, arity: i32, keys: (i32, i32, i32)) -> CommandDef {
        CommandDef {
            name: "t",
            flags,
            arity,
            first_key: keys.0,
            last_key: keys.1,
            key_step: keys.2,
            doc: "",
            info: CommandInfo::EMPTY,
            location: "here",
            callback: crate::ffi::trampoline::<Nop>,
        }
    }

    struct Nop;
    impl Handler for Nop {
        const NAME: &'static str = "nop";
        const ARITY: i32 = 1;
        fn call(_: &Context, _: &[RedisStr]) -> Result {
            Ok(crate::Reply::Ok)
        }
    }

    #[test]
    fn arity_follows_redis_convention() {
        assert!(arity_ok(4, 4));
        assert!(!arity_ok(4, 3));
        assert!(!arity_ok(4, 5));
        assert!(arity_ok(-2, 2));
        assert!(arity_ok(-2, 9));
        assert!(!arity_ok(-2, 1));
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(validate(&def("write fast deny-oom", 4, (1, 1, 1)), "t").is_ok());
        let e = validate(&def("write fastt", 4, (1, 1, 1)), "t").unwrap_err();
        assert!(e.contains("unknown flag 'fastt'"), "{e}");
        assert!(
            validate(&def("", 0, (0, 0, 0)), "t")
                .unwrap_err()
                .contains("arity 0")
        );
        assert!(
            validate(&def("", 2, (1, 1, 0)), "t")
                .unwrap_err()
                .contains("key positions")
        );
        assert!(
            validate(&def("", 2, (0, 0, 0)), "a b")
                .unwrap_err()
                .contains("without spaces")
        );
    }
}
