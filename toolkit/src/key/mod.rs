//! Keys: open them through the [`Context`](crate::Context) (or take a [`ReadKey`] /
//! [`WriteKey`] parameter), then work with what they hold.
//!
//! | type | for |
//! |---|---|
//! | [`Key`] | an open key: its type, name, delete; the typed views below |
//! | [`Hash`](struct@Hash) | the fields of a hash key ([`Key::hash`]) |
//! | module values | [`Key::value`], [`Key::update`], [`Key::set_value`] for a [data type](crate::datatype) |
//!
//! A key opened for writing tells Redis it was modified (for `WATCH` and client-side caching)
//! only if something was written through it: a command that opens a key writable and then
//! changes nothing (a `WRONGTYPE` error, an `NX` that does not set, a delete that matches
//! nothing) leaves other clients' transactions and caches alone, as native commands do.
//!
//! [`ReadKey`]: crate::command::ReadKey
//! [`WriteKey`]: crate::command::WriteKey

mod hash;
mod value;

pub use hash::Hash;
pub use value::Plain;

use crate::ffi::key::KeyHandle;
use crate::{Error, RedisStr, Result};

/// The type of the value at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// No value.
    Empty,
    /// A string.
    String,
    /// A list.
    List,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A module data type.
    Module,
    /// A stream.
    Stream,
}

/// An open key, closed when dropped. Borrowed from the [`Context`](crate::Context) it was
/// opened in.
///
/// ```no_run
/// # fn f(ctx: &rmkit::Context, name: &rmkit::RedisStr) -> rmkit::Result<()> {
/// let key = ctx.open_key_writable(name);
/// if key.kind() == rmkit::key::KeyKind::Hash {
///     key.hash()?.set(name, name)?;
/// }
/// # Ok(()) }
/// ```
pub struct Key<'c> {
    handle: KeyHandle<'c>,
    name: &'c RedisStr,
    writable: bool,
}

impl<'c> Key<'c> {
    pub(crate) fn new(handle: KeyHandle<'c>, name: &'c RedisStr, writable: bool) -> Key<'c> {
        Key {
            handle,
            name,
            writable,
        }
    }

    /// The key's name.
    #[inline]
    pub fn name(&self) -> &'c RedisStr {
        self.name
    }

    /// Whether it was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// What the key holds.
    #[inline]
    pub fn kind(&self) -> KeyKind {
        self.handle.kind()
    }

    /// Deletes the key (whatever it holds); returns whether it existed.
    pub fn delete(&mut self) -> Result<bool> {
        self.check_writable()?;
        if self.kind() == KeyKind::Empty {
            return Ok(false);
        }
        if self.handle.delete() {
            self.modified();
            Ok(true)
        } else {
            Err(Error::new("could not delete the key"))
        }
    }

    /// The key as a hash (empty or holding a hash), or `WRONGTYPE ...`.
    #[inline]
    pub fn hash(&self) -> Result<Hash<'_, 'c>> {
        match self.kind() {
            KeyKind::Empty | KeyKind::Hash => Ok(Hash::new(self)),
            _ => Err(Error::wrong_type()),
        }
    }

    /// Records that the value changed: signalled to Redis when the key is closed.
    #[inline]
    pub(crate) fn modified(&self) {
        self.handle.signal_on_close();
    }

    /// `Err` unless the key was opened for writing.
    #[inline]
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(read_only())
        }
    }

    pub(crate) fn handle(&self) -> &KeyHandle<'c> {
        &self.handle
    }

    pub(crate) fn handle_mut(&mut self) -> &mut KeyHandle<'c> {
        &mut self.handle
    }
}

/// The error for a write through a key opened for reading.
#[cold]
fn read_only() -> Error {
    Error::new("key was opened read-only; use Context::open_key_writable")
}
