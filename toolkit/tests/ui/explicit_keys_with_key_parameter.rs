use rmkit::prelude::*;

/// An explicit key range and a key parameter describe the keys twice.
#[rmkit::command(name = "t.cmd", flags = "write", keys = (1, 1, 1))]
fn cmd(key: WriteKey) -> Result<Reply> {
    let _ = key;
    Ok(Reply::Ok)
}

fn main() {}
