//! Module data types, collected from every linked crate with `linkme` like commands.
//!
//! | item | for |
//! |---|---|
//! | [`DataType`] | the trait your type implements (RDB save/load, AOF rewrite, digest, copy) |
//! | [`data_type!`](crate::data_type!) | registers it |
//! | [`RdbWriter`], [`RdbReader`] | RDB / `DUMP` I/O, or bytes for unit tests ([`RdbWriter::to_buffer`]) |
//! | [`AofWriter`], [`Digest`] | AOF rewrite and `DEBUG DIGEST-VALUE` |
//! | [`Measured`] | a value built (and measured) before it is stored |
//! | [`Key::value`](crate::Key::value), [`update`](crate::Key::update), [`set_value`](crate::Key::set_value) | using it in keys |
//!
//! Implement [`DataType`] for a Rust type and register it with [`data_type!`](crate::data_type!).
//! The toolkit stores each value boxed together with the exact number of server bytes it holds,
//! measured by the allocator ([`rmkit_alloc::measure`]) when the value is built, loaded, copied
//! and every time it is changed through [`Key::update`](crate::Key::update). `MEMORY USAGE`
//! reports that figure plus the server's own per-value blocks that it would otherwise leave out
//! (on Redis the object header and the module-value record, 16 bytes each; on Valkey 8 the
//! latter), at the allocator's usable size: measured, never guessed, right after edits, and
//! what `DEL` gives back.

mod io;

pub use io::{AofWriter, Digest, RdbReader, RdbWriter};

use crate::ffi::datatype::Stored;
#[doc(hidden)]
pub use crate::ffi::datatype::TypeHandle;
use crate::{RedisStr, Result};

