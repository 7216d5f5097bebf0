//! The CodeBuild project that builds the application image and pushes it to ECR.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_codebuild::error::SdkError;
use aws_sdk_codebuild::operation::create_project::CreateProjectError;
use aws_sdk_codebuild::types::{
    ArtifactsType, CloudWatchLogsConfig, ComputeType, EnvironmentType, EnvironmentVariable,
    EnvironmentVariableType, ImagePullCredentialsType, LogsConfig, LogsConfigStatusType, Project,
    ProjectArtifacts, ProjectEnvironment, ProjectSource, S3LogsConfig, SourceType, Tag,
};

use shopstack_core::aws_call;

use crate::context::Context;
use crate::hcl::Block;
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags, is_managed,
    tags_attribute,
};
use crate::resources::iam_role::IamRole;
use crate::retry;
use crate::terraform_form::{Importable, with_tags};

/// The current standard Linux build image.
pub const BUILD_IMAGE: &str = "aws/codebuild/standard:7.0";
/// Environment variable holding the repository URI the image is pushed to.
pub const IMAGE_REPO_URI: &str = "IMAGE_REPO_URI";
const BUILD_TIMEOUT_MINUTES: i32 = 30;
/// How long a build may wait in the queue: AWS's default, stated for the same reason.
const QUEUED_TIMEOUT_MINUTES: i32 = 480;

/// Logs in to ECR, builds the sample application's image as `apps-sre build --local` does (its
/// static binary, then `deploy/app/Dockerfile` around it; Rust installed first where the image
/// has none) tagged `IMAGE_TAG` (default: the commit), and pushes it.
const BUILDSPEC: &str = r#"version: 0.2
phases:
  install:
    commands:
      - command -v cargo || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  pre_build:
    commands:
      - aws ecr get-login-password --region "$AWS_REGION" | docker login --username AWS --password-stdin "${IMAGE_REPO_URI%%/*}"
  build:
    commands:
      - PATH="$HOME/.cargo/bin:$PATH" RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --package shopstack-app --target x86_64-unknown-linux-gnu
      - docker build --file deploy/app/Dockerfile --tag "$IMAGE_REPO_URI:${IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}" .
  post_build:
    commands:
      - docker push "$IMAGE_REPO_URI:${IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}"
"#;

/// The environment's image-build project.
pub struct CodeBuildProject {
    context: Arc<Context>,
}

