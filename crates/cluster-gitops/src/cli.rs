//! Command line of `cluster-gitops`: flags, subcommands and their dispatch.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use shopstack_core::Exit;
use shopstack_core::Names;
use shopstack_core::cli::GlobalArgs;
use shopstack_core::error_chain::error_chain;
use xshell::Shell;

use crate::cluster::{self, ClusterRef, CreateOptions, Outcome};
use crate::kind_config::{KindConfig, LoadOptions};
use crate::kubeconfig::{self, Connection, Target};
use crate::repeat::{self, RunRecord, Summary};
use crate::{kind, registry, sync, validate};

/// Create, validate and repeat-test the ShopStack Kind cluster; apply GitOps manifests.
#[derive(Debug, Parser)]
#[command(name = "cluster-gitops", version)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which cluster to talk to through the Kubernetes API.
#[derive(Debug, Clone, clap::Args)]
struct KubeArgs {
    /// kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: kind-<project>).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Give up when the API server has not answered within this time (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
}

/// The kind configuration and how long to wait for readiness.
#[derive(Debug, Clone, clap::Args)]
struct CreateArgs {
    /// Kind cluster configuration.
    #[arg(long, default_value = "kind-config.yaml", value_name = "FILE")]
    kind_config: PathBuf,
    /// How long to wait for every node Ready and CoreDNS ready (e.g. 90s, 5m, 2m30s).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    wait: Duration,
    /// Accept an API server address or port mapping listening off loopback.
    #[arg(long)]
    allow_public: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the Kind cluster from kind-config.yaml and wait until it is ready.
    Create {
        #[command(flatten)]
        create: CreateArgs,
        /// Delete and create again when the stored spec differs.
        #[arg(long)]
        recreate: bool,
    },
    /// Delete the Kind cluster, and its local registry container when kind-config.yaml has one.
    Delete {
        /// Kind cluster configuration saying whether there is a local registry.
        #[arg(long, default_value = "kind-config.yaml", value_name = "FILE")]
        kind_config: PathBuf,
    },
    /// Show whether the cluster exists, answers and matches kind-config.yaml; exit 1 if not.
    Status {
        /// Kind cluster configuration to compare with.
        #[arg(long, default_value = "kind-config.yaml", value_name = "FILE")]
        kind_config: PathBuf,
    },
    /// Check that every node is Ready and CoreDNS is running; exit 1 naming what is not.
    Validate {
        #[command(flatten)]
        kube: KubeArgs,
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the cluster's kubeconfig with mode 0600 (default: merged into the default kubeconfig).
    Kubeconfig {
        /// Write a standalone kubeconfig to this file instead.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Server-side apply (field manager `shopstack`) every manifest in a directory.
    Sync {
        /// Directory of manifests (*.yaml, *.yml, *.json; read recursively).
        dir: PathBuf,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// Create, validate and delete the cluster N times, logging each run as a JSON line.
    RepeatTest {
        /// Number of runs.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Log file, one JSON line appended per run.
        #[arg(long, default_value = "repeat.log", value_name = "FILE")]
        log: PathBuf,
        /// Go on after a failed run (default: stop at the first).
        #[arg(long)]
        keep_going: bool,
        #[command(flatten)]
        create: CreateArgs,
        /// Time allowed for the validate phase of each run.
        #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
        timeout: Duration,
    },
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
    let names = Names::new(&config.project, &environment.name, "");
    let cluster = ClusterRef {
        name: names.cluster(),
        context: names.kube_context(),
    };
    let sh = Shell::new().context("start a shell")?;
    match cli.command {
        Command::Create { create, recreate } => {
            run_create(&sh, &cluster, &create_options(&create, recreate)).await
        }
        Command::Delete { kind_config } => {
            // A configuration that no longer loads must not keep the cluster from going.
            let with_registry = KindConfig::load(&kind_config, LoadOptions { allow_public: true })
                .is_ok_and(|config| registry::wanted(&config));
            let registry_removed =
                cluster::delete(&sh, &cluster, with_registry).context("delete kind cluster")?;
            println!("kind cluster \"{}\" deleted", cluster.name);
            if registry_removed {
                println!("local registry {} removed", registry::CONTAINER);
            }
            Ok(Exit::Success)
        }
        Command::Status { kind_config } => run_status(&sh, &cluster, &kind_config).await,
        Command::Validate { kube, json } => run_validate(&cluster, &kube, json).await,
        Command::Kubeconfig { out } => run_kubeconfig(&sh, &cluster, out.as_deref()),
        Command::Sync { dir, kube } => run_sync(&cluster, &dir, &kube).await,
        Command::RepeatTest {
            runs,
            log,
            keep_going,
            create,
            timeout,
        } => {
            run_repeat(
                &sh,
                &cluster,
                &RepeatArgs {
                    runs,
                    log,
                    keep_going,
                    create: create_options(&create, false),
                    timeout,
                },
            )
            .await
        }
    }
}

fn create_options(create: &CreateArgs, recreate: bool) -> CreateOptions {
    CreateOptions {
        kind_config: create.kind_config.clone(),
        wait: create.wait,
        recreate,
        allow_public: create.allow_public,
    }
}

fn target(cluster: &ClusterRef, kube: &KubeArgs) -> Target {
    Target {
        kubeconfig: kube.kubeconfig.clone(),
        context: kube
            .context
            .clone()
            .unwrap_or_else(|| cluster.context.clone()),
    }
}

async fn run_create(
    sh: &Shell,
    cluster: &ClusterRef,
    options: &CreateOptions,
) -> anyhow::Result<Exit> {
    let (outcome, report) = cluster::create(sh, cluster, options)
        .await
        .context("create")?;
    print!("{}", report.table());
    println!(
        "kind cluster \"{}\" {} and ready (context {})",
        cluster.name,
        match outcome {
            Outcome::Created => "created",
            Outcome::Unchanged => "unchanged",
            Outcome::Recreated => "recreated",
        },
        cluster.context
    );
    Ok(Exit::Success)
}

async fn run_validate(cluster: &ClusterRef, kube: &KubeArgs, json: bool) -> anyhow::Result<Exit> {
    let target = target(cluster, kube);
    let connection = target.connect().await.context("validate")?;
    let report = validate::check(&connection, kube.timeout)
        .await
        .context("validate")?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("render the report")?
        );
    } else {
        print!("{}", report.table());
    }
    if report.passed() {
        if !json {
            println!("{} (context {})", report.summary(), report.context);
        }
        return Ok(Exit::Success);
    }
    for problem in &report.problems {
        eprintln!("error: {problem}");
    }
    Ok(Exit::Failure)
}

async fn run_status(sh: &Shell, cluster: &ClusterRef, kind_config: &Path) -> anyhow::Result<Exit> {
    let spec = cluster::load_spec(cluster, kind_config, true).context("status")?;
    kind::check_tools(sh).context("status")?;
    if !kind::exists(sh, &cluster.name).context("status")? {
        println!("kind cluster \"{}\": absent", cluster.name);
        return Ok(Exit::Failure);
    }
    println!("kind cluster \"{}\": exists", cluster.name);
    let connection = cluster.target().connect().await.context("status")?;
    let report = match validate::check(&connection, Duration::from_secs(10)).await {
        Ok(report) => report,
        Err(error) => {
            println!("API server: {}", error_chain(&error));
            return Ok(Exit::Failure);
        }
    };
    println!("API server: {} answers", report.server);
    println!("readiness: {}", report.summary());
    let stored = crate::spec::stored_hash(&connection, &cluster.name)
        .await
        .context("status")?;
    println!(
        "spec: {}",
        match stored {
            Some(hash) if hash == spec.hash => format!("matches {}", kind_config.display()),
            Some(hash) => format!(
                "differs from {} (stored sha256 {hash}): create --recreate applies it",
                kind_config.display()
            ),
            None => "none stored (not created by cluster-gitops)".to_owned(),
        }
    );
    let registry_ok = if registry::wanted(&spec.config) {
        let line = registry_status(sh, &connection).await;
        println!("local registry: {}", line.0);
        line.1
    } else {
        true
    };
    cluster::warn_loose_kubeconfigs();
    Ok(if report.passed() && registry_ok {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// The local registry's state on one line, and whether it is all well: the container runs, it
/// answers, and the cluster announces it.
async fn registry_status(sh: &Shell, connection: &Connection) -> (String, bool) {
    let running = match registry::container_state(sh) {
        Ok(Some(true)) => true,
        Ok(Some(false)) => {
            return (
                format!(
                    "container {} stopped: create starts it",
                    registry::CONTAINER
                ),
                false,
            );
        }
        Ok(None) => {
            return (
                format!("container {} absent: create starts it", registry::CONTAINER),
                false,
            );
        }
        Err(error) => return (error_chain(&error), false),
    };
    let answers = running && registry::answers();
    let announced = registry::announced(connection).await;
    let announcement = match &announced {
        Ok(true) => format!(
            "announced in {}/{}",
            registry::HOSTING_NAMESPACE,
            registry::HOSTING_NAME
        ),
        Ok(false) => format!(
            "not announced ({}/{} missing or different: create writes it)",
            registry::HOSTING_NAMESPACE,
            registry::HOSTING_NAME
        ),
        Err(error) => error_chain(error),
    };
    (
        format!(
            "{} on 127.0.0.1:{} {}; {announcement}",
            registry::CONTAINER,
            registry::HOST_PORT,
            if answers {
                "answers"
            } else {
                "does not answer"
            },
        ),
        answers && matches!(announced, Ok(true)),
    )
}

fn run_kubeconfig(sh: &Shell, cluster: &ClusterRef, out: Option<&Path>) -> anyhow::Result<Exit> {
    match out {
        Some(path) => {
            let text = kind::kubeconfig(sh, &cluster.name).context("get the kubeconfig")?;
            kubeconfig::write_private(path, &text)?;
            println!(
                "wrote {} (mode 0600, context {})",
                path.display(),
                cluster.context
            );
            cluster::warn_loose_kubeconfigs();
        }
        None => {
            kind::export_kubeconfig(sh, &cluster.name).context("export the kubeconfig")?;
            cluster::harden_default_kubeconfig()?;
            let path = kubeconfig::default_path()?;
            println!(
                "exported context {} to {} (mode 0600)",
                cluster.context,
                path.display()
            );
        }
    }
    Ok(Exit::Success)
}

async fn run_sync(cluster: &ClusterRef, dir: &Path, kube: &KubeArgs) -> anyhow::Result<Exit> {
    let manifests = sync::read_dir(dir).context("sync")?;
    let connection = target(cluster, kube).connect().await.context("sync")?;
    let mut applied = Vec::new();
    let result = tokio::time::timeout(
        kube.timeout,
        sync::apply(&connection, &manifests, &mut applied),
    )
    .await
    .map_err(|_| validate::ValidateError::Timeout {
        server: connection.server.clone(),
        timeout: kube.timeout,
    });
    for object in &applied {
        println!(
            "applied {} {} ({})",
            object.kind,
            object.name,
            object.file.display()
        );
    }
    let stopped = || match applied.len() {
        0 => "sync".to_owned(),
        count => format!(
            "sync: stopped after {count} of {} objects (the applied ones are listed above)",
            manifests.len()
        ),
    };
    result.with_context(stopped)?.with_context(stopped)?;
    println!(
        "{} objects applied to {} (field manager {})",
        applied.len(),
        connection.server,
        crate::FIELD_MANAGER
    );
    Ok(Exit::Success)
}

struct RepeatArgs {
    runs: u32,
    log: PathBuf,
    keep_going: bool,
    create: CreateOptions,
    timeout: Duration,
}

async fn run_repeat(sh: &Shell, cluster: &ClusterRef, args: &RepeatArgs) -> anyhow::Result<Exit> {
    // Check everything that would fail every run before the first one.
    cluster::load_spec(cluster, &args.create.kind_config, args.create.allow_public)
        .context("repeat-test")?;
    kind::check_tools(sh).context("repeat-test")?;
    if kind::exists(sh, &cluster.name).context("repeat-test")? {
        anyhow::bail!(
            "repeat-test: kind cluster \"{}\" already exists and every run deletes it: delete it first (cluster-gitops delete)",
            cluster.name
        );
    }
    let records = repeat::run_all(args.runs, args.keep_going, &args.log, |run| {
        one_run(sh, cluster, args, run)
    })
    .await?;
    let summary = Summary::of(&records);
    print!("{}", summary.render());
    println!("log: {}", args.log.display());
    if records.len() < usize::try_from(args.runs).unwrap_or(usize::MAX) {
        eprintln!(
            "stopped after run {} failed (--keep-going runs them all)",
            records.len()
        );
    }
    Ok(if summary.all_passed() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

async fn one_run(sh: &Shell, cluster: &ClusterRef, args: &RepeatArgs, run: u32) -> RunRecord {
    eprintln!("== run {run}/{}", args.runs);
    let mut record = RunRecord {
        run,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
        create_seconds: None,
        validate_seconds: None,
        delete_seconds: None,
        passed: false,
        error: None,
    };
    let started = Instant::now();
    let created = cluster::create(sh, cluster, &args.create).await;
    record.create_seconds = Some(seconds(started));
    let mut error = created
        .err()
        .map(|error| format!("create: {}", error_chain(&error)));

    if error.is_none() {
        let started = Instant::now();
        let checked = match cluster.target().connect().await {
            Ok(connection) => validate::check(&connection, args.timeout)
                .await
                .map_err(|error| error_chain(&error)),
            Err(error) => Err(error_chain(&error)),
        };
        record.validate_seconds = Some(seconds(started));
        error = match checked {
            Ok(report) if report.passed() => None,
            Ok(report) => Some(format!("validate: {}", report.problems.join("; "))),
            Err(line) => Some(format!("validate: {line}")),
        };
    }

    // Delete whatever happened, so the next run starts from nothing.
    let started = Instant::now();
    // The local registry stays for the next run (create starts it when it is missing).
    let deleted = cluster::delete(sh, cluster, false);
    record.delete_seconds = Some(seconds(started));
    if let Err(delete_error) = deleted {
        error.get_or_insert_with(|| format!("delete: {}", error_chain(&delete_error)));
    }

    record.passed = error.is_none();
    match &error {
        None => eprintln!("run {run}: passed"),
        Some(line) => eprintln!("run {run}: FAILED: {line}"),
    }
    record.error = error;
    record
}

fn seconds(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}
