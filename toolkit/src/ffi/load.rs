//! `RedisModule_OnLoad` / `RedisModule_OnUnload`, as emitted by [`module!`](crate::module!).

use super::{LogLevel, api, cstring_lossy, panic_message};
use crate::command::{COMMANDS, validate};
use crate::datatype::DATA_TYPES;
use redis_module::raw;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

/// What [`module!`](crate::module!) knows about the module.
#[derive(Debug)]
pub struct ModuleDef {
    /// The module name (NUL-terminated, validated at compile time).
    pub name: &'static CStr,
    /// The module version reported by `MODULE LIST`.
    pub version: i32,
    /// Whether [`RedisAllocator`](crate::alloc::RedisAllocator) is the global allocator (and so
    /// should be switched to the server's allocator).
    pub redis_allocator: bool,
}

/// A detached context used for logging from anywhere (also outside commands and threads).
static LOG_CTX: AtomicPtr<raw::RedisModuleCtx> = AtomicPtr::new(std::ptr::null_mut());

const OK: c_int = raw::REDISMODULE_OK as c_int;
const ERR: c_int = raw::REDISMODULE_ERR as c_int;

/// Writes `msg` to the server log at `level`, as `<module> msg`. Callable from any thread and
/// outside commands; before the module is loaded (e.g. in unit tests) it writes to stderr.
pub fn log(level: LogLevel, msg: &str) {
    let ctx = LOG_CTX.load(Ordering::Acquire);
    // SAFETY: reading the fn-pointer static; see `api!`.
    let f = unsafe { raw::RedisModule_Log };
    match f {
        Some(f) if !ctx.is_null() => {
            let msg = cstring_lossy(msg);
            // SAFETY: `ctx` is the detached context created at load (valid until unload, which
            // clears it first); "%s" with a NUL-terminated string.
            unsafe { f(ctx, level.as_cstr().as_ptr(), c"%s".as_ptr(), msg.as_ptr()) };
        }
        _ => eprintln!("{msg}"),
    }
}

/// The body of `RedisModule_OnLoad`.
///
/// # Safety
/// Called only by Redis, with the context and arguments of a module load.
pub unsafe fn on_load(
    ctx: *mut raw::RedisModuleCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
    module: &'static ModuleDef,
) -> c_int {
    // SAFETY: forwarded from Redis.
    match catch_unwind(AssertUnwindSafe(|| unsafe { load(ctx, module) })) {
        Ok(Ok(())) => OK,
        Ok(Err(msg)) => {
            // SAFETY: forwarded context.
            unsafe { log_load_error(ctx, module, &msg) };
            ERR
        }
        Err(payload) => {
            let msg = format!("panicked while loading: {}", panic_message(&*payload));
            // SAFETY: forwarded context.
            unsafe { log_load_error(ctx, module, &msg) };
            ERR
        }
    }
}

unsafe fn log_load_error(ctx: *mut raw::RedisModuleCtx, module: &ModuleDef, msg: &str) {
    let line = cstring_lossy(&format!(
        "rmkit: module '{}' not loaded: {msg}",
        module.name.to_string_lossy()
    ));
    // SAFETY: reading a fn-pointer static (set if Init ran); the load context is valid.
    match unsafe { raw::RedisModule_Log } {
        Some(f) => unsafe { f(ctx, c"warning".as_ptr(), c"%s".as_ptr(), line.as_ptr()) },
        None => eprintln!("{}", line.to_string_lossy()),
    }
}

/// The first API function the toolkit needs that this server lacks, checked right after Init
/// so an old server fails the load with a clear line instead of a later error.
fn missing_required() -> Option<&'static str> {
    macro_rules! check {
        ($($name:ident),*) => {$(
            // SAFETY: reading a fn-pointer static that Init has just written.
            if unsafe { raw::$name }.is_none() {
                return Some(stringify!($name));
            }
        )*};
    }
    check!(
        RedisModule_Alloc,
        RedisModule_Calloc,
        RedisModule_Realloc,
        RedisModule_Free,
        RedisModule_CreateCommand,
        RedisModule_WrongArity,
        RedisModule_ReplyWithError,
        RedisModule_ReplyWithDouble,
        RedisModule_StringPtrLen,
        RedisModule_OpenKey,
        RedisModule_HashGet,
        RedisModule_HashSet,
        RedisModule_Log,
        RedisModule_RegisterInfoFunc
    );
    None
}

