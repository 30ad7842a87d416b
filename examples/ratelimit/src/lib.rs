//! `ratelimit`: rate limiting for Redis, built with rmkit — a module that uses the server
//! integration a real module needs, as code to copy.
//!
//! | command | what |
//! |---|---|
//! | `RL.HIT key [limit window-ms]` | one request against `key`'s limit (`limit` requests per `window-ms`, GCRA): `[allowed 1/0, remaining, retry-after-ms]` |
//! | `RL.PEEK key [limit window-ms]` | the same answer without counting a request |
//! | `RL.STATS` | this node's figures: allowed, denied, resets, auth-denied (also in `INFO ratelimit`) |
//! | `RL.RESETSTATS` | zeroes the figures here and, in a cluster, on every node (a cluster message) |
//! | `RL.TOP [n]` | the commands this node ran most since load (counted by a command filter) |
//!
//! Load it with `--loadmodule ratelimit.so` (or `MODULE LOAD`); the argument
//! `count-commands no` leaves the command filter out (it runs for every command the server
//! executes) and `RL.TOP` then says so.
//!
//! What it shows:
//! - **Deterministic replication** of a time-based decision: the primary decides with its
//!   clock and replicates the effect (`SET key tat PXAT t`), never the command.
//! - **Configs** `ratelimit.default-limit` / `ratelimit.default-window-ms` (the defaults of
//!   `RL.HIT`; a window shorter than the limit is refused by a validation callback, since every
//!   request needs at least a millisecond) and `ratelimit.enabled` (off: every request is
//!   allowed and not counted; its change callback logs the switch).
//! - **INFO**: `INFO ratelimit` shows the live figures (`ratelimit_stats`) and the defaults.
//! - **Server events**: `FLUSHALL`/`FLUSHDB` zero the figures (the limits they describe are gone).
//! - **Cluster messages**: `RL.RESETSTATS` reaches every node.
//! - **A command filter** counts every command the node runs, by name (`RL.TOP`).
//! - **Custom authentication** (Redis 7.2+, Valkey 8): `ratelimit.auth-limit` caps `AUTH`
//!   attempts per client address per minute (brute-force protection) through an auth
//!   callback; on Redis 7.0, which has none, setting it is refused with the reason.
//! - **Module arguments**: a load hook reads `count-commands yes|no` and refuses the load,
//!   with the reason, for anything else.
//! - **Client information**: `RL.RESETSTATS` logs who reset the figures (ACL user, client id,
//!   address), an audit trail of a command that changes what every node reports.
#![forbid(unsafe_code)]

use rmkit::call::Arg;
use rmkit::prelude::*;
use rmkit::server::acl::AuthOutcome;
use rmkit::server::cluster::NodeId;
use rmkit::server::config::{BoolConfig, NumberConfig};
use rmkit::server::events::{EventKind, ServerEvent};
use rmkit::server::filter::{FilterArgs, FilterOptions};
use rmkit::server::info::InfoSink;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

rmkit::module! { name: "ratelimit", version: 1 }

/// Requests per window when `RL.HIT` is given no limit.
pub static DEFAULT_LIMIT: NumberConfig =
    NumberConfig::new("default-limit", 100, 1, 1 << 40).validate(limit_fits_window);
/// The window, in milliseconds, when `RL.HIT` is given none.
pub static DEFAULT_WINDOW_MS: NumberConfig =
    NumberConfig::new("default-window-ms", 60_000, 1, 1 << 40).validate(window_fits_limit);
/// Off: every request is allowed (and not counted).
pub static ENABLED: BoolConfig = BoolConfig::new("enabled", true).on_apply(log_enabled);

fn limit_fits_window(limit: i64) -> std::result::Result<(), String> {
    if limit > DEFAULT_WINDOW_MS.get() {
        return Err(format!(
            "default-limit {limit} is more than one request per millisecond of default-window-ms {}; raise the window first",
            DEFAULT_WINDOW_MS.get()
        ));
    }
    Ok(())
}

