//! The link-time registries (`linkme` distributed slices): every command, data type, config,
//! event handler and lifecycle hook any linked crate declares. Declaring one places a static
//! in a linker section, which the `unsafe_code` lint counts as unsafe: it lives here, with the
//! rest of the glue, and is re-exported where the macros need it.

use crate::command::CommandDef;
use crate::datatype::DataTypeDef;
use crate::module::ModuleDef;
use crate::server::config::ConfigRef;
use crate::server::events::{KeyspaceHandler, ServerEventHandler};

/// Every command of the module, gathered at link time.
#[linkme::distributed_slice]
pub static COMMANDS: [CommandDef];

/// Every data type of the module.
#[linkme::distributed_slice]
pub static DATA_TYPES: [DataTypeDef];

/// Every configuration parameter of the module.
#[linkme::distributed_slice]
pub static CONFIGS: [ConfigRef];

/// Every keyspace notification handler of the module.
#[linkme::distributed_slice]
pub static KEYSPACE_HANDLERS: [KeyspaceHandler];

/// Every server event handler of the module.
#[linkme::distributed_slice]
pub static SERVER_EVENT_HANDLERS: [ServerEventHandler];

/// The module declaration of the library (exactly one).
#[linkme::distributed_slice]
pub static MODULES: [ModuleDef];

/// Functions run by `RedisModule_OnUnload`, in link order.
#[linkme::distributed_slice]
pub static ON_UNLOAD: [fn()];

/// Functions run by `RedisModule_OnLoad` after everything declared is registered, in link
/// order, with the module's load arguments; an `Err` fails the load.
#[linkme::distributed_slice]
pub static ON_LOAD: [fn(&crate::Context, &[crate::RedisStr]) -> crate::Result<()>];
