//! Port of Redis 7.0's `tests/modules/datatype.c`: a data type with `COPY` that sees the key
//! names, values serialised to and from strings with an encoding version, values swapped
//! between keys, and a load slow enough to need yielding to clients.
#![forbid(unsafe_code)]

use rmkit::command::KeyName;
use rmkit::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

rmkit::module! { name: "datatype", version: 1 }

/// The encoding version the last load was asked to read.
static LOAD_ENCVER: AtomicI32 = AtomicI32::new(0);
/// Whether loads wait (yielding to clients) until this is cleared.
static SLOW_LOADING: AtomicBool = AtomicBool::new(false);
/// Whether a load is waiting now.
static IN_SLOW_LOADING: AtomicBool = AtomicBool::new(false);

/// An integer and a string.
struct Dt {
    int: i64,
    string: Vec<u8>,
}

impl DataType for Dt {
    const NAME: &'static str = "test___dt";
    const ENCODING_VERSION: i32 = 1;

    /// The C module reads whatever version it is given.
    fn accepts_version(_version: i32) -> bool {
        true
    }

    fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
        rdb.save_i64(self.int);
        rdb.save_bytes(&self.string);
    }

    fn rdb_load(rdb: &mut RdbReader<'_>, version: i32) -> Result<Self> {
        LOAD_ENCVER.store(version, Ordering::Relaxed);
        // The C module keeps the integer in an `int`.
        let int = i64::from(rdb.load_i64()? as i32);
        let string = rdb.load_bytes()?;
        if SLOW_LOADING.load(Ordering::Relaxed) {
            IN_SLOW_LOADING.store(true, Ordering::Relaxed);
            while SLOW_LOADING.load(Ordering::Relaxed) {
                rdb.yield_to_clients("Slow module operation");
                std::thread::sleep(Duration::from_millis(1));
            }
            IN_SLOW_LOADING.store(false, Ordering::Relaxed);
        }
        Ok(Dt { int, string })
    }

    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
        aof.emit(
            "datatype.set",
            key,
            &[self.int.to_string().as_bytes(), &self.string],
        );
    }

    /// Copies the integer; appends `/from/to` to the string. The answer, 42, cannot be copied.
    fn copy_between(&self, from: &RedisStr, to: &RedisStr) -> Option<Self> {
        if self.int == 42 {
            return None;
        }
        let mut string = self.string.clone();
        for part in [from.as_bytes(), to.as_bytes()] {
            string.push(b'/');
            string.extend_from_slice(part);
        }
        Some(Dt {
            int: self.int,
            string,
        })
    }
}

rmkit::data_type!(Dt);

fn int_arg(arg: &RedisStr) -> Result<i64> {
    rmkit::command::parse_i64(arg.as_bytes()).map_err(|_| Error::raw("Invalid integer value"))
}

/// `DATATYPE.SET key int string`.
#[rmkit::command(name = "datatype.set", flags = "write deny-oom")]
fn datatype_set(mut key: WriteKey, int: &RedisStr, string: &[u8]) -> Result<Reply> {
    let int = int_arg(int)?;
    // Allocate inside the closure: what it allocates is what the value is measured at.
    key.set_value(|| {
        Ok(Dt {
            int,
            string: string.to_vec(),
        })
    })?;
    Ok(Reply::Ok)
}

/// `DATATYPE.GET key`: `[int, string]`, or nil.
#[rmkit::command(name = "datatype.get", flags = "")]
fn datatype_get(key: ReadKey) -> Result<Reply> {
    Ok(match key.value::<Dt>()? {
        Some(d) => Reply::Array(vec![Reply::Integer(d.int), Reply::Bulk(d.string.clone())]),
        None => Reply::Null,
    })
}

/// `DATATYPE.DUMP key`: the value serialised.
#[rmkit::command(name = "datatype.dump", flags = "")]
fn datatype_dump(key: ReadKey) -> Result<Reply> {
    key.dump_value::<Dt>()?
        .map(Reply::String)
        .ok_or_else(|| Error::raw("Failed to save"))
}

/// `DATATYPE.RESTORE key data encver`: loads `data` as that encoding version; replies the
/// version the load saw.
#[rmkit::command(name = "datatype.restore", flags = "write deny-oom")]
fn datatype_restore(mut key: WriteKey, data: &RedisStr, encver: &RedisStr) -> Result<Reply> {
    let encver = int_arg(encver)?;
    let encver = i32::try_from(encver).map_err(|_| Error::raw("Invalid integer value"))?;
    key.restore_value::<Dt>(data, encver)
        .map_err(|_| Error::raw("Invalid data"))?;
    Ok(Reply::Integer(LOAD_ENCVER.load(Ordering::Relaxed).into()))
}

/// `DATATYPE.SWAP a b`: exchanges the two keys' values.
#[rmkit::command(name = "datatype.swap", flags = "write")]
fn datatype_swap(ctx: &Context, a: KeyName, b: KeyName) -> Result<Reply> {
    let mut ka = ctx.open_key_writable(a.0);
    let mut kb = ctx.open_key_writable(b.0);
    ka.swap_value::<Dt>(&mut kb)
        .map_err(|_| Error::new("failed"))?;
    Ok(Reply::Ok)
}

/// `DATATYPE.SLOW_LOADING 0|1`: makes loads wait (yielding) until cleared.
#[rmkit::command(name = "datatype.slow_loading", flags = "allow-loading")]
fn datatype_slow_loading(on: &RedisStr) -> Result<Reply> {
    SLOW_LOADING.store(int_arg(on)? != 0, Ordering::Relaxed);
    Ok(Reply::Ok)
}

/// `DATATYPE.IS_IN_SLOW_LOADING`: 1 while a load waits.
#[rmkit::command(name = "datatype.is_in_slow_loading", flags = "allow-loading")]
fn datatype_is_in_slow_loading() -> Result<Reply> {
    Ok(Reply::Integer(
        IN_SLOW_LOADING.load(Ordering::Relaxed).into(),
    ))
}
