//! `sync DIR`: every manifest server-side applied, kinds resolved by discovery.

use crate::api::{MockApi, kubeconfig_text};
use crate::{CONTEXT, Workspace, stderr, stdout};

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LOG_LEVEL: info\n";

async fn cluster() -> MockApi {
    let api = MockApi::start().await;
    api.serve_discovery(
        "v1",
        &[
            ("namespaces", "Namespace", false),
            ("configmaps", "ConfigMap", true),
        ],
    )
    .await;
    api.serve_discovery("apps/v1", &[("deployments", "Deployment", true)])
        .await;
    api.accept_patches().await;
    api
}

fn workspace_with_manifests(api_url: &str, files: &[(&str, &str)]) -> Workspace {
    let workspace = Workspace::new();
    std::fs::write(
        workspace.kubeconfig(),
        kubeconfig_text(&[(CONTEXT, api_url)]),
    )
    .expect("kubeconfig");
    let dir = workspace.path().join("manifests");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write manifest");
    }
    workspace
}

#[tokio::test]
async fn sync_server_side_applies_every_manifest_as_shopstack() {
    let api = cluster().await;
    let workspace = workspace_with_manifests(
        &api.url(),
        &[("app.yaml", APP), ("namespace.yaml", NAMESPACE)],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let patches = api.patches().await;
    let seen: Vec<(String, Option<String>)> = patches
        .iter()
        .map(|request| {
            (
                request.url.path().to_owned(),
                request.url.query().map(str::to_owned),
            )
        })
        .collect();
    let query = Some("&force=true&fieldManager=shopstack".to_owned());
    assert_eq!(
        seen,
        [
            ("/api/v1/namespaces/shop".to_owned(), query.clone()),
            (
                "/apis/apps/v1/namespaces/shop/deployments/web".to_owned(),
                query.clone()
            ),
            (
                "/api/v1/namespaces/default/configmaps/settings".to_owned(),
                query
            ),
        ]
    );
    for patch in &patches {
        assert_eq!(
            patch
                .headers
                .get("content-type")
                .map(|value| value.as_bytes()),
            Some(&b"application/apply-patch+yaml"[..])
        );
    }
    // The bodies are the manifests as written.
    let deployment: serde_json::Value = serde_json::from_slice(&patches[1].body).expect("JSON");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let config_map: serde_json::Value = serde_json::from_slice(&patches[2].body).expect("JSON");
    assert_eq!(config_map["data"]["LOG_LEVEL"], "info");
    assert_eq!(config_map["apiVersion"], "v1");

    // Discovery was asked once per group version.
    let discovery: Vec<String> = api
        .requests()
        .await
        .iter()
        .filter(|request| request.method.as_str() == "GET")
        .map(|request| request.url.path().to_owned())
        .collect();
    assert_eq!(discovery, ["/api/v1", "/apis/apps/v1"]);
    assert!(stdout(&output).ends_with(&format!(
        "3 objects applied to {} (field manager shopstack)\n",
        api.url()
    )));
}

#[tokio::test]
async fn a_manifest_without_a_name_is_refused_before_any_request() {
    let api = cluster().await;
    let workspace = workspace_with_manifests(
        &api.url(),
        &[
            ("namespace.yaml", NAMESPACE),
            ("broken.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {}\n"),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: sync: manifests/broken.yaml: document 1: ConfigMap: missing metadata.name\n"
    );
    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn a_kind_the_server_does_not_serve_is_named() {
    let api = cluster().await;
    let workspace = workspace_with_manifests(
        &api.url(),
        &[(
            "monitor.yaml",
            "apiVersion: v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n",
        )],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: sync: manifests/monitor.yaml: document 1: v1 ServiceMonitor is not served by {}\n",
            api.url()
        )
    );
    assert!(api.patches().await.is_empty());
}

#[tokio::test]
async fn a_group_the_server_does_not_serve_is_named() {
    let api = cluster().await;
    let workspace = workspace_with_manifests(
        &api.url(),
        &[(
            "monitor.yaml",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n",
        )],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.starts_with(&format!(
            "error: sync: manifests/monitor.yaml: document 1: discover monitoring.coreos.com/v1 at {}: ",
            api.url()
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);
    assert!(api.patches().await.is_empty());
}
