//! What each `apps-sre` command does, once `cli` has parsed its flags: images, secrets, releases.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use shopstack_core::names::OBSERVABILITY_NAMESPACE;
use shopstack_core::{AwsSession, Config, Environment, Exit, Names, SecretValue};
use xshell::Shell;

use crate::app_secret::{self, AppSecretError, GRAFANA_ADMIN_PASSWORD};
use crate::argocd::{self, GitSource};
use crate::build::{self, Backoff, BuildRequest};
use crate::cli::{DeployTarget, KubeArgs};
use crate::grafana::{self, PasswordSource};
use crate::image::{self, ImageError, ImageRef};
use crate::secret_apply::Outcome;
use crate::{docker, ecr_login, git, helm, pull_secret, releases, secret_sync, status};
use cluster_gitops::kubeconfig::{Connection, Target as KubeTarget};
use shopstack_progress::Progress;

/// What every command starts from: the validated configuration and the environment.
pub(crate) struct Invocation {
    pub(crate) config: Config,
    pub(crate) environment: Environment,
    pub(crate) endpoint: Option<String>,
}

impl Invocation {
    /// Names before the account is known (enough for Kubernetes names).
    fn local_names(&self) -> Names {
        Names::new(&self.config.project, &self.environment.name, "")
    }

    async fn connect(&self) -> anyhow::Result<(AwsSession, Names)> {
        let session = AwsSession::connect(&self.environment, self.endpoint.as_deref())
            .await
            .context("connect to AWS")?;
        let names = Names::new(
            &self.config.project,
            &self.environment.name,
            session.account_id(),
        );
        Ok((session, names))
    }

    fn kube_target(&self, kube: &KubeArgs) -> KubeTarget {
        KubeTarget {
            kubeconfig: kube.kubeconfig.clone(),
            context: kube
                .context
                .clone()
                .unwrap_or_else(|| self.local_names().kube_context()),
        }
    }

    async fn kube(&self, kube: &KubeArgs) -> anyhow::Result<(KubeTarget, Connection)> {
        let target = self.kube_target(kube);
        let connection = target.connect().await.context("connect to Kubernetes")?;
        Ok((target, connection))
    }
}

/// The tag to use: `--tag` (checked), else the commit's short SHA; with the full SHA when the tag
/// came from git.
fn resolve_tag(sh: &Shell, tag: Option<String>) -> anyhow::Result<(String, Option<String>)> {
    match tag {
        Some(tag) => {
            image::validate_tag(&tag)?;
            Ok((tag, None))
        }
        None => {
            let commit = git::head(sh)?;
            Ok((commit.short, Some(commit.sha)))
        }
    }
}

/// The image `tag` of the environment's repository, refusing a tag that is already pushed.
async fn new_image(
    ecr: &aws_sdk_ecr::Client,
    names: &Names,
    tag: &str,
) -> anyhow::Result<ImageRef> {
    let repository = names.ecr_repository();
    let image = ImageRef {
        repository_uri: image::repository_uri(ecr, &repository).await?,
        tag: tag.to_owned(),
    };
    if image::tag_exists(ecr, &repository, tag).await? {
        return Err(ImageError::TagExists {
            image: image.to_string(),
        }
        .into());
    }
    Ok(image)
}

pub(crate) async fn run_build(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    no_wait: bool,
    timeout: Duration,
) -> anyhow::Result<Exit> {
    let (tag, source_version) = resolve_tag(sh, tag)?;
    let (session, names) = invocation.connect().await?;
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let image = new_image(&ecr, &names, &tag).await?;
    let codebuild = aws_sdk_codebuild::Client::new(session.sdk_config());
    let request = BuildRequest {
        project: names.codebuild_project(),
        image: image.clone(),
        source_version,
    };
    let id = build::start(&codebuild, &request).await?;
    println!("build {id} started: {image}");
    if no_wait {
        return Ok(Exit::Success);
    }
    let progress = Progress::start(&format!("build {id}"));
    let result = build::wait(&codebuild, &id, Backoff::default(), timeout, |state| {
        progress.set_detail(&state.phase);
    })
    .await;
    match result {
        Ok(state) => {
            progress.finish(&format!("build {id} {}", state.status));
            println!("image {image} built and pushed");
            Ok(Exit::Success)
        }
        Err(error) => {
            progress.finish(&format!("build {id} did not succeed"));
            Err(error.into())
        }
    }
}

