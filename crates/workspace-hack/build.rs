//! Empty: cargo applies `[build-dependencies]` only to a package with a build script.
fn main() {}
