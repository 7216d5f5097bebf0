//! Running a helper program (openssl, docker, kubectl, ip) to completion: its standard output,
//! or an error naming it with its error output.

use std::io::Write;
use std::process::{Command, Stdio};

use super::ClusterError;

/// Runs `command`, described as `what` in errors, with `input` on its standard input.
pub fn run(command: &mut Command, what: &str, input: &str) -> Result<String, ClusterError> {
    let spawn_error = |source| ClusterError::Spawn {
        program: what.to_owned(),
        source,
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that reads nothing may close its input early; its exit status tells.
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child.wait_with_output().map_err(spawn_error)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(ClusterError::Failed {
            what: what.to_owned(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