pub(crate) async fn run_local_build(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    context_dir: &Path,
) -> anyhow::Result<Exit> {
    docker::check(context_dir)?;
    let (tag, _) = resolve_tag(sh, tag)?;
    let (session, names) = invocation.connect().await?;
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let image = new_image(&ecr, &names, &tag).await?;
    let login = ecr_login::fetch(&ecr).await?;
    docker::build(sh, context_dir, &image)?;
    docker::login(sh, &login)?;
    docker::push(sh, &image)?;
    println!("image {image} built and pushed");
    Ok(Exit::Success)
}

pub(crate) async fn run_pull_secret(
    invocation: &Invocation,
    namespaces: &[String],
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    let (_, connection) = invocation.kube(kube).await?;
    let (session, names) = invocation.connect().await?;
    let namespaces = if namespaces.is_empty() {
        vec![names.app_namespace()]
    } else {
        namespaces.to_vec()
    };
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let login = ecr_login::fetch(&ecr).await?;
    for namespace in &namespaces {
        report_pull_secret(&connection, namespace, &login).await?;
    }
    Ok(Exit::Success)
}

async fn report_pull_secret(
    connection: &Connection,
    namespace: &str,
    login: &ecr_login::RegistryLogin,
) -> anyhow::Result<()> {
    let report = pull_secret::ensure(connection, namespace, login, pull_secret::now())
        .await
        .context("pull secret")?;
    println!(
        "secret {namespace}/{}: {} for {}; serviceaccount {namespace}/{}: {}",
        pull_secret::SECRET_NAME,
        match &report.written {
            Some(replaced @ Outcome::Replaced { .. }) => replaced.to_string(),
            _ => report.secret.describe(),
        },
        login.registry,
        pull_secret::DEFAULT_SERVICE_ACCOUNT,
        if report.attached {
            "attached"
        } else {
            "already attached"
        }
    );
    Ok(())
}

pub(crate) async fn run_secrets_sync(
    invocation: &Invocation,
    namespace: Option<String>,
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    let (_, connection) = invocation.kube(kube).await?;
    let (session, names) = invocation.connect().await?;
    let namespace = namespace.unwrap_or_else(|| names.app_namespace());
    let secrets = aws_sdk_secretsmanager::Client::new(session.sdk_config());
    let config = app_secret::read(&secrets, &names.app_secret()).await?;
    sync_app_secret(&connection, &namespace, &config).await?;
    Ok(Exit::Success)
}

async fn sync_app_secret(
    connection: &Connection,
    namespace: &str,
    config: &app_secret::AppConfig,
) -> anyhow::Result<()> {
    let outcome = secret_sync::sync(connection, namespace, config)
        .await
        .context("secrets sync")?;
    let keys = config.application_entries().count();
    println!(
        "secret {namespace}/{} {outcome} from {} ({keys} key{})",
        secret_sync::SECRET_NAME,
        config.secret_id,
        if keys == 1 { "" } else { "s" }
    );
    Ok(())
}

pub(crate) async fn run_deploy(
    invocation: &Invocation,
    sh: &Shell,
    target: DeployTarget,
    tag: Option<String>,
    timeout: Duration,
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    let root = Path::new("");
    helm::check_installed()?;
    let with_app = matches!(target, DeployTarget::App | DeployTarget::All);
    let with_observability = matches!(target, DeployTarget::Observability | DeployTarget::All);
    if with_observability {
        helm::check_files(root, &releases::observability())?;
    }
    let tag = if with_app {
        helm::check_chart(root, Path::new(releases::APP_CHART))?;
        Some(resolve_tag(sh, tag)?.0)
    } else {
        None
    };
    let (target, connection) = invocation.kube(kube).await?;
    let (session, names) = invocation.connect().await?;
    let secrets = aws_sdk_secretsmanager::Client::new(session.sdk_config());
    let app_config = match app_secret::read(&secrets, &names.app_secret()).await {
        Ok(config) => Some(config),
        Err(AppSecretError::NotFound { .. } | AppSecretError::NoValue { .. }) if !with_app => None,
        Err(error) => return Err(error.into()),
    };
    if with_observability {
        let password = app_config
            .as_ref()
            .and_then(|config| config.get(GRAFANA_ADMIN_PASSWORD));
        deploy_observability(sh, root, &connection, &target, password, timeout).await?;
    }
    if let (Some(tag), Some(config)) = (tag, &app_config) {
        let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
        let repository = names.ecr_repository();
        let image = ImageRef {
            repository_uri: image::repository_uri(&ecr, &repository).await?,
            tag,
        };
        if !image::tag_exists(&ecr, &repository, &image.tag).await? {
            return Err(ImageError::ImageMissing {
                image: image.to_string(),
            }
            .into());
        }
        let namespace = names.app_namespace();
        let login = ecr_login::fetch(&ecr).await?;
        report_pull_secret(&connection, &namespace, &login).await?;
        sync_app_secret(&connection, &namespace, config).await?;
        let release = releases::app(&names, &image);
        upgrade(sh, root, &release, &target, timeout)?;
    }
    Ok(Exit::Success)
}

