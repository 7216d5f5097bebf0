//! `status`: the Helm releases ShopStack runs and the readiness of the pods in their namespaces.

use std::fmt::Write;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use thiserror::Error;

use crate::helm::ReleaseInfo;
use cluster_gitops::kubeconfig::Connection;

/// Errors from reading pods.
#[derive(Debug, Error)]
pub enum StatusError {
    /// Listing the pods of a namespace failed.
    #[error("list pods in namespace {namespace} on {server}")]
    Pods {
        /// The namespace.
        namespace: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// A release as expected and as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    /// The release name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// helm's status (`deployed`, `failed`, …), or `missing`.
    pub status: String,
    /// `CHART-VERSION revision N`, empty when missing.
    pub detail: String,
}

impl ReleaseRow {
    /// Whether the release is deployed.
    pub fn ok(&self) -> bool {
        self.status == "deployed"
    }
}

/// A pod's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its phase, or the reason a container waits (e.g. `ImagePullBackOff`).
    pub state: String,
    /// `READY/DECLARED` containers.
    pub ready_containers: String,
    /// Container restarts, summed.
    pub restarts: i32,
    /// Not a problem: running with every container ready, completed, or a pod on its way out
    /// ([`PodRow::note`]).
    pub ok: bool,
    /// Why a pod that is not running counts for nothing (`left behind`, `on its way out`).
    pub note: Option<&'static str>,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One row per expected release.
    pub releases: Vec<ReleaseRow>,
    /// One row per pod.
    pub pods: Vec<PodRow>,
}

impl Report {
    /// Whether every release is deployed and every pod ready.
    pub fn passed(&self) -> bool {
        self.releases.iter().all(ReleaseRow::ok) && self.pods.iter().all(|pod| pod.ok)
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{:<8} {:<50} {:<20} DETAIL", "KIND", "NAME", "STATE");
        for release in &self.releases {
            let _ = writeln!(
                text,
                "{:<8} {:<50} {:<20} {}",
                "release",
                format!("{}/{}", release.namespace, release.name),
                release.status,
                release.detail
            );
        }
        for pod in &self.pods {
            let _ = writeln!(
                text,
                "{:<8} {:<50} {:<20} ready {} restarts {}{}",
                "pod",
                format!("{}/{}", pod.namespace, pod.name),
                pod.state,
                pod.ready_containers,
                pod.restarts,
                pod.note
                    .map(|note| format!(" ({note}, not counted)"))
                    .unwrap_or_default()
            );
        }
        text
    }
}

/// The row of `expected` (name, namespace) among the releases helm listed.
pub fn release_row(name: &str, namespace: &str, listed: &[ReleaseInfo]) -> ReleaseRow {
    match listed.iter().find(|release| release.name == name) {
        Some(release) => ReleaseRow {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            status: release.status.clone(),
            detail: format!("{} revision {}", release.chart, release.revision),
        },
        None => ReleaseRow {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            status: "missing".to_owned(),
            detail: String::new(),
        },
    }
}

/// Every pod of `namespace`, judged.
pub async fn pods(connection: &Connection, namespace: &str) -> Result<Vec<PodRow>, StatusError> {
    let api: Api<Pod> = Api::namespaced(connection.client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|source| StatusError::Pods {
            namespace: namespace.to_owned(),
            server: connection.server.clone(),
            source: Box::new(source),
        })?;
    Ok(list
        .items
        .iter()
        .map(|pod| pod_row(namespace, pod))
        .collect())
}

/// Judges one pod as kubectl shows it: running with every container ready, or completed (a
/// finished job), is fine; an evicted pod is left behind by its controller, which has replaced
/// it, and a terminating one is on its way out: both are shown but not counted.
pub fn pod_row(namespace: &str, pod: &Pod) -> PodRow {
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|status| status.phase.clone())
        .unwrap_or_else(|| "Unknown".to_owned());
    let containers = status
        .and_then(|status| status.container_statuses.as_ref())
        .cloned()
        .unwrap_or_default();
    let declared = pod
        .spec
        .as_ref()
        .map_or(containers.len(), |spec| spec.containers.len());
    let ready = containers
        .iter()
        .filter(|container| container.ready)
        .count();
    let waiting = containers.iter().find_map(|container| {
        container
            .state
            .as_ref()
            .and_then(|state| state.waiting.as_ref())
            .and_then(|waiting| waiting.reason.clone())
    });
    let reason = status.and_then(|status| status.reason.as_deref());
    let (state, ok, note) = if pod.metadata.deletion_timestamp.is_some() {
        ("Terminating".to_owned(), true, Some("on its way out"))
    } else if phase == "Succeeded" {
        ("Completed".to_owned(), true, None)
    } else if phase == "Failed" && reason == Some("Evicted") {
        ("Evicted".to_owned(), true, Some("left behind"))
    } else {
        let ok = phase == "Running" && declared > 0 && ready == declared;
        (waiting.unwrap_or(phase), ok, None)
    };
    PodRow {
        namespace: namespace.to_owned(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        state,
        ready_containers: format!("{ready}/{declared}"),
        restarts: containers
            .iter()
            .map(|container| container.restart_count)
            .sum(),
        ok,
        note,
    }
}
