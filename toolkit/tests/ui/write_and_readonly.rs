use rmkit::prelude::*;

/// Both.
#[rmkit::command(name = "t.cmd", flags = "write readonly")]
fn cmd() -> Result<Reply> {
    Ok(Reply::Ok)
}

fn main() {}
