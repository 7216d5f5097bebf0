//! Integration tests of `cargo xtask`, run as the built binary against the AWS emulator.

mod bootstrap;
mod canary;
mod full_bootstrap;
mod invalid_inputs;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Where cargo put the workspace's binaries (the directory above this test's own executable).
pub fn binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .to_path_buf()
}

/// `xtask ARGS` using the already built crate binaries, with no terminal.
pub fn xtask(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .env("SHOPSTACK_BIN_DIR", binaries())
        .env_remove("SHOPSTACK_ENV")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null());
    command
}

/// Standard output and error together, for messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The repository root.
pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above xtask")
        .to_path_buf()
}
