//! Errors a command returns, worded the way Redis words its own.

use std::borrow::Cow;
use std::fmt;

/// An error reply: the whole line after `-`, starting with its code (`ERR`, `WRONGTYPE`, ...).
///
/// ```
/// use rmkit::Error;
/// assert_eq!(Error::new("no such field").message(), "ERR no such field");
/// assert_eq!(Error::new("NOPERM not yours").message(), "NOPERM not yours");
/// assert_eq!(Error::wrong_type().message(),
///            "WRONGTYPE Operation against a key holding the wrong kind of value");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Cow<'static, str>);

/// What command handlers return.
pub type Result<T = crate::Reply, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `msg`; `ERR ` is prepended unless `msg` already starts with an upper-case
    /// code word (`WRONGTYPE ...`, `OOM ...`). Line breaks are replaced by spaces (RESP errors
    /// are one line).
    pub fn new(msg: impl Into<Cow<'static, str>>) -> Self {
        let msg = msg.into();
        let msg = if msg.contains(['\r', '\n']) {
            Cow::Owned(msg.replace(['\r', '\n'], " "))
        } else {
            msg
        };
        if has_code(&msg) {
            Error(msg)
        } else {
            Error(Cow::Owned(format!("ERR {msg}")))
        }
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

fn has_code(msg: &str) -> bool {
    match msg.split_once(' ') {
        Some((code, _)) => !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase()),
        None => false,
    }
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
    fn code_is_added_only_when_missing() {
        assert_eq!(Error::new("bad thing").message(), "ERR bad thing");
        assert_eq!(Error::new("ERR bad thing").message(), "ERR bad thing");
        assert_eq!(Error::new("OOM too big").message(), "OOM too big");
        assert_eq!(Error::new("Oops bad").message(), "ERR Oops bad");
        assert_eq!(Error::new("NOSPACE").message(), "ERR NOSPACE");
    }

    #[test]
    fn line_breaks_never_reach_the_wire() {
        assert_eq!(Error::new("a\r\nb").message(), "ERR a  b");
    }

    #[test]
    fn arity_wording_matches_redis() {
        assert_eq!(
            Error::wrong_arity("hgetset").message(),
            "ERR wrong number of arguments for 'hgetset' command"
        );
    }
}
