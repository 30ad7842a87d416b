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
    /// The doc comment of the declaration.
    pub doc: &'static str,
    /// Where it was declared (`file:line`), for error messages.
    pub location: &'static str,
    /// The trampoline Redis calls.
    pub callback: RawCommandFn,
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
