//! Keys: open them through the [`Context`](crate::Context) (or take a [`ReadKey`] /
//! [`WriteKey`] parameter), then work with what they hold.
//!
//! | type | for |
//! |---|---|
//! | [`Key`] | an open key: its type, name, delete; the typed views below |
//! | [`Hash`](struct@Hash) | the fields of a hash key ([`Key::hash`]) |
//! | strings | [`Key::string`] (in place), [`Key::set_string`], [`Key::string_mut`], [`Key::truncate`], [`Key::append`] |
//! | [`List`](list::List) | a list ([`Key::list`]): push/pop at both ends, get/set/insert/remove by index |
//! | [`ZSet`](zset::ZSet) | a sorted set ([`Key::zset`]): add/incr with `ZADD` flags, remove, score, ranges by score and lex |
//! | [`Stream`](stream::Stream) | a stream ([`Key::stream`]): add, delete, ranges with fields, trim |
//! | module values | [`Key::value`], [`Key::update`], [`Key::set_value`] for a [data type](crate::datatype) |
//! | key life | [`Key::expire`], [`Key::set_expire`], [`Key::unlink`], [`Key::value_len`], [`OpenFlags`] |
//! | scanning | [`Context::scan`](crate::Context::scan) over the keyspace, [`Key::scan_fields`] over a key, with a [`ScanCursor`] |
//!
//! A key opened for writing tells Redis it was modified (for `WATCH` and client-side caching)
//! only if something was written through it: a command that opens a key writable and then
//! changes nothing (a `WRONGTYPE` error, an `NX` that does not set, a delete that matches
//! nothing) leaves other clients' transactions and caches alone, as native commands do.
//!
//! [`ReadKey`]: crate::command::ReadKey
//! [`WriteKey`]: crate::command::WriteKey

pub mod hash;
pub mod list;
mod scan;
pub mod stream;
mod string;
mod value;
pub mod zset;

pub use hash::Hash;
pub use scan::{ScanCursor, glob_match};
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
    /// Its entry in this thread's table of open keys (`None`: beyond the table).
    slot: Option<usize>,
}

impl Drop for Key<'_> {
    fn drop(&mut self) {
        open_keys::unregister(self.slot);
    }
}

/// The keys open on this thread (the main thread, or a worker under the lock), so that a key
/// is not opened twice when either handle writes: `Key` hands out borrows of what the key holds
/// (`string()` reads Redis's buffer in place, `value()` the module value), which a write through
/// a second handle could free. A fixed table without a destructor (a thread-local destructor
/// would keep the module mapped after `MODULE UNLOAD`); keys beyond its size are not tracked.
mod open_keys {
    use std::cell::Cell;

    const SLOTS: usize = 32;

    /// One open key: a hash and the length of its name, whether it was opened for writing.
    #[derive(Clone, Copy)]
    struct Entry {
        hash: u64,
        len: usize,
        writable: bool,
        used: bool,
    }

    const FREE: Entry = Entry {
        hash: 0,
        len: 0,
        writable: false,
        used: false,
    };

    thread_local! {
        static TABLE: [Cell<Entry>; SLOTS] = const { [const { Cell::new(FREE) }; SLOTS] };
        /// One past the highest slot in use: a command with one key open scans nothing.
        static TOP: Cell<usize> = const { Cell::new(0) };
    }