unsafe fn load(ctx: *mut raw::RedisModuleCtx, module: &'static ModuleDef) -> Result<(), String> {
    // SAFETY: Redis's load context; fills the API fn-pointer statics of this image.
    let init = unsafe {
        raw::Export_RedisModule_Init(
            ctx,
            module.name.as_ptr(),
            module.version,
            raw::REDISMODULE_APIVER_1 as c_int,
        )
    };
    if init != OK {
        return Err("RedisModule_Init failed (is a module with this name already loaded?)".into());
    }
    if let Some(name) = missing_required() {
        return Err(format!(
            "this server does not provide {name}; rmkit needs Redis 7.0 or newer"
        ));
    }
    let name = module.name.to_string_lossy().into_owned();
    let mut warnings = Vec::new();
    if module.redis_allocator {
        // SAFETY: the server's own allocation functions, valid for the life of the process.
        let installed = unsafe { rmkit_alloc::install(server_allocator()) };
        if let Err(e) = installed {
            warnings.push(format!("rmkit: {e}"));
        }
    }

    // Reset all toolkit state: after MODULE UNLOAD the image may have stayed mapped and its
    // statics survived.
    // SAFETY: valid load context; the detached context lives until unload.
    let log_ctx = unsafe {
        raw::RedisModule_GetDetachedThreadSafeContext.map_or(std::ptr::null_mut(), |f| f(ctx))
    };
    let old = LOG_CTX.swap(log_ctx, Ordering::AcqRel);
    free_log_ctx(old);
    install_panic_hook();
    crate::logger::install();
    for w in &warnings {
        super::log(LogLevel::Warning, w);
    }

    // SAFETY: valid load context.
    let types = unsafe { register_types(ctx) }?;
    // SAFETY: valid load context.
    let count = unsafe { register_commands(ctx, &name) }?;
    // SAFETY: valid load context.
    let configs = unsafe { super::config::register_configs(ctx) }?;
    // SAFETY: valid load context.
    unsafe { super::events::subscribe(ctx) }?;
    // SAFETY: valid load context; the callback is a plain extern "C" fn of this image.
    unsafe { api!(RedisModule_RegisterInfoFunc)(ctx, Some(info_callback)) };
    super::log(
        LogLevel::Notice,
        &format!(
            "rmkit: {count} commands, {types} data types and {configs} configs registered; Rust allocations {}",
            if rmkit_alloc::is_routed() {
                "go through RedisModule_Alloc (counted in used_memory)"
            } else {
                "use the system allocator (invisible to used_memory)"
            }
        ),
    );
    Ok(())
}

fn server_allocator() -> rmkit_alloc::RedisApi {
    // SAFETY: reading fn-pointer statics set by Init; REQUIRED checked the mandatory ones.
    unsafe {
        rmkit_alloc::RedisApi {
            alloc: api!(RedisModule_Alloc),
            try_alloc: raw::RedisModule_TryAlloc,
            calloc: api!(RedisModule_Calloc),
            try_calloc: raw::RedisModule_TryCalloc,
            realloc: api!(RedisModule_Realloc),
            try_realloc: raw::RedisModule_TryRealloc,
            free: api!(RedisModule_Free),
            malloc_size: raw::RedisModule_MallocSize,
        }
    }
}

