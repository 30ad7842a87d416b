//! Port of Redis 7.0's `tests/modules/mallocsize.c`: a data type holding raw bytes, a string
//! or a dict, whose `MEMORY USAGE` counts what it holds. The C module adds up
//! `RedisModule_MallocSize*` by hand in `mem_usage2`; with rmkit the value is measured while it
//! is built (every byte its Rust allocations take), so there is nothing to add up.
#![forbid(unsafe_code)]

use rmkit::command::Pairs;
use rmkit::prelude::*;
use std::collections::BTreeMap;

rmkit::module! { name: "mallocsize", version: 1 }

/// What a key holds.
enum Udt {
    Raw(Vec<u8>),
    Str(Vec<u8>),
    Dict(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl DataType for Udt {
    const NAME: &'static str = "allocsize";

    fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
        match self {
            Udt::Raw(b) => {
                rdb.save_u64(0);
                rdb.save_bytes(b);
            }
            Udt::Str(s) => {
                rdb.save_u64(1);
                rdb.save_bytes(s);
            }
            Udt::Dict(d) => {
                rdb.save_u64(2);
                rdb.save_u64(d.len() as u64);
                for (k, v) in d {
                    rdb.save_bytes(k);
                    rdb.save_bytes(v);
                }
            }
        }
    }

    fn rdb_load(rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        Ok(match rdb.load_u64()? {
            0 => Udt::Raw(rdb.load_bytes()?),
            1 => Udt::Str(rdb.load_bytes()?),
            2 => {
                let n = rdb.load_u64()?;
                let mut d = BTreeMap::new();
                for _ in 0..n {
                    d.insert(rdb.load_bytes()?, rdb.load_bytes()?);
                }
                Udt::Dict(d)
            }
            t => return Err(Error::new(format!("unknown allocsize kind {t}"))),
        })
    }

    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
        match self {
            Udt::Raw(b) => aof.emit("mallocsize.setraw", key, &[b.len().to_string().as_bytes()]),
            Udt::Str(s) => aof.emit("mallocsize.setstr", key, &[s]),
            Udt::Dict(d) => {
                let args: Vec<&[u8]> = d
                    .iter()
                    .flat_map(|(k, v)| [k.as_slice(), v.as_slice()])
                    .collect();
                aof.emit("mallocsize.setdict", key, &args);
            }
        }
    }
}
rmkit::data_type!(Udt);

/// `MALLOCSIZE.SETRAW key len`: `len` zeroed bytes.
#[rmkit::command(name = "mallocsize.setraw", flags = "write deny-oom")]
fn setraw(mut key: WriteKey, len: u64) -> Result<Reply> {
    let len = usize::try_from(len).map_err(|_| Error::new("length out of range"))?;
    key.set_value(|| Ok(Udt::Raw(vec![0; len])))?;
    Ok(Reply::Ok)
}

/// `MALLOCSIZE.SETSTR key string`.
#[rmkit::command(name = "mallocsize.setstr", flags = "write deny-oom")]
fn setstr(mut key: WriteKey, s: &[u8]) -> Result<Reply> {
    key.set_value(|| Ok(Udt::Str(s.to_vec())))?;
    Ok(Reply::Ok)
}

/// `MALLOCSIZE.SETDICT key field value [field value ...]`.
#[rmkit::command(name = "mallocsize.setdict", flags = "write deny-oom")]
fn setdict(mut key: WriteKey, pairs: Pairs) -> Result<Reply> {
    key.set_value(|| {
        Ok(Udt::Dict(
            pairs
                .iter()
                .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        ))
    })?;
    Ok(Reply::Ok)
}