impl CodeBuildProject {
    /// The CodeBuild project of `context`'s environment.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn name(&self) -> String {
        self.context.names.codebuild_project()
    }

    fn source_location(&self) -> String {
        format!(
            "https://github.com/{}.git",
            self.context.config.codebuild_source
        )
    }

    fn service_role(&self) -> String {
        self.context.role_arn(&self.context.names.codebuild_role())
    }

    fn source(&self) -> Result<ProjectSource, ResourceError> {
        ProjectSource::builder()
            .r#type(SourceType::Github)
            .location(self.source_location())
            .buildspec(BUILDSPEC)
            .build()
            .map_err(|error| self.unexpected(error))
    }

    fn environment(&self) -> Result<ProjectEnvironment, ResourceError> {
        let variable = EnvironmentVariable::builder()
            .name(IMAGE_REPO_URI)
            .value(self.context.ecr_repository_uri())
            .r#type(EnvironmentVariableType::Plaintext)
            .build()
            .map_err(|error| self.unexpected(error))?;
        ProjectEnvironment::builder()
            .r#type(EnvironmentType::LinuxContainer)
            .image(BUILD_IMAGE)
            .compute_type(ComputeType::BuildGeneral1Small)
            .privileged_mode(true)
            // AWS's default, stated so that every reader (an emulator, Terraform) sees it.
            .image_pull_credentials_type(ImagePullCredentialsType::Codebuild)
            .environment_variables(variable)
            .build()
            .map_err(|error| self.unexpected(error))
    }

    fn artifacts(&self) -> Result<ProjectArtifacts, ResourceError> {
        ProjectArtifacts::builder()
            .r#type(ArtifactsType::NoArtifacts)
            .build()
            .map_err(|error| self.unexpected(error))
    }

    /// Build logs go to the project's own CloudWatch Logs group (the one its role may write),
    /// and nowhere else: stated, not left to AWS's defaults (checkov's CKV_AWS_314).
    fn logs(&self) -> Result<LogsConfig, ResourceError> {
        let cloudwatch = CloudWatchLogsConfig::builder()
            .status(LogsConfigStatusType::Enabled)
            .group_name(self.context.names.codebuild_log_group())
            .build()
            .map_err(|error| self.unexpected(error))?;
        let s3 = S3LogsConfig::builder()
            .status(LogsConfigStatusType::Disabled)
            .build()
            .map_err(|error| self.unexpected(error))?;
        Ok(LogsConfig::builder()
            .cloud_watch_logs(cloudwatch)
            .s3_logs(s3)
            .build())
    }

    /// The logs configuration as plans show it.
    fn logs_attribute(cloudwatch: Option<&str>, s3: Option<&str>) -> String {
        let cloudwatch = cloudwatch.map_or_else(
            || "CloudWatch Logs off".to_owned(),
            |group| format!("CloudWatch Logs {group}"),
        );
        let s3 = s3.map_or_else(|| "S3 off".to_owned(), |location| format!("S3 {location}"));
        format!("{cloudwatch}, {s3}")
    }

    /// What a project's logs configuration amounts to, with AWS's documented defaults for what
    /// it leaves out (CloudWatch Logs on, in `/aws/codebuild/<project>`, which is
    /// `default_group`; S3 off): a project created without one reads as one that states those
    /// defaults.
    fn effective_logs(project: &Project, default_group: &str) -> (Option<String>, Option<String>) {
        let default_group = || default_group.to_owned();
        let logs = project.logs_config();
        let cloudwatch = match logs.and_then(LogsConfig::cloud_watch_logs) {
            Some(config) if config.status() == &LogsConfigStatusType::Disabled => None,
            Some(config) => Some(
                config
                    .group_name()
                    .map_or_else(default_group, str::to_owned),
            ),
            None => Some(default_group()),
        };
        let s3 = logs
            .and_then(LogsConfig::s3_logs)
            .filter(|config| config.status() == &LogsConfigStatusType::Enabled)
            .map(|config| config.location().unwrap_or("(no location)").to_owned());
        (cloudwatch, s3)
    }

    fn tags(&self) -> Vec<Tag> {
        self.context
            .names
            .tags()
            .into_iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect()
    }

    fn environment_attribute(privileged: bool, image: &str, compute: &str, kind: &str) -> String {
        let mode = if privileged {
            "privileged"
        } else {
            "unprivileged"
        };
        format!("{kind} {image} {compute}, {mode}")
    }

    fn source_attribute(kind: &str, location: &str, buildspec: Option<&str>) -> String {
        let buildspec = match buildspec {
            Some(text) if text == BUILDSPEC => "shopstack buildspec",
            Some(text) if !text.is_empty() => "custom buildspec",
            _ => "buildspec from the repository",
        };
        format!("{kind} {location}, {buildspec}")
    }

    fn live_attributes(&self, project: &Project) -> Attributes {
        let source = project.source().map_or_else(
            || "none".to_owned(),
            |source| {
                Self::source_attribute(
                    source.r#type().as_str(),
                    source.location().unwrap_or_default(),
                    source.buildspec(),
                )
            },
        );
        let environment = project.environment();
        let environment_attribute = environment.map_or_else(
            || "none".to_owned(),
            |environment| {
                Self::environment_attribute(
                    environment.privileged_mode() == Some(true),
                    environment.image(),
                    environment.compute_type().as_str(),
                    environment.r#type().as_str(),
                )
            },
        );
        let variables = environment.map_or_else(String::new, |environment| {
            let mut variables: Vec<String> = environment
                .environment_variables()
                .iter()
                .map(|variable| format!("{}={}", variable.name(), variable.value()))
                .collect();
            variables.sort();
            variables.join(", ")
        });
        let pairs = || {
            project
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?, tag.value()?)))
        };
        let (cloudwatch, s3) =
            Self::effective_logs(project, &self.context.names.codebuild_log_group());
        Attributes::from([
            ("source", source),
            ("environment", environment_attribute),
            ("environment_variables", variables),
            (
                "logs",
                Self::logs_attribute(cloudwatch.as_deref(), s3.as_deref()),
            ),
            (
                "service_role",
                project.service_role().unwrap_or("none").to_owned(),
            ),
            ("tags", tags_attribute(pairs(), &self.context.names.tags())),
        ])
    }
}

/// The Terraform form's nested blocks.
impl CodeBuildProject {
    /// The `environment` block, with its variables.
    fn terraform_environment(environment: &ProjectEnvironment) -> Block {
        let mut block = Block::new("environment", &[])
            .string("type", environment.r#type().as_str())
            .string("image", environment.image())
            .string("compute_type", environment.compute_type().as_str())
            .attribute(
                "privileged_mode",
                environment.privileged_mode().unwrap_or(false).to_string(),
            );
        if let Some(credentials) = environment.image_pull_credentials_type() {
            block = block.string("image_pull_credentials_type", credentials.as_str());
        }
        for variable in environment.environment_variables() {
            let mut entry = Block::new("environment_variable", &[])
                .string("name", variable.name())
                .string("value", variable.value());
            if let Some(kind) = variable.r#type() {
                entry = entry.string("type", kind.as_str());
            }
            block = block.block(entry);
        }
        block
    }

