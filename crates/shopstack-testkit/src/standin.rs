//! Stand-in executables: small shell scripts put first on PATH that record their argv and answer
//! like the real tool (its messages and exit codes), for testing code that drives external tools.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// Separates arguments in the call log (a byte no argument of interest contains).
const SEPARATOR: char = '\u{1f}';

/// A directory of stand-in executables and the log of their calls.
pub struct StandIns {
    dir: TempDir,
}

impl StandIns {
    /// An empty directory of stand-ins.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    /// Adds executable `name`: it appends its argv to the call log, then runs `body` (POSIX sh,
    /// with `$STATE` a directory it may keep files in). Use only shell builtins in `body`: PATH
    /// holds nothing but the stand-ins when a test hides the real tools.
    pub fn add(&self, name: &str, body: &str) -> std::io::Result<()> {
        let bin = self.bin();
        let state = self.state();
        std::fs::create_dir_all(&bin)?;
        std::fs::create_dir_all(&state)?;
        // The call is appended in one write, so stand-ins called concurrently (doctor probes
        // every tool at once) never interleave their lines.
        let script = format!(
            "#!/bin/sh\nSTATE='{state}'\nCALL='{name}'\nfor arg in \"$@\"; do CALL=\"$CALL\"'{sep}'\"$arg\"; done\nprintf '%s\\n' \"$CALL\" >> '{log}'\n{body}\n",
            state = state.display(),
            log = self.log().display(),
            sep = SEPARATOR,
        );
        let path = bin.join(name);
        std::fs::write(&path, script)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
    }

    /// The directory to put on PATH.
    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The directory the stand-ins keep state in (`$STATE`).
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// Every call so far, in order, each as the program name followed by its arguments.
    pub fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(|line| line.split(SEPARATOR).map(str::to_owned).collect())
            .collect()
    }

    /// The calls of one program, without its name.
    pub fn calls_of(&self, name: &str) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|call| call.first().map(String::as_str) == Some(name))
            .map(|call| call.into_iter().skip(1).collect())
            .collect()
    }

    /// The directory holding the stand-ins, the state and the log.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn records_argv_and_answers_with_the_scripted_output_and_status() {
        let stand_ins = StandIns::new().unwrap();
        stand_ins
            .add(
                "tool",
                "printf 'out %s\\n' \"$1\"; printf 'oops\\n' >&2; exit 3",
            )
            .unwrap();
        let output = Command::new(stand_ins.bin().join("tool"))
            .args(["a b", "--flag", ""])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "out a b\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "oops\n");
        assert_eq!(stand_ins.calls_of("tool"), [["a b", "--flag", ""]]);
    }

    #[test]
    fn concurrent_calls_are_recorded_whole() {
        let stand_ins = StandIns::new().unwrap();
        stand_ins.add("tool", "exit 0").unwrap();
        let children: Vec<_> = (0..16)
            .map(|index| {
                Command::new(stand_ins.bin().join("tool"))
                    .args(["info", "--format", &format!("call {index}")])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            child.wait().unwrap();
        }
        let mut calls = stand_ins.calls_of("tool");
        calls.sort();
        let mut expected: Vec<Vec<String>> = (0..16)
            .map(|index| {
                vec![
                    "info".to_owned(),
                    "--format".to_owned(),
                    format!("call {index}"),
                ]
            })
            .collect();
        expected.sort();
        assert_eq!(calls, expected);
    }
}
