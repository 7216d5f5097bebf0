//! The sample application's image: its static binary built by cargo on the host, then the one
//! Dockerfile (`deploy/app/Dockerfile`, `FROM scratch`) around it; nothing is pulled.

use std::path::{Path, PathBuf};

use thiserror::Error;
use xshell::{Shell, cmd};

use crate::docker::{self, DockerError};
use crate::image::ImageRef;

/// The Dockerfile, relative to the repository root.
pub const DOCKERFILE: &str = "deploy/app/Dockerfile";
/// The application's package in the workspace.
pub const PACKAGE: &str = "shopstack-app";
/// The target the static binary is built for.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
/// Where the binary sits in the build context (the Dockerfile's `BINARY` argument).
const CONTEXT_BINARY: &str = "shopstack-app";

/// Errors building the sample application's image.
#[derive(Debug, Error)]
pub enum AppImageError {
    /// A file the build needs is missing.
    #[error("{}: not found (run from the repository root)", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// cargo failed.
    #[error("`{command}` failed: {detail}")]
    Failed {
        /// The command line.
        command: String,
        /// Its last error line, or the exit status.
        detail: String,
    },
    /// A command could not be run, or a file written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `root/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |dir| root.join(dir))
}

/// Builds `image` of the sample application: `cargo build --release` of [`PACKAGE`] as a static
/// binary (`-C target-feature=+crt-static`), then `docker build` of [`DOCKERFILE`] with that
/// binary alone as the context, so that no other file of the repository is sent to docker.
/// Cargo builds into `target_dir` (see [`target_dir`]).
pub fn build(
    sh: &Shell,
    root: &Path,
    target_dir: &Path,
    image: &ImageRef,
) -> Result<(), AppImageError> {
    let dockerfile = root.join(DOCKERFILE);
    if !dockerfile.is_file() {
        return Err(AppImageError::Missing { path: dockerfile });
    }
    let manifest = root.join("Cargo.toml");
    let cargo = format!(
        "cargo build --release --package {PACKAGE} --target {TARGET} --manifest-path {}",
        manifest.display()
    );
    eprintln!("$ RUSTFLAGS='-C target-feature=+crt-static' {cargo}");
    let status = std::process::Command::from(
        cmd!(
            sh,
            "cargo build --release --package {PACKAGE} --target {TARGET} --manifest-path {manifest}"
        )
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", target_dir),
    )
    .status()
    .map_err(|source| AppImageError::Io {
        what: format!("run `{cargo}`"),
        source,
    })?;
    if !status.success() {
        return Err(AppImageError::Failed {
            command: cargo,
            detail: format!("exited with {status} (its output is above)"),
        });
    }
    let binary = target_dir.join(TARGET).join("release").join(PACKAGE);
    if !binary.is_file() {
        return Err(AppImageError::Missing { path: binary });
    }
    let context = tempfile::tempdir().map_err(|source| AppImageError::Io {
        what: "make a build context".to_owned(),
        source,
    })?;
    std::fs::copy(&binary, context.path().join(CONTEXT_BINARY)).map_err(|source| {
        AppImageError::Io {
            what: format!("copy {} into the build context", binary.display()),
            source,
        }
    })?;
    docker::build_from(
        sh,
        Some(&dockerfile),
        &[format!("BINARY={CONTEXT_BINARY}")],
        context.path(),
        image,
    )?;
    Ok(())
}
