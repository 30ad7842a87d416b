//! The pure argument layer: functions of bytes only, so they run in unit tests and fuzzers
//! without a server, and accept exactly what Redis accepts. Command parameters
//! ([`Param`](super::Param)) parse themselves with it.
//!
//! [`Args`] walks a command's arguments (`&[RedisStr]` in a handler, `&[&[u8]]` in a test or a
//! fuzzer) and turns them into typed values with Redis's own error texts, without allocating:
//!
//! ```
//! use rmkit::command::Args;
//! use rmkit::keywords;
//!
//! keywords! {
//!     /// JSON.SET's condition.
//!     pub enum Cond { Nx = "NX", Xx = "XX" }
//! }
//!
//! let argv: &[&[u8]] = &[b"json.set", b"k", b"[1]", b"nx"];
//! let mut args = Args::new(argv);
//! let key = args.next_arg()?;
//! let doc = args.next_bytes()?;
//! let cond = args.optional::<Cond>()?;
//! args.done()?;
//! assert_eq!((*key, doc, cond), (&b"k"[..], &b"[1]"[..], Some(Cond::Nx)));
//!
//! let short: &[&[u8]] = &[b"json.set", b"k"];
//! let mut args = Args::new(short);
//! args.next_arg()?;
//! assert_eq!(args.next_bytes().unwrap_err().message(),
//!            "ERR wrong number of arguments for 'json.set' command");
//! # Ok::<(), rmkit::Error>(())
//! ```

use crate::Error;

/// A cursor over a command's arguments (the command name first, as Redis passes them).
#[derive(Debug, Clone)]
pub struct Args<'a, T> {
    argv: &'a [T],
    pos: usize,
    sub: bool,
}

impl<'a, T: AsRef<[u8]>> Args<'a, T> {
    /// Starts after the command name (`argv[0]`).
    pub fn new(argv: &'a [T]) -> Self {
        Args {
            argv,
            pos: 1.min(argv.len()),
            sub: false,
        }
    }

    /// Skips a subcommand's name (`JSON.DEBUG MEMORY key`: the arguments start after
    /// `MEMORY`).
    #[doc(hidden)]
    pub fn skip_subcommand(&mut self) {
        self.pos = 2.min(self.argv.len());
        self.sub = true;
    }

    /// The command name (lower case), for error messages.
    pub(crate) fn command(&self) -> String {
        let name = |i: usize| {
            self.argv
                .get(i)
                .map(|c| String::from_utf8_lossy(c.as_ref()).to_lowercase())
                .unwrap_or_default()
        };
        if self.sub {
            format!("{}|{}", name(0), name(1))
        } else {
            name(0)
        }
    }

    /// The next argument as it was passed (e.g. a `RedisStr` to open a key with), or the arity
    /// error if there is none.
    #[inline]
    pub fn next_arg(&mut self) -> Result<&'a T, Error> {
        match self.argv.get(self.pos) {
            Some(a) => {
                self.pos += 1;
                Ok(a)
            }
            None => Err(self.missing()),
        }
    }

    /// The arity error for a missing argument (off the hot path).
    #[cold]
    #[inline(never)]
    fn missing(&self) -> Error {
        Error::wrong_arity(&self.command())
    }

    /// The next argument's bytes.
    #[inline]
    pub fn next_bytes(&mut self) -> Result<&'a [u8], Error> {
        self.next_arg().map(AsRef::as_ref)
    }

    /// The next argument as UTF-8.
    pub fn next_str(&mut self) -> Result<&'a str, Error> {
        let b = self.next_bytes()?;
        std::str::from_utf8(b).map_err(|_| Error::new("argument is not valid UTF-8"))
    }

    /// The next argument as an integer ([`parse_i64`] rules).
    pub fn next_i64(&mut self) -> Result<i64, Error> {
        parse_i64(self.next_bytes()?)
    }

    /// The next argument as a non-negative integer.
    pub fn next_u64(&mut self) -> Result<u64, Error> {
        parse_u64(self.next_bytes()?)
    }

    /// The next argument as a float ([`parse_f64`] rules).
    pub fn next_f64(&mut self) -> Result<f64, Error> {
        parse_f64(self.next_bytes()?)
    }

    /// The next argument as one of the keywords of `K` (case-insensitive), or `ERR syntax error`.
    pub fn next_keyword<K: Keyword>(&mut self) -> Result<K, Error> {
        K::parse(self.next_bytes()?).ok_or_else(Error::syntax)
    }

    /// A keyword of `K` if one comes next (consumed), `None` at the end; anything else is
    /// `ERR syntax error`.
    pub fn optional<K: Keyword>(&mut self) -> Result<Option<K>, Error> {
        if self.is_empty() {
            Ok(None)
        } else {
            self.next_keyword().map(Some)
        }
    }

    /// The keyword of `K` that comes next, if it is one (consumed); otherwise nothing is consumed.
    pub fn peek_keyword<K: Keyword>(&mut self) -> Option<K> {
        let k = K::parse(self.argv.get(self.pos)?.as_ref())?;
        self.pos += 1;
        Some(k)
    }

    /// The arguments not consumed yet (a variadic tail).
    pub fn rest(&mut self) -> &'a [T] {
        let r = &self.argv[self.pos..];
        self.pos = self.argv.len();
        r
    }

    /// How many arguments are left.
    pub fn len(&self) -> usize {
        self.argv.len() - self.pos
    }

    /// Whether every argument was consumed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Succeeds if every argument was consumed; `ERR syntax error` otherwise.
    pub fn done(&self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::syntax())
        }
    }
}

