//! Key handles (`RedisModuleKey *`): opening, closing, type, delete, hash fields, module values.

use super::datatype::{Stored, TypeHandle};
use super::{OK, RawCtx, RedisStr, RedisString, api};
use crate::key::KeyKind;
use redis_module::raw;
use std::cell::Cell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::{self, NonNull};

/// An open key of context `'c`, closed on drop. `None` inside when a key opened for reading
/// does not exist (Redis returns NULL then).
pub(crate) struct KeyHandle<'c> {
    ptr: Option<NonNull<raw::RedisModuleKey>>,
    ctx: *mut raw::RedisModuleCtx,
    /// Signal "modified" to Redis when closing (a write went through this handle).
    signal: Cell<bool>,
    /// Redis's own handle (a scan callback's): not closed here.
    borrowed: bool,
    _ctx: PhantomData<&'c RawCtx>,
}

/// How a key is opened.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenMode {
    pub(crate) write: bool,
    /// Extra `REDISMODULE_OPEN_KEY_*` bits.
    pub(crate) flags: c_int,
}

impl OpenMode {
    /// The mode for `flags`, or an error naming the first flag this server lacks.
    pub(crate) fn from_flags(flags: crate::key::OpenFlags) -> crate::Result<OpenMode> {
        let supported = RawCtx::open_key_flags_supported();
        let mut bits = 0;
        for (on, bit, name) in [
            (flags.notouch, raw::REDISMODULE_OPEN_KEY_NOTOUCH, "NOTOUCH"),
            (
                flags.nonotify,
                raw::REDISMODULE_OPEN_KEY_NONOTIFY,
                "NONOTIFY",
            ),
            (flags.nostats, raw::REDISMODULE_OPEN_KEY_NOSTATS, "NOSTATS"),
            (
                flags.noexpire,
                raw::REDISMODULE_OPEN_KEY_NOEXPIRE,
                "NOEXPIRE",
            ),
            (
                flags.noeffects,
                raw::REDISMODULE_OPEN_KEY_NOEFFECTS,
                "NOEFFECTS",
            ),
        ] {
            if on {
                let bit = bit as c_int;
                if supported & bit == 0 {
                    return Err(crate::Error::new(format!(
                        "this server cannot open keys with {name} (it needs Redis 7.2 or later, or Valkey 8)"
                    )));
                }
                bits |= bit;
            }
        }
        Ok(OpenMode {
            write: flags.write,
            flags: bits,
        })
    }
}

/// `REDISMODULE_HASH_DELETE`: the value pointer that deletes a field.
/// (The C macro is `((RedisModuleString*)(long)1)`: the address 1, never dereferenced.)
const HASH_DELETE: *mut raw::RedisModuleString = ptr::without_provenance_mut(1);

/// A module value as found at a key.
pub(crate) enum Found<P> {
    /// No value.
    Empty,
    /// Something else (another type, or another module's type).
    Other,
    /// A value of the asked type.
    Value(P),
}

impl RawCtx {
    /// `RedisModule_OpenKey` for reading, or reading and writing.
    #[inline]
    pub(crate) fn open_key<'c>(&'c self, name: &RedisStr, mode: OpenMode) -> KeyHandle<'c> {
        let mode = if mode.write {
            raw::REDISMODULE_READ | raw::REDISMODULE_WRITE
        } else {
            raw::REDISMODULE_READ
        } as c_int
            | mode.flags;
        // SAFETY: a live context and key name; the key is closed by KeyHandle's Drop, before
        // the context ends (the borrow ties it to `self`).
        let p = unsafe { api!(RedisModule_OpenKey)(self.as_ptr(), name.as_ptr(), mode) };
        KeyHandle {
            ptr: NonNull::new(p.cast()),
            ctx: self.as_ptr(),
            signal: Cell::new(false),
            borrowed: false,
            _ctx: PhantomData,
        }
    }

    /// The `REDISMODULE_OPEN_KEY_*` flags this server accepts (`RedisModule_GetOpenKeyModesAll`,
    /// Redis 7.2+; before that only `NOTOUCH`).
    pub(crate) fn open_key_flags_supported() -> c_int {
        if super::has_api!(RedisModule_GetOpenKeyModesAll) {
            // SAFETY: a plain query of the server.
            unsafe { api!(RedisModule_GetOpenKeyModesAll)() }
        } else {
            raw::REDISMODULE_OPEN_KEY_NOTOUCH as c_int
        }
    }
}

