use rmkit::prelude::*;

/// The context comes first.
#[rmkit::command(name = "t.cmd", flags = "readonly")]
fn cmd(key: ReadKey, ctx: &Context) -> Result<Reply> {
    let _ = (key, ctx);
    Ok(Reply::Ok)
}

fn main() {}
