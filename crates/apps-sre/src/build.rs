//! Image builds on CodeBuild: `StartBuild` with the image variables, then `BatchGetBuilds` polled
//! with backoff until the build ends.

use std::time::{Duration, Instant};

use aws_sdk_codebuild::operation::start_build::StartBuildError;
use aws_sdk_codebuild::types::{Build, EnvironmentVariable, EnvironmentVariableType, StatusType};
use shopstack_core::error_chain::aws_error_message;
use thiserror::Error;

use crate::image::ImageRef;

/// Environment variable holding the tag to build and push.
pub const IMAGE_TAG: &str = "IMAGE_TAG";
/// Environment variable holding the repository URI to push to.
pub const IMAGE_REPO_URI: &str = "IMAGE_REPO_URI";

/// Errors from starting or following a build.
#[derive(Debug, Error)]
pub enum BuildError {
    /// The CodeBuild project does not exist.
    #[error("CodeBuild project {project} does not exist: create it with `infra-terraform apply`")]
    ProjectMissing {
        /// The project name.
        project: String,
    },
    /// A variable could not be built (empty name).
    #[error("build variable {name}: {message}")]
    Variable {
        /// The variable.
        name: &'static str,
        /// Why.
        message: String,
    },
    /// `StartBuild` was refused.
    #[error("start a build of {project}: {message}")]
    Start {
        /// The project name.
        project: String,
        /// The SDK's error on one line.
        message: String,
    },
    /// The answer to `StartBuild` names no build.
    #[error("start a build of {project}: the answer has no build id")]
    NoBuildId {
        /// The project name.
        project: String,
    },
    /// `BatchGetBuilds` failed.
    #[error("follow build {id}: {message}")]
    Poll {
        /// The build id.
        id: String,
        /// The SDK's error on one line.
        message: String,
    },
    /// CodeBuild does not know the build.
    #[error("build {id} is not known to CodeBuild")]
    NotFound {
        /// The build id.
        id: String,
    },
    /// The build ended without success.
    #[error("build {id} {status} in phase {phase}{detail}{logs}", detail = parenthesised(detail), logs = logs.as_deref().map(|link| format!("; logs: {link}")).unwrap_or_default())]
    Failed {
        /// The build id.
        id: String,
        /// `FAILED`, `FAULT`, `TIMED_OUT` or `STOPPED`.
        status: String,
        /// The phase that failed, e.g. `BUILD`.
        phase: String,
        /// CodeBuild's explanation of the phase's failure, if any.
        detail: String,
        /// A link to the build's logs, if any.
        logs: Option<String>,
    },
    /// The build is still running after the allowed time.
    #[error("build {id} is still {phase} after {waited}s: it goes on in CodeBuild")]
    StillRunning {
        /// The build id.
        id: String,
        /// Its current phase.
        phase: String,
        /// Seconds waited.
        waited: u64,
    },
}

fn parenthesised(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// A build to start.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The CodeBuild project.
    pub project: String,
    /// What to build and push.
    pub image: ImageRef,
    /// The commit to build, if not the project's default branch head.
    pub source_version: Option<String>,
}

/// How often to ask for the build's state: at once, then after `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(20),
        }
    }
}

/// The state of a build as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildState {
    /// The build id.
    pub id: String,
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, …
    pub status: String,
    /// The current phase, e.g. `PROVISIONING`.
    pub phase: String,
    /// A link to the build's logs, if CodeBuild gives one.
    pub logs: Option<String>,
}

fn variable(name: &'static str, value: &str) -> Result<EnvironmentVariable, BuildError> {
    EnvironmentVariable::builder()
        .name(name)
        .value(value)
        .r#type(EnvironmentVariableType::Plaintext)
        .build()
        .map_err(|error| BuildError::Variable {
            name,
            message: error.to_string(),
        })
}

/// Starts a build of `request.project` with `IMAGE_TAG` and `IMAGE_REPO_URI` set; returns its id.
pub async fn start(
    client: &aws_sdk_codebuild::Client,
    request: &BuildRequest,
) -> Result<String, BuildError> {
    let output = client
        .start_build()
        .project_name(&request.project)
        .environment_variables_override(variable(IMAGE_TAG, &request.image.tag)?)
        .environment_variables_override(variable(IMAGE_REPO_URI, &request.image.repository_uri)?)
        .set_source_version(request.source_version.clone())
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(StartBuildError::ResourceNotFoundException(_)) => BuildError::ProjectMissing {
                project: request.project.clone(),
            },
            _ => BuildError::Start {
                project: request.project.clone(),
                message: aws_error_message(&error),
            },
        })?;
    output
        .build_value()
        .and_then(Build::id)
        .map(str::to_owned)
        .ok_or_else(|| BuildError::NoBuildId {
            project: request.project.clone(),
        })
}

