//! Port of Redis 7.0's `tests/modules/list.c`: the list API by index (`LIST.GET`, `LIST.SET`,
//! `LIST.INSERT`, `LIST.DELETE`), iteration (`LIST.GETALL key [REVERSE]`) and editing while
//! iterating (`LIST.EDIT`).
#![forbid(unsafe_code)]

use rmkit::Key;
use rmkit::command::Rest;
use rmkit::key::list::List;
use rmkit::prelude::*;

rmkit::module! { name: "list", version: 1 }

rmkit::keywords! {
    /// Iterate from the tail.
    pub enum Reverse { Reverse = "REVERSE" }
}

fn list_of<'k, 'c>(key: &'k Key<'c>) -> Result<List<'k, 'c>> {
    if key.kind() != KeyKind::List {
        return Err(Error::wrong_type());
    }
    key.list()
}

fn index(arg: &RedisStr) -> Result<i64> {
    rmkit::command::parse_i64(arg.as_bytes()).map_err(|_| Error::new("index must be a number"))
}

fn out_of_bounds(e: Error) -> Error {
    if e.to_string().starts_with("WRONGTYPE") {
        e
    } else {
        Error::new("index out of bounds")
    }
}

/// Every element, head first (`REVERSE`: tail first).
#[rmkit::command(name = "list.getall", flags = "")]
fn list_getall(key: ReadKey, reverse: Option<Reverse>) -> Result<Reply> {
    let list = list_of(&key)?;
    let items: Vec<Reply> = if reverse.is_some() {
        list.iter().rev().map(Reply::String).collect()
    } else {
        list.iter().map(Reply::String).collect()
    };
    // The C module asserts that reading one past the end finds nothing.
    assert!(list.get(list.len() as i64).is_none());
    Ok(Reply::Array(items))
}

/// `LIST.EDIT key [REVERSE] cmdstr [value ...]`: walks the list applying `cmdstr`'s letters
/// (`k` keep, `d` delete, `i` insert a value, `r` replace with a value); replies a map of the
/// counts, the last index and the entry there.
#[rmkit::command(name = "list.edit", flags = "write")]
fn list_edit(key: WriteKey, args: Rest) -> Result<Reply> {
    let list = list_of(&key)?;
    let mut args = args.iter();
    let mut first = args
        .next()
        .ok_or_else(|| Error::new("wrong number of arguments"))?;
    let mut reverse = false;
    if first.as_bytes().eq_ignore_ascii_case(b"REVERSE") && args.len() > 0 {
        reverse = true;
        first = args.next().expect("checked");
    }
    let cmds = first.as_bytes();
    let needed = cmds.iter().filter(|c| matches!(c, b'i' | b'r')).count();
    let min_len = cmds
        .iter()
        .filter(|c| matches!(c, b'd' | b'r' | b'k'))
        .count();
    if args.len() < needed {
        return Err(Error::new("too few args"));
    }
    if list.len() < min_len {
        return Err(Error::new("list too short"));
    }
    let step = if reverse { -1 } else { 1 };
    let (mut inserts, mut deletes, mut replaces) = (0, 0, 0);
    let mut index: i64 = if reverse { -1 } else { 0 };
    for c in cmds {
        match c {
            b'i' => {
                list.insert(index, args.next().expect("counted"))?;
                index += step;
                inserts += 1;
            }
            b'd' => {
                list.remove(index)?;
                deletes += 1;
            }
            b'r' => {
                list.set(index, args.next().expect("counted"))?;
                index += step;
                replaces += 1;
            }
            b'k' => index += step,
            _ => {}
        }
    }
    let mut map = vec![
        (Reply::from("i"), Reply::Integer(inserts)),
        (Reply::from("d"), Reply::Integer(deletes)),
        (Reply::from("r"), Reply::Integer(replaces)),
        (Reply::from("index"), Reply::Integer(index)),
    ];
    if let Some(entry) = list.get(index) {
        map.push((Reply::from("entry"), Reply::String(entry)));
    }
    Ok(Reply::Map(map))
}

/// The element at `index`.
#[rmkit::command(name = "list.get", flags = "write")]
fn list_get(key: ReadKey, index_arg: &RedisStr) -> Result<Reply> {
    let i = index(index_arg)?;
    let list = key.list()?;
    list.get(i)
        .map(Reply::String)
        .ok_or_else(|| Error::new("index out of bounds"))
}

/// Replaces the element at `index`.
#[rmkit::command(name = "list.set", flags = "write")]
fn list_set(key: WriteKey, index_arg: &RedisStr, value: &RedisStr) -> Result<Reply> {
    let i = index(index_arg)?;
    key.list()?.set(i, value).map_err(out_of_bounds)?;
    Ok(Reply::Ok)
}

/// Inserts `value` before the element at a non-negative `index`, after it for a negative one.
#[rmkit::command(name = "list.insert", flags = "write")]
fn list_insert(key: WriteKey, index_arg: &RedisStr, value: &RedisStr) -> Result<Reply> {
    let i = index(index_arg)?;
    key.list()?.insert(i, value).map_err(out_of_bounds)?;
    Ok(Reply::Ok)
}

/// Deletes the element at `index` (the last one deletes the key).
#[rmkit::command(name = "list.delete", flags = "write")]
fn list_delete(key: WriteKey, index_arg: &RedisStr) -> Result<Reply> {
    let i = index(index_arg)?;
    key.list()?.remove(i).map_err(out_of_bounds)?;
    Ok(Reply::Ok)
}
