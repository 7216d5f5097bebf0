//! `create`: tool checks, the exact kind call, waiting for readiness, the stored spec, failures.

use std::path::Path;

use cluster_gitops::kind_config::{KindConfig, LoadOptions};

use crate::api::{MockApi, coredns_pod, not_ready_node, ready_node};
use crate::tools::{
    self, ALREADY_EXISTS, DOCKER_DOWN, KIND_BAD_CONFIG, KIND_DOCKER_DOWN, KUBEADM_FAILED,
};
use crate::{Workspace, mode, shipped_kind_config, stderr, stdout};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

fn shipped_hash() -> String {
    KindConfig::parse(
        Path::new("kind-config.yaml"),
        &shipped_kind_config(),
        LoadOptions::default(),
    )
    .expect("shipped configuration")
    .spec_hash(crate::PROJECT)
}

/// The spec ConfigMap `kube-public/shopstack-cluster-spec` as the API server stores it.
fn stored_spec(workspace: &Workspace) -> serde_json::Value {
    shopstack_testkit::cluster::stored_object(
        &workspace.kubeconfig(),
        "kube-public",
        "configmap",
        "shopstack-cluster-spec",
    )
}

#[tokio::test]
async fn create_runs_kind_then_waits_and_records_the_spec_and_a_second_create_is_a_no_op() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, "") else {
        return;
    };
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    assert_eq!(
        workspace.tools.calls_of("docker"),
        [args(&["info", "--format", "{{.ServerVersion}}"])]
    );
    assert_eq!(
        workspace.tools.calls_of("kind"),
        [
            args(&["get", "clusters"]),
            args(&[
                "create",
                "cluster",
                "--name",
                "shop",
                "--config",
                "kind-config.yaml"
            ]),
        ]
    );
    assert_eq!(mode(&workspace.kubeconfig()), 0o600);
    assert!(
        stdout(&output).ends_with("kind cluster \"shop\" created and ready (context kind-shop)\n"),
        "{}",
        stdout(&output)
    );

    // The spec, as the API server stores it, applied server-side by ShopStack.
    let spec = stored_spec(&workspace);
    assert_eq!(spec["data"]["spec-sha256"], shipped_hash());
    assert_eq!(spec["data"]["kind-config.yaml"], shipped_kind_config());
    let managers: Vec<(&str, &str)> = spec["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .map(|entry| {
            (
                entry["manager"].as_str().unwrap_or_default(),
                entry["operation"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(managers, [("shopstack", "Apply")]);
    let version = spec["metadata"]["resourceVersion"].clone();

    // Again: kind is only asked whether the cluster exists, nothing is written, and the
    // kubeconfig is locked down on every create, not only the first.
    std::fs::set_permissions(
        workspace.kubeconfig(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let again = workspace.run(&["create"]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(workspace.tools.calls_of("kind").len(), 3);
    assert_eq!(
        workspace.tools.calls_of("kind")[2],
        args(&["get", "clusters"])
    );
    assert!(
        stdout(&again).contains("unchanged and ready"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        stored_spec(&workspace)["metadata"]["resourceVersion"],
        version
    );
    assert_eq!(mode(&workspace.kubeconfig()), 0o600);
    assert!(
        stderr(&again).contains("mode 0644 → 0600"),
        "{}",
        stderr(&again)
    );

    // A cluster an older ShopStack created carries a hash of another format: the stored text,
    // loaded anew, decides that the spec is the same.
    let patched = shopstack_testkit::cluster::kubectl_command(&workspace.kubeconfig())
        .args([
            "-n",
            "kube-public",
            "patch",
            "configmap",
            "shopstack-cluster-spec",
            "--type=merge",
            "-p",
            &format!(r#"{{"data":{{"spec-sha256":"{}"}}}}"#, "0".repeat(64)),
        ])
        .output()
        .expect("kubectl patch");
    assert!(
        patched.status.success(),
        "{}",
        String::from_utf8_lossy(&patched.stderr)
    );
    let upgraded = workspace.run(&["create"]).await;
    assert_eq!(upgraded.status.code(), Some(0), "{}", stderr(&upgraded));
    assert!(
        stdout(&upgraded).contains("unchanged and ready"),
        "{}",
        stdout(&upgraded)
    );
}

#[tokio::test]
async fn another_spec_is_refused_without_recreate_and_recreated_with_it() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, "") else {
        return;
    };
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first_uid = stored_spec(&workspace)["metadata"]["uid"].clone();

    // The same nodes, another spec: a label on the worker.
    let changed = shipped_kind_config().replace(
        "  - role: worker\n",
        "  - role: worker\n    labels:\n      tier: apps\n",
    );
    assert_ne!(
        changed,
        shipped_kind_config(),
        "the shipped configuration changed shape"
    );
    std::fs::write(workspace.path().join("kind-config.yaml"), &changed).expect("write");
    let changed_hash = KindConfig::parse(
        Path::new("kind-config.yaml"),
        &changed,
        LoadOptions::default(),
    )
    .expect("changed configuration")
    .spec_hash(crate::PROJECT);

    let refused = workspace.run(&["create"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        format!(
            "error: create: kind cluster \"shop\" exists but was created from another spec (sha256 {}, now {changed_hash}): run create with --recreate to delete and create it again\n",
            shipped_hash()
        )
    );
    assert_eq!(workspace.tools.calls_of("kind").len(), 3);

    let output = workspace.run(&["create", "--recreate"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        workspace.tools.calls_of("kind")[3..],
        [
            args(&["get", "clusters"]),
            args(&["delete", "cluster", "--name", "shop"]),
            args(&[
                "create",
                "cluster",
                "--name",
                "shop",
                "--config",
                "kind-config.yaml"
            ]),
        ]
    );
    assert!(stdout(&output).contains("recreated and ready"));
    // A new cluster: a new ConfigMap holding the new spec.
    let spec = stored_spec(&workspace);
    assert_eq!(spec["data"]["spec-sha256"], changed_hash);
    assert_ne!(spec["metadata"]["uid"], first_uid);
}

#[tokio::test]
async fn kinds_already_exists_message_becomes_a_clear_error() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", ALREADY_EXISTS);
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).lines().last(),
        Some(
            "error: create: kind cluster \"shop\" already exists: delete it first (cluster-gitops delete) or run create with --recreate"
        )
    );
}

#[tokio::test]
async fn a_stopped_docker_engine_is_named_before_kind_runs() {
    let workspace = Workspace::new();
    workspace.tools.add("docker", DOCKER_DOWN).expect("docker");
    tools::install_kind(&workspace, "http://127.0.0.1:9", "");
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: create: the docker engine is not running (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?): start it (systemctl start docker, or Docker Desktop) and check `docker info`\n"
    );
    assert!(workspace.tools.calls_of("kind").is_empty());
}

#[tokio::test]
async fn kinds_docker_daemon_message_becomes_a_clear_error() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", KIND_DOCKER_DOWN);
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).lines().last(),
        Some(
            "error: create: the docker engine is not running (Command Output: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?): start it (systemctl start docker, or Docker Desktop) and check `docker info`"
        )
    );
}

