//! The Helm releases ShopStack runs: the application chart shipped in the repository and the
//! kube-prometheus-stack, described once for `deploy` and `argocd render` alike.

use std::path::PathBuf;

use shopstack_core::Names;
use shopstack_core::names::OBSERVABILITY_NAMESPACE;

use crate::image::ImageRef;

/// The application chart, relative to the repository root.
pub const APP_CHART: &str = "deploy/charts/shopstack-app";
/// Values of the observability stack fitted to a Kind cluster, relative to the repository root.
pub const OBSERVABILITY_VALUES: &str = "deploy/observability/values.yaml";
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
    },
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

/// The application release: named after the project, in its namespace, running `image`.
pub fn app(names: &Names, image: &ImageRef) -> Release {
    Release {
        name: names.project().to_owned(),
        namespace: names.app_namespace(),
        chart: Chart::Local {
            path: PathBuf::from(APP_CHART),
        },
        values_files: Vec::new(),
        set: vec![
            ("image.repository".to_owned(), image.repository_uri.clone()),
            ("image.tag".to_owned(), image.tag.clone()),
        ],
    }
}

/// The observability release: kube-prometheus-stack with the Kind-fit values.
pub fn observability() -> Release {
    Release {
        name: KUBE_PROMETHEUS_STACK.to_owned(),
        namespace: OBSERVABILITY_NAMESPACE.to_owned(),
        chart: Chart::Repository {
            repo_name: PROMETHEUS_REPO_NAME.to_owned(),
            repo_url: PROMETHEUS_REPO_URL.to_owned(),
            chart: KUBE_PROMETHEUS_STACK.to_owned(),
            version: KUBE_PROMETHEUS_STACK_VERSION.to_owned(),
        },
        values_files: vec![PathBuf::from(OBSERVABILITY_VALUES)],
        set: Vec::new(),
    }
}
