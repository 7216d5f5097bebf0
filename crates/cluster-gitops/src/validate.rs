//! Readiness through the Kubernetes API: every node `Ready=True`, every CoreDNS pod running and ready.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;
use thiserror::Error;

use crate::kubeconfig::Connection;

/// Namespace of the cluster DNS pods.
pub const DNS_NAMESPACE: &str = "kube-system";
/// Label selector of the cluster DNS pods (CoreDNS keeps kube-dns's label).
pub const DNS_SELECTOR: &str = "k8s-app=kube-dns";

/// Errors from asking the API server.
#[derive(Debug, Error)]
pub enum ValidateError {
    /// The API server did not answer in time.
    #[error("the API server at {server} did not answer within {}", humantime::format_duration(*timeout))]
    Timeout {
        /// Its URL.
        server: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A request failed (refused connection, TLS, authorisation, an error status).
    #[error("{what} at {server}")]
    Api {
        /// The request, e.g. "list nodes".
        what: &'static str,
        /// The API server URL.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// The state of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeState {
    /// Node name.
    pub name: String,
    /// Whether its `Ready` condition is `True`.
    pub ready: bool,
    /// `Ready`, or `NotReady` with the condition's reason and message.
    pub status: String,
    /// Roles from the `node-role.kubernetes.io/*` labels.
    pub roles: String,
    /// kubelet version.
    pub version: String,
}

/// The state of one CoreDNS pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodState {
    /// Pod name.
    pub name: String,
    /// Node it runs on.
    pub node: String,
    /// `Running`, or what keeps it from running (`CrashLoopBackOff`, `Pending`, …).
    pub status: String,
    /// Ready containers over all containers, like `1/1`.
    pub ready_containers: String,
    /// Restarts of all its containers.
    pub restarts: i32,
    /// Whether it is running with every container ready.
    pub ready: bool,
}

/// What was checked and what failed.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The API server asked.
    pub server: String,
    /// The kubeconfig context used.
    pub context: String,
    /// Every node.
    pub nodes: Vec<NodeState>,
    /// Every CoreDNS pod.
    pub dns_pods: Vec<PodState>,
    /// One line per failure; empty when the cluster is ready.
    pub problems: Vec<String>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// A short line for progress output: `nodes 1/2 ready, CoreDNS 0/2 ready`.
    pub fn summary(&self) -> String {
        format!(
            "nodes {}/{} ready, CoreDNS {}/{} ready",
            self.nodes.iter().filter(|node| node.ready).count(),
            self.nodes.len(),
            self.dns_pods.iter().filter(|pod| pod.ready).count(),
            self.dns_pods.len()
        )
    }

    /// The checks as an aligned text table.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "KIND".to_owned(),
            "NAME".to_owned(),
            "STATUS".to_owned(),
            "DETAIL".to_owned(),
            "CHECK".to_owned(),
        ]];
        for node in &self.nodes {
            rows.push([
                "node".to_owned(),
                node.name.clone(),
                node.status.clone(),
                format!("{} {}", node.roles, node.version),
                verdict(node.ready),
            ]);
        }
        for pod in &self.dns_pods {
            rows.push([
                "coredns".to_owned(),
                pod.name.clone(),
                pod.status.clone(),
                format!(
                    "ready {} restarts {} on {}",
                    pod.ready_containers, pod.restarts, pod.node
                ),
                verdict(pod.ready),
            ]);
        }
        let mut widths = [0; 5];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

fn verdict(ok: bool) -> String {
    if ok { "ok" } else { "FAIL" }.to_owned()
}

/// Lists nodes and CoreDNS pods once and judges them, giving up after `timeout`.
pub async fn check(connection: &Connection, timeout: Duration) -> Result<Report, ValidateError> {
    tokio::time::timeout(timeout, check_once(connection))
        .await
        .map_err(|_| ValidateError::Timeout {
            server: connection.server.clone(),
            timeout,
        })?
}

