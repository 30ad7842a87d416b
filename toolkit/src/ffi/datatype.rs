//! Data types: `RedisModule_CreateDataType`, the C callbacks, and the RDB/AOF/digest I/O
//! handles the callbacks pass to Rust.

use super::{ERR, OK, RawCtx, RedisStr, api, guard};
use crate::datatype::{AofWriter, AuxWhen, DataType, Digest, RdbReader, RdbWriter, Registered};
use crate::{Error, Result};
use redis_module::raw;
use std::ffi::{CString, c_void};
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Where a registered data type's `RedisModuleType *` lives (set by `RedisModule_OnLoad`).
#[derive(Debug)]
pub struct TypeHandle(AtomicPtr<raw::RedisModuleType>);

impl TypeHandle {
    /// An empty handle (filled in at load).
    pub const fn new() -> Self {
        TypeHandle(AtomicPtr::new(ptr::null_mut()))
    }

    pub(crate) fn get(&self) -> *mut raw::RedisModuleType {
        self.0.load(Ordering::Acquire)
    }
}

impl Default for TypeHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// A value as the toolkit stores it in a key: the user's value and the server bytes it holds.
/// Every module value of a toolkit data type is a leaked `Box<Stored<T>>`.
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

/// What the server allocates for every module value besides the module's own bytes and that
/// `MEMORY USAGE` leaves out; `mem_usage` adds it, so the figure is what deleting the key gives
/// back. Measured when the first type is registered (see [`measure_server_wrapper`]).
static SERVER_WRAPPER: AtomicUsize = AtomicUsize::new(0);

/// Redis allocates a `moduleValue` (16 bytes) and an object header `robj` (16 bytes) per module
/// value and counts neither in `MEMORY USAGE`; it counts the key's dict entry as 24 bytes where
/// the allocator gives it its usable size for 24 (32 on jemalloc). Valkey 8 embeds the key in
/// the `robj`, has no dict entry, and counts that block as the key's, so there only the
/// `moduleValue` is missing. Sizes are this server allocator's usable sizes.
fn measure_server_wrapper(ctx: &RawCtx) -> usize {
    // SAFETY: a block of our own, allocated, sized and freed right here by the server's
    // allocator (the module API is initialised: this runs from OnLoad).
    let usable = |n: usize| unsafe {
        let p = api!(RedisModule_Alloc)(n);
        let usable = api!(RedisModule_MallocSize)(p);
        api!(RedisModule_Free)(p);
        usable
    };
    if ctx.server_info_has("server", "valkey_version") {
        usable(16)
    } else {
        2 * usable(16) + usable(24).saturating_sub(24)
    }
}

