//! Command filters (`RedisModule_RegisterCommandFilter`): the filter context handle, the
//! fixed table of `extern "C"` trampolines (the C callback has no private data, so each
//! registered filter gets a slot of its own) and registration.

use super::string::RetainedString;
use super::{OK, RawCtx, RedisString, api, guard};
use redis_module::raw;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The arguments of the command being filtered (`RedisModuleCommandFilterCtx *`), valid only
/// during the filter callback: made only by the trampolines here, handed out as `&mut`.
pub struct FilterArgs<'f> {
    ptr: NonNull<raw::RedisModuleCommandFilterCtx>,
    _callback: PhantomData<&'f mut ()>,
    _not_send: PhantomData<*mut ()>,
}

impl FilterArgs<'_> {
    /// How many arguments, the command name included (`CommandFilterArgsCount`).
    pub fn len(&self) -> usize {
        // SAFETY: a live filter context.
        let n = unsafe { api!(RedisModule_CommandFilterArgsCount)(self.ptr.as_ptr()) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Whether there are no arguments (never: the command name is argument 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pointer of argument `pos` (`CommandFilterArgGet`), `None` past the end.
    fn arg_ptr(&self, pos: usize) -> Option<NonNull<raw::RedisModuleString>> {
        let pos = c_int::try_from(pos).ok()?;
        // SAFETY: a live filter context; Redis checks the position.
        NonNull::new(unsafe { api!(RedisModule_CommandFilterArgGet)(self.ptr.as_ptr(), pos) })
    }

    /// The bytes of argument `pos` (0 is the command name), or `None` past the end. Borrowed:
    /// changing the arguments (which needs `&mut self`) ends the borrow.
    pub fn get(&self, pos: usize) -> Option<&[u8]> {
        let p = self.arg_ptr(pos)?;
        let mut len = 0usize;
        // SAFETY: a live argument string; its buffer lives until the argument is replaced or
        // deleted, which needs `&mut self`, so not while the returned borrow of `self` lives.
        unsafe {
            let b = api!(RedisModule_StringPtrLen)(p.as_ptr(), &mut len);
            if b.is_null() || len == 0 {
                return Some(&[]);
            }
            Some(std::slice::from_raw_parts(b.cast::<u8>(), len))
        }
    }

    /// Inserts `arg` before argument `pos` (`pos == len()` appends) (`CommandFilterArgInsert`).
    /// `false` if `pos` is out of range.
    pub fn insert(&mut self, pos: usize, arg: &[u8]) -> bool {
        let Ok(pos) = c_int::try_from(pos) else {
            return false;
        };
        if pos as usize > self.len() {
            return false;
        }
        let s = RedisString::new(arg);
        let p = s.as_ptr();
        // SAFETY: a live filter context; on success Redis owns the string.
        let r = unsafe { api!(RedisModule_CommandFilterArgInsert)(self.ptr.as_ptr(), pos, p) };
        if r == OK {
            let _ = s.into_raw();
            true
        } else {
            false
        }
    }

    /// Replaces argument `pos` with `arg` (`CommandFilterArgReplace`). `false` if `pos` is out
    /// of range.
    pub fn replace(&mut self, pos: usize, arg: &[u8]) -> bool {
        let Ok(pos) = c_int::try_from(pos) else {
            return false;
        };
        if pos as usize >= self.len() {
            return false;
        }
        let s = RedisString::new(arg);
        let p = s.as_ptr();
        // SAFETY: a live filter context; on success Redis owns the string (and frees the old).
        let r = unsafe { api!(RedisModule_CommandFilterArgReplace)(self.ptr.as_ptr(), pos, p) };
        if r == OK {
            let _ = s.into_raw();
            true
        } else {
            false
        }
    }

    /// Deletes argument `pos` (`CommandFilterArgDelete`). `false` if `pos` is out of range.
    pub fn delete(&mut self, pos: usize) -> bool {
        let Ok(pos) = c_int::try_from(pos) else {
            return false;
        };
        if pos as usize >= self.len() {
            return false;
        }
        // SAFETY: a live filter context; Redis frees the argument.
        unsafe { api!(RedisModule_CommandFilterArgDelete)(self.ptr.as_ptr(), pos) == OK }
    }

    /// Keeps argument `pos` past the filter (`RedisModule_RetainString`): a new reference the
    /// caller owns, storable in a static and read later with a `Context`.
    pub fn retain(&self, pos: usize) -> Option<RetainedString> {
        let p = self.arg_ptr(pos)?;
        // SAFETY: a live argument string; one more reference, which the RedisString owns.
        unsafe {
            api!(RedisModule_RetainString)(std::ptr::null_mut(), p.as_ptr());
            Some(RetainedString::new(RedisString::from_raw(p)))
        }
    }
}

/// How many filters one module may have registered at once.
pub(crate) const SLOTS: usize = 8;

static FILTERS: [AtomicPtr<()>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

extern "C" fn trampoline<const I: usize>(fctx: *mut raw::RedisModuleCommandFilterCtx) {
    let f = FILTERS[I].load(Ordering::Acquire);
    let Some(ptr) = NonNull::new(fctx) else {
        return;
    };
    if f.is_null() {
        return;
    }
    // SAFETY: only `register` stores into FILTERS, and only `fn(&mut FilterArgs)` pointers.
    let f: fn(&mut FilterArgs<'_>) =
        unsafe { std::mem::transmute::<*mut (), fn(&mut FilterArgs<'_>)>(f) };
    let mut args = FilterArgs {
        ptr,
        _callback: PhantomData,
        _not_send: PhantomData,
    };
    guard("a command filter", || f(&mut args));
}

const TRAMPOLINES: [extern "C" fn(*mut raw::RedisModuleCommandFilterCtx); SLOTS] = [
    trampoline::<0>,
    trampoline::<1>,
    trampoline::<2>,
    trampoline::<3>,
    trampoline::<4>,
    trampoline::<5>,
    trampoline::<6>,
    trampoline::<7>,
];

/// A registered filter: its Redis handle, its slot and the load it belongs to (a handle kept
/// in a static across `MODULE UNLOAD` + `LOAD` points at a filter Redis freed).
pub struct FilterHandle {
    ptr: NonNull<raw::RedisModuleCommandFilter>,
    slot: usize,
    load: usize,
}

/// Bumped at every load (by `reset`).
static LOAD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: an opaque identifier; it is only passed back to Redis with a live context.
unsafe impl Send for FilterHandle {}

impl RawCtx {
    /// `RedisModule_RegisterCommandFilter` in a free slot: `None` if all slots are taken or
    /// Redis refused.
    pub(crate) fn register_filter(
        &self,
        f: fn(&mut FilterArgs<'_>),
        noself: bool,
    ) -> Option<FilterHandle> {
        let slot = super::claim_slot(&FILTERS, f as *mut ())?;
        let flags = if noself {
            raw::REDISMODULE_CMDFILTER_NOSELF as c_int
        } else {
            0
        };
        // SAFETY: a live context; the trampoline lives as long as the image, and Redis drops
        // the filter when the module unloads.
        let p = unsafe {
            api!(RedisModule_RegisterCommandFilter)(self.as_ptr(), Some(TRAMPOLINES[slot]), flags)
        };
        match NonNull::new(p) {
            Some(ptr) => Some(FilterHandle {
                ptr,
                slot,
                load: LOAD.load(Ordering::Acquire),
            }),
            None => {
                FILTERS[slot].store(std::ptr::null_mut(), Ordering::Release);
                None
            }
        }
    }

    /// `RedisModule_UnregisterCommandFilter`; frees the slot.
    pub(crate) fn unregister_filter(&self, h: FilterHandle) -> bool {
        if h.load != LOAD.load(Ordering::Acquire) {
            return false;
        }
        // SAFETY: a live context and a filter this module registered.
        let r = unsafe { api!(RedisModule_UnregisterCommandFilter)(self.as_ptr(), h.ptr.as_ptr()) };
        if r == OK {
            FILTERS[h.slot].store(std::ptr::null_mut(), Ordering::Release);
        }
        r == OK
    }
}

/// Frees every slot (at load: Redis dropped the filters of a previous load of this image).
pub(crate) fn reset() {
    LOAD.fetch_add(1, Ordering::AcqRel);
    for s in &FILTERS {
        s.store(std::ptr::null_mut(), Ordering::Release);
    }
}