#[tokio::test]
async fn missing_docker_is_named_with_how_to_get_it() {
    let workspace = Workspace::new();
    tools::install_kind(&workspace, "http://127.0.0.1:9", "");
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: create: docker is not installed (not found on PATH): install Docker Engine (docs.docker.com/engine/install)\n"
    );
    assert!(workspace.tools.calls().is_empty());
}

#[tokio::test]
async fn missing_kind_is_named_with_how_to_get_it() {
    let workspace = Workspace::new();
    workspace
        .tools
        .add("docker", tools::DOCKER_UP)
        .expect("docker");
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: create: kind is not installed (not found on PATH): install kind (go install sigs.k8s.io/kind@latest, or a release binary from kind.sigs.k8s.io)\n"
    );
}

#[tokio::test]
async fn a_configuration_kind_refuses_is_named_with_kinds_reason() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", KIND_BAD_CONFIG);
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).lines().last(),
        Some(
            "error: create: kind refused kind-config.yaml: unable to decode config: yaml: unmarshal errors: line 9: field listenAdress not found in type v1alpha4.PortMapping"
        )
    );
    // A configuration error is not a node failure: no logs to export.
    assert!(
        !workspace
            .tools
            .calls_of("kind")
            .iter()
            .any(|call| call[0] == "export")
    );
}

#[tokio::test]
async fn a_failed_create_exports_node_logs_into_a_named_folder() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", KUBEADM_FAILED);
    let output = workspace.run(&["create"]).await;
    assert_eq!(output.status.code(), Some(1));
    let calls = workspace.tools.calls_of("kind");
    let export = calls.last().expect("a kind call");
    assert_eq!(&export[..2], ["export", "logs"]);
    assert_eq!(&export[3..], ["--name", "shop"]);
    let folder = &export[2];
    assert!(folder.starts_with("kind-logs/shop-"), "{folder}");
    let error = stderr(&output);
    let last = error.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: create: create kind cluster \"shop\" (node logs exported to {folder}): `kind create cluster --name shop --config kind-config.yaml` failed: ERROR: failed to create cluster: failed to init node with kubeadm"
        )),
        "{last}"
    );
}

/// On the mock API: a real node cannot be made to stay NotReady from its start (the test
/// cluster waits for Ready nodes, and a kubelet stopped later still reads Ready until the node
/// controller's grace period has passed).
#[tokio::test]
async fn a_cluster_that_stays_not_ready_fails_after_wait_naming_the_node() {
    let api = MockApi::start().await;
    api.serve_nodes(vec![
        ready_node("shop-control-plane", "control-plane"),
        not_ready_node("shop-worker", "KubeletNotReady", "PLEG is not healthy"),
    ])
    .await;
    api.serve_dns_pods(vec![coredns_pod("coredns-1", "shop-control-plane")])
        .await;
    api.serve_spec(None).await;
    let workspace = Workspace::new();
    tools::install(&workspace, &api.url(), "");
    let output = workspace.run(&["create", "--wait", "3s"]).await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    let last = error.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "error: create: cluster \"shop\" not ready after 3s: node shop-worker is NotReady: KubeletNotReady: PLEG is not healthy (node logs exported to kind-logs/shop-"
        ),
        "{last}"
    );
    // Polled more than once, and never recorded a spec for a cluster that is not ready.
    let node_reads = api
        .requests()
        .await
        .iter()
        .filter(|request| request.url.path() == "/api/v1/nodes")
        .count();
    assert!(node_reads >= 2, "{node_reads} reads");
    assert!(api.patches().await.is_empty());
}