/// A Rust type stored in Redis keys. Everything but persistence has a default.
///
/// Callbacks run inside `catch_unwind`: a panic is logged and turned into an error where Redis
/// allows one (RDB load, COPY), never a crash.
pub trait DataType: Sized + 'static {
    /// The type name Redis shows in `TYPE` and stores in RDB files: exactly 9 characters of
    /// `[A-Za-z0-9_-]`, unique across all modules of a server.
    const NAME: &'static str;
    /// The version of the RDB encoding written by [`rdb_save`](Self::rdb_save); RDB files with
    /// a higher version are refused on load (unless [`accepts_version`](Self::accepts_version)
    /// says otherwise).
    const ENCODING_VERSION: i32 = 0;

    /// Whether [`rdb_load`](Self::rdb_load) is offered data of encoding `version`. The default
    /// refuses versions above [`ENCODING_VERSION`](Self::ENCODING_VERSION) (written by a newer
    /// module) with a log line, before `rdb_load` runs.
    fn accepts_version(version: i32) -> bool {
        version <= Self::ENCODING_VERSION
    }

    /// Writes the value to an RDB file or a `DUMP` payload.
    fn rdb_save(&self, rdb: &mut RdbWriter<'_>);

    /// Reads a value written by [`rdb_save`](Self::rdb_save) with encoding `version`. Return an
    /// error on bad or truncated data (the reader's methods already do on I/O errors): Redis then
    /// refuses the `RESTORE` payload or RDB file instead of crashing.
    fn rdb_load(rdb: &mut RdbReader<'_>, version: i32) -> Result<Self>;

    /// Emits the commands that rebuild the value at `key` (AOF rewrite without RDB preamble).
    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>);

    /// Feeds the value to `DEBUG DIGEST-VALUE` (equal values must give equal digests).
    fn digest(&self, _digest: &mut Digest<'_>) {}

    /// A deep copy for `COPY`; `None` (the default) makes `COPY` fail with an error.
    fn copy(&self) -> Option<Self> {
        None
    }

    /// The copy for `COPY from to`, knowing the key names; the default is
    /// [`copy`](Self::copy).
    fn copy_between(&self, _from: &RedisStr, _to: &RedisStr) -> Option<Self> {
        self.copy()
    }

    /// Roughly how many allocations freeing the value touches; above 64 Redis frees it in a
    /// background thread on `UNLINK`/`FLUSHALL ASYNC`/lazyfree. The default estimates it from
    /// the measured bytes (`bytes / 64`).
    fn free_effort(&self, bytes: usize) -> usize {
        (bytes / 64).max(1)
    }

    /// Called when the key is unlinked from the keyspace, before it is freed (maybe later, in
    /// another thread).
    fn unlink(&self) {}

    /// When [`aux_save`](Self::aux_save) runs: module-wide data (not a key's) stored in RDB
    /// files and full syncs, before and/or after the keyspace. Default: never. Asked once, when
    /// the type is registered at load (after the [`on_load!`](crate::on_load!) hooks, so it
    /// may depend on the module's arguments).
    fn aux_save_when() -> AuxWhen {
        AuxWhen::NEVER
    }

    /// Writes module-wide data into the RDB at `when` (one of the points in
    /// [`aux_save_when`](Self::aux_save_when)): settings, counters, an index — state that belongs to no
    /// key. It is read back by [`aux_load`](Self::aux_load) in the same order.
    ///
    /// ```
    /// use rmkit::datatype::{AuxWhen, DataType, RdbReader, RdbWriter, AofWriter};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// static GENERATION: AtomicU64 = AtomicU64::new(0);
    ///
    /// struct Doc;
    /// impl DataType for Doc {
    ///     const NAME: &'static str = "mydoc-001";
    ///     fn aux_save_when() -> AuxWhen {
    ///         AuxWhen::AFTER_KEYSPACE
    ///     }
    ///     fn aux_save(rdb: &mut RdbWriter<'_>, _when: AuxWhen) {
    ///         rdb.save_u64(GENERATION.load(Ordering::Relaxed));
    ///     }
    ///     fn aux_load(rdb: &mut RdbReader<'_>, _version: i32, _when: AuxWhen) -> rmkit::Result<()> {
    ///         GENERATION.store(rdb.load_u64()?, Ordering::Relaxed);
    ///         Ok(())
    ///     }
    ///     // ... the per-key callbacks:
    ///     fn rdb_save(&self, _: &mut RdbWriter<'_>) {}
    ///     fn rdb_load(_: &mut RdbReader<'_>, _: i32) -> rmkit::Result<Self> { Ok(Doc) }
    ///     fn aof_rewrite(&self, _: &rmkit::RedisStr, _: &mut AofWriter<'_>) {}
    /// }
    /// # fn main() {}
    /// ```
    fn aux_save(_rdb: &mut RdbWriter<'_>, _when: AuxWhen) {}

    /// Reads what [`aux_save`](Self::aux_save) wrote at `when`, with encoding `version`
    /// (this type's [`ENCODING_VERSION`](Self::ENCODING_VERSION) when it was saved). An error
    /// fails the load (of the RDB file or the full sync), with a log line.
    fn aux_load(_rdb: &mut RdbReader<'_>, _version: i32, _when: AuxWhen) -> Result<()> {
        Ok(())
    }
}

/// Where module-wide aux data goes in an RDB file (see [`DataType::aux_save`]): before the
/// keyspace, after it, both, or never. Combine with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxWhen(pub(crate) u8);

impl AuxWhen {
    /// No aux data.
    pub const NEVER: AuxWhen = AuxWhen(0);
    /// Before the keys (read back before any key loads).
    pub const BEFORE_KEYSPACE: AuxWhen = AuxWhen(1);
    /// After the keys.
    pub const AFTER_KEYSPACE: AuxWhen = AuxWhen(2);
    /// Both points of `self` and `other` (`|` in a `const`).
    pub const fn union(self, other: AuxWhen) -> AuxWhen {
        AuxWhen(self.0 | other.0)
    }
    /// Whether `self` includes the point(s) of `other`.
    pub const fn contains(self, other: AuxWhen) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AuxWhen {
    type Output = AuxWhen;
    fn bitor(self, rhs: AuxWhen) -> AuxWhen {
        AuxWhen(self.0 | rhs.0)
    }
}

/// A data type registered with [`data_type!`](crate::data_type!): knows where its Redis type
/// handle lives (implemented by the macro).
pub trait Registered: DataType {
    /// The handle filled in by `RedisModule_OnLoad`.
    fn handle() -> &'static TypeHandle;
}

/// One data type declaration (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct DataTypeDef {
    /// The 9-character type name.
    pub name: &'static str,
    /// Creates the type (a monomorphised toolkit function).
    pub register: fn(&crate::ffi::RawCtx) -> std::result::Result<(), String>,
    /// Where it was declared (`file:line`).
    pub location: &'static str,
}

#[doc(hidden)]
pub use crate::ffi::registry::DATA_TYPES;

/// Whether `name` is a valid data type name (exactly 9 bytes of `[A-Za-z0-9_-]`).
#[doc(hidden)]
pub const fn valid_type_name(name: &str) -> bool {
    name.len() == 9 && crate::module::name_chars_ok(name)
}

/// Registers a [`DataType`] with the module.
///
/// Persistence can be tested without a server: [`RdbWriter::to_buffer`] saves a value to
/// bytes, [`RdbReader::from_bytes`] loads it back (with the server's checks: a truncated or
/// mistyped payload is an error).
///
/// ```
/// use rmkit::datatype::{AofWriter, DataType, RdbReader, RdbWriter};
/// use rmkit::{Error, RedisStr};
///
/// #[derive(Debug, PartialEq)]
/// struct Counter(u64);
///
/// impl DataType for Counter {
///     const NAME: &'static str = "counter-1";
///     fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
///         rdb.save_u64(self.0);
///     }
///     fn rdb_load(rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self, Error> {
///         Ok(Counter(rdb.load_u64()?))
///     }
///     fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
///         aof.emit("counter.set", key, &[self.0.to_string().as_bytes()]);
///     }
/// }
///
/// rmkit::data_type!(Counter);
///
/// fn main() -> Result<(), Error> {
///     let mut buf = Vec::new();
///     Counter(42).rdb_save(&mut RdbWriter::to_buffer(&mut buf));
///     let loaded = Counter::rdb_load(&mut RdbReader::from_bytes(&buf), Counter::ENCODING_VERSION)?;
///     assert_eq!(loaded, Counter(42));
///
///     let truncated = &buf[..buf.len() - 1];
///     assert!(Counter::rdb_load(&mut RdbReader::from_bytes(truncated), 0).is_err());
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! data_type {
    ($ty:ty) => {
        const _: () = {
            assert!(
                $crate::datatype::valid_type_name(<$ty as $crate::datatype::DataType>::NAME),
                "a data type name must be exactly 9 bytes of [A-Za-z0-9_-]"
            );
            static HANDLE: $crate::datatype::TypeHandle = $crate::datatype::TypeHandle::new();
            impl $crate::datatype::Registered for $ty {
                fn handle() -> &'static $crate::datatype::TypeHandle {
                    &HANDLE
                }
            }
            #[$crate::__private::linkme::distributed_slice($crate::datatype::DATA_TYPES)]
            #[linkme(crate = $crate::__private::linkme)]
            static DEF: $crate::datatype::DataTypeDef = $crate::datatype::DataTypeDef {
                name: <$ty as $crate::datatype::DataType>::NAME,
                register: $crate::__private::register_type::<$ty>,
                location: concat!(file!(), ":", line!()),
            };
        };
    };
}

/// A value of a data type together with the exact server bytes it holds, measured while it
/// was built: what [`Key::set_measured`](crate::Key::set_measured) stores. The value is
/// readable meanwhile ([`Measured::get`]).
///
/// ```
/// # #[derive(Debug)] struct Doc(Vec<u8>);
/// use rmkit::datatype::Measured;
/// let m = Measured::build(|| Ok(Doc(vec![0u8; 100])))?;
/// assert_eq!(m.get().0.len(), 100);
/// # Ok::<(), rmkit::Error>(())
/// ```
pub struct Measured<T>(Box<Stored<T>>);

impl<T> Measured<T> {
    /// Runs `build`, counting every byte it allocates (and the box that will hold the value).
    pub fn build(build: impl FnOnce() -> Result<T>) -> Result<Self> {
        Stored::build(build).map(Measured)
    }

    /// The value.
    pub fn get(&self) -> &T {
        &self.0.value
    }

    /// The server bytes it holds.
    pub fn bytes(&self) -> usize {
        self.0.bytes
    }

    pub(crate) fn into_stored(self) -> Box<Stored<T>> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_checked_like_redis_would_want_them() {
        assert!(super::valid_type_name("rmkitjson"));
        assert!(!super::valid_type_name("json"));
        assert!(!super::valid_type_name("rmkit json"));
        assert!(crate::module::valid_module_name("hashex"));
        assert!(crate::module::valid_module_name("a-b_c9"));
        assert!(!crate::module::valid_module_name(""));
        assert!(!crate::module::valid_module_name("with space"));
        assert!(!crate::module::valid_module_name(&"x".repeat(65)));
    }
}