    /// FNV-1a: names are short, and a collision only makes a second open fail loudly.
    fn hash(name: &[u8]) -> u64 {
        name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    pub(super) fn register(name: &[u8], writable: bool) -> Option<usize> {
        let (h, len) = (hash(name), name.len());
        let top = TOP.with(Cell::get);
        TABLE.with(|t| {
            let mut free = None;
            for (i, cell) in t[..top].iter().enumerate() {
                let e = cell.get();
                if !e.used {
                    free.get_or_insert(i);
                } else if e.hash == h && e.len == len && (e.writable || writable) {
                    panic!(
                        "key '{}' is already open in this command and one of the two handles \
                         writes: use the handle you have (a write through one could free what \
                         the other lent out)",
                        crate::error::excerpt(name)
                    );
                }
            }
            let i = match free {
                Some(i) => i,
                None if top < SLOTS => {
                    TOP.with(|t| t.set(top + 1));
                    top
                }
                None => return None,
            };
            t[i].set(Entry {
                hash: h,
                len,
                writable,
                used: true,
            });
            Some(i)
        })
    }

    pub(super) fn unregister(slot: Option<usize>) {
        let Some(i) = slot else {
            return;
        };
        // `try_with`: a key dropped while the thread's locals are being destroyed.
        let _ = TABLE.try_with(|t| {
            t[i].set(FREE);
            let _ = TOP.try_with(|top| {
                let mut n = top.get();
                while n > 0 && !t[n - 1].get().used {
                    n -= 1;
                }
                top.set(n);
            });
        });
    }
}

impl<'c> Key<'c> {
    /// # Panics
    /// If this thread already has `name` open and either handle writes: a write through one
    /// could free what the other lent out (a string read in place, a module value), so the
    /// second open is refused (a panic, which the command's guard answers as an error).
    pub(crate) fn new(handle: KeyHandle<'c>, name: &'c RedisStr, writable: bool) -> Key<'c> {
        let slot = open_keys::register(name.as_bytes(), writable);
        Key {
            handle,
            name,
            writable,
            slot,
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

    /// The length of the value: bytes of a string, elements of a list, set, sorted set or
    /// stream, fields of a hash; 0 for an empty key (`RedisModule_ValueLength`).
    #[inline]
    pub fn value_len(&self) -> usize {
        self.handle.value_length()
    }

    /// Unlinks the key (`UNLINK`: the value is freed in the background if it is large);
    /// returns whether it existed.
    pub fn unlink(&mut self) -> Result<bool> {
        self.check_writable()?;
        if self.kind() == KeyKind::Empty {
            return Ok(false);
        }
        if self.handle.unlink() {
            self.modified();
            Ok(true)
        } else {
            Err(Error::new("could not unlink the key"))
        }
    }

    /// How long the key has been idle (its LRU clock, millisecond resolution of Redis's
    /// clock); `None` if the key does not exist or the server evicts by LFU
    /// (`maxmemory-policy *-lfu`), where idle time is not kept.
    pub fn idle_time(&self) -> Option<std::time::Duration> {
        match self.handle.eviction_clock(false)? {
            ms if ms >= 0 => Some(std::time::Duration::from_millis(ms as u64)),
            _ => None,
        }
    }

    /// Sets the key's idle time (for LRU eviction; the key is then as old as if last touched
    /// `idle` ago). `false` if the key does not exist or the server evicts by LFU.
    pub fn set_idle_time(&mut self, idle: std::time::Duration) -> bool {
        let ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        self.handle.set_eviction_clock(false, ms)
    }

    /// The key's access frequency (the logarithmic LFU counter, 0..=255); `None` if the key
    /// does not exist or the server does not evict by LFU.
    pub fn access_frequency(&self) -> Option<u8> {
        match self.handle.eviction_clock(true)? {
            f if f >= 0 => Some(f.min(255) as u8),
            _ => None,
        }
    }

    /// Sets the key's access frequency (for LFU eviction). `false` if the key does not exist.
    pub fn set_access_frequency(&mut self, frequency: u8) -> bool {
        self.handle.set_eviction_clock(true, i64::from(frequency))
    }

    /// The key's time to live, or `None` if it has no expire (or does not exist).
    pub fn expire(&self) -> Option<std::time::Duration> {
        self.handle
            .expire(false)
            .map(|ms| std::time::Duration::from_millis(ms.max(0) as u64))
    }

    /// When the key expires, as Unix time in milliseconds, or `None` without an expire.
    pub fn expire_at_ms(&self) -> Option<i64> {
        self.handle.expire(true)
    }

    /// Sets the time to live (`PEXPIRE`), or removes it with `None` (`PERSIST`). An empty key
    /// has nothing to expire: `ERR no such key`.
    pub fn set_expire(&mut self, ttl: Option<std::time::Duration>) -> Result<()> {
        let ms = ttl.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.set_expire_ms(ms, false)
    }

    /// Sets when the key expires, as Unix time in milliseconds (`PEXPIREAT`), or removes the
    /// expire with `None`. A time in the past deletes the key the next time it is accessed.
    pub fn set_expire_at_ms(&mut self, at: Option<i64>) -> Result<()> {
        self.set_expire_ms(at, true)
    }

    fn set_expire_ms(&mut self, ms: Option<i64>, absolute: bool) -> Result<()> {
        self.check_writable()?;
        if self.kind() == KeyKind::Empty {
            return Err(Error::new("no such key"));
        }
        if ms.is_some_and(|ms| ms < 0) {
            return Err(Error::new("invalid expire time: it must not be negative"));
        }
        if !self.handle.set_expire(ms, absolute) {
            return Err(Error::new("could not set the expire"));
        }
        self.modified();
        Ok(())
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

/// How [`Context::open_key_with`](crate::Context::open_key_with) opens a key, beyond reading
/// or writing. Each flag is a `REDISMODULE_OPEN_KEY_*` bit; Redis 7.0 knows only `notouch`, the
/// others need Redis 7.2+ or Valkey 8 (asking for one the server lacks is an error that says
/// so, never a silently different open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// Open for writing too.
    pub write: bool,
    /// `NOTOUCH`: do not update the key's LRU/LFU (as `OBJECT FREQ` reads do).
    pub notouch: bool,
    /// `NONOTIFY`: no keyspace event for a key found expired on open.
    pub nonotify: bool,
    /// `NOSTATS`: do not count the open in keyspace hits/misses.
    pub nostats: bool,
    /// `NOEXPIRE`: do not delete the key if it is found expired.
    pub noexpire: bool,
    /// `NOEFFECTS`: no side effects at all (neither touch, stats, notify nor expire).
    pub noeffects: bool,
}

/// The error for a write through a key opened for reading.
#[cold]
pub(crate) fn read_only() -> Error {
    Error::new("key was opened read-only; use Context::open_key_writable")
}