/// A set of keywords an argument may be (see [`keywords!`](crate::keywords!)).
pub trait Keyword: Sized {
    /// The keywords, for COMMAND DOCS.
    const TOKENS: &'static [super::docs::Arg];
    /// The keyword `arg` names (ASCII case-insensitive), if any.
    fn parse(arg: &[u8]) -> Option<Self>;
}

/// Declares an enum of keywords for [`Args::next_keyword`] / [`Args::optional`], which is also
/// a command parameter type (`cond: Option<Cond>` takes an optional `NX|XX`; COMMAND DOCS shows
/// the tokens).
///
/// ```
/// rmkit::keywords! {
///     /// Output style.
///     pub enum Style { Pretty = "PRETTY", Compact = "COMPACT" }
/// }
/// use rmkit::command::Keyword;
/// assert_eq!(Style::parse(b"pretty"), Some(Style::Pretty));
/// assert_eq!(Style::parse(b"ugly"), None);
/// ```
#[macro_export]
macro_rules! keywords {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $(
                #[doc = concat!("`", $word, "`")]
                $variant
            ),+
        }
        impl $crate::command::Keyword for $name {
            const TOKENS: &'static [$crate::command::docs::Arg] =
                &[$($crate::command::docs::Arg::token($word)),+];
            fn parse(arg: &[u8]) -> ::std::option::Option<Self> {
                $(
                    if arg.eq_ignore_ascii_case($word.as_bytes()) {
                        return ::std::option::Option::Some($name::$variant);
                    }
                )+
                ::std::option::Option::None
            }
        }
        impl<'a> $crate::command::Param<'a> for $name {
            const SHAPE: $crate::command::Shape =
                $crate::command::Shape::keyword(<$name as $crate::command::Keyword>::TOKENS);
            fn parse(
                args: &mut $crate::command::Args<'a, $crate::RedisStr>,
                _ctx: &'a $crate::Context,
            ) -> $crate::Result<Self> {
                args.next_keyword()
            }
        }
    };
}

/// Parses a float as Redis does for scores and increments (`string2d`: `strtod` without
/// surrounding spaces): decimal or exponent notation and `inf`/`-inf`; `nan`, empty strings and
/// out-of-range values (overflow to infinity, underflow to zero) are refused with
/// `ERR value is not a valid float`. (C's `strtod` also reads hexadecimal floats; this does not.)
///
/// ```
/// use rmkit::command::parse_f64;
/// assert_eq!(parse_f64(b"1.5e3"), Ok(1500.0));
/// assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
/// assert_eq!(parse_f64(b"nan").unwrap_err().message(), "ERR value is not a valid float");
/// ```
pub fn parse_f64(s: &[u8]) -> Result<f64, Error> {
    let bad = || Error::new("value is not a valid float");
    if s.is_empty()
        || s.len() > 5120
        || s[0].is_ascii_whitespace()
        || s[s.len() - 1].is_ascii_whitespace()
    {
        return Err(bad());
    }
    let text = std::str::from_utf8(s).map_err(|_| bad())?;
    let v = text.parse::<f64>().map_err(|_| bad())?;
    if v.is_nan() {
        return Err(bad());
    }
    // strtod's ERANGE, which Redis refuses: overflow to infinity (unless the text says "inf")
    // and underflow to zero (unless the number really is zero).
    let unsigned = text.trim_start_matches(['+', '-']);
    let says_inf =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
    if (v.is_infinite() && !says_inf)
        || (v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)))
    {
        return Err(bad());
    }
    Ok(v)
}

