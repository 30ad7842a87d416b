//! Commands: declared with [`#[rmkit::command]`](macro@crate::command) on an ordinary function,
//! collected from every linked crate with `linkme` (no table, no limit), registered at load.
//!
//! | item | what it is for |
//! |---|---|
//! | [`Param`] | a parameter type: how many arguments it takes, what COMMAND DOCS says, how it parses |
//! | [`ReadKey`], [`WriteKey`] | a key argument, opened for you (key spec `RO access` / `RW access update`) |
//! | [`KeyName`] | a key argument you open yourself (or never: a timer, a call) |
//! | [`Rest`], [`Pairs`] | variadic tails: any arguments, or `field value` pairs |
//! | [`Args`] | the pure argument walker parameters use (Redis's rules and error texts) |
//! | [`keywords!`](crate::keywords!) | an enum of keywords (`NX`/`XX`) that is a parameter too |
//! | [`docs`] | key specs and documented arguments, for parameter types of your own |
//! | [`parse_i64`], [`parse_f64`], ... | Redis's number rules, as plain functions |
//!
//! One declaration says everything: the arity, the key positions and key specs, and the
//! `COMMAND DOCS` arguments are derived from the parameters' types (at compile time, so a
//! layout Redis cannot describe is a compile error); flags and ACL categories are checked
//! against Redis's lists by the macro; the doc comment is the summary.

mod args;
pub mod docs;
mod params;

pub use args::{Args, Keyword, parse_f64, parse_i64, parse_u64};
pub use params::{KeyName, KeyShape, Pairs, Param, ReadKey, Rest, Shape, WriteKey};

use crate::{Context, RedisStr, Reply, Result};
use docs::{Arg, BeginSearch, FindKeys, KeySpec};

#[doc(hidden)]
pub use crate::ffi::registry::COMMANDS;

/// A function answering key-position requests (`getkeys-api`): the keys among the arguments
/// (command name at 0), as the macro adapts the declared function.
#[doc(hidden)]
pub type GetKeysFn = fn(&[RedisStr]) -> Vec<KeyAt>;

/// One key among a command's arguments: what a `getkeys = f` function returns (as `usize`
/// indexes, or `(index, flags)` pairs), and what
/// [`Context::command_keys`](crate::Context::command_keys) finds.
///
/// ```
/// use rmkit::command::KeyAt;
/// use rmkit::RedisStr;
/// // Keys follow each `KEY` argument; they are only read.
/// fn keys(args: &[RedisStr]) -> Vec<(usize, &'static str)> {
///     (1..args.len())
///         .filter(|&i| args[i - 1].as_bytes().eq_ignore_ascii_case(b"key"))
///         .map(|i| (i, "RO access"))
///         .collect()
/// }
/// # let _ = keys;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAt {
    /// The argument's index (the command name is 0).
    pub index: usize,
    /// What the command does to it; `None`: what the command's flags say — `RO access` for a
    /// `readonly` command, else `RW access update` (Redis's default).
    pub flags: Option<docs::KeyFlags>,
}

impl From<usize> for KeyAt {
    fn from(index: usize) -> KeyAt {
        KeyAt { index, flags: None }
    }
}

impl From<(usize, docs::KeyFlags)> for KeyAt {
    fn from((index, flags): (usize, docs::KeyFlags)) -> KeyAt {
        KeyAt {
            index,
            flags: Some(flags),
        }
    }
}

/// `(index, "RO access")`. An unknown flag word panics (the panic guard turns it into a log
/// line naming the word; the request then reports no keys).
impl From<(usize, &str)> for KeyAt {
    fn from((index, flags): (usize, &str)) -> KeyAt {
        let flags = docs::KeyFlags::parse(flags).unwrap_or_else(|e| panic!("getkeys: {e}"));
        KeyAt {
            index,
            flags: Some(flags),
        }
    }
}

/// Why [`Context::command_keys`] found no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKeysError {
    /// There is no such command (`ENOENT`).
    NoSuchCommand,
    /// The arguments do not fit the command's arity (`EINVAL`).
    WrongArity,
}

impl std::fmt::Display for CommandKeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommandKeysError::NoSuchCommand => "no such command",
            CommandKeysError::WrongArity => "wrong number of arguments for the command",
        })
    }
}

