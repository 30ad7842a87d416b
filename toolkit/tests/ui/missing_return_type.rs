use rmkit::prelude::*;

/// No reply.
#[rmkit::command(name = "t.cmd", flags = "readonly")]
fn cmd(_ctx: &Context) {}

fn main() {}
