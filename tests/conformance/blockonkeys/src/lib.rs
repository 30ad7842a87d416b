//! Port of Redis 7.0's `tests/modules/blockonkeys.c`: a fixed-size list data type (`fsl`)
//! whose pops block until an element arrives, and commands that block on native lists.
#![forbid(unsafe_code)]

use rmkit::Key;
use rmkit::command::{KeyName, Rest};
use rmkit::key::list::End;
use rmkit::prelude::*;
use std::time::Duration;

rmkit::module! { name: "blockonkeys", version: 1 }

const LIST_SIZE: usize = 1024;

/// A list of at most 1,024 integers, each greater than the one before.
struct Fsl(Vec<i64>);

impl DataType for Fsl {
    const NAME: &'static str = "fsltype_t";

    fn rdb_save(&self, rdb: &mut RdbWriter<'_>) {
        rdb.save_u64(self.0.len() as u64);
        for v in &self.0 {
            rdb.save_i64(*v);
        }
    }

    fn rdb_load(rdb: &mut RdbReader<'_>, _version: i32) -> Result<Self> {
        let n = rdb.load_u64()?;
        if n as usize > LIST_SIZE {
            return Err(Error::new("fsl: more elements than a list holds"));
        }
        (0..n)
            .map(|_| rdb.load_i64())
            .collect::<Result<_>>()
            .map(Fsl)
    }

    fn aof_rewrite(&self, key: &RedisStr, aof: &mut AofWriter<'_>) {
        for v in &self.0 {
            aof.emit("FSL.PUSH", key, &[v.to_string().as_bytes()]);
        }
    }
}

rmkit::data_type!(Fsl);

/// What a key holds, for the fsl commands.
enum Found {
    Missing,
    Fsl,
    /// Another type: counted in the key `fsl_wrong_type`, as the C module does.
    WrongType,
}

fn find(ctx: &Context, key: &Key<'_>) -> Found {
    match key.value::<Fsl>() {
        Ok(Some(_)) => Found::Fsl,
        Ok(None) => Found::Missing,
        Err(_) => {
            let _ = ctx.call("INCR", &[b"fsl_wrong_type"]);
            Found::WrongType
        }
    }
}

/// Pops the last element of the fsl at `name`: `None` when it is missing, empty or not an
/// fsl (keep waiting).
fn pop_last(ctx: &Context, name: &RedisStr, gt: Option<i64>) -> Result<Option<i64>> {
    let mut key = ctx.open_key_writable(name);
    if !matches!(find(ctx, &key), Found::Fsl) {
        return Ok(None);
    }
    Ok(key
        .update(|f: &mut Fsl| match (f.0.last(), gt) {
            (Some(&last), Some(gt)) if last <= gt => None,
            _ => f.0.pop(),
        })?
        .flatten())
}

fn timeout_arg(arg: &RedisStr) -> Result<Duration> {
    match rmkit::command::parse_i64(arg.as_bytes()) {
        Ok(ms) if ms >= 0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(Error::new("invalid timeout")),
    }
}

fn timed_out(_: &Context, _: &[RedisStr]) -> Result<Reply> {
    Ok(Reply::Simple("Request timedout".into()))
}

/// `FSL.PUSH key int`: appends an integer greater than the last one.
#[rmkit::command(name = "fsl.push", flags = "write")]
fn fsl_push(ctx: &Context, mut key: WriteKey, value: &RedisStr) -> Result<Reply> {
    let v =
        rmkit::command::parse_i64(value.as_bytes()).map_err(|_| Error::new("invalid integer"))?;
    match find(ctx, &key) {
        Found::WrongType => return Err(Error::wrong_type()),
        Found::Missing => key.set_value(|| Ok(Fsl(Vec::new())))?,
        Found::Fsl => {}
    }
    let list = &key
        .value::<Fsl>()?
        .expect("the value was just found or created")
        .0;
    if list.len() == LIST_SIZE {
        return Err(Error::new("list is full"));
    }
    if list.last().is_some_and(|&last| last >= v) {
        return Err(Error::new(
            "new element has to be greater than the head element",
        ));
    }
    key.update(|f: &mut Fsl| f.0.push(v))?;
    ctx.signal_key_as_ready(key.name());
    ctx.replicate_verbatim();
    Ok(Reply::Ok)
}

