use rmkit::server::config::EnumConfig;

/// 3 is none of the choices.
pub static MODE: EnumConfig = EnumConfig::new("mode", &[("fast", 1), ("safe", 2)], 3);
rmkit::config!(MODE);

fn main() {}
