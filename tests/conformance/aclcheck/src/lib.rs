//! Port of Redis 7.0's `tests/modules/aclcheck.c`: commands that check the calling user's
//! ACL permissions on a key, a channel or a command before running it, and `RM_Call` with the
//! ACL check (`C`) on.
#![forbid(unsafe_code)]

use rmkit::call::CallOptions;
use rmkit::command::Rest;
use rmkit::prelude::*;
use rmkit::server::acl::{AclLogReason, ChannelAccess, KeyAccess, ModuleUser, User};

rmkit::module! { name: "aclcheck", version: 1 }

/// Runs `args[0] args[1..]` through `ctx.call` and passes on its reply (errors included).
fn call_on(ctx: &Context, options: CallOptions, args: &[RedisStr]) -> Result<Reply> {
    let command = args[0].to_str()?;
    let rest: Vec<&[u8]> = args[1..].iter().map(|a| a.as_bytes()).collect();
    Ok(ctx.call_with(options, command, &rest)?.into())
}

/// `aclcheck.set.check.key <W|R|*|~> key value ...`: `SET key value ...` if the user may
/// access `key` as the flag says (`W` update, `R` read, `*` both, `~` either), else
/// `DENIED KEY`.
#[rmkit::command(name = "aclcheck.set.check.key", flags = "write")]
fn set_check_key(ctx: &Context, access: &RedisStr, args: Rest) -> Result<Reply> {
    if args.len() < 2 {
        return Err(Error::wrong_arity("aclcheck.set.check.key"));
    }
    let access = match access.as_bytes().to_ascii_uppercase().as_slice() {
        b"W" => KeyAccess::UPDATE,
        b"R" => KeyAccess::READ,
        b"*" => KeyAccess::UPDATE | KeyAccess::READ,
        b"~" => KeyAccess::ANY,
        _ => return Err(Error::raw("INVALID FLAGS")),
    };
    let user = ctx.current_acl_user()?;
    if user.check_key(&args[0], access).is_err() {
        return Err(Error::raw("DENIED KEY"));
    }
    let rest: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    Ok(ctx.call("SET", &rest)?.into())
}

/// `aclcheck.publish.check.channel channel message`: `PUBLISH` if the user may subscribe to
/// `channel`, else `DENIED CHANNEL`.
#[rmkit::command(name = "aclcheck.publish.check.channel", flags = "")]
fn publish_check_channel(ctx: &Context, channel: &RedisStr, message: &RedisStr) -> Result<Reply> {
    let user = ctx.current_acl_user()?;
    if user
        .check_channel(channel, ChannelAccess::Subscribe)
        .is_err()
    {
        return Err(Error::raw("DENIED CHANNEL"));
    }
    Ok(ctx
        .call("PUBLISH", &[channel.as_bytes(), message.as_bytes()])?
        .into())
}

/// Runs `args` if `user` may, else `DENIED CMD` and an `ACL LOG` entry.
fn check_cmd_then_call(ctx: &Context, user: &impl User, args: &[RedisStr]) -> Result<Reply> {
    if args.is_empty() {
        return Err(Error::wrong_arity("aclcheck.rm_call.check.cmd"));
    }
    if user.check_command(args).is_err() {
        ctx.acl_log(user, &args[0], AclLogReason::Command);
        return Err(Error::raw("DENIED CMD"));
    }
    call_on(ctx, CallOptions::default(), args)
}

/// `aclcheck.rm_call.check.cmd command arg ...`: runs the command if the calling user may.
#[rmkit::command(name = "aclcheck.rm_call.check.cmd", flags = "")]
fn check_cmd(ctx: &Context, args: Rest) -> Result<Reply> {
    let user = ctx.current_acl_user()?;
    check_cmd_then_call(ctx, &user, &args)
}

/// `aclcheck.rm_call.check.cmd.module.user command arg ...`: the same as a fresh module user
/// `testuser1` with every permission, authenticated for the call and dropped after (the
/// client is authenticated back as `default` first, so dropping the user keeps it connected).
#[rmkit::command(name = "aclcheck.rm_call.check.cmd.module.user", flags = "")]
fn check_cmd_module_user(ctx: &Context, args: Rest) -> Result<Reply> {
    let user = ModuleUser::new(ctx, "testuser1", &["allcommands", "allkeys", "on"])?;
    ctx.authenticate_as(&user, None)?;
    let reply = check_cmd_then_call(ctx, &user, &args);
    ctx.authenticate_as_acl_user(b"default", None)?;
    drop(user);
    reply
}

/// `aclcheck.rm_call command arg ...`: `RM_Call` with the ACL check; a refusal is
/// `ERR NOPERM` (the C module's reply for `errno == EACCES`).
#[rmkit::command(name = "aclcheck.rm_call", flags = "write")]
fn rm_call(ctx: &Context, args: Rest) -> Result<Reply> {
    if args.is_empty() {
        return Err(Error::wrong_arity("aclcheck.rm_call"));
    }
    let options = CallOptions {
        check_acl: true,
        ..CallOptions::default()
    };
    match call_on(ctx, options, &args) {
        // Redis 7.0 says `ERR acl verification failed, ...`, Valkey 8 `NOPERM ...`.
        Err(e)
            if e.message().starts_with("ERR acl verification failed")
                || e.message().starts_with("NOPERM") =>
        {
            Err(Error::raw("ERR NOPERM"))
        }
        other => other,
    }
}

/// `aclcheck.rm_call_with_errors command arg ...`: the same, passing Redis's error on.
#[rmkit::command(name = "aclcheck.rm_call_with_errors", flags = "write")]
fn rm_call_with_errors(ctx: &Context, args: Rest) -> Result<Reply> {
    if args.is_empty() {
        return Err(Error::wrong_arity("aclcheck.rm_call_with_errors"));
    }
    let options = CallOptions {
        check_acl: true,
        ..CallOptions::default()
    };
    call_on(ctx, options, &args)
}
