//! The `args` target: an argv against every command in `rmkit::COMMANDS`.
//!
//! This file depends on `rmkit` and `std` only, so `tests/replay_hashex.rs` can include it by
//! path in a binary that links `hashex` (not `rmkit_json`) and check hashex's commands too.

use rmkit::__private::{CommandDef, validate};
use rmkit::Error;
use rmkit::command::{Args, Keyword, arity_ok, parse_f64, parse_i64, parse_u64};

/// Inputs longer than this are ignored (64 KiB: Redis's argv is unbounded, the parsers are not
/// the part that scales).
pub const MAX_INPUT: usize = 64 * 1024;

/// The error every integer parse failure must produce, in Redis's wording.
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// The registered commands. Under Miri this is empty: `linkme` reads the slice through the
/// linker's `__start_`/`__stop_` section symbols, extern statics Miri does not support, so
/// there only the argument-parsing and arity properties run.
#[cfg(not(miri))]
pub fn commands() -> Vec<&'static CommandDef> {
    rmkit::__private::all_commands()
}

/// See the non-Miri version.
#[cfg(miri)]
pub fn commands() -> Vec<&'static CommandDef> {
    Vec::new()
}

/// The registered data types' names (empty under Miri, like [`commands`]).
pub fn data_type_names() -> Vec<&'static str> {
    #[cfg(not(miri))]
    let names = rmkit::datatype::DATA_TYPES.iter().map(|d| d.name).collect();
    #[cfg(miri)]
    let names = Vec::new();
    names
}

/// Redis's rule for a data type name (`RM_CreateDataType`): exactly 9 characters of
/// `A-Z a-z 0-9 - _`.
pub fn redis_type_name_ok(name: &[u8]) -> bool {
    name.len() == 9
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// Splits an input into argv: the first byte is the separator (see the crate docs).
pub fn split_argv(data: &[u8]) -> Vec<&[u8]> {
    match data.split_first() {
        None => Vec::new(),
        Some((&sep, rest)) => rest.split(|&b| b == sep).collect(),
    }
}

/// Redis's own arity rule (`processCommand` in server.c): a command is refused when
/// `(arity > 0 && arity != argc) || argc < -arity`.
pub fn redis_arity_ok(arity: i32, argc: usize) -> bool {
    let (arity, argc) = (i64::from(arity), argc as i64);
    !((arity > 0 && arity != argc) || argc < -arity)
}

/// The name a command is registered under (`{module}` stands for the module's name).
pub fn registered_name(def: &CommandDef) -> String {
    match def.name.strip_prefix("{module}") {
        Some(rest) => format!("module{rest}"),
        None => def.name.to_owned(),
    }
}

/// The registered names, lower-cased (Redis command names are case-insensitive).
pub fn registry_names() -> Vec<String> {
    commands()
        .iter()
        .map(|d| registered_name(d).to_ascii_lowercase())
        .collect()
}

/// The registry with each command's registered name, checked once per process: every entry
/// passes `validate`, no name is registered twice (case-insensitively), and no name is both a
/// command and the container of `parent|sub` subcommands.
fn checked_registry() -> &'static [(&'static CommandDef, String)] {
    static REGISTRY: std::sync::OnceLock<Vec<(&'static CommandDef, String)>> =
        std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry: Vec<_> = commands()
            .into_iter()
            .map(|d| (d, registered_name(d)))
            .collect();
        for (def, name) in &registry {
            if let Err(e) = validate(def, name) {
                panic!("declared command '{name}' fails validation: {e}");
            }
            if let Some((parent, _)) = name.split_once('|') {
                assert!(
                    !registry.iter().any(|(_, n)| n.eq_ignore_ascii_case(parent)),
                    "'{parent}' is a command and has subcommands"
                );
            }
        }
        let mut names = registry_names();
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            panic!("command '{}' is registered twice", w[0]);
        }
        let mut types = data_type_names();
        for t in &types {
            assert!(redis_type_name_ok(t.as_bytes()), "data type name {t:?}");
        }
        types.sort_unstable();
        if let Some(w) = types.windows(2).find(|w| w[0] == w[1]) {
            panic!("data type '{}' is registered twice", w[0]);
        }
        registry
    })
}

