//! The cluster's lifecycle: create (idempotent through the stored spec), wait until ready, delete.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shopstack_core::command::CommandError;
use shopstack_core::error_chain::error_chain;
use thiserror::Error;
use xshell::Shell;

use crate::kind::{self, KindError};
use crate::kind_config::{KindConfig, KindConfigError, LoadOptions};
use crate::kubeconfig::{self, Connection, KubeconfigError, Target};
use crate::registry::{self, RegistryError};
use crate::spec::{self, SpecError};
use crate::validate::{self, Report, ValidateError};
use shopstack_progress::Progress;

/// Where `kind export logs` writes after a failure, under the working directory.
pub const LOGS_DIR: &str = "kind-logs";
/// Longest single readiness check while waiting.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between readiness checks.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Time allowed for reading the stored spec of an existing cluster.
const SPEC_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of the cluster lifecycle.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// The kind configuration is invalid.
    #[error(transparent)]
    KindConfig(#[from] KindConfigError),
    /// The kind configuration names a different cluster than `shopstack.toml`.
    #[error(
        "{}: name: \"{written}\" differs from the cluster name \"{cluster}\" (project.name in the configuration): make them equal or drop name",
        file.display()
    )]
    NameMismatch {
        /// The kind configuration.
        file: PathBuf,
        /// The name it carries.
        written: String,
        /// The cluster name from the project configuration.
        cluster: String,
    },
    /// kind or docker failed or is missing.
    #[error(transparent)]
    Tool(#[from] KindError),
    /// The kubeconfig is unusable.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// The stored spec could not be read or written.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The API server did not answer or refused a request.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The cluster exists but was created from another spec.
    #[error(
        "kind cluster \"{name}\" exists but was created from {}: run create with --recreate to delete and create it again",
        stored.as_deref().map_or_else(|| "an unknown spec (no ConfigMap kube-public/shopstack-cluster-spec)".to_owned(), |hash| format!("another spec (sha256 {hash}, now {wanted})"))
    )]
    SpecChanged {
        /// The cluster.
        name: String,
        /// The stored hash, if any.
        stored: Option<String>,
        /// The hash of the configuration now.
        wanted: String,
    },
    /// `kind create cluster` failed.
    #[error("create kind cluster \"{name}\"{logs}")]
    CreateFailed {
        /// The cluster.
        name: String,
        /// Where the node logs went, or why they did not.
        logs: String,
        /// kind's failure.
        #[source]
        source: KindError,
    },
    /// The local registry could not be set up.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The cluster was created but did not become ready in time.
    #[error("cluster \"{name}\" not ready after {}: {problems}{logs}", humantime::format_duration(*wait))]
    NotReady {
        /// The cluster.
        name: String,
        /// How long we waited.
        wait: Duration,
        /// The failing checks (or the last API error), one line.
        problems: String,
        /// Where the node logs went, or why they did not.
        logs: String,
    },
}

/// The cluster a command acts on.
#[derive(Debug, Clone)]
pub struct ClusterRef {
    /// kind cluster name.
    pub name: String,
    /// Its kubeconfig context.
    pub context: String,
}

impl ClusterRef {
    /// The kubeconfig target kind writes for this cluster (default kubeconfig, kind context).
    pub fn target(&self) -> Target {
        Target {
            kubeconfig: None,
            context: self.context.clone(),
        }
    }
}

/// Options of [`create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The kind configuration file.
    pub kind_config: PathBuf,
    /// How long to wait for every node and CoreDNS to be ready.
    pub wait: Duration,
    /// Delete and create again when the stored spec differs.
    pub recreate: bool,
    /// Accept public listen addresses in the kind configuration.
    pub allow_public: bool,
}

/// What [`create`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Created a new cluster.
    Created,
    /// The cluster already existed with the same spec.
    Unchanged,
    /// Deleted a cluster of another spec and created it again.
    Recreated,
}

/// A loaded kind configuration with its text and hash.
pub struct Spec {
    /// The decoded configuration.
    pub config: KindConfig,
    /// The file's text, stored in the cluster.
    pub text: String,
    /// [`KindConfig::spec_hash`] for the cluster.
    pub hash: String,
}

