//! Module data types, collected from every linked crate with `linkme` like commands.
//!
//! Implement [`DataType`] for a Rust type and register it with [`data_type!`](crate::data_type!).
//! The toolkit stores each value boxed together with the exact number of server bytes it holds,
//! measured by the allocator ([`rmkit_alloc::measure`]) when the value is built, loaded, copied
//! and every time it is changed through [`Key::update`](crate::Key::update). `MEMORY USAGE`
//! reports that figure plus the server's own per-value blocks that it would otherwise leave out
//! (on Redis the object header and the module-value record, 16 bytes each; on Valkey 8 the
//! latter), at the allocator's usable size: measured, never guessed, right after edits, and
//! what `DEL` gives back.

pub use crate::ffi::Measured;
use crate::ffi::{AofWriter, Digest, RdbReader, RdbWriter, TypeHandle};
use crate::{Error, RedisStr};

/// A Rust type stored in Redis keys. Everything but persistence has a default.
///
/// Callbacks run inside `catch_unwind`: a panic is logged and turned into an error where Redis
/// allows one (RDB load, COPY), never a crash.
pub trait DataType: Sized + 'static {
    /// The type name Redis shows in `TYPE` and stores in RDB files: exactly 9 characters of
    /// `[A-Za-z0-9_-]`, unique across all modules of a server.
    const NAME: &'static str;
    /// The version of the RDB encoding written by [`rdb_save`](Self::rdb_save); RDB files with
    /// a higher version are refused on load.
    const ENCODING_VERSION: i32 = 0;

    /// Writes the value to an RDB file or a `DUMP` payload.
    fn rdb_save(&self, rdb: &mut RdbWriter<'_>);

    /// Reads a value written by [`rdb_save`](Self::rdb_save) with encoding `version`. Return an
    /// error on bad or truncated data (the reader's methods already do on I/O errors): Redis then
    /// refuses the `RESTORE` payload or RDB file instead of crashing.
    fn rdb_load(rdb: &mut RdbReader<'_>, version: i32) -> Result<Self, Error>;

    /// Emits the commands that rebuild the value at `key` (AOF rewrite without RDB preamble).
    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>);

    /// Feeds the value to `DEBUG DIGEST-VALUE` (equal values must give equal digests).
    fn digest(&self, _digest: &mut Digest<'_>) {}

    /// A deep copy for `COPY`; `None` (the default) makes `COPY` fail with an error.
    fn copy(&self) -> Option<Self> {
        None
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
}

/// A data type registered with [`data_type!`](crate::data_type!): knows where its Redis type
/// handle lives.
pub trait Registered: DataType {
    /// The handle filled in by `RedisModule_OnLoad`.
    fn handle() -> &'static TypeHandle;
}

/// One data type declaration, as collected in [`DATA_TYPES`].
#[derive(Debug)]
pub struct DataTypeDef {
    /// The 9-character type name.
    pub name: &'static str,
    /// Creates the type with `RedisModule_CreateDataType` (a monomorphised toolkit function).
    pub register: unsafe fn(*mut redis_module::raw::RedisModuleCtx) -> Result<(), String>,
    /// Where it was declared (`file:line`).
    pub location: &'static str,
}

/// Every data type of the module, gathered at link time.
#[linkme::distributed_slice]
pub static DATA_TYPES: [DataTypeDef];

/// Whether `name` is a valid data type name (exactly 9 bytes of `[A-Za-z0-9_-]`).
pub const fn valid_type_name(name: &str) -> bool {
    name.len() == 9 && crate::name_chars_ok(name)
}

/// Registers a [`DataType`] with the module.
///
/// Persistence can be tested without a server: [`RdbWriter::to_buffer`] saves a value to
/// bytes, [`RdbReader::from_bytes`] loads it back (with the server's checks: a truncated or
/// mistyped payload is an error).
///
/// ```
/// use rmkit::datatype::DataType;
/// use rmkit::ffi::{AofWriter, RdbReader, RdbWriter};
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
            static HANDLE: $crate::ffi::TypeHandle = $crate::ffi::TypeHandle::new();
            impl $crate::datatype::Registered for $ty {
                fn handle() -> &'static $crate::ffi::TypeHandle {
                    &HANDLE
                }
            }
            #[$crate::linkme::distributed_slice($crate::datatype::DATA_TYPES)]
            #[linkme(crate = $crate::linkme)]
            static DEF: $crate::datatype::DataTypeDef = $crate::datatype::DataTypeDef {
                name: <$ty as $crate::datatype::DataType>::NAME,
                register: $crate::ffi::register_type::<$ty>,
                location: concat!(file!(), ":", line!()),
            };
        };
    };
}

/// A value as the toolkit stores it: the user's value and the server bytes it holds.
pub(crate) struct Stored<T> {
    pub(crate) bytes: usize,
    pub(crate) value: T,
}

impl<T> Stored<T> {
    /// Builds a stored value with `build`, measuring every byte (the box included).
    pub(crate) fn build(build: impl FnOnce() -> Result<T, Error>) -> Result<Box<Self>, Error> {
        let (stored, bytes) = rmkit_alloc::measure(|| -> Result<Box<Self>, Error> {
            Ok(Box::new(Stored {
                bytes: 0,
                value: build()?,
            }))
        });
        let mut stored = stored?;
        stored.bytes = bytes.max(0) as usize;
        Ok(stored)
    }

    /// Runs `f` on the value and adds what it allocated (or freed) to the count.
    pub(crate) fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        let (r, delta) = rmkit_alloc::measure(|| f(&mut self.value));
        self.bytes = self.bytes.saturating_add_signed(delta);
        r
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_checked_like_redis_would_want_them() {
        assert!(super::valid_type_name("rmkitjson"));
        assert!(!super::valid_type_name("json"));
        assert!(!super::valid_type_name("rmkit json"));
        assert!(crate::valid_module_name("hashex"));
        assert!(crate::valid_module_name("a-b_c9"));
        assert!(!crate::valid_module_name(""));
        assert!(!crate::valid_module_name("with space"));
        assert!(!crate::valid_module_name(&"x".repeat(65)));
    }
}