impl<'c> KeyHandle<'c> {
    /// Redis's own open key passed to a callback (a scan's): used, never closed here.
    pub(crate) fn borrowed(ctx: &'c RawCtx, key: *mut raw::RedisModuleKey) -> KeyHandle<'c> {
        KeyHandle {
            ptr: NonNull::new(key),
            ctx: ctx.as_ptr(),
            signal: Cell::new(false),
            borrowed: true,
            _ctx: PhantomData,
        }
    }

    #[inline]
    fn raw(&self) -> Option<*mut raw::RedisModuleKey> {
        self.ptr.map(NonNull::as_ptr)
    }

    #[inline]
    pub(super) fn raw_ptr(&self) -> Option<*mut raw::RedisModuleKey> {
        self.raw()
    }

    /// Signals "modified" to Redis when the handle is closed.
    #[inline]
    pub(crate) fn signal_on_close(&self) {
        self.signal.set(true);
    }

    /// `RedisModule_KeyType` (`REDISMODULE_KEYTYPE_EMPTY` for a missing key).
    #[inline]
    fn key_type(&self) -> isize {
        match self.raw() {
            None => raw::REDISMODULE_KEYTYPE_EMPTY,
            // SAFETY: an open key handle.
            Some(p) => unsafe { api!(RedisModule_KeyType)(p) as isize },
        }
    }

    /// What the key holds.
    #[inline]
    pub(crate) fn kind(&self) -> KeyKind {
        match self.key_type() {
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

    /// `RedisModule_DeleteKey`; false if there was no handle.
    pub(crate) fn delete(&self) -> bool {
        match self.raw() {
            // SAFETY: an open key handle (writability is the caller's check; Redis refuses
            // otherwise).
            Some(p) => unsafe { api!(RedisModule_DeleteKey)(p) == OK },
            None => false,
        }
    }

    /// `RedisModule_GetLRU` (`lfu`: `RedisModule_GetLFU`): the idle time in ms (the access
    /// frequency), -1 under the other kind of eviction policy; `None` without a value.
    pub(crate) fn eviction_clock(&self, lfu: bool) -> Option<i64> {
        let p = self.raw()?;
        let mut v: i64 = -1;
        // SAFETY: an open key handle; Redis writes `v`.
        let r = unsafe {
            if lfu {
                api!(RedisModule_GetLFU)(p, &mut v)
            } else {
                api!(RedisModule_GetLRU)(p, &mut v)
            }
        };
        (r == OK).then_some(v)
    }

    /// `RedisModule_SetLRU` (idle ms) / `RedisModule_SetLFU` (frequency): whether it was set.
    pub(crate) fn set_eviction_clock(&self, lfu: bool, v: i64) -> bool {
        let Some(p) = self.raw() else {
            return false;
        };
        // SAFETY: an open key handle.
        unsafe {
            if lfu {
                api!(RedisModule_SetLFU)(p, v) == OK
            } else {
                api!(RedisModule_SetLRU)(p, v) == OK
            }
        }
    }

    /// `RedisModule_HashGet` of one field: a new string we own, or `None`.
    #[inline]
    pub(crate) fn hash_get(&self, field: &RedisStr) -> Option<RedisString> {
        let p = self.raw()?;
        let mut out: *mut raw::RedisModuleString = ptr::null_mut();
        // SAFETY: an open key; `field` is a live string; `out` receives a new string we own
        // (no auto memory); the variadic list is NULL-terminated.
        unsafe {
            api!(RedisModule_HashGet)(
                p,
                raw::REDISMODULE_HASH_NONE as c_int,
                field.as_ptr(),
                &mut out as *mut *mut raw::RedisModuleString,
                ptr::null_mut::<c_void>(),
            )
        };
        // SAFETY: a fresh string owned by us.
        NonNull::new(out).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// `RedisModule_HashSet` of one field to `value` (`None`: delete the field); how many
    /// existing fields it updated or deleted.
    #[inline]
    pub(crate) fn hash_set(&self, field: &RedisStr, value: Option<&RedisStr>) -> c_int {
        self.hash_set_flags(field, value, raw::REDISMODULE_HASH_NONE as c_int)
    }

    /// `RedisModule_HashSet` of one field under `when` (`REDISMODULE_HASH_NX`/`XX`).
    #[inline]
    pub(crate) fn hash_set_when(
        &self,
        field: &RedisStr,
        value: Option<&RedisStr>,
        when: crate::key::hash::When,
    ) -> c_int {
        use crate::key::hash::When;
        let flags = match when {
            When::Always => raw::REDISMODULE_HASH_NONE,
            When::Absent => raw::REDISMODULE_HASH_NX,
            When::Present => raw::REDISMODULE_HASH_XX,
        } as c_int;
        self.hash_set_flags(field, value, flags)
    }

    /// `RedisModule_HashSet` of one field with `REDISMODULE_HASH_*` flags (NX, XX, COUNT_ALL).
    #[inline]
    fn hash_set_flags(&self, field: &RedisStr, value: Option<&RedisStr>, flags: c_int) -> c_int {
        let Some(p) = self.raw() else { return 0 };
        let value = value.map_or(HASH_DELETE, RedisStr::as_ptr);
        // SAFETY: an open key; live field/value strings (Redis copies or retains them);
        // NULL-terminated variadic list.
        unsafe {
            api!(RedisModule_HashSet)(p, flags, field.as_ptr(), value, ptr::null_mut::<c_void>())
        }
    }

    /// Whether the hash has `field` (`RedisModule_HashGet` with `REDISMODULE_HASH_EXISTS`).
    pub(crate) fn hash_exists(&self, field: &RedisStr) -> bool {
        let Some(p) = self.raw() else { return false };
        let mut exists: c_int = 0;
        // SAFETY: an open key; with HASH_EXISTS the out pointer is an int; NULL-terminated.
        unsafe {
            api!(RedisModule_HashGet)(
                p,
                raw::REDISMODULE_HASH_EXISTS as c_int,
                field.as_ptr(),
                &mut exists as *mut c_int,
                ptr::null_mut::<c_void>(),
            )
        };
        exists != 0
    }

    /// The value of type `T` at the key, as stored by this toolkit.
    fn module_ptr<T>(&self, ty: &TypeHandle) -> Found<*mut Stored<T>> {
        let Some(p) = self.raw() else {
            return Found::Empty;
        };
        match self.key_type() {
            raw::REDISMODULE_KEYTYPE_EMPTY => Found::Empty,
            raw::REDISMODULE_KEYTYPE_MODULE => {
                // SAFETY: an open key holding a module value.
                let t = unsafe { api!(RedisModule_ModuleTypeGetType)(p) };
                if t.is_null() || t != ty.get() {
                    return Found::Other;
                }
                // SAFETY: as above; every value of this type is a Box<Stored<T>> (made by
                // `set_value` or the data type callbacks of the same `TypeHandle`).
                Found::Value(unsafe { api!(RedisModule_ModuleTypeGetValue)(p) }.cast())
            }
            _ => Found::Other,
        }
    }

    /// The value of type `T`, borrowed from the key (which stays open while it is borrowed).
    pub(crate) fn value<T>(&self, ty: &TypeHandle) -> Found<&Stored<T>> {
        match self.module_ptr::<T>(ty) {
            // SAFETY: the key's live value; no `&mut` to it can exist while `self` is borrowed
            // shared (mutation goes through `value_mut`, which needs `&mut self`).
            Found::Value(p) => Found::Value(unsafe { &*p }),
            Found::Empty => Found::Empty,
            Found::Other => Found::Other,
        }
    }

    /// The value of type `T`, mutably.
    pub(crate) fn value_mut<T>(&mut self, ty: &TypeHandle) -> Found<&mut Stored<T>> {
        match self.module_ptr::<T>(ty) {
            // SAFETY: the key's live value, borrowed exclusively through `&mut self`.
            Found::Value(p) => Found::Value(unsafe { &mut *p }),
            Found::Empty => Found::Empty,
            Found::Other => Found::Other,
        }
    }

    /// `RedisModule_ModuleTypeSetValue`: the key takes `value` (and frees what it held through
    /// the type's free callback). On refusal the value is given back.
    pub(crate) fn set_value<T>(
        &mut self,
        ty: &TypeHandle,
        value: Box<Stored<T>>,
    ) -> Result<(), Box<Stored<T>>> {
        let Some(p) = self.raw() else {
            return Err(value);
        };
        let v = Box::into_raw(value);
        // SAFETY: an open key; the type was created at load; on success Redis owns `v`.
        if unsafe { api!(RedisModule_ModuleTypeSetValue)(p, ty.get(), v.cast()) } == OK {
            Ok(())
        } else {
            // SAFETY: Redis did not take it.
            Err(unsafe { Box::from_raw(v) })
        }
    }
}

impl KeyHandle<'_> {
    /// Puts `value` in the place of the key's value of type `T`
    /// (`RedisModule_ModuleTypeReplaceValue`: the key is not deleted and added again, so it
    /// keeps its expiry) and hands back the old value; `Err(value)`, nothing changed, unless
    /// the key holds a `T`.
    pub(crate) fn replace_value<T>(
        &mut self,
        ty: &TypeHandle,
        value: Box<Stored<T>>,
    ) -> Result<Option<Box<Stored<T>>>, Box<Stored<T>>> {
        let (Found::Value(_), Some(p)) = (self.module_ptr::<T>(ty), self.raw()) else {
            return Err(value);
        };
        let v = Box::into_raw(value);
        let mut old: *mut c_void = ptr::null_mut();
        // SAFETY: an open key holding a value of this type; on success Redis owns `v` and hands
        // back the old value, which it no longer references.
        let status =
            unsafe { api!(RedisModule_ModuleTypeReplaceValue)(p, ty.get(), v.cast(), &mut old) };
        if status != OK {
            // SAFETY: Redis did not take `v`.
            return Err(unsafe { Box::from_raw(v) });
        }
        // SAFETY: the old value was stored by this module as a `Box<Stored<T>>` (its type was
        // checked above) and is ours alone now.
        Ok(NonNull::new(old).map(|o| unsafe { Box::from_raw(o.as_ptr().cast::<Stored<T>>()) }))
    }

    /// `RedisModule_SaveDataTypeToString` of the key's value of type `T` (what `DUMP` would
    /// hold for it, without the envelope); `None` if the key holds no such value.
    pub(crate) fn dump_value<T>(&self, ty: &TypeHandle) -> Option<RedisString> {
        let Found::Value(v) = self.module_ptr::<T>(ty) else {
            return None;
        };
        // SAFETY: a live context and the key's value of this type (its rdb_save reads it);
        // the string is new and ours.
        let s = unsafe { api!(RedisModule_SaveDataTypeToString)(self.ctx, v.cast(), ty.get()) };
        // SAFETY: a fresh string owned by us.
        NonNull::new(s).map(|p| unsafe { RedisString::from_raw(p) })
    }

    /// Loads a value of type `T` from `data` (`RedisModule_LoadDataTypeFromStringEncver`, through
    /// the type's rdb_load) and stores it in the key; false if the data is refused.
    pub(crate) fn restore_value<T>(
        &mut self,
        ty: &TypeHandle,
        data: &RedisStr,
        encver: i32,
    ) -> bool {
        if self.raw().is_none() {
            return false;
        }
        // SAFETY: a live string and the registered type; the result is a value made by this
        // type's rdb_load (a `Box<Stored<T>>`), ours until the key takes it.
        let v = unsafe {
            api!(RedisModule_LoadDataTypeFromStringEncver)(data.as_ptr(), ty.get(), encver)
        };
        if v.is_null() {
            return false;
        }
        // SAFETY: as above.
        let stored = unsafe { Box::from_raw(v.cast::<Stored<T>>()) };
        self.set_value(ty, stored).is_ok()
    }

    /// Exchanges the values of type `T` of two keys (`RedisModule_ModuleTypeReplaceValue` on
    /// each); false (nothing changed) unless both hold one.
    pub(crate) fn swap_value<T>(&mut self, other: &mut KeyHandle<'_>, ty: &TypeHandle) -> bool {
        let (Found::Value(a), Found::Value(_)) =
            (self.module_ptr::<T>(ty), other.module_ptr::<T>(ty))
        else {
            return false;
        };
        let (Some(pa), Some(pb)) = (self.raw(), other.raw()) else {
            return false;
        };
        let mut b: *mut c_void = ptr::null_mut();
        // SAFETY: both keys are open for writing and hold values of this type; ReplaceValue
        // hands back the old value without freeing it, so each value moves to the other key
        // and none is freed or leaked.
        unsafe {
            if api!(RedisModule_ModuleTypeReplaceValue)(pb, ty.get(), a.cast(), &mut b) != OK {
                return false;
            }
            if api!(RedisModule_ModuleTypeReplaceValue)(pa, ty.get(), b, ptr::null_mut()) == OK {
                return true;
            }
            // Put `b` back where it was, so no value is held by two keys.
            api!(RedisModule_ModuleTypeReplaceValue)(pb, ty.get(), b, ptr::null_mut());
            false
        }
    }
}

impl Drop for KeyHandle<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.borrowed {
            return;
        }
        if let Some(p) = self.ptr {
            if self.signal.get() {
                // SAFETY: the key's context is live (the handle borrows it); the name is the
                // key's own string, retained by Redis until the key is closed below.
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
