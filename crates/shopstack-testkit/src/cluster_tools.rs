//! Stand-in scripts for `docker`, `kind`, `helm` and `git` that answer like the real tools, and
//! the kubeconfig text a Kind cluster's context holds.

/// The bearer token of the kubeconfig user of [`kubeconfig_text`].
pub const TOKEN: &str = "test-token";

/// `docker` with a running engine: `docker --version` and `docker info --format …` answer as
/// Docker 28 does; anything else is refused.
pub const DOCKER: &str = r#"case "$1" in
  --version) printf 'Docker version 28.2.2, build e6534b4\n' ;;
  info) printf '28.2.2\n' ;;
  *) printf 'docker: unexpected call\n' >&2; exit 1 ;;
esac"#;

/// `helm` 3: `version`, `repo add` and `upgrade --install` answer as helm does on success.
pub const HELM: &str = r#"case "$1" in
  version) printf 'v3.18.4+gd80839c\n' ;;
  repo) printf '"%s" has been added to your repositories\n' "$3" ;;
  upgrade) printf 'Release "%s" does not exist. Installing it now.\nNAME: %s\nSTATUS: deployed\nREVISION: 1\n' "$3" "$3" ;;
  *) printf 'Error: unknown command "%s" for "helm"\n' "$1" >&2; exit 1 ;;
esac"#;

/// The real helm at `real`, but for kube-prometheus-stack's upgrade, answered as helm answers
/// success: Kubernetes 1.20's validation refuses its CRDs (`default` on string fields), and its
/// images cannot be pulled here. Its vendored chart is rendered by the real helm in `apps-sre`'s
/// chart tests.
pub fn helm_without_observability(real: &std::path::Path) -> String {
    format!(
        r#"case "$1 $3" in
  "upgrade kube-prometheus-stack") printf 'Release "%s" has been upgraded. Happy Helming!\nSTATUS: deployed\n' "$3" ;;
  *) exec '{real}' "$@" ;;
esac"#,
        real = real.display()
    )
}

/// A ServiceMonitor CRD without a schema: it stands in for kube-prometheus-stack's, which
/// Kubernetes 1.20's validation refuses (`default` on string fields), so that a chart sees the
/// `monitoring.coreos.com/v1` API as where the stack is installed.
pub const SERVICE_MONITOR_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names:
    kind: ServiceMonitor
    listKind: ServiceMonitorList
    plural: servicemonitors
    singular: servicemonitor
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
";

/// `git` in a repository whose checked-out commit is `sha` (`rev-parse HEAD` and
/// `rev-parse --short HEAD`, the short form being its first seven characters).
pub fn git(sha: &str) -> String {
    let short = sha.get(..7).unwrap_or(sha);
    format!(
        r#"case "$*" in
  "rev-parse HEAD") printf '%s\n' '{sha}' ;;
  "rev-parse --short HEAD") printf '%s\n' '{short}' ;;
  *) printf 'git: unexpected call: %s\n' "$*" >&2; exit 1 ;;
esac"#
    )
}

