//! The module's lifecycle: [`module!`](crate::module!) declares it, the toolkit's
//! `RedisModule_OnLoad` registers everything declared anywhere in the linked crates and runs
//! the [`on_load!`](crate::on_load!) hooks (with the module's arguments), and its
//! `RedisModule_OnUnload` refuses an unload that would leave clients pointing at freed code,
//! runs the [`on_unload!`](crate::on_unload!) hooks and frees what the toolkit holds.

use crate::command::CommandDef;
use crate::datatype::DATA_TYPES;
use crate::ffi::RawCtx;
use crate::ffi::command::{CommandHandle, Info, Registration};
use crate::log::{LogLevel, log};
use crate::{Context, RedisStr};
use std::collections::HashMap;
use std::ffi::CStr;

/// What [`module!`](crate::module!) declares (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct ModuleDef {
    pub name: &'static CStr,
    pub version: i32,
    pub redis_allocator: bool,
    pub location: &'static str,
}

#[doc(hidden)]
pub use crate::ffi::registry::{MODULE_OPTIONS, MODULES, ON_LOAD, ON_UNLOAD};

/// What a module promises Redis beyond what the toolkit sets itself
/// (`RedisModule_SetModuleOptions`), declared with [`module_option!`](crate::module_option!).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)] // not zero-sized: linkme slices need a size
pub enum ModuleOption {
    /// The module's data types can be loaded while the old dataset is still served
    /// (`repl-diskless-load swapdb` with asynchronous loading): module-wide state read from an
    /// RDB during such a load must be kept aside until the `ReplAsyncLoadCompleted` server
    /// event, and dropped on `ReplAsyncLoadAborted`. Shown as `handle-repl-async-load` in
    /// `INFO modules`.
    HandleReplAsyncLoad,
}

/// Declares a [`ModuleOption`].
///
/// ```
/// rmkit::module_option!(HandleReplAsyncLoad);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! module_option {
    ($option:ident) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::module::MODULE_OPTIONS)]
            #[linkme(crate = $crate::__private::linkme)]
            static OPTION: $crate::module::ModuleOption = $crate::module::ModuleOption::$option;
        };
    };
}

/// What an [`on_load!`](crate::on_load!) hook runs as.
pub type OnLoadFn = fn(&mut Load<'_>) -> Result<(), String>;

/// The load in progress, handed to each [`on_load!`](crate::on_load!) hook: the module's
/// arguments and the context, and the choice of when the values given at load for its
/// configs are applied.
pub struct Load<'a> {
    ctx: &'a Context,
    args: &'a [RedisStr],
    configs: ConfigsAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfigsAt {
    /// The toolkit applies them after the last hook.
    Pending,
    /// A hook applied them.
    Loaded,
    /// A hook chose not to apply them.
    Skipped,
}

impl<'a> Load<'a> {
    /// The load's context (e.g. to call commands or log).
    pub fn context(&self) -> &'a Context {
        self.ctx
    }
    /// The module's arguments: `MODULE LOAD path a b`, `--loadmodule path a b`,
    /// `MODULE LOADEX path ... ARGS a b` give `[a, b]`.
    pub fn args(&self) -> &'a [RedisStr] {
        self.args
    }
    /// Applies the configs' values given at load (`MODULE LOADEX ... CONFIG`, the config file)
    /// now, so this hook sees them (`RedisModule_LoadConfigs`); the toolkit does not apply
    /// them again. A refused value is an `Err` (return it to fail the load).
    pub fn load_configs(&mut self) -> Result<(), String> {
        if self.configs == ConfigsAt::Pending {
            self.configs = ConfigsAt::Loaded;
            crate::ffi::config::load_configs(self.ctx.raw())?;
        }
        Ok(())
    }
    /// Does not call `RedisModule_LoadConfigs`. Redis then fails the load of a module that
    /// declares configs ("Module Configurations were not set, likely a missing LoadConfigs
    /// call. Unloading the module."), whether or not values were given: this is the C API's
    /// way to refuse a load after registering configs; a module without configs loads.
    pub fn skip_load_configs(&mut self) {
        if self.configs == ConfigsAt::Pending {
            self.configs = ConfigsAt::Skipped;
        }
    }
}

