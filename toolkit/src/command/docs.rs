//! What `COMMAND INFO` and `COMMAND DOCS` say about a command: key specs and documented
//! arguments. `#[rmkit::command]` derives both from the command's parameters; a parameter
//! type of your own describes itself with these (its [`Param::SHAPE`](super::Param::SHAPE)).

/// A key specification: where keys start and how to find the rest, with what the command does
/// to them.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Flags, space separated: one of `RO RW OW RM`, then any of `access update insert delete
    /// not_key incomplete variable_flags` (Redis's key-spec flags).
    pub flags: &'static str,
    /// Where the search for keys begins.
    pub begin: BeginSearch,
    /// How keys are found from there.
    pub find: FindKeys,
    /// A remark shown in `COMMAND INFO` (`notes`), e.g. why a flag is there.
    pub notes: Option<&'static str>,
}

/// Where a key search begins.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searching from `start_from` (negative: from the end).
    Keyword {
        /// The keyword, e.g. `"STREAMS"`.
        keyword: &'static str,
        /// Where to start searching for it.
        start_from: i32,
    },
}

/// How keys are found once the search has begun.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    /// A range: the last key relative to the first (-1: to the end), a step, and a limit.
    Range {
        /// Index of the last key relative to the begin search (negative: from the end).
        last_key: i32,
        /// Step between keys.
        step: i32,
        /// With `last_key` -1: stop after `count / limit` keys (0: no limit).
        limit: i32,
    },
    /// A count argument followed by the keys.
    KeyNum {
        /// Index of the count argument relative to the begin search.
        key_num_index: i32,
        /// Index of the first key relative to the begin search.
        first_key: i32,
        /// Step between keys.
        step: i32,
    },
}

impl KeySpec {
    /// A key spec of `flags` found by `begin` and `find`.
    pub const fn new(flags: &'static str, begin: BeginSearch, find: FindKeys) -> KeySpec {
        KeySpec {
            flags,
            begin,
            find,
            notes: None,
        }
    }

    /// One key at argument `index`, with `flags`.
    pub const fn single(index: i32, flags: &'static str) -> KeySpec {
        KeySpec::new(
            flags,
            BeginSearch::Index(index),
            FindKeys::Range {
                last_key: 0,
                step: 1,
                limit: 0,
            },
        )
    }

    /// With a remark for `COMMAND INFO`.
    pub const fn with_notes(self, notes: &'static str) -> KeySpec {
        KeySpec {
            notes: Some(notes),
            ..self
        }
    }
}

/// One documented argument (`COMMAND DOCS`).
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// For keys: the index of its key spec (-1: none).
    pub key_spec: i32,
    /// A keyword that precedes it (`EX` in `EX seconds`), or the token of a pure token.
    pub token: Option<&'static str>,
    /// May be left out.
    pub optional: bool,
    /// May be repeated.
    pub multiple: bool,
    /// The alternatives of a `OneOf` or the parts of a `Block`.
    pub subargs: &'static [Arg],
    /// The version that added it (`since` in `COMMAND DOCS`).
    pub since: Option<&'static str>,
    /// A line about it (`summary`).
    pub summary: Option<&'static str>,
    /// The version that deprecated it (`deprecated_since`).
    pub deprecated_since: Option<&'static str>,
    /// How documentation shows it instead of its name (`display_text`).
    pub display_text: Option<&'static str>,
}

/// The type of a documented argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A double.
    Double,
    /// A key name.
    Key,
    /// A glob-style pattern.
    Pattern,
    /// A Unix time.
    UnixTime,
    /// A keyword alone (its `token`).
    PureToken,
    /// One of the `subargs`.
    OneOf,
    /// All of the `subargs`, in order.
    Block,
}

impl Arg {
    /// An argument of `kind` (see the shorthands below).
    pub const fn new(name: &'static str, kind: ArgKind) -> Arg {
        Arg {
            name,
            kind,
            key_spec: -1,
            token: None,
            optional: false,
            multiple: false,
            subargs: &[],
            since: None,
            summary: None,
            deprecated_since: None,
            display_text: None,
        }
    }
    /// A string argument.
    pub const fn string(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::String)
    }
    /// An integer argument.
    pub const fn integer(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Integer)
    }
    /// A double argument.
    pub const fn double(name: &'static str) -> Arg {
        Arg::new(name, ArgKind::Double)
    }
    /// A key argument described by key spec number `spec`.
    pub const fn key(name: &'static str, spec: i32) -> Arg {
        Arg {
            key_spec: spec,
            ..Arg::new(name, ArgKind::Key)
        }
    }
    /// A keyword on its own, e.g. `NX`.
    pub const fn token(word: &'static str) -> Arg {
        Arg {
            token: Some(word),
            ..Arg::new(word, ArgKind::PureToken)
        }
    }
    /// One of `choices`.
    pub const fn one_of(name: &'static str, choices: &'static [Arg]) -> Arg {
        Arg {
            subargs: choices,
            ..Arg::new(name, ArgKind::OneOf)
        }
    }
    /// All of `parts`, in order.
    pub const fn block(name: &'static str, parts: &'static [Arg]) -> Arg {
        Arg {
            subargs: parts,
            ..Arg::new(name, ArgKind::Block)
        }
    }
    /// Marks it optional.
    pub const fn optional(self) -> Arg {
        Arg {
            optional: true,
            ..self
        }
    }
    /// Marks it repeatable.
    pub const fn multiple(self) -> Arg {
        Arg {
            multiple: true,
            ..self
        }
    }
}

