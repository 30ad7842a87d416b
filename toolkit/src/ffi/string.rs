//! Redis strings (`RedisModuleString`): a borrowed view and an owned string. Both are handle
//! types: made only here, from pointers Redis passed or created for us.

use super::api;
use redis_module::raw;
use std::fmt;
use std::ops::Deref;
use std::os::raw::c_int;
use std::ptr::NonNull;

/// A borrowed Redis string: a command argument or a value Redis holds.
///
/// `#[repr(transparent)]` over the non-null `RedisModuleString *`, so the `argv` array Redis
/// passes to a command *is* a `&[RedisStr]`: no copy, no allocation. Not `Send`: Redis strings
/// belong to the main thread.
///
/// Commands receive their arguments as `&RedisStr` (or `&[RedisStr]` for a variadic tail):
/// ```
/// use rmkit::prelude::*;
/// fn first_arg_len(args: &[RedisStr]) -> usize {
///     args[1].as_bytes().len()
/// }
/// ```
#[repr(transparent)]
pub struct RedisStr {
    ptr: NonNull<raw::RedisModuleString>,
}

// The reinterpretation of `argv` depends on these.
static_assertions::assert_eq_size!(RedisStr, *mut raw::RedisModuleString);
static_assertions::assert_eq_align!(RedisStr, *mut raw::RedisModuleString);
static_assertions::assert_not_impl_any!(RedisStr: Send, Sync);

impl RedisStr {
    /// Views Redis's `argv` array as a slice.
    ///
    /// # Safety
    /// `argv` points to `argc` non-null `RedisModuleString` pointers that stay valid for `'a`.
    pub(crate) unsafe fn slice_from_raw<'a>(
        argv: *mut *mut raw::RedisModuleString,
        argc: c_int,
    ) -> &'a [RedisStr] {
        let len = usize::try_from(argc).unwrap_or(0);
        if argv.is_null() || len == 0 {
            return &[];
        }
        // SAFETY: RedisStr is a transparent non-null pointer (asserted above) and the caller
        // guarantees `len` valid non-null entries.
        unsafe { std::slice::from_raw_parts(argv.cast::<RedisStr>(), len) }
    }

    /// Views one string pointer Redis passed to a callback.
    ///
    /// # Safety
    /// `*p` is a non-null, live `RedisModuleString` while the result is used.
    pub(crate) unsafe fn from_raw_ref(p: &*mut raw::RedisModuleString) -> &RedisStr {
        // SAFETY: RedisStr is a transparent non-null pointer; the caller vouches for `*p`.
        unsafe { &*(p as *const *mut raw::RedisModuleString as *const RedisStr) }
    }

    /// The raw pointer, for calls into the C API.
    pub(crate) fn as_ptr(&self) -> *mut raw::RedisModuleString {
        self.ptr.as_ptr()
    }

    /// The bytes of the string (binary-safe).
    pub fn as_bytes(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: `ptr` is a live Redis string for the lifetime of `self`; the returned buffer
        // belongs to it and is not modified while we hold `&self`.
        unsafe {
            let p = api!(RedisModule_StringPtrLen)(self.as_ptr(), &mut len);
            if p.is_null() || len == 0 {
                return &[];
            }
            std::slice::from_raw_parts(p.cast::<u8>(), len)
        }
    }

    /// The string as UTF-8, or `ERR ... is not valid UTF-8`.
    pub fn to_str(&self) -> Result<&str, crate::Error> {
        std::str::from_utf8(self.as_bytes())
            .map_err(|e| crate::Error::new(format!("argument is not valid UTF-8 ({e})")))
    }
}

impl fmt::Debug for RedisStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl PartialEq for RedisStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<[u8]> for RedisStr {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl AsRef<[u8]> for RedisStr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// An owned Redis string (for example a hash value read from a key). Freed when dropped;
/// derefs to [`RedisStr`]. Replying with it sends Redis's own buffer without copying into Rust.
pub struct RedisString {
    inner: RedisStr,
}

impl RedisString {
    /// Takes ownership of a string Redis created for us (refcount 1, not auto-memory managed).
    ///
    /// # Safety
    /// `ptr` is a valid `RedisModuleString` that nobody else will free.
    pub(crate) unsafe fn from_raw(ptr: NonNull<raw::RedisModuleString>) -> Self {
        RedisString {
            inner: RedisStr { ptr },
        }
    }

    /// Gives up ownership: the caller hands the reference to Redis (which frees it).
    pub(crate) fn into_raw(self) -> *mut raw::RedisModuleString {
        let p = self.inner.as_ptr();
        std::mem::forget(self);
        p
    }

