//! The Helm releases ShopStack runs: the application chart shipped in the repository and the
//! kube-prometheus-stack, described once for `deploy` and `argocd render` alike.

use std::path::PathBuf;

use shopstack_core::Names;
use shopstack_core::names::OBSERVABILITY_NAMESPACE;

use crate::exposure::KindPorts;
use crate::image::ImageRef;

/// The uid of the application's Grafana dashboard (the chart's `dashboards/shopstack-app.json`).
pub const APP_DASHBOARD_UID: &str = "shopstack-app";
/// The application chart, relative to the repository root.
pub const APP_CHART: &str = "deploy/charts/shopstack-app";
/// Values of the observability stack fitted to a Kind cluster, relative to the repository root.
pub const OBSERVABILITY_VALUES: &str = "deploy/observability/values.yaml";
/// The observability chart, vendored (packaged with its dependencies), relative to the
/// repository root: `deploy` needs no chart repository.
pub const KUBE_PROMETHEUS_STACK_ARCHIVE: &str =
    "deploy/observability/kube-prometheus-stack-67.8.0.tgz";
/// The SHA-256 of that archive (as `deploy/observability/CHART.sha256` records it): `deploy`
/// refuses an archive that differs.
pub const KUBE_PROMETHEUS_STACK_SHA256: &str =
    "d8783c8dd83045075e1808c50ac27b3d28ecb839fa5dae280bfbdef6037329ee";
/// Name of the Helm repository of the observability chart.
pub const PROMETHEUS_REPO_NAME: &str = "prometheus-community";
/// URL of that repository.
pub const PROMETHEUS_REPO_URL: &str = "https://prometheus-community.github.io/helm-charts";
/// The observability chart, and its release name.
pub const KUBE_PROMETHEUS_STACK: &str = "kube-prometheus-stack";
/// The pinned chart version: upgrades are deliberate.
pub const KUBE_PROMETHEUS_STACK_VERSION: &str = "67.8.0";

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chart {
    /// A chart directory in this repository.
    Local {
        /// Its path, relative to the repository root.
        path: PathBuf,
    },
    /// A chart in a Helm repository.
    Repository {
        /// The local name of the repository (`helm repo add NAME`).
        repo_name: String,
        /// The repository URL.
        repo_url: String,
        /// The chart name.
        chart: String,
        /// The pinned version.
        version: String,
        /// The same chart packaged in this repository, which `helm` installs instead of
        /// reaching the repository (Argo CD still fetches it from `repo_url`).
        vendored: Option<Vendored>,
    },
}

/// A chart archive (`helm package`) kept in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendored {
    /// Its path, relative to the repository root.
    pub archive: PathBuf,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// One Helm release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The release name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its chart.
    pub chart: Chart,
    /// Values files, relative to the repository root, in order.
    pub values_files: Vec<PathBuf>,
    /// Single values (`--set KEY=VALUE`): never secrets.
    pub set: Vec<(String, String)>,
}

/// How the application release is fitted to where it runs.
#[derive(Debug, Clone, Copy)]
pub struct AppOptions<'a> {
    /// The Kind cluster's ports, when it runs there: its Service is then the NodePort the
    /// cluster maps to the host.
    pub kind: Option<&'a KindPorts>,
    /// Whether the image is pulled with the ECR pull secret (else from a registry that needs
    /// none: the local one).
    pub pull_secret: bool,
    /// The `app-config` Secret's resource version: the pods roll when it changes.
    pub config_version: Option<&'a str>,
}

impl Default for AppOptions<'_> {
    fn default() -> Self {
        Self {
            kind: None,
            pull_secret: true,
            config_version: None,
        }
    }
}

/// The application release: named after the project, in its namespace, running `image`, fitted
/// by `options`.
pub fn app(names: &Names, image: &ImageRef, options: &AppOptions<'_>) -> Release {
    let mut set = vec![
        ("image.repository".to_owned(), image.repository_uri.clone()),
        ("image.tag".to_owned(), image.tag.clone()),
        ("environment".to_owned(), names.environment().to_owned()),
    ];
    if !options.pull_secret {
        set.push(("imagePullSecrets".to_owned(), "null".to_owned()));
    }
    if let Some(version) = options.config_version {
        set.push(("configVersion".to_owned(), version.to_owned()));
    }
    if let Some(kind) = options.kind {
        set.extend(node_port("service", kind.app.node_port));
    }
    Release {
        name: names.project().to_owned(),
        namespace: names.app_namespace(),
        chart: Chart::Local {
            path: PathBuf::from(APP_CHART),
        },
        values_files: Vec::new(),
        set,
    }
}

/// `PREFIX.type=NodePort` and `PREFIX.nodePort=PORT`.
fn node_port(prefix: &str, port: i32) -> [(String, String); 2] {
    [
        (format!("{prefix}.type"), "NodePort".to_owned()),
        (format!("{prefix}.nodePort"), port.to_string()),
    ]
}

/// The observability release: kube-prometheus-stack with the Kind-fit values; on a Kind cluster
/// (`kind`), Grafana's Service is the NodePort the cluster maps to the host.
pub fn observability(kind: Option<&KindPorts>) -> Release {
    Release {
        name: KUBE_PROMETHEUS_STACK.to_owned(),
        namespace: OBSERVABILITY_NAMESPACE.to_owned(),
        chart: Chart::Repository {
            repo_name: PROMETHEUS_REPO_NAME.to_owned(),
            repo_url: PROMETHEUS_REPO_URL.to_owned(),
            chart: KUBE_PROMETHEUS_STACK.to_owned(),
            version: KUBE_PROMETHEUS_STACK_VERSION.to_owned(),
            vendored: Some(Vendored {
                archive: PathBuf::from(KUBE_PROMETHEUS_STACK_ARCHIVE),
                sha256: KUBE_PROMETHEUS_STACK_SHA256.to_owned(),
            }),
        },
        values_files: vec![PathBuf::from(OBSERVABILITY_VALUES)],
        set: kind
            .map(|kind| node_port("grafana.service", kind.grafana.node_port).to_vec())
            .unwrap_or_default(),
    }
}