/// Reads and checks the kind configuration for `cluster`.
pub fn load_spec(
    cluster: &ClusterRef,
    path: &Path,
    allow_public: bool,
) -> Result<Spec, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|source| KindConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config = KindConfig::parse(path, &text, LoadOptions { allow_public })?;
    if let Some(written) = config.name().filter(|written| *written != cluster.name) {
        return Err(ClusterError::NameMismatch {
            file: path.to_path_buf(),
            written: written.to_owned(),
            cluster: cluster.name.clone(),
        });
    }
    let hash = config.spec_hash(&cluster.name);
    Ok(Spec { config, text, hash })
}

/// Creates the cluster unless it exists with the same spec, then waits until it is ready and
/// records the spec. The kind configuration is checked before anything runs.
pub async fn create(
    sh: &Shell,
    cluster: &ClusterRef,
    options: &CreateOptions,
) -> Result<(Outcome, Report), ClusterError> {
    let spec = load_spec(cluster, &options.kind_config, options.allow_public)?;
    kind::check_tools(sh)?;
    let with_registry = registry::wanted(&spec.config);
    if with_registry {
        // First, so that a registry that cannot run stops create before the cluster exists.
        start_registry(sh)?;
    }
    let mut outcome = Outcome::Created;
    if kind::exists(sh, &cluster.name)? {
        let connection = cluster.target().connect().await?;
        let stored = read_stored_hash(&connection, &cluster.name).await?;
        if stored.as_deref() == Some(spec.hash.as_str()) {
            eprintln!(
                "kind cluster \"{}\" exists with the same spec: nothing to create",
                cluster.name
            );
            harden_default_kubeconfig()?;
            let report = wait_ready(cluster, &connection, options.wait, false, sh).await?;
            if with_registry {
                connect_registry(sh, cluster, &connection).await?;
            }
            return Ok((Outcome::Unchanged, report));
        }
        if !options.recreate {
            return Err(ClusterError::SpecChanged {
                name: cluster.name.clone(),
                stored,
                wanted: spec.hash,
            });
        }
        let progress = Progress::start(&format!(
            "deleting kind cluster \"{}\" (spec changed)",
            cluster.name
        ));
        kind::delete(sh, &cluster.name)?;
        progress.finish("deleted");
        outcome = Outcome::Recreated;
    }

    let progress = Progress::start(&format!(
        "creating kind cluster \"{}\" from {}",
        cluster.name,
        options.kind_config.display()
    ));
    let created = {
        let sh = sh.clone();
        let name = cluster.name.clone();
        let config = options.kind_config.clone();
        tokio::task::spawn_blocking(move || kind::create(&sh, &name, &config))
            .await
            .unwrap_or_else(|join| {
                Err(KindError::Command(CommandError::Failed {
                    command: "kind create cluster".to_owned(),
                    detail: join.to_string(),
                }))
            })
    };
    if let Err(error) = created {
        drop(progress);
        return Err(match error {
            KindError::AlreadyExists { .. }
            | KindError::ConfigRejected { .. }
            | KindError::DockerEngineDown { .. }
            | KindError::DockerMissing
            | KindError::KindMissing => ClusterError::Tool(error),
            error => ClusterError::CreateFailed {
                name: cluster.name.clone(),
                logs: export_logs(sh, &cluster.name),
                source: error,
            },
        });
    }
    progress.finish(&format!("kind cluster \"{}\" created", cluster.name));
    harden_default_kubeconfig()?;

    let connection = cluster.target().connect().await?;
    let report = wait_ready(cluster, &connection, options.wait, true, sh).await?;
    tokio::time::timeout(
        SPEC_TIMEOUT,
        spec::store(&connection, &spec.hash, &spec.text),
    )
    .await
    .map_err(|_| ValidateError::Timeout {
        server: connection.server.clone(),
        timeout: SPEC_TIMEOUT,
    })??;
    if with_registry {
        connect_registry(sh, cluster, &connection).await?;
    }
    Ok((outcome, report))
}

/// Starts the local registry container unless it runs, and says so.
fn start_registry(sh: &Shell) -> Result<(), ClusterError> {
    let started = registry::ensure_running(sh)?;
    eprintln!(
        "local registry {}: {} on 127.0.0.1:{} (images: {}/NAME:TAG)",
        registry::CONTAINER,
        started.as_str(),
        registry::HOST_PORT,
        registry::HOST
    );
    Ok(())
}

