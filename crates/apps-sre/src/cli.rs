//! Command line of `apps-sre`: flags, subcommands and their dispatch.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};
use shopstack_core::Exit;
use shopstack_core::cli::GlobalArgs;

/// Build images, wire ECR and Secrets Manager into the cluster, deploy the app and observability.
#[derive(Debug, Parser)]
#[command(name = "apps-sre", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the application image (CodeBuild, or local docker with --local).
    Build {
        /// Image tag (default: the git short SHA).
        #[arg(long)]
        tag: Option<String>,
        /// Build with the local docker engine and push to ECR.
        #[arg(long)]
        local: bool,
    },
    /// Create or refresh the ECR image pull secret.
    PullSecret,
    /// Copy the application secret from Secrets Manager into the cluster.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Install or upgrade Helm releases.
    Deploy {
        /// What to deploy.
        target: DeployTarget,
    },
    /// Render Argo CD Application manifests.
    #[command(subcommand)]
    Argocd(ArgocdCommand),
    /// Show releases and the readiness of their pods.
    Status,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Server-side apply the secret as a Kubernetes Secret.
    Sync,
}

#[derive(Debug, Subcommand)]
enum ArgocdCommand {
    /// Write the Application manifests.
    Render {
        /// Directory to write into.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeployTarget {
    App,
    Observability,
    All,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Build { .. } => "build",
            Self::PullSecret => "pull-secret",
            Self::Secrets(SecretsCommand::Sync) => "secrets sync",
            Self::Deploy { .. } => "deploy",
            Self::Argocd(ArgocdCommand::Render { .. }) => "argocd render",
            Self::Status => "status",
        }
    }
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let _ = &cli.global;
    bail!("`apps-sre {}` is not implemented yet", cli.command.name())
}
