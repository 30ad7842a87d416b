//! Command filters: a function that sees, and may rewrite, every command before it runs
//! ([`Context::register_command_filter`]).
//!
//! A filter runs for commands from clients, from `MULTI`/`EXEC`, from Lua's `redis.call` and
//! from modules' `RedisModule_Call` (this module's too, unless [`FilterOptions::noself`]),
//! before the command is looked up. It runs with the server lock held but gets **no
//! [`Context`]**: there may be no client and no valid context at that point, so it can only
//! look at and change the arguments ([`FilterArgs`]): read, insert, replace, delete, or keep
//! one for later ([`FilterArgs::retain`]). It must be quick: it runs for every command.
//! A panic is logged and the command goes on with the arguments as the filter left them.
//!
//! Redis drops a module's filters when it unloads; at most 8 may be registered at once.
//!
//! ```no_run
//! use rmkit::prelude::*;
//! use rmkit::server::filter::{FilterArgs, FilterOptions};
//!
//! /// `SET` becomes `SET ... KEEPTTL`.
//! fn keep_ttl(args: &mut FilterArgs) {
//!     if args.get(0).is_some_and(|c| c.eq_ignore_ascii_case(b"set")) {
//!         let end = args.len();
//!         args.insert(end, b"KEEPTTL");
//!     }
//! }
//!
//! fn load(load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
//!     load.context()
//!         .register_command_filter(keep_ttl, FilterOptions::default())
//!         .map_err(|e| e.to_string())?;
//!     Ok(())
//! }
//! rmkit::on_load!(load);
//! # fn main() {}
//! ```

use crate::ffi::filter::FilterHandle;
use crate::{Context, Error, Result};

pub use crate::ffi::filter::FilterArgs;
pub use crate::ffi::string::RetainedString;

/// How a filter is registered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterOptions {
    /// Skip commands this module runs itself through `ctx.call` (`REDISMODULE_CMDFILTER_NOSELF`).
    pub noself: bool,
}

/// A registered filter, for [`Context::unregister_command_filter`]. Dropping it does not
/// unregister the filter (it stays until the module unloads).
pub struct CommandFilter(FilterHandle);

impl Context {
    /// Registers `filter` to run before every command (see [`crate::server::filter`]). `ERR`
    /// if this module already has 8 filters or Redis refused.
    pub fn register_command_filter(
        &self,
        filter: fn(&mut FilterArgs<'_>),
        options: FilterOptions,
    ) -> Result<CommandFilter> {
        self.raw()
            .register_filter(filter, options.noself)
            .map(CommandFilter)
            .ok_or_else(|| {
                Error::new("cannot register the command filter: a module may have at most 8")
            })
    }

    /// Unregisters `filter`; `ERR` if Redis does not know it (already gone, or a handle kept
    /// from a previous load of the module).
    pub fn unregister_command_filter(&self, filter: CommandFilter) -> Result<()> {
        if self.raw().unregister_filter(filter.0) {
            Ok(())
        } else {
            Err(Error::new("the command filter is not registered"))
        }
    }
}
