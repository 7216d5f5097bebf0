//! A mock Kubernetes API server: k8s-openapi objects served as JSON at the API's real paths.

use std::collections::BTreeMap;

use k8s_openapi::List;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Status};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub use shopstack_testkit::cluster_tools::kubeconfig_text;
pub use shopstack_testkit::kube_api::{coredns_pod, not_ready_node, ready_node};

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
