//! The server log: [`log()`] from anywhere (any thread, also outside commands), and a `log`
//! crate backend, so `log::info!("...")` anywhere in the module ends up in the Redis log.
//! Levels map to Redis's: error and warn → warning, info → notice, debug → verbose, trace →
//! debug; the server's `loglevel` filters them. Every message is one line (line breaks become
//! spaces): a multi-line panic message does not split a log line in two.

/// Server log levels (`loglevel` in redis.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `verbose`
    Verbose,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
}

impl LogLevel {
    pub(crate) fn as_cstr(self) -> &'static std::ffi::CStr {
        match self {
            LogLevel::Debug => c"debug",
            LogLevel::Verbose => c"verbose",
            LogLevel::Notice => c"notice",
            LogLevel::Warning => c"warning",
        }
    }
}

/// Writes `msg` to the server log at `level`, prefixed with the module name (`<module> msg`).
/// Before the module is loaded (e.g. in unit tests) it writes to stderr.
pub fn log(level: LogLevel, msg: &str) {
    if msg.contains(['\r', '\n']) {
        crate::ffi::module::log(level.as_cstr(), &msg.replace(['\r', '\n'], " "));
    } else {
        crate::ffi::module::log(level.as_cstr(), msg);
    }
}

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
        log(level, &format!("{}", record.args()));
    }

    fn flush(&self) {}
}

/// Makes [`LOGGER`] the `log` backend (once per loaded image; later calls change nothing).
pub(crate) fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

/// Panics are caught at every callback; the hook writes them to the server log (with their
/// location), since the server's stderr is usually not where anyone looks.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let msg = format!(
            "rmkit: panic in thread '{}': {info}",
            thread.name().unwrap_or("<unnamed>")
        );
        log(LogLevel::Warning, &msg);
    }));
}
