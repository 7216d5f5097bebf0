//! Unique project names and throwaway `shopstack.toml` files, so tests share one emulator safely.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

/// A project name no other test (or test run against the same emulator) uses: `t` + 9 base-36
/// characters from the clock, the process and a counter.
pub fn unique_project_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let seed = nanos
        ^ (u128::from(std::process::id()) << 40)
        ^ (u128::from(COUNTER.fetch_add(1, Ordering::SeqCst)) << 20);
    let mut value = seed % 36u128.pow(9);
    let mut name = String::from("t");
    for _ in 0..9 {
        let digit = u32::try_from(value % 36).unwrap_or(0);
        name.push(char::from_digit(digit, 36).unwrap_or('0'));
        value /= 36;
    }
    name
}

/// A temporary directory holding a `shopstack.toml` for a unique project.
pub struct TestProject {
    /// The project name.
    pub name: String,
    dir: TempDir,
}

impl TestProject {
    /// A project whose configuration is `body`, with `{project}` replaced by the unique name.
    pub fn with_config(body: &str) -> std::io::Result<Self> {
        let name = unique_project_name();
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("shopstack.toml"),
            body.replace("{project}", &name),
        )?;
        Ok(Self { name, dir })
    }

    /// A project with two GitHub repositories and only the embedded `local` environment.
    pub fn standard() -> std::io::Result<Self> {
        Self::with_config(
            "[project]\nname = \"{project}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\nbranch = \"main\"\n",
        )
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of its `shopstack.toml`.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("shopstack.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_valid_project_names() {
        let names: std::collections::BTreeSet<String> =
            (0..500).map(|_| unique_project_name()).collect();
        assert_eq!(names.len(), 500);
        for name in &names {
            assert_eq!(name.len(), 10);
            assert!(name.starts_with('t'));
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
    }
}
