//! Data type plumbing: type registration, the C callbacks, RDB/AOF/digest I/O, and typed
//! access to module values in keys.

use super::{Key, KeyKind, LogLevel, RedisStr, RedisString, api, log, panic_message};
use crate::datatype::{Registered, Stored};
use crate::{Error, Result};
use redis_module::raw;
use std::ffi::{CString, c_void};
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Where a registered data type's `RedisModuleType *` lives (set by `RedisModule_OnLoad`).
#[derive(Debug)]
pub struct TypeHandle(AtomicPtr<raw::RedisModuleType>);

impl TypeHandle {
    /// An empty handle (filled in at load).
    pub const fn new() -> Self {
        TypeHandle(AtomicPtr::new(ptr::null_mut()))
    }

    fn get(&self) -> *mut raw::RedisModuleType {
        self.0.load(Ordering::Acquire)
    }
}

impl Default for TypeHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs a data type callback, logging a panic instead of unwinding into C.
fn guarded<R>(what: &str, type_name: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            log(
                LogLevel::Warning,
                &format!(
                    "rmkit: data type '{type_name}' {what} panicked: {}",
                    panic_message(&*payload)
                ),
            );
            std::mem::forget(payload);
            None
        }
    }
}

/// What the server allocates for every module value besides the module's own bytes and that
/// `MEMORY USAGE` leaves out; `mem_usage` adds it, so the figure is what deleting the key gives
/// back. Measured when the first type is registered (see [`measure_server_wrapper`]).
static SERVER_WRAPPER: AtomicUsize = AtomicUsize::new(0);

/// Redis allocates a `moduleValue` (16 bytes) and an object header `robj` (16 bytes) per module
/// value and counts neither in `MEMORY USAGE`; it counts the key's dict entry as 24 bytes where
/// the allocator gives it its usable size for 24 (32 on jemalloc). Valkey 8 embeds the key in
/// the `robj`, has no dict entry, and counts that block as the key's, so there only the
/// `moduleValue` is missing. Sizes are this server allocator's usable sizes (16 → 16 on
/// jemalloc, 24 on glibc malloc).
fn measure_server_wrapper(ctx: *mut raw::RedisModuleCtx) -> usize {
    // SAFETY: a block of our own, allocated, sized and freed right here by the server's
    // allocator (the module API is initialised: this runs from OnLoad).
    let usable = |n: usize| unsafe {
        let p = api!(RedisModule_Alloc)(n);
        let usable = api!(RedisModule_MallocSize)(p);
        api!(RedisModule_Free)(p);
        usable
    };
    // SAFETY: the load context; the info object is freed before returning and the field's
    // string is only compared for null while it lives.
    let valkey = unsafe {
        let info = api!(RedisModule_GetServerInfo)(ctx, c"server".as_ptr());
        if info.is_null() {
            false
        } else {
            let found =
                !api!(RedisModule_ServerInfoGetFieldC)(info, c"valkey_version".as_ptr()).is_null();
            api!(RedisModule_FreeServerInfo)(ctx, info);
            found
        }
    };
    if valkey {
        usable(16)
    } else {
        2 * usable(16) + usable(24).saturating_sub(24)
    }
}

/// Creates data type `T` (called from OnLoad for each [`DATA_TYPES`](crate::datatype::DATA_TYPES) entry).
///
/// # Safety
/// `ctx` is the module's load context.
pub unsafe fn register_type<T: Registered>(ctx: *mut raw::RedisModuleCtx) -> Result<(), String> {
    let mut methods = raw::RedisModuleTypeMethods {
        version: 4, // up to copy/unlink/free_effort/defrag: what Redis 7.0 knows
        rdb_load: Some(rdb_load::<T>),
        rdb_save: Some(rdb_save::<T>),
        aof_rewrite: Some(aof_rewrite::<T>),
        mem_usage: Some(mem_usage::<T>),
        digest: Some(digest::<T>),
        free: Some(free::<T>),
        aux_load: None,
        aux_save: None,
        aux_save_triggers: 0,
        free_effort: Some(free_effort::<T>),
        unlink: Some(unlink::<T>),
        copy: Some(copy::<T>),
        defrag: None,
        mem_usage2: None,
        free_effort2: None,
        unlink2: None,
        copy2: None,
        aux_save2: None,
    };
    let name = CString::new(T::NAME).map_err(|_| "type name contains NUL".to_string())?;
    // SAFETY: valid load context; Redis copies the methods and the name.
    let t = unsafe {
        api!(RedisModule_CreateDataType)(ctx, name.as_ptr(), T::ENCODING_VERSION, &mut methods)
    };
    if t.is_null() {
        return Err(format!(
            "Redis refused data type '{}' (name taken by another module, or not 9 characters)",
            T::NAME
        ));
    }
    T::handle().0.store(t, Ordering::Release);
    SERVER_WRAPPER.store(measure_server_wrapper(ctx), Ordering::Relaxed);
    Ok(())
}

