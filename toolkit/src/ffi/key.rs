//! Open keys and typed access to their values.

use super::{Context, RedisStr, RedisString, api};
use crate::{Error, Result};
use redis_module::raw;
use std::cell::Cell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::{self, NonNull};

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

/// An open key, closed when dropped. Borrowed from the [`Context`] it was opened in.
///
/// A key opened for writing tells Redis it was modified (for `WATCH` and client-side caching)
/// only if something was written through it: the toolkit sets
/// `REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED` and signals on close when a write happened,
/// so a command that opens a key writable and then changes nothing (a `WRONGTYPE` error, an
/// `NX` that does not set, a delete that matches nothing) leaves other clients' transactions
/// and caches alone, as native commands do.
pub struct Key<'c> {
    /// NULL when a key opened for reading does not exist.
    ptr: Option<NonNull<raw::RedisModuleKey>>,
    /// The context the key was opened in (for the modified-key signal on close).
    ctx: *mut raw::RedisModuleCtx,
    pub(super) writable: bool,
    /// Whether something was written through this handle.
    modified: Cell<bool>,
    _ctx: PhantomData<&'c Context>,
}

impl<'c> Key<'c> {
    /// # Safety
    /// `ptr` is NULL or a key handle of context `ctx`, not closed elsewhere.
    #[inline]
    pub(crate) unsafe fn from_raw(
        ctx: *mut raw::RedisModuleCtx,
        ptr: *mut raw::RedisModuleKey,
        writable: bool,
    ) -> Key<'c> {
        Key {
            ptr: NonNull::new(ptr),
            ctx,
            writable,
            modified: Cell::new(false),
            _ctx: PhantomData,
        }
    }

    /// Records that the value changed: signalled to Redis when the key is closed.
    #[inline]
    pub(super) fn mark_modified(&self) {
        self.modified.set(true);
    }

    /// `Err` unless the key was opened for writing.
    #[inline]
    pub(super) fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(read_only())
        }
    }

    #[inline]
    pub(super) fn raw(&self) -> *mut raw::RedisModuleKey {
        self.ptr.map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    /// What the key holds.
    #[inline]
    pub fn kind(&self) -> KeyKind {
        let Some(p) = self.ptr else {
            return KeyKind::Empty;
        };
        // SAFETY: an open key handle.
        let t = unsafe { api!(RedisModule_KeyType)(p.as_ptr()) } as isize;
        match t {
            raw::REDISMODULE_KEYTYPE_STRING => KeyKind::String,
            raw::REDISMODULE_KEYTYPE_LIST => KeyKind::List,
            raw::REDISMODULE_KEYTYPE_HASH => KeyKind::Hash,
            raw::REDISMODULE_KEYTYPE_SET => KeyKind::Set,
            raw::REDISMODULE_KEYTYPE_ZSET => KeyKind::ZSet,
            raw::REDISMODULE_KEYTYPE_MODULE => KeyKind::Module,
            raw::REDISMODULE_KEYTYPE_STREAM => KeyKind::Stream,
            _ => KeyKind::Empty,
        }
    }

    /// Deletes the key (whatever it holds); returns whether it existed.
    pub fn delete(&self) -> Result<bool> {
        self.check_writable()?;
        if self.kind() == KeyKind::Empty {
            return Ok(false);
        }
        // SAFETY: an open writable key handle.
        unsafe { api!(RedisModule_DeleteKey)(self.raw()) };
        self.mark_modified();
        Ok(true)
    }

    /// The key as a hash (empty or holding a hash), or `WRONGTYPE ...`.
    #[inline]
    pub fn hash(&self) -> Result<Hash<'_, 'c>> {
        match self.kind() {
            KeyKind::Empty | KeyKind::Hash => Ok(Hash { key: self }),
            _ => Err(Error::wrong_type()),
        }
    }
}

/// The error for a write through a key opened for reading.
#[cold]
fn read_only() -> Error {
    Error::new("key was opened read-only; use Context::open_key_writable")
}

impl Drop for Key<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(p) = self.ptr {
            if self.modified.get() {
                // SAFETY: the key's context is live (the key borrows it); the name is the key's
                // own string, retained by Redis until the key is closed below.
                unsafe {
                    let name = api!(RedisModule_GetKeyNameFromModuleKey)(p.as_ptr());
                    api!(RedisModule_SignalModifiedKey)(self.ctx, name.cast_mut());
                }
            }
            // SAFETY: an open key handle, closed exactly once.
            unsafe { api!(RedisModule_CloseKey)(p.as_ptr()) };
        }
    }
}

/// Field access to a hash key. Any number of fields: every operation is one C call per field,
/// so nothing caps how many a command may touch.
pub struct Hash<'k, 'c> {
    key: &'k Key<'c>,
}

/// `REDISMODULE_HASH_DELETE`: the value pointer that deletes a field.
/// (The C macro is `((RedisModuleString*)(long)1)`: the address 1, never dereferenced.)
const HASH_DELETE: *mut raw::RedisModuleString = ptr::without_provenance_mut(1);

impl Hash<'_, '_> {
    /// The value of `field`, or `None`.
    #[inline]
    pub fn get(&self, field: &RedisStr) -> Option<RedisString> {
        self.key.ptr?;
        let mut out: *mut raw::RedisModuleString = ptr::null_mut();
        // SAFETY: open key; `field` is a live string; `out` receives a new string we own (the
        // context has no auto memory); the variadic list is NULL-terminated.
        unsafe {
            api!(RedisModule_HashGet)(
                self.key.raw(),
                raw::REDISMODULE_HASH_NONE as c_int,
                field.as_ptr(),
                &mut out as *mut *mut raw::RedisModuleString,
                ptr::null_mut::<c_void>(),
            )
        };
        // SAFETY: a fresh string owned by us.
        NonNull::new(out).map(|p| unsafe { RedisString::from_raw(p) })
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
        self.set_raw(field, value.as_ptr()).map(drop)
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
        Ok(self.set_raw(field, HASH_DELETE)? == 1)
    }

    /// One `RedisModule_HashSet` call; returns how many existing fields it updated or deleted.
    #[inline]
    fn set_raw(&self, field: &RedisStr, value: *mut raw::RedisModuleString) -> Result<c_int> {
        self.key.check_writable()?;
        // SAFETY: open writable key; live field/value strings (Redis copies or retains them);
        // NULL-terminated variadic list.
        let n = unsafe {
            api!(RedisModule_HashSet)(
                self.key.raw(),
                raw::REDISMODULE_HASH_NONE as c_int,
                field.as_ptr(),
                value,
                ptr::null_mut::<c_void>(),
            )
        };
        // A set always writes; a delete only if the field existed.
        if value != HASH_DELETE || n > 0 {
            self.key.mark_modified();
        }
        Ok(n)
    }
}
