//! Port of Redis 7.0's `tests/modules/getkeys.c`: commands whose keys only the command can
//! find (`getkeys-api`), with and without key flags, a fixed-position command, and
//! `GETKEYS.INTROSPECT`, `COMMAND GETKEYS` from inside a module.
#![forbid(unsafe_code)]

use rmkit::command::docs::KeyFlags;
use rmkit::command::{CommandKeysError, KeyName, Rest};
use rmkit::prelude::*;

rmkit::module! { name: "getkeys", version: 1 }

/// The index after every `KEY` argument.
fn after_key(args: &[RedisStr]) -> impl Iterator<Item = usize> + '_ {
    (1..args.len()).filter(|&i| args[i - 1].as_bytes().eq_ignore_ascii_case(b"key"))
}

fn keys(args: &[RedisStr]) -> Vec<usize> {
    after_key(args).collect()
}

fn keys_read_only(args: &[RedisStr]) -> Vec<(usize, &'static str)> {
    after_key(args).map(|i| (i, "RO access")).collect()
}

/// The arguments after each `KEY` (`args` without the command name).
fn following_key(args: Rest) -> Reply {
    Reply::Array(
        (1..args.len())
            .filter(|&i| args[i - 1].as_bytes().eq_ignore_ascii_case(b"key"))
            .map(|i| Reply::Bulk(args[i].as_bytes().to_vec()))
            .collect(),
    )
}

/// Replies every argument that follows a `KEY` argument; those are its keys.
#[rmkit::command(name = "getkeys.command", flags = "getkeys-api", getkeys = keys)]
fn getkeys_command(args: Rest) -> Result<Reply> {
    Ok(following_key(args))
}

/// As `getkeys.command`, reporting its keys as read-only (`RO access`).
#[rmkit::command(
    name = "getkeys.command_with_flags",
    flags = "getkeys-api",
    getkeys = keys_read_only
)]
fn getkeys_command_with_flags(args: Rest) -> Result<Reply> {
    Ok(following_key(args))
}

/// Replies its arguments; arguments 2 to 4 are keys.
#[rmkit::command(name = "getkeys.fixed", flags = "")]
fn getkeys_fixed(a: &RedisStr, k1: KeyName, k2: KeyName, k3: KeyName, rest: Rest) -> Result<Reply> {
    let mut out = vec![Reply::Bulk(a.as_bytes().to_vec())];
    out.extend([k1.0, k2.0, k3.0].map(|k| Reply::Bulk(k.as_bytes().to_vec())));
    out.extend(rest.iter().map(|s| Reply::Bulk(s.as_bytes().to_vec())));
    Ok(Reply::Array(out))
}

/// `GETKEYS.INTROSPECT with-flags command [arg ...]`: the keys of that command line, with
/// `RO`/`RW`/`OW`/`RM` when `with-flags` is 1.
#[rmkit::command(name = "getkeys.introspect", flags = "")]
fn getkeys_introspect(ctx: &Context, with_flags: &RedisStr, cmdline: Rest) -> Result<Reply> {
    if cmdline.len() < 2 {
        return Err(Error::new(
            "wrong number of arguments for 'getkeys.introspect' command",
        ));
    }
    let with_flags = rmkit::command::parse_i64(with_flags.as_bytes())
        .map_err(|_| Error::new("invalid integer"))?
        != 0;
    let keys = ctx.command_keys(&cmdline).map_err(|e| match e {
        CommandKeysError::NoSuchCommand => Error::new("ENOENT"),
        CommandKeysError::WrongArity => Error::new("EINVAL"),
    })?;
    Ok(Reply::Array(
        keys.into_iter()
            .map(|k| {
                let name = Reply::Bulk(cmdline[k.index].as_bytes().to_vec());
                if !with_flags {
                    return name;
                }
                let f = k.flags.unwrap_or_default();
                let access = [
                    (KeyFlags::RO, "RO"),
                    (KeyFlags::RW, "RW"),
                    (KeyFlags::OW, "OW"),
                    (KeyFlags::RM, "RM"),
                ]
                .into_iter()
                .find(|(bit, _)| f.contains(*bit))
                .map_or("", |(_, s)| s);
                Reply::Array(vec![name, Reply::from(access)])
            })
            .collect(),
    ))
}
