//! `cargo xtask bootstrap`: the whole platform, step by step, as the original Makefile ran it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use xshell::Shell;

use crate::doctor::{self, Finding};
use crate::project::WithoutCargoRunVariables;
use crate::{local_aws, progress};

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
    /// Project configuration file.
    #[arg(
        short = 'c',
        long,
        default_value = "shopstack.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,
    /// Leave the Kind cluster out.
    #[arg(long)]
    pub skip_cluster: bool,
    /// Leave the applications out.
    #[arg(long)]
    pub skip_apps: bool,
    /// Show the infrastructure plan and change nothing.
    #[arg(long)]
    pub plan_only: bool,
    /// Show every step's output, not only a failed one's.
    #[arg(short, long)]
    pub verbose: bool,
}

/// One step of the sequence.
struct Step {
    /// Shown in progress lines and the summary.
    name: &'static str,
    /// The binary that runs it, and its arguments after the global flags.
    binary: &'static str,
    args: &'static [&'static str],
    /// Tools (by their name in `doctor`) it cannot run without.
    needs: &'static [&'static str],
    /// Whether it can change anything (a check cannot).
    changes: bool,
    /// Phrases of its own output that, all present, say it changed nothing. Empty for a step that
    /// changes something whenever it runs (every Helm upgrade makes a new revision). Each step's
    /// own: another step's phrase may appear in its output (deploy reports the app Secret
    /// unchanged while it installs releases).
    unchanged_when: &'static [&'static str],
}

/// The lines of `deploy` shown again after the summary: the image it runs, and where the app,
/// Grafana and the app's dashboard answer.
const OUTCOME_PREFIXES: &[&str] = &["app runs ", "app: ", "grafana: ", "dashboard: "];

const CLUSTER_TOOLS: &[&str] = &["docker", "docker engine", "kind"];
const APP_TOOLS: &[&str] = &["docker", "docker engine", "kind", "helm"];
const BUILD_TOOLS: &[&str] = &["docker", "docker engine"];

fn steps(args: &Args) -> Vec<Step> {
    if args.plan_only {
        return vec![Step {
            name: "infra plan",
            binary: "infra-terraform",
            args: &["plan"],
            needs: &[],
            changes: false,
            unchanged_when: &[],
        }];
    }
    let mut steps = vec![
        Step {
            name: "infra apply",
            binary: "infra-terraform",
            args: &["apply", "--auto-approve"],
            needs: &[],
            changes: true,
            unchanged_when: &["No changes."],
        },
        Step {
            name: "backend config",
            binary: "infra-terraform",
            args: &["backend-config"],
            needs: &[],
            changes: true,
            unchanged_when: &["Unchanged:"],
        },
    ];
    if !args.skip_apps && args.environment != "local" {
        // The application's configuration is the team's: said before the cluster and the apps
        // change (the secret itself is made by `infra apply`).
        steps.push(Step {
            name: "secret check",
            binary: "infra-terraform",
            args: &["secret", "check"],
            needs: &[],
            changes: false,
            unchanged_when: &[],
        });
    }
    if !args.skip_cluster {
        steps.push(Step {
            name: "cluster create",
            binary: "cluster-gitops",
            args: &["create"],
            needs: CLUSTER_TOOLS,
            changes: true,
            unchanged_when: &[" unchanged and ready"],
        });
        steps.push(Step {
            name: "cluster validate",
            binary: "cluster-gitops",
            args: &["validate"],
            needs: CLUSTER_TOOLS,
            changes: false,
            unchanged_when: &[],
        });
    }
    if !args.skip_apps && args.environment == "local" {
        // The local environment needs no manual step: the sample application's configuration is
        // generated once (another environment's values are put with `secret put`).
        steps.push(Step {
            name: "secret seed",
            binary: "infra-terraform",
            args: &["secret", "seed"],
            needs: &[],
            changes: true,
            unchanged_when: &["has a value: kept"],
        });
    }
    if !args.skip_apps {
        let local = args.environment == "local";
        // The local environment's images live in the local registry, which needs no pull secret;
        // they are built here (another environment's by CodeBuild).
        steps.push(Step {
            name: "build",
            binary: "apps-sre",
            args: &["build", "--skip-existing"],
            needs: if local { BUILD_TOOLS } else { &[] },
            changes: true,
            unchanged_when: &[": not built again"],
        });
        if !local {
            steps.push(Step {
                name: "pull secret",
                binary: "apps-sre",
                args: &["pull-secret"],
                needs: CLUSTER_TOOLS,
                changes: true,
                unchanged_when: &[": fresh, ", ": already attached"],
            });
        }
        steps.push(Step {
            name: "secrets sync",
            binary: "apps-sre",
            args: &["secrets", "sync"],
            needs: CLUSTER_TOOLS,
            changes: true,
            unchanged_when: &["/app-config unchanged from "],
        });
        steps.push(Step {
            name: "deploy",
            binary: "apps-sre",
            args: &["deploy", "all"],
            needs: APP_TOOLS,
            changes: true,
            unchanged_when: &[],
        });
    }
    steps
}

