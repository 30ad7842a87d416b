//! Scanning: the keyspace ([`Context::scan`]) and the fields of one key ([`Key::scan_fields`]).

use super::{Key, KeyKind};
use crate::ffi::scan::ScanCursor as RawCursor;
use crate::{Context, Error, RedisStr, Result};

/// A position in a scan, for [`Context::scan`] or [`Key::scan_fields`]. It survives across
/// calls and commands: keep it (for example in a `Mutex` in a static, or inside a module
/// value) to resume where the last call stopped, as `SCAN`'s cursor does.
///
/// The guarantees are `SCAN`'s: an element present for the whole scan is returned at least
/// once (perhaps more than once); elements added or removed during it may or may not be.
pub struct ScanCursor(RawCursor);

impl ScanCursor {
    /// A cursor at the start.
    pub fn new() -> ScanCursor {
        ScanCursor(RawCursor::new())
    }

    /// Back to the start (for a new scan with the same cursor).
    pub fn restart(&mut self) {
        self.0.restart();
    }
}

impl Default for ScanCursor {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ScanCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScanCursor")
    }
}

impl Context {
    /// One step of a keyspace scan (`RedisModule_Scan`): calls `f(ctx, name, key)` for a few
    /// keys of the current database (`key` is opened for reading, `None` if it could not be);
    /// returns whether there is more to scan. Loop until it returns `false` to visit every key,
    /// or stop and keep the cursor to go on later.
    ///
    /// **While scanning** (the C API's rules): inside `f`, only the key being visited may be
    /// changed or deleted (through `ctx.open_key_writable(name)`); touching other keys may make
    /// the scan miss or repeat elements. To change many keys, collect their names and act on
    /// them after the step.
    ///
    /// ```no_run
    /// # fn f(ctx: &rmkit::Context) {
    /// let mut cursor = rmkit::key::ScanCursor::new();
    /// let mut n = 0;
    /// while ctx.scan(&mut cursor, |_ctx, name, _key| {
    ///     if name.as_bytes().starts_with(b"user:") {
    ///         n += 1;
    ///     }
    /// }) {}
    /// # }
    /// ```
    pub fn scan(
        &self,
        cursor: &mut ScanCursor,
        mut f: impl FnMut(&Context, &RedisStr, Option<&Key<'_>>),
    ) -> bool {
        self.raw().scan(&mut cursor.0, &mut f)
    }
}

impl Key<'_> {
    /// One step of a scan of this key's elements (`RedisModule_ScanKey`): `f(field, value)`
    /// for a hash, `f(member, None)` for a set, `f(member, Some(score))` — the score as a
    /// string — for a sorted set; returns whether there is more. An empty key has nothing to
    /// scan (`Ok(false)`); another type is `WRONGTYPE`.
    ///
    /// **While scanning** (the C API's rules): inside `f`, only the element being visited may
    /// be deleted or changed; adding or removing others may make the scan miss or repeat
    /// elements. Small hashes, sets and sorted sets (listpack/intset) are visited whole in one
    /// step.
    pub fn scan_fields(
        &self,
        cursor: &mut ScanCursor,
        mut f: impl FnMut(&RedisStr, Option<&RedisStr>),
    ) -> Result<bool> {
        match self.kind() {
            KeyKind::Empty => Ok(false),
            KeyKind::Hash | KeyKind::Set | KeyKind::ZSet => {
                Ok(self.handle().scan_fields(&mut cursor.0, &mut f))
            }
            _ => Err(Error::wrong_type()),
        }
    }
}