async fn deploy_observability(
    sh: &Shell,
    root: &Path,
    connection: &Connection,
    target: &KubeTarget,
    password: Option<&SecretValue>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let (source, outcome) =
        grafana::ensure_admin_secret(connection, OBSERVABILITY_NAMESPACE, password)
            .await
            .context("grafana admin secret")?;
    let origin = match source {
        PasswordSource::AppSecret => format!("password from {GRAFANA_ADMIN_PASSWORD}"),
        PasswordSource::Existing => "password kept".to_owned(),
        PasswordSource::Generated => format!(
            "password generated (no {GRAFANA_ADMIN_PASSWORD} in the application secret); read it with `kubectl -n {OBSERVABILITY_NAMESPACE} get secret {} -o jsonpath='{{.data.{}}}' | base64 -d`",
            grafana::SECRET_NAME,
            grafana::PASSWORD_KEY
        ),
    };
    println!(
        "secret {OBSERVABILITY_NAMESPACE}/{} {outcome}: {origin}",
        grafana::SECRET_NAME,
    );
    helm::repo_add(
        sh,
        releases::PROMETHEUS_REPO_NAME,
        releases::PROMETHEUS_REPO_URL,
    )?;
    upgrade(sh, root, &releases::observability(), target, timeout)
}

fn upgrade(
    sh: &Shell,
    root: &Path,
    release: &releases::Release,
    target: &KubeTarget,
    timeout: Duration,
) -> anyhow::Result<()> {
    let progress = Progress::start(&format!(
        "helm upgrade --install {} (namespace {})",
        release.name, release.namespace
    ));
    match helm::upgrade(sh, root, release, target, timeout) {
        Ok(_) => {
            progress.finish(&format!(
                "release {}/{} deployed",
                release.namespace, release.name
            ));
            Ok(())
        }
        Err(error) => {
            progress.finish(&format!(
                "release {}/{} failed and was rolled back",
                release.namespace, release.name
            ));
            Err(error.into())
        }
    }
}

pub(crate) async fn run_render(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    out: Option<&Path>,
    repo_url: Option<String>,
    revision: Option<String>,
) -> anyhow::Result<Exit> {
    let (tag, _) = resolve_tag(sh, tag)?;
    let (session, names) = invocation.connect().await?;
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let image = ImageRef {
        repository_uri: image::repository_uri(&ecr, &names.ecr_repository()).await?,
        tag,
    };
    let git = GitSource {
        repo_url: repo_url.unwrap_or_else(|| {
            format!(
                "https://github.com/{}.git",
                invocation.config.codebuild_source
            )
        }),
        revision: revision.unwrap_or_else(|| invocation.config.github.branch.clone()),
    };
    let rendered = argocd::render(
        &[releases::observability(), releases::app(&names, &image)],
        &git,
    )?;
    match out {
        Some(dir) => {
            for path in argocd::write(dir, &rendered)? {
                println!("wrote {}", path.display());
            }
        }
        None => {
            let documents: Vec<&str> = rendered.iter().map(|doc| doc.yaml.as_str()).collect();
            print!("---\n{}", documents.join("---\n"));
        }
    }
    Ok(Exit::Success)
}

pub(crate) async fn run_status(
    invocation: &Invocation,
    sh: &Shell,
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    helm::check_installed()?;
    let (target, connection) = invocation.kube(kube).await?;
    let names = invocation.local_names();
    let expected = [
        (names.project().to_owned(), names.app_namespace()),
        (
            releases::KUBE_PROMETHEUS_STACK.to_owned(),
            OBSERVABILITY_NAMESPACE.to_owned(),
        ),
    ];
    let mut report = status::Report {
        releases: Vec::new(),
        pods: Vec::new(),
    };
    for (name, namespace) in &expected {
        let listed = helm::list(sh, namespace, &target)?;
        report
            .releases
            .push(status::release_row(name, namespace, &listed));
        report
            .pods
            .extend(status::pods(&connection, namespace).await?);
    }
    print!("{}", report.table());
    if report.passed() {
        println!("every release deployed, every pod ready");
        Ok(Exit::Success)
    } else {
        let problems = report
            .releases
            .iter()
            .filter(|release| !release.ok())
            .count()
            + report.pods.iter().filter(|pod| !pod.ok).count();
        eprintln!("error: {problems} release(s) or pod(s) not deployed or not ready");
        Ok(Exit::Failure)
    }
}
