//! Module configs: `RedisModule_Register*Config`, `LoadConfigs`, and the get/set callbacks.

use super::{RawCtx, RedisStr, RedisString, api, cstring_lossy};
use crate::server::config::{
    BoolConfig, CONFIGS, ConfigRef, EnumConfig, NumberConfig, StringConfig,
};
use redis_module::raw;
use std::ffi::{CString, c_char, c_int, c_longlong, c_void};
use std::sync::atomic::Ordering;

const OK: c_int = raw::REDISMODULE_OK as c_int;
const ERR: c_int = raw::REDISMODULE_ERR as c_int;

fn privdata<T>(c: &'static T) -> *mut c_void {
    c as *const T as *mut c_void
}

/// The server's `REDISMODULE_CONFIG_*` bits for the toolkit's flags.
fn server_flags(c: &ConfigRef) -> u32 {
    use crate::server::config::flag;
    let f = c.flags();
    let mut out = raw::REDISMODULE_CONFIG_DEFAULT;
    for (ours, theirs) in [
        (flag::IMMUTABLE, raw::REDISMODULE_CONFIG_IMMUTABLE),
        (flag::SENSITIVE, raw::REDISMODULE_CONFIG_SENSITIVE),
        (flag::HIDDEN, raw::REDISMODULE_CONFIG_HIDDEN),
        (flag::PROTECTED, raw::REDISMODULE_CONFIG_PROTECTED),
        (flag::DENY_LOADING, raw::REDISMODULE_CONFIG_DENY_LOADING),
        (flag::MEMORY, raw::REDISMODULE_CONFIG_MEMORY),
        (flag::BITFLAGS, raw::REDISMODULE_CONFIG_BITFLAGS),
    ] {
        if f & ours != 0 {
            out |= theirs;
        }
    }
    out
}

/// Registers every configuration parameter (values given at load are applied later, by
/// [`load_configs`]).
pub(crate) fn register_configs(ctx: &RawCtx) -> Result<usize, String> {
    let ctx = ctx.as_ptr();
    let mut seen = std::collections::HashSet::new();
    for c in CONFIGS.iter() {
        if !seen.insert(c.name()) {
            return Err(format!(
                "configuration parameter '{}' is declared twice",
                c.name()
            ));
        }
        c.reset();
        let flags = server_flags(c);
        let apply: raw::RedisModuleConfigApplyFunc = c.apply().map(|_| apply as _);
        let name = cstring_lossy(c.name());
        // SAFETY (all arms): valid load context; `privdata` points to a `'static` config of the
        // kind the callbacks expect; Redis copies names, defaults and enum names.
        let r = unsafe {
            match *c {
                ConfigRef::Bool(b) => api!(RedisModule_RegisterBoolConfig)(
                    ctx,
                    name.as_ptr(),
                    c_int::from(b.default),
                    flags,
                    Some(get_bool),
                    Some(set_bool),
                    apply,
                    privdata(b),
                ),
                ConfigRef::Number(n) => api!(RedisModule_RegisterNumericConfig)(
                    ctx,
                    name.as_ptr(),
                    n.default,
                    flags,
                    n.min,
                    n.max,
                    Some(get_number),
                    Some(set_number),
                    apply,
                    privdata(n),
                ),
                ConfigRef::String(s) => {
                    let default = cstring_lossy(s.default);
                    api!(RedisModule_RegisterStringConfig)(
                        ctx,
                        name.as_ptr(),
                        default.as_ptr(),
                        flags,
                        Some(get_string),
                        Some(set_string),
                        apply,
                        privdata(s),
                    )
                }
                ConfigRef::Enum(e) => {
                    let names: Vec<CString> =
                        e.choices.iter().map(|(n, _)| cstring_lossy(n)).collect();
                    let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
                    let values: Vec<c_int> = e.choices.iter().map(|(_, v)| *v).collect();
                    api!(RedisModule_RegisterEnumConfig)(
                        ctx,
                        name.as_ptr(),
                        e.default,
                        flags,
                        ptrs.as_mut_ptr(),
                        values.as_ptr(),
                        values.len() as c_int,
                        Some(get_enum),
                        Some(set_enum),
                        apply,
                        privdata(e),
                    )
                }
            }
        };
        if r != OK {
            return Err(format!(
                "Redis refused configuration parameter '{}' (a name clash, or a default outside its bounds)",
                c.name()
            ));
        }
    }
    Ok(seen.len())
}

/// `RedisModule_LoadConfigs`: applies the values given with `MODULE LOADEX ... CONFIG` or in
/// the config file (Redis logs the reason of a refused one).
pub(crate) fn load_configs(ctx: &RawCtx) -> Result<(), String> {
    // SAFETY: the load context.
    if unsafe { api!(RedisModule_LoadConfigs)(ctx.as_ptr()) } != OK {
        return Err("a configuration value given at load was refused (see the line above)".into());
    }
    Ok(())
}

/// The `applyfn` of every parameter declared with `on_apply`: `privdata` is the config.
unsafe extern "C" fn apply(
    ctx: *mut raw::RedisModuleCtx,
    p: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    let f = config_apply(p);
    let Some(f) = f else { return OK };
    // SAFETY: the context Redis passed to this apply call.
    let ctx = crate::Context::new(unsafe { RawCtx::from_raw(ctx) });
    match super::guard("a config apply callback", || f(&ctx)) {
        Some(Ok(())) => OK,
        // SAFETY: forwarded error slot.
        Some(Err(msg)) => unsafe { fail(err, &msg) },
        // SAFETY: as above.
        None => unsafe { fail(err, "the apply callback panicked (see the server log)") },
    }
}