fn window_fits_limit(window: i64) -> std::result::Result<(), String> {
    if window < DEFAULT_LIMIT.get() {
        return Err(format!(
            "default-window-ms {window} is shorter than one millisecond per request of default-limit {}; lower the limit first",
            DEFAULT_LIMIT.get()
        ));
    }
    Ok(())
}

fn log_enabled(ctx: &Context) -> std::result::Result<(), String> {
    ctx.log(
        rmkit::LogLevel::Notice,
        if ENABLED.get() {
            "ratelimit: limits are enforced"
        } else {
            "ratelimit: limits are off (every request is allowed)"
        },
    );
    Ok(())
}
/// `AUTH` attempts allowed per client address per minute; 0 (the default): no limit.
pub static AUTH_LIMIT: NumberConfig =
    NumberConfig::new("auth-limit", 0, 0, 60_000).validate(auth_limit_possible);

fn auth_limit_possible(limit: i64) -> std::result::Result<(), String> {
    if limit > 0 && !AUTH_HOOKED.load(Ordering::Relaxed) {
        return Err(
            "this server cannot limit AUTH attempts: custom authentication came in \
                    Redis 7.2 and Valkey 8; leave ratelimit.auth-limit at 0"
                .into(),
        );
    }
    Ok(())
}
rmkit::config!(DEFAULT_LIMIT, DEFAULT_WINDOW_MS, ENABLED, AUTH_LIMIT);

/// This node's figures.
static ALLOWED: AtomicU64 = AtomicU64::new(0);
static DENIED: AtomicU64 = AtomicU64::new(0);
static RESETS: AtomicU64 = AtomicU64::new(0);
static AUTH_DENIED: AtomicU64 = AtomicU64::new(0);

fn reset_stats() {
    ALLOWED.store(0, Ordering::Relaxed);
    DENIED.store(0, Ordering::Relaxed);
    AUTH_DENIED.store(0, Ordering::Relaxed);
    RESETS.fetch_add(1, Ordering::Relaxed);
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A limit: `limit` requests per `window` ms, as a GCRA emission interval and tolerance.
#[derive(Debug, Clone, Copy)]
struct Limit {
    /// Milliseconds between requests at the sustained rate.
    interval: i64,
    /// How far ahead of now the theoretical arrival time may run (the burst).
    tolerance: i64,
}

impl Limit {
    fn new(limit: Option<i64>, window: Option<i64>) -> Result<Limit> {
        let limit = limit.unwrap_or_else(|| DEFAULT_LIMIT.get());
        let window = window.unwrap_or_else(|| DEFAULT_WINDOW_MS.get());
        if limit < 1 || window < 1 {
            return Err(Error::new("limit and window-ms must be positive integers"));
        }
        let interval = (window / limit).max(1);
        Ok(Limit {
            interval,
            tolerance: window - interval,
        })
    }
}

/// The decision for one request at `now` given the stored theoretical arrival time.
#[derive(Debug, PartialEq, Eq)]
struct Decision {
    allowed: bool,
    remaining: i64,
    retry_after: i64,
    /// The new theoretical arrival time, when allowed.
    tat: i64,
}

/// GCRA (a pure function: the tests check it without a server).
fn decide(limit: Limit, stored_tat: Option<i64>, now: i64) -> Decision {
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat + limit.interval;
    let allow_at = new_tat - limit.interval - limit.tolerance;
    if now < allow_at {
        return Decision {
            allowed: false,
            remaining: 0,
            retry_after: allow_at - now,
            tat,
        };
    }
    let remaining = (limit.tolerance - (new_tat - now - limit.interval)) / limit.interval;
    Decision {
        allowed: true,
        remaining: remaining.max(0),
        retry_after: 0,
        tat: new_tat,
    }
}

fn stored_tat(key: &rmkit::Key<'_>) -> Result<Option<i64>> {
    match key.kind() {
        KeyKind::Empty => Ok(None),
        KeyKind::String => {
            let text = key.string()?.unwrap_or_default();
            rmkit::command::parse_i64(text)
                .map(Some)
                .map_err(|_| Error::new("the key does not hold a rate limit"))
        }
        _ => Err(Error::wrong_type()),
    }
}

fn answer(d: &Decision) -> Reply {
    Reply::Array(vec![
        Reply::Integer(i64::from(d.allowed)),
        Reply::Integer(d.remaining),
        Reply::Integer(d.retry_after),
    ])
}

/// Counts one request against `key`'s limit (`limit` per `window-ms`, or the configured
/// defaults): `[allowed, remaining, retry-after-ms]`.
#[rmkit::command(
    name = "rl.hit",
    flags = "write deny-oom fast",
    acl = "write",
    since = "1.0.0",
    complexity = "O(1)"
)]
fn hit(
    ctx: &Context,
    mut key: WriteKey,
    limit: Option<i64>,
    window_ms: Option<i64>,
) -> Result<Reply> {
    let limit = Limit::new(limit, window_ms)?;
    if !ENABLED.get() {
        return Ok(answer(&Decision {
            allowed: true,
            remaining: limit.tolerance / limit.interval,
            retry_after: 0,
            tat: 0,
        }));
    }
    let now = now_ms();
    let d = decide(limit, stored_tat(&key)?, now);
    if d.allowed {
        // The effect, replicated as itself: replicas and the AOF never see the clock.
        let value = RedisString::from_i64(d.tat);
        key.set_string(&value)?;
        key.set_expire_at_ms(Some(d.tat))?;
        ctx.replicate_with(
            "SET",
            &[
                Arg::Str(key.name()),
                Arg::Int(d.tat),
                "PXAT".into(),
                Arg::Int(d.tat),
            ],
        )?;
        ALLOWED.fetch_add(1, Ordering::Relaxed);
    } else {
        DENIED.fetch_add(1, Ordering::Relaxed);
    }
    Ok(answer(&d))
}

