//! Small helpers the integration tests share.

use redis::Connection;

/// The error reply as it was on the wire: `"<CODE> <message>"` (redis-rs splits the two).
///
/// ```no_run
/// let server = rmkit_test::Server::start();
/// let e = redis::cmd("NOPE").query::<()>(&mut server.client()).unwrap_err();
/// assert!(rmkit_test::err_text(e).starts_with("ERR unknown command"));
/// ```
pub fn err_text(e: redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// An integer field of `INFO <section>` read over `con` (an existing connection, so that no new
/// client allocates server memory in between). Panics if it is missing.
pub fn info_i64(con: &mut Connection, section: &str, field: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no integer field {field}"))
}

/// `INFO memory` `used_memory`, read over `con`.
pub fn used_memory(con: &mut Connection) -> i64 {
    info_i64(con, "memory", "used_memory")
}

/// A command from its words: `cmd(&["HSET", "k", "f", "v"])`.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command and converts its reply; panics (naming the command) on an error reply.
pub fn q<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    cmd(args)
        .query(con)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command that must fail; returns its error text as on the wire.
pub fn q_err(con: &mut Connection, args: &[&str]) -> String {
    err_text(
        cmd(args)
            .query::<redis::Value>(con)
            .expect_err(&format!("{args:?} should fail")),
    )
}

/// Stops the server from resizing client reply buffers (`DEBUG REPLYBUFFER RESIZING 0`; Redis
/// 7.0+ and Valkey): Redis shrinks a connection's 16 KB reply buffer in its cron when the last
/// seconds' replies were small, which moves `used_memory` by ~15 KB at a moment the test does
/// not control. Tests that assert exact `used_memory` deltas call this first.
pub fn keep_reply_buffers(con: &mut Connection) {
    let _: () = q(con, &["DEBUG", "REPLYBUFFER", "RESIZING", "0"]);
}
