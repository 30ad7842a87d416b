use rmkit::prelude::*;

fn keys(_args: &[RedisStr]) -> Vec<usize> {
    vec![1]
}

/// A key-position function, but no `getkeys-api` flag.
#[rmkit::command(name = "t.cmd", flags = "readonly", getkeys = keys)]
fn cmd(rest: rmkit::command::Rest) -> Result<Reply> {
    Ok(Reply::from(rest.len()))
}

fn main() {}