/// # Safety (all callbacks below)
/// Called by Redis with values this module created (`Box<Stored<T>>`) and valid I/O handles.
unsafe fn stored<'a, T>(value: *mut c_void) -> &'a Stored<T> {
    // SAFETY: every value of this type is a leaked Box<Stored<T>>.
    unsafe { &*(value as *const Stored<T>) }
}

unsafe extern "C" fn rdb_load<T: Registered>(
    io: *mut raw::RedisModuleIO,
    encver: c_int,
) -> *mut c_void {
    if encver > T::ENCODING_VERSION {
        log(
            LogLevel::Warning,
            &format!(
                "rmkit: data type '{}': cannot load encoding version {encver} (this module writes {}); upgrade the module",
                T::NAME,
                T::ENCODING_VERSION
            ),
        );
        return ptr::null_mut();
    }
    let loaded = guarded("rdb_load", T::NAME, || {
        let mut reader = RdbReader::server(io);
        Stored::build(|| T::rdb_load(&mut reader, encver))
    });
    match loaded {
        Some(Ok(stored)) => Box::into_raw(stored).cast(),
        Some(Err(e)) => {
            log(
                LogLevel::Warning,
                &format!("rmkit: data type '{}': RDB load failed: {e}", T::NAME),
            );
            ptr::null_mut()
        }
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn rdb_save<T: Registered>(io: *mut raw::RedisModuleIO, value: *mut c_void) {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value) };
    guarded("rdb_save", T::NAME, || {
        v.value.rdb_save(&mut RdbWriter::server(io))
    });
}

unsafe extern "C" fn aof_rewrite<T: Registered>(
    io: *mut raw::RedisModuleIO,
    key: *mut raw::RedisModuleString,
    value: *mut c_void,
) {
    // SAFETY: see `stored`; Redis passes the key name as a live string.
    let (v, key) = unsafe { (stored::<T>(value), RedisStr::from_raw_ref(&key)) };
    guarded("aof_rewrite", T::NAME, || {
        v.value.aof_rewrite(
            key,
            &mut AofWriter {
                io,
                _p: PhantomData,
            },
        )
    });
}

unsafe extern "C" fn mem_usage<T: Registered>(value: *const c_void) -> usize {
    // SAFETY: see `stored`.
    let bytes = unsafe { stored::<T>(value as *mut c_void) }.bytes;
    bytes + SERVER_WRAPPER.load(Ordering::Relaxed)
}

unsafe extern "C" fn digest<T: Registered>(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value) };
    guarded("digest", T::NAME, || {
        v.value.digest(&mut Digest {
            md,
            _p: PhantomData,
        })
    });
}

unsafe extern "C" fn free<T: Registered>(value: *mut c_void) {
    // SAFETY: Redis gives up the value: reclaim the box (maybe on the lazyfree thread).
    let b = unsafe { Box::from_raw(value as *mut Stored<T>) };
    guarded("free", T::NAME, || drop(b));
}

unsafe extern "C" fn free_effort<T: Registered>(
    _key: *mut raw::RedisModuleString,
    value: *const c_void,
) -> usize {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value as *mut c_void) };
    guarded("free_effort", T::NAME, || v.value.free_effort(v.bytes)).unwrap_or(1)
}

