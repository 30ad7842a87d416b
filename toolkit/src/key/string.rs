//! String values: read in place, set, write in place, truncate, append.

use super::{Key, KeyKind};
use crate::{Error, RedisStr, Result};

impl<'c> Key<'c> {
    /// The string at this key, in place (zero-copy): `None` if the key is empty, `WRONGTYPE`
    /// for another type. The bytes are borrowed from the key; writing needs `&mut self`.
    ///
    /// ```no_run
    /// # fn f(key: &rmkit::Key<'_>) -> rmkit::Result<()> {
    /// if let Some(bytes) = key.string()? {
    ///     println!("{} bytes", bytes.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn string(&self) -> Result<Option<&[u8]>> {
        match self.kind() {
            KeyKind::Empty => Ok(None),
            KeyKind::String => Ok(Some(self.handle().string_bytes().unwrap_or_default())),
            _ => Err(Error::wrong_type()),
        }
    }

    /// Sets the key to the string `value` (replacing whatever it held, as `SET` does).
    pub fn set_string(&mut self, value: &RedisStr) -> Result<()> {
        self.check_writable()?;
        if !self.handle().string_set(value) {
            return Err(Error::new("could not set the string"));
        }
        self.modified();
        Ok(())
    }

    /// The string's bytes for writing in place (an empty key becomes an empty string first);
    /// `WRONGTYPE` for another type. Change the length with [`truncate`](Self::truncate).
    pub fn string_mut(&mut self) -> Result<&mut [u8]> {
        self.check_writable()?;
        if !matches!(self.kind(), KeyKind::Empty | KeyKind::String) {
            return Err(Error::wrong_type());
        }
        self.modified();
        Ok(self.handle_mut().string_bytes_mut().unwrap_or_default())
    }

    /// Sets the string's length to `len`: shorter cuts it, longer pads with zero bytes (an
    /// empty key becomes a string of `len` zeros).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        self.check_writable()?;
        if !matches!(self.kind(), KeyKind::Empty | KeyKind::String) {
            return Err(Error::wrong_type());
        }
        if !self.handle_mut().string_truncate(len) {
            return Err(Error::out_of_memory("could not resize the string"));
        }
        self.modified();
        Ok(())
    }

    /// Appends `bytes` to the string (`APPEND`); the new length.
    pub fn append(&mut self, bytes: &[u8]) -> Result<usize> {
        let old = self.value_len();
        self.truncate(old + bytes.len())?;
        self.string_mut()?[old..].copy_from_slice(bytes);
        Ok(old + bytes.len())
    }
}
