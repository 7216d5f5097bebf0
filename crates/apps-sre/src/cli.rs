//! Command line of `apps-sre`: flags, subcommands and their dispatch.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use shopstack_core::Exit;
use shopstack_core::cli::GlobalArgs;
use xshell::Shell;

use crate::commands::{
    Invocation, run_build, run_deploy, run_local_build, run_pull_secret, run_render,
    run_secrets_sync, run_status,
};

/// Build images, wire ECR and Secrets Manager into the cluster, deploy the app and observability.
#[derive(Debug, Parser)]
#[command(name = "apps-sre", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which cluster to talk to.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KubeArgs {
    /// kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: kind-<project>).
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the application image (CodeBuild, or local docker with --local) and push it to ECR;
    /// where the cluster announces a local registry, with local docker into that registry.
    Build {
        /// Image tag (default: the git short SHA).
        #[arg(long)]
        tag: Option<String>,
        /// Build with the local docker engine (the sample application: its static binary, then
        /// deploy/app/Dockerfile) and push to ECR.
        #[arg(long)]
        local: bool,
        /// Start the CodeBuild build and return without following it.
        #[arg(long, conflicts_with = "local")]
        no_wait: bool,
        /// When the tag is already pushed, say so and succeed instead of failing.
        #[arg(long)]
        skip_existing: bool,
        /// Build this context (holding its own Dockerfile) instead of the sample application.
        #[arg(long, value_name = "DIR", requires = "local")]
        context_dir: Option<PathBuf>,
        /// Stop following a CodeBuild build after this long (e.g. 30m); it goes on in CodeBuild.
        #[arg(long, default_value = "60m", value_parser = parse_duration, value_name = "DURATION")]
        timeout: Duration,
        /// The cluster whose local registry (if it announces one) receives the image.
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// Create or refresh the ECR image pull secret `ecr-pull` and attach it to the default
    /// ServiceAccount.
    PullSecret {
        /// Namespace to provide it in (repeatable; default: the application namespace).
        #[arg(long = "namespace", value_name = "NAME")]
        namespaces: Vec<String>,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// Copy the application secret from Secrets Manager into the cluster.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Install or upgrade Helm releases (`--atomic --wait`).
    Deploy {
        /// What to deploy.
        target: DeployTarget,
        /// Image tag of the application (default: the git short SHA).
        #[arg(long)]
        tag: Option<String>,
        /// How long helm may wait for each release to become ready (e.g. 10m).
        #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
        timeout: Duration,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// Render Argo CD Application manifests.
    #[command(subcommand)]
    Argocd(ArgocdCommand),
    /// Show releases and the readiness of their pods; exit 1 if any is not deployed or ready.
    Status {
        #[command(flatten)]
        kube: KubeArgs,
    },
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Server-side apply the secret as Kubernetes Secret `app-config` (no write when unchanged).
    Sync {
        /// Namespace of the Secret (default: the application namespace).
        #[arg(long, value_name = "NAME")]
        namespace: Option<String>,
        #[command(flatten)]
        kube: KubeArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ArgocdCommand {
    /// Write the Application manifests (to standard output without --out).
    Render {
        /// Directory to write `NAME.yaml` files into.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Image tag of the application (default: the git short SHA).
        #[arg(long)]
        tag: Option<String>,
        /// Git repository holding the chart and values (default: the CodeBuild source repository).
        #[arg(long, value_name = "URL")]
        repo_url: Option<String>,
        /// Revision to follow (default: the configured GitHub branch).
        #[arg(long, value_name = "REF")]
        revision: Option<String>,
    },
}

/// What `deploy` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DeployTarget {
    /// The application chart.
    App,
    /// kube-prometheus-stack (Prometheus, Alertmanager, Grafana).
    Observability,
    /// Observability first (its CRDs), then the application.
    All,
}

/// Parses `90s`, `5m`, `2m30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{error} (write a duration like 90s, 5m or 2m30s)"))
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    shopstack_core::logging::init(cli.global.verbose);
    let (config, environment) = cli.global.load()?;
    let endpoint = cli.global.endpoint_url.as_deref();
    let sh = Shell::new().context("start a shell")?;
    let invocation = Invocation {
        config,
        environment,
        endpoint: endpoint.map(str::to_owned),
    };
    match cli.command {
        Command::Build {
            tag,
            local,
            no_wait,
            skip_existing,
            context_dir,
            timeout,
            kube,
        } => {
            if local {
                run_local_build(
                    &invocation,
                    &sh,
                    tag,
                    context_dir.as_deref(),
                    skip_existing,
                    &kube,
                )
                .await
            } else {
                run_build(
                    &invocation,
                    &sh,
                    tag,
                    no_wait,
                    skip_existing,
                    timeout,
                    &kube,
                )
                .await
            }
        }
        Command::PullSecret { namespaces, kube } => {
            run_pull_secret(&invocation, &namespaces, &kube).await
        }
        Command::Secrets(SecretsCommand::Sync { namespace, kube }) => {
            run_secrets_sync(&invocation, namespace, &kube).await
        }
        Command::Deploy {
            target,
            tag,
            timeout,
            kube,
        } => run_deploy(&invocation, &sh, target, tag, timeout, &kube).await,
        Command::Argocd(ArgocdCommand::Render {
            out,
            tag,
            repo_url,
            revision,
        }) => run_render(&invocation, &sh, tag, out.as_deref(), repo_url, revision).await,
        Command::Status { kube } => run_status(&invocation, &sh, &kube).await,
    }
}
