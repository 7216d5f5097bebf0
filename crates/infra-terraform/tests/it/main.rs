//! Integration tests of the `infra-terraform` binary, against the AWS emulator.

mod apply;
mod config_errors;
mod destroy;
mod drift;
mod enforcement;
mod faults;
mod identity;
mod kills;
mod kms;
mod lock_support;
mod locking;
mod oidc;
mod outputs;
mod privilege;
mod real_aws;
mod requests;
mod secrets;
mod support;
mod terraform;
mod tls;
mod workflows;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary, run in `dir` with no endpoint or environment inherited from the caller's shell,
/// and no terminal on standard input.
pub fn infra_terraform(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_infra-terraform"));
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SHOPSTACK_ENV");
    command
}

/// Runs a command to completion.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("run {command:?}: {error}"))
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
