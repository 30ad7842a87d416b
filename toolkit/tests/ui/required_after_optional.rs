use rmkit::prelude::*;

/// `[path] value`: which argument is which cannot be told from the count alone.
#[rmkit::command(name = "t.cmd", flags = "write")]
fn cmd(key: WriteKey, path: Option<&RedisStr>, value: &RedisStr) -> Result<Reply> {
    let _ = (key, path, value);
    Ok(Reply::Ok)
}

fn main() {}