impl std::fmt::Debug for Load<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Load")
            .field("args", &self.args.len())
            .field("configs", &self.configs)
            .finish()
    }
}

/// Declares the module: its name and version, and the global allocator. The toolkit's own
/// `RedisModule_OnLoad`/`RedisModule_OnUnload` (exported by the library) then register every
/// command, data type, config and event handler of the linked crates. No `unsafe` and no
/// `extern "C"` in your crate.
///
/// ```
/// rmkit::module! { name: "mymod", version: 1 }
/// # fn main() {}
/// ```
/// `allocator: System` keeps Rust's system allocator instead (module memory is then invisible
/// to Redis — useful only to show the difference):
/// ```
/// rmkit::module! { name: "mymod", version: 1, allocator: System }
/// # fn main() {}
/// ```
/// The name must be 1–64 bytes of `[A-Za-z0-9_-]`; anything else fails to compile, and so does
/// a second `module!` in the same crate.
#[macro_export]
macro_rules! module {
    (name: $name:literal, version: $version:expr $(,)?) => {
        $crate::module!(@emit $name, $version, true);
        const _: () = {
            #[global_allocator]
            static ALLOCATOR: $crate::alloc::RedisAllocator = $crate::alloc::RedisAllocator::new();
        };
    };
    (name: $name:literal, version: $version:expr, allocator: System $(,)?) => {
        $crate::module!(@emit $name, $version, false);
        const _: () = {
            #[global_allocator]
            static ALLOCATOR: ::std::alloc::System = ::std::alloc::System;
        };
    };
    (@emit $name:literal, $version:expr, $redis_allocator:expr) => {
        /// `rmkit::module!` may appear once per crate: this name is defined by it.
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        struct rmkit_module_is_declared_more_than_once_in_this_crate;
        const _: () = {
            assert!(
                $crate::module::valid_module_name($name),
                "module name must be 1-64 bytes of [A-Za-z0-9_-]"
            );
            #[$crate::__private::linkme::distributed_slice($crate::module::MODULES)]
            #[linkme(crate = $crate::__private::linkme)]
            static MODULE: $crate::module::ModuleDef = $crate::module::ModuleDef {
                name: match ::std::ffi::CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                    Ok(name) => name,
                    Err(_) => panic!("module name contains NUL"),
                },
                version: $version,
                redis_allocator: $redis_allocator,
                location: concat!(file!(), ":", line!()),
            };
        };
    };
}

/// Runs `f` when the module is unloaded (`MODULE UNLOAD`).
///
/// Use it to free what module statics hold: if the module registered a thread-local destructor
/// or spawned a thread, the dynamic loader keeps its code mapped after unload and a later
/// `MODULE LOAD` sees the old statics — memory they still hold would stay counted in
/// `used_memory` forever. A panic in `f` is logged and the unload goes on.
///
/// ```
/// use std::sync::Mutex;
/// static CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
///
/// fn clear_cache() {
///     if let Ok(mut c) = CACHE.lock() {
///         *c = Vec::new();
///     }
/// }
/// rmkit::on_unload!(clear_cache);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_unload {
    ($f:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::module::ON_UNLOAD)]
            #[linkme(crate = $crate::__private::linkme)]
            static HOOK: fn() = $f;
        };
    };
}

/// Runs `f` while the module loads, after its commands and configs are registered and before
/// its data types are (so that [`DataType::aux_save_when`](crate::datatype::DataType::aux_save_when)
/// may depend on the arguments) and before the values given at load for its configs are
/// applied (unless `f` calls [`Load::load_configs`]); `Err(message)` refuses the load:
/// `MODULE LOAD` fails and the message is in the server log. Several hooks run in link order;
/// the first `Err` stops.
///
/// Order of a load: `RedisModule_Init`, commands, configs, the `on_load!` hooks, data types,
/// `RedisModule_LoadConfigs` (if no hook applied or skipped it), the configs' `on_apply`
/// callbacks, event handlers, the `INFO` callback.
///
/// ```
/// fn start(load: &mut rmkit::module::Load) -> Result<(), String> {
///     for arg in load.args() {
///         if arg.as_bytes() == b"fail" {
///             return Err("refused by the 'fail' argument".into());
///         }
///     }
///     Ok(())
/// }
/// rmkit::on_load!(start);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_load {
    ($f:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::module::ON_LOAD)]
            #[linkme(crate = $crate::__private::linkme)]
            static HOOK: $crate::module::OnLoadFn = $f;
        };
    };
}

