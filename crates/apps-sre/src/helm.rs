//! The `helm` command line: repository setup, vendored chart checks, `upgrade --install --atomic
//! --wait`, `template`, release listing.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use shopstack_core::command::{self, CommandError};
use thiserror::Error;
use xshell::{Shell, cmd};

use crate::releases::{Chart, Release, Vendored};
use cluster_gitops::kubeconfig::Target as KubeTarget;

/// How to get helm, shown when it is missing.
pub const INSTALL_HELM: &str = "install helm 3 (helm.sh/docs/intro/install)";

/// Errors from running `helm`.
#[derive(Debug, Error)]
pub enum HelmError {
    /// helm is not on PATH.
    #[error("helm is not installed (not found on PATH): {INSTALL_HELM}")]
    Missing,
    /// A file the release needs is not there.
    #[error("{}: {what} not found (run from the repository root)", path.display())]
    FileMissing {
        /// The chart directory or values file.
        path: std::path::PathBuf,
        /// `chart` or `values file`.
        what: &'static str,
    },
    /// A vendored chart archive is not the one pinned.
    #[error(
        "{}: sha256 {actual}, expected {expected}: the vendored chart was changed (repackage it as deploy/observability/README.md says, and pin the new checksum)",
        path.display()
    )]
    ChecksumMismatch {
        /// The archive.
        path: std::path::PathBuf,
        /// Its checksum.
        actual: String,
        /// The pinned checksum.
        expected: String,
    },
    /// A vendored chart archive could not be read.
    #[error("{}: {source}", path.display())]
    Unreadable {
        /// The archive.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// helm could not run, or ran and failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// `helm list --output json` printed something else.
    #[error("`{command}` printed no release list: {message}")]
    BadOutput {
        /// The command line.
        command: String,
        /// The parser's message.
        message: String,
    },
}

/// Whether an executable called `name` is on `PATH`.
pub fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(name))
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
}

/// Checks that helm is installed.
pub fn check_installed() -> Result<(), HelmError> {
    if on_path("helm") {
        Ok(())
    } else {
        Err(HelmError::Missing)
    }
}

/// Checks that `root/path` is a chart directory.
pub fn check_chart(root: &Path, path: &Path) -> Result<(), HelmError> {
    if root.join(path).join("Chart.yaml").is_file() {
        Ok(())
    } else {
        Err(HelmError::FileMissing {
            path: path.to_path_buf(),
            what: "chart",
        })
    }
}

/// Checks that the chart directory or vendored archive (its checksum too) and the values files
/// of `release` exist under `root`.
pub fn check_files(root: &Path, release: &Release) -> Result<(), HelmError> {
    match &release.chart {
        Chart::Local { path } => check_chart(root, path)?,
        Chart::Repository {
            vendored: Some(vendored),
            ..
        } => check_archive(root, vendored)?,
        Chart::Repository { vendored: None, .. } => {}
    }
    for file in &release.values_files {
        if !root.join(file).is_file() {
            return Err(HelmError::FileMissing {
                path: file.clone(),
                what: "values file",
            });
        }
    }
    Ok(())
}

/// Checks that the vendored archive is there and has its pinned SHA-256.
pub fn check_archive(root: &Path, vendored: &Vendored) -> Result<(), HelmError> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(root.join(&vendored.archive)).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            HelmError::FileMissing {
                path: vendored.archive.clone(),
                what: "chart archive",
            }
        } else {
            HelmError::Unreadable {
                path: vendored.archive.clone(),
                source,
            }
        }
    })?;
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if actual == vendored.sha256 {
        Ok(())
    } else {
        Err(HelmError::ChecksumMismatch {
            path: vendored.archive.clone(),
            actual,
            expected: vendored.sha256.clone(),
        })
    }
}

/// `helm repo add NAME URL --force-update`: adds the repository or refreshes its index.
pub fn repo_add(sh: &Shell, name: &str, url: &str) -> Result<(), HelmError> {
    run(
        sh,
        &["repo", "add", name, url, "--force-update"].map(OsString::from),
    )
    .map(drop)
}

/// The arguments of `helm upgrade --install` for `release` (chart paths relative to `root`).
pub fn upgrade_args(
    root: &Path,
    release: &Release,
    kube: &KubeTarget,
    timeout: Duration,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["upgrade".into(), "--install".into()];
    args.extend(release_args(root, release));
    args.extend(atomic_args(kube, timeout));
    args
}