/// How a step ended, for the summary table.
enum State {
    Changed,
    Unchanged,
    Failed,
    Blocked(String),
    NotRun,
}

impl State {
    fn label(&self) -> String {
        match self {
            Self::Changed => "done".to_owned(),
            Self::Unchanged => "unchanged".to_owned(),
            Self::Failed => "FAILED".to_owned(),
            Self::Blocked(tools) => format!("blocked: needs {tools}"),
            Self::NotRun => "not run".to_owned(),
        }
    }
}

/// Where the crate binaries are: `SHOPSTACK_BIN_DIR` when set (tests), else built now.
pub fn binaries(sh: &Shell) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SHOPSTACK_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    // Only what the steps run. The workspace-hack crate gives every dependency the features the
    // test build gives it, so that `cargo xtask test` reuses all of this and compiles only the
    // test targets on top.
    let mut cargo = Command::new("cargo");
    (&mut cargo)
        .without_cargo_run_variables()
        .current_dir(sh.current_dir())
        .args(["build", "--quiet", "--bins"])
        .args([
            "--package",
            "infra-terraform",
            "--package",
            "cluster-gitops",
        ])
        .args(["--package", "apps-sre"]);
    let (output, _) =
        progress::run("build the binaries of the steps", &mut cargo).context("run cargo")?;
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        anyhow::bail!(
            "build the ShopStack binaries: cargo exited with {}",
            output.status
        );
    }
    Ok(crate::project::target_dir().join("debug"))
}

