//! `HTTPS_PROXY` and `NO_PROXY` as kubectl reads them: a loopback API server never goes through
//! the proxy, a remote one does, unless `NO_PROXY` names it.

use std::process::Output;

use shopstack_testkit::ConnectionCounter;

use crate::api::kubeconfig_text;
use crate::{CONTEXT, Workspace, stderr, write_private};

/// Runs `args` with `env` added to the workspace's environment.
async fn run_with(workspace: &Workspace, env: &[(&str, &str)], args: &[&str]) -> Output {
    workspace
        .command()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .await
        .expect("run cluster-gitops")
}

#[tokio::test]
async fn an_https_proxy_in_the_environment_is_not_used_for_a_loopback_api_server() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let proxy = ConnectionCounter::start().expect("proxy");
    let workspace = Workspace::on_cluster(cluster);
    let dir = workspace.path().join("manifests");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: behind-a-proxy\n  namespace: default\ndata:\n  A: b\n",
    )
    .expect("write");
    for variable in ["HTTPS_PROXY", "https_proxy"] {
        let output = run_with(
            &workspace,
            &[(variable, &proxy.url())],
            &["sync", "manifests"],
        )
        .await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{variable}: {}",
            stderr(&output)
        );
    }
    assert_eq!(proxy.connections(), 0);
    let stored = cluster.stored("default", "configmap", "behind-a-proxy");
    assert_eq!(stored["data"]["A"], "b");
}

#[tokio::test]
async fn a_remote_api_server_goes_through_the_proxy_unless_no_proxy_names_it() {
    let proxy = ConnectionCounter::start().expect("proxy");
    let workspace = Workspace::new();
    write_private(
        &workspace.kubeconfig(),
        &kubeconfig_text(&[(CONTEXT, "https://api.cluster.shopstack.invalid:6443")]),
    );
    let args = ["validate", "--timeout", "5s"];
    let through = run_with(&workspace, &[("HTTPS_PROXY", &proxy.url())], &args).await;
    assert_eq!(through.status.code(), Some(1), "{}", stderr(&through));
    assert!(proxy.connections() >= 1, "{}", stderr(&through));

    let before = proxy.connections();
    for no_proxy in ["shopstack.invalid", ".cluster.shopstack.invalid", "*"] {
        let bypassed = run_with(
            &workspace,
            &[("HTTPS_PROXY", &proxy.url()), ("NO_PROXY", no_proxy)],
            &args,
        )
        .await;
        assert_eq!(bypassed.status.code(), Some(1), "{}", stderr(&bypassed));
        assert_eq!(
            proxy.connections(),
            before,
            "NO_PROXY={no_proxy}: {}",
            stderr(&bypassed)
        );
    }
}
