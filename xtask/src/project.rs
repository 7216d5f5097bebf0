//! Where the project is, where xtask keeps its state, and the shell its commands run in.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use xshell::Shell;

/// The workspace root, whatever directory cargo was started from.
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `target` at the root.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Where xtask keeps its pid files and logs.
pub fn state_dir() -> PathBuf {
    root().join("target").join("xtask")
}

/// A shell at the workspace root.
pub fn shell() -> anyhow::Result<Shell> {
    let sh = Shell::new()?;
    sh.change_dir(root());
    Ok(sh)
}

/// A command that starts cargo, or a program that may, without the variables `cargo run` set for
/// xtask itself.
///
/// Build scripts declare some of them (`ring`'s declared `CARGO_PKG_NAME` and
/// `CARGO_MANIFEST_DIR`), so a cargo command started from xtask with them would rebuild those
/// crates and everything above them, and the same command typed in a terminal would rebuild them
/// back.
pub trait WithoutCargoRunVariables: Sized {
    /// The command without `name` in its environment.
    fn without_variable(self, name: &OsStr) -> Self;

    /// The command without any variable `cargo run` sets.
    fn without_cargo_run_variables(self) -> Self {
        std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| is_cargo_run_variable(name))
            .fold(self, |command, name| command.without_variable(&name))
    }
}

impl WithoutCargoRunVariables for xshell::Cmd<'_> {
    fn without_variable(self, name: &OsStr) -> Self {
        self.env_remove(name)
    }
}

impl WithoutCargoRunVariables for &mut std::process::Command {
    fn without_variable(self, name: &OsStr) -> Self {
        self.env_remove(name)
    }
}

/// Whether cargo sets `name` for the program it runs ("Environment variables Cargo sets for
/// crates" in the Cargo book), as opposed to a setting of the user's such as `CARGO_TARGET_DIR`.
fn is_cargo_run_variable(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variables_cargo_sets_for_a_run_are_cleaned_and_the_users_settings_kept() {
        for set_by_cargo_run in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            assert!(
                is_cargo_run_variable(OsStr::new(set_by_cargo_run)),
                "{set_by_cargo_run}"
            );
        }
        for setting in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_TERM_COLOR",
            "CARGO_BUILD_JOBS",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!is_cargo_run_variable(OsStr::new(setting)), "{setting}");
        }
    }
}