/// Asks for build `id` once.
pub async fn poll(client: &aws_sdk_codebuild::Client, id: &str) -> Result<Build, BuildError> {
    let output = client
        .batch_get_builds()
        .ids(id)
        .send()
        .await
        .map_err(|error| BuildError::Poll {
            id: id.to_owned(),
            message: aws_error_message(&error),
        })?;
    output
        .builds()
        .iter()
        .find(|build| build.id() == Some(id))
        .cloned()
        .ok_or_else(|| BuildError::NotFound { id: id.to_owned() })
}

/// The state shown for `build`.
pub fn state(id: &str, build: &Build) -> BuildState {
    BuildState {
        id: id.to_owned(),
        status: build
            .build_status()
            .map_or("IN_PROGRESS", StatusType::as_str)
            .to_owned(),
        phase: build.current_phase().unwrap_or("SUBMITTED").to_owned(),
        logs: build
            .logs()
            .and_then(|logs| logs.deep_link())
            .map(str::to_owned),
    }
}

/// Follows build `id` until it ends, calling `on_state` with every state seen. Success gives its
/// last state; `FAILED`, `FAULT`, `TIMED_OUT` or `STOPPED` give [`BuildError::Failed`] naming the
/// phase that failed.
pub async fn wait(
    client: &aws_sdk_codebuild::Client,
    id: &str,
    backoff: Backoff,
    timeout: Duration,
    mut on_state: impl FnMut(&BuildState),
) -> Result<BuildState, BuildError> {
    let started = Instant::now();
    let mut delay = backoff.initial;
    loop {
        let build = poll(client, id).await?;
        let current = state(id, &build);
        on_state(&current);
        match build.build_status() {
            Some(StatusType::Succeeded) => return Ok(current),
            Some(StatusType::InProgress) | None => {}
            Some(_) => return Err(failure(&current, &build)),
        }
        if started.elapsed() + delay > timeout {
            return Err(BuildError::StillRunning {
                id: id.to_owned(),
                phase: current.phase,
                waited: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// The failure of a finished build: the first phase that did not succeed, and CodeBuild's words.
fn failure(current: &BuildState, build: &Build) -> BuildError {
    let failed = build.phases().iter().find(|phase| {
        phase
            .phase_status()
            .is_some_and(|status| !matches!(status, StatusType::Succeeded | StatusType::InProgress))
    });
    let phase = failed
        .and_then(|phase| phase.phase_type())
        .map_or_else(|| current.phase.clone(), |kind| kind.as_str().to_owned());
    let detail = failed
        .map(|phase| {
            phase
                .contexts()
                .iter()
                .filter_map(|context| {
                    let message = context.message().unwrap_or_default().trim();
                    match (context.status_code(), message) {
                        (_, "") => None,
                        (Some(code), message) if !code.is_empty() => {
                            Some(format!("{code}: {message}"))
                        }
                        (_, message) => Some(message.to_owned()),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    BuildError::Failed {
        id: current.id.clone(),
        status: current.status.clone(),
        phase,
        detail: detail.replace('\n', " "),
        logs: current.logs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codebuild::types::{BuildPhase, BuildPhaseType, PhaseContext};

    fn phase(kind: BuildPhaseType, status: StatusType) -> BuildPhase {
        BuildPhase::builder()
            .phase_type(kind)
            .phase_status(status)
            .build()
    }

    #[test]
    fn the_first_unsuccessful_phase_is_named_with_its_context() {
        let build = Build::builder()
            .id("p:1")
            .build_status(StatusType::Failed)
            .current_phase("COMPLETED")
            .phases(phase(BuildPhaseType::Install, StatusType::Succeeded))
            .phases(
                BuildPhase::builder()
                    .phase_type(BuildPhaseType::Build)
                    .phase_status(StatusType::Failed)
                    .contexts(
                        PhaseContext::builder()
                            .status_code("COMMAND_EXECUTION_ERROR")
                            .message("Error while executing command: docker build.\nReason: exit status 1")
                            .build(),
                    )
                    .build(),
            )
            .phases(phase(BuildPhaseType::PostBuild, StatusType::Failed))
            .build();
        let error = failure(&state("p:1", &build), &build).to_string();
        assert_eq!(
            error,
            "build p:1 FAILED in phase BUILD (COMMAND_EXECUTION_ERROR: Error while executing command: docker build. Reason: exit status 1)"
        );
    }

    #[test]
    fn without_a_failed_phase_the_current_one_is_named() {
        let build = Build::builder()
            .build_status(StatusType::Stopped)
            .current_phase("PROVISIONING")
            .build();
        assert_eq!(
            failure(&state("p:2", &build), &build).to_string(),
            "build p:2 STOPPED in phase PROVISIONING"
        );
    }
}