/// `--atomic --wait --timeout Ns` and the cluster's arguments.
fn atomic_args(kube: &KubeTarget, timeout: Duration) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--atomic".into(),
        "--wait".into(),
        "--timeout".into(),
        format!("{}s", timeout.as_secs()).into(),
    ];
    args.extend(kube_args(kube));
    args
}

/// `helm upgrade NAME CHART --reuse-values --atomic --wait`: `release` rendered again with the
/// values it was installed with (its own `set` and values files are not given).
pub fn upgrade_reusing_values(
    sh: &Shell,
    root: &Path,
    release: &Release,
    kube: &KubeTarget,
    timeout: Duration,
) -> Result<String, HelmError> {
    let mut args: Vec<OsString> = vec!["upgrade".into(), release.name.clone().into()];
    if let Chart::Local { path } = &release.chart {
        args.push(root.join(path).into_os_string());
    }
    args.extend([
        "--namespace".into(),
        release.namespace.clone().into(),
        "--reuse-values".into(),
    ]);
    args.extend(atomic_args(kube, timeout));
    run(sh, &args)
}

/// The arguments of `helm template` rendering `release` as `deploy` installs it (chart paths
/// relative to `root`).
pub fn template_args(root: &Path, release: &Release) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["template".into()];
    args.extend(release_args(root, release));
    args
}

/// The release name, its chart, namespace, values files and single values.
fn release_args(root: &Path, release: &Release) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![release.name.clone().into()];
    match &release.chart {
        Chart::Local { path } => args.push(root.join(path).into_os_string()),
        Chart::Repository {
            vendored: Some(vendored),
            ..
        } => args.push(root.join(&vendored.archive).into_os_string()),
        Chart::Repository {
            repo_name,
            chart,
            version,
            ..
        } => {
            args.push(format!("{repo_name}/{chart}").into());
            args.push("--version".into());
            args.push(version.into());
        }
    }
    args.extend([
        "--namespace".into(),
        release.namespace.clone().into(),
        "--create-namespace".into(),
    ]);
    for file in &release.values_files {
        args.push("--values".into());
        args.push(root.join(file).into_os_string());
    }
    for (key, value) in &release.set {
        args.push("--set".into());
        args.push(format!("{key}={value}").into());
    }
    args
}

fn kube_args(kube: &KubeTarget) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--kube-context".into(), kube.context.clone().into()];
    if let Some(path) = &kube.kubeconfig {
        args.push("--kubeconfig".into());
        args.push(path.clone().into_os_string());
    }
    args
}

/// `helm upgrade --install … --atomic --wait`: installs or upgrades `release`, rolling back on
/// failure. Returns helm's output (the release notes).
pub fn upgrade(
    sh: &Shell,
    root: &Path,
    release: &Release,
    kube: &KubeTarget,
    timeout: Duration,
) -> Result<String, HelmError> {
    run(sh, &upgrade_args(root, release, kube, timeout))
}

/// One line of `helm list --output json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseInfo {
    /// The release name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its revision number.
    pub revision: String,
    /// `deployed`, `failed`, `pending-install`, …
    pub status: String,
    /// `CHART-VERSION`.
    pub chart: String,
    /// The application version of the chart.
    #[serde(default)]
    pub app_version: String,
}

/// `helm list --all --namespace NS --output json`.
pub fn list(sh: &Shell, namespace: &str, kube: &KubeTarget) -> Result<Vec<ReleaseInfo>, HelmError> {
    let mut args: Vec<OsString> = [
        "list",
        "--all",
        "--namespace",
        namespace,
        "--output",
        "json",
    ]
    .map(OsString::from)
    .to_vec();
    args.extend(kube_args(kube));
    let output = run(sh, &args)?;
    serde_json::from_str(output.trim()).map_err(|error| HelmError::BadOutput {
        command: command_line(&args),
        message: error.to_string(),
    })
}

fn command_line(args: &[OsString]) -> String {
    let mut line = String::from("helm");
    for arg in args {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `helm ARGS`, returning its standard output; a failure carries helm's `Error:` line.
fn run(sh: &Shell, args: &[OsString]) -> Result<String, HelmError> {
    check_installed()?;
    let line = command_line(args);
    let captured = command::capture(cmd!(sh, "helm {args...}"), &line)?;
    let detail = captured
        .stderr
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("Error:").map(str::trim))
        .map(str::to_owned);
    Ok(captured.or_failed(&line, detail)?)
}