/// Parses a signed 64-bit integer with the rules of Redis's `string2ll` (what `INCRBY`,
/// `EXPIRE` and `RedisModule_StringToLongLong` use): optional `-`, no `+`, no spaces, no leading
/// zeros, no `-0`, at most 20 bytes, in `i64` range.
///
/// ```
/// use rmkit::command::parse_i64;
/// assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
/// assert!(parse_i64(b"007").is_err());
/// assert_eq!(parse_i64(b"x").unwrap_err().message(), "ERR value is not an integer or out of range");
/// ```
pub fn parse_i64(s: &[u8]) -> Result<i64, Error> {
    string2ll(s).ok_or_else(Error::not_an_integer)
}

/// Like [`parse_i64`] but also rejects negative numbers (for counts and sizes).
///
/// ```
/// assert_eq!(rmkit::command::parse_u64(b"42"), Ok(42));
/// assert!(rmkit::command::parse_u64(b"-1").is_err());
/// ```
pub fn parse_u64(s: &[u8]) -> Result<u64, Error> {
    match string2ll(s) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(Error::not_an_integer()),
    }
}

fn string2ll(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE is 21 in Redis: 20 bytes at most.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let (first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &b in rest {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::keywords! {
        enum Cond { Nx = "NX", Xx = "XX" }
    }

    #[test]
    fn args_walk_positionals_keywords_and_tails() {
        let argv: &[&[u8]] = &[b"CMD", b"key", b"42", b"-1.5", b"xx", b"a", b"b"];
        let mut a = Args::new(argv);
        assert_eq!(a.next_bytes(), Ok(&b"key"[..]));
        assert_eq!(a.next_i64(), Ok(42));
        assert_eq!(a.next_f64(), Ok(-1.5));
        assert_eq!(a.peek_keyword::<Cond>(), Some(Cond::Xx));
        assert_eq!(
            a.peek_keyword::<Cond>(),
            None,
            "not a keyword: nothing consumed"
        );
        assert_eq!(a.len(), 2);
        assert_eq!(a.rest(), &[&b"a"[..], &b"b"[..]]);
        assert!(a.done().is_ok());
        assert_eq!(
            a.next_bytes().unwrap_err().message(),
            "ERR wrong number of arguments for 'cmd' command"
        );
    }

    #[test]
    fn args_errors_use_redis_wording() {
        let argv: &[&[u8]] = &[b"c", b"x", b"NOPE", b"extra"];
        let mut a = Args::new(argv);
        assert_eq!(a.next_i64().unwrap_err(), Error::not_an_integer());
        assert_eq!(a.optional::<Cond>().unwrap_err(), Error::syntax());
        assert_eq!(a.done().unwrap_err(), Error::syntax());
        let empty: &[&[u8]] = &[];
        assert!(Args::new(empty).is_empty());
    }

    #[test]
    fn floats_follow_redis_rules() {
        for (s, v) in [
            ("1", 1.0),
            ("-0.5", -0.5),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("inf", f64::INFINITY),
            ("+2", 2.0),
        ] {
            assert_eq!(parse_f64(s.as_bytes()), Ok(v), "{s}");
        }
        for s in [
            "", " 1", "1 ", "nan", "NaN", "1,5", "abc", "1e", "--1", "1e400", "-1e400", "1e-400",
        ] {
            assert!(parse_f64(s.as_bytes()).is_err(), "{s:?}");
        }
    }

    #[test]
    fn accepts_what_redis_accepts() {
        for (s, v) in [
            ("0", 0),
            ("1", 1),
            ("-1", -1),
            ("10", 10),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ] {
            assert_eq!(parse_i64(s.as_bytes()), Ok(v), "{s}");
        }
    }

    #[test]
    fn rejects_what_redis_rejects() {
        for s in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "00",
            "1.0",
            "1e3",
            "0x10",
            "９",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999",
            "-99999999999999999999",
            "123456789012345678901",
        ] {
            assert!(parse_i64(s.as_bytes()).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn agrees_with_std_on_every_short_number_it_accepts() {
        // Differential check: whatever we accept, Rust parses to the same value and prints back
        // to the same bytes (no leading zeros, no '+').
        for n in -2000i64..2000 {
            let s = n.to_string();
            assert_eq!(parse_i64(s.as_bytes()), Ok(n));
        }
        for s in ["-00", "0001", "+0", "--1"] {
            assert!(parse_i64(s.as_bytes()).is_err());
        }
    }
}
