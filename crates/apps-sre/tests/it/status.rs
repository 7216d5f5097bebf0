//! `status`: releases from the real helm and pods from the real API server, with exit 1 when
//! anything is not deployed or not ready.

use shopstack_testkit::cluster::BUSYBOX_IMAGE;

use crate::{Workspace, assert_exit, stderr, stdout};

/// Runs the real helm with `args` against the workspace's cluster.
fn helm(workspace: &Workspace, real: &std::path::Path, args: &[&str]) {
    let output = std::process::Command::new(real)
        .args(args)
        .arg("--kubeconfig")
        .arg(workspace.kubeconfig())
        .current_dir(workspace.path())
        .output()
        .expect("run helm");
    assert!(
        output.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn status_reads_the_real_releases_and_pods_and_fails_naming_what_is_not_ready() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let Ok(real_helm) = shopstack_testkit::cluster::components::on_path("helm") else {
        assert!(
            !shopstack_testkit::cluster::required(),
            "helm is not on PATH"
        );
        return;
    };
    let mut workspace = Workspace::with_endpoint("https://127.0.0.1:9");
    workspace.also_on_path(real_helm.parent().expect("helm's directory"));
    workspace.use_real_cluster(cluster);
    let project = workspace.project.clone();
    let image = format!("shopstack-test/{project}");
    shopstack_testkit::cluster::build_app_stand_in(&format!("{image}:ready"), true)
        .expect("build the stand-in image");
    cluster
        .load_image(&format!("{image}:ready"))
        .expect("load the image");
    crate::create_namespace(cluster, &project);
    cluster.kubectl_ok(
        &[
            "-n",
            &project,
            "create",
            "secret",
            "generic",
            "app-config",
            "--from-literal=A=1",
        ],
        "",
    );
    let repository = format!("image.repository={image}");
    helm(
        &workspace,
        &real_helm,
        &[
            "upgrade",
            "--install",
            &project,
            "deploy/charts/shopstack-app",
            "--namespace",
            &project,
            "--set",
            &repository,
            "--set",
            "image.tag=ready",
            "--wait",
            "--timeout",
            "120s",
        ],
    );
    let fixture =
        crate::repository_root().join("crates/apps-sre/tests/it/fixtures/observability-stand-in");
    let fixture = fixture.display().to_string();
    helm(
        &workspace,
        &real_helm,
        &[
            "upgrade",
            "--install",
            "kube-prometheus-stack",
            &fixture,
            "--namespace",
            "observability",
            "--create-namespace",
            "--wait",
            "--timeout",
            "120s",
        ],
    );

    let output = workspace.run(&["status"]).await;
    assert_exit(&output, 0);
    let table = stdout(&output);
    assert!(
        table.contains(&format!("release  {project}/{project}")),
        "{table}"
    );
    assert!(table.contains("shopstack-app-0.1.0 revision 1"), "{table}");
    assert!(
        table.contains("observability/kube-prometheus-stack"),
        "{table}"
    );
    assert!(
        table.contains("kube-prometheus-stack-67.8.0 revision 1"),
        "{table}"
    );
    assert_eq!(table.matches("ready 1/1 restarts 0").count(), 3, "{table}");
    assert!(
        table.ends_with("every release deployed, every pod ready\n"),
        "{table}"
    );

    // Pods left behind count for nothing: a finished one, an evicted one (its status written as
    // the kubelet writes an eviction, on a node that does not exist so that no kubelet rewrites
    // it), and one held in Terminating by a finalizer.
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: finished
  namespace: {project}
spec:
  restartPolicy: Never
  containers:
  - name: job
    image: {BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [\"/bin/true\"]
---
apiVersion: v1
kind: Pod
metadata:
  name: evicted
  namespace: {project}
spec:
  nodeName: shopstack-gone-node
  containers:
  - name: app
    image: {BUSYBOX_IMAGE}
---
apiVersion: v1
kind: Pod
metadata:
  name: leaving
  namespace: {project}
  finalizers: [shopstack.io/test-hold]
spec:
  nodeName: shopstack-gone-node
  containers:
  - name: app
    image: {BUSYBOX_IMAGE}
"
        ),
    );
    cluster.kubectl_ok(
        &[
            "-n",
            &project,
            "patch",
            "pod",
            "evicted",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}}"#,
        ],
        "",
    );
    cluster.kubectl_ok(
        &["-n", &project, "delete", "pod", "leaving", "--wait=false"],
        "",
    );
    cluster.kubectl_ok(
        &[
            "-n",
            &project,
            "wait",
            "--for=jsonpath={.status.phase}=Succeeded",
            "pod/finished",
            "--timeout=60s",
        ],
        "",
    );
    let output = workspace.run(&["status"]).await;
    let table = stdout(&output);
    let row = |name: &str| {
        table
            .lines()
            .find(|line| line.contains(&format!("{project}/{name} ")))
            .map(|line| {
                line.split_whitespace()
                    .skip(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    assert_eq!(row("finished"), "Completed ready 0/1 restarts 0", "{table}");
    assert_eq!(
        row("evicted"),
        "Evicted ready 0/1 restarts 0 (left behind, not counted)",
        "{table}"
    );
    assert!(
        row("leaving")
            .starts_with("Terminating ready 0/1 restarts 0 (on its way out, not counted)"),
        "{table}"
    );
    assert_exit(&output, 0);
    cluster.kubectl_ok(
        &[
            "-n",
            &project,
            "patch",
            "pod",
            "leaving",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
        "",
    );

    // A pod that never gets ready, and the observability release gone.
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: never-ready
  namespace: {project}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [\"/bin/sh\", \"-c\", \"exec sleep 3600\"]
    readinessProbe:
      exec:
        command: [\"/bin/false\"]
      periodSeconds: 1
"
        ),
    );
    helm(
        &workspace,
        &real_helm,
        &[
            "uninstall",
            "kube-prometheus-stack",
            "--namespace",
            "observability",
            "--wait",
        ],
    );
    cluster.kubectl_ok(
        &[
            "-n",
            &project,
            "wait",
            "--for=condition=ContainersReady=false",
            "pod/never-ready",
            "--timeout=60s",
        ],
        "",
    );
    let output = workspace.run(&["status"]).await;
    assert_exit(&output, 1);
    let table = stdout(&output);
    assert!(table.contains(&format!("{project}/never-ready")), "{table}");
    assert!(table.contains("missing"), "{table}");
    assert_eq!(
        stderr(&output),
        "error: 2 release(s) or pod(s) not deployed or not ready\n"
    );
}