unsafe extern "C" fn unlink<T: Registered>(
    _key: *mut raw::RedisModuleString,
    value: *const c_void,
) {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value as *mut c_void) };
    guarded("unlink", T::NAME, || v.value.unlink());
}

unsafe extern "C" fn copy<T: Registered>(
    _from: *mut raw::RedisModuleString,
    _to: *mut raw::RedisModuleString,
    value: *const c_void,
) -> *mut c_void {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value as *mut c_void) };
    let copied = guarded("copy", T::NAME, || {
        Stored::build(|| {
            v.value
                .copy()
                .ok_or_else(|| Error::new("COPY is not supported"))
        })
    });
    match copied {
        Some(Ok(b)) => Box::into_raw(b).cast(),
        _ => ptr::null_mut(),
    }
}

/// The wording of every RDB read error, from the server or from bytes.
const CORRUPT: &str = "RDB data is truncated or corrupt";

/// Type tags of the [byte framing](RdbWriter#byte-framing): Redis's own module opcodes
/// (`RDB_MODULE_OPCODE_UINT`, `_DOUBLE`, `_STRING`).
const TAG_INT: u8 = 2;
const TAG_DOUBLE: u8 = 4;
const TAG_STRING: u8 = 5;

/// Writes a value to an RDB file or `DUMP` payload — or, made with [`to_buffer`](Self::to_buffer),
/// to a byte buffer, which is how a data type's persistence is unit-tested without a server.
///
/// ```
/// use rmkit::ffi::{RdbReader, RdbWriter};
///
/// let mut buf = Vec::new();
/// let mut rdb = RdbWriter::to_buffer(&mut buf);
/// rdb.save_u64(7);
/// rdb.save_bytes(b"seven");
///
/// let mut rdb = RdbReader::from_bytes(&buf);
/// assert_eq!(rdb.load_u64().unwrap(), 7);
/// assert_eq!(rdb.load_bytes().unwrap(), b"seven");
/// assert!(rdb.load_u64().is_err()); // nothing left
/// ```
/// [`data_type!`](crate::data_type!)'s example saves a whole value and loads it back.
///
/// # Byte framing
/// The buffer holds each saved item in order, as a one-byte type tag and its payload:
///
/// | method | tag | payload |
/// |---|---|---|
/// | [`save_u64`](Self::save_u64), [`save_i64`](Self::save_i64) | `2` | 8 bytes, little endian (`i64` as two's complement) |
/// | [`save_f64`](Self::save_f64) | `4` | the 8 bytes of the IEEE 754 value, little endian |
/// | [`save_bytes`](Self::save_bytes) | `5` | the length as 8 bytes little endian, then the bytes |
///
/// The tags are the opcodes Redis writes before each item of a module value, and
/// [`RdbReader::from_bytes`] checks them the way the server does: a double or a string where
/// the loader asks for an integer is an error, as it would be on `RESTORE`, while integers
/// saved signed may be loaded unsigned and back (Redis stores both as one unsigned opcode).
/// The framing is this crate's, not the RDB file format: it is for tests and fuzzing, not for
/// reading `DUMP` payloads.
pub struct RdbWriter<'a> {
    sink: Sink<'a>,
}

enum Sink<'a> {
    /// The I/O handle Redis passed to `rdb_save`.
    Server(*mut raw::RedisModuleIO),
    /// Items are appended in the byte framing.
    Buffer(&'a mut Vec<u8>),
}

impl<'a> RdbWriter<'a> {
    /// A writer appending to `buf` in the [byte framing](#byte-framing), for
    /// [`RdbReader::from_bytes`] to read back.
    pub fn to_buffer(buf: &'a mut Vec<u8>) -> Self {
        RdbWriter {
            sink: Sink::Buffer(buf),
        }
    }

    fn server(io: *mut raw::RedisModuleIO) -> Self {
        RdbWriter {
            sink: Sink::Server(io),
        }
    }

    fn push(buf: &mut Vec<u8>, tag: u8, word: [u8; 8]) {
        buf.push(tag);
        buf.extend_from_slice(&word);
    }

