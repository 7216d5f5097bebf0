//! Local image builds with the `docker` command line: build, login to ECR (password on stdin), push.

use std::path::Path;

use shopstack_core::command::{self, CommandError};
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
    /// docker could not run, or ran and failed.
    #[error(transparent)]
    Command(#[from] CommandError),
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
    let build = cmd!(sh, "docker build {options...} --tag {tag} {context}");
    Ok(command::run_shown(build, &command)?)
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
    .map_err(|source| CommandError::Start {
        command: command.clone(),
        source: std::io::Error::other(source.to_string()),
    })?;
    let stderr = login
        .password
        .redact_in(&String::from_utf8_lossy(&output.stderr));
    Ok(command::check_status(&command, output.status, &stderr)?)
}

/// `docker push IMAGE`, its output shown as it comes.
pub fn push(sh: &Shell, image: &ImageRef) -> Result<(), DockerError> {
    let tag = image.to_string();
    let command = format!("docker push {tag}");
    Ok(command::run_shown(cmd!(sh, "docker push {tag}"), &command)?)
}
