//! Port of Redis 7.0's `tests/modules/moduleconfigstwo.c`: a second module (named `configs`)
//! with one bool config, to check that two modules' configs do not interfere.
#![forbid(unsafe_code)]

use rmkit::server::config::BoolConfig;

rmkit::module! { name: "configs", version: 1 }

/// `configs.test`.
pub static TEST: BoolConfig = BoolConfig::new("test", true);
rmkit::config!(TEST);