    /// Saves an unsigned integer.
    pub fn save_u64(&mut self, v: u64) {
        match &mut self.sink {
            // SAFETY: the I/O handle Redis passed to rdb_save.
            Sink::Server(io) => unsafe { api!(RedisModule_SaveUnsigned)(*io, v) },
            Sink::Buffer(buf) => Self::push(buf, TAG_INT, v.to_le_bytes()),
        }
    }

    /// Saves a signed integer.
    pub fn save_i64(&mut self, v: i64) {
        match &mut self.sink {
            // SAFETY: as above.
            Sink::Server(io) => unsafe { api!(RedisModule_SaveSigned)(*io, v) },
            Sink::Buffer(buf) => Self::push(buf, TAG_INT, v.to_le_bytes()),
        }
    }

    /// Saves a double.
    pub fn save_f64(&mut self, v: f64) {
        match &mut self.sink {
            // SAFETY: as above.
            Sink::Server(io) => unsafe { api!(RedisModule_SaveDouble)(*io, v) },
            Sink::Buffer(buf) => Self::push(buf, TAG_DOUBLE, v.to_le_bytes()),
        }
    }

    /// Saves a binary-safe byte string.
    pub fn save_bytes(&mut self, v: &[u8]) {
        match &mut self.sink {
            // SAFETY: as above; the buffer is valid for its length and copied.
            Sink::Server(io) => unsafe {
                api!(RedisModule_SaveStringBuffer)(*io, v.as_ptr().cast(), v.len())
            },
            Sink::Buffer(buf) => {
                Self::push(buf, TAG_STRING, (v.len() as u64).to_le_bytes());
                buf.extend_from_slice(v);
            }
        }
    }
}

/// Reads a value back, from the server or — made with [`from_bytes`](Self::from_bytes) — from
/// bytes written by [`RdbWriter::to_buffer`]. Every method returns an error
/// (`RDB data is truncated or corrupt`) once the stream is broken, so `?` is all a loader needs.
pub struct RdbReader<'a> {
    source: Source<'a>,
}

enum Source<'a> {
    /// The I/O handle Redis passed to `rdb_load`.
    Server(*mut raw::RedisModuleIO),
    /// What is left to read; emptied on the first error, so the stream stays broken.
    Bytes(&'a [u8]),
}

impl<'a> RdbReader<'a> {
    /// A reader of `bytes` in the [byte framing](RdbWriter#byte-framing) of
    /// [`RdbWriter::to_buffer`]. Reading past the end, an item of another type than the one
    /// asked for, or a string length beyond the remaining bytes is an error (with the server's
    /// wording); no read allocates more than the bytes remaining, whatever a length says, so
    /// arbitrary input is safe to load.
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        RdbReader {
            source: Source::Bytes(bytes),
        }
    }

    fn server(io: *mut raw::RedisModuleIO) -> Self {
        RdbReader {
            source: Source::Server(io),
        }
    }

    fn check(io: *mut raw::RedisModuleIO) -> Result<()> {
        // SAFETY: the I/O handle Redis passed to rdb_load.
        if unsafe { api!(RedisModule_IsIOError)(io) } != 0 {
            Err(Error::new(CORRUPT))
        } else {
            Ok(())
        }
    }

    /// The next 8-byte item tagged `tag`, from bytes.
    fn word(rest: &mut &'a [u8], tag: u8) -> Result<[u8; 8]> {
        let bytes: &'a [u8] = rest;
        match bytes.split_first_chunk::<9>() {
            Some((&[t, ref word @ ..], tail)) if t == tag => {
                *rest = tail;
                Ok(*word)
            }
            _ => Err(Self::broken(rest)),
        }
    }

    fn broken(rest: &mut &'a [u8]) -> Error {
        *rest = &[];
        Error::new(CORRUPT)
    }

    /// Loads an unsigned integer.
    pub fn load_u64(&mut self) -> Result<u64> {
        match &mut self.source {
            Source::Server(io) => {
                // SAFETY: as above.
                let v = unsafe { api!(RedisModule_LoadUnsigned)(*io) };
                Self::check(*io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_INT).map(u64::from_le_bytes),
        }
    }

    /// Loads a signed integer.
    pub fn load_i64(&mut self) -> Result<i64> {
        match &mut self.source {
            Source::Server(io) => {
                // SAFETY: as above.
                let v = unsafe { api!(RedisModule_LoadSigned)(*io) };
                Self::check(*io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_INT).map(i64::from_le_bytes),
        }
    }

    /// Loads a double.
    pub fn load_f64(&mut self) -> Result<f64> {
        match &mut self.source {
            Source::Server(io) => {
                // SAFETY: as above.
                let v = unsafe { api!(RedisModule_LoadDouble)(*io) };
                Self::check(*io).map(|()| v)
            }
            Source::Bytes(rest) => Self::word(rest, TAG_DOUBLE).map(f64::from_le_bytes),
        }
    }

    /// Loads a byte string.
    pub fn load_bytes(&mut self) -> Result<Vec<u8>> {
        let io = match &mut self.source {
            Source::Server(io) => *io,
            Source::Bytes(rest) => {
                let len = u64::from_le_bytes(Self::word(rest, TAG_STRING)?);
                // Checked before anything is allocated: a corrupt length cannot over-allocate.
                return match usize::try_from(len) {
                    Ok(len) if len <= rest.len() => {
                        let (bytes, tail) = (*rest).split_at(len);
                        *rest = tail;
                        Ok(bytes.to_vec())
                    }
                    _ => Err(Self::broken(rest)),
                };
            }
        };
        let mut len = 0usize;
        // SAFETY: as above; the buffer (if any) was allocated by the server for us.
        let p = unsafe { api!(RedisModule_LoadStringBuffer)(io, &mut len) };
        Self::check(io)?;
        if p.is_null() {
            return Err(Error::new(CORRUPT));
        }
        // SAFETY: `p` holds `len` bytes; it was allocated by the server, so it goes back there.
        let v = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec() };
        // SAFETY: as above.
        unsafe { api!(RedisModule_Free)(p.cast()) };
        Ok(v)
    }
}

