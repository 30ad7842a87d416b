use rmkit::prelude::*;

/// An ACL category Redis does not have.
#[rmkit::command(name = "t.cmd", flags = "readonly", acl = "read hashes")]
fn cmd() -> Result<Reply> {
    Ok(Reply::Ok)
}

fn main() {}
