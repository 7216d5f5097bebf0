//! `validate`: the nodes and CoreDNS pods of a real cluster read through its API, judged, exit 0
//! or 1.

use std::time::{Duration, Instant};

use shopstack_testkit::cluster::TestCluster;
use shopstack_testkit::{ConnectionCounter, SilentServer};

use crate::api::kubeconfig_text;
use crate::{CONTEXT, Workspace, stderr, stdout};

fn workspace_for(api_url: &str) -> Workspace {
    let workspace = Workspace::new();
    std::fs::write(
        workspace.kubeconfig(),
        kubeconfig_text(&[(CONTEXT, api_url)]),
    )
    .expect("write kubeconfig");
    workspace
}

#[tokio::test]
async fn a_ready_cluster_exits_0_with_a_table_of_every_node_and_pod() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_cluster(cluster);
    let output = workspace.run(&["validate"]).await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["KIND", "NAME", "STATUS", "DETAIL", "CHECK"]);
    assert_eq!(
        rows[1],
        [
            "node",
            "shop-control-plane",
            "Ready",
            "control-plane,master",
            "v1.20.2",
            "ok"
        ]
    );
    // The CoreDNS stand-in's two pods, read as the kubelet runs them.
    for row in &rows[2..4] {
        assert_eq!(row[0], "coredns");
        assert!(row[1].starts_with("coredns-"), "{row:?}");
        assert_eq!(row[2], "Running");
        assert_eq!(row.last(), Some(&"ok"));
    }
    assert_eq!(
        out.lines().last(),
        Some("nodes 1/1 ready, CoreDNS 2/2 ready (context kind-shop)")
    );
}

/// Runs `validate` (with `extra` arguments) until its error output satisfies `done`, for at most
/// a minute: the kubelet and the node controller report what happened within seconds.
async fn validate_until(
    workspace: &Workspace,
    extra: &[&str],
    done: impl Fn(&str) -> bool,
) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut args = vec!["validate"];
    args.extend_from_slice(extra);
    loop {
        let output = workspace.run(&args).await;
        if done(&stderr(&output)) || Instant::now() > deadline {
            return output;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn an_unhealthy_cluster_exits_1_naming_each_failing_node_and_pod() {
    // Its own cluster with a worker: this test removes CoreDNS and stops a kubelet.
    let Some(cluster) = TestCluster::start_or_skip("shop", 1) else {
        return;
    };
    let workspace = Workspace::on_cluster(&cluster);

    cluster.kubectl_ok(
        &[
            "-n",
            "kube-system",
            "scale",
            "deployment/coredns",
            "--replicas=0",
        ],
        "",
    );
    let none = "error: no CoreDNS pods (k8s-app=kube-dns) in namespace kube-system\n";
    let output = validate_until(&workspace, &[], |error| error == none).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), none);

    cluster.kubectl_ok(&["apply", "-f", "-"], CRASHING_DNS_POD);
    let crashing =
        "error: CoreDNS pod coredns-crashing is not ready: CrashLoopBackOff (ready 0/1, restarts ";
    let output = validate_until(&workspace, &[], |error| error.starts_with(crashing)).await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    let restarts = error
        .strip_prefix(crashing)
        .and_then(|rest| rest.strip_suffix(")\n"))
        .and_then(|count| count.parse::<u32>().ok());
    assert!(restarts.is_some_and(|count| count >= 1), "{error}");

    cluster.stop_kubelet(1);
    let not_ready = "error: node shop-worker is NotReady (Unknown): NodeStatusUnknown: Kubelet stopped posting node status.\n";
    let output = validate_until(&workspace, &[], |error| error.starts_with(not_ready)).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(not_ready),
        "{}",
        stderr(&output)
    );
    let worker_row = stdout(&output)
        .lines()
        .find(|line| line.contains("shop-worker"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(worker_row.trim_end().ends_with("FAIL"), "{worker_row}");

    let output = workspace.run(&["validate", "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["context"], CONTEXT);
    assert_eq!(report["nodes"][0]["name"], "shop-control-plane");
    assert_eq!(report["nodes"][0]["ready"], true);
    assert_eq!(report["nodes"][1]["name"], "shop-worker");
    assert_eq!(report["nodes"][1]["ready"], false);
    assert_eq!(report["dns_pods"][0]["name"], "coredns-crashing");
    assert_eq!(report["dns_pods"][0]["ready"], false);
    assert_eq!(
        report["problems"][0],
        "node shop-worker is NotReady (Unknown): NodeStatusUnknown: Kubelet stopped posting node status."
    );
    cluster.stop();
}

/// A pod labelled like CoreDNS whose container exits at once, so the kubelet backs off.
const CRASHING_DNS_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: coredns-crashing
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector:
    kubernetes.io/hostname: shop-control-plane
  containers:
  - name: coredns
    image: shopstack-test/busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [\"/bin/sh\", \"-c\", \"exit 3\"]
";

#[tokio::test]
async fn an_api_server_that_never_answers_is_an_error_within_the_timeout() {
    let silent = SilentServer::start().expect("silent server");
    let workspace = workspace_for(&silent.url());
    let started = Instant::now();
    let output = workspace.run(&["validate", "--timeout", "1s"]).await;
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: validate: the API server at {} did not answer within 1s\n",
            silent.url()
        )
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn context_selects_the_cluster_on_any_kubeconfig() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let other = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::new();
    let kubeconfig = workspace.path().join("eks.yaml");
    crate::write_private(&kubeconfig, &cluster.kubeconfig_text_as("eks-prod"));
    // A second context, current, on a server that must not be asked.
    let server = format!("--server={}", other.url());
    for args in [
        vec!["config", "set-cluster", "kind-shop", server.as_str()],
        vec![
            "config",
            "set-context",
            "kind-shop",
            "--cluster=kind-shop",
            "--user=eks-prod",
        ],
        vec!["config", "use-context", "kind-shop"],
    ] {
        let status = shopstack_testkit::cluster::kubectl_command(&kubeconfig)
            .args(&args)
            .status()
            .expect("kubectl config");
        assert!(status.success(), "kubectl {args:?}");
    }
    let output = workspace
        .run(&[
            "validate",
            "--kubeconfig",
            "eks.yaml",
            "--context",
            "eks-prod",
        ])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("(context eks-prod)"));
    assert!(stdout(&output).contains("shop-control-plane"));
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn an_unknown_context_is_one_line_naming_the_defined_ones() {
    let workspace = workspace_for("http://127.0.0.1:9");
    let output = workspace
        .run(&["validate", "--context", "kind-other"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(
        error.starts_with("error: validate: ")
            && error.ends_with(": context \"kind-other\" is not defined (defined: kind-shop)\n"),
        "{error}"
    );
}