/// Creates every data type of [`DATA_TYPES`]; duplicate names fail the load.
unsafe fn register_types(ctx: *mut raw::RedisModuleCtx) -> Result<usize, String> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for def in DATA_TYPES.iter() {
        if let Some(first) = seen.insert(def.name, def.location) {
            return Err(format!(
                "data type '{}' is declared twice: at {first} and at {}",
                def.name, def.location
            ));
        }
        // SAFETY: valid load context.
        unsafe { (def.register)(ctx) }
            .map_err(|e| format!("{e} (declared at {})", def.location))?;
    }
    if !seen.is_empty() {
        // Report RDB/RESTORE read errors to the loaders (RdbReader checks IsIOError) instead of
        // letting Redis abort.
        // SAFETY: valid load context.
        unsafe {
            api!(RedisModule_SetModuleOptions)(
                ctx,
                raw::REDISMODULE_OPTIONS_HANDLE_IO_ERRORS as c_int,
            )
        };
    }
    Ok(seen.len())
}

/// Registers every entry of [`COMMANDS`]; duplicate names (case-insensitive) fail the load.
/// A name `parent|sub` becomes a subcommand of container command `parent` (created on demand).
unsafe fn register_commands(ctx: *mut raw::RedisModuleCtx, module: &str) -> Result<usize, String> {
    let mut seen: HashMap<String, &'static str> = HashMap::new();
    let mut containers: HashMap<String, *mut raw::RedisModuleCommand> = HashMap::new();
    let mut acl_skipped = 0;
    let defs: Vec<_> = COMMANDS.iter().collect();
    for def in &defs {
        let name = match def.name.strip_prefix("{module}") {
            Some(rest) => format!("{module}{rest}"),
            None => def.name.to_owned(),
        };
        validate(def, &name).map_err(|e| format!("{e} (declared at {})", def.location))?;
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), def.location) {
            return Err(format!(
                "command '{name}' is declared twice: at {first} and at {}; rename one",
                def.location
            ));
        }
        let refused = || {
            format!(
                "Redis refused command '{name}' (declared at {}): the name may belong to the server \
                 or another module, or a flag is not supported by this server",
                def.location
            )
        };
        let cflags =
            CString::new(def.flags).map_err(|_| format!("flags of '{name}' contain NUL"))?;
        let cmd = match name.split_once('|') {
            None => {
                if defs.iter().any(|d| {
                    d.name
                        .to_ascii_lowercase()
                        .starts_with(&format!("{}|", name.to_ascii_lowercase()))
                }) {
                    return Err(format!(
                        "command '{name}' (declared at {}) has subcommands, so it cannot have a body of its own",
                        def.location
                    ));
                }
                let cname = CString::new(name.as_str())
                    .map_err(|_| format!("command name {name:?} contains NUL"))?;
                // SAFETY: valid load context; Redis copies the name and parses the flags; the
                // callback is a monomorphised trampoline in this image.
                let r = unsafe {
                    api!(RedisModule_CreateCommand)(
                        ctx,
                        cname.as_ptr(),
                        Some(def.callback),
                        cflags.as_ptr(),
                        def.first_key,
                        def.last_key,
                        def.key_step,
                    )
                };
                if r != OK {
                    return Err(refused());
                }
                // SAFETY: valid context; the command was just created.
                unsafe { api!(RedisModule_GetCommand)(ctx, cname.as_ptr()) }
            }
            Some((parent, sub)) => {
                // SAFETY: valid load context.
                let parent_cmd =
                    unsafe { container(ctx, parent, &mut containers) }.ok_or_else(refused)?;
                let csub =
                    CString::new(sub).map_err(|_| format!("command name {name:?} contains NUL"))?;
                // SAFETY: a container command of this module; as for CreateCommand.
                let r = unsafe {
                    api!(RedisModule_CreateSubcommand)(
                        parent_cmd,
                        csub.as_ptr(),
                        Some(def.callback),
                        cflags.as_ptr(),
                        def.first_key,
                        def.last_key,
                        def.key_step,
                    )
                };
                if r != OK {
                    return Err(refused());
                }
                let full = cstring_lossy(&name);
                // SAFETY: valid context; "parent|sub" names the subcommand just created.
                unsafe { api!(RedisModule_GetCommand)(ctx, full.as_ptr()) }
            }
        };
        if cmd.is_null() {
            return Err(format!(
                "RedisModule_GetCommand did not find '{name}' right after creating it"
            ));
        }
        // SAFETY: a command of this module.
        acl_skipped += usize::from(
            unsafe { super::info::set_command_info(cmd, &name, def) }
                .map_err(|e| format!("command '{name}' (declared at {}): {e}", def.location))?,
        );
    }
    if acl_skipped > 0 {
        super::log(
            LogLevel::Notice,
            &format!(
                "rmkit: ACL categories of {acl_skipped} commands not set: this server lacks \
                 RedisModule_SetCommandACLCategories (Redis 7.2+)"
            ),
        );
    }
    Ok(seen.len())
}

