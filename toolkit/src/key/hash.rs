//! Hash fields.

use super::Key;
use crate::{RedisStr, RedisString, Result};

/// When [`Hash::set_if`] writes (`HSET`'s conditions, as `HSETNX` and the C API's
/// `REDISMODULE_HASH_NX`/`XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// Only if the field does not exist yet (`NX`).
    Absent,
    /// Only if the field exists (`XX`).
    Present,
}

/// What [`Hash::set_if`] did to the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It was added.
    Inserted,
    /// Its value was replaced.
    Updated,
    /// It was deleted.
    Deleted,
    /// Nothing (the condition said no, or there was nothing to delete).
    Unchanged,
}

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

    /// Whether the hash has `field` (without reading its value).
    #[inline]
    pub fn exists(&self, field: &RedisStr) -> bool {
        self.key.handle().hash_exists(field)
    }

    /// Sets `field` to `value` (`None` deletes it) if `when` allows; what changed.
    ///
    /// ```no_run
    /// # fn f(hash: &rmkit::key::Hash<'_, '_>, f: &rmkit::RedisStr, v: &rmkit::RedisStr) -> rmkit::Result<()> {
    /// use rmkit::key::hash::{Change, When};
    /// if hash.set_if(f, Some(v), When::Absent)? == Change::Inserted {
    ///     // HSETNX semantics: only the first writer wins
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_if(&self, field: &RedisStr, value: Option<&RedisStr>, when: When) -> Result<Change> {
        self.key.check_writable()?;
        let existed = self.exists(field);
        let change = match (value.is_some(), existed, when) {
            (true, false, When::Present) | (true, true, When::Absent) => Change::Unchanged,
            (false, false, _) => Change::Unchanged,
            (true, false, _) => Change::Inserted,
            (true, true, _) => Change::Updated,
            (false, true, When::Absent) => Change::Unchanged,
            (false, true, _) => Change::Deleted,
        };
        if change != Change::Unchanged {
            self.key.handle().hash_set_when(field, value, when);
            self.key.modified();
        }
        Ok(change)
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