/// `RL.HIT`'s answer without counting a request.
#[rmkit::command(
    name = "rl.peek",
    flags = "readonly fast",
    acl = "read",
    since = "1.0.0"
)]
fn peek(key: ReadKey, limit: Option<i64>, window_ms: Option<i64>) -> Result<Reply> {
    let limit = Limit::new(limit, window_ms)?;
    Ok(answer(&decide(limit, stored_tat(&key)?, now_ms())))
}

/// This node's figures: `allowed`, `denied`, `resets`.
#[rmkit::command(name = "rl.stats", flags = "readonly fast", since = "1.0.0")]
fn stats() -> Result<Reply> {
    Ok(Reply::Map(vec![
        (
            Reply::from("allowed"),
            Reply::from(ALLOWED.load(Ordering::Relaxed) as i64),
        ),
        (
            Reply::from("denied"),
            Reply::from(DENIED.load(Ordering::Relaxed) as i64),
        ),
        (
            Reply::from("resets"),
            Reply::from(RESETS.load(Ordering::Relaxed) as i64),
        ),
        (
            Reply::from("auth-denied"),
            Reply::from(AUTH_DENIED.load(Ordering::Relaxed) as i64),
        ),
    ]))
}

/// Cluster message type: "reset your figures".
const RESET_STATS: u8 = 1;

fn on_reset_message(ctx: &Context, from: &NodeId, _payload: &[u8]) {
    reset_stats();
    ctx.log(
        rmkit::LogLevel::Notice,
        &format!("ratelimit: figures reset by node {from}"),
    );
}
rmkit::on_cluster_message!(RESET_STATS, on_reset_message);

