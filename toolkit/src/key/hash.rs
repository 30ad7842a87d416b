//! Hash fields.

use super::Key;
use crate::{RedisStr, RedisString, Result};

/// Field access to a hash key. Any number of fields: every operation is one C call per field,
/// so nothing caps how many a command may touch.
pub struct Hash<'k, 'c> {
    key: &'k Key<'c>,
}

impl<'k, 'c> Hash<'k, 'c> {
    pub(super) fn new(key: &'k Key<'c>) -> Self {
        Hash { key }
    }

    /// The value of `field`, or `None`.
    #[inline]
    pub fn get(&self, field: &RedisStr) -> Option<RedisString> {
        self.key.handle().hash_get(field)
    }

    /// The values of `fields`, in order.
    pub fn get_many<'f>(
        &self,
        fields: impl IntoIterator<Item = &'f RedisStr>,
    ) -> Vec<Option<RedisString>> {
        fields.into_iter().map(|f| self.get(f)).collect()
    }

    /// Sets `field` to `value`, creating the hash if the key was empty.
    #[inline]
    pub fn set(&self, field: &RedisStr, value: &RedisStr) -> Result<()> {
        self.key.check_writable()?;
        self.key.handle().hash_set(field, Some(value));
        self.key.modified();
        Ok(())
    }

    /// Sets every `(field, value)` pair.
    pub fn set_many<'f>(
        &self,
        pairs: impl IntoIterator<Item = (&'f RedisStr, &'f RedisStr)>,
    ) -> Result<()> {
        pairs.into_iter().try_for_each(|(f, v)| self.set(f, v))
    }

    /// Deletes `field`; returns whether it existed.
    pub fn remove(&self, field: &RedisStr) -> Result<bool> {
        self.key.check_writable()?;
        let existed = self.key.handle().hash_set(field, None) == 1;
        if existed {
            self.key.modified();
        }
        Ok(existed)
    }
}