/// Key-spec flag names and their `REDISMODULE_CMD_KEY_*` bits.
pub const KEY_SPEC_FLAGS: &[(&str, u64)] = &[
    ("RO", 1),
    ("RW", 2),
    ("OW", 4),
    ("RM", 8),
    ("access", 16),
    ("update", 32),
    ("insert", 64),
    ("delete", 128),
    ("not_key", 256),
    ("incomplete", 512),
    ("variable_flags", 1024),
];

/// The bits of a key spec's flags, or the first unknown word.
pub fn key_spec_flags(flags: &str) -> std::result::Result<u64, String> {
    flags.split_ascii_whitespace().try_fold(0u64, |acc, word| {
        KEY_SPEC_FLAGS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|(_, bit)| acc | bit)
            .ok_or_else(|| format!("unknown key spec flag '{word}'"))
    })
}

/// What a command does to one key: a key spec's flags, as `REDISMODULE_CMD_KEY_*` bits.
/// Written as Redis writes them (`"RO access"`, `"RW update"`, `"OW"`).
///
/// ```
/// use rmkit::command::docs::KeyFlags;
/// let f = KeyFlags::parse("RO access").unwrap();
/// assert!(f.contains(KeyFlags::RO) && !f.contains(KeyFlags::RW));
/// assert_eq!(f.to_string(), "RO access");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyFlags(pub u64);

impl KeyFlags {
    /// `RO`: read only.
    pub const RO: KeyFlags = KeyFlags(1);
    /// `RW`: read and write.
    pub const RW: KeyFlags = KeyFlags(2);
    /// `OW`: overwrite (the old value is not read).
    pub const OW: KeyFlags = KeyFlags(4);
    /// `RM`: remove.
    pub const RM: KeyFlags = KeyFlags(8);
    /// `access`: the user's data is returned or copied.
    pub const ACCESS: KeyFlags = KeyFlags(16);
    /// `update`: the value is updated.
    pub const UPDATE: KeyFlags = KeyFlags(32);
    /// `insert`: data is added, none changed or removed.
    pub const INSERT: KeyFlags = KeyFlags(64);
    /// `delete`: data is removed.
    pub const DELETE: KeyFlags = KeyFlags(128);

    /// The flags named in `words` (space separated, [`KEY_SPEC_FLAGS`]), or the first unknown
    /// word.
    pub fn parse(words: &str) -> std::result::Result<KeyFlags, String> {
        key_spec_flags(words).map(KeyFlags)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: KeyFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::fmt::Display for KeyFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (name, bit) in KEY_SPEC_FLAGS {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Arg {
    /// Renamed (the parameter's name, for a shape's template).
    pub const fn named(self, name: &'static str) -> Arg {
        Arg { name, ..self }
    }

    /// With its key spec index set.
    pub const fn with_key_spec(self, spec: i32) -> Arg {
        Arg {
            key_spec: spec,
            ..self
        }
    }

    /// With a keyword before it (`EX seconds`).
    pub const fn with_token(self, token: &'static str) -> Arg {
        Arg {
            token: Some(token),
            ..self
        }
    }

    /// With the version that added it.
    pub const fn since(self, version: &'static str) -> Arg {
        Arg {
            since: Some(version),
            ..self
        }
    }

    /// With a line about it.
    pub const fn with_summary(self, summary: &'static str) -> Arg {
        Arg {
            summary: Some(summary),
            ..self
        }
    }

    /// With the version that deprecated it.
    pub const fn deprecated_since(self, version: &'static str) -> Arg {
        Arg {
            deprecated_since: Some(version),
            ..self
        }
    }

    /// Shown as `text` instead of its name.
    pub const fn with_display_text(self, text: &'static str) -> Arg {
        Arg {
            display_text: Some(text),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spec_flags_are_redis_bits_or_an_error() {
        assert_eq!(key_spec_flags("RW access update"), Ok(2 | 16 | 32));
        assert_eq!(key_spec_flags("ro"), Ok(1));
        assert_eq!(
            key_spec_flags("RW nope"),
            Err("unknown key spec flag 'nope'".to_owned())
        );
    }
}
