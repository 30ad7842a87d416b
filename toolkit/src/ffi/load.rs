//! `RedisModule_OnLoad` / `RedisModule_OnUnload`, as emitted by [`module!`](crate::module!).

use super::{LogLevel, api, cstring_lossy, panic_message};
use crate::command::{COMMANDS, validate};
use crate::datatype::DATA_TYPES;
use redis_module::raw;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
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

/// The full names (lower case) of every command this module registered, containers and
/// `parent|sub` subcommands included: what `CLIENT LIST` shows as a client's `cmd=`.
static REGISTERED: Mutex<Vec<String>> = Mutex::new(Vec::new());

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
    // Keys opened for writing signal "modified" (WATCH, client tracking) only when the toolkit
    // saw a write through them (see `Key`), not on every close. With data types, RDB/RESTORE
    // read errors are reported to the loaders (RdbReader checks IsIOError) instead of
    // aborting the server.
    let mut options = raw::REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED;
    if types > 0 {
        options |= raw::REDISMODULE_OPTIONS_HANDLE_IO_ERRORS;
    }
    // SAFETY: valid load context.
    unsafe { api!(RedisModule_SetModuleOptions)(ctx, options as c_int) };
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
    Ok(seen.len())
}

/// Registers every entry of [`COMMANDS`]; duplicate names (case-insensitive) fail the load.
/// A name `parent|sub` becomes a subcommand of container command `parent` (created on demand).
unsafe fn register_commands(ctx: *mut raw::RedisModuleCtx, module: &str) -> Result<usize, String> {
    let mut seen: HashMap<String, &'static str> = HashMap::new();
    let mut containers: HashMap<String, *mut raw::RedisModuleCommand> = HashMap::new();
    let mut registered = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    registered.clear();
    let mut acl_skipped = 0;
    let defs: Vec<_> = COMMANDS.iter().collect();
    for def in &defs {
        let name = resolved_name(def.name, module);
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
        registered.push(name.to_ascii_lowercase());
        if let Some((parent, _)) = name.split_once('|') {
            registered.push(parent.to_ascii_lowercase());
        }
        // SAFETY: a command of this module.
        acl_skipped += usize::from(
            unsafe { super::info::set_command_info(cmd, &name, def) }
                .map_err(|e| format!("command '{name}' (declared at {}): {e}", def.location))?,
        );
    }
    // SAFETY: reading a fn-pointer static set by Init.
    if unsafe { raw::RedisModule_SetCommandACLCategories }.is_none() {
        // Redis 7.0 cannot put module commands in ACL categories: `-@write` does not stop them.
        super::log(
            LogLevel::Warning,
            &format!(
                "rmkit: this server cannot put module commands in ACL categories (needs Redis \
                 7.2+): rules such as '-@write' or '+@read' do not apply to module '{module}''s \
                 {} commands ({acl_skipped} of them declare categories); restrict ACL users by \
                 command name instead (e.g. '-{}')",
                seen.len(),
                defs.iter()
                    .find(|d| d.flags.split_ascii_whitespace().any(|f| f == "write"))
                    .or(defs.first())
                    .map_or("<command>".to_owned(), |d| resolved_name(d.name, module)
                        .split('|')
                        .next()
                        .unwrap_or_default()
                        .to_owned())
            ),
        );
    }
    Ok(seen.len())
}

/// A declared command name with a leading `{module}` replaced by the module's name.
fn resolved_name(declared: &str, module: &str) -> String {
    match declared.strip_prefix("{module}") {
        Some(rest) => format!("{module}{rest}"),
        None => declared.to_owned(),
    }
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
/// Refuses the unload (the module stays loaded, nothing is torn down) while a client could
/// still reach one of this module's commands after it is gone: Redis 7.0 keeps pointers to a
/// module's command structs in clients that queued them in `MULTI` (their `EXEC` then calls
/// freed code: a crash) and in every client whose last command was one of them (`CLIENT LIST`
/// then reads freed memory). See [`unload_blocker`].
///
/// # Safety
/// Called only by Redis, on `MODULE UNLOAD`.
pub unsafe fn on_unload(ctx: *mut raw::RedisModuleCtx) -> c_int {
    // SAFETY: the unload context Redis passed, valid for this call.
    let ctx = unsafe { super::Context::from_raw(ctx) };
    match catch_unwind(AssertUnwindSafe(|| unload_blocker(&ctx))) {
        Ok(None) => {}
        Ok(Some(why)) => {
            super::log(
                LogLevel::Warning,
                &format!("rmkit: MODULE UNLOAD refused: {why}"),
            );
            return ERR;
        }
        Err(payload) => {
            let msg = panic_message(&*payload).to_owned();
            std::mem::forget(payload);
            super::log(
                LogLevel::Warning,
                &format!("rmkit: MODULE UNLOAD refused: checking the clients panicked: {msg}"),
            );
            return ERR;
        }
    }
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
        // Statics do not outlive the image, but what they hold would stay counted in
        // used_memory forever.
        *REGISTERED.lock().unwrap_or_else(|e| e.into_inner()) = Vec::new();
    });
    OK
}