impl Context {
    /// The keys of the command line `args` (`args[0]` the command name) and what it does to
    /// each (`RedisModule_GetCommandKeysWithFlags`: from key specs, the legacy key range, or the
    /// command's own getkeys function — built-in or module); what `COMMAND GETKEYSANDFLAGS`
    /// answers. A command without keys gives an empty list.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context, argv: &[rmkit::RedisStr]) {
    /// if let Ok(keys) = ctx.command_keys(argv) {
    ///     for k in keys {
    ///         println!("key {:?} ({:?})", argv[k.index], k.flags);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn command_keys(
        &self,
        args: &[RedisStr],
    ) -> std::result::Result<Vec<KeyAt>, CommandKeysError> {
        self.raw().command_keys(args).map_err(|errno| {
            if errno == libc::ENOENT {
                CommandKeysError::NoSuchCommand
            } else {
                CommandKeysError::WrongArity
            }
        })
    }
}

/// Adapts what a `getkeys = f` function returns (macro plumbing).
#[doc(hidden)]
pub fn key_positions<T: Into<KeyAt>>(keys: impl IntoIterator<Item = T>) -> Vec<KeyAt> {
    keys.into_iter().map(Into::into).collect()
}

/// One command, as `#[rmkit::command]` declares it (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct CommandDef {
    pub name: &'static str,
    pub flags: &'static str,
    pub arity: i32,
    pub doc: &'static str,
    pub acl: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    pub tips: &'static str,
    pub params: &'static [ParamDecl],
    pub location: &'static str,
    pub callback: crate::ffi::command::RawCommandFn,
    /// An explicit legacy `(first, last, step)` key range (`keys = (1, -1, 2)`), instead of
    /// one derived from key parameters.
    pub keys: Option<(i32, i32, i32)>,
    /// Explicit key specs (`key_specs = SPECS`), instead of ones derived from key parameters.
    pub key_specs: Option<&'static [KeySpec]>,
    /// Explicit `COMMAND DOCS` arguments (`args = ARGS`), instead of ones derived from the
    /// parameters.
    pub doc_args: Option<&'static [Arg]>,
    /// `COMMAND DOCS` history (`history = &[("1.1.0", "Added the NX option.")]`).
    pub history: &'static [(&'static str, &'static str)],
}

/// The arity Redis is told: the parameters' own, or an explicit `arity = n` that asks for at
/// least as many arguments (macro plumbing; a const panic is a compile error).
#[doc(hidden)]
pub const fn explicit_arity(derived: i32, explicit: Option<i32>) -> i32 {
    let Some(a) = explicit else {
        return derived;
    };
    if a == 0 {
        panic!(
            "arity = 0 is not an arity: n means exactly n arguments (the name included), -n at least n"
        );
    }
    if derived > 0 {
        if a != derived {
            panic!(
                "`arity` contradicts the parameters, which take an exact number of arguments: leave `arity` out"
            );
        }
        return a;
    }
    let need = -derived;
    let given = if a > 0 { a } else { -a };
    if given < need {
        panic!(
            "`arity` allows fewer arguments than the parameters need: leave it out, or ask for at least as many"
        );
    }
    a
}

/// One parameter of a declaration (macro plumbing).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct ParamDecl {
    pub name: &'static str,
    pub shape: Shape,
    pub key_flags: Option<&'static str>,
}

/// A command's Rust side, implemented by `#[rmkit::command]` on a zero-sized type, one per
/// command, so each gets its own monomorphised `extern "C"` trampoline (the C API passes no
/// user data to a command callback).
#[doc(hidden)]
pub trait Handler {
    const NAME: &'static str;
    const ARITY: i32;
    const GETKEYS: Option<GetKeysFn>;
    /// The command has the `readonly` flag: keys its getkeys function names without flags are
    /// `RO access` (else Redis's default, `RW access update`).
    const READONLY: bool = false;
    fn call(ctx: &Context, argv: &[RedisStr]) -> Result<Reply>;
}

/// The handler's result as a reply (macro plumbing).
#[doc(hidden)]
#[inline]
pub fn into_reply<T: Into<Reply>>(r: Result<T>) -> Result<Reply> {
    r.map(Into::into)
}