/// `FSL.BPOP key timeout [NO_TO_CB]`: pops the last element, waiting for one if there is none.
#[rmkit::command(name = "fsl.bpop", flags = "write")]
fn fsl_bpop(ctx: &Context, key: KeyName, timeout: &RedisStr, rest: Rest) -> Result<Reply> {
    let timeout = timeout_arg(timeout)?;
    let with_cb = match rest.first() {
        None => true,
        Some(a) if rest.len() == 1 && a.as_bytes().eq_ignore_ascii_case(b"NO_TO_CB") => false,
        _ => return Err(Error::new("invalid argument")),
    };
    {
        let k = ctx.open_key(key.0);
        if matches!(find(ctx, &k), Found::WrongType) {
            return Err(Error::wrong_type());
        }
    }
    if let Some(v) = pop_last(ctx, key.0, None)? {
        ctx.replicate_verbatim();
        return Ok(Reply::Integer(v));
    }
    let block = ctx.block_on_keys(&[key.0], |ctx, name, _| {
        let v = pop_last(ctx, name, None)?;
        if v.is_some() {
            ctx.replicate_verbatim();
        }
        Ok(v.map(Reply::Integer))
    });
    if with_cb {
        block.timeout(timeout, timed_out)
    } else {
        block
    }
    .start()
}

/// `FSL.BPOPGT key gt timeout`: pops the last element once it is greater than `gt`.
#[rmkit::command(name = "fsl.bpopgt", flags = "write")]
fn fsl_bpopgt(ctx: &Context, key: KeyName, gt: &RedisStr, timeout: &RedisStr) -> Result<Reply> {
    let gt = rmkit::command::parse_i64(gt.as_bytes()).map_err(|_| Error::new("invalid integer"))?;
    let timeout = timeout_arg(timeout)?;
    {
        let k = ctx.open_key(key.0);
        if matches!(find(ctx, &k), Found::WrongType) {
            return Err(Error::wrong_type());
        }
    }
    if let Some(v) = pop_last(ctx, key.0, Some(gt))? {
        ctx.replicate_verbatim();
        return Ok(Reply::Integer(v));
    }
    ctx.block_on_keys(&[key.0], move |ctx, name, _| {
        let v = pop_last(ctx, name, Some(gt))?;
        if v.is_some() {
            ctx.replicate_verbatim();
        }
        Ok(v.map(Reply::Integer))
    })
    .timeout(timeout, timed_out)
    .start()
}

/// Moves the last element of `src` to the end of `dst`; `None` if `src` has none.
fn pop_push(ctx: &Context, src: &RedisStr, dst: &RedisStr) -> Result<Option<i64>> {
    {
        let d = ctx.open_key(dst);
        if matches!(find(ctx, &d), Found::WrongType) {
            return Ok(None);
        }
    }
    let Some(v) = pop_last(ctx, src, None)? else {
        return Ok(None);
    };
    let mut d = ctx.open_key_writable(dst);
    if d.value::<Fsl>()?.is_none() {
        d.set_value(|| Ok(Fsl(Vec::new())))?;
    }
    d.update(|f: &mut Fsl| f.0.push(v))?;
    ctx.signal_key_as_ready(dst);
    Ok(Some(v))
}

/// `FSL.BPOPPUSH src dst timeout`: moves the last element of `src` to `dst`, waiting for one.
#[rmkit::command(name = "fsl.bpoppush", flags = "write")]
fn fsl_bpoppush(ctx: &Context, src: KeyName, dst: KeyName, timeout: &RedisStr) -> Result<Reply> {
    let timeout = timeout_arg(timeout)?;
    {
        let k = ctx.open_key(src.0);
        match find(ctx, &k) {
            Found::WrongType => return Err(Error::wrong_type()),
            Found::Fsl => {
                drop(k);
                let d = ctx.open_key(dst.0);
                if matches!(find(ctx, &d), Found::WrongType) {
                    return Err(Error::wrong_type());
                }
                drop(d);
                let v = pop_push(ctx, src.0, dst.0)?;
                ctx.replicate_verbatim();
                return Ok(v.map_or(Reply::Null, Reply::Integer));
            }
            Found::Missing => {}
        }
    }
    let dst = RedisString::new(dst.0.as_bytes());
    ctx.block_on_keys(&[src.0], move |ctx, name, _| {
        let v = pop_push(ctx, name, &dst)?;
        if v.is_some() {
            ctx.replicate_verbatim();
        }
        Ok(v.map(Reply::Integer))
    })
    .timeout(timeout, timed_out)
    .start()
}

