//! `hashex`: hash extensions for Redis, built with rmkit.
//!
//! - `HGETSET key field value` — set a hash field and return its previous value (nil if none).
//! - `HMGETSET key field value [field value ...]` — the same for many fields at once; returns
//!   the previous values in order.
//!
//! Both are binary-safe, reply `WRONGTYPE` on a key holding something else, emit the `hset`
//! keyspace event like `HSET`, and replicate as one write.

use rmkit::args::Args;
use rmkit::prelude::*;
use rmkit::{Arg, KeySpec};

rmkit::module! { name: "hashex", version: 1 }

rmkit::command! {
    /// Set `field` in the hash at `key` to `value` and return the field's previous value
    /// (nil if it had none).
    name: "hgetset",
    flags: "write fast deny-oom",
    arity: 4,
    keys: (1, 1, 1),
    info: {
        since: "1.0.0",
        complexity: "O(1)",
        acl: "write hash",
        key_specs: &[KeySpec::single(1, "RW access update")],
        args: &[Arg::key("key", 0), Arg::string("field"), Arg::string("value")],
    },
    fn hgetset(ctx, args) {
        let mut args = Args::new(args);
        let (name, field, value) = (args.next_arg()?, args.next_arg()?, args.next_arg()?);
        let key = ctx.open_key_writable(name);
        let hash = key.hash()?;
        let old = hash.get(field);
        hash.set(field, value)?;
        ctx.notify_keyspace_event(Notify::Hash, "hset", name);
        ctx.replicate_verbatim();
        Ok(old.into())
    }
}

rmkit::command! {
    /// Set every `field value` pair in the hash at `key` and return the previous values, in
    /// order (nil for fields that were absent). Any number of pairs.
    name: "hmgetset",
    flags: "write deny-oom",
    arity: -4,
    keys: (1, 1, 1),
    info: {
        since: "1.0.0",
        complexity: "O(N) where N is the number of fields",
        acl: "write hash",
        key_specs: &[KeySpec::single(1, "RW access update")],
        args: &[
            Arg::key("key", 0),
            Arg::block("data", &[Arg::string("field"), Arg::string("value")]).multiple(),
        ],
    },
    fn hmgetset(ctx, args) {
        let mut args = Args::new(args);
        let name = args.next_arg()?;
        let pairs = args.rest();
        if !pairs.len().is_multiple_of(2) {
            return Err(Error::wrong_arity("hmgetset"));
        }
        let key = ctx.open_key_writable(name);
        let hash = key.hash()?;
        let mut old = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks_exact(2) {
            old.push(hash.get(&pair[0]));
            hash.set(&pair[0], &pair[1])?;
        }
        ctx.notify_keyspace_event(Notify::Hash, "hset", name);
        ctx.replicate_verbatim();
        Ok(old.into())
    }
}
