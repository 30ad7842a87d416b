/// The guard of a detached context's lock (and the Context it gives) stays on its thread:
/// another thread may not use it, even borrowed.
fn start(ctx: &rmkit::Context) -> rmkit::Result<()> {
    let mut detached = ctx.detached()?;
    let locked = detached.lock();
    std::thread::scope(|s| {
        s.spawn(|| locked.is_resp3());
    });
    Ok(())
}

fn main() {}
