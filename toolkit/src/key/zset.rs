//! Sorted sets: add (with `ZADD`'s NX/XX/GT/LT), increment, remove, score, and range iteration
//! by score or by lex in both directions.

use super::{Key, KeyKind};
use crate::{Error, RedisStr, RedisString, Result};

/// `ZADD`'s conditions (combine with `|`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZaddFlags {
    /// `NX`: only add new members.
    pub nx: bool,
    /// `XX`: only update existing members.
    pub xx: bool,
    /// `GT`: only update when the new score is greater.
    pub gt: bool,
    /// `LT`: only update when the new score is less.
    pub lt: bool,
}

/// What [`ZSet::add`] or [`ZSet::incr_by`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zadded {
    /// A new member.
    Added,
    /// An existing member's score changed.
    Updated,
    /// Nothing (a condition said no, or the score was the same).
    Nothing,
}

/// Access to a sorted set key (empty or holding one), from [`Key::zset`].
pub struct ZSet<'k, 'c> {
    key: &'k mut Key<'c>,
}

/// A score bound of a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// The bound is included (`ZRANGEBYSCORE key 1 5`).
    Inclusive(f64),
    /// The bound is excluded (`(1`).
    Exclusive(f64),
}

impl ZaddFlags {
    /// `ZADD`'s refusal of contradictory conditions, in its words.
    fn check(self) -> Result<()> {
        if self.nx && self.xx {
            return Err(Error::new(
                "XX and NX options at the same time are not compatible",
            ));
        }
        if (self.gt && self.lt) || (self.nx && (self.gt || self.lt)) {
            return Err(Error::new(
                "GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        Ok(())
    }
}

impl Bound {
    fn parts(self) -> (f64, bool) {
        match self {
            Bound::Inclusive(v) => (v, false),
            Bound::Exclusive(v) => (v, true),
        }
    }
}

impl<'c> Key<'c> {
    /// The key as a sorted set, or `WRONGTYPE ...`. Mutably borrowed: a range iteration lives in
    /// the key.
    pub fn zset(&mut self) -> Result<ZSet<'_, 'c>> {
        match self.kind() {
            KeyKind::Empty | KeyKind::ZSet => Ok(ZSet { key: self }),
            _ => Err(Error::wrong_type()),
        }
    }
}

impl<'c> ZSet<'_, 'c> {
    /// How many members.
    pub fn len(&self) -> usize {
        self.key.value_len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `ZADD key [flags] score member`. A NaN score or contradictory flags (`NX` with `XX`,
    /// `GT` with `LT`, `NX` with `GT`/`LT`) are an error, in `ZADD`'s words.
    pub fn add(&mut self, score: f64, member: &RedisStr, flags: ZaddFlags) -> Result<Zadded> {
        self.key.check_writable()?;
        flags.check()?;
        let r = self
            .key
            .handle()
            .zset_add(score, member, flags)
            .ok_or_else(|| Error::new("ZADD refused the score or the flags"))?;
        if r != Zadded::Nothing {
            self.key.modified();
        }
        Ok(r)
    }

    /// `ZINCRBY`: adds `by` to the member's score (a new member starts at 0); what happened
    /// and the new score (`None` when a condition said no).
    pub fn incr_by(
        &mut self,
        member: &RedisStr,
        by: f64,
        flags: ZaddFlags,
    ) -> Result<(Zadded, Option<f64>)> {
        self.key.check_writable()?;
        flags.check()?;
        let (r, score) = self
            .key
            .handle()
            .zset_incrby(member, by, flags)
            .ok_or_else(|| Error::new("ZINCRBY refused: the result is not a number"))?;
        if r != Zadded::Nothing {
            self.key.modified();
        }
        Ok((r, (r != Zadded::Nothing).then_some(score)))
    }

    /// `ZREM`: whether the member was there.
    pub fn remove(&mut self, member: &RedisStr) -> Result<bool> {
        self.key.check_writable()?;
        let removed = self
            .key
            .handle()
            .zset_rem(member)
            .ok_or_else(Error::wrong_type)?;
        if removed {
            self.key.modified();
        }
        Ok(removed)
    }

    /// `ZSCORE`.
    pub fn score(&self, member: &RedisStr) -> Option<f64> {
        self.key.handle().zset_score(member)
    }

    /// The members with scores in `min..max`, lowest first (`reverse`: highest first), with
    /// their scores.
    pub fn range_by_score(&mut self, min: Bound, max: Bound, reverse: bool) -> ZRange<'_, 'c> {
        let ((lo, lo_x), (hi, hi_x)) = (min.parts(), max.parts());
        let started = self
            .key
            .handle_mut()
            .zset_range_score(lo, hi, lo_x, hi_x, reverse);
        ZRange {
            key: self.key.handle_mut(),
            reverse,
            started,
            first: true,
        }
    }

    /// The members between `min` and `max` in `ZRANGEBYLEX` syntax (`[a`, `(b`, `-`, `+`),
    /// lexicographically (`reverse`: backwards); with their scores. An invalid bound gives an
    /// empty range.
    pub fn range_by_lex(
        &mut self,
        min: &RedisStr,
        max: &RedisStr,
        reverse: bool,
    ) -> ZRange<'_, 'c> {
        let started = self.key.handle_mut().zset_range_lex(min, max, reverse);
        ZRange {
            key: self.key.handle_mut(),
            reverse,
            started,
            first: true,
        }
    }
}

/// An iteration over part of a sorted set ([`ZSet::range_by_score`], [`ZSet::range_by_lex`]),
/// yielding `(member, score)`. Stopped when dropped.
pub struct ZRange<'k, 'c> {
    key: &'k mut crate::ffi::key::KeyHandle<'c>,
    reverse: bool,
    started: bool,
    first: bool,
}

impl Iterator for ZRange<'_, '_> {
    type Item = (RedisString, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            return None;
        }
        if !self.first && !self.key.zset_range_step(self.reverse) {
            self.started = false;
            return None;
        }
        self.first = false;
        let item = self.key.zset_range_current();
        if item.is_none() {
            self.started = false;
        }
        item
    }
}

impl Drop for ZRange<'_, '_> {
    fn drop(&mut self) {
        self.key.zset_range_stop();
    }
}
