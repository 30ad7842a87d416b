//! Lists: push and pop at both ends, read and edit by index, iterate.

use super::{Key, KeyKind};
use crate::ffi::keytypes::Failure;
use crate::{Error, RedisStr, RedisString, Result};

/// Access to a list key (empty or holding a list), from [`Key::list`].
///
/// Indexes follow `LINDEX`: 0 is the head, -1 the tail. Reading elements in order (by
/// increasing or decreasing index) is as fast as iterating: Redis keeps its position between
/// calls.
pub struct List<'k, 'c> {
    key: &'k Key<'c>,
}

/// An end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (`LPUSH`, `LPOP`, index 0).
    Head,
    /// The tail (`RPUSH`, `RPOP`, index -1).
    Tail,
}

fn index_error(f: Failure) -> Error {
    match f {
        Failure::OutOfRange => Error::new("index out of range"),
        Failure::WrongType => Error::wrong_type(),
        _ => Error::new("the list operation failed"),
    }
}

impl<'c> Key<'c> {
    /// The key as a list, or `WRONGTYPE ...`.
    pub fn list(&self) -> Result<List<'_, 'c>> {
        match self.kind() {
            KeyKind::Empty | KeyKind::List => Ok(List { key: self }),
            _ => Err(Error::wrong_type()),
        }
    }
}

impl List<'_, '_> {
    /// How many elements.
    pub fn len(&self) -> usize {
        self.key.value_len()
    }

    /// Whether it has none (the key is then empty: Redis deletes empty lists).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `value` at `end` (creating the list).
    pub fn push(&self, end: End, value: &RedisStr) -> Result<()> {
        self.key.check_writable()?;
        self.key
            .handle()
            .list_push(end == End::Head, value)
            .map_err(index_error)?;
        self.key.modified();
        Ok(())
    }

    /// Removes and returns the element at `end`; `None` if the list is empty.
    pub fn pop(&self, end: End) -> Result<Option<RedisString>> {
        self.key.check_writable()?;
        let v = self.key.handle().list_pop(end == End::Head);
        if v.is_some() {
            self.key.modified();
        }
        Ok(v)
    }

    /// The element at `index`, or `None` out of range.
    pub fn get(&self, index: i64) -> Option<RedisString> {
        self.key.handle().list_get(index).ok()
    }

    /// Replaces the element at `index`; `ERR index out of range` if there is none.
    pub fn set(&self, index: i64, value: &RedisStr) -> Result<()> {
        self.edit(index, Some(value), false)
    }

    /// Inserts `value` so that it is at `index` afterwards (0: the head, -1 after the tail,
    /// `len` also the tail); `ERR index out of range` beyond those.
    pub fn insert(&self, index: i64, value: &RedisStr) -> Result<()> {
        self.edit(index, Some(value), true)
    }

    /// Deletes the element at `index` (an emptied list deletes the key).
    pub fn remove(&self, index: i64) -> Result<()> {
        self.edit(index, None, false)
    }

    fn edit(&self, index: i64, value: Option<&RedisStr>, insert: bool) -> Result<()> {
        self.key.check_writable()?;
        self.key
            .handle()
            .list_edit(index, value, insert)
            .map_err(index_error)?;
        self.key.modified();
        Ok(())
    }

    /// The elements from the head (`rev()` for tail first), read one by one.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = RedisString> + '_ {
        (0..self.len() as i64).filter_map(move |i| self.get(i))
    }
}
