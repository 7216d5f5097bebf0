//! Local image builds with the `docker` command line: build, login to ECR (password on stdin), push.

use std::path::Path;

use thiserror::Error;
use xshell::{Shell, cmd};

use crate::ecr_login::RegistryLogin;
use crate::helm::on_path;
use crate::image::ImageRef;

/// Errors from running `docker`. Messages never carry the registry password.
#[derive(Debug, Error)]
pub enum DockerError {
    /// docker is not on PATH.
    #[error(
        "docker is not installed (not found on PATH): install Docker Engine (docs.docker.com/engine/install)"
    )]
    Missing,
    /// The build context has no Dockerfile.
    #[error("{}: no Dockerfile in the build context", dir.display())]
    NoDockerfile {
        /// The build context.
        dir: std::path::PathBuf,
    },
    /// docker ran and failed.
    #[error("`{command}` failed: {detail}")]
    Failed {
        /// The command line.
        command: String,
        /// docker's last error line, or the exit status.
        detail: String,
    },
    /// docker could not be started.
    #[error("cannot run `{command}`")]
    Start {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Checks that docker is installed.
pub fn check_installed() -> Result<(), DockerError> {
    if on_path("docker") {
        Ok(())
    } else {
        Err(DockerError::Missing)
    }
}

/// Checks that docker is installed and `context` has a Dockerfile.
pub fn check(context: &Path) -> Result<(), DockerError> {
    check_installed()?;
    if !context.join("Dockerfile").is_file() {
        return Err(DockerError::NoDockerfile {
            dir: context.to_path_buf(),
        });
    }
    Ok(())
}

/// `docker build --tag IMAGE CONTEXT`, its output shown as it comes.
pub fn build(sh: &Shell, context: &Path, image: &ImageRef) -> Result<(), DockerError> {
    build_from(sh, None, &[], context, image)
}

/// `docker build [--file DOCKERFILE] [--build-arg ARG]... --tag IMAGE CONTEXT`, its output shown
/// as it comes.
pub fn build_from(
    sh: &Shell,
    dockerfile: Option<&Path>,
    build_args: &[String],
    context: &Path,
    image: &ImageRef,
) -> Result<(), DockerError> {
    let tag = image.to_string();
    let mut options: Vec<String> = Vec::new();
    if let Some(dockerfile) = dockerfile {
        options.extend(["--file".to_owned(), dockerfile.display().to_string()]);
    }
    for arg in build_args {
        options.extend(["--build-arg".to_owned(), arg.clone()]);
    }
    let command = format!(
        "docker build {}--tag {tag} {}",
        options
            .iter()
            .map(|option| format!("{option} "))
            .collect::<String>(),
        context.display()
    );
    let status =
        std::process::Command::from(cmd!(sh, "docker build {options...} --tag {tag} {context}"))
            .status()
            .map_err(|source| DockerError::Start {
                command: command.clone(),
                source,
            })?;
    check_status(command, status, "")
}

/// `docker login --username USER --password-stdin REGISTRY`, the password written to its stdin.
pub fn login(sh: &Shell, login: &RegistryLogin) -> Result<(), DockerError> {
    let username = &login.username;
    let registry = &login.registry;
    let command = format!("docker login --username {username} --password-stdin {registry}");
    let output = cmd!(
        sh,
        "docker login --username {username} --password-stdin {registry}"
    )
    .quiet()
    .ignore_status()
    .stdin(login.password.expose())
    .output()
    .map_err(|source| DockerError::Start {
        command: command.clone(),
        source: std::io::Error::other(source.to_string()),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = login
        .password
        .redact_in(&String::from_utf8_lossy(&output.stderr));
    check_status(command, output.status, &stderr)
}

/// `docker push IMAGE`, its output shown as it comes.
pub fn push(sh: &Shell, image: &ImageRef) -> Result<(), DockerError> {
    let tag = image.to_string();
    let command = format!("docker push {tag}");
    let status = std::process::Command::from(cmd!(sh, "docker push {tag}"))
        .status()
        .map_err(|source| DockerError::Start {
            command: command.clone(),
            source,
        })?;
    check_status(command, status, "")
}

fn check_status(
    command: String,
    status: std::process::ExitStatus,
    stderr: &str,
) -> Result<(), DockerError> {
    if status.success() {
        return Ok(());
    }
    let detail = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map_or_else(|| format!("exited with {status}"), str::to_owned);
    Err(DockerError::Failed { command, detail })
}
