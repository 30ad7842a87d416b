rmkit::module! { name: "one", version: 1 }
rmkit::module! { name: "two", version: 1 }

fn main() {}