async fn check_once(connection: &Connection) -> Result<Report, ValidateError> {
    let api_error = |what| {
        move |source| ValidateError::Api {
            what,
            server: connection.server.clone(),
            source: Box::new(source),
        }
    };
    let nodes = Api::<Node>::all(connection.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(api_error("list nodes"))?;
    let pods = Api::<Pod>::namespaced(connection.client.clone(), DNS_NAMESPACE)
        .list(&ListParams::default().labels(DNS_SELECTOR))
        .await
        .map_err(api_error("list CoreDNS pods"))?;
    Ok(judge(
        connection,
        nodes.items.iter().map(node_state).collect(),
        pods.items.iter().map(pod_state).collect(),
    ))
}

fn judge(connection: &Connection, nodes: Vec<NodeState>, dns_pods: Vec<PodState>) -> Report {
    let mut problems = Vec::new();
    if nodes.is_empty() {
        problems.push("the cluster has no nodes".to_owned());
    }
    for node in nodes.iter().filter(|node| !node.ready) {
        problems.push(format!("node {} is {}", node.name, node.status));
    }
    if dns_pods.is_empty() {
        problems.push(format!(
            "no CoreDNS pods ({DNS_SELECTOR}) in namespace {DNS_NAMESPACE}"
        ));
    }
    for pod in dns_pods.iter().filter(|pod| !pod.ready) {
        problems.push(format!(
            "CoreDNS pod {} is not ready: {} (ready {}, restarts {})",
            pod.name, pod.status, pod.ready_containers, pod.restarts
        ));
    }
    Report {
        server: connection.server.clone(),
        context: connection.context.clone(),
        nodes,
        dns_pods,
        problems,
    }
}

/// A node's readiness from its `Ready` condition.
pub fn node_state(node: &Node) -> NodeState {
    let name = node.metadata.name.clone().unwrap_or_default();
    let ready_condition = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        });
    let (ready, status) = match ready_condition {
        Some(condition) if condition.status == "True" => (true, "Ready".to_owned()),
        Some(condition) => {
            let because: Vec<&str> = [condition.reason.as_deref(), condition.message.as_deref()]
                .into_iter()
                .flatten()
                .filter(|text| !text.is_empty())
                .collect();
            let state = if condition.status == "Unknown" {
                "NotReady (Unknown)"
            } else {
                "NotReady"
            };
            if because.is_empty() {
                (false, state.to_owned())
            } else {
                (false, format!("{state}: {}", because.join(": ")))
            }
        }
        None => (false, "NotReady: no Ready condition reported".to_owned()),
    };
    let mut roles: Vec<&str> = node
        .metadata
        .labels
        .iter()
        .flatten()
        .filter_map(|(key, _)| key.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    roles.sort_unstable();
    let version = node
        .status
        .as_ref()
        .and_then(|status| status.node_info.as_ref())
        .map(|info| info.kubelet_version.clone())
        .unwrap_or_default();
    NodeState {
        name,
        ready,
        status,
        roles: if roles.is_empty() {
            "<none>".to_owned()
        } else {
            roles.join(",")
        },
        version,
    }
}

/// A pod's readiness the way `kubectl get pods` shows it.
pub fn pod_state(pod: &Pod) -> PodState {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|status| status.phase.clone())
        .unwrap_or_else(|| "Unknown".to_owned());
    let containers = status
        .and_then(|status| status.container_statuses.clone())
        .unwrap_or_default();
    let declared = pod
        .spec
        .as_ref()
        .map_or(containers.len(), |spec| spec.containers.len());
    let ready_count = containers
        .iter()
        .filter(|container| container.ready)
        .count();
    let restarts = containers
        .iter()
        .map(|container| container.restart_count)
        .sum();
    // The first container that is waiting or terminated explains the pod, as kubectl shows it.
    let blocked = containers.iter().find_map(|container| {
        let state = container.state.as_ref()?;
        if let Some(waiting) = &state.waiting {
            return Some(
                waiting
                    .reason
                    .clone()
                    .unwrap_or_else(|| "Waiting".to_owned()),
            );
        }
        state.terminated.as_ref().map(|terminated| {
            terminated
                .reason
                .clone()
                .unwrap_or_else(|| format!("Terminated (exit {})", terminated.exit_code))
        })
    });
    let display = if pod.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else {
        blocked.unwrap_or_else(|| phase.clone())
    };
    let ready = phase == "Running"
        && pod.metadata.deletion_timestamp.is_none()
        && declared > 0
        && ready_count == declared;
    PodState {
        name,
        node: pod
            .spec
            .as_ref()
            .and_then(|spec| spec.node_name.clone())
            .unwrap_or_else(|| "<none>".to_owned()),
        status: display,
        ready_containers: format!("{ready_count}/{declared}"),
        restarts,
        ready,
    }
}
