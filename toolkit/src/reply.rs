//! What a command answers. Built as a value and sent after the handler returns, so a handler that
//! fails or panics halfway never leaves a half-written reply on the wire.

use crate::RedisString;
use std::borrow::Cow;

/// A reply to the client.
///
/// Conversions cover the common cases: `Option<T>` is nil when `None`, integers become integer
/// replies, `Vec<u8>`/`&[u8]`/`String` become bulk strings.
///
/// ```
/// use rmkit::Reply;
/// assert_eq!(Reply::from(None::<Vec<u8>>), Reply::Null);
/// assert_eq!(Reply::from(7i64), Reply::Integer(7));
/// assert_eq!(Reply::from(&b"v"[..]), Reply::Bulk(b"v".to_vec()));
/// ```
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// Nil (`(nil)` in redis-cli, `_` in RESP3).
    Null,
    /// `+OK`.
    Ok,
    /// A simple status string (`+PONG`); must not contain line breaks.
    Simple(Cow<'static, str>),
    /// `:n`.
    Integer(i64),
    /// A double (RESP3 `,`; a bulk string in RESP2).
    Double(f64),
    /// A binary-safe bulk string.
    Bulk(Vec<u8>),
    /// A bulk string that Redis already holds (sent without copying into Rust).
    String(RedisString),
    /// An array of replies.
    Array(Vec<Reply>),
}

impl From<i64> for Reply {
    fn from(v: i64) -> Self {
        Reply::Integer(v)
    }
}

impl From<usize> for Reply {
    fn from(v: usize) -> Self {
        Reply::Integer(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Reply {
    fn from(v: bool) -> Self {
        Reply::Integer(i64::from(v))
    }
}

impl From<f64> for Reply {
    fn from(v: f64) -> Self {
        Reply::Double(v)
    }
}

impl From<Vec<u8>> for Reply {
    fn from(v: Vec<u8>) -> Self {
        Reply::Bulk(v)
    }
}

impl From<&[u8]> for Reply {
    fn from(v: &[u8]) -> Self {
        Reply::Bulk(v.to_vec())
    }
}

impl From<String> for Reply {
    fn from(v: String) -> Self {
        Reply::Bulk(v.into_bytes())
    }
}

impl From<&str> for Reply {
    fn from(v: &str) -> Self {
        Reply::Bulk(v.as_bytes().to_vec())
    }
}

impl From<RedisString> for Reply {
    fn from(v: RedisString) -> Self {
        Reply::String(v)
    }
}

impl<T: Into<Reply>> From<Option<T>> for Reply {
    fn from(v: Option<T>) -> Self {
        v.map_or(Reply::Null, Into::into)
    }
}

impl<T: Into<Reply>> From<Vec<T>> for Reply
where
    T: NotByte,
{
    fn from(v: Vec<T>) -> Self {
        Reply::Array(v.into_iter().map(Into::into).collect())
    }
}

/// Element types that make an array reply from a `Vec` (everything but `u8`, which is a bulk
/// string).
pub trait NotByte {}
impl NotByte for Reply {}
impl NotByte for i64 {}
impl NotByte for String {}
impl NotByte for Vec<u8> {}
impl NotByte for RedisString {}
impl<T> NotByte for Option<T> {}
