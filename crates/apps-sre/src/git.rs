//! The git commit of the working tree: the default image tag and the source version to build.

use thiserror::Error;
use xshell::{Shell, cmd};

/// Errors from asking git about the working tree.
#[derive(Debug, Error)]
pub enum GitError {
    /// git is not installed.
    #[error("git is not installed (not found on PATH): pass --tag to name the image")]
    Missing,
    /// git answered with an error (not a repository, no commit yet).
    #[error("cannot name the image after the git commit ({detail}): pass --tag")]
    NoCommit {
        /// git's message.
        detail: String,
    },
}

/// The commit checked out: full and short SHA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full SHA.
    pub sha: String,
    /// The short SHA git prints for it.
    pub short: String,
}

/// `git rev-parse HEAD` and `git rev-parse --short HEAD` in the shell's directory.
pub fn head(sh: &Shell) -> Result<Commit, GitError> {
    Ok(Commit {
        sha: rev_parse(sh, &["HEAD"])?,
        short: rev_parse(sh, &["--short", "HEAD"])?,
    })
}

fn rev_parse(sh: &Shell, args: &[&str]) -> Result<String, GitError> {
    let output = cmd!(sh, "git rev-parse {args...}")
        .quiet()
        .ignore_status()
        .output()
        .map_err(|_| GitError::Missing)?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !stdout.is_empty() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(GitError::NoCommit {
        detail: stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("no output")
            .to_owned(),
    })
}