/// `FSL.GETALL key`: every element.
#[rmkit::command(name = "fsl.getall", flags = "")]
fn fsl_getall(ctx: &Context, key: ReadKey) -> Result<Reply> {
    if matches!(find(ctx, &key), Found::WrongType) {
        return Err(Error::wrong_type());
    }
    Ok(Reply::Array(
        key.value::<Fsl>()?
            .map(|f| f.0.iter().map(|&v| Reply::Integer(v)).collect())
            .unwrap_or_default(),
    ))
}

/// Pops every element of the list at `name` from the head.
fn pop_all(ctx: &Context, name: &RedisStr) -> Result<Reply> {
    let key = ctx.open_key_writable(name);
    if key.kind() != KeyKind::List {
        return Err(Error::new("Not a list"));
    }
    let list = key.list()?;
    let mut out = Vec::new();
    while let Some(v) = list.pop(End::Head)? {
        out.push(Reply::String(v));
    }
    ctx.replicate_verbatim();
    Ok(Reply::Array(out))
}

/// `BLOCKONKEYS.POPALL key`: waits up to 3 s for the empty key to become a list, then pops
/// it whole.
#[rmkit::command(name = "blockonkeys.popall", flags = "write")]
fn blockonkeys_popall(ctx: &Context, key: ReadKey) -> Result<Reply> {
    if key.kind() != KeyKind::Empty {
        return Err(Error::new("Key not empty"));
    }
    ctx.block_on_keys(&[key.name()], |ctx, name, _| pop_all(ctx, name).map(Some))
        .timeout(Duration::from_secs(3), |_, _| Err(Error::new("Timeout")))
        .start()
}

fn lpush(ctx: &Context, key: &WriteKey, values: &[RedisStr], signal: bool) -> Result<Reply> {
    if !matches!(key.kind(), KeyKind::Empty | KeyKind::List) {
        return Err(Error::wrong_type());
    }
    let list = key.list()?;
    for v in values {
        list.push(End::Head, v)
            .map_err(|_| Error::new("Push failed"))?;
    }
    if signal {
        ctx.signal_key_as_ready(key.name());
    }
    ctx.replicate_verbatim();
    Ok(Reply::Ok)
}

fn values(rest: Rest<'_>) -> Result<&[RedisStr]> {
    if rest.is_empty() {
        return Err(Error::new("wrong number of arguments"));
    }
    Ok(rest.0)
}

/// `BLOCKONKEYS.LPUSH key value [value ...]`: `LPUSH`, through the module API.
#[rmkit::command(name = "blockonkeys.lpush", flags = "write")]
fn blockonkeys_lpush(ctx: &Context, key: WriteKey, vals: Rest) -> Result<Reply> {
    lpush(ctx, &key, values(vals)?, false)
}

/// `BLOCKONKEYS.LPUSH_UNBLOCK key value [value ...]`: the same, then signals the key ready.
#[rmkit::command(name = "blockonkeys.lpush_unblock", flags = "write")]
fn blockonkeys_lpush_unblock(ctx: &Context, key: WriteKey, vals: Rest) -> Result<Reply> {
    lpush(ctx, &key, values(vals)?, true)
}

/// Pops `n` elements from the head of the list at `name` if it has that many.
fn pop_n(ctx: &Context, name: &RedisStr, n: usize) -> Result<Option<Reply>> {
    let key = ctx.open_key_writable(name);
    match key.kind() {
        KeyKind::List if key.value_len() >= n => {
            let list = key.list()?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.extend(list.pop(End::Head)?.map(Reply::String));
            }
            ctx.replicate_verbatim();
            Ok(Some(Reply::Array(out)))
        }
        KeyKind::List | KeyKind::Empty => Ok(None),
        _ => Err(Error::wrong_type()),
    }
}

/// `BLOCKONKEYS.BLPOPN key n`: pops `n` elements from the head once the list has them (3 s
/// at most).
#[rmkit::command(name = "blockonkeys.blpopn", flags = "write")]
fn blockonkeys_blpopn(ctx: &Context, key: KeyName, n: &RedisStr, rest: Rest) -> Result<Reply> {
    let _ = rest;
    let n = rmkit::command::parse_i64(n.as_bytes()).map_err(|_| Error::new("Invalid N"))?;
    let n = usize::try_from(n).unwrap_or(0);
    if let Some(reply) = pop_n(ctx, key.0, n)? {
        return Ok(reply);
    }
    ctx.block_on_keys(&[key.0], move |ctx, name, _| pop_n(ctx, name, n))
        .timeout(Duration::from_secs(3), |_, _| Err(Error::new("Timeout")))
        .start()
}
