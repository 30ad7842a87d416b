use rmkit::prelude::*;

/// A worker thread may not take the command's context with it.
#[rmkit::command(name = "t.cmd", flags = "readonly")]
fn cmd(ctx: &Context, key: ReadKey) -> Result<Reply> {
    let name: &RedisStr = key.name();
    ctx.block_on_thread(std::time::Duration::ZERO, move |_t| {
        Ok(Reply::from(name.as_bytes()))
    })
}

fn main() {}
