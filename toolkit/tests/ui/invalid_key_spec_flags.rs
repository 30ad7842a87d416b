use rmkit::prelude::*;

/// A key spec needs exactly one of RO RW OW RM.
#[rmkit::command(name = "t.cmd", flags = "write")]
fn cmd(#[key(flags = "access update")] key: WriteKey) -> Result<Reply> {
    let _ = key;
    Ok(Reply::Ok)
}

fn main() {}
