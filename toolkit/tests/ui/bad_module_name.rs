rmkit::module! { name: "my module", version: 1 }

fn main() {}