/// A value of a data type together with the exact server bytes it holds, measured while it
/// was built: what [`Key::set_measured`] stores. Build it with [`Measured::build`]; the value
/// is readable meanwhile ([`Measured::get`]).
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
}

/// Emits the commands of an AOF rewrite.
pub struct AofWriter<'a> {
    io: *mut raw::RedisModuleIO,
    _p: PhantomData<&'a mut ()>,
}

impl AofWriter<'_> {
    /// Appends `command key args...` to the rewritten AOF (any number of arguments).
    pub fn emit(&mut self, command: &str, key: &RedisStr, args: &[&[u8]]) {
        let strings: Vec<RedisString> = args.iter().map(|a| RedisString::new(a)).collect();
        let mut argv: Vec<*mut raw::RedisModuleString> =
            strings.iter().map(|s| s.as_ptr()).collect();
        let cmd = super::cstring_lossy(command);
        // SAFETY: the I/O handle Redis passed to aof_rewrite. The key goes through "s", which
        // copies it (Redis passes a stack-allocated key object that must not be retained); "v"
        // takes our own strings and their count, which Redis retains before returning.
        unsafe {
            api!(RedisModule_EmitAOF)(
                self.io,
                cmd.as_ptr(),
                c"sv".as_ptr(),
                key.as_ptr(),
                argv.as_mut_ptr(),
                argv.len(),
            )
        };
    }
}

/// Feeds `DEBUG DIGEST-VALUE`.
pub struct Digest<'a> {
    md: *mut raw::RedisModuleDigest,
    _p: PhantomData<&'a mut ()>,
}

impl Digest<'_> {
    /// Adds bytes to the current sequence.
    pub fn add(&mut self, bytes: &[u8]) {
        // SAFETY: the digest Redis passed; bytes valid for their length.
        unsafe {
            api!(RedisModule_DigestAddStringBuffer)(self.md, bytes.as_ptr().cast(), bytes.len())
        }
    }

    /// Ends a sequence (an ordered group of additions).
    pub fn end_sequence(&mut self) {
        // SAFETY: as above.
        unsafe { api!(RedisModule_DigestEndSequence)(self.md) }
    }
}

