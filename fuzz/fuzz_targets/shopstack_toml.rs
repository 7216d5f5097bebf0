//! Fuzzes `shopstack.toml` parsing: any input is a configuration or an error, never a panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = shopstack_core::Config::parse(Path::new("shopstack.toml"), text);
    }
});
