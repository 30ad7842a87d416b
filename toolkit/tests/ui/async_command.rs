use rmkit::prelude::*;

/// Redis waits for the reply on its main thread.
#[rmkit::command(name = "t.cmd", flags = "readonly")]
async fn cmd() -> Result<Reply> {
    Ok(Reply::Ok)
}

fn main() {}