/// Why unloading now would leave a client pointing at this module's freed commands, or `None`:
/// a client inside `MULTI` with queued commands (`CLIENT LIST` cannot tell which commands, so
/// any queue counts), or a client whose last command (`cmd=`) is one of this module's.
fn unload_blocker(ctx: &super::Context) -> Option<String> {
    let list = match ctx.call("CLIENT", &[b"LIST"]) {
        Ok(reply) => reply,
        Err(e) => {
            return Some(format!(
                "CLIENT LIST failed ({e}), so the clients cannot be checked"
            ));
        }
    };
    let Some(text) = list.as_bytes() else {
        return Some("CLIENT LIST did not reply with text".into());
    };
    let ours = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    clients_blocking_unload(&String::from_utf8_lossy(text), &ours)
}

/// The decision of [`unload_blocker`] on the text of `CLIENT LIST` (a pure function, tested).
pub(crate) fn clients_blocking_unload(client_list: &str, ours: &[String]) -> Option<String> {
    for line in client_list.lines() {
        let field = |name: &str| {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        };
        let who = format!(
            "client id={} addr={}",
            field("id").unwrap_or("?"),
            field("addr").unwrap_or("?")
        );
        if let Some(queued) = field("multi").and_then(|m| m.parse::<i64>().ok())
            && queued > 0
        {
            return Some(format!(
                "{who} has {queued} commands queued in MULTI; EXEC after the unload would call \
                 this module's freed commands (a Redis bug): EXEC or DISCARD them (or disconnect \
                 the client), then unload again"
            ));
        }
        if let Some(cmd) = field("cmd")
            && ours.iter().any(|o| o.eq_ignore_ascii_case(cmd))
        {
            return Some(format!(
                "{who} last ran '{cmd}' and Redis keeps pointing at that command after an \
                 unload (CLIENT LIST would read freed memory): unload again once that client \
                 has run another command or disconnected"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::clients_blocking_unload;

    const LIST: &str = "id=5 addr=127.0.0.1:1 laddr=x fd=8 name= age=0 idle=0 flags=N db=0 \
        multi=-1 cmd=hset user=default\n\
        id=6 addr=127.0.0.1:2 laddr=x fd=9 name= flags=N db=0 multi=-1 cmd=module|unload user=default\n";

    fn ours() -> Vec<String> {
        ["hgetset", "json.debug", "json.debug|memory"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn idle_clients_of_other_commands_do_not_block_an_unload() {
        assert_eq!(clients_blocking_unload(LIST, &ours()), None);
        assert_eq!(clients_blocking_unload("", &ours()), None);
    }

    #[test]
    fn a_queued_transaction_blocks_an_unload() {
        let list = LIST.replace(
            "id=5 addr=127.0.0.1:1 laddr=x fd=8 name= age=0 idle=0 flags=N db=0 multi=-1",
            "id=5 addr=127.0.0.1:1 flags=x multi=2",
        );
        let why = clients_blocking_unload(&list, &ours()).unwrap();
        assert!(
            why.starts_with("client id=5 addr=127.0.0.1:1 has 2 commands queued in MULTI"),
            "{why}"
        );
        // MULTI without queued commands yet is harmless.
        let list = LIST.replace("multi=-1 cmd=hset", "multi=0 cmd=multi");
        assert_eq!(clients_blocking_unload(&list, &ours()), None);
    }

    #[test]
    fn a_client_whose_last_command_is_ours_blocks_an_unload() {
        for cmd in ["hgetset", "HGETSET", "json.debug|memory"] {
            let list = LIST.replace("cmd=hset", &format!("cmd={cmd}"));
            let why = clients_blocking_unload(&list, &ours()).unwrap();
            assert!(why.contains(&format!("last ran '{cmd}'")), "{why}");
        }
    }
}