/// Whether `name` is a valid module name (1–64 bytes of `[A-Za-z0-9_-]`); used by
/// [`module!`](crate::module!) at compile time.
#[doc(hidden)]
pub const fn valid_module_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name_chars_ok(name)
}

/// Whether every byte of `name` is in `[A-Za-z0-9_-]` (module and data type names).
pub(crate) const fn name_chars_ok(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The body of `RedisModule_OnLoad`.
pub(crate) fn load(ctx: &RawCtx, args: &[RedisStr]) -> Result<(), String> {
    let module = match MODULES.len() {
        1 => &MODULES[0],
        0 => {
            return Err(
                "this library links rmkit but declares no module: add `rmkit::module! { name: \
                 \"...\", version: 1 }` to the module crate"
                    .into(),
            );
        }
        _ => {
            let at: Vec<&str> = MODULES.iter().map(|m| m.location).collect();
            return Err(format!(
                "more than one rmkit::module! is linked into this library (at {})",
                at.join(", ")
            ));
        }
    };
    if !ctx.init(module.name, module.version) {
        return Err("RedisModule_Init failed (is a module with this name already loaded?)".into());
    }
    if let Some(name) = crate::ffi::module::missing_required() {
        return Err(format!(
            "this server does not provide {name}; rmkit needs Redis 7.0 or newer"
        ));
    }
    let name = module.name.to_string_lossy().into_owned();
    let mut warnings = Vec::new();
    if module.redis_allocator
        && let Err(e) = crate::ffi::module::install_allocator()
    {
        warnings.push(format!("rmkit: {e}"));
    }
    // Reset all toolkit state: after MODULE UNLOAD the image may have stayed mapped and its
    // statics survived.
    ctx.open_log();
    crate::ffi::thread::mark_main_thread();
    crate::log::install_panic_hook();
    crate::log::install();
    for w in &warnings {
        log(LogLevel::Warning, w);
    }

    // State of an earlier load of this image (filters, auth callbacks) is gone: the hooks
    // below may register anew.
    crate::ffi::filter::reset();
    crate::ffi::client::reset_auth();
    crate::server::acl::reset_auth_callbacks();
    let commands = register_commands(ctx, &name)?;
    let configs = crate::ffi::config::register_configs(ctx)?;
    let context = Context::new(ctx.clone_ref());
    let mut load = Load {
        ctx: &context,
        args,
        configs: ConfigsAt::Pending,
    };
    for hook in ON_LOAD.iter() {
        match crate::ffi::guard("an on_load hook", || hook(&mut load)) {
            Some(Ok(())) => {}
            Some(Err(msg)) => return Err(msg),
            None => return Err("an on_load hook panicked (see the line above)".into()),
        }
    }
    let types = register_types(ctx)?;
    // Keys opened for writing signal "modified" (WATCH, client tracking) only when the toolkit
    // saw a write through them (see `Key`), not on every close. With data types, RDB/RESTORE
    // read errors are reported to the loaders (RdbReader checks IsIOError) instead of
    // aborting the server.
    ctx.set_module_options(
        types > 0,
        MODULE_OPTIONS.contains(&ModuleOption::HandleReplAsyncLoad),
    );
    if configs > 0 && load.configs == ConfigsAt::Pending {
        crate::ffi::config::load_configs(ctx)?;
    }
    if load.configs != ConfigsAt::Skipped {
        crate::server::config::run_apply_callbacks(&context)?;
    }
    crate::ffi::events::subscribe(ctx)?;
    ctx.register_cluster_receivers();
    ctx.register_info();
    log(
        LogLevel::Notice,
        &format!(
            "rmkit: {commands} commands, {types} data types and {configs} configs registered; \
             Rust allocations {}",
            if rmkit_alloc::is_routed() {
                "go through RedisModule_Alloc (counted in used_memory)"
            } else {
                "use the system allocator (invisible to used_memory)"
            }
        ),
    );
    Ok(())
}

/// Creates every declared data type; duplicate names fail the load.
fn register_types(ctx: &RawCtx) -> Result<usize, String> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for def in DATA_TYPES.iter() {
        if let Some(other) = seen.insert(def.name, def.location) {
            let [(_, first), (_, second)] = in_source_order(((), other), ((), def.location));
            return Err(format!(
                "data type '{}' is declared twice: at {first} and at {second}",
                def.name
            ));
        }
        (def.register)(ctx).map_err(|e| format!("{e} (declared at {})", def.location))?;
    }
    Ok(seen.len())
}

