//! Errors a command returns, worded the way Redis words its own.

use std::borrow::Cow;
use std::fmt;

/// An error reply: the whole line after `-`, starting with its code (`ERR`, `WRONGTYPE`, ...).
///
/// The code is always explicit: [`Error::new`] is an `ERR`, [`Error::with_code`] names another
/// one. (Clients and `INFO errorstats` read the first word as the code, so a message that
/// happens to start with a capitalised word must not become one.)
///
/// ```
/// use rmkit::Error;
/// assert_eq!(Error::new("no such field").message(), "ERR no such field");
/// assert_eq!(Error::new("TTL must be positive").message(), "ERR TTL must be positive");
/// assert_eq!(Error::with_code("NOPERM", "not yours").message(), "NOPERM not yours");
/// assert_eq!(Error::wrong_type().message(),
///            "WRONGTYPE Operation against a key holding the wrong kind of value");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Cow<'static, str>);

/// What command handlers return.
pub type Result<T = crate::Reply, E = Error> = std::result::Result<T, E>;

/// RESP errors are one line: line breaks become spaces.
fn one_line(msg: Cow<'static, str>) -> Cow<'static, str> {
    if msg.contains(['\r', '\n']) {
        Cow::Owned(msg.replace(['\r', '\n'], " "))
    } else {
        msg
    }
}

impl Error {
    /// `ERR <msg>`. Line breaks are replaced by spaces (RESP errors are one line).
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        Error(Cow::Owned(format!("ERR {}", one_line(msg.into()))))
    }

    /// `<code> <msg>`, e.g. `Error::with_code("OOM", "...")`. The code must be upper-case ASCII
    /// letters (Redis's codes: `WRONGTYPE`, `OOM`, `NOPERM`, `BUSY`, ...); anything else is
    /// replaced by `ERR`, so a bad code can never garble the reply.
    pub fn with_code(code: &str, msg: impl Into<Cow<'static, str>>) -> Self {
        let code = if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()) {
            code
        } else {
            "ERR"
        };
        Error(Cow::Owned(format!("{code} {}", one_line(msg.into()))))
    }

    /// `OOM <msg>`: the server cannot spare the memory this needs.
    pub fn out_of_memory(msg: impl Into<Cow<'static, str>>) -> Self {
        Error::with_code("OOM", msg)
    }

    /// An error line sent exactly as given (line breaks replaced), whatever its first word:
    /// for replies that must match another implementation's byte for byte, or an error reply
    /// passed on from a called command.
    pub fn raw(line: impl Into<Cow<'static, str>>) -> Self {
        Error(one_line(line.into()))
    }

    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    pub const fn wrong_type() -> Self {
        Error(Cow::Borrowed(
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ))
    }

    /// `ERR value is not an integer or out of range`.
    pub const fn not_an_integer() -> Self {
        Error(Cow::Borrowed("ERR value is not an integer or out of range"))
    }

    /// `ERR syntax error`.
    pub const fn syntax() -> Self {
        Error(Cow::Borrowed("ERR syntax error"))
    }

    /// `ERR wrong number of arguments for '<command>' command`.
    pub fn wrong_arity(command: &str) -> Self {
        Error(Cow::Owned(format!(
            "ERR wrong number of arguments for '{command}' command"
        )))
    }

    /// The full error line, code first.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// How much of a user's input an error message quotes, like Redis (`unknown command '%.128s'`).
pub const EXCERPT: usize = 128;

/// At most [`EXCERPT`] bytes of `input` for an error message (as text, invalid UTF-8 replaced,
/// never cut inside a character), followed by `...` when it was cut: an error about a 5 MB
/// argument stays one short line.
///
/// ```
/// use rmkit::error::excerpt;
/// assert_eq!(excerpt(b"$.a"), "$.a");
/// let long = excerpt(&[b'x'; 1000]);
/// assert_eq!(long.len(), 128 + 3);
/// assert!(long.ends_with("..."));
/// ```
pub fn excerpt(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    if text.len() <= EXCERPT {
        return text.into_owned();
    }
    let mut end = EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?})", self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<&'static str> for Error {
    fn from(msg: &'static str) -> Self {
        Error::new(msg)
    }
}

impl From<String> for Error {
    fn from(msg: String) -> Self {
        Error::new(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_explicit() {
        assert_eq!(Error::new("bad thing").message(), "ERR bad thing");
        assert_eq!(Error::new("OOM too big").message(), "ERR OOM too big");
        assert_eq!(
            Error::new("EOF while parsing").message(),
            "ERR EOF while parsing"
        );
        assert_eq!(Error::with_code("OOM", "too big").message(), "OOM too big");
        assert_eq!(Error::out_of_memory("too big").message(), "OOM too big");
        assert_eq!(Error::with_code("lower", "x").message(), "ERR x");
        assert_eq!(Error::with_code("", "x").message(), "ERR x");
        assert_eq!(Error::raw("bad input number").message(), "bad input number");
    }

    #[test]
    fn line_breaks_never_reach_the_wire() {
        assert_eq!(Error::new("a\r\nb").message(), "ERR a  b");
        assert_eq!(Error::raw("a\nb").message(), "a b");
        assert_eq!(Error::with_code("OOM", "a\rb").message(), "OOM a b");
    }

    #[test]
    fn arity_wording_matches_redis() {
        assert_eq!(
            Error::wrong_arity("hgetset").message(),
            "ERR wrong number of arguments for 'hgetset' command"
        );
    }
}
