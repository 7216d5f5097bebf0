//! External commands (docker, kind, helm) run with their output captured, and their one error.

use std::process::{Command, ExitStatus};

use thiserror::Error;

/// A command that could not run, or ran and failed.
#[derive(Debug, Error)]
pub enum CommandError {
    /// It ran and failed.
    #[error("`{command}` failed: {detail}")]
    Failed {
        /// The command line (never holding a secret).
        command: String,
        /// Its error line, or the exit status.
        detail: String,
    },
    /// It could not be started.
    #[error("cannot run `{command}`")]
    Start {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What a command left: its exit status and its output as text.
#[derive(Debug)]
pub struct Captured {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Captured {
    /// Its standard output when it succeeded; else [`CommandError::Failed`] naming `line`, with
    /// `detail` when the tool's own error line was found, else the last line of its standard
    /// error, else the exit status.
    pub fn or_failed(self, line: &str, detail: Option<String>) -> Result<String, CommandError> {
        if self.status.success() {
            return Ok(self.stdout);
        }
        Err(CommandError::Failed {
            command: line.to_owned(),
            detail: detail
                .or_else(|| last_meaningful_line(&self.stderr))
                .unwrap_or_else(|| format!("exited with {}", self.status)),
        })
    }
}

/// Runs `command` (shown as `line`) to its end, its output captured.
pub fn capture(command: impl Into<Command>, line: &str) -> Result<Captured, CommandError> {
    let output = command
        .into()
        .output()
        .map_err(|source| CommandError::Start {
            command: line.to_owned(),
            source,
        })?;
    Ok(Captured {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `command` (shown as `line`) to its end, its output shown as it comes.
pub fn run_shown(command: impl Into<Command>, line: &str) -> Result<(), CommandError> {
    let status = command
        .into()
        .status()
        .map_err(|source| CommandError::Start {
            command: line.to_owned(),
            source,
        })?;
    check_status(line, status, "")
}

/// [`CommandError::Failed`] of `line` exiting with `status`, unless it succeeded; `stderr` gives the
/// detail (for commands whose output went to the terminal, pass it empty).
pub fn check_status(line: &str, status: ExitStatus, stderr: &str) -> Result<(), CommandError> {
    Captured {
        status,
        stdout: String::new(),
        stderr: stderr.to_owned(),
    }
    .or_failed(line, None)
    .map(drop)
}

/// The last line of `text` that is not blank, trimmed.
pub fn last_meaningful_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn output_of_a_success_and_the_last_error_line_of_a_failure() {
        let ok = capture(sh("echo out; echo noise >&2"), "ok").expect("ran");
        assert_eq!(ok.or_failed("ok", None).expect("success"), "out\n");
        let failed = capture(
            sh("echo first >&2; echo '  last  ' >&2; echo >&2; exit 3"),
            "tool x",
        )
        .expect("ran");
        assert_eq!(
            failed.or_failed("tool x", None).unwrap_err().to_string(),
            "`tool x` failed: last"
        );
        let silent = capture(sh("exit 4"), "tool y").expect("ran");
        assert_eq!(
            silent
                .or_failed("tool y", Some("its own line".to_owned()))
                .unwrap_err()
                .to_string(),
            "`tool y` failed: its own line"
        );
        let status = capture(sh("exit 5"), "tool z").expect("ran").status;
        assert!(
            check_status("tool z", status, "")
                .unwrap_err()
                .to_string()
                .starts_with("`tool z` failed: exited with")
        );
    }

    #[test]
    fn a_command_that_cannot_start_is_named() {
        let error = capture(Command::new("/nonexistent/tool"), "tool --flag").unwrap_err();
        assert!(matches!(error, CommandError::Start { .. }));
        assert_eq!(error.to_string(), "cannot run `tool --flag`");
    }
}
