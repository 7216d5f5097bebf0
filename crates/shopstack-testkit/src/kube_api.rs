//! A mock Kubernetes API server for a whole ready Kind cluster: its nodes and CoreDNS pods as
//! k8s-openapi objects at the API's real paths, and what clients apply kept and served back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use k8s_openapi::List;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Node,
    NodeCondition, NodeStatus, NodeSystemInfo, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Status};
use serde_json::{Map, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Namespaces every cluster starts with.
const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// A ready Kind cluster's API server: `GET` of nodes and CoreDNS pods answer fixed objects; `PATCH`
/// (server-side apply, or a JSON merge patch of an existing object) stores the object, and `GET`
/// of its path serves it back; anything else is 404 as the API server answers it.
pub struct KubeApi {
    server: MockServer,
    objects: Arc<Mutex<Objects>>,
}

impl KubeApi {
    /// The API server of Kind cluster `cluster`: nodes `<cluster>-control-plane` and
    /// `<cluster>-worker` Ready, two CoreDNS pods Running with their containers ready.
    pub async fn ready_cluster(cluster: &str) -> Self {
        let server = MockServer::start().await;
        let control_plane = format!("{cluster}-control-plane");
        let nodes = vec![
            ready_node(&control_plane, "control-plane"),
            ready_node(&format!("{cluster}-worker"), ""),
        ];
        let pods = vec![
            coredns_pod("coredns-668d6bf9bc-7x2kq", &control_plane),
            coredns_pod("coredns-668d6bf9bc-lm9vd", &control_plane),
        ];
        Mock::given(method("GET"))
            .and(path("/api/v1/nodes"))
            .respond_with(json(&list(nodes)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/namespaces/kube-system/pods"))
            .and(query_param("labelSelector", "k8s-app=kube-dns"))
            .respond_with(json(&list(pods)))
            .mount(&server)
            .await;
        let objects = Arc::new(Mutex::new(Objects::default()));
        Mock::given(method("PATCH"))
            .respond_with(Store(Arc::clone(&objects)))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(Serve(Arc::clone(&objects)))
            .with_priority(u8::MAX)
            .mount(&server)
            .await;
        Self { server, objects }
    }

    /// The server URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Every request received so far, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// Every request so far as `METHOD PATH`, in order.
    pub async fn request_lines(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .map(|request| format!("{} {}", request.method, request.url.path()))
            .collect()
    }

    /// The object stored at `path` (e.g. `/api/v1/namespaces/NS/secrets/NAME`), as JSON.
    pub fn object(&self, path: &str) -> Option<Value> {
        lock(&self.objects).by_path.get(path).cloned()
    }
}

/// The objects applied so far, by API path.
#[derive(Default)]
struct Objects {
    by_path: BTreeMap<String, Value>,
    /// The last `metadata.resourceVersion` handed out.
    version: u64,
}

impl Objects {
    fn namespace_exists(&self, namespace: &str) -> bool {
        BUILT_IN_NAMESPACES.contains(&namespace)
            || self
                .by_path
                .contains_key(&format!("/api/v1/namespaces/{namespace}"))
    }

    fn store(&mut self, path: &str, mut object: Value) -> Value {
        self.version += 1;
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert(
                "resourceVersion".to_owned(),
                Value::String(self.version.to_string()),
            );
        }
        self.by_path.insert(path.to_owned(), object.clone());
        object
    }
}

fn lock(objects: &Mutex<Objects>) -> MutexGuard<'_, Objects> {
    objects.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `PATCH`: server-side apply creates or replaces the object (one field manager owns it all); a
/// JSON merge patch changes an existing one, refused on a stale `resourceVersion`.
struct Store(Arc<Mutex<Objects>>);

impl Respond for Store {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let Some((namespace, resource, name)) = parse_path(path) else {
            return status(
                404,
                "NotFound",
                &format!("the server could not find {path}"),
            );
        };
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return status(400, "BadRequest", "the body is not JSON");
        };
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let mut objects = lock(&self.0);
        if let Some(namespace) = &namespace
            && !objects.namespace_exists(namespace)
        {
            return not_found("namespaces", namespace);
        }
        let stored = match content_type {
            "application/apply-patch+yaml" => {
                let stored = objects.store(path, body);
                // The service account controller gives every new namespace its default account.
                if namespace.is_none() && resource == "namespaces" {
                    let account = format!("/api/v1/namespaces/{name}/serviceaccounts/default");
                    let default_account = serde_json::json!({
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": "default", "namespace": name},
                    });
                    objects.store(&account, default_account);
                }
                stored
            }
            "application/merge-patch+json" => {
                let Some(mut existing) = objects.by_path.get(path).cloned() else {
                    return not_found(&resource, &name);
                };
                let wanted = body.pointer("/metadata/resourceVersion").cloned();
                let current = existing.pointer("/metadata/resourceVersion").cloned();
                if wanted.is_some() && wanted != current {
                    return status(
                        409,
                        "Conflict",
                        &format!(
                            "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                        ),
                    );
                }
                merge(&mut existing, &body);
                objects.store(path, existing)
            }
            other => {
                return status(
                    415,
                    "UnsupportedMediaType",
                    &format!(
                        "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json (got {other})"
                    ),
                );
            }
        };
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_json(stored)
    }
}

/// `GET` of an object applied before, or 404.
struct Serve(Arc<Mutex<Objects>>);

impl Respond for Serve {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        match lock(&self.0).by_path.get(path) {
            Some(object) => ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_json(object),
            None => match parse_path(path) {
                Some((_, resource, name)) => not_found(&resource, &name),
                None => status(
                    404,
                    "NotFound",
                    &format!("the server could not find {path}"),
                ),
            },
        }
    }
}

