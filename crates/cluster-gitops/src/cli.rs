//! Command line of `cluster-gitops`: flags, subcommands and their dispatch.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use shopstack_core::Exit;
use shopstack_core::cli::GlobalArgs;

/// Create, validate and repeat-test the ShopStack Kind cluster; apply GitOps manifests.
#[derive(Debug, Parser)]
#[command(name = "cluster-gitops", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the Kind cluster from kind-config.yaml and wait until it is ready.
    Create {
        /// Kind cluster configuration.
        #[arg(long, default_value = "kind-config.yaml")]
        kind_config: PathBuf,
        /// Delete and create again when the stored spec differs.
        #[arg(long)]
        recreate: bool,
    },
    /// Delete the Kind cluster.
    Delete,
    /// Show whether the cluster exists and answers.
    Status,
    /// Check that every node is Ready and CoreDNS is running.
    Validate {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the cluster's kubeconfig with mode 0600.
    Kubeconfig,
    /// Server-side apply every manifest in a directory.
    Sync {
        /// Directory of manifests.
        dir: PathBuf,
    },
    /// Create, validate and delete the cluster N times, logging each run.
    RepeatTest {
        /// Number of runs.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Log file, one JSON line per run.
        #[arg(long, default_value = "repeat.log")]
        log: PathBuf,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Delete => "delete",
            Self::Status => "status",
            Self::Validate { .. } => "validate",
            Self::Kubeconfig => "kubeconfig",
            Self::Sync { .. } => "sync",
            Self::RepeatTest { .. } => "repeat-test",
        }
    }
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let _ = &cli.global;
    bail!(
        "`cluster-gitops {}` is not implemented yet",
        cli.command.name()
    )
}
