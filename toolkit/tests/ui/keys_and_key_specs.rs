use rmkit::command::Rest;
use rmkit::command::docs::KeySpec;
use rmkit::prelude::*;

const SPECS: &[KeySpec] = &[KeySpec::single(1, "RO access")];

/// Both a legacy range and key specs.
#[rmkit::command(name = "t.cmd", flags = "readonly", keys = (1, 1, 1), key_specs = SPECS)]
fn cmd(args: Rest) -> Result<Reply> {
    let _ = args;
    Ok(Reply::Ok)
}

fn main() {}
