//! Port of Redis 7.0's `tests/modules/infotest.c`: the module's own `INFO` sections (a
//! default section, plain sections, dict fields, a crash-report-only section) and reading the
//! server's `INFO` from a command (`INFO.GETS/GETC/GETI/GETU/GETD section field`).
#![forbid(unsafe_code)]

use rmkit::prelude::*;
use rmkit::server::info::{InfoSink, ServerInfo};

rmkit::module! { name: "infotest", version: 1 }

fn write_info(info: &mut InfoSink, for_crash_report: bool) {
    info.section("");
    info.field_i64("global", -2);
    info.field_u64("uglobal", -2i64 as u64);

    info.section("Spanish");
    info.field_str("uno", "one");
    info.field_i64("dos", 2);

    info.section("Italian");
    info.field_i64("due", 2);
    info.field_f64("tre", 3.3);

    info.section("keyspace");
    info.begin_dict("db0");
    info.field_i64("keys", 3);
    info.field_i64("expires", 1);
    info.end_dict();

    info.section("unsafe");
    info.begin_dict("unsafe:field");
    info.field_i64("value", 1);
    info.end_dict();

    if for_crash_report {
        info.section("Klingon");
        info.field_str("one", "wa’");
        info.field_str("two", "cha’");
        info.field_str("three", "wej");
    }
}
rmkit::on_info!(write_info);

/// The server's `INFO <section>` (the C module ignores a fourth argument).
fn snapshot(ctx: &Context, section: &RedisStr) -> Result<ServerInfo> {
    ctx.server_info(&String::from_utf8_lossy(section.as_bytes()))
}

fn name(field: &RedisStr) -> String {
    String::from_utf8_lossy(field.as_bytes()).into_owned()
}

fn not_found() -> Error {
    Error::new("not found")
}

/// `INFO.GETS section field`: the field's text.
#[rmkit::command(name = "info.gets", flags = "")]
fn info_gets(
    ctx: &Context,
    section: &RedisStr,
    field: &RedisStr,
    _unused: Option<&RedisStr>,
) -> Result<Reply> {
    field_text(ctx, section, field)
}

/// `INFO.GETC section field`: the field's text (the C module reads it as a C string).
#[rmkit::command(name = "info.getc", flags = "")]
fn info_getc(
    ctx: &Context,
    section: &RedisStr,
    field: &RedisStr,
    _unused: Option<&RedisStr>,
) -> Result<Reply> {
    field_text(ctx, section, field)
}

/// The text of `field` in `section` (INFO.GETS and INFO.GETC reply the same).
fn field_text(ctx: &Context, section: &RedisStr, field: &RedisStr) -> Result<Reply> {
    let v = snapshot(ctx, section)?
        .field(&name(field))
        .ok_or_else(not_found)?;
    Ok(Reply::from(v))
}

/// `INFO.GETI section field`: the field as a signed integer.
#[rmkit::command(name = "info.geti", flags = "")]
fn info_geti(
    ctx: &Context,
    section: &RedisStr,
    field: &RedisStr,
    _unused: Option<&RedisStr>,
) -> Result<Reply> {
    let v = snapshot(ctx, section)?
        .field_i64(&name(field))
        .ok_or_else(not_found)?;
    Ok(Reply::Integer(v))
}

/// `INFO.GETU section field`: the field as an unsigned integer, replied as the C module does
/// (cast to a signed integer).
#[rmkit::command(name = "info.getu", flags = "")]
fn info_getu(
    ctx: &Context,
    section: &RedisStr,
    field: &RedisStr,
    _unused: Option<&RedisStr>,
) -> Result<Reply> {
    let v = snapshot(ctx, section)?
        .field_u64(&name(field))
        .ok_or_else(not_found)?;
    Ok(Reply::Integer(v as i64))
}

/// `INFO.GETD section field`: the field as a double.
#[rmkit::command(name = "info.getd", flags = "")]
fn info_getd(
    ctx: &Context,
    section: &RedisStr,
    field: &RedisStr,
    _unused: Option<&RedisStr>,
) -> Result<Reply> {
    let v = snapshot(ctx, section)?
        .field_f64(&name(field))
        .ok_or_else(not_found)?;
    Ok(Reply::Double(v))
}
