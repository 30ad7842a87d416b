//! Port of Redis 7.0's `tests/modules/testrdb.c`: a data type persisted in RDB files, and
//! module-wide values saved as aux data before and/or after the keyspace (per the module's
//! argument: `0` none, `1` after, `2` both), kept aside during an asynchronous replica load
//! until it completes (`ReplAsyncLoad` events).
#![forbid(unsafe_code)]

use rmkit::datatype::AuxWhen;
use rmkit::prelude::*;
use rmkit::server::events::{EventKind, ServerEvent};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

rmkit::module! { name: "testrdb", version: 1 }
rmkit::module_option!(HandleReplAsyncLoad);

/// The module's argument: how many aux points (0, 1: after the keyspace, 2: both).
static AUX_COUNT: AtomicI64 = AtomicI64::new(0);
/// Whether an asynchronous replica load is under way (aux data read then is kept aside).
static ASYNC_LOADING: AtomicBool = AtomicBool::new(false);

/// The module-wide values, and the ones read during an asynchronous load.
#[derive(Default)]
struct Globals {
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
    before_temp: Option<Vec<u8>>,
    after_temp: Option<Vec<u8>>,
}

static GLOBALS: Mutex<Option<Globals>> = Mutex::new(None);

fn globals<R>(f: impl FnOnce(&mut Globals) -> R) -> R {
    let mut g = GLOBALS.lock().unwrap_or_else(|p| p.into_inner());
    f(g.get_or_insert_with(Globals::default))
}

fn on_load(load: &mut rmkit::module::Load) -> std::result::Result<(), String> {
    let n = match load.args().first() {
        Some(a) => rmkit::command::parse_i64(a.as_bytes()).unwrap_or(0),
        None => 0,
    };
    AUX_COUNT.store(n, Ordering::Relaxed);
    ASYNC_LOADING.store(false, Ordering::Relaxed);
    globals(|g| *g = Globals::default());
    Ok(())
}
rmkit::on_load!(on_load);

fn on_unload() {
    if let Ok(mut g) = GLOBALS.lock() {
        *g = None;
    }
}
rmkit::on_unload!(on_unload);

fn on_async_load(_ctx: &Context, event: ServerEvent) {
    match event {
        ServerEvent::ReplAsyncLoadStarted => ASYNC_LOADING.store(true, Ordering::Relaxed),
        ServerEvent::ReplAsyncLoadAborted => {
            globals(|g| {
                g.before_temp = None;
                g.after_temp = None;
            });
            ASYNC_LOADING.store(false, Ordering::Relaxed);
        }
        ServerEvent::ReplAsyncLoadCompleted => {
            globals(|g| {
                g.before = g.before_temp.take();
                g.after = g.after_temp.take();
            });
            ASYNC_LOADING.store(false, Ordering::Relaxed);
        }
        _ => {}
    }
}
rmkit::on_server_event!(&[EventKind::ReplAsyncLoad], on_async_load);

/// A string value, saved with a count, a float and (the C module's long double) a double.
struct RdbValue(Vec<u8>);

impl DataType for RdbValue {
    const NAME: &'static str = "test__rdb";
    const ENCODING_VERSION: i32 = 1;

    fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
        rdb.save_i64(1);
        rdb.save_bytes(&self.0);
        rdb.save_f64(1.5);
        rdb.save_f64(1.0 / 3.0);
    }

    fn rdb_load(rdb: &mut RdbReader<'_>, version: i32) -> Result<Self> {
        let count = rdb.load_i64()?;
        let s = rdb.load_bytes()?;
        let f = rdb.load_f64()?;
        let d = rdb.load_f64()?;
        if count != 1 || version != 1 || f != 1.5 || d != 1.0 / 3.0 {
            return Err(Error::new("unexpected test__rdb data"));
        }
        Ok(RdbValue(s))
    }

    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
        aof.emit("testrdb.set.key", key, &[&self.0]);
    }

    fn aux_save_when() -> AuxWhen {
        match AUX_COUNT.load(Ordering::Relaxed) {
            0 => AuxWhen::NEVER,
            1 => AuxWhen::AFTER_KEYSPACE,
            _ => AuxWhen::BEFORE_KEYSPACE | AuxWhen::AFTER_KEYSPACE,
        }
    }

    fn aux_save(rdb: &mut RdbWriter<'_>, when: AuxWhen) {
        let v = globals(|g| {
            if when == AuxWhen::BEFORE_KEYSPACE {
                g.before.clone()
            } else {
                g.after.clone()
            }
        });
        match v {
            Some(v) => {
                rdb.save_i64(1);
                rdb.save_bytes(&v);
            }
            None => rdb.save_i64(0),
        }
    }

    fn aux_load(rdb: &mut RdbReader<'_>, version: i32, when: AuxWhen) -> Result<()> {
        if version != 1 {
            return Err(Error::new(format!("aux data of version {version}")));
        }
        let v = match rdb.load_i64()? {
            0 => None,
            _ => Some(rdb.load_bytes()?),
        };
        let temp = ASYNC_LOADING.load(Ordering::Relaxed);
        globals(|g| match (when == AuxWhen::BEFORE_KEYSPACE, temp) {
            (true, false) => g.before = v,
            (true, true) => g.before_temp = v,
            (false, false) => g.after = v,
            (false, true) => g.after_temp = v,
        });
        Ok(())
    }
}
rmkit::data_type!(RdbValue);

fn or_empty(v: Option<Vec<u8>>) -> Reply {
    Reply::from(v.unwrap_or_default())
}

/// Sets the value saved before the keyspace.
#[rmkit::command(name = "testrdb.set.before", flags = "deny-oom")]
fn set_before(value: &[u8]) -> Result<Reply> {
    globals(|g| g.before = Some(value.to_vec()));
    Ok(Reply::Integer(1))
}

/// The value saved before the keyspace ("" if none).
#[rmkit::command(name = "testrdb.get.before")]
fn get_before() -> Result<Reply> {
    Ok(or_empty(globals(|g| g.before.clone())))
}

/// The before-keyspace value read by an asynchronous load still under way ("" if none).
#[rmkit::command(name = "testrdb.async_loading.get.before")]
fn async_loading_get_before() -> Result<Reply> {
    Ok(or_empty(globals(|g| g.before_temp.clone())))
}

/// Sets the value saved after the keyspace.
#[rmkit::command(name = "testrdb.set.after", flags = "deny-oom")]
fn set_after(value: &[u8]) -> Result<Reply> {
    globals(|g| g.after = Some(value.to_vec()));
    Ok(Reply::Integer(1))
}

/// The value saved after the keyspace ("" if none).
#[rmkit::command(name = "testrdb.get.after")]
fn get_after() -> Result<Reply> {
    Ok(or_empty(globals(|g| g.after.clone())))
}

/// `TESTRDB.SET.KEY key value`.
#[rmkit::command(name = "testrdb.set.key", flags = "deny-oom")]
fn set_key(mut key: WriteKey, value: &[u8]) -> Result<Reply> {
    key.set_value(|| Ok(RdbValue(value.to_vec())))?;
    Ok(Reply::Integer(1))
}

/// `TESTRDB.GET.KEY key`.
#[rmkit::command(name = "testrdb.get.key")]
fn get_key(key: ReadKey) -> Result<Reply> {
    Ok(match key.value::<RdbValue>()? {
        Some(v) => Reply::from(v.0.clone()),
        None => Reply::Null,
    })
}
