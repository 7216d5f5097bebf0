//! Kubernetes objects as k8s-openapi types, for the few tests that still need a mock API server
//! (what a real one cannot be made to do on demand): nodes and CoreDNS pods in given states.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStatus, Node, NodeCondition,
    NodeStatus, NodeSystemInfo, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A node whose `Ready` condition is `True`; `role` empty for a worker.
pub fn ready_node(name: &str, role: &str) -> Node {
    node(
        name,
        role,
        "True",
        "KubeletReady",
        "kubelet is posting ready status",
    )
}

/// A worker whose `Ready` condition is `False` with `reason` and `message`.
pub fn not_ready_node(name: &str, reason: &str, message: &str) -> Node {
    node(name, "", "False", reason, message)
}

fn node(name: &str, role: &str, ready: &str, reason: &str, message: &str) -> Node {
    let labels = (!role.is_empty())
        .then(|| BTreeMap::from([(format!("node-role.kubernetes.io/{role}"), String::new())]));
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels,
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            conditions: Some(vec![
                NodeCondition {
                    type_: "MemoryPressure".to_owned(),
                    status: "False".to_owned(),
                    ..NodeCondition::default()
                },
                NodeCondition {
                    type_: "Ready".to_owned(),
                    status: ready.to_owned(),
                    reason: Some(reason.to_owned()),
                    message: Some(message.to_owned()),
                    ..NodeCondition::default()
                },
            ]),
            node_info: Some(NodeSystemInfo {
                kubelet_version: "v1.34.0".to_owned(),
                ..NodeSystemInfo::default()
            }),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

/// A running CoreDNS pod with its container ready.
pub fn coredns_pod(name: &str, node: &str) -> Pod {
    pod(
        name,
        node,
        true,
        0,
        ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..ContainerState::default()
        },
    )
}

fn pod(name: &str, node: &str, ready: bool, restarts: i32, state: ContainerState) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some("kube-system".to_owned()),
            labels: Some(BTreeMap::from([(
                "k8s-app".to_owned(),
                "kube-dns".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_owned()),
            containers: vec![Container {
                name: "coredns".to_owned(),
                image: Some("registry.k8s.io/coredns/coredns:v1.12.0".to_owned()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".to_owned()),
            container_statuses: Some(vec![ContainerStatus {
                name: "coredns".to_owned(),
                ready,
                restart_count: restarts,
                state: Some(state),
                image: "registry.k8s.io/coredns/coredns:v1.12.0".to_owned(),
                image_id: String::new(),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}
