//! # rmkit — Redis modules in Rust whose every byte Redis can see
//!
//! A complete module:
//!
//! ```
//! use rmkit::prelude::*;
//!
//! rmkit::module! { name: "greet", version: 1 }
//!
//! /// Store a greeting for a user in a hash and return the previous one.
//! #[rmkit::command(name = "greet.set", flags = "write fast deny-oom", acl = "write hash")]
//! fn greet_set(ctx: &Context, key: WriteKey, greeting: &RedisStr) -> Result<Reply> {
//!     let hash = key.hash()?;                        // WRONGTYPE if not a hash
//!     let field = RedisString::new(b"greeting");
//!     let old = hash.get(&field);
//!     hash.set(&field, greeting)?;
//!     ctx.replicate_verbatim();
//!     Ok(old.into())                                 // nil when there was none
//! }
//! # fn main() {}
//! ```
//!
//! The one declaration gives Redis everything: arity (3), key positions and the key spec
//! (`RW access update`, from `WriteKey`), flags, ACL categories, the `COMMAND DOCS` arguments
//! (`key`, `greeting`) and the summary (the doc comment). The body is an ordinary function.
//!
//! # Map
//!
//! | module | what is in it |
//! |---|---|
//! | [`module!`](crate::module!), [`module`](mod@module) | declaring the module; lifecycle hooks ([`on_load!`](crate::on_load!) with the module's arguments, [`on_unload!`](crate::on_unload!)) |
//! | [`command`](mod@command) ([`#[command]`](macro@command)) | declaring commands; parameter types; the pure argument parser |
//! | [`Reply`], [`Error`], [`error`] | what a command answers |
//! | [`Context`] | what every callback gets: keys, replication, notifications, calls, threads |
//! | [`key`] | open keys: type, delete, hashes, module values |
//! | [`datatype`] | module data types: the trait, registration, RDB/AOF/digest I/O |
//! | [`call`] | calling Redis commands from the module |
//! | [`thread`] | blocked clients on worker threads, the server lock, timers |
//! | [`server`] | configs (flags, validate, on_apply), keyspace and server events, `INFO` sections ([`on_info!`](crate::on_info!)) and the server's `INFO`, clients and context flags, ACL users and auth, command filters, the cluster |
//! | [`log`](mod@log) | the server log, and the `log` crate backend |
//! | [`alloc`] | the allocator: counters, [`measure`](alloc::measure) |
//!
//! Every module also gets `<module>.memory` and an `INFO <module>_alloc` section with the
//! allocator's counters. Every callback Redis makes into Rust runs behind one panic guard: a
//! panic becomes an `ERR` reply (or a failure Redis understands) plus a server log line,
//! never a crash.
//!
//! A crate that only contributes commands must still be referenced by the module crate
//! (`use that_crate as _;`), or the linker drops it and its commands with it.
//!
//! All `unsafe` of the toolkit lives in one private module (the FFI glue); the crate root
//! denies it everywhere else.
#![deny(missing_docs, unsafe_op_in_unsafe_fn, unsafe_code)]

extern crate self as rmkit;

pub mod call;
pub mod command;
mod context;
pub mod datatype;
pub mod error;
mod ffi;
pub mod key;
pub mod log;
pub mod module;
mod reply;
pub mod server;
pub mod thread;

