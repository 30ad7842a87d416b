//! Port of Redis 7.0's `tests/modules/hash.c`: `HASH.SET key flags field value [field value
//! ...]`, flags a string of `n` (NX), `x` (XX), `a` (count inserts too); the value `:delete:`
//! deletes the field. Replies how many fields changed (without `a`: updated or deleted ones).
#![forbid(unsafe_code)]

use rmkit::command::Pairs;
use rmkit::key::hash::{Change, When};
use rmkit::prelude::*;

rmkit::module! { name: "hash", version: 1 }

/// Sets 1-4 fields with the C API's `HashSet` flags.
#[rmkit::command(name = "hash.set", flags = "write")]
fn hash_set(key: WriteKey, flags: &[u8], fields: Pairs) -> Result<Reply> {
    if fields.is_empty() || fields.len() > 4 {
        return Err(Error::new(
            "wrong number of arguments for 'hash.set' command",
        ));
    }
    let hash = key.hash()?;
    let (mut when, mut count_all) = (When::Always, false);
    for c in flags {
        match c {
            b'n' => when = When::Absent,
            b'x' => when = When::Present,
            b'a' => count_all = true,
            _ => {}
        }
    }
    let mut n = 0;
    for (field, value) in fields.iter() {
        let value = (!value.as_bytes().eq_ignore_ascii_case(b":delete:")).then_some(value);
        n += match hash.set_if(field, value, when)? {
            Change::Updated | Change::Deleted => 1,
            Change::Inserted if count_all => 1,
            _ => 0,
        };
    }
    Ok(Reply::Integer(n))
}
