//! `sync DIR`: every manifest server-side applied to a real API server, kinds resolved by its
//! discovery; what it stores is read back.

use shopstack_testkit::ConnectionCounter;
use shopstack_testkit::cluster::{BUSYBOX_IMAGE, TestCluster, managers};

use crate::api::kubeconfig_text;
use crate::{CONTEXT, Workspace, stderr, stdout};

/// A workspace on `cluster` with `files` under `manifests/`.
fn workspace_with_manifests(cluster: &TestCluster, files: &[(&str, String)]) -> Workspace {
    let workspace = Workspace::on_cluster(cluster);
    write_manifests(&workspace, files);
    workspace
}

fn write_manifests(workspace: &Workspace, files: &[(&str, String)]) {
    let dir = workspace.path().join("manifests");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write manifest");
    }
}

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
}

#[tokio::test]
async fn sync_server_side_applies_every_manifest_as_shopstack() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let app = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: sync-apply\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: web\n          image: {BUSYBOX_IMAGE}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: sync-apply\ndata:\n  LOG_LEVEL: info\n"
    );
    let workspace = workspace_with_manifests(
        cluster,
        &[
            ("app.yaml", app),
            ("namespace.yaml", namespace("sync-apply")),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let deployment = cluster.stored("sync-apply", "deployment", "web");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        BUSYBOX_IMAGE
    );
    let config_map = cluster.stored("sync-apply", "configmap", "settings");
    assert_eq!(config_map["data"]["LOG_LEVEL"], "info");
    for object in [&deployment, &config_map] {
        assert!(
            managers(object).contains(&("shopstack".to_owned(), "Apply".to_owned())),
            "{:?}",
            managers(object)
        );
    }
    // A namespace applied with no field but its name owns nothing, so it has no managed fields.
    let namespace = cluster.stored("default", "namespace", "sync-apply");
    assert_eq!(namespace["status"]["phase"], "Active");
    assert!(
        stdout(&output).ends_with(&format!(
            "3 objects applied to {} (field manager shopstack)\n",
            cluster.server()
        )),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_manifest_without_a_name_is_refused_before_any_request() {
    let counter = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::new();
    std::fs::write(
        workspace.kubeconfig(),
        kubeconfig_text(&[(CONTEXT, &counter.url())]),
    )
    .expect("kubeconfig");
    write_manifests(
        &workspace,
        &[
            ("namespace.yaml", namespace("shop")),
            (
                "broken.yaml",
                "apiVersion: v1\nkind: ConfigMap\ndata: {}\n".to_owned(),
            ),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).ends_with(
            "error: sync: manifests/broken.yaml: document 1: ConfigMap: missing metadata.name\n"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn a_kind_the_server_does_not_serve_is_named() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = workspace_with_manifests(
        cluster,
        &[(
            "monitor.yaml",
            "apiVersion: v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n".to_owned(),
        )],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: sync: manifests/monitor.yaml: document 1: v1 ServiceMonitor is not served by {}\n",
            cluster.server()
        )
    );
}

#[tokio::test]
async fn a_group_the_server_does_not_serve_is_named() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = workspace_with_manifests(
        cluster,
        &[(
            "monitor.yaml",
            "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n  namespace: default\n".to_owned(),
        )],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.starts_with(&format!(
            "error: sync: manifests/monitor.yaml: document 1: discover monitoring.coreos.com/v1 at {}: ",
            cluster.server()
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);
    let found = cluster.kubectl(&["get", "crd", "servicemonitors.monitoring.coreos.com"]);
    assert!(!found.status.success());
}

/// A CRD and a custom resource of it, in one directory.
fn crd_and_resource(namespace: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.shopstack.io
spec:
  group: example.shopstack.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
---
apiVersion: example.shopstack.io/v1
kind: Widget
metadata:
  name: first
  namespace: {namespace}
spec:
  size: 3
"
    )
}

#[tokio::test]
async fn a_crd_and_its_custom_resource_apply_in_one_sync() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = workspace_with_manifests(
        cluster,
        &[
            ("namespace.yaml", namespace("sync-crd")),
            ("widgets.yaml", crd_and_resource("sync-crd")),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let widget = cluster.stored("sync-crd", "widgets.example.shopstack.io", "first");
    assert_eq!(widget["spec"]["size"], 3);
    let crd = cluster.stored("default", "crd", "widgets.example.shopstack.io");
    let established = crd["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .any(|condition| condition["type"] == "Established" && condition["status"] == "True");
    assert!(established, "{crd}");
    assert!(
        stdout(&output).contains("applied Widget sync-crd/first"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_crd_whose_names_another_crd_holds_is_named_with_the_api_servers_reason() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    // The same plural and kind in the same group under another name: the API server refuses
    // the names (NamesAccepted=False), and the CRD never becomes Established.
    let first = crd_and_resource("default")
        .split("---")
        .next()
        .expect("crd")
        .replace("example.shopstack.io", "names.shopstack.io");
    let second = first
        .replace(
            "name: widgets.names.shopstack.io",
            "name: gadgets.names.shopstack.io",
        )
        .replace("plural: widgets", "plural: gadgets")
        .replace("singular: widget", "singular: gadget");
    let workspace = workspace_with_manifests(cluster, &[("first.yaml", first)]);
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    write_manifests(&workspace, &[("first.yaml", second)]);
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.starts_with(&format!(
            "error: sync: stopped after 1 of 1 objects (the applied ones are listed above): customresourcedefinition gadgets.names.shopstack.io on {}: names not accepted: ",
            cluster.server()
        )) && error.contains("Widget"),
        "{error}"
    );
}

#[tokio::test]
async fn a_manifest_exported_by_kubectl_applies_without_its_server_fields() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: exported\n  namespace: sync-export\ndata:\n  LEVEL: info\n";
    let workspace = workspace_with_manifests(
        cluster,
        &[
            ("namespace.yaml", namespace("sync-export")),
            ("config.yaml", config_map.to_owned()),
        ],
    );
    assert_eq!(
        workspace.run(&["sync", "manifests"]).await.status.code(),
        Some(0)
    );
    // What `kubectl get -o yaml` prints, edited, with a resource version that is stale by now.
    let exported = cluster.kubectl_ok(
        &[
            "-n",
            "sync-export",
            "get",
            "configmap",
            "exported",
            "-o",
            "yaml",
            "--show-managed-fields",
        ],
        "",
    );
    for field in [
        "resourceVersion:",
        "uid:",
        "managedFields:",
        "creationTimestamp:",
    ] {
        assert!(exported.contains(field), "{field} not in {exported}");
    }
    cluster.kubectl_ok(
        &[
            "-n",
            "sync-export",
            "annotate",
            "configmap",
            "exported",
            "touched=yes",
        ],
        "",
    );
    write_manifests(
        &workspace,
        &[(
            "config.yaml",
            exported.replace("LEVEL: info", "LEVEL: debug"),
        )],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stored = cluster.stored("sync-export", "configmap", "exported");
    assert_eq!(stored["data"]["LEVEL"], "debug");
}

#[tokio::test]
async fn a_refused_apply_says_which_objects_were_applied_before_it() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    // A Deployment without a selector: the API server refuses it (422).
    let broken = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: sync-partial\nspec:\n  template:\n    metadata:\n      labels: {{app: broken}}\n    spec:\n      containers:\n        - name: web\n          image: {BUSYBOX_IMAGE}\n"
    );
    let workspace = workspace_with_manifests(
        cluster,
        &[
            ("a-namespace.yaml", namespace("sync-partial")),
            (
                "b-config.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  namespace: sync-partial\n".to_owned(),
            ),
            ("c-broken.yaml", broken),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "applied Namespace sync-partial (manifests/a-namespace.yaml)\napplied ConfigMap sync-partial/first (manifests/b-config.yaml)\n"
    );
    let error = stderr(&output);
    assert!(
        error.starts_with("error: sync: stopped after 2 of 3 objects (the applied ones are listed above): manifests/c-broken.yaml: document 1: apply Deployment sync-partial/broken: "),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    assert_eq!(
        cluster.stored("sync-partial", "configmap", "first")["metadata"]["name"],
        "first"
    );
}

#[tokio::test]
async fn an_octal_default_mode_is_read_as_kubectl_reads_it() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: octal\n  namespace: sync-octal\nspec:\n  selector:\n    matchLabels: {{app: octal}}\n  template:\n    metadata:\n      labels: {{app: octal}}\n    spec:\n      containers:\n        - name: web\n          image: {BUSYBOX_IMAGE}\n      volumes:\n        - name: settings\n          configMap:\n            name: settings\n            defaultMode: 0644\n"
    );
    let workspace = workspace_with_manifests(
        cluster,
        &[
            ("namespace.yaml", namespace("sync-octal")),
            ("deployment.yaml", deployment),
        ],
    );
    let output = workspace.run(&["sync", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let object = cluster.stored("sync-octal", "deployment", "octal");
    assert_eq!(
        object["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"],
        420
    );
}
