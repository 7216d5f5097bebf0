//! A mock Kubernetes API server: k8s-openapi objects served as JSON at the API's real paths.

use std::collections::BTreeMap;

use k8s_openapi::List;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerState, ContainerStateRunning, ContainerStateWaiting,
    ContainerStatus, Node, NodeCondition, NodeStatus, NodeSystemInfo, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIResource, APIResourceList, ObjectMeta, Status,
};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The bearer token of the mock kubeconfig user.
pub const TOKEN: &str = "test-token";

/// A running mock API server.
pub struct MockApi {
    /// The wiremock server.
    pub server: MockServer,
}

impl MockApi {
    /// Starts a server with nothing mounted (every request gets 404).
    pub async fn start() -> Self {
        Self {
            server: MockServer::start().await,
        }
    }

    /// A server where both nodes of the shipped configuration and two CoreDNS pods are ready.
    pub async fn ready_cluster() -> Self {
        let api = Self::start().await;
        api.serve_nodes(vec![
            ready_node("shop-control-plane", "control-plane"),
            ready_node("shop-worker", ""),
        ])
        .await;
        api.serve_dns_pods(vec![
            coredns_pod("coredns-668d6bf9bc-7x2kq", "shop-control-plane"),
            coredns_pod("coredns-668d6bf9bc-lm9vd", "shop-control-plane"),
        ])
        .await;
        api
    }

    /// The server URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// `GET /api/v1/nodes` answers `nodes`.
    pub async fn serve_nodes(&self, nodes: Vec<Node>) {
        Mock::given(method("GET"))
            .and(path("/api/v1/nodes"))
            .respond_with(json(&list(nodes)))
            .mount(&self.server)
            .await;
    }

    /// `GET /api/v1/namespaces/kube-system/pods?labelSelector=k8s-app=kube-dns` answers `pods`.
    pub async fn serve_dns_pods(&self, pods: Vec<Pod>) {
        Mock::given(method("GET"))
            .and(path("/api/v1/namespaces/kube-system/pods"))
            .and(query_param("labelSelector", "k8s-app=kube-dns"))
            .respond_with(json(&list(pods)))
            .mount(&self.server)
            .await;
    }

    /// `GET` of ConfigMap `kube-public/shopstack-cluster-spec`: holding `hash`, or 404.
    pub async fn serve_spec(&self, hash: Option<&str>) {
        let response = match hash {
            Some(hash) => json(&ConfigMap {
                metadata: ObjectMeta {
                    name: Some("shopstack-cluster-spec".to_owned()),
                    namespace: Some("kube-public".to_owned()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(
                    "spec-sha256".to_owned(),
                    hash.to_owned(),
                )])),
                ..ConfigMap::default()
            }),
            None => not_found("configmaps", "shopstack-cluster-spec"),
        };
        Mock::given(method("GET"))
            .and(path(
                "/api/v1/namespaces/kube-public/configmaps/shopstack-cluster-spec",
            ))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// Every `PATCH` succeeds, answering the object it was sent (as server-side apply does).
    pub async fn accept_patches(&self) {
        Mock::given(method("PATCH"))
            .respond_with(Echo)
            .mount(&self.server)
            .await;
    }

    /// Discovery: `GET /api/v1` or `/apis/GROUP/VERSION` lists `resources` as
    /// (plural, kind, namespaced).
    pub async fn serve_discovery(&self, group_version: &str, resources: &[(&str, &str, bool)]) {
        let url = if group_version.contains('/') {
            format!("/apis/{group_version}")
        } else {
            format!("/api/{group_version}")
        };
        let list = APIResourceList {
            group_version: group_version.to_owned(),
            resources: resources
                .iter()
                .map(|(name, kind, namespaced)| APIResource {
                    name: (*name).to_owned(),
                    singular_name: kind.to_lowercase(),
                    namespaced: *namespaced,
                    kind: (*kind).to_owned(),
                    verbs: [
                        "create", "delete", "get", "list", "patch", "update", "watch",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                    ..APIResource::default()
                })
                .collect(),
        };
        Mock::given(method("GET"))
            .and(path(url))
            .respond_with(json(&list))
            .mount(&self.server)
            .await;
    }

    /// Every request received so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// The `PATCH` requests received so far.
    pub async fn patches(&self) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|request| request.method.as_str() == "PATCH")
            .collect()
    }
}

/// Answers a request with its own body: what the API server returns after an apply.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(request.body.clone())
    }
}

fn json<T: serde::Serialize>(body: &T) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_json(body)
}

fn not_found(resource: &str, name: &str) -> ResponseTemplate {
    let status = Status {
        code: Some(404),
        message: Some(format!("{resource} \"{name}\" not found")),
        reason: Some("NotFound".to_owned()),
        status: Some("Failure".to_owned()),
        ..Status::default()
    };
    ResponseTemplate::new(404)
        .insert_header("content-type", "application/json")
        .set_body_json(status)
}

fn list<T: k8s_openapi::ListableResource>(items: Vec<T>) -> List<T> {
    List {
        items,
        metadata: Default::default(),
    }
}

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

/// A CoreDNS pod whose container is in `CrashLoopBackOff` after `restarts` restarts.
pub fn crash_looping_pod(name: &str, node: &str, restarts: i32) -> Pod {
    pod(
        name,
        node,
        false,
        restarts,
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("CrashLoopBackOff".to_owned()),
                message: Some("back-off 5m0s restarting failed container=coredns".to_owned()),
            }),
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

/// A kubeconfig whose contexts each point at a server: (context, server URL); the first is current.
pub fn kubeconfig_text(contexts: &[(&str, &str)]) -> String {
    let mut clusters = String::new();
    let mut entries = String::new();
    let mut users = String::new();
    for (context, server) in contexts {
        clusters.push_str(&format!(
            "- name: {context}\n  cluster:\n    server: {server}\n"
        ));
        entries.push_str(&format!(
            "- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n"
        ));
        users.push_str(&format!("- name: {context}\n  user:\n    token: {TOKEN}\n"));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{entries}current-context: {}\nusers:\n{users}",
        contexts.first().map_or("", |(context, _)| context)
    )
}