/// The apply callback of the config `p` points to (each config struct starts differently, so
/// the kind is looked up by address among the declared configs).
fn config_apply(p: *mut c_void) -> Option<crate::server::config::ApplyFn> {
    CONFIGS.iter().find_map(|c| {
        let addr = match *c {
            ConfigRef::Bool(b) => privdata(b),
            ConfigRef::Number(n) => privdata(n),
            ConfigRef::String(s) => privdata(s),
            ConfigRef::Enum(e) => privdata(e),
        };
        (addr == p).then(|| c.apply()).flatten()
    })
}

/// Runs a config's `validate` on a new value; `Err` is reported as the CONFIG SET error.
fn check<T>(validate: Option<fn(T) -> Result<(), String>>, v: T) -> Result<(), String> {
    match validate {
        None => Ok(()),
        Some(f) => match super::guard("a config validate callback", || f(v)) {
            Some(r) => r,
            None => Err("the validate callback panicked (see the server log)".into()),
        },
    }
}

/// Reports `msg` as the reason a CONFIG SET failed.
///
/// # Safety
/// `err` is NULL or the error slot Redis passed to a config setter.
unsafe fn fail(err: *mut *mut raw::RedisModuleString, msg: &str) -> c_int {
    if !err.is_null() {
        let s = RedisString::new(msg.as_bytes());
        // SAFETY: Redis takes ownership of the error string it asked for.
        unsafe { *err = s.as_ptr() };
        std::mem::forget(s);
    }
    ERR
}

unsafe extern "C" fn get_bool(_: *const c_char, p: *mut c_void) -> c_int {
    // SAFETY: registered with a `&'static BoolConfig`.
    c_int::from(unsafe { &*(p as *const BoolConfig) }.get())
}

unsafe extern "C" fn set_bool(
    _: *const c_char,
    v: c_int,
    p: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: as above.
    let c = unsafe { &*(p as *const BoolConfig) };
    if let Err(msg) = check(c.validate, v != 0) {
        // SAFETY: forwarded error slot.
        return unsafe { fail(err, &msg) };
    }
    c.value.store(v != 0, Ordering::Relaxed);
    OK
}

unsafe extern "C" fn get_number(_: *const c_char, p: *mut c_void) -> c_longlong {
    // SAFETY: registered with a `&'static NumberConfig`.
    unsafe { &*(p as *const NumberConfig) }.get()
}

unsafe extern "C" fn set_number(
    _: *const c_char,
    v: c_longlong,
    p: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: as above (Redis has checked the bounds).
    let c = unsafe { &*(p as *const NumberConfig) };
    if let Err(msg) = check(c.validate, v) {
        // SAFETY: forwarded error slot.
        return unsafe { fail(err, &msg) };
    }
    c.value.store(v, Ordering::Relaxed);
    OK
}

unsafe extern "C" fn get_string(_: *const c_char, p: *mut c_void) -> *mut raw::RedisModuleString {
    // SAFETY: registered with a `&'static StringConfig`.
    let c = unsafe { &*(p as *const StringConfig) };
    // Redis does not free what the getter returns: keep one string alive per parameter and free
    // the previous one (getters run on the main thread, one at a time).
    let s = RedisString::new(c.get().as_bytes());
    let new = s.as_ptr();
    std::mem::forget(s);
    let old = c.returned.swap(new.cast(), Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: the string we created on the previous call and still own.
        unsafe { api!(RedisModule_FreeString)(std::ptr::null_mut(), old.cast()) };
    }
    new
}

unsafe extern "C" fn set_string(
    _: *const c_char,
    v: *mut raw::RedisModuleString,
    p: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static StringConfig`; `v` is live during the call.
    let (c, v) = unsafe { (&*(p as *const StringConfig), RedisStr::from_raw_ref(&v)) };
    match std::str::from_utf8(v.as_bytes()) {
        Ok(s) => match check(c.validate, s) {
            Ok(()) => {
                c.set(s.to_owned());
                OK
            }
            // SAFETY: forwarded error slot.
            Err(msg) => unsafe { fail(err, &msg) },
        },
        // SAFETY: forwarded error slot.
        Err(_) => unsafe { fail(err, "the value must be valid UTF-8") },
    }
}

unsafe extern "C" fn get_enum(_: *const c_char, p: *mut c_void) -> c_int {
    // SAFETY: registered with a `&'static EnumConfig`.
    unsafe { &*(p as *const EnumConfig) }.get()
}

unsafe extern "C" fn set_enum(
    _: *const c_char,
    v: c_int,
    p: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    // SAFETY: as above (Redis has matched the name(s) to our values).
    let c = unsafe { &*(p as *const EnumConfig) };
    if let Err(msg) = check(c.validate, v) {
        // SAFETY: forwarded error slot.
        return unsafe { fail(err, &msg) };
    }
    c.value.store(v, Ordering::Relaxed);
    OK
}

/// Frees the strings the string getters last handed out (at unload).
pub(crate) fn free_returned_strings() {
    for c in CONFIGS.iter() {
        if let ConfigRef::String(s) = c {
            let old = s.returned.swap(std::ptr::null_mut(), Ordering::AcqRel);
            if !old.is_null() {
                // SAFETY: a string we created in `get_string` and still own.
                unsafe { api!(RedisModule_FreeString)(std::ptr::null_mut(), old.cast()) };
            }
        }
    }
}
