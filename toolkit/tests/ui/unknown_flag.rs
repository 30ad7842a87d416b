use rmkit::prelude::*;

/// A typo in a flag.
#[rmkit::command(name = "t.cmd", flags = "write fastt")]
fn cmd() -> Result<Reply> {
    Ok(Reply::Ok)
}

fn main() {}