impl Key<'_> {
    fn module_value<T: Registered>(&self) -> Result<Option<*mut Stored<T>>> {
        match self.kind() {
            KeyKind::Empty => Ok(None),
            KeyKind::Module => {
                // SAFETY: an open key holding a module value.
                let t = unsafe { api!(RedisModule_ModuleTypeGetType)(self.raw()) };
                if t.is_null() || t != T::handle().get() {
                    return Err(Error::wrong_type());
                }
                // SAFETY: as above; the value is a Box<Stored<T>> of this type.
                let v = unsafe { api!(RedisModule_ModuleTypeGetValue)(self.raw()) };
                Ok(Some(v.cast()))
            }
            _ => Err(Error::wrong_type()),
        }
    }

    /// The value of type `T` at this key: `None` if the key is empty, `WRONGTYPE` if it holds
    /// anything else.
    pub fn value<T: Registered>(&self) -> Result<Option<&T>> {
        // SAFETY: the pointer is this key's live value; the borrow of `self` keeps the key open.
        Ok(self.module_value::<T>()?.map(|p| unsafe { &(*p).value }))
    }

    /// The exact server bytes the value holds (what `MEMORY USAGE` adds for it).
    pub fn value_bytes<T: Registered>(&self) -> Result<Option<usize>> {
        // SAFETY: as in `value`.
        Ok(self.module_value::<T>()?.map(|p| unsafe { (*p).bytes }))
    }

    /// Stores the value built by `build` (measured as it is built), replacing what the key held.
    /// If `build` fails the key is untouched. The key must be opened writable.
    pub fn set_value<T: Registered>(&self, build: impl FnOnce() -> Result<T>) -> Result<()> {
        self.check_writable()?;
        self.set_measured(Measured::build(build)?)
    }

    /// Stores a value built (and measured) earlier with [`Measured::build`], replacing what
    /// the key held: for commands that must build the value before they can decide whether to
    /// store it (parse first, then look at NX/XX).
    pub fn set_measured<T: Registered>(&self, value: Measured<T>) -> Result<()> {
        self.check_writable()?;
        let p = Box::into_raw(value.0);
        // SAFETY: open writable key; the type handle was created at load; Redis takes
        // ownership of `p` (and frees the old value through our free callback).
        let r = unsafe {
            api!(RedisModule_ModuleTypeSetValue)(self.raw(), T::handle().get(), p.cast())
        };
        if r != raw::REDISMODULE_OK as c_int {
            // SAFETY: Redis did not take it.
            drop(unsafe { Box::from_raw(p) });
            return Err(Error::new("could not store the value"));
        }
        self.mark_modified();
        Ok(())
    }

    /// Changes the value in place with `f`, measuring what `f` allocates and frees so the value's
    /// size stays exact. `None` if the key is empty; `WRONGTYPE` if it holds something else.
    pub fn update<T: Registered, R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<Option<R>> {
        self.check_writable()?;
        let Some(p) = self.module_value::<T>()? else {
            return Ok(None);
        };
        self.mark_modified();
        // SAFETY: the key is open for writing and holds this value exclusively while borrowed.
        Ok(Some(unsafe { (*p).update(f) }))
    }
}

#[cfg(test)]
mod tests {
    use super::{RdbReader, RdbWriter};

    /// `Error::new(super::CORRUPT).message()`.
    const CORRUPT: &str = "ERR RDB data is truncated or corrupt";

