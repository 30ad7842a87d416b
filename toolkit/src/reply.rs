//! What a command answers. Built as a value and sent after the handler returns, so a handler that
//! fails or panics halfway never leaves a half-written reply on the wire.

use crate::{Error, RedisString};
use std::borrow::Cow;

/// A reply to the client.
///
/// The RESP3 types (`Map`, `Set`, `Bool`, `BigNumber`, `Verbatim`, and `Double`/`Null`) are sent
/// as such to clients that said `HELLO 3`; Redis itself downgrades them for RESP2 clients (a map
/// becomes a flat array of keys and values, a bool the integer 1 or 0, a big number or double a
/// bulk string, a verbatim string a bulk string without its format).
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
    /// A map (RESP3 `%`; a flat key/value array in RESP2).
    Map(Vec<(Reply, Reply)>),
    /// A set (RESP3 `~`; an array in RESP2).
    Set(Vec<Reply>),
    /// A boolean (RESP3 `#`; 1 or 0 in RESP2).
    Bool(bool),
    /// A big number, as its decimal digits (RESP3 `(`; a bulk string in RESP2).
    BigNumber(String),
    /// Nothing now: the reply is sent later (returned by
    /// [`Context::block_on_thread`](crate::Context::block_on_thread) and
    /// [`Context::stream_array`](crate::Context::stream_array)).
    Deferred,
    /// An error as an element of an array or map (a whole-command error is the handler's
    /// `Err`).
    Error(Error),
    /// Text with a three-letter format such as `txt` or `mkd` (RESP3 `=`; a bulk string in RESP2).
    Verbatim {
        /// The format, exactly three bytes (`txt`, `mkd`).
        format: [u8; 3],
        /// The text.
        text: Vec<u8>,
    },
    /// `reply` with RESP3 attributes (metadata a client may read or ignore, RESP3 `|`) sent
    /// before it; RESP2 clients get `reply` alone.
    ///
    /// ```
    /// use rmkit::Reply;
    /// let r = Reply::Attributed {
    ///     attributes: vec![(Reply::from("ttl"), Reply::Integer(10))],
    ///     reply: Box::new(Reply::from("value")),
    /// };
    /// # let _ = r;
    /// ```
    Attributed {
        /// The attributes, as key/value pairs.
        attributes: Vec<(Reply, Reply)>,
        /// The reply they describe.
        reply: Box<Reply>,
    },
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
        Reply::Bool(v)
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

impl From<Error> for Reply {
    fn from(e: Error) -> Self {
        Reply::Error(e)
    }
}
