//! A mock Kubernetes API server: k8s-openapi objects served as JSON at the API's real paths, and
//! every request it receives kept for assertions.

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A running mock API server.
pub struct MockApi {
    server: MockServer,
}

impl MockApi {
    /// Starts a server: writes (`PATCH`) are answered with their own body; anything not served
    /// otherwise gets 404.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        Mock::given(method("PATCH"))
            .respond_with(Echo)
            .mount(&server)
            .await;
        Self { server }
    }

    /// The server URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// `GET` of Secret `namespace/name`: `secret`, or 404.
    pub async fn serve_secret(&self, namespace: &str, name: &str, secret: Option<Secret>) {
        let response = match secret {
            Some(secret) => json(&secret),
            None => not_found("secrets", name),
        };
        Mock::given(method("GET"))
            .and(path(format!(
                "/api/v1/namespaces/{namespace}/secrets/{name}"
            )))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// `GET` of ServiceAccount `namespace/default`: `account`, or 404.
    pub async fn serve_default_service_account(
        &self,
        namespace: &str,
        account: Option<ServiceAccount>,
    ) {
        let response = match account {
            Some(account) => json(&account),
            None => not_found("serviceaccounts", "default"),
        };
        Mock::given(method("GET"))
            .and(path(format!(
                "/api/v1/namespaces/{namespace}/serviceaccounts/default"
            )))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// Every request received so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// The writes (`PATCH`, `PUT`, `POST`, `DELETE`) received so far, as (path, body as JSON).
    pub async fn writes(&self) -> Vec<(String, serde_json::Value)> {
        self.requests()
            .await
            .into_iter()
            .filter(|request| request.method.as_str() != "GET")
            .map(|request| {
                (
                    format!("{} {}", request.method, request.url.path()),
                    serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null),
                )
            })
            .collect()
    }

    /// The query and content type of the write to `path`.
    pub async fn write_details(&self, path: &str) -> (Option<String>, Option<String>) {
        self.requests()
            .await
            .into_iter()
            .find(|request| request.method.as_str() != "GET" && request.url.path() == path)
            .map(|request| {
                (
                    request.url.query().map(str::to_owned),
                    request
                        .headers
                        .get("content-type")
                        .and_then(|value| value.to_str().ok())
                        .map(str::to_owned),
                )
            })
            .unwrap_or_default()
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
    ResponseTemplate::new(404)
        .insert_header("content-type", "application/json")
        .set_body_json(Status {
            code: Some(404),
            message: Some(format!("{resource} \"{name}\" not found")),
            reason: Some("NotFound".to_owned()),
            status: Some("Failure".to_owned()),
            ..Status::default()
        })
}

/// A kubeconfig with one context pointing at `server`.
pub fn kubeconfig_text(context: &str, server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {server}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\ncurrent-context: {context}\nusers:\n- name: {context}\n  user:\n    token: test-token\n"
    )
}