pub use context::{ArrayWriter, Context, LARGE_REPLY, Notify};
pub use error::{Error, Result};
pub use ffi::{RedisStr, RedisString};
pub use key::Key;
pub use log::LogLevel;
pub use reply::Reply;
/// Declares a command: an ordinary function, registered with the module wherever it is
/// (any crate linked into the module).
///
/// ```
/// use rmkit::command::{Pairs, Rest};
/// use rmkit::prelude::*;
///
/// rmkit::keywords! {
///     /// Where to insert.
///     pub enum Side { Before = "BEFORE", After = "AFTER" }
/// }
///
/// /// Count the fields of a hash that are longer than `min` bytes.
/// #[rmkit::command(name = "doc.long", flags = "readonly fast", acl = "read hash", since = "1.0.0")]
/// fn long_fields(key: ReadKey, min: u64, names: Rest) -> Result<Reply> {
///     let hash = key.hash()?;
///     let n = names
///         .iter()
///         .filter(|f| hash.get(f).is_some_and(|v| v.as_bytes().len() as u64 > min))
///         .count();
///     Ok(Reply::from(n))
/// }
///
/// /// Set every `field value` pair; reply OK.
/// #[rmkit::command(name = "doc.mset", flags = "write deny-oom")]
/// fn mset(ctx: &Context, key: WriteKey, data: Pairs, side: Option<Side>) -> Result<Reply> {
///     let hash = key.hash()?;
///     for (f, v) in data.iter() {
///         hash.set(f, v)?;
///     }
///     let _ = side;
///     ctx.replicate_verbatim();
///     Ok(Reply::Ok)
/// }
/// # fn main() {}
/// ```
///
/// - **The parameters are the arguments.** An optional first `ctx: &Context`, then one
///   parameter per argument (or group of arguments), each a [`Param`](command::Param) type:
///   `&RedisStr`, `&[u8]`, `&str`, `i64`, `u64`, `f64`, [`ReadKey`](command::ReadKey),
///   [`WriteKey`](command::WriteKey), [`KeyName`](command::KeyName), a
///   [`keywords!`](crate::keywords!) enum, `Option<T>` (an optional tail), [`Rest`](command::Rest)
///   and [`Pairs`](command::Pairs) (variadic tails), or a type of your own. From them come the
///   arity, the key positions and key specs (`ReadKey`: `RO access`, `WriteKey`: `RW access
///   update`, or `#[key(flags = "RW insert")]` on the parameter), and the `COMMAND DOCS`
///   arguments (named after the parameters). Arguments are parsed before the body runs, with
///   Redis's error texts (`ERR wrong number of arguments for ...`, `ERR value is not an integer
///   or out of range`, `ERR syntax error` for arguments left over).
/// - **The doc comment** is the summary in `COMMAND DOCS`.
/// - `name`: the command (default: the function's name); `"parent|sub"` declares a subcommand
///   (`JSON.DEBUG MEMORY`); a leading `{module}` stands for the module's name.
/// - `flags`: Redis's command flags, checked at compile time (`write readonly admin deny-oom
///   deny-script allow-loading pubsub random allow-stale no-monitor no-slowlog fast getkeys-api
///   no-cluster no-auth may-replicate no-mandatory-keys blocking allow-busy getchannels-api`).
/// - `acl`: ACL categories (Redis 7.2+ and Valkey; Redis 7.0 cannot set them and says so at
///   load), checked at compile time.
/// - `since`, `complexity`, `tips`: `COMMAND DOCS` text.
/// - `getkeys = f` (with the `getkeys-api` flag, and only with it): `fn f(args: &[RedisStr]) ->
///   Vec<usize>` (or any iterable of indexes, or of `(index, "RO access")` pairs with the key's
///   flags, see [`KeyAt`](command::KeyAt)) answers key-position requests (`COMMAND GETKEYS`,
///   ACL key checks, cluster routing) for commands whose keys cannot be described by position;
///   the body never runs for those requests.
/// - `keys = (first, last, step)`: the legacy key range, for keys at regular positions among
///   untyped arguments (`keys = (1, -1, 2)`: every other argument from the first, like `MSET`);
///   `key_specs = SPECS` (a `&'static [KeySpec]`, see [`command::docs::KeySpec`]): Redis's key
///   specs for layouts parameters cannot express (keys after a keyword, a key count). Either
///   replaces what key parameters would derive, so the command takes its keys as `&RedisStr` or
///   [`Rest`](command::Rest); mixing them with `KeyName`/`ReadKey`/`WriteKey` is a compile
///   error.
/// - `arity = n`: a stricter arity than the parameters imply (`-5` for a command whose `Rest`
///   tail needs at least three words); one that allows fewer arguments than the parameters need
///   is a compile error. `args = ARGS` (a `&'static [Arg]`, see [`command::docs::Arg`]): the
///   `COMMAND DOCS` arguments written out, for commands that parse a `Rest` tail themselves.
///   `history = &[("1.1.0", "Added the NX option.")]`: `COMMAND DOCS` history entries.
/// - The function returns `rmkit::Result<T>` for any `T: Into<Reply>`. An `Err` is the error
///   reply; a panic is caught (an `ERR` reply and a server log line, never a crash).
///
/// What is wrong in a declaration is a compile error that says what to write instead: an
/// unknown flag or category, `getkeys-api` without `getkeys`, a key after an optional argument,
/// a required argument after an optional one, an `async` or generic function.
pub use rmkit_macros::command;

/// The allocator crate (`rmkit-alloc`): counters, [`measure`](alloc::measure).
pub use rmkit_alloc as alloc;

/// What a module file usually needs.
pub mod prelude {
    pub use crate::command::{ReadKey, WriteKey};
    pub use crate::datatype::{AofWriter, DataType, Digest, RdbReader, RdbWriter};
    pub use crate::key::KeyKind;
    pub use crate::{Context, Error, Notify, RedisStr, RedisString, Reply, Result};
}

/// Macro plumbing: what `#[rmkit::command]`, `module!`, `data_type!`, `config!` and the event
/// macros expand to. Not an API.
#[doc(hidden)]
pub mod __private {
    pub use crate::command::{
        COMMANDS, CommandDef, GetKeysFn, Handler, ParamDecl, arity, check_explicit_keys,
        explicit_arity, into_reply, key_positions, validate,
    };
    pub use crate::ffi::command::trampoline;

    /// Every command the module registers: the declared ones and the toolkit's own.
    pub fn all_commands() -> Vec<&'static CommandDef> {
        COMMANDS.iter().chain(&crate::command::BUILTIN).collect()
    }
    pub use linkme;

    /// Creates data type `T` at load (monomorphised per type).
    pub fn register_type<T: crate::datatype::Registered>(
        ctx: &crate::ffi::RawCtx,
    ) -> Result<(), String> {
        crate::ffi::datatype::register_type::<T>(ctx)
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
