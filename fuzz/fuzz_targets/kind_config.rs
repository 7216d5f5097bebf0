//! Fuzzes `kind-config.yaml` parsing and checks: any input is a configuration or an error, never
//! a panic.

#![no_main]

use std::path::Path;

use cluster_gitops::kind_config::{KindConfig, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = Path::new("kind-config.yaml");
        for allow_public in [false, true] {
            let _ = KindConfig::parse(path, text, LoadOptions { allow_public });
        }
    }
});
