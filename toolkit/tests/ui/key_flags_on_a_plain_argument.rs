use rmkit::prelude::*;

/// `#[key(...)]` on something that is not a key.
#[rmkit::command(name = "t.cmd", flags = "readonly")]
fn cmd(#[key(flags = "RO")] field: &RedisStr) -> Result<Reply> {
    let _ = field;
    Ok(Reply::Ok)
}

fn main() {}
