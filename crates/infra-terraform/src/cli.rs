//! Command line of `infra-terraform`: flags, subcommands and their dispatch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use shopstack_core::cli::GlobalArgs;
use shopstack_core::{AwsSession, Exit};

use crate::backend_config::LockStorage;
use crate::commands;
use crate::context::Context;
use crate::resource::DestroyOptions;
use crate::secret_value::{self, SEED_ENVIRONMENT};

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
        /// Wait up to this long (e.g. `90s`, `5m`) for a held state lock; by default a held lock
        /// fails at once.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        lock_timeout: Option<Duration>,
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
        /// Wait up to this long for a held state lock; by default a held lock fails at once.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        lock_timeout: Option<Duration>,
    },
    /// What CI and the other tools need of the environment, read live (as `terraform output`):
    /// state bucket, lock table, backend key, ECR repository URI, CodeBuild project, CI,
    /// infrastructure and CodeBuild role ARNs, secret ARN, region, account; exit 1 when a
    /// resource is missing.
    Outputs {
        /// Print as JSON (an object of name → value, `null` when missing).
        #[arg(long)]
        json: bool,
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
    /// List the state locks in the lock table and the state bucket, Terraform's included.
    Locks {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
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
        /// Lock with a `.tflock` object beside the state (`use_lockfile = true`).
        #[arg(long, conflicts_with = "dynamodb")]
        lockfile: bool,
        /// Lock in the DynamoDB lock table (`dynamodb_table`, the default).
        #[arg(long)]
        dynamodb: bool,
    },
    /// Write the GitHub Actions workflows of the environment: the infrastructure repository's
    /// (plan, then apply on changes, as the infrastructure role) and the image repository's
    /// (build through CodeBuild, as the CI role). Only pushes to the trusted branch can assume
    /// the roles, so there are no pull-request jobs. A file already holding its workflow is left
    /// as it is.
    GithubWorkflows {
        /// Directory to write into.
        #[arg(long, default_value = ".github/workflows")]
        out: PathBuf,
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
    /// On the local environment only: give the application secret generated values for the
    /// sample application's keys when it has no value yet (never printed; a value is never
    /// replaced).
    Seed,
    /// Exit 1, naming the command that gives it one, when the application secret has no value
    /// yet (`cargo xtask bootstrap` checks it before the cluster and the apps change).
    Check,
}

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    shopstack_core::logging::init(cli.global.verbose);
    // The whole configuration, and any value read from a file, is checked before the first request.
    let (config, environment) = cli.global.load()?;
    let secret = match &cli.command {
        Command::Secret(SecretCommand::Put { from_file }) => {
            Some(secret_value::read_value(from_file)?)
        }
        Command::Secret(SecretCommand::Seed) if environment.name != SEED_ENVIRONMENT => {
            bail!(
                "secret seed gives generated values on the {SEED_ENVIRONMENT} environment only; on {} put the real ones: infra-terraform --env {} secret put --from-file FILE",
                environment.name,
                environment.name
            );
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
        Command::Apply {
            auto_approve,
            lock_timeout,
        } => commands::apply(&context, auto_approve, lock_timeout).await,
        Command::Destroy {
            auto_approve,
            force_delete_state,
            force_delete_images,
            lock_timeout,
        } => {
            let options = DestroyOptions {
                force_delete_state,
                force_delete_images,
            };
            commands::destroy(&context, auto_approve, &options, lock_timeout).await
        }
        Command::Locks { json } => commands::locks(&context, json).await,
        Command::ForceUnlock { lock_id, force } => {
            commands::force_unlock(&context, &lock_id, force).await
        }
        Command::BackendConfig { out, lockfile, .. } => {
            let storage = if lockfile {
                LockStorage::Lockfile
            } else {
                LockStorage::Dynamodb
            };
            commands::backend_config(&context, out, storage).await
        }
        Command::ExportTerraform { out } => commands::export_terraform(&context, &out).await,
        Command::GithubWorkflows { out } => commands::github_workflows(&context, &out).await,
        Command::Status { json } => commands::status(&context, json).await,
        Command::Outputs { json } => commands::outputs(&context, json).await,
        Command::Audit { json } => commands::audit(&context, json).await,
        Command::Secret(SecretCommand::Put { .. }) => match secret {
            Some(value) => commands::secret_put(&context, &value).await,
            None => bail!("no secret value was read"),
        },
        Command::Secret(SecretCommand::Seed) => commands::secret_seed(&context).await,
        Command::Secret(SecretCommand::Check) => commands::secret_check(&context).await,
        Command::Whoami { .. } => bail!("`infra-terraform whoami` was handled above"),
    }
}

/// `90s`, `5m`, `1h 30m`: a duration as humantime writes it.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| format!("\"{text}\": {error}"))
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