/// Zeroes the figures on this node and, in a cluster, on every other node; the log says who
/// asked.
#[rmkit::command(name = "rl.resetstats", flags = "fast", since = "1.0.0")]
fn resetstats(ctx: &Context) -> Result<Reply> {
    reset_stats();
    let user = ctx.current_user_name().unwrap_or_else(|| "?".into());
    let from = match ctx.client_id().and_then(|id| ctx.client_info(id)) {
        Some(c) if c.is_unix_socket() => format!("client {} on a unix socket", c.id),
        Some(c) => format!("client {} at {}:{}", c.id, c.addr, c.port),
        None => "no client".into(),
    };
    ctx.log(
        rmkit::LogLevel::Notice,
        &format!("ratelimit: figures reset by user {user} ({from})"),
    );
    if ctx.my_node_id().is_some() {
        ctx.send_cluster_message(None, RESET_STATS, b"")?;
    }
    Ok(Reply::Ok)
}

fn on_flush(_ctx: &Context, event: ServerEvent) {
    if let ServerEvent::FlushEnd { .. } = event {
        reset_stats();
    }
}
rmkit::on_server_event!(&[EventKind::Flush], on_flush);

/// `INFO ratelimit`: the figures and the defaults.
fn info(sink: &mut InfoSink, _for_crash_report: bool) {
    sink.section("stats");
    sink.field_u64("allowed", ALLOWED.load(Ordering::Relaxed));
    sink.field_u64("denied", DENIED.load(Ordering::Relaxed));
    sink.field_u64("resets", RESETS.load(Ordering::Relaxed));
    sink.field_u64("auth_denied", AUTH_DENIED.load(Ordering::Relaxed));
    sink.section("defaults");
    sink.field_i64("limit", DEFAULT_LIMIT.get());
    sink.field_i64("window_ms", DEFAULT_WINDOW_MS.get());
    sink.field_str("enabled", if ENABLED.get() { "yes" } else { "no" });
    sink.field_i64("auth_limit", AUTH_LIMIT.get());
}
rmkit::on_info!(info);

/// Commands run on this node since load, by lower-case name.
static COMMANDS: Mutex<Option<HashMap<Vec<u8>, u64>>> = Mutex::new(None);

/// The command filter: counts each command by name. It runs for every command, so it
/// allocates only for a name it has not seen (lower-cased on the stack).
fn count_command(args: &mut FilterArgs<'_>) {
    let Some(name) = args.get(0) else { return };
    let mut buf = [0u8; 64];
    let Some(lower) = buf.get_mut(..name.len()) else {
        return; // no command has a name this long
    };
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let mut c = COMMANDS.lock().unwrap_or_else(|p| p.into_inner());
    let map = c.get_or_insert_with(HashMap::new);
    match map.get_mut(&*lower) {
        Some(n) => *n += 1,
        None => {
            map.insert(lower.to_vec(), 1);
        }
    }
}

/// Whether the auth callback is registered (the server has custom authentication).
static AUTH_HOOKED: AtomicBool = AtomicBool::new(false);

/// The theoretical arrival time of the next `AUTH` per client address (GCRA, as for keys;
/// kept in memory: a restart forgets it).
static AUTH_TATS: Mutex<Option<HashMap<String, i64>>> = Mutex::new(None);

/// The auth callback: counts every `AUTH` attempt against its client address's limit and
/// refuses once it is spent; below it, Redis's own password check decides.
fn limit_auth(ctx: &Context, _user: &RedisStr, _pass: &RedisStr) -> AuthOutcome {
    let per_minute = AUTH_LIMIT.get();
    if per_minute == 0 || !ENABLED.get() {
        return AuthOutcome::NotHandled;
    }
    let Ok(limit) = Limit::new(Some(per_minute), Some(60_000)) else {
        return AuthOutcome::NotHandled;
    };
    let addr = match ctx.client_id().and_then(|id| ctx.client_info(id)) {
        Some(c) if !c.addr.is_empty() => c.addr,
        _ => "a unix socket".to_string(),
    };
    let now = now_ms();
    let mut tats = AUTH_TATS.lock().unwrap_or_else(|p| p.into_inner());
    let tats = tats.get_or_insert_with(HashMap::new);
    let d = decide(limit, tats.get(&addr).copied(), now);
    if d.allowed {
        if tats.len() >= 4096 {
            // Addresses whose budget is full again need no entry: bounded by the addresses
            // seen within one minute.
            tats.retain(|_, tat| *tat > now);
        }
        tats.insert(addr, d.tat);
        return AuthOutcome::NotHandled;
    }
    AUTH_DENIED.fetch_add(1, Ordering::Relaxed);
    AuthOutcome::Denied(format!(
        "too many AUTH attempts from {addr} (ratelimit.auth-limit is {per_minute} a minute); retry in {} ms",
        d.retry_after
    ))
}