/// `kind` keeping its clusters in `$STATE/clusters`. `kind create cluster` runs `on_create` first
/// (e.g. a failure message and `exit 1`), then writes `kubeconfig` (mode 0644, as kind does) to
/// the first file of `KUBECONFIG`; `get kubeconfig` prints it.
pub fn kind(kubeconfig: &str, on_create: &str) -> String {
    format!(
        r#"CLUSTERS="$STATE/clusters"
KUBECONFIG_TEXT='{kubeconfig}'
# Like kind, write to the first file of a KUBECONFIG list.
TARGET="${{KUBECONFIG%%:*}}"
case "$1 $2" in
  "version ")
    printf 'kind v0.30.0 go1.24.6 linux/amd64\n' ;;
  "get clusters")
    if [ -s "$CLUSTERS" ]; then
      while IFS= read -r line; do printf '%s\n' "$line"; done < "$CLUSTERS"
    else
      printf 'No kind clusters found.\n' >&2
    fi ;;
  "create cluster")
    if [ -s "$CLUSTERS" ]; then
      printf 'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "%s"\n' "$4" >&2
      exit 1
    fi
    {on_create}
    printf 'Creating cluster "%s" ...\n' "$4" >&2
    printf '%s\n' "$4" > "$CLUSTERS"
    umask 022
    printf '%s' "$KUBECONFIG_TEXT" > "$TARGET"
    printf 'Set kubectl context to "kind-%s"\n' "$4" >&2 ;;
  "delete cluster")
    printf 'Deleting cluster "%s" ...\n' "$4" >&2
    : > "$CLUSTERS" ;;
  "get kubeconfig")
    printf '%s' "$KUBECONFIG_TEXT" ;;
  "export kubeconfig")
    umask 022
    printf '%s' "$KUBECONFIG_TEXT" > "$TARGET"
    printf 'Set kubectl context to "kind-%s"\n' "$4" >&2 ;;
  "export logs")
    printf 'Exporting logs for cluster "%s" to:\n%s\n' "$5" "$3" >&2 ;;
  *)
    printf 'ERROR: unknown command "%s" for "kind"\n' "$1" >&2
    exit 1 ;;
esac"#
    )
}

/// `kind` standing in for kind itself (kind's node image cannot be pulled here): `create cluster`
/// starts a real test cluster (see [`crate::cluster`]) with `workers` workers through
/// `supervisor` (`shopstack-test-cluster`) and merges its `kind-<name>` context into the first
/// file of `KUBECONFIG`, as kind does; `delete cluster` tears it down; `get clusters` lists the
/// running ones; `get kubeconfig` prints the cluster's kubeconfig and `export kubeconfig` merges
/// it. Its clusters live under `$STATE/clusters/<name>`. Each image of `preload` is
/// copied from this machine's docker engine into every node once the cluster is up, as
/// `kind load docker-image` would (images cannot be pulled here). `on_create` runs first in
/// `kind create cluster` (e.g. one of kind's failure messages and `exit 1`).
pub fn kind_real(
    supervisor: &std::path::Path,
    workers: usize,
    preload: &[&str],
    on_create: &str,
) -> String {
    use crate::cluster::components::{KUBERNETES_VARIABLE, kubernetes_dir};
    // The supervisor runs with the test's own PATH and components, whatever the command under
    // test was given.
    let path = std::env::var("PATH").unwrap_or_default();
    format!(
        r#"CLUSTERS="$STATE/clusters"
SUPERVISOR='{supervisor}'
export PATH='{path}'
export {KUBERNETES_VARIABLE}='{kubernetes}'
TARGET="${{KUBECONFIG%%:*}}"
[ -n "$TARGET" ] || TARGET="$HOME/.kube/config"
case "$1 $2" in
  "version ")
    printf 'kind v0.30.0 go1.24.6 linux/amd64\n' ;;
  "get clusters")
    found=
    for dir in "$CLUSTERS"/*; do
      [ -f "$dir/ready" ] || continue
      found=1
      printf '%s\n' "${{dir##*/}}"
    done
    [ -n "$found" ] || printf 'No kind clusters found.\n' >&2 ;;
  "create cluster")
    if [ -f "$CLUSTERS/$4/ready" ]; then
      printf 'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "%s"\n' "$4" >&2
      exit 1
    fi
    {on_create}
    printf 'Creating cluster "%s" ...\n' "$4" >&2
    "$SUPERVISOR" run --detach "--dir=$CLUSTERS/$4" "--name=$4" --workers={workers} "--kubeconfig=$TARGET" >/dev/null || exit 1
    for image in {preload}; do
      for socket in "$CLUSTERS/$4"/n*/docker.sock; do
        docker save "$image" | docker --host "unix://$socket" load --quiet >/dev/null || exit 1
      done
    done
    printf 'Set kubectl context to "kind-%s"\n' "$4" >&2 ;;
  "delete cluster")
    printf 'Deleting cluster "%s" ...\n' "$4" >&2
    [ -d "$CLUSTERS/$4" ] && "$SUPERVISOR" down "--dir=$CLUSTERS/$4"
    : ;;
  "get nodes")
    # Its nodes are not containers: their docker engines run on the host's network and reach
    # the local registry on localhost:5001 themselves, so there is no node to configure.
    printf 'No kind nodes found for cluster "%s".\n' "$4" >&2 ;;
  "get kubeconfig")
    cat "$CLUSTERS/$4/kubeconfig" ;;
  "export kubeconfig")
    merged="$TARGET.kind-merge"
    KUBECONFIG="$TARGET:$CLUSTERS/$4/kubeconfig" kubectl config view --raw --flatten > "$merged" || exit 1
    mv "$merged" "$TARGET"
    kubectl --kubeconfig "$TARGET" config use-context "kind-$4" >/dev/null || exit 1
    printf 'Set kubectl context to "kind-%s"\n' "$4" >&2 ;;
  "export logs")
    printf 'Exporting logs for cluster "%s" to:\n%s\n' "$5" "$3" >&2 ;;
  *)
    printf 'ERROR: unknown command "%s" for "kind"\n' "$1" >&2
    exit 1 ;;
