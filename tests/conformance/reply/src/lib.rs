//! Port of Redis 7.0's `tests/modules/reply.c` (module `replywith`): one command per reply
//! type, in RESP2 and RESP3.
#![forbid(unsafe_code)]

use rmkit::prelude::*;

rmkit::module! { name: "replywith", version: 1 }

fn count(arg: &RedisStr) -> Result<i64> {
    rmkit::command::parse_i64(arg.as_bytes())
        .map_err(|_| Error::raw("Arg cannot be parsed as a integer"))
}

/// The argument, as a bulk string.
#[rmkit::command(name = "rw.string")]
fn string(s: &RedisStr) -> Result<Reply> {
    Ok(Reply::from(s.as_bytes()))
}

/// A simple string.
#[rmkit::command(name = "rw.cstring")]
fn cstring() -> Result<Reply> {
    Ok(Reply::Simple("A simple string".into()))
}

/// The argument as a big number.
#[rmkit::command(name = "rw.bignumber")]
fn bignumber(digits: &RedisStr) -> Result<Reply> {
    Ok(Reply::BigNumber(
        String::from_utf8_lossy(digits.as_bytes()).into_owned(),
    ))
}

/// The argument as an integer.
#[rmkit::command(name = "rw.int")]
fn int(n: &RedisStr) -> Result<Reply> {
    rmkit::command::parse_i64(n.as_bytes())
        .map(Reply::Integer)
        .map_err(|_| Error::raw("Arg cannot be parsed as an integer"))
}

fn double_arg(d: &RedisStr) -> Result<f64> {
    std::str::from_utf8(d.as_bytes())
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| !v.is_nan())
        .ok_or_else(|| Error::raw("Arg cannot be parsed as a double"))
}

/// The argument as a double.
#[rmkit::command(name = "rw.double")]
fn double(d: &RedisStr) -> Result<Reply> {
    Ok(Reply::Double(double_arg(d)?))
}

/// The argument as Redis prints a long double (`%.17Lf`, trailing zeros dropped): a bulk
/// string in RESP2. Rust has no `long double` (and the bindings leave out the C API's long
/// double calls), so a RESP3 client gets a double (see the note in scripts/conformance.sh).
#[rmkit::command(name = "rw.longdouble")]
fn longdouble(ctx: &Context, d: &RedisStr) -> Result<Reply> {
    let v = double_arg(d)?;
    if ctx.is_resp3() {
        return Ok(Reply::Double(v));
    }
    let mut text = format!("{v:.17}");
    if text.contains('.') {
        text.truncate(text.trim_end_matches('0').trim_end_matches('.').len());
    }
    Ok(Reply::from(text))
}

/// `0 .. n-1`.
#[rmkit::command(name = "rw.array")]
fn array(n: &RedisStr) -> Result<Reply> {
    Ok(Reply::Array((0..count(n)?).map(Reply::Integer).collect()))
}

/// `{i: i * 1.5}` for `i` in `0 .. n-1`.
#[rmkit::command(name = "rw.map")]
fn map(n: &RedisStr) -> Result<Reply> {
    Ok(Reply::Map(
        (0..count(n)?)
            .map(|i| (Reply::Integer(i), Reply::Double(i as f64 * 1.5)))
            .collect(),
    ))
}

/// The set `0 .. n-1`.
#[rmkit::command(name = "rw.set")]
fn set(n: &RedisStr) -> Result<Reply> {
    Ok(Reply::Set((0..count(n)?).map(Reply::Integer).collect()))
}

/// `+OK` with the attributes `{i: i * 1.5}`; an error for a RESP2 client.
#[rmkit::command(name = "rw.attribute")]
fn attribute(ctx: &Context, n: &RedisStr) -> Result<Reply> {
    let n = count(n)?;
    if !ctx.is_resp3() {
        return Err(Error::raw("Attributes aren't supported by RESP 2"));
    }
    Ok(Reply::Attributed {
        attributes: (0..n)
            .map(|i| (Reply::Integer(i), Reply::Double(i as f64 * 1.5)))
            .collect(),
        reply: Box::new(Reply::Ok),
    })
}

/// `[false, true]`.
#[rmkit::command(name = "rw.bool")]
fn bool_reply() -> Result<Reply> {
    Ok(Reply::Array(vec![Reply::Bool(false), Reply::Bool(true)]))
}

/// Nil.
#[rmkit::command(name = "rw.null")]
fn null() -> Result<Reply> {
    Ok(Reply::Null)
}

/// An error.
#[rmkit::command(name = "rw.error")]
fn error() -> Result<Reply> {
    Err(Error::raw("An error"))
}

/// The argument as a verbatim `txt` string.
#[rmkit::command(name = "rw.verbatim")]
fn verbatim(text: &RedisStr) -> Result<Reply> {
    Ok(Reply::Verbatim {
        format: *b"txt",
        text: text.as_bytes().to_vec(),
    })
}
