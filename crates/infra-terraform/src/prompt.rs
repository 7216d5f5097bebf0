//! Asking a person for confirmation, and refusing when nobody is there to ask.

use std::io::{BufRead, IsTerminal, Write};

use thiserror::Error;

/// Errors of asking for confirmation.
#[derive(Debug, Error)]
pub enum PromptError {
    /// Standard input is not a terminal, so nobody can answer.
    #[error("standard input is not a terminal: pass {flag} to {action} without asking")]
    NotATerminal {
        /// The flag that skips the question.
        flag: &'static str,
        /// What would be done.
        action: &'static str,
    },
    /// Reading the answer failed.
    #[error("read the answer")]
    Read(#[source] std::io::Error),
}

/// Asks `question` on a terminal; only `yes` confirms, like Terraform.
pub fn confirm(
    question: &str,
    flag: &'static str,
    action: &'static str,
) -> Result<bool, PromptError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(PromptError::NotATerminal { flag, action });
    }
    let mut stdout = std::io::stdout();
    let _ = write!(
        stdout,
        "\n{question}\n  Only 'yes' will be accepted.\n\n  Enter a value: "
    );
    let _ = stdout.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(PromptError::Read)?;
    Ok(answer.trim() == "yes")
}
