//! Keyspace notifications and server events, collected with `linkme` from any linked crate.
//!
//! ```
//! use rmkit::server::events::ServerEvent;
//! use rmkit::{Context, Notify, RedisStr};
//!
//! fn on_hash_write(_ctx: &Context, event: &str, key: &RedisStr) {
//!     rmkit::log::log(rmkit::LogLevel::Verbose, &format!("{event} on {:?}", key));
//! }
//! rmkit::on_keyspace_event!(&[Notify::Hash, Notify::Expired], on_hash_write);
//!
//! fn on_server(_ctx: &Context, event: ServerEvent) {
//!     if event == ServerEvent::Shutdown { /* flush caches */ }
//! }
//! rmkit::on_server_event!(on_server);
//! # fn main() {}
//! ```
//! Handlers run on the main thread inside `catch_unwind`: a panic is logged, never fatal.
//! Keyspace handlers must not write to the keyspace (Redis forbids it there).

use crate::{Context, Notify, RedisStr};

/// A keyspace notification handler (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct KeyspaceHandler {
    /// The classes it wants (`REDISMODULE_NOTIFY_*` bits, see [`mask`]).
    pub mask: i32,
    /// Called with the event name (`hset`, `del`, `expired`, ...) and the key.
    pub handler: fn(&Context, &str, &RedisStr),
}

#[doc(hidden)]
pub use crate::ffi::registry::KEYSPACE_HANDLERS;

/// The notification bits of `classes`.
#[doc(hidden)]
pub const fn mask(classes: &[Notify]) -> i32 {
    let mut m = 0;
    let mut i = 0;
    while i < classes.len() {
        m |= classes[i].bits();
        i += 1;
    }
    m
}

/// Server events a module can react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent {
    /// `FLUSHALL`/`FLUSHDB` is about to run.
    FlushStart,
    /// `FLUSHALL`/`FLUSHDB` has run.
    FlushEnd,
    /// The server is shutting down.
    Shutdown,
}

/// A server event handler (macro plumbing).
#[doc(hidden)]
#[derive(Debug)]
pub struct ServerEventHandler {
    /// Called for every [`ServerEvent`].
    pub handler: fn(&Context, ServerEvent),
}

#[doc(hidden)]
pub use crate::ffi::registry::SERVER_EVENT_HANDLERS;

/// Subscribes `handler: fn(&Context, &str, &RedisStr)` to keyspace notifications of `classes`
/// (a `&[Notify]`). Independent of the `notify-keyspace-events` setting.
#[macro_export]
macro_rules! on_keyspace_event {
    ($classes:expr, $handler:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice(
                $crate::server::events::KEYSPACE_HANDLERS
            )]
            #[linkme(crate = $crate::__private::linkme)]
            static HANDLER: $crate::server::events::KeyspaceHandler =
                $crate::server::events::KeyspaceHandler {
                    mask: $crate::server::events::mask($classes),
                    handler: $handler,
                };
        };
    };
}

/// Subscribes `handler: fn(&Context, ServerEvent)` to server events (flush, shutdown).
#[macro_export]
macro_rules! on_server_event {
    ($handler:path) => {
        const _: () = {
            #[$crate::__private::linkme::distributed_slice(
                $crate::server::events::SERVER_EVENT_HANDLERS
            )]
            #[linkme(crate = $crate::__private::linkme)]
            static HANDLER: $crate::server::events::ServerEventHandler =
                $crate::server::events::ServerEventHandler { handler: $handler };
        };
    };
}
