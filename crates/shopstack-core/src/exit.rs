//! The exit-code contract shared by every ShopStack binary.

use std::fmt::Display;
use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; or, for `plan --detailed-exitcode`, no changes.
    Success,
    /// An error: bad input, a failed call, a refused operation.
    Failure,
    /// `plan --detailed-exitcode` only: the plan has changes.
    Changes,
    /// Stopped by SIGINT (Ctrl-C) after cleaning up, as shells report it: 128 + 2.
    Interrupted,
    /// Stopped by SIGTERM after cleaning up: 128 + 15.
    Terminated,
}

impl Exit {
    /// The process exit code: 0, 1, 2, 130 or 143.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Changes => 2,
            Self::Interrupted => 130,
            Self::Terminated => 143,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Ends a binary: an error is printed as one line (`error: ` and the whole cause chain, as
/// anyhow's `{:#}` shows it) and exits 1.
pub fn finish<E: Display>(result: Result<Exit, E>) -> ExitCode {
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            let line = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {line}");
            Exit::Failure.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Changes.code(), 2);
        assert_eq!(Exit::Interrupted.code(), 130);
        assert_eq!(Exit::Terminated.code(), 143);
    }
}
