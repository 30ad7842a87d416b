//! Values of a module data type in keys: read, store, change — each measured by the allocator,
//! so `MEMORY USAGE` stays exact.

use super::Key;
use crate::datatype::{Measured, Registered};
use crate::ffi::datatype::Stored;
use crate::ffi::key::Found;
use crate::{Error, RedisStr, RedisString, Result};

/// What [`Key::update`] may return: a value that owns no heap memory (any `Copy` type: a count,
/// a flag, an offset). Whatever the closure allocates is counted as the value's memory, so a
/// returned `Vec` or `String` would be counted for good although the key does not hold it.
#[diagnostic::on_unimplemented(
    message = "`Key::update` cannot return `{Self}`: what the closure allocates is counted as the value's memory",
    label = "this may own heap memory",
    note = "return a `Copy` value (a count, a flag) and build the reply after `update`; validate before updating, so the edit itself cannot fail"
)]
pub trait Plain {}

impl<T: Copy> Plain for T {}

impl<'c> Key<'c> {
    fn found<T>(f: Found<T>) -> Result<Option<T>> {
        match f {
            Found::Empty => Ok(None),
            Found::Value(v) => Ok(Some(v)),
            Found::Other => Err(Error::wrong_type()),
        }
    }

    /// The value of type `T` at this key: `None` if the key is empty, `WRONGTYPE` if it holds
    /// anything else.
    pub fn value<T: Registered>(&self) -> Result<Option<&T>> {
        Ok(Self::found(self.handle().value::<T>(T::handle()))?.map(|s| &s.value))
    }

    /// The exact server bytes the value holds (what `MEMORY USAGE` adds for it).
    pub fn value_bytes<T: Registered>(&self) -> Result<Option<usize>> {
        Ok(Self::found(self.handle().value::<T>(T::handle()))?.map(|s| s.bytes))
    }

    /// Stores the value built by `build` (measured as it is built), replacing what the key held.
    /// If `build` fails the key is untouched. The key must be opened writable.
    ///
    /// Allocate the value's parts **inside** `build`: the value is measured at what `build`
    /// allocates, so a `Vec` made before and moved in is not counted (`MEMORY USAGE` would be
    /// short by its size).
    ///
    /// ```no_run
    /// # use rmkit::prelude::*;
    /// # struct Dt { data: Vec<u8> }
    /// # impl DataType for Dt {
    /// #     const NAME: &'static str = "doc-dt-01";
    /// #     fn rdb_save(&self, rdb: &mut RdbWriter<'_>) { rdb.save_bytes(&self.data) }
    /// #     fn rdb_load(rdb: &mut RdbReader<'_>, _: i32) -> Result<Self> { Ok(Dt { data: rdb.load_bytes()? }) }
    /// #     fn aof_rewrite(&self, _: &RedisStr, _: &mut AofWriter<'_>) {}
    /// # }
    /// # rmkit::data_type!(Dt);
    /// # fn f(key: &mut rmkit::Key<'_>, arg: &[u8]) -> rmkit::Result<()> {
    /// key.set_value(|| Ok(Dt { data: arg.to_vec() }))?; // measured: the copy is made inside
    /// # Ok(()) }
    /// ```
    pub fn set_value<T: Registered>(&mut self, build: impl FnOnce() -> Result<T>) -> Result<()> {
        self.check_writable()?;
        self.set_measured(Measured::build(build)?)
    }

    /// Stores a value built (and measured) earlier with [`Measured::build`], replacing what
    /// the key held: for commands that must build the value before they can decide whether to
    /// store it (parse first, then look at NX/XX).
    pub fn set_measured<T: Registered>(&mut self, value: Measured<T>) -> Result<()> {
        self.check_writable()?;
        self.store(value.into_stored())
    }

    /// Sets the key to `value`: whatever it held (any type) is replaced, as SET replaces a hash.
    fn store<T: Registered>(&mut self, value: Box<Stored<T>>) -> Result<()> {
        match self.handle_mut().set_value(T::handle(), value) {
            Ok(()) => {
                self.modified();
                Ok(())
            }
            Err(_) => Err(Error::new("could not store the value")),
        }
    }