/// Whether a step reported that it changed nothing, in its own words.
fn unchanged(step: &Step, stdout: &str) -> bool {
    !step.changes
        || (!step.unchanged_when.is_empty()
            && step
                .unchanged_when
                .iter()
                .all(|phrase| stdout.contains(phrase)))
}

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = std::env::current_dir()
        .context("read the current directory")?
        .join(&args.config);
    let environment = args.environment.as_str();
    let mut summary: Vec<(String, State, Duration)> = Vec::new();

    let doctor_started = Instant::now();
    let findings = doctor::probe_tools();
    let missing = |tool: &str| -> Option<&Finding> {
        findings
            .iter()
            .find(|finding| finding.tool.name == tool && finding.result.is_err())
    };
    summary.push((
        "doctor".to_owned(),
        State::Changed,
        doctor_started.elapsed(),
    ));

    if environment == "local" && !args.plan_only {
        let local_started = Instant::now();
        let address = local_aws::local_address(&config)?;
        let url = local_aws::ensure_running(sh, address, &config)?;
        eprintln!("    ok  local AWS emulator at {url}");
        summary.push((
            "local aws".to_owned(),
            State::Unchanged,
            local_started.elapsed(),
        ));
    }

    let bin = binaries(sh)?;
    let mut failure: Option<String> = None;
    // What the user looks at last: the image deployed and where the app and Grafana answer.
    let mut outcome: Vec<String> = Vec::new();
    for step in steps(args) {
        if failure.is_some() {
            summary.push((step.name.to_owned(), State::NotRun, Duration::ZERO));
            continue;
        }
        let absent: Vec<&Finding> = step.needs.iter().filter_map(|tool| missing(tool)).collect();
        if !absent.is_empty() {
            let names: Vec<&str> = absent.iter().map(|finding| finding.tool.name).collect();
            let hints: Vec<String> = absent
                .iter()
                .map(|finding| format!("{}: {}", finding.tool.name, finding.tool.install))
                .collect();
            failure = Some(format!(
                "bootstrap stopped before {}: {} missing ({})",
                step.name,
                names.join(", "),
                hints.join("; ")
            ));
            summary.push((
                step.name.to_owned(),
                State::Blocked(names.join(", ")),
                Duration::ZERO,
            ));
            continue;
        }
        let mut command = step_command(&bin, step.binary, &config, environment, step.args);
        let (output, elapsed) = progress::run(step.name, &mut command)
            .with_context(|| format!("run {}", step.binary))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        outcome.extend(
            stdout
                .lines()
                .filter(|line| {
                    OUTCOME_PREFIXES
                        .iter()
                        .any(|prefix| line.starts_with(prefix))
                })
                .map(str::to_owned),
        );
        if args.verbose || args.plan_only || !output.status.success() {
            print!("{stdout}");
            eprint!("{stderr}");
        }
        let state = if !output.status.success() {
            failure = Some(format!(
                "bootstrap stopped at {}: {}",
                step.name,
                stderr.lines().last().unwrap_or("failed")
            ));
            State::Failed
        } else if unchanged(&step, &stdout) {
            State::Unchanged
        } else {
            State::Changed
        };
        summary.push((step.name.to_owned(), state, elapsed));
    }

    print_summary(environment, &summary, started.elapsed());
    for line in &outcome {
        println!("{line}");
    }
    match failure {
        Some(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::FAILURE)
        }
        None => {
            let changed = summary
                .iter()
                .skip(1)
                .any(|(_, state, _)| matches!(state, State::Changed));
            if changed {
                println!("Bootstrap of {environment} complete.");
            } else {
                println!("Bootstrap of {environment} complete: nothing changed.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn step_command(
    bin: &Path,
    binary: &str,
    config: &Path,
    environment: &str,
    args: &[&str],
) -> Command {
    let mut command = Command::new(bin.join(binary));
    // Charts and manifests are found relative to the repository, whatever the caller's directory;
    // `apps-sre build --local` runs cargo, which must see what a cargo typed by hand sees.
    (&mut command)
        .without_cargo_run_variables()
        .current_dir(crate::project::root())
        .arg("--config")
        .arg(config)
        .args(["--env", environment])
        .args(args)
        .stdin(Stdio::null());
    command
}

fn print_summary(environment: &str, summary: &[(String, State, Duration)], total: Duration) {
    println!("\nBootstrap of {environment}:");
    println!("  {:<18} {:<32} {:>8}", "step", "state", "seconds");
    for (name, state, elapsed) in summary {
        println!(
            "  {name:<18} {:<32} {:>8.1}",
            state.label(),
            elapsed.as_secs_f64()
        );
    }
    println!("  {:<18} {:<32} {:>8.1}", "total", "", total.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str) -> Step {
        step_in("local", name)
    }

    fn names_in(environment: &str) -> Vec<&'static str> {
        steps(&args_in(environment))
            .iter()
            .map(|step| step.name)
            .collect()
    }

    fn step_in(environment: &str, name: &str) -> Step {
        steps(&args_in(environment))
            .into_iter()
            .find(|step| step.name == name)
            .unwrap_or_else(|| panic!("no step {name}"))
    }

    #[test]
    fn local_seeds_and_builds_into_its_registry_other_environments_pull_with_the_secret() {
        assert_eq!(
            names_in("local"),
            [
                "infra apply",
                "backend config",
                "cluster create",
                "cluster validate",
                "secret seed",
                "build",
                "secrets sync",
                "deploy"
            ]
        );
        assert_eq!(
            names_in("dev"),
            [
                "infra apply",
                "backend config",
                "secret check",
                "cluster create",
                "cluster validate",
                "build",
                "pull secret",
                "secrets sync",
                "deploy"
            ]
        );
    }

    fn args_in(environment: &str) -> Args {
        Args {
            environment: environment.to_owned(),
            config: PathBuf::from("shopstack.toml"),
            skip_cluster: false,
            skip_apps: false,
            plan_only: false,
            verbose: false,
        }
    }

    #[test]
    fn a_step_is_unchanged_only_in_its_own_words() {
        // deploy mentions the app Secret unchanged while it upgrades its releases.
        let deploy =
            "secret shopstack/app-config unchanged from shopstack/local/app-config (1 keys)\n";
        assert!(!unchanged(&step("deploy"), deploy));
        assert!(unchanged(&step("secrets sync"), deploy));
        let pull = |secret: &str, account: &str| {
            format!(
                "secret shopstack/ecr-pull: {secret} for r; serviceaccount shopstack/default: {account}\n"
            )
        };
        assert!(unchanged(
            &step_in("dev", "pull secret"),
            &pull("fresh, 0h01m old", "already attached")
        ));
        assert!(!unchanged(
            &step_in("dev", "pull secret"),
            &pull("fresh, 0h01m old", "attached")
        ));
        assert!(!unchanged(
            &step_in("dev", "pull secret"),
            &pull("created", "attached")
        ));
        assert!(unchanged(&step("cluster validate"), ""));
        assert!(unchanged(
            &step("infra apply"),
            "No changes. The live resources match the configuration.\n"
        ));
    }
}
