//! Port of Redis 7.0's `tests/modules/subcommands.c`: a container command with subcommands
//! (`SUBCOMMANDS.BITARRAY SET|GET`, each with its own key spec), and the running command's
//! full name (`SUBCOMMANDS.PARENT_GET_FULLNAME`, `SUBCOMMANDS.SUB GET_FULLNAME`).
#![forbid(unsafe_code)]
#![allow(missing_docs)] // the C module has no COMMAND DOCS summaries; doc comments would add them

use rmkit::command::Rest;
use rmkit::command::docs::{Arg, BeginSearch, FindKeys, KeySpec};
use rmkit::prelude::*;

rmkit::module! { name: "subcommands", version: 1 }

/// The key spec both subcommands have: argument 1, as the C module declares it.
const fn spec_at_1(flags: &'static str) -> [KeySpec; 1] {
    [KeySpec::new(
        flags,
        BeginSearch::Index(1),
        FindKeys::Range {
            last_key: 0,
            step: 1,
            limit: 0,
        },
    )]
}
const SET_SPECS: &[KeySpec] = &spec_at_1("RW update");
const GET_SPECS: &[KeySpec] = &spec_at_1("RO access");
/// The C module documents no arguments (the `Rest` tails would be documented otherwise).
const NO_ARGS: &[Arg] = &[];

#[rmkit::command(
    name = "subcommands.bitarray|set",
    flags = "",
    key_specs = SET_SPECS,
    args = NO_ARGS
)]
fn bitarray_set(_args: Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

#[rmkit::command(
    name = "subcommands.bitarray|get",
    flags = "",
    key_specs = GET_SPECS,
    args = NO_ARGS
)]
fn bitarray_get(args: Rest) -> Result<Reply> {
    // For testing, as the C module: at most two arguments after the subcommand.
    if args.len() > 2 {
        return Err(Error::wrong_arity("subcommands.bitarray|get"));
    }
    Ok(Reply::Ok)
}

#[rmkit::command(name = "subcommands.parent_get_fullname", flags = "")]
fn parent_get_fullname(ctx: &Context) -> Result<Reply> {
    Ok(Reply::Simple(ctx.command_name().unwrap_or_default().into()))
}

#[rmkit::command(name = "subcommands.sub|get_fullname", flags = "")]
fn sub_get_fullname(ctx: &Context) -> Result<Reply> {
    Ok(Reply::Simple(ctx.command_name().unwrap_or_default().into()))
}