/// Connects the cluster to the local registry: the registry joins the `kind` network, every
/// node's containerd is told where `localhost:5001` images come from, and the cluster announces
/// the registry (KEP-1755).
async fn connect_registry(
    sh: &Shell,
    cluster: &ClusterRef,
    connection: &Connection,
) -> Result<(), ClusterError> {
    registry::join_kind_network(sh)?;
    registry::configure_nodes(sh, &cluster.name)?;
    registry::announce(connection).await?;
    eprintln!(
        "local registry announced in ConfigMap {}/{}",
        registry::HOSTING_NAMESPACE,
        registry::HOSTING_NAME
    );
    Ok(())
}

async fn read_stored_hash(
    connection: &Connection,
    cluster: &str,
) -> Result<Option<String>, ClusterError> {
    Ok(
        tokio::time::timeout(SPEC_TIMEOUT, spec::stored_hash(connection, cluster))
            .await
            .map_err(|_| ValidateError::Timeout {
                server: connection.server.clone(),
                timeout: SPEC_TIMEOUT,
            })??,
    )
}

/// Sets mode 0600 on the kubeconfig kind wrote to, and warns about any other loose kubeconfig.
pub fn harden_default_kubeconfig() -> Result<(), ClusterError> {
    let path = kubeconfig::default_path()?;
    if path.exists()
        && let Some(mode) = kubeconfig::harden(&path)?
    {
        eprintln!(
            "{}: mode {mode:04o} → 0600 (it holds cluster-admin credentials)",
            path.display()
        );
    }
    warn_loose_kubeconfigs();
    Ok(())
}

/// Prints a warning for every kubeconfig in use that group or others can read.
pub fn warn_loose_kubeconfigs() {
    for path in kubeconfig::default_paths().unwrap_or_default() {
        if let Some(warning) = kubeconfig::loose_mode_warning(&path) {
            eprintln!("{warning}");
        }
    }
}

/// Polls until every node and CoreDNS pod is ready, for at most `wait`. kind's own `--wait` only
/// watches the control plane, and exits 0 when it runs out of time. On failure, node logs are
/// exported when `export_on_failure`.
pub async fn wait_ready(
    cluster: &ClusterRef,
    connection: &Connection,
    wait: Duration,
    export_on_failure: bool,
    sh: &Shell,
) -> Result<Report, ClusterError> {
    let progress = Progress::start(&format!(
        "waiting for nodes and CoreDNS of \"{}\"",
        cluster.name
    ));
    let started = Instant::now();
    let mut last_problem;
    loop {
        let remaining = wait.saturating_sub(started.elapsed());
        let attempt = remaining.min(CHECK_TIMEOUT).max(Duration::from_secs(1));
        match validate::check(connection, attempt).await {
            Ok(report) if report.passed() => {
                progress.finish(&format!("ready: {}", report.summary()));
                return Ok(report);
            }
            Ok(report) => {
                progress.set_detail(&report.summary());
                last_problem = report.problems.join("; ");
            }
            Err(error) => {
                let line = error_chain(&error);
                progress.set_detail(&format!("API server not answering yet: {line}"));
                last_problem = line;
            }
        }
        let remaining = wait.saturating_sub(started.elapsed());
        if remaining.is_zero() {
            drop(progress);
            let logs = if export_on_failure {
                export_logs(sh, &cluster.name)
            } else {
                String::new()
            };
            return Err(ClusterError::NotReady {
                name: cluster.name.clone(),
                wait,
                problems: last_problem,
                logs,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(remaining)).await;
    }
}

/// Runs `kind export logs` into a new folder and says where (or why not), for an error message.
pub fn export_logs(sh: &Shell, name: &str) -> String {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let dir = Path::new(LOGS_DIR).join(format!("{name}-{stamp}"));
    match kind::export_logs(sh, name, &dir) {
        Ok(()) => format!(" (node logs exported to {})", dir.display()),
        Err(error) => format!(" (kind export logs failed too: {})", error_chain(&error)),
    }
}

/// Deletes the cluster (kind succeeds when it does not exist), and the local registry container
/// with it when `with_registry`; whether a registry was removed.
pub fn delete(sh: &Shell, cluster: &ClusterRef, with_registry: bool) -> Result<bool, ClusterError> {
    kind::check_tools(sh)?;
    kind::delete(sh, &cluster.name)?;
    if with_registry {
        return Ok(registry::remove(sh)?);
    }
    Ok(false)
}