/// Creates data type `T` (called from OnLoad for each declared data type).
pub(crate) fn register_type<T: Registered>(ctx: &RawCtx) -> Result<(), String> {
    let aux = guard(what::<T>("aux_save_when"), T::aux_save_when).unwrap_or(AuxWhen::NEVER);
    let mut methods = raw::RedisModuleTypeMethods {
        version: 4, // up to copy/unlink/free_effort/defrag: what Redis 7.0 knows
        rdb_load: Some(rdb_load::<T>),
        rdb_save: Some(rdb_save::<T>),
        aof_rewrite: Some(aof_rewrite::<T>),
        mem_usage: Some(mem_usage::<T>),
        digest: Some(digest::<T>),
        free: Some(free::<T>),
        aux_load: (aux != AuxWhen::NEVER).then_some(aux_load::<T> as _),
        aux_save: (aux != AuxWhen::NEVER).then_some(aux_save::<T> as _),
        aux_save_triggers: aux_triggers(aux),
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
    // SAFETY: the load context; Redis copies the methods and the name.
    let t = unsafe {
        api!(RedisModule_CreateDataType)(
            ctx.as_ptr(),
            name.as_ptr(),
            T::ENCODING_VERSION,
            &mut methods,
        )
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
unsafe fn stored<'a, T>(value: *const c_void) -> &'a Stored<T> {
    // SAFETY: every value of this type is a leaked Box<Stored<T>>.
    unsafe { &*(value as *const Stored<T>) }
}

/// "data type 'NAME' callback", formatted only if a panic needs it (the callbacks run per
/// key: `free` on every delete).
struct What<T>(&'static str, PhantomData<T>);

impl<T: DataType> std::fmt::Display for What<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "data type '{}' {}", T::NAME, self.0)
    }
}

fn what<T: DataType>(callback: &'static str) -> What<T> {
    What(callback, PhantomData)
}

unsafe extern "C" fn rdb_load<T: Registered>(
    io: *mut raw::RedisModuleIO,
    encver: c_int,
) -> *mut c_void {
    if !guard(what::<T>("accepts_version"), || T::accepts_version(encver)).unwrap_or(false) {
        crate::log::log(
            crate::log::LogLevel::Warning,
            &format!(
                "rmkit: data type '{}': cannot load encoding version {encver} (this module writes {}); upgrade the module",
                T::NAME,
                T::ENCODING_VERSION
            ),
        );
        return ptr::null_mut();
    }
    let io = Io::new(io);
    let loaded = guard(what::<T>("rdb_load"), || {
        let mut reader = RdbReader::server(io);
        Stored::build(|| T::rdb_load(&mut reader, encver))
    });
    match loaded {
        Some(Ok(stored)) => Box::into_raw(stored).cast(),
        Some(Err(e)) => {
            crate::log::log(
                crate::log::LogLevel::Warning,
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
    let io = Io::new(io);
    guard(what::<T>("rdb_save"), || {
        v.value.rdb_save(&mut RdbWriter::server(io))
    });
}

fn aux_triggers(when: AuxWhen) -> c_int {
    let mut t = 0;
    if when.contains(AuxWhen::BEFORE_KEYSPACE) {
        t |= raw::REDISMODULE_AUX_BEFORE_RDB as c_int;
    }
    if when.contains(AuxWhen::AFTER_KEYSPACE) {
        t |= raw::REDISMODULE_AUX_AFTER_RDB as c_int;
    }
    t
}

fn aux_when(when: c_int) -> AuxWhen {
    if when == raw::REDISMODULE_AUX_BEFORE_RDB as c_int {
        AuxWhen::BEFORE_KEYSPACE
    } else {
        AuxWhen::AFTER_KEYSPACE
    }
}

unsafe extern "C" fn aux_save<T: Registered>(io: *mut raw::RedisModuleIO, when: c_int) {
    let io = Io::new(io);
    guard(what::<T>("aux_save"), || {
        T::aux_save(&mut RdbWriter::server(io), aux_when(when))
    });
}

unsafe extern "C" fn aux_load<T: Registered>(
    io: *mut raw::RedisModuleIO,
    encver: c_int,
    when: c_int,
) -> c_int {
    let io = Io::new(io);
    let r = guard(what::<T>("aux_load"), || {
        T::aux_load(&mut RdbReader::server(io), encver, aux_when(when))
    });
    match r {
        Some(Ok(())) => OK,
        Some(Err(e)) => {
            crate::log::log(
                crate::log::LogLevel::Warning,
                &format!("rmkit: data type '{}': aux data load failed: {e}", T::NAME),
            );
            ERR
        }
        None => ERR,
    }
}

unsafe extern "C" fn aof_rewrite<T: Registered>(
    io: *mut raw::RedisModuleIO,
    key: *mut raw::RedisModuleString,
    value: *mut c_void,
) {
    // SAFETY: see `stored`; Redis passes the key name as a live string.
    let (v, key) = unsafe { (stored::<T>(value), RedisStr::from_raw_ref(&key)) };
    let io = Io::new(io);
    guard(what::<T>("aof_rewrite"), || {
        v.value.aof_rewrite(key, &mut AofWriter::new(io))
    });
}

unsafe extern "C" fn mem_usage<T: Registered>(value: *const c_void) -> usize {
    // SAFETY: see `stored`.
    let bytes = unsafe { stored::<T>(value) }.bytes;
    bytes + SERVER_WRAPPER.load(Ordering::Relaxed)
}

unsafe extern "C" fn digest<T: Registered>(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value) };
    let md = DigestIo {
        md: NonNull::new(md).expect("Redis passed a NULL digest"),
        _p: PhantomData,
    };
    guard(what::<T>("digest"), || v.value.digest(&mut Digest::new(md)));
}

unsafe extern "C" fn free<T: Registered>(value: *mut c_void) {
    // SAFETY: Redis gives up the value: reclaim the box (maybe on the lazyfree thread).
    let b = unsafe { Box::from_raw(value as *mut Stored<T>) };
    guard(what::<T>("free"), || drop(b));
}

unsafe extern "C" fn free_effort<T: Registered>(
    _key: *mut raw::RedisModuleString,
    value: *const c_void,
) -> usize {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value) };
    guard(what::<T>("free_effort"), || v.value.free_effort(v.bytes)).unwrap_or(1)
}

unsafe extern "C" fn unlink<T: Registered>(
    _key: *mut raw::RedisModuleString,
    value: *const c_void,
) {
    // SAFETY: see `stored`.
    let v = unsafe { stored::<T>(value) };
    guard(what::<T>("unlink"), || v.value.unlink());
}

unsafe extern "C" fn copy<T: Registered>(
    from: *mut raw::RedisModuleString,
    to: *mut raw::RedisModuleString,
    value: *const c_void,
) -> *mut c_void {
    // SAFETY: see `stored`; Redis passes both key names as live strings.
    let (v, from, to) = unsafe {
        (
            stored::<T>(value),
            RedisStr::from_raw_ref(&from),
            RedisStr::from_raw_ref(&to),
        )
    };
    let copied = guard(what::<T>("copy"), || {
        Stored::build(|| {
            v.value
                .copy_between(from, to)
                .ok_or_else(|| Error::new("COPY is not supported"))
        })
    });
    match copied {
        Some(Ok(b)) => Box::into_raw(b).cast(),
        _ => ptr::null_mut(),
    }
}

/// The RDB/AOF I/O handle Redis passed to a data type callback, for the callback's duration.
pub(crate) struct Io<'a> {
    io: NonNull<raw::RedisModuleIO>,
    _p: PhantomData<&'a mut ()>,
}

