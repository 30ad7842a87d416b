use rmkit::prelude::*;

/// Three required arguments, but `arity` would let Redis pass fewer.
#[rmkit::command(name = "t.cmd", flags = "", arity = -2)]
fn cmd(_a: &RedisStr, _b: &RedisStr, _rest: rmkit::command::Rest) -> Result<Reply> {
    Ok(Reply::Ok)
}

fn main() {}
