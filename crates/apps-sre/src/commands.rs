//! What each `apps-sre` command does, once `cli` has parsed its flags: images, secrets, releases.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use shopstack_core::names::OBSERVABILITY_NAMESPACE;
use shopstack_core::{AwsSession, Config, Environment, Exit, Names, SecretValue};
use xshell::Shell;

use crate::app_image;
use crate::app_secret::{self, AppSecretError, GRAFANA_ADMIN_PASSWORD};
use crate::argocd::{self, GitSource};
use crate::build::{self, Backoff, BuildRequest};
use crate::cli::{DeployTarget, KubeArgs};
use crate::exposure::{self, KindPorts};
use crate::grafana::{self, PasswordSource};
use crate::image::{self, ImageError, ImageRef};
use crate::secret_apply::{self, Outcome};
use crate::{docker, ecr_login, git, helm, pull_secret, releases, secret_sync, status};
use cluster_gitops::kubeconfig::{Connection, Target as KubeTarget};
use cluster_gitops::registry;
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

    /// What `kind-config.yaml` says of the cluster of `kube`, when it describes that cluster.
    fn kind(&self, kube: &KubeArgs) -> anyhow::Result<Option<KindPorts>> {
        let target = self.kube_target(kube);
        Ok(KindPorts::for_context(Path::new(""), &target.context)?)
    }

    /// The local registry of that Kind cluster, where the environment's images live instead of
    /// ECR.
    fn local_registry(&self, kind: Option<&KindPorts>) -> Option<LocalRegistry> {
        kind.and_then(|kind| kind.local_registry)
            .map(|host| LocalRegistry {
                host: host.to_owned(),
                name: self.local_names().ecr_repository(),
            })
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

/// The image `tag` of the environment's repository, refusing a tag that is already pushed;
/// with `skip_existing`, `None` (said on stdout) for a tag already pushed.
async fn new_image(
    ecr: &aws_sdk_ecr::Client,
    names: &Names,
    tag: &str,
    skip_existing: bool,
) -> anyhow::Result<Option<ImageRef>> {
    let repository = names.ecr_repository();
    let image = ImageRef {
        repository_uri: image::repository_uri(ecr, &repository).await?,
        tag: tag.to_owned(),
    };
    if image::tag_exists(ecr, &repository, tag).await? {
        if skip_existing {
            println!("image {image} is in ECR: not built again");
            return Ok(None);
        }
        return Err(ImageError::TagExists {
            image: image.to_string(),
        }
        .into());
    }
    Ok(Some(image))
}

pub(crate) async fn run_build(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    no_wait: bool,
    skip_existing: bool,
    timeout: Duration,
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    let kind = invocation.kind(kube)?;
    if let Some(local) = invocation.local_registry(kind.as_ref()) {
        // CodeBuild cannot push to a registry on this machine: build here.
        return local_build(invocation, sh, tag, None, skip_existing, Some(local)).await;
    }
    let (tag, source_version) = resolve_tag(sh, tag)?;
    let (session, names) = invocation.connect().await?;
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let Some(image) = new_image(&ecr, &names, &tag, skip_existing).await? else {
        return Ok(Exit::Success);
    };
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

/// A build with the local docker engine: of `context_dir` (its own Dockerfile) when given, else
/// of the sample application; pushed to the local registry on the `local` environment, else to
/// ECR.
pub(crate) async fn run_local_build(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    context_dir: Option<&Path>,
    skip_existing: bool,
    kube: &KubeArgs,
) -> anyhow::Result<Exit> {
    let local = invocation.local_registry(invocation.kind(kube)?.as_ref());
    local_build(invocation, sh, tag, context_dir, skip_existing, local).await
}

/// [`run_local_build`], the local registry (if any) known.
async fn local_build(
    invocation: &Invocation,
    sh: &Shell,
    tag: Option<String>,
    context_dir: Option<&Path>,
    skip_existing: bool,
    local: Option<LocalRegistry>,
) -> anyhow::Result<Exit> {
    let root = Path::new("");
    match context_dir {
        Some(dir) => docker::check(dir)?,
        None => docker::check_installed()?,
    }
    let (tag, _) = resolve_tag(sh, tag)?;
    let build = |image: &ImageRef| -> anyhow::Result<()> {
        match context_dir {
            Some(dir) => docker::build(sh, dir, image)?,
            None => app_image::build(sh, root, &app_image::target_dir(root), image)?,
        }
        Ok(())
    };
    if let Some(local) = local {
        let image = local.image(&tag);
        if local.holds(&tag)? {
            if skip_existing {
                println!("image {image} is in the local registry: not built again");
                return Ok(Exit::Success);
            }
            return Err(ImageError::TagExists {
                image: image.to_string(),
            }
            .into());
        }
        build(&image)?;
        docker::push(sh, &image)?;
        println!("image {image} built and pushed to the local registry");
        return Ok(Exit::Success);
    }
    let (session, names) = invocation.connect().await?;
    let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
    let Some(image) = new_image(&ecr, &names, &tag, skip_existing).await? else {
        return Ok(Exit::Success);
    };
    let login = ecr_login::fetch(&ecr).await?;
    build(&image)?;
    docker::login(sh, &login)?;
    docker::push(sh, &image)?;
    println!("image {image} built and pushed");
    Ok(Exit::Success)
}

/// A local registry a cluster announces, and the environment's image repository in it.
struct LocalRegistry {
    /// `localhost:5001`.
    host: String,
    /// The repository (named like the environment's ECR repository).
    name: String,
}

impl LocalRegistry {
    fn image(&self, tag: &str) -> ImageRef {
        ImageRef {
            repository_uri: format!("{}/{}", self.host, self.name),
            tag: tag.to_owned(),
        }
    }

    /// Whether it holds image `tag`; an error when it does not answer.
    fn holds(&self, tag: &str) -> Result<bool, LocalRegistryError> {
        registry::holds(&self.host, &self.name, tag).ok_or_else(|| {
            LocalRegistryError::NotAnswering {
                host: self.host.clone(),
            }
        })
    }
}

/// The local registry's errors, as builds and deploys meet them.
#[derive(Debug, thiserror::Error)]
enum LocalRegistryError {
    #[error("the local registry {host} does not answer: `cluster-gitops create` starts it")]
    NotAnswering { host: String },
    #[error("image {image} is not in the local registry: build it first (`apps-sre build`)")]
    ImageMissing { image: String },
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

/// Syncs `app-config`; its resource version (which changes with its content and shows none of
/// it), when it has one.
async fn sync_app_secret(
    connection: &Connection,
    namespace: &str,
    config: &app_secret::AppConfig,
) -> anyhow::Result<Option<String>> {
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
    let synced = secret_apply::get(connection, namespace, secret_sync::SECRET_NAME)
        .await
        .context("secrets sync")?;
    Ok(synced.and_then(|secret| secret.metadata.resource_version))
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
        helm::check_files(root, &releases::observability(None))?;
    }
    let tag = if with_app {
        helm::check_chart(root, Path::new(releases::APP_CHART))?;
        Some(resolve_tag(sh, tag)?.0)
    } else {
        None
    };
    // Where the image lives is known from the files alone: it is checked before the cluster is.
    let kind = invocation.kind(kube)?;
    let local = invocation.local_registry(kind.as_ref());
    let (target, connection) = invocation.kube(kube).await?;
    let (session, names) = invocation.connect().await?;
    let secrets = aws_sdk_secretsmanager::Client::new(session.sdk_config());
    let app_config = match app_secret::read(&secrets, &names.app_secret()).await {
        Ok(config) => Some(config),
        Err(AppSecretError::NotFound { .. } | AppSecretError::NoValue { .. }) if !with_app => None,
        Err(error) => return Err(error.into()),
    };
    // The image is checked before anything changes.
    let image = match &tag {
        Some(tag) => Some(match &local {
            Some(local) => {
                let image = local.image(tag);
                if !local.holds(tag)? {
                    return Err(LocalRegistryError::ImageMissing {
                        image: image.to_string(),
                    }
                    .into());
                }
                image
            }
            None => {
                let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
                let repository = names.ecr_repository();
                let image = ImageRef {
                    repository_uri: image::repository_uri(&ecr, &repository).await?,
                    tag: tag.clone(),
                };
                if !image::tag_exists(&ecr, &repository, &image.tag).await? {
                    return Err(ImageError::ImageMissing {
                        image: image.to_string(),
                    }
                    .into());
                }
                image
            }
        }),
        None => None,
    };
    if with_observability {
        let password = app_config
            .as_ref()
            .and_then(|config| config.get(GRAFANA_ADMIN_PASSWORD));
        deploy_observability(
            sh,
            root,
            &connection,
            &target,
            password,
            kind.as_ref(),
            timeout,
        )
        .await?;
        if !with_app {
            render_monitor_of_installed_app(sh, root, &names, &target, timeout)?;
        }
    }
    if let (Some(image), Some(config)) = (image, &app_config) {
        let namespace = names.app_namespace();
        // The local registry needs no credentials; ECR's are refreshed for the pull.
        if local.is_none() {
            let ecr = aws_sdk_ecr::Client::new(session.sdk_config());
            let login = ecr_login::fetch(&ecr).await?;
            report_pull_secret(&connection, &namespace, &login).await?;
        }
        let config_version = sync_app_secret(&connection, &namespace, config).await?;
        let release = releases::app(
            &names,
            &image,
            &releases::AppOptions {
                kind: kind.as_ref(),
                pull_secret: local.is_none(),
                config_version: config_version.as_deref(),
            },
        );
        upgrade(sh, root, &release, &target, timeout)?;
        println!("app runs {image}");
    }
    if let Some(kind) = &kind {
        for exposed in [&kind.app, &kind.grafana] {
            println!("{}: {}", exposed.what, exposure::reachability(exposed));
        }
        if let (Some(grafana), true) = (&kind.grafana.url, with_app) {
            println!("dashboard: {grafana}/d/{}", releases::APP_DASHBOARD_UID);
        }
    }
    Ok(Exit::Success)
}

/// The app's chart renders its ServiceMonitor only where the API exists: an app installed before
/// the observability stack is upgraded again, with the values it has, so that it gets one.
fn render_monitor_of_installed_app(
    sh: &Shell,
    root: &Path,
    names: &Names,
    target: &KubeTarget,
    timeout: Duration,
) -> anyhow::Result<()> {
    let namespace = names.app_namespace();
    let installed = helm::list(sh, &namespace, target)?
        .iter()
        .any(|release| release.name == names.project() && release.status == "deployed");
    if !installed {
        return Ok(());
    }
    let release = releases::Release {
        name: names.project().to_owned(),
        namespace: namespace.clone(),
        chart: releases::Chart::Local {
            path: std::path::PathBuf::from(releases::APP_CHART),
        },
        values_files: Vec::new(),
        set: Vec::new(),
    };
    let progress = Progress::start(&format!(
        "helm upgrade {} --reuse-values (namespace {namespace})",
        release.name
    ));
    helm::upgrade_reusing_values(sh, root, &release, target, timeout)?;
    progress.finish(&format!(
        "release {namespace}/{} upgraded with its values: its ServiceMonitor is rendered now that the API exists",
        release.name
    ));
    Ok(())
}

async fn deploy_observability(
    sh: &Shell,
    root: &Path,
    connection: &Connection,
    target: &KubeTarget,
    password: Option<&SecretValue>,
    kind: Option<&KindPorts>,
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
    upgrade(sh, root, &releases::observability(kind), target, timeout)
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
        &[
            releases::observability(None),
            releases::app(&names, &image, &releases::AppOptions::default()),
        ],
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
    if let Some(kind) = invocation.kind(kube)? {
        for exposed in [&kind.app, &kind.grafana] {
            println!("{}: {}", exposed.what, exposure::reachability(exposed));
        }
    }
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