    /// The `logs_config` block: both destinations with their status, as the provider reads them.
    fn terraform_logs(project: &Project, default_group: &str) -> Block {
        let (cloudwatch, s3) = Self::effective_logs(project, default_group);
        let status = |on: bool| if on { "ENABLED" } else { "DISABLED" };
        let mut cloudwatch_logs =
            Block::new("cloudwatch_logs", &[]).string("status", status(cloudwatch.is_some()));
        if let Some(group) = &cloudwatch {
            cloudwatch_logs = cloudwatch_logs.string("group_name", group);
        }
        let mut s3_logs = Block::new("s3_logs", &[]).string("status", status(s3.is_some()));
        if let Some(location) = &s3 {
            s3_logs = s3_logs.string("location", location);
        }
        Block::new("logs_config", &[])
            .block(cloudwatch_logs)
            .block(s3_logs)
    }
}

#[async_trait]
impl Resource for CodeBuildProject {
    fn address(&self) -> &'static str {
        "codebuild_project.image_build"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        // CreateProject refuses a service role that does not exist.
        &[IamRole::CODEBUILD_ADDRESS]
    }

    fn id(&self) -> String {
        self.name()
    }

    fn desired(&self) -> Attributes {
        Attributes::from([
            (
                "source",
                Self::source_attribute("GITHUB", &self.source_location(), Some(BUILDSPEC)),
            ),
            (
                "environment",
                Self::environment_attribute(
                    true,
                    BUILD_IMAGE,
                    ComputeType::BuildGeneral1Small.as_str(),
                    EnvironmentType::LinuxContainer.as_str(),
                ),
            ),
            (
                "environment_variables",
                format!("{IMAGE_REPO_URI}={}", self.context.ecr_repository_uri()),
            ),
            (
                "logs",
                Self::logs_attribute(Some(&self.context.names.codebuild_log_group()), None),
            ),
            ("service_role", self.service_role()),
            ("tags", desired_tags(&self.context.names.tags())),
        ])
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let output = self
            .context
            .codebuild
            .batch_get_projects()
            .names(&name)
            .send()
            .await
            .map_err(aws_call("CodeBuild", "BatchGetProjects", &name))?;
        let Some(project) = output
            .projects
            .unwrap_or_default()
            .into_iter()
            .find(|project| project.name() == Some(name.as_str()))
        else {
            return Ok(None);
        };
        let managed = is_managed(
            project
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?, tag.value()?))),
        );
        Ok(Some(Live {
            attributes: self.live_attributes(&project),
            managed,
            answers: Answers::new(project),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_codebuild_project"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(project) = live.answers.get::<Project>() else {
            return Vec::new();
        };
        let name = self.name();
        let body = |mut block: Block| {
            block = block.string("name", &name);
            if let Some(description) = project.description() {
                block = block.string("description", description);
            }
            if let Some(role) = project.service_role() {
                block = block.string("service_role", role);
            }
            if let Some(minutes) = project.timeout_in_minutes() {
                block = block.attribute("build_timeout", minutes.to_string());
            }
            // Terraform accepts 5 to 480 minutes; an emulator that reports 0 has no queue
            // timeout.
            if let Some(minutes) = project
                .queued_timeout_in_minutes()
                .filter(|minutes| (5..=480).contains(minutes))
            {
                block = block.attribute("queued_timeout", minutes.to_string());
            }
            if let Some(artifacts) = project.artifacts() {
                block = block.block(
                    Block::new("artifacts", &[]).string("type", artifacts.r#type().as_str()),
                );
            }
            if let Some(environment) = project.environment() {
                block = block.block(Self::terraform_environment(environment));
            }
            if let Some(source) = project.source() {
                let mut source_block =
                    Block::new("source", &[]).string("type", source.r#type().as_str());
                if let Some(location) = source.location() {
                    source_block = source_block.string("location", location);
                }
                if let Some(buildspec) = source.buildspec() {
                    source_block = source_block.string("buildspec", buildspec);
                }
                block = block.block(source_block);
            }
            block = block.block(Self::terraform_logs(
                project,
                &self.context.names.codebuild_log_group(),
            ));
            with_tags(
                block,
                project
                    .tags()
                    .iter()
                    .filter_map(|tag| Some((tag.key()?, tag.value()?))),
            )
        };
        vec![Importable::new(
            self.terraform_type(),
            "image_build",
            &name,
            body,
        )]
    }

    async fn create(&self) -> Result<(), ResourceError> {
        let name = self.name();
        let request = self
            .context
            .codebuild
            .create_project()
            .name(&name)
            .description(format!(
                "ShopStack {}: application image builds",
                self.context.names.environment()
            ))
            .source(self.source()?)
            .artifacts(self.artifacts()?)
            .environment(self.environment()?)
            .logs_config(self.logs()?)
            .service_role(self.service_role())
            .timeout_in_minutes(BUILD_TIMEOUT_MINUTES)
            .queued_timeout_in_minutes(QUEUED_TIMEOUT_MINUTES)
            .set_tags(Some(self.tags()));
        // A role created moments ago may not be assumable by CodeBuild yet: IAM propagates.
        match retry::eventually(&retry::CODEBUILD_ROLE_PROPAGATING, || {
            request.clone().send()
        })
        .await
        {
            Ok(_) => Ok(()),
            // Created meanwhile by a concurrent apply.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    CreateProjectError::ResourceAlreadyExistsException(_)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(aws_call("CodeBuild", "CreateProject", &name)(error).into()),
        }
    }

    async fn update(&self, _attributes: &[&'static str]) -> Result<(), ResourceError> {
        // UpdateProject sets the whole definition at once, tags included; a role just changed
        // may not be assumable yet either.
        let name = self.name();
        let request = self
            .context
            .codebuild
            .update_project()
            .name(&name)
            .source(self.source()?)
            .artifacts(self.artifacts()?)
            .environment(self.environment()?)
            .logs_config(self.logs()?)
            .service_role(self.service_role())
            .set_tags(Some(self.tags()));
        retry::eventually(&retry::CODEBUILD_ROLE_PROPAGATING, || {
            request.clone().send()
        })
        .await
        .map_err(aws_call("CodeBuild", "UpdateProject", &name))?;
        Ok(())
    }

    async fn delete(&self, _options: &DestroyOptions) -> Result<(), ResourceError> {
        let name = self.name();
        self.context
            .codebuild
            .delete_project()
            .name(&name)
            .send()
            .await
            .map_err(aws_call("CodeBuild", "DeleteProject", &name))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_codebuild::types::{
        CloudWatchLogsConfig, LogsConfig, LogsConfigStatusType, Project, S3LogsConfig,
    };

    use super::{BUILDSPEC, CodeBuildProject};

    #[test]
    fn logs_left_out_read_as_awss_defaults_and_a_disabled_group_as_off() {
        const GROUP: &str = "/aws/codebuild/shop-dev-image-build";
        let project = |logs: Option<LogsConfig>| {
            Project::builder()
                .name("shop-dev-image-build")
                .set_logs_config(logs)
                .build()
        };
        assert_eq!(
            CodeBuildProject::effective_logs(&project(None), GROUP),
            (Some("/aws/codebuild/shop-dev-image-build".to_owned()), None)
        );
        let configured = |status: LogsConfigStatusType, s3: Option<&str>| {
            let cloudwatch = CloudWatchLogsConfig::builder()
                .status(status)
                .group_name("builds")
                .build()
                .expect("CloudWatch Logs");
            let s3 = S3LogsConfig::builder()
                .status(if s3.is_some() {
                    LogsConfigStatusType::Enabled
                } else {
                    LogsConfigStatusType::Disabled
                })
                .set_location(s3.map(str::to_owned))
                .build()
                .expect("S3 logs");
            Some(
                LogsConfig::builder()
                    .cloud_watch_logs(cloudwatch)
                    .s3_logs(s3)
                    .build(),
            )
        };
        assert_eq!(
            CodeBuildProject::effective_logs(
                &project(configured(LogsConfigStatusType::Enabled, None)),
                GROUP
            ),
            (Some("builds".to_owned()), None)
        );
        assert_eq!(
            CodeBuildProject::effective_logs(
                &project(configured(
                    LogsConfigStatusType::Disabled,
                    Some("logs-bucket/builds")
                )),
                GROUP
            ),
            (None, Some("logs-bucket/builds".to_owned()))
        );
    }

    /// The repository root.
    fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_buildspec_builds_the_sample_app_with_the_one_dockerfile() {
        let dockerfile = "deploy/app/Dockerfile";
        assert!(root().join(dockerfile).is_file());
        assert!(
            BUILDSPEC.contains(&format!("docker build --file {dockerfile} ")),
            "{BUILDSPEC}"
        );
        // The binary it builds is where the Dockerfile takes it from.
        let text = std::fs::read_to_string(root().join(dockerfile)).expect("the Dockerfile");
        assert!(
            text.contains("ARG BINARY=target/x86_64-unknown-linux-gnu/release/shopstack-app"),
            "{text}"
        );
        assert!(
            BUILDSPEC.contains(
                "cargo build --release --locked --package shopstack-app --target x86_64-unknown-linux-gnu"
            ),
            "{BUILDSPEC}"
        );
        assert!(root().join("crates/shopstack-app/Cargo.toml").is_file());
    }
}
