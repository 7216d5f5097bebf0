//! `cargo xtask bootstrap`: the whole platform, step by step, as the original Makefile ran it.

use std::process::ExitCode;

use anyhow::bail;
use xshell::{Shell, cmd};

use crate::local_aws;

/// Flags of `cargo xtask bootstrap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to bootstrap.
    #[arg(
        short = 'e',
        long = "env",
        env = "SHOPSTACK_ENV",
        default_value = "local"
    )]
    pub environment: String,
    /// Leave the Kind cluster out.
    #[arg(long)]
    pub skip_cluster: bool,
    /// Leave the applications out.
    #[arg(long)]
    pub skip_apps: bool,
    /// Show the infrastructure plan and change nothing.
    #[arg(long)]
    pub plan_only: bool,
}

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    let environment = &args.environment;
    if environment == "local" {
        let address = local_aws::local_address()?;
        let url = local_aws::ensure_running(sh, address)?;
        eprintln!("==> local AWS emulator at {url}");
    }
    eprintln!("==> infra-terraform ({environment})");
    let infra = if args.plan_only { "plan" } else { "apply" };
    let approve: &[&str] = if args.plan_only {
        &[]
    } else {
        &["--auto-approve"]
    };
    if cmd!(
        sh,
        "cargo run --quiet --package infra-terraform -- --env {environment} {infra} {approve...}"
    )
    .run()
    .is_err()
    {
        bail!("bootstrap stopped at infra-terraform {infra}");
    }
    if !args.skip_cluster || !args.skip_apps {
        bail!(
            "the cluster and apps steps are not implemented yet: run with --skip-cluster --skip-apps"
        );
    }
    Ok(ExitCode::SUCCESS)
}