    fn saved(f: impl FnOnce(&mut RdbWriter<'_>)) -> Vec<u8> {
        let mut buf = Vec::new();
        f(&mut RdbWriter::to_buffer(&mut buf));
        buf
    }

    #[test]
    fn buffer_framing_is_a_tag_and_little_endian_words() {
        let buf = saved(|w| {
            w.save_u64(0x0102_0304_0506_0708);
            w.save_i64(-2);
            w.save_f64(1.5);
            w.save_bytes(b"ab");
        });
        let mut expected = vec![2, 8, 7, 6, 5, 4, 3, 2, 1];
        expected.extend([2, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        expected.push(4);
        expected.extend(1.5f64.to_le_bytes());
        expected.extend([5, 2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(buf, expected);
    }

    #[test]
    fn buffer_appends_to_what_it_holds() {
        let mut buf = b"head".to_vec();
        RdbWriter::to_buffer(&mut buf).save_bytes(b"");
        assert_eq!(buf, b"head\x05\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn every_item_loads_back_bit_for_bit() {
        let floats = [
            0.0,
            -0.0,
            1e-310,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let blob: Vec<u8> = (0..=255).collect();
        let buf = saved(|w| {
            for v in [0, 1, u64::MAX] {
                w.save_u64(v);
            }
            for v in [i64::MIN, -1, i64::MAX] {
                w.save_i64(v);
            }
            for v in floats {
                w.save_f64(v);
            }
            w.save_bytes(b"");
            w.save_bytes(&blob);
        });
        let mut r = RdbReader::from_bytes(&buf);
        for v in [0, 1, u64::MAX] {
            assert_eq!(r.load_u64().unwrap(), v);
        }
        for v in [i64::MIN, -1, i64::MAX] {
            assert_eq!(r.load_i64().unwrap(), v);
        }
        for v in floats {
            assert_eq!(r.load_f64().unwrap().to_bits(), v.to_bits());
        }
        assert_eq!(r.load_bytes().unwrap(), b"");
        assert_eq!(r.load_bytes().unwrap(), blob);
        assert_eq!(r.load_u64().unwrap_err().message(), CORRUPT);
    }

    #[test]
    fn signed_and_unsigned_integers_share_one_tag_like_on_the_server() {
        let buf = saved(|w| {
            w.save_i64(-1);
            w.save_u64(u64::MAX);
        });
        let mut r = RdbReader::from_bytes(&buf);
        assert_eq!(r.load_u64().unwrap(), u64::MAX);
        assert_eq!(r.load_i64().unwrap(), -1);
    }

    #[test]
    fn an_item_of_another_type_is_corrupt() {
        let int = saved(|w| w.save_u64(1));
        let double = saved(|w| w.save_f64(1.0));
        let string = saved(|w| w.save_bytes(b"12345678"));
        assert_eq!(
            RdbReader::from_bytes(&double)
                .load_u64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&string)
                .load_i64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&int)
                .load_f64()
                .unwrap_err()
                .message(),
            CORRUPT
        );
        assert_eq!(
            RdbReader::from_bytes(&int)
                .load_bytes()
                .unwrap_err()
                .message(),
            CORRUPT
        );
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let buf = saved(|w| {
            w.save_u64(7);
            w.save_bytes(b"seven");
            w.save_f64(7.0);
        });
        for end in 0..buf.len() {
            let mut r = RdbReader::from_bytes(&buf[..end]);
            let result = r
                .load_u64()
                .and_then(|_| r.load_bytes())
                .and_then(|_| r.load_f64());
            assert_eq!(result.unwrap_err().message(), CORRUPT, "cut at {end}");
        }
        let mut r = RdbReader::from_bytes(&buf);
        assert!(r.load_u64().is_ok() && r.load_bytes().is_ok() && r.load_f64().is_ok());
    }

    #[test]
    fn a_length_beyond_the_input_is_refused_before_allocating() {
        // Each length would need far more memory than the input: allocating it first would
        // abort the test (or panic with a capacity overflow) instead of returning an error.
        for len in [4, 1 << 40, u64::MAX >> 1, u64::MAX] {
            let mut buf = vec![5];
            buf.extend(u64::to_le_bytes(len));
            buf.extend(b"abc");
            let err = RdbReader::from_bytes(&buf).load_bytes().unwrap_err();
            assert_eq!(err.message(), CORRUPT, "length {len}");
        }
    }

    #[test]
    fn a_broken_stream_stays_broken() {
        // A double where an integer is asked for, then a valid integer: the second read fails
        // too, as the server's I/O error flag stays set.
        let buf = saved(|w| {
            w.save_f64(1.0);
            w.save_u64(2);
        });
        let mut r = RdbReader::from_bytes(&buf);
        assert!(r.load_u64().is_err());
        assert!(r.load_f64().is_err());
        assert!(r.load_u64().is_err());
    }
}
