//! Port of Redis 7.0 tests/modules/commandfilter.c.
#![forbid(unsafe_code)]

rmkit::module! { name: "commandfilter", version: 1 }
