//! Stand-ins for `kind` and `docker` that answer with the real tools' messages and exit codes.

use shopstack_testkit::cluster::{self, KindClusters};
use shopstack_testkit::cluster_tools;

use crate::Workspace;

/// `docker info --format {{.ServerVersion}}` of a running engine.
pub const DOCKER_UP: &str = r#"case "$1" in
  info) printf '27.3.1\n' ;;
  *) printf 'docker: unexpected call\n' >&2; exit 1 ;;
esac"#;

/// docker's answer when the engine is not running.
pub const DOCKER_DOWN: &str = r#"printf 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n' >&2
exit 1"#;

/// kind's message when nodes of the cluster exist already.
pub const ALREADY_EXISTS: &str = r#"printf 'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "%s"\n' "$4" >&2; exit 1"#;

/// kind's message when the docker engine stops answering.
pub const KIND_DOCKER_DOWN: &str = r#"printf '%s\n' "ERROR: failed to create cluster: failed to list nodes: command \"docker ps -a --filter label=io.x-k8s.kind.cluster=$4 --format '{{.Names}}'\" failed with error: exit status 1" "Command Output: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1"#;

/// kind's message for a configuration its strict decoder refuses.
pub const KIND_BAD_CONFIG: &str = r#"printf '%s\n' 'ERROR: failed to create cluster: unable to decode config: yaml: unmarshal errors:' '  line 9: field listenAdress not found in type v1alpha4.PortMapping' >&2; exit 1"#;

/// kind's message when kubeadm fails on the control plane.
pub const KUBEADM_FAILED: &str = r#"printf '%s\n' ' ✓ Ensuring node image (kindest/node:v1.34.0) 🖼' ' ✗ Starting control-plane 🕹️' "ERROR: failed to create cluster: failed to init node with kubeadm: command \"docker exec --privileged $4-control-plane kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6\" failed with error: exit status 1" >&2; exit 1"#;

/// Installs a working `docker` and a `kind` that keeps its clusters in `$STATE/clusters` and,
/// on create, writes a kubeconfig (mode 0644, like a careless tool) pointing at `api_url`.
/// `on_create` runs first in `kind create cluster` (e.g. one of the failure messages above).
pub fn install(workspace: &Workspace, api_url: &str, on_create: &str) {
    workspace
        .tools
        .add("docker", DOCKER_UP)
        .expect("docker stand-in");
    install_kind(workspace, api_url, on_create);
}

/// Installs a working `docker` and a `kind` whose `create cluster` runs `on_create`, then starts
/// a real cluster of one control plane and one worker (the shipped configuration's nodes),
/// merging its context into the workspace's kubeconfig. The guard tears down what it started;
/// `None` when the real components are not here (the test skips).
pub fn install_real(workspace: &Workspace, on_create: &str) -> Option<KindClusters> {
    if !cluster::available_or_skip() {
        return None;
    }
    let supervisor = cluster::supervisor_program().expect("shopstack-test-cluster");
    workspace
        .tools
        .add("docker", DOCKER_UP)
        .expect("docker stand-in");
    workspace
        .tools
        .add(
            "kind",
            &cluster_tools::kind_real(&supervisor, 1, &[], on_create),
        )
        .expect("kind stand-in");
    Some(KindClusters::new(&workspace.tools.state()))
}

/// Installs only the `kind` stand-in of [`install`].
pub fn install_kind(workspace: &Workspace, api_url: &str, on_create: &str) {
    let kubeconfig = crate::api::kubeconfig_text(&[(crate::CONTEXT, api_url)]);
    workspace
        .tools
        .add("kind", &cluster_tools::kind(&kubeconfig, on_create))
        .expect("kind stand-in");
}

/// Marks the cluster as existing for the `kind` stand-in.
pub fn cluster_exists(workspace: &Workspace) {
    std::fs::write(
        workspace.tools.state().join("clusters"),
        format!("{}\n", crate::PROJECT),
    )
    .expect("write stand-in state");
}
