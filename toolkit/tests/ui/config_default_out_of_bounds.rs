use rmkit::server::config::NumberConfig;

/// 0 is not in 1..=10.
pub static LIMIT: NumberConfig = NumberConfig::new("limit", 0, 1, 10);
rmkit::config!(LIMIT);

fn main() {}