/// Whether `argc` arguments (command name included) satisfy `arity`.
pub const fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// Checks explicit `keys = (first, last, step)` / `key_specs = ...` at compile time (it runs in
/// a const): key parameters and explicit keys exclude each other, and every flag is valid.
#[doc(hidden)]
pub const fn check_explicit_keys(
    params: &[ParamDecl],
    keys: Option<(i32, i32, i32)>,
    specs: Option<&[KeySpec]>,
) {
    if keys.is_none() && specs.is_none() {
        return;
    }
    let mut i = 0;
    while i < params.len() {
        if params[i].shape.key.is_some() {
            panic!(
                "`keys` and `key_specs` describe the command's keys themselves: take the key arguments as `&RedisStr` or `Rest` (open them with ctx.open_key), not as KeyName/ReadKey/WriteKey, or drop `keys`/`key_specs` and let the key parameters describe them"
            );
        }
        i += 1;
    }
    if let Some((first, last, step)) = keys {
        if first < 0
            || step < 0
            || (first == 0 && (last != 0 || step != 0))
            || (first > 0 && step == 0)
        {
            panic!(
                "`keys = (first, last, step)`: first is the first key's index (0: no keys), last the last one's (-1: to the end, -2: all but the last), step at least 1"
            );
        }
    }
    if let Some(specs) = specs {
        let mut i = 0;
        while i < specs.len() {
            if !valid_key_flags(specs[i].flags) {
                panic!(
                    "invalid key spec flags: exactly one of RO RW OW RM, then any of access update insert delete not_key incomplete variable_flags"
                );
            }
            i += 1;
        }
    }
}

/// The Redis arity of a parameter list (`n`: exactly `n` arguments with the command name, `-n`:
/// at least `n`), checking at compile time (it runs in a const) that Redis can describe the
/// layout. A const panic here is a compile error naming the problem.
/// A subcommand (`parent|sub`) counts its own name too.
#[doc(hidden)]
pub const fn arity(params: &[ParamDecl], subcommand: bool) -> i32 {
    let mut total = if subcommand { 2usize } else { 1 };
    let mut variable = false;
    let mut i = 0;
    while i < params.len() {
        let p = &params[i];
        let s = &p.shape;
        if s.min > s.max {
            panic!("a parameter type's Shape has min > max");
        }
        if variable && s.min > 0 {
            panic!(
                "a required argument cannot follow an optional or variadic one: parse such a \
                 tail with one parameter type of your own (see rmkit::command::Param)"
            );
        }
        if let Some(k) = s.key {
            if variable {
                panic!(
                    "a key argument must come before every optional or variadic argument, so \
                     that its position is fixed (or use getkeys-api)"
                );
            }
            if k.step == 0 {
                panic!("a key shape's step is at least 1");
            }
            let flags = match p.key_flags {
                Some(f) => f,
                None => k.flags,
            };
            if !valid_key_flags(flags) {
                panic!(
                    "invalid key spec flags: exactly one of RO RW OW RM, then any of access \
                     update insert delete not_key incomplete variable_flags"
                );
            }
        } else if p.key_flags.is_some() {
            panic!("#[key(flags = ...)] is for key parameters (ReadKey, WriteKey, ...)");
        }
        total += s.min;
        if s.min != s.max {
            variable = true;
        }
        i += 1;
    }
    if total > i32::MAX as usize {
        panic!("too many arguments");
    }
    if variable {
        -(total as i32)
    } else {
        total as i32
    }
}

/// `a == b` in a const.
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// Key spec flags Redis accepts: one of `RO RW OW RM`, then any of the others.
const fn valid_key_flags(flags: &str) -> bool {
    const MODES: [&[u8]; 4] = [b"RO", b"RW", b"OW", b"RM"];
    const OTHERS: [&[u8]; 7] = [
        b"access",
        b"update",
        b"insert",
        b"delete",
        b"not_key",
        b"incomplete",
        b"variable_flags",
    ];
    let b = flags.as_bytes();
    let (mut i, mut modes) = (0, 0);
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != b' ' {
            i += 1;
        }
        if start == i {
            break;
        }
        let (word, _) = b.split_at(i);
        let (_, word) = word.split_at(start);
        let mut known = false;
        let mut j = 0;
        while j < MODES.len() {
            if same(word, MODES[j]) {
                known = true;
                modes += 1;
            }
            j += 1;
        }
        j = 0;
        while j < OTHERS.len() {
            if same(word, OTHERS[j]) {
                known = true;
            }
            j += 1;
        }
        if !known {
            return false;
        }
    }
    modes == 1
}