esac"#,
        supervisor = supervisor.display(),
        kubernetes = kubernetes_dir().display(),
        preload = preload
            .iter()
            .map(|image| format!("'{image}'"))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A kubeconfig whose contexts each point at a server: (context, server URL); the first is
/// current. Every user authenticates with [`TOKEN`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StandIns;
    use std::process::Command;

    fn run(stand_ins: &StandIns, tool: &str, args: &[&str]) -> (Option<i32>, String) {
        let output = Command::new(stand_ins.bin().join(tool))
            .args(args)
            .env("KUBECONFIG", stand_ins.path().join("kubeconfig"))
            .output()
            .expect("run stand-in");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    #[test]
    fn kind_answers_version_and_keeps_its_clusters() {
        let stand_ins = StandIns::new().expect("stand-ins");
        let kubeconfig = kubeconfig_text(&[("kind-shop", "http://127.0.0.1:9")]);
        stand_ins.add("kind", &kind(&kubeconfig, "")).expect("kind");
        assert_eq!(
            run(&stand_ins, "kind", &["version"]),
            (Some(0), "kind v0.30.0 go1.24.6 linux/amd64\n".to_owned())
        );
        assert_eq!(
            run(&stand_ins, "kind", &["get", "clusters"]),
            (Some(0), String::new())
        );
        let create = ["create", "cluster", "--name", "shop", "--config", "k.yaml"];
        assert_eq!(run(&stand_ins, "kind", &create).0, Some(0));
        assert_eq!(
            run(&stand_ins, "kind", &["get", "clusters"]),
            (Some(0), "shop\n".to_owned())
        );
        assert_eq!(
            std::fs::read_to_string(stand_ins.path().join("kubeconfig")).expect("kubeconfig"),
            kubeconfig
        );
        assert_eq!(run(&stand_ins, "kind", &create).0, Some(1));
    }

    #[test]
    fn git_names_the_commit_in_full_and_short() {
        let stand_ins = StandIns::new().expect("stand-ins");
        let sha = "3f2c1ab9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8";
        stand_ins.add("git", &git(sha)).expect("git");
        assert_eq!(
            run(&stand_ins, "git", &["rev-parse", "HEAD"]),
            (Some(0), format!("{sha}\n"))
        );
        assert_eq!(
            run(&stand_ins, "git", &["rev-parse", "--short", "HEAD"]),
            (Some(0), "3f2c1ab\n".to_owned())
        );
        assert_eq!(run(&stand_ins, "git", &["status"]).0, Some(1));
    }
}