/// The container command `parent`, created (without a body) the first time a subcommand needs it.
unsafe fn container(
    ctx: *mut raw::RedisModuleCtx,
    parent: &str,
    containers: &mut HashMap<String, *mut raw::RedisModuleCommand>,
) -> Option<*mut raw::RedisModuleCommand> {
    if let Some(&c) = containers.get(&parent.to_ascii_lowercase()) {
        return Some(c);
    }
    let cname = CString::new(parent).ok()?;
    // SAFETY: valid load context; a NULL callback makes a container command.
    let r = unsafe {
        api!(RedisModule_CreateCommand)(ctx, cname.as_ptr(), None, c"".as_ptr(), 0, 0, 0)
    };
    if r != OK {
        return None;
    }
    // SAFETY: valid context; just created.
    let cmd = unsafe { api!(RedisModule_GetCommand)(ctx, cname.as_ptr()) };
    (!cmd.is_null()).then(|| {
        containers.insert(parent.to_ascii_lowercase(), cmd);
        cmd
    })
}

/// The first paragraph of a doc comment, on one line.
pub(crate) fn summary(doc: &str) -> String {
    doc.lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `INFO <module>_alloc`: the allocator's counters.
unsafe extern "C" fn info_callback(ctx: *mut raw::RedisModuleInfoCtx, _for_crash_report: c_int) {
    let s = rmkit_alloc::stats();
    // SAFETY: the info context Redis passed; field names are NUL-terminated literals.
    unsafe {
        let add = api!(RedisModule_InfoAddFieldULongLong);
        api!(RedisModule_InfoAddSection)(ctx, c"alloc".as_ptr());
        add(ctx, c"routed".as_ptr(), u64::from(s.routed));
        add(ctx, c"live_bytes".as_ptr(), s.live_bytes as u64);
        add(ctx, c"peak_bytes".as_ptr(), s.peak_bytes as u64);
        add(ctx, c"live_allocations".as_ptr(), s.live_allocations as u64);
        add(ctx, c"total_allocations".as_ptr(), s.total_allocations);
    }
}

/// Panics are caught at every trampoline; the hook writes them to the server log (with their
/// location), since the server's stderr is usually not where anyone looks.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let msg = format!(
            "rmkit: panic in thread '{}': {info}",
            thread.name().unwrap_or("<unnamed>")
        );
        super::log(LogLevel::Warning, &msg);
    }));
}

fn free_log_ctx(ctx: *mut raw::RedisModuleCtx) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: a detached context we created and no longer publish.
    if let Some(f) = unsafe { raw::RedisModule_FreeThreadSafeContext } {
        unsafe { f(ctx) };
    }
}

/// The body of `RedisModule_OnUnload`.
///
/// # Safety
/// Called only by Redis, on `MODULE UNLOAD`.
pub unsafe fn on_unload(_ctx: *mut raw::RedisModuleCtx) -> c_int {
    for hook in crate::lifecycle::ON_UNLOAD.iter() {
        if let Err(payload) = catch_unwind(hook) {
            super::log(
                LogLevel::Warning,
                &format!(
                    "rmkit: an on_unload hook panicked: {}",
                    panic_message(&*payload)
                ),
            );
        }
    }
    let _ = catch_unwind(|| {
        // The hook closure lives in this image: drop it before the image may be unmapped.
        let _ = std::panic::take_hook();
        free_log_ctx(LOG_CTX.swap(std::ptr::null_mut(), Ordering::AcqRel));
        super::config::free_returned_strings();
    });
    OK
}
