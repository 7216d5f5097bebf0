//! `cargo xtask`: the project's task runner, in place of the original platform's Makefiles.

mod bench;
mod bootstrap;
mod doctor;
mod e2e;
mod emulator;
mod local_aws;
mod progress;
mod project;
mod provision;
mod scan;
mod scanners;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Bootstrap, test and inspect the ShopStack platform.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole bootstrap sequence: doctor, infra, backend config, cluster, apps.
    Bootstrap(bootstrap::Args),
    /// Create, validate and delete the cluster repeatedly, logging to repeat.log.
    RepeatTest {
        /// Number of runs.
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Go on after a failed run.
        #[arg(long)]
        keep_going: bool,
    },
    /// Install or build the real components the tests run against (docker engine, Kubernetes,
    /// etcd, helm, kubectl), into the tool cache.
    Provision,
    /// Start the AWS emulator, run the whole test suite against it, stop it.
    Test(test::Args),
    /// Check tools, versions, the docker engine, the AWS identity and the kube context.
    Doctor(doctor::Args),
    /// Static security scanning with checkov of what ShopStack makes (the Terraform export of an
    /// environment, the rendered charts, the workflows, the Dockerfile) against the committed
    /// baseline of accepted findings.
    Scan(scan::Args),
    /// Benchmark against Terraform on the same resources.
    Bench(bench::Args),
    /// Run the end-to-end tests that need docker and kind.
    E2e {
        /// Extra arguments for `cargo test` before `--` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// Start, stop or inspect the local AWS emulator of the `local` environment.
    LocalAws {
        #[command(subcommand)]
        action: local_aws::Action,
    },
}

fn main() -> ExitCode {
    let xtask = match Xtask::try_parse() {
        Ok(xtask) => xtask,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(xtask) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(xtask: Xtask) -> anyhow::Result<ExitCode> {
    let sh = &project::shell()?;
    match xtask.command {
        Command::Bootstrap(args) => bootstrap::run(sh, &args),
        Command::Test(args) => test::run(sh, &args),
        Command::Scan(args) => scan::run(sh, &args),
        Command::Provision => provision::provision(sh).map(|real| {
            for version in &real.versions {
                println!("{version}");
            }
            ExitCode::SUCCESS
        }),
        Command::Doctor(args) => doctor::run(sh, &args),
        Command::LocalAws { action } => local_aws::run(sh, action),
        Command::RepeatTest { runs, keep_going } => e2e::repeat_test(sh, runs, keep_going),
        Command::Bench(args) => bench::run(sh, &args),
        Command::E2e { cargo_args } => e2e::run(sh, &cargo_args),
    }
}
