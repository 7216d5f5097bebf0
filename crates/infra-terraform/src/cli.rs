//! Command line of `infra-terraform`: flags, subcommands and their dispatch.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use shopstack_core::cli::GlobalArgs;
use shopstack_core::{AwsSession, Exit};

use crate::commands;
use crate::context::Context;
use crate::resource::DestroyOptions;
use crate::secret_value;

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
        /// Also delete a state bucket that still holds objects (every version of them).
        #[arg(long)]
        force_delete_state: bool,
        /// Also delete an ECR repository that still holds images.
        #[arg(long)]
        force_delete_images: bool,
    },
    /// List the environment's resources: present, managed, drifted.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
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
            Self::Status { .. } => "status",
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
    shopstack_core::logging::init(cli.global.verbose);
    // The whole configuration, and any value read from a file, is checked before the first request.
    let (config, environment) = cli.global.load()?;
    if let Command::Locks
    | Command::ForceUnlock { .. }
    | Command::BackendConfig { .. }
    | Command::ExportTerraform { .. } = cli.command
    {
        bail!(
            "`infra-terraform {}` is not implemented yet",
            cli.command.name()
        );
    }
    let secret = match &cli.command {
        Command::Secret(SecretCommand::Put { from_file }) => {
            Some(secret_value::read_value(from_file)?)
        }
        _ => None,
    };
    let session = AwsSession::connect(&environment, cli.global.endpoint_url.as_deref()).await?;
    if let Command::Whoami { json } = cli.command {
        return whoami(&session, json);
    }
    let context = Arc::new(Context::new(session, config));
    match cli.command {
        Command::Plan {
            json,
            detailed_exitcode,
        } => commands::plan(&context, json, detailed_exitcode).await,
        Command::Apply { auto_approve } => commands::apply(&context, auto_approve).await,
        Command::Destroy {
            auto_approve,
            force_delete_state,
            force_delete_images,
        } => {
            let options = DestroyOptions {
                force_delete_state,
                force_delete_images,
            };
            commands::destroy(&context, auto_approve, &options).await
        }
        Command::Status { json } => commands::status(&context, json).await,
        Command::Audit { json } => commands::audit(&context, json).await,
        Command::Secret(SecretCommand::Put { .. }) => match secret {
            Some(value) => commands::secret_put(&context, &value).await,
            None => bail!("no secret value was read"),
        },
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