/// The `args` target (see the crate docs).
pub fn args(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let argv = split_argv(data);
    let argc = argv.len();
    let registry = checked_registry();

    for (def, name) in registry {
        check_arity(def.arity, argc, name);
        if arity_ok(def.arity, argc) {
            check_keys_fit(def, argc, name);
        }
    }
    // What a dispatcher would do with argv: at most one command (or `parent|sub` subcommand,
    // chosen by argv[1]) answers to it.
    let hits = registry.iter().filter(|(_, n)| answers(n, &argv)).count();
    assert!(hits <= 1, "{hits} commands answer to {argv:?}");

    // Whatever else `validate` checks, an empty name or one with spaces or control characters
    // (which Redis cannot parse back from a command line) is refused.
    if let (Some(Ok(name)), Some(def)) = (
        argv.first().map(|a| std::str::from_utf8(a)),
        commands().first(),
    ) {
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            assert!(
                validate(def, name).is_err(),
                "validate accepted the name {name:?}"
            );
        }
    }

    walk_args(&argv);

    for arg in &argv {
        if let Ok(name) = std::str::from_utf8(arg) {
            assert_eq!(
                rmkit::datatype::valid_type_name(name),
                redis_type_name_ok(arg),
                "valid_type_name({name:?})"
            );
        }
        let i = check_integer_arg(arg);
        // Arguments that are integers double as arities to check against Redis's rule.
        if let Some(arity) = i.and_then(|v| i32::try_from(v).ok()).filter(|&a| a != 0) {
            let n = arity.unsigned_abs() as usize;
            for argc in [0, 1, argc, n.saturating_sub(1), n, n.saturating_add(1)] {
                check_arity(arity, argc, "an argument");
            }
        }
    }
}

rmkit::keywords! {
    /// Keywords for walking an argv with `Args`.
    enum Word { Nx = "NX", Xx = "XX", Pretty = "PRETTY" }
}

/// Walks `argv` with `rmkit::command::Args`, choosing each step from the argument and the step
/// count, and checks every answer against the plain parsers: what is consumed when, that
/// `len`/`is_empty`/`done` agree with the position, and Redis's error texts (the arity error
/// names the command lower-cased; keywords fail with `ERR syntax error`).
fn walk_args(argv: &[&[u8]]) {
    let command = argv
        .first()
        .map(|c| String::from_utf8_lossy(c).to_lowercase())
        .unwrap_or_default();
    let word = |b: &[u8]| {
        [("NX", Word::Nx), ("XX", Word::Xx), ("PRETTY", Word::Pretty)]
            .into_iter()
            .find(|(w, _)| b.eq_ignore_ascii_case(w.as_bytes()))
            .map(|(_, k)| k)
    };
    let mut a = Args::new(argv);
    let mut pos = argv.len().min(1);
    for step in 0..2 * argv.len() + 2 {
        assert_eq!(a.len(), argv.len() - pos, "len at {pos}");
        assert_eq!(a.is_empty(), pos == argv.len(), "is_empty at {pos}");
        assert_eq!(a.done().is_ok(), pos == argv.len(), "done at {pos}");
        let Some(&arg) = argv.get(pos) else {
            assert_eq!(
                a.next_bytes(),
                Err(Error::wrong_arity(&command)),
                "after the end"
            );
            assert_eq!(a.optional::<Word>(), Ok(None), "optional after the end");
            assert_eq!(a.peek_keyword::<Word>(), None, "peek after the end");
            assert!(a.rest().is_empty());
            return;
        };
        let consumed = match (step + usize::from(arg.first().copied().unwrap_or(0))) % 8 {
            0 => a.next_bytes() == Ok(arg),
            1 => a.next_i64() == parse_i64(arg),
            2 => a.next_u64() == parse_u64(arg),
            3 => a.next_f64().map(f64::to_bits) == parse_f64(arg).map(f64::to_bits),
            4 => {
                let expected = std::str::from_utf8(arg).map_err(|_| ());
                a.next_str().map_err(|_| ()) == expected
            }
            5 => a.next_keyword::<Word>() == word(arg).ok_or_else(Error::syntax),
            6 => match a.peek_keyword::<Word>() {
                Some(k) => {
                    assert_eq!(Some(k), word(arg), "peek_keyword on {arg:?}");
                    assert_eq!(Word::parse(arg), Some(k));
                    true
                }
                None => {
                    assert_eq!(word(arg), None, "peek_keyword missed {arg:?}");
                    pos -= 1; // nothing consumed
                    true
                }
            },
            _ => {
                assert_eq!(a.rest(), &argv[pos..], "rest at {pos}");
                pos = argv.len() - 1;
                true
            }
        };
        assert!(
            consumed,
            "Args disagrees with the parsers on {arg:?} (step {step})"
        );
        pos += 1;
    }
    panic!("walking {} arguments took too many steps", argv.len());
}

