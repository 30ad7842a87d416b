//! Streams: add entries (automatic or explicit IDs), delete them, iterate a range with its
//! fields, trim by length or by ID.

use super::{Key, KeyKind};
use crate::command::docs::Arg;
use crate::command::{Args, Param, Shape};
use crate::ffi::keytypes::{Failure, parse_stream_id};
use crate::{Context, Error, RedisStr, RedisString, Result};
use std::fmt;

/// A stream entry ID, `ms-seq`. As a command parameter it accepts what `XADD`/`XRANGE` accept
/// (`1-2`, `5` meaning `5-0`, `-` the smallest, `+` the largest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID, `0-0` (`-`).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID (`+`).
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Parses `s` with Redis's own stream-ID parser; `None` if it is not one.
    pub fn parse(s: &RedisStr) -> Option<StreamId> {
        parse_stream_id(s)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl<'a> Param<'a> for StreamId {
    const SHAPE: Shape = Shape::one(Arg::string(""));
    fn parse(args: &mut Args<'a, RedisStr>, _: &'a Context) -> Result<Self> {
        let s = args.next_arg()?;
        parse_stream_id(s)
            .ok_or_else(|| Error::new("Invalid stream ID specified as stream command argument"))
    }
}

/// Access to a stream key (empty or holding a stream), from [`Key::stream`].
///
/// ```no_run
/// # use rmkit::key::stream::StreamId;
/// # fn f(key: &mut rmkit::Key<'_>, fields: &[rmkit::RedisStr]) -> rmkit::Result<()> {
/// let mut stream = key.stream()?;
/// let id = stream.add(None, fields)?;            // XADD key * f v ...
/// for entry in stream.range(StreamId::MIN, id, false)? {
///     println!("{} has {} fields", entry.id, entry.fields.len());
/// }
/// # Ok(()) }
/// ```
pub struct Stream<'k, 'c> {
    key: &'k mut Key<'c>,
}

/// One stream entry, from [`Stream::range`].
#[derive(Debug)]
pub struct Entry {
    /// Its ID.
    pub id: StreamId,
    /// Its field/value pairs, in order.
    pub fields: Vec<(RedisString, RedisString)>,
}

fn stream_error(f: Failure) -> Error {
    match f {
        Failure::WrongType => Error::wrong_type(),
        Failure::ReadOnly => super::read_only(),
        Failure::NotFound => Error::new("no such stream entry"),
        Failure::OutOfRange => Error::new(
            "The ID specified in XADD is equal or smaller than the target stream top item",
        ),
        Failure::Invalid => Error::new("invalid stream operation"),
    }
}

impl<'c> Key<'c> {
    /// The key as a stream, or `WRONGTYPE ...`. Mutably borrowed: an iteration lives in the key.
    pub fn stream(&mut self) -> Result<Stream<'_, 'c>> {
        match self.kind() {
            KeyKind::Empty | KeyKind::Stream => Ok(Stream { key: self }),
            _ => Err(Error::wrong_type()),
        }
    }
}

impl Stream<'_, '_> {
    /// How many entries.
    pub fn len(&self) -> usize {
        self.key.value_len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `XADD`: appends an entry of `fields` (interleaved `field value ...`, an even number, at
    /// least one pair) at `id`, or at the next automatic ID when `None`; the ID it got. An `id`
    /// not above the stream's last is `ERR The ID specified in XADD is equal or smaller ...`.
    pub fn add(&mut self, id: Option<StreamId>, fields: &[RedisStr]) -> Result<StreamId> {
        self.key.check_writable()?;
        if fields.is_empty() || !fields.len().is_multiple_of(2) {
            return Err(Error::new(
                "a stream entry needs field/value pairs (an even number, at least two)",
            ));
        }
        if id == Some(StreamId::MIN) {
            return Err(Error::new(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
        let id = self
            .key
            .handle()
            .stream_add(id, fields)
            .map_err(|f| match f {
                // EDOM: the ID is not above the top item; EFBIG: the IDs are exhausted.
                Failure::Invalid if id.is_none() => Error::new(
                    "The stream has exhausted the last possible ID, unable to add more items",
                ),
                f => stream_error(f),
            })?;
        self.key.modified();
        Ok(id)
    }

    /// `XDEL` of one entry: whether it was there.
    pub fn delete(&mut self, id: StreamId) -> Result<bool> {
        self.key.check_writable()?;
        match self.key.handle().stream_delete(id) {
            Ok(()) => {
                self.key.modified();
                Ok(true)
            }
            Err(Failure::NotFound) => Ok(false),
            Err(f) => Err(stream_error(f)),
        }
    }

    /// The entries with IDs in `start..=end` (`reverse`: from `end` down), with their fields.
    /// Reads them all before returning (the C iterator lives in the key).
    pub fn range(&mut self, start: StreamId, end: StreamId, reverse: bool) -> Result<Vec<Entry>> {
        self.range_limited(start, end, reverse, usize::MAX)
    }

    /// [`range`](Self::range) with at most `count` entries (`XRANGE ... COUNT n`).
    pub fn range_limited(
        &mut self,
        start: StreamId,
        end: StreamId,
        reverse: bool,
        count: usize,
    ) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        if self.key.kind() == KeyKind::Empty || count == 0 {
            return Ok(out);
        }
        let h = self.key.handle_mut();
        h.stream_iter_start(Some(start), Some(end), reverse, false)
            .map_err(stream_error)?;
        while out.len() < count {
            let Some((id, n)) = h.stream_iter_next() else {
                break;
            };
            let mut fields = Vec::with_capacity(n);
            while let Some(fv) = h.stream_iter_field() {
                fields.push(fv);
            }
            out.push(Entry { id, fields });
        }
        h.stream_iter_stop();
        Ok(out)
    }

    /// Deletes every entry in `start..=end` for which `remove(entry)` says so, while iterating
    /// (`RedisModule_StreamIteratorDelete`); how many went.
    pub fn retain_range(
        &mut self,
        start: StreamId,
        end: StreamId,
        mut remove: impl FnMut(&Entry) -> bool,
    ) -> Result<usize> {
        self.key.check_writable()?;
        if self.key.kind() == KeyKind::Empty {
            return Ok(0);
        }
        let mut removed = 0;
        let h = self.key.handle_mut();
        h.stream_iter_start(Some(start), Some(end), false, false)
            .map_err(stream_error)?;
        let mut result = Ok(());
        while let Some((id, n)) = h.stream_iter_next() {
            let mut fields = Vec::with_capacity(n);
            while let Some(fv) = h.stream_iter_field() {
                fields.push(fv);
            }
            if remove(&Entry { id, fields }) {
                if let Err(f) = h.stream_iter_delete() {
                    result = Err(stream_error(f));
                    break;
                }
                removed += 1;
            }
        }
        h.stream_iter_stop();
        if removed > 0 {
            self.key.modified();
        }
        result.map(|()| removed)
    }

    /// `XTRIM MAXLEN [~] len`: how many entries were removed (`approx`: Redis may keep a few
    /// more, to remove whole nodes — cheaper).
    pub fn trim_to_len(&mut self, len: u64, approx: bool) -> Result<u64> {
        self.trim(Some(i64::try_from(len).unwrap_or(i64::MAX)), None, approx)
    }

    /// `XTRIM MINID [~] id`: removes entries below `id`; how many.
    pub fn trim_below(&mut self, id: StreamId, approx: bool) -> Result<u64> {
        self.trim(None, Some(id), approx)
    }

    fn trim(&mut self, len: Option<i64>, id: Option<StreamId>, approx: bool) -> Result<u64> {
        self.key.check_writable()?;
        if self.key.kind() == KeyKind::Empty {
            return Ok(0);
        }
        let n = self
            .key
            .handle()
            .stream_trim(len, id, approx)
            .map_err(stream_error)?;
        if n > 0 {
            self.key.modified();
        }
        Ok(n)
    }
}
