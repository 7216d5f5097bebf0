//! Command line of `infra-terraform`: flags, subcommands and their dispatch.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use shopstack_core::cli::GlobalArgs;
use shopstack_core::{AwsSession, Exit};

/// Provision and check the AWS foundation of a ShopStack environment, Terraform-compatible.
#[derive(Debug, Parser)]
#[command(name = "infra-terraform", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what apply would change.
    Plan {
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or repair every resource of the environment.
    Apply {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
    },
    /// Remove the environment's resources.
    Destroy {
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Also delete a state bucket that still holds objects.
        #[arg(long)]
        force_delete_state: bool,
    },
    /// List the environment's resources and whether they exist.
    Status,
    /// Check the live resources against every security control.
    Audit {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the application secret's value.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// List Terraform-compatible state locks.
    Locks,
    /// Remove a state lock by its ID.
    ForceUnlock {
        /// The lock's ID, as `locks` shows it.
        lock_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Write the Terraform backend configuration of the environment.
    BackendConfig {
        /// Where to write it (default: envs/<env>/backend.tf).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write Terraform configuration with import blocks for every live resource.
    ExportTerraform {
        /// Directory to write into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the AWS identity, region and endpoint the environment resolves to.
    Whoami {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Store a new value (a JSON object) in the application secret.
    Put {
        /// File holding the value, or `-` for standard input.
        #[arg(long, value_name = "FILE")]
        from_file: PathBuf,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Plan { .. } => "plan",
            Self::Apply { .. } => "apply",
            Self::Destroy { .. } => "destroy",
            Self::Status => "status",
            Self::Audit { .. } => "audit",
            Self::Secret(SecretCommand::Put { .. }) => "secret put",
            Self::Locks => "locks",
            Self::ForceUnlock { .. } => "force-unlock",
            Self::BackendConfig { .. } => "backend-config",
            Self::ExportTerraform { .. } => "export-terraform",
            Self::Whoami { .. } => "whoami",
        }
    }
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let (_config, environment) = cli.global.load()?;
    match cli.command {
        Command::Whoami { json } => {
            let session =
                AwsSession::connect(&environment, cli.global.endpoint_url.as_deref()).await?;
            whoami(&session, json)
        }
        command => bail!(
            "`infra-terraform {}` is not implemented yet",
            command.name()
        ),
    }
}

fn whoami(session: &AwsSession, json: bool) -> anyhow::Result<Exit> {
    let endpoint = session
        .endpoint()
        .map(|(endpoint, source)| (endpoint.url().to_owned(), source.to_string()));
    if json {
        let value = serde_json::json!({
            "environment": session.environment().name,
            "region": session.region(),
            "account_id": session.account_id(),
            "arn": session.identity().arn,
            "endpoint": endpoint.as_ref().map(|(url, _)| url),
            "endpoint_source": endpoint.as_ref().map(|(_, source)| source),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).context("encode JSON")?
        );
    } else {
        println!("environment  {}", session.environment().name);
        println!("region       {}", session.region());
        match endpoint {
            Some((url, source)) => println!("endpoint     {url} (from {source})"),
            None => println!("endpoint     AWS default for the region"),
        }
        println!("account      {}", session.account_id());
        println!("caller       {}", session.identity().arn);
    }
    Ok(Exit::Success)
}