/// The flags `RedisModule_CreateCommand` accepts (Redis 7.0); the macro checks the same list.
pub(crate) const KNOWN_FLAGS: &[&str] = &[
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

/// Checks a declaration as registered under `name` (the macro checked it at compile time;
/// this catches hand-made definitions, and is what the `args` fuzz target checks).
#[doc(hidden)]
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
    if name.matches('|').count() > 1 || name.starts_with('|') || name.ends_with('|') {
        return Err(format!(
            "command '{name}': a subcommand is named 'parent|sub' (one level)"
        ));
    }
    Ok(())
}

impl CommandDef {
    /// The legacy `(first, last, step)` key range Redis gets for the command.
    #[doc(hidden)]
    pub fn legacy_keys(&self) -> (i32, i32, i32) {
        self.derive().keys
    }
}

/// What registration needs that the declaration implies: the legacy key range, the key specs
/// and the documented arguments.
#[derive(Debug)]
pub(crate) struct Derived {
    pub(crate) keys: (i32, i32, i32),
    pub(crate) key_specs: Vec<KeySpec>,
    pub(crate) args: Vec<Arg>,
}

impl CommandDef {
    /// Derives key positions, key specs and COMMAND DOCS arguments from the parameters (the
    /// layout was checked at compile time by [`arity`]).
    pub(crate) fn derive(&self) -> Derived {
        let mut derived = self.derive_from_params();
        if let Some(args) = self.doc_args {
            derived.args = args.to_vec();
        }
        if self.keys.is_some() || self.key_specs.is_some() {
            // Redis computes the legacy range from explicit key specs itself.
            derived.keys = self.keys.unwrap_or((0, 0, 0));
            derived.key_specs = self.key_specs.map(<[KeySpec]>::to_vec).unwrap_or_default();
        }
        derived
    }

    fn derive_from_params(&self) -> Derived {
        // Arguments start after the name (and a subcommand's name).
        let mut pos = if self.name.contains('|') { 2i32 } else { 1 };
        let mut specs = Vec::new();
        let mut args = Vec::new();
        let mut positions = Vec::new();
        for p in self.params {
            let s = &p.shape;
            let mut doc = s.doc.named(p.name);
            if let Some(k) = s.key {
                let flags = p.key_flags.unwrap_or(k.flags);
                let spec = if s.max == s.min && s.min == 1 {
                    positions.push(pos);
                    KeySpec::single(pos, flags)
                } else {
                    // A variadic group at the end: every `step`-th argument from here is a key.
                    positions.push(-1);
                    KeySpec::new(
                        flags,
                        BeginSearch::Index(pos),
                        FindKeys::Range {
                            last_key: -1,
                            step: k.step as i32,
                            limit: 0,
                        },
                    )
                };
                doc = doc.with_key_spec(specs.len() as i32);
                specs.push(spec);
            }
            args.push(doc);
            pos += s.min as i32;
        }
        // The legacy (first, last, step) range: exact for keys at regular positions; a variadic
        // key group runs to the end (-1).
        let keys = match positions.as_slice() {
            [] => (0, 0, 0),
            [single] if *single > 0 => (*single, *single, 1),
            [.., -1] => {
                let last = self
                    .params
                    .iter()
                    .rev()
                    .find_map(|p| p.shape.key)
                    .map_or(1, |k| k.step);
                let first = positions.iter().copied().find(|&p| p > 0);
                let start = first.unwrap_or_else(|| {
                    // Only the variadic group: it begins where the fixed arguments end.
                    let first = if self.name.contains('|') { 2 } else { 1 };
                    first
                        + self
                            .params
                            .iter()
                            .take_while(|p| p.shape.key.is_none())
                            .map(|p| p.shape.min as i32)
                            .sum::<i32>()
                });
                (start, -1, last as i32)
            }
            many => {
                let step = many[1] - many[0];
                if many.windows(2).all(|w| w[1] - w[0] == step) && step > 0 {
                    (many[0], many[many.len() - 1], step)
                } else {
                    // Irregular: the key specs describe them; the legacy range covers the span.
                    (many[0], many[many.len() - 1], 1)
                }
            }
        };
        Derived {
            keys,
            key_specs: specs,
            args,
        }
    }
}