/// `arity_ok` agrees with Redis for every arity `validate` allows (0 is refused there: Redis
/// would accept any argc, `arity_ok` none).
fn check_arity(arity: i32, argc: usize, what: &str) {
    assert_ne!(arity, 0, "{what}: arity 0 passed validation");
    assert_eq!(
        arity_ok(arity, argc),
        redis_arity_ok(arity, argc),
        "{what}: arity {arity} with {argc} arguments"
    );
}

/// Whether the command (or subcommand) registered as `name` is what `argv` calls.
fn answers(name: &str, argv: &[&[u8]]) -> bool {
    match (name.split_once('|'), argv) {
        (Some((parent, sub)), [p, s, ..]) => {
            parent.as_bytes().eq_ignore_ascii_case(p) && sub.as_bytes().eq_ignore_ascii_case(s)
        }
        (None, [first, ..]) => name.as_bytes().eq_ignore_ascii_case(first),
        _ => false,
    }
}

/// Every key position of an argv the arity allows is inside argv: Redis panics on a built-in
/// command whose key spec does not fit its arity, and returns no keys for a module command
/// (so cluster routing and ACL key checks would silently see none).
fn check_keys_fit(def: &CommandDef, argc: usize, name: &str) {
    let (first_key, last_key, key_step) = def.legacy_keys();
    if first_key == 0 {
        return;
    }
    let (first, argc) = (i64::from(first_key), argc as i64);
    let last = match i64::from(last_key) {
        l if l < 0 => argc + l,
        l => l,
    };
    assert!(
        first < argc && first <= last && last < argc,
        "'{name}' accepts {argc} arguments but its keys ({first_key}, {last_key}, {key_step}) \
         do not fit"
    );
}

/// Parses one argument both ways; they must agree and fail with Redis's message.
/// Returns the `i64` value if there is one.
fn check_integer_arg(arg: &[u8]) -> Option<i64> {
    let i = parse_i64(arg);
    let u = parse_u64(arg);
    for e in [i.as_ref().err(), u.as_ref().err()].into_iter().flatten() {
        assert_eq!(e.message(), NOT_AN_INTEGER, "error for {arg:?}");
    }
    let i = i.ok();
    assert_eq!(
        u.ok(),
        i.and_then(|v| u64::try_from(v).ok()),
        "parse_u64 vs parse_i64 on {arg:?}"
    );
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_arity_rule_matches_redis_examples() {
        // GET (2), SET (-3), PING (-1), as in Redis's command table.
        assert!(redis_arity_ok(2, 2) && !redis_arity_ok(2, 3) && !redis_arity_ok(2, 1));
        assert!(redis_arity_ok(-3, 3) && redis_arity_ok(-3, 9) && !redis_arity_ok(-3, 2));
        assert!(redis_arity_ok(-1, 1) && !redis_arity_ok(-1, 0));
        assert!(redis_arity_ok(i32::MAX, i32::MAX as usize));
        assert!(!redis_arity_ok(i32::MIN, 0));
    }

    #[test]
    fn argv_splits_on_the_first_byte() {
        assert!(split_argv(b"").is_empty());
        assert_eq!(split_argv(b" "), [&b""[..]]);
        assert_eq!(
            split_argv(b" hgetset a a 2"),
            [&b"hgetset"[..], b"a", b"a", b"2"]
        );
        assert_eq!(split_argv(b"|x y|z"), [&b"x y"[..], b"z"]);
    }

    #[test]
    fn arity_agrees_with_redis_exhaustively_near_zero() {
        for arity in (-70..=70).filter(|&a| a != 0) {
            for argc in 0..=72 {
                check_arity(arity, argc, "table");
            }
        }
        for arity in [i32::MIN, i32::MIN + 1, i32::MAX] {
            for argc in [0, 1, 1 << 31, (1 << 31) - 1, (1 << 31) + 1, usize::MAX >> 1] {
                check_arity(arity, argc, "extremes");
            }
        }
    }
}