/// `(namespace, resource, name)` of a core (`/api/v1/…`) or group (`/apis/G/V/…`) object path.
fn parse_path(path: &str) -> Option<(Option<String>, String, String)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] | ["apis", _, _, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        ["namespaces", namespace, resource, name] => Some((
            Some((*namespace).to_owned()),
            (*resource).to_owned(),
            (*name).to_owned(),
        )),
        [resource, name] => Some((None, (*resource).to_owned(), (*name).to_owned())),
        _ => None,
    }
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(existing) = target {
        for (key, value) in fields {
            if value.is_null() {
                existing.remove(key);
            } else {
                merge(existing.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn json<T: serde::Serialize>(body: &T) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_json(body)
}

fn not_found(resource: &str, name: &str) -> ResponseTemplate {
    status(404, "NotFound", &format!("{resource} \"{name}\" not found"))
}

fn status(code: u16, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code)
        .insert_header("content-type", "application/json")
        .set_body_json(Status {
            code: Some(i32::from(code)),
            message: Some(message.to_owned()),
            reason: Some(reason.to_owned()),
            status: Some("Failure".to_owned()),
            ..Status::default()
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_paths_name_namespace_resource_and_name() {
        assert_eq!(
            parse_path("/api/v1/namespaces/shop/secrets/app-config"),
            Some((
                Some("shop".to_owned()),
                "secrets".to_owned(),
                "app-config".to_owned()
            ))
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/shop"),
            Some((None, "namespaces".to_owned(), "shop".to_owned()))
        );
        assert_eq!(parse_path("/api/v1/nodes"), None);
    }

    #[test]
    fn a_merge_patch_replaces_lists_and_removes_nulls() {
        let mut object = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "list": [1, 2]});
        merge(
            &mut object,
            &json!({"metadata": {"labels": {"x": null, "y": "2"}}, "list": [3]}),
        );
        assert_eq!(
            object,
            json!({"metadata": {"name": "a", "labels": {"y": "2"}}, "list": [3]})
        );
    }
}
