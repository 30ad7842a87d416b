//! A `log` crate backend that writes to the server log.
//!
//! Installed by `RedisModule_OnLoad`: `log::info!("...")` anywhere in the module (any thread)
//! ends up in the Redis log as `<module> ...`. Levels map to Redis's: error and warn → warning,
//! info → notice, debug → verbose, trace → debug; the server's `loglevel` filters them.

use crate::{LogLevel, log as server_log};

pub(crate) struct ServerLogger;

pub(crate) static LOGGER: ServerLogger = ServerLogger;

impl log::Log for ServerLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error | log::Level::Warn => LogLevel::Warning,
            log::Level::Info => LogLevel::Notice,
            log::Level::Debug => LogLevel::Verbose,
            log::Level::Trace => LogLevel::Debug,
        };
        server_log(level, &format!("{}", record.args()));
    }

    fn flush(&self) {}
}

/// Makes [`LOGGER`] the `log` backend (once per loaded image; later calls change nothing).
pub(crate) fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}
