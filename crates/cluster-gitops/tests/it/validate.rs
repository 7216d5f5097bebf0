//! `validate`: nodes and CoreDNS pods read through the Kubernetes API, judged, exit 0 or 1.

use std::time::{Duration, Instant};

use shopstack_testkit::{ConnectionCounter, SilentServer};

use crate::api::{
    MockApi, TOKEN, coredns_pod, crash_looping_pod, kubeconfig_text, not_ready_node, ready_node,
};
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
    let api = MockApi::ready_cluster().await;
    let workspace = workspace_for(&api.url());
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
            "control-plane",
            "v1.34.0",
            "ok"
        ]
    );
    assert_eq!(
        rows[2],
        ["node", "shop-worker", "Ready", "<none>", "v1.34.0", "ok"]
    );
    assert_eq!(
        &rows[3][..3],
        ["coredns", "coredns-668d6bf9bc-7x2kq", "Running"]
    );
    assert_eq!(rows[3].last(), Some(&"ok"));
    assert_eq!(
        out.lines().last(),
        Some("nodes 2/2 ready, CoreDNS 2/2 ready (context kind-shop)")
    );

    // The requests went where kubectl's would, with the kubeconfig's credentials.
    let requests = api.requests().await;
    let seen: Vec<String> = requests
        .iter()
        .map(|request| {
            format!(
                "{} {}{}",
                request.method,
                request.url.path(),
                request
                    .url
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "GET /api/v1/nodes?",
            "GET /api/v1/namespaces/kube-system/pods?&labelSelector=k8s-app%3Dkube-dns"
        ]
    );
    assert!(requests.iter().all(|request| {
        request
            .headers
            .get("authorization")
            .is_some_and(|value| value.as_bytes() == format!("Bearer {TOKEN}").as_bytes())
    }));
}

#[tokio::test]
async fn a_not_ready_node_exits_1_naming_it_and_why() {
    let api = MockApi::start().await;
    api.serve_nodes(vec![
        ready_node("shop-control-plane", "control-plane"),
        not_ready_node(
            "shop-worker",
            "KubeletNotReady",
            "container runtime network not ready: NetworkReady=false",
        ),
    ])
    .await;
    api.serve_dns_pods(vec![coredns_pod("coredns-1", "shop-control-plane")])
        .await;
    let workspace = workspace_for(&api.url());
    let output = workspace.run(&["validate"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: node shop-worker is NotReady: KubeletNotReady: container runtime network not ready: NetworkReady=false\n"
    );
    let worker_row = stdout(&output)
        .lines()
        .find(|line| line.contains("shop-worker"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(worker_row.trim_end().ends_with("FAIL"), "{worker_row}");
}

#[tokio::test]
async fn a_crash_looping_coredns_pod_exits_1_naming_it() {
    let api = MockApi::start().await;
    api.serve_nodes(vec![ready_node("shop-control-plane", "control-plane")])
        .await;
    api.serve_dns_pods(vec![
        coredns_pod("coredns-668d6bf9bc-7x2kq", "shop-control-plane"),
        crash_looping_pod("coredns-668d6bf9bc-lm9vd", "shop-control-plane", 7),
    ])
    .await;
    let workspace = workspace_for(&api.url());
    let output = workspace.run(&["validate"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: CoreDNS pod coredns-668d6bf9bc-lm9vd is not ready: CrashLoopBackOff (ready 0/1, restarts 7)\n"
    );
}

#[tokio::test]
async fn no_kube_dns_pods_exits_1() {
    let api = MockApi::start().await;
    api.serve_nodes(vec![ready_node("shop-control-plane", "control-plane")])
        .await;
    api.serve_dns_pods(vec![]).await;
    let workspace = workspace_for(&api.url());
    let output = workspace.run(&["validate"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: no CoreDNS pods (k8s-app=kube-dns) in namespace kube-system\n"
    );
}

#[tokio::test]
async fn json_output_lists_the_checks_and_the_problems() {
    let api = MockApi::start().await;
    api.serve_nodes(vec![not_ready_node(
        "shop-worker",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )])
    .await;
    api.serve_dns_pods(vec![coredns_pod("coredns-1", "shop-worker")])
        .await;
    let workspace = workspace_for(&api.url());
    let output = workspace.run(&["validate", "--json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["context"], CONTEXT);
    assert_eq!(report["server"], api.url());
    assert_eq!(report["nodes"][0]["name"], "shop-worker");
    assert_eq!(report["nodes"][0]["ready"], false);
    assert_eq!(report["dns_pods"][0]["ready"], true);
    assert_eq!(
        report["problems"],
        serde_json::json!([
            "node shop-worker is NotReady: NodeStatusUnknown: Kubelet stopped posting node status."
        ])
    );
}

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
    let api = MockApi::ready_cluster().await;
    let other = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::new();
    let kubeconfig = workspace.path().join("eks.yaml");
    std::fs::write(
        &kubeconfig,
        kubeconfig_text(&[("kind-shop", &other.url()), ("eks-prod", &api.url())]),
    )
    .expect("write kubeconfig");
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
    assert_eq!(api.requests().await.len(), 2);
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