/// The toolkit's own commands, in every module: `<module>.memory`.
pub(crate) static BUILTIN: [CommandDef; 1] = [CommandDef {
    name: "{module}.memory",
    flags: "readonly fast allow-loading allow-stale",
    arity: 1,
    doc: "The module's allocator counters as a map (RESP2: field/value pairs): routed (1 if \
          Rust allocations go through RedisModule_Alloc), live_bytes, peak_bytes, \
          live_allocations, total_allocations.",
    acl: "",
    since: "",
    complexity: "O(1)",
    tips: "",
    params: &[],
    location: concat!(file!(), ":", line!()),
    callback: crate::ffi::command::trampoline::<ModuleMemory>,
    keys: None,
    key_specs: None,
    doc_args: None,
    history: &[],
}];

struct ModuleMemory;

impl Handler for ModuleMemory {
    const NAME: &'static str = "{module}.memory";
    const ARITY: i32 = 1;
    const GETKEYS: Option<GetKeysFn> = None;
    fn call(_: &Context, _: &[RedisStr]) -> Result<Reply> {
        let s = rmkit_alloc::stats();
        let field = |name: &str, v: u64| (Reply::from(name), Reply::Integer(v as i64));
        // A map for RESP3 clients; Redis flattens it to name, value, ... for RESP2.
        Ok(Reply::Map(vec![
            field("routed", u64::from(s.routed)),
            field("live_bytes", s.live_bytes as u64),
            field("peak_bytes", s.peak_bytes as u64),
            field("live_allocations", s.live_allocations as u64),
            field("total_allocations", s.total_allocations),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn key_flags_are_checked_like_redis() {
        assert!(valid_key_flags("RW access update"));
        assert!(valid_key_flags("ro"));
        assert!(!valid_key_flags("access"), "a mode is required");
        assert!(!valid_key_flags("RO RW"), "one mode");
        assert!(!valid_key_flags("RW nope"));
    }

    fn def(params: &'static [ParamDecl]) -> CommandDef {
        CommandDef {
            name: "t",
            flags: "",
            arity: arity(params, false),
            doc: "",
            acl: "",
            since: "",
            complexity: "",
            tips: "",
            params,
            location: "here",
            callback: crate::ffi::command::trampoline::<Nop>,
            keys: None,
            key_specs: None,
            doc_args: None,
            history: &[],
        }
    }

    struct Nop;
    impl Handler for Nop {
        const NAME: &'static str = "nop";
        const ARITY: i32 = 1;
        const GETKEYS: Option<GetKeysFn> = None;
        fn call(_: &Context, _: &[RedisStr]) -> Result<Reply> {
            Ok(Reply::Ok)
        }
    }

    #[test]
    fn key_positions_and_docs_come_from_the_parameters() {
        static P: [ParamDecl; 3] = [
            ParamDecl {
                name: "key",
                shape: <WriteKey<'static> as Param<'static>>::SHAPE,
                key_flags: None,
            },
            ParamDecl {
                name: "field",
                shape: <&'static RedisStr as Param<'static>>::SHAPE,
                key_flags: None,
            },
            ParamDecl {
                name: "value",
                shape: <&'static RedisStr as Param<'static>>::SHAPE,
                key_flags: None,
            },
        ];
        let d = def(&P);
        assert_eq!(d.arity, 4);
        let derived = d.derive();
        assert_eq!(derived.keys, (1, 1, 1));
        assert_eq!(derived.key_specs.len(), 1);
        assert_eq!(derived.key_specs[0].flags, "RW access update");
        assert_eq!(
            derived.args.iter().map(|a| a.name).collect::<Vec<_>>(),
            ["key", "field", "value"]
        );
        assert_eq!(derived.args[0].key_spec, 0);
        assert_eq!(derived.args[1].key_spec, -1);
    }

    #[test]
    fn optional_and_variadic_tails_make_a_negative_arity() {
        static P: [ParamDecl; 2] = [
            ParamDecl {
                name: "key",
                shape: <ReadKey<'static> as Param<'static>>::SHAPE,
                key_flags: None,
            },
            ParamDecl {
                name: "rest",
                shape: <Rest<'static> as Param<'static>>::SHAPE,
                key_flags: None,
            },
        ];
        assert_eq!(arity(&P, false), -2);
        assert_eq!(arity(&P, true), -3);
        let derived = def(&P).derive();
        assert_eq!(derived.key_specs[0].flags, "RO access");
        assert!(derived.args[1].optional && derived.args[1].multiple);
    }
}
