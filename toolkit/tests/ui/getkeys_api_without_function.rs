use rmkit::prelude::*;

/// `getkeys-api` but nothing answers the key-position requests.
#[rmkit::command(name = "t.cmd", flags = "readonly getkeys-api")]
fn cmd(rest: rmkit::command::Rest) -> Result<Reply> {
    Ok(Reply::from(rest.len()))
}

fn main() {}