impl Io<'_> {
    fn new(io: *mut raw::RedisModuleIO) -> Self {
        Io {
            io: NonNull::new(io).expect("Redis passed a NULL I/O handle"),
            _p: PhantomData,
        }
    }

    fn p(&self) -> *mut raw::RedisModuleIO {
        self.io.as_ptr()
    }

    pub(crate) fn save_unsigned(&mut self, v: u64) {
        // SAFETY: the I/O handle of the running rdb_save.
        unsafe { api!(RedisModule_SaveUnsigned)(self.p(), v) }
    }

    pub(crate) fn save_signed(&mut self, v: i64) {
        // SAFETY: as above.
        unsafe { api!(RedisModule_SaveSigned)(self.p(), v) }
    }

    pub(crate) fn save_double(&mut self, v: f64) {
        // SAFETY: as above.
        unsafe { api!(RedisModule_SaveDouble)(self.p(), v) }
    }

    pub(crate) fn save_bytes(&mut self, v: &[u8]) {
        // SAFETY: as above; the buffer is valid for its length and copied.
        unsafe { api!(RedisModule_SaveStringBuffer)(self.p(), v.as_ptr().cast(), v.len()) }
    }

    /// `RedisModule_Yield` with the I/O's context: lets the server answer other clients (with
    /// `-LOADING` / `-BUSY busy_reply`) during a long load.
    pub(crate) fn yield_to_clients(&mut self, busy_reply: &str) {
        let reply = super::cstring_lossy(busy_reply);
        // SAFETY: a live I/O handle; its context is valid during the callback; Redis copies
        // the busy reply before returning.
        unsafe {
            let ctx = api!(RedisModule_GetContextFromIO)(self.p());
            if !ctx.is_null() {
                api!(RedisModule_Yield)(
                    ctx,
                    raw::REDISMODULE_YIELD_FLAG_CLIENTS as c_int,
                    reply.as_ptr(),
                );
            }
        }
    }

    /// Whether the stream is broken (`RedisModule_IsIOError`).
    pub(crate) fn failed(&self) -> bool {
        // SAFETY: the I/O handle of the running rdb_load.
        unsafe { api!(RedisModule_IsIOError)(self.p()) != 0 }
    }

    pub(crate) fn load_unsigned(&mut self) -> u64 {
        // SAFETY: as above.
        unsafe { api!(RedisModule_LoadUnsigned)(self.p()) }
    }

    pub(crate) fn load_signed(&mut self) -> i64 {
        // SAFETY: as above.
        unsafe { api!(RedisModule_LoadSigned)(self.p()) }
    }

    pub(crate) fn load_double(&mut self) -> f64 {
        // SAFETY: as above.
        unsafe { api!(RedisModule_LoadDouble)(self.p()) }
    }

    /// The next string, copied into Rust; `None` if the stream is broken.
    pub(crate) fn load_bytes(&mut self) -> Option<Vec<u8>> {
        let mut len = 0usize;
        // SAFETY: as above; the buffer (if any) was allocated by the server for us.
        let p = unsafe { api!(RedisModule_LoadStringBuffer)(self.p(), &mut len) };
        if self.failed() || p.is_null() {
            return None;
        }
        // SAFETY: `p` holds `len` bytes; it was allocated by the server, so it goes back there.
        let v = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec() };
        // SAFETY: as above.
        unsafe { api!(RedisModule_Free)(p.cast()) };
        Some(v)
    }

    /// `RedisModule_EmitAOF(io, command, "sv", key, args...)`.
    pub(crate) fn emit_aof(&mut self, command: &str, key: &RedisStr, args: &[&[u8]]) {
        let (_strings, mut argv) = super::string::argv(args);
        let cmd = super::cstring_lossy(command);
        // SAFETY: the I/O handle of the running aof_rewrite. The key goes through "s", which
        // copies it (Redis passes a stack-allocated key object that must not be retained); "v"
        // takes our own strings and their count, which Redis retains before returning.
        unsafe {
            api!(RedisModule_EmitAOF)(
                self.p(),
                cmd.as_ptr(),
                c"sv".as_ptr(),
                key.as_ptr(),
                argv.as_mut_ptr(),
                argv.len(),
            )
        };
    }
}

/// The digest handle Redis passed to a `digest` callback.
pub(crate) struct DigestIo<'a> {
    md: NonNull<raw::RedisModuleDigest>,
    _p: PhantomData<&'a mut ()>,
}

impl DigestIo<'_> {
    pub(crate) fn add(&mut self, bytes: &[u8]) {
        // SAFETY: the digest of the running callback; bytes valid for their length.
        unsafe {
            api!(RedisModule_DigestAddStringBuffer)(
                self.md.as_ptr(),
                bytes.as_ptr().cast(),
                bytes.len(),
            )
        }
    }

    pub(crate) fn end_sequence(&mut self) {
        // SAFETY: as above.
        unsafe { api!(RedisModule_DigestEndSequence)(self.md.as_ptr()) }
    }
}