    /// [`set_measured`](Self::set_measured) that keeps the key's expiry when it already holds
    /// a `T` (as `SET ... KEEPTTL` does, and RedisJSON's `JSON.SET` of a whole document): the
    /// new value takes the old one's place (`RedisModule_ModuleTypeReplaceValue`; the key is
    /// not deleted and added again, which also makes it cheaper) and the old value is dropped
    /// here, at once, not by the server's lazy free (and, the key staying in the keyspace,
    /// without [`DataType::unlink`](crate::datatype::DataType::unlink)). An empty key, or one
    /// holding another type, is set as by `set_measured`.
    ///
    /// ```no_run
    /// # use rmkit::prelude::*;
    /// # use rmkit::datatype::Measured;
    /// # struct Dt { data: Vec<u8> }
    /// # impl DataType for Dt {
    /// #     const NAME: &'static str = "doc-dt-02";
    /// #     fn rdb_save(&self, rdb: &mut RdbWriter<'_>) { rdb.save_bytes(&self.data) }
    /// #     fn rdb_load(rdb: &mut RdbReader<'_>, _: i32) -> Result<Self> { Ok(Dt { data: rdb.load_bytes()? }) }
    /// #     fn aof_rewrite(&self, _: &RedisStr, _: &mut AofWriter<'_>) {}
    /// # }
    /// # rmkit::data_type!(Dt);
    /// # fn f(key: &mut rmkit::Key<'_>, arg: &[u8]) -> rmkit::Result<()> {
    /// let value = Measured::build(|| Ok(Dt { data: arg.to_vec() }))?;
    /// key.set_measured_keep_ttl(value)?; // an EXPIRE set on the key still holds
    /// # Ok(()) }
    /// ```
    pub fn set_measured_keep_ttl<T: Registered>(&mut self, value: Measured<T>) -> Result<()> {
        self.check_writable()?;
        match self
            .handle_mut()
            .replace_value(T::handle(), value.into_stored())
        {
            Ok(old) => {
                drop(old);
                self.modified();
                Ok(())
            }
            Err(value) => self.store(value),
        }
    }

    /// Changes the value in place with `f`, measuring what `f` allocates and frees so the
    /// value's size stays exact. `None` if the key is empty; `WRONGTYPE` if it holds something
    /// else. `f` returns a [`Plain`] value: build replies after the update.
    pub fn update<T: Registered, R: Plain>(
        &mut self,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>> {
        self.check_writable()?;
        let Some(stored) = Self::found(self.handle_mut().value_mut::<T>(T::handle()))? else {
            return Ok(None);
        };
        let r = stored.update(f);
        self.modified();
        Ok(Some(r))
    }

    /// The value of type `T` serialised by its [`rdb_save`](crate::datatype::DataType::rdb_save)
    /// (`RedisModule_SaveDataTypeToString`): `None` for an empty key, `WRONGTYPE` for another
    /// type. Load it back with [`restore_value`](Self::restore_value).
    pub fn dump_value<T: Registered>(&self) -> Result<Option<RedisString>> {
        if Self::found(self.handle().value::<T>(T::handle()))?.is_none() {
            return Ok(None);
        }
        self.handle()
            .dump_value::<T>(T::handle())
            .map(Some)
            .ok_or_else(|| Error::new("could not serialise the value"))
    }

    /// Stores the value of type `T` that `data` (from [`dump_value`](Self::dump_value)) holds,
    /// read by [`rdb_load`](crate::datatype::DataType::rdb_load) as encoding `version`,
    /// replacing what the key held. Truncated or bad data is an error and leaves the key
    /// untouched.
    pub fn restore_value<T: Registered>(&mut self, data: &RedisStr, version: i32) -> Result<()> {
        self.check_writable()?;
        if !self
            .handle_mut()
            .restore_value::<T>(T::handle(), data, version)
        {
            return Err(Error::new(
                "invalid data for this type (truncated, corrupt or of a refused version)",
            ));
        }
        self.modified();
        Ok(())
    }

    /// Exchanges this key's value of type `T` with `other`'s, moving them without copying (their
    /// measured sizes go with them). Both keys must be writable and hold a `T`: otherwise
    /// `WRONGTYPE` (or `ERR` for an empty key) and nothing changes.
    pub fn swap_value<T: Registered>(&mut self, other: &mut Key<'_>) -> Result<()> {
        self.check_writable()?;
        other.check_writable()?;
        for k in [&*self, &*other] {
            if Self::found(k.handle().value::<T>(T::handle()))?.is_none() {
                return Err(Error::new("no value to swap: the key is empty"));
            }
        }
        if !self
            .handle_mut()
            .swap_value::<T>(other.handle_mut(), T::handle())
        {
            return Err(Error::new("could not swap the values"));
        }
        self.modified();
        other.modified();
        Ok(())
    }
}