/// Whether the command filter is registered (the `count-commands` module argument).
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Reads the module's arguments (`count-commands yes|no`, default yes) and registers the
/// command filter unless told not to.
fn on_load(load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
    let mut counting = true;
    let mut args = load
        .args()
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned());
    while let Some(name) = args.next() {
        let value = args.next();
        counting = match (name.to_ascii_lowercase().as_str(), value.as_deref()) {
            ("count-commands", Some(v)) if v.eq_ignore_ascii_case("yes") => true,
            ("count-commands", Some(v)) if v.eq_ignore_ascii_case("no") => false,
            _ => {
                return Err(format!(
                    "ratelimit: unknown module argument '{name} {}': the one argument is count-commands yes|no",
                    value.unwrap_or_default()
                ));
            }
        };
    }
    *COMMANDS.lock().unwrap_or_else(|p| p.into_inner()) = None;
    *AUTH_TATS.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let ctx = load.context();
    match ctx.register_auth_callback(limit_auth) {
        Ok(()) => AUTH_HOOKED.store(true, Ordering::Relaxed),
        Err(e) => {
            AUTH_HOOKED.store(false, Ordering::Relaxed);
            ctx.log(
                rmkit::LogLevel::Notice,
                &format!(
                    "ratelimit: AUTH attempts cannot be limited here: {}",
                    e.message()
                ),
            );
        }
    }
    COUNTING.store(counting, Ordering::Relaxed);
    if counting {
        ctx.register_command_filter(count_command, FilterOptions { noself: true })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
rmkit::on_load!(on_load);

fn on_unload() {
    *COMMANDS.lock().unwrap_or_else(|p| p.into_inner()) = None;
    *AUTH_TATS.lock().unwrap_or_else(|p| p.into_inner()) = None;
}
rmkit::on_unload!(on_unload);

/// The `n` (default 10) commands this node ran most since load: `[[name, count], ...]`.
#[rmkit::command(name = "rl.top", flags = "readonly fast", since = "1.0.0")]
fn top(n: Option<i64>) -> Result<Reply> {
    if !COUNTING.load(Ordering::Relaxed) {
        return Err(Error::new(
            "commands are not counted: the module was loaded with count-commands no (load it without that argument to count them)",
        ));
    }
    let n = usize::try_from(n.unwrap_or(10)).map_err(|_| Error::new("n must be positive"))?;
    let mut counts: Vec<(Vec<u8>, u64)> = COMMANDS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|c| c.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(Reply::Array(
        counts
            .into_iter()
            .take(n)
            .map(|(name, count)| Reply::Array(vec![Reply::from(name), Reply::from(count as i64)]))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_the_limit_per_window_then_says_when() {
        let limit = Limit::new(Some(3), Some(3000)).unwrap();
        let mut tat = None;
        for remaining in [2, 1, 0] {
            let d = decide(limit, tat, 10_000);
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
            tat = Some(d.tat);
        }
        let d = decide(limit, tat, 10_000);
        assert!(!d.allowed);
        assert_eq!(
            d.retry_after, 1000,
            "one interval later a request is allowed again"
        );
        assert!(decide(limit, tat, 11_000).allowed);
    }
}