    /// A new Redis string holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        // SAFETY: NULL context = not auto-memory managed (we free it in Drop); `bytes` is valid
        // for its length and copied.
        let p = unsafe {
            api!(RedisModule_CreateString)(std::ptr::null_mut(), bytes.as_ptr().cast(), bytes.len())
        };
        match NonNull::new(p) {
            // SAFETY: a fresh string we own.
            Some(p) => unsafe { RedisString::from_raw(p) },
            None => panic!("RedisModule_CreateString returned NULL"),
        }
    }

    /// A new Redis string holding the decimal digits of `n` (an integer-encoded string when
    /// Redis can share one).
    pub fn from_i64(n: i64) -> Self {
        // SAFETY: NULL context = not auto-memory managed (we free it in Drop).
        let p = unsafe { api!(RedisModule_CreateStringFromLongLong)(std::ptr::null_mut(), n) };
        match NonNull::new(p) {
            // SAFETY: a fresh string we own.
            Some(p) => unsafe { RedisString::from_raw(p) },
            None => panic!("RedisModule_CreateStringFromLongLong returned NULL"),
        }
    }
}

impl RedisStr {
    /// An owned string with the same contents, kept past the callback that lent this one
    /// (`RedisModule_HoldString`: usually the same string with one more reference, no copy).
    ///
    /// ```no_run
    /// # fn f(arg: &rmkit::RedisStr) {
    /// let kept: rmkit::RedisString = arg.hold(); // e.g. stored for a timer
    /// # }
    /// ```
    pub fn hold(&self) -> RedisString {
        // SAFETY: a live string; NULL context = not auto-memory managed: the result is ours
        // (one reference, or a copy), freed in Drop.
        let p = unsafe { api!(RedisModule_HoldString)(std::ptr::null_mut(), self.as_ptr()) };
        match NonNull::new(p) {
            // SAFETY: a string reference we own.
            Some(p) => unsafe { RedisString::from_raw(p) },
            None => RedisString::new(self.as_bytes()),
        }
    }
}

impl RedisString {
    /// A new Redis string holding the decimal digits of `n`.
    pub fn from_u64(n: u64) -> Self {
        // SAFETY: NULL context = not auto-memory managed (we free it in Drop).
        let p = unsafe { api!(RedisModule_CreateStringFromULongLong)(std::ptr::null_mut(), n) };
        match NonNull::new(p) {
            // SAFETY: a fresh string we own.
            Some(p) => unsafe { RedisString::from_raw(p) },
            None => panic!("RedisModule_CreateStringFromULongLong returned NULL"),
        }
    }
}

impl RedisStr {
    /// The string as an unsigned integer by Redis's rules (`RedisModule_StringToULongLong`:
    /// decimal digits only, no sign, no spaces, at most `u64::MAX`).
    pub fn to_u64(&self) -> Option<u64> {
        let mut v: u64 = 0;
        // SAFETY: a live string; Redis writes `v`.
        let r = unsafe { api!(RedisModule_StringToULongLong)(self.as_ptr(), &mut v) };
        (r == raw::REDISMODULE_OK as c_int).then_some(v)
    }
}

impl Drop for RedisString {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own one reference; NULL context because it is not auto-memory managed.
        unsafe { api!(RedisModule_FreeString)(std::ptr::null_mut(), self.inner.as_ptr()) }
    }
}

impl Deref for RedisString {
    type Target = RedisStr;
    fn deref(&self) -> &RedisStr {
        &self.inner
    }
}

impl fmt::Debug for RedisString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl PartialEq for RedisString {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

/// Owned Redis strings of `args` and the pointer array the C API's `"v"` format takes (both
/// must live until the call returns).
pub(crate) fn argv(args: &[&[u8]]) -> (Vec<RedisString>, Vec<*mut raw::RedisModuleString>) {
    let strings: Vec<RedisString> = args.iter().map(|a| RedisString::new(a)).collect();
    let ptrs = strings.iter().map(|s| s.as_ptr()).collect();
    (strings, ptrs)
}

/// A reference to a Redis string kept past the callback that saw it (for example an argument
/// a command filter retained, [`FilterArgs::retain`](crate::server::filter::FilterArgs::retain)),
/// storable in a static: it is `Send`, but read only with a [`Context`](crate::Context) in
/// hand (proof that this thread holds the server lock). Drop it where the lock is held too (a
/// command, a filter, a timer, `on_unload!`).
pub struct RetainedString {
    inner: RedisString,
}

// SAFETY: the string is only read through `get`, which needs a Context (the server lock is
// held), and documented to be dropped under the lock.
unsafe impl Send for RetainedString {}

impl RetainedString {
    pub(crate) fn new(inner: RedisString) -> RetainedString {
        RetainedString { inner }
    }

    /// The string, while `ctx` lives.
    pub fn get<'c>(&'c self, ctx: &'c crate::Context) -> &'c RedisStr {
        let _ = ctx;
        &self.inner
    }
}