/// Two declarations (what each declares, and where), in source order. linkme's order is the
/// linker's, so a message naming both says the same whatever order they were linked in.
fn in_source_order<T>(a: (T, &'static str), b: (T, &'static str)) -> [(T, &'static str); 2] {
    if source_order(a.1) <= source_order(b.1) {
        [a, b]
    } else {
        [b, a]
    }
}

/// Orders declaration sites (`file:line`) as they stand in the source: by file, then by line
/// number (so `lib.rs:13` comes after `lib.rs:7`).
fn source_order(location: &str) -> (&str, u32) {
    match location.rsplit_once(':') {
        Some((file, line)) => (file, line.parse().unwrap_or(u32::MAX)),
        None => (location, u32::MAX),
    }
}

/// A declared command name with a leading `{module}` replaced by the module's name.
fn resolved_name(declared: &str, module: &str) -> String {
    match declared.strip_prefix("{module}") {
        Some(rest) => format!("{module}{rest}"),
        None => declared.to_owned(),
    }
}

/// Registers every declared command; duplicate names (case-insensitive) fail the load. A name
/// `parent|sub` becomes a subcommand of container command `parent` (created on demand).
fn register_commands(ctx: &RawCtx, module: &str) -> Result<usize, String> {
    let mut seen: HashMap<String, (&'static str, &'static str)> = HashMap::new();
    let mut containers: HashMap<String, CommandHandle> = HashMap::new();
    let defs: Vec<&CommandDef> = crate::__private::all_commands();
    let mut with_acl = 0;
    for def in &defs {
        let name = resolved_name(def.name, module);
        crate::command::validate(def, &name)
            .map_err(|e| format!("{e} (declared at {})", def.location))?;
        let lower = name.to_ascii_lowercase();
        if let Some(&(other_name, other)) = seen.get(&lower) {
            let [(first_name, first), (_, second)] = in_source_order(
                (resolved_name(other_name, module), other),
                (name.clone(), def.location),
            );
            return Err(format!(
                "command '{first_name}' is declared twice: at {first} and at {second}; rename one"
            ));
        }
        seen.insert(lower.clone(), (def.name, def.location));
        let refused = || {
            format!(
                "Redis refused command '{name}' (declared at {}): the name may belong to the server \
                 or another module, or a flag is not supported by this server",
                def.location
            )
        };
        let derived = def.derive();
        let reg = Registration {
            callback: Some(def.callback),
            flags: def.flags,
            keys: derived.keys,
        };
        let cmd = match name.split_once('|') {
            None => {
                if defs.iter().any(|d| {
                    resolved_name(d.name, module)
                        .to_ascii_lowercase()
                        .starts_with(&format!("{lower}|"))
                }) {
                    return Err(format!(
                        "command '{name}' (declared at {}) has subcommands, so it cannot have a body of its own",
                        def.location
                    ));
                }
                ctx.create_command(&name, &reg).ok_or_else(refused)?
            }
            Some((parent, sub)) => {
                let key = parent.to_ascii_lowercase();
                if !containers.contains_key(&key) {
                    let container = Registration {
                        callback: None,
                        flags: "",
                        keys: (0, 0, 0),
                    };
                    let c = ctx.create_command(parent, &container).ok_or_else(refused)?;
                    containers.insert(key.clone(), c);
                }
                ctx.create_subcommand(&containers[&key], &name, sub, &reg)
                    .ok_or_else(refused)?
            }
        };
        let summary = summary(def.doc);
        cmd.set_info(&Info {
            summary: &summary,
            complexity: def.complexity,
            since: def.since,
            tips: def.tips,
            arity: def.arity,
            key_specs: &derived.key_specs,
            args: &derived.args,
            history: def.history,
        })
        .map_err(|e| format!("command '{name}' (declared at {}): {e}", def.location))?;
        if !def.acl.is_empty() {
            with_acl += 1;
            cmd.set_acl_categories(def.acl)
                .map_err(|e| format!("command '{name}' (declared at {}): {e}", def.location))?;
        }
    }
    if !crate::ffi::command::server_has_acl_categories() {
        // Redis 7.0 cannot put module commands in ACL categories: `-@write` does not stop them.
        let example = defs
            .iter()
            .find(|d| d.flags.split_ascii_whitespace().any(|f| f == "write"))
            .or(defs.first())
            .map_or("<command>".to_owned(), |d| {
                resolved_name(d.name, module)
                    .split('|')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
        log(
            LogLevel::Warning,
            &format!(
                "rmkit: this server cannot put module commands in ACL categories (needs Redis \
                 7.2+): rules such as '-@write' or '+@read' do not apply to module '{module}''s \
                 {} commands ({with_acl} of them declare categories); restrict ACL users by \
                 command name instead (e.g. '-{example}')",
                seen.len()
            ),
        );
    }
    Ok(seen.len())
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

/// The body of `RedisModule_OnUnload`: `false` refuses the unload (the module stays loaded,
/// nothing is torn down) while a client could still reach one of this module's commands after
/// it is gone: Redis 7.0 keeps pointers to a module's command structs in clients that queued
/// them in `MULTI` (their `EXEC` then calls freed code: a crash) and in every client whose last
/// command was one of them (`CLIENT LIST` then reads freed memory).
pub(crate) fn unload(ctx: &Context) -> bool {
    if let Some(why) = unload_blocker(ctx) {
        log(
            LogLevel::Warning,
            &format!("rmkit: MODULE UNLOAD refused: {why}"),
        );
        return false;
    }
    for hook in ON_UNLOAD.iter() {
        crate::ffi::guard("an on_unload hook", hook);
    }
    crate::ffi::guard(
        "unloading the module",
        crate::ffi::config::free_returned_strings,
    );
    true
}

/// Why unloading now would leave a client pointing at this module's freed commands, or `None`:
/// a client inside `MULTI` with queued commands (`CLIENT LIST` cannot tell which commands, so
/// any queue counts), or a client whose last command (`cmd=`) is one of this module's.
fn unload_blocker(ctx: &Context) -> Option<String> {
    crate::ffi::thread::free_pending_detached();
    let detached = crate::ffi::thread::LIVE_DETACHED.load(std::sync::atomic::Ordering::Acquire);
    if detached > 0 {
        return Some(format!(
            "{detached} DetachedContext(s) are alive: a thread of this module still runs its \
             code (stop it and drop its DetachedContext first)"
        ));
    }
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
    clients_blocking_unload(&String::from_utf8_lossy(text), &registered_names())
}

/// The full names (lower case) of every command this module registers, containers and
/// `parent|sub` subcommands included: what `CLIENT LIST` shows as a client's `cmd=`. Computed
/// when needed (the module holds no memory for it between commands).
fn registered_names() -> Vec<String> {
    let module = MODULES
        .first()
        .map_or(String::new(), |m| m.name.to_string_lossy().into_owned());
    let mut names = Vec::new();
    for def in crate::__private::all_commands() {
        let name = resolved_name(def.name, &module).to_ascii_lowercase();
        if let Some((parent, _)) = name.split_once('|') {
            names.push(parent.to_owned());
        }
        names.push(name);
    }
    names
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

    #[test]
    fn declaration_sites_sort_as_in_the_source() {
        use super::source_order;
        assert!(source_order("src/lib.rs:7") < source_order("src/lib.rs:13"));
        assert!(source_order("a/lib.rs:90") < source_order("b/lib.rs:1"));
    }

    #[test]
    fn summaries_are_the_first_paragraph_on_one_line() {
        assert_eq!(
            super::summary(" Set a field\n and reply.\n\n More."),
            "Set a field and reply."
        );
        assert_eq!(super::summary(""), "");
    }
}
