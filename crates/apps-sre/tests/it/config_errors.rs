//! Bad input: one line naming what is wrong, exit 1, and nothing sent anywhere.

use shopstack_testkit::ConnectionCounter;

use crate::k8s::MockApi;
use crate::{Workspace, assert_exit, stderr};

#[tokio::test]
async fn an_invalid_tag_is_refused_before_any_request() {
    let counter = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    let output = workspace.run(&["build", "--tag", "release 1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: --tag \"release 1\" is not a valid image tag (1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')\n"
    );
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn an_unknown_context_is_named_before_any_request() {
    let counter = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let output = workspace
        .run(&["secrets", "sync", "--context", "kind-elsewhere"])
        .await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: connect to Kubernetes: {} (KUBECONFIG): context \"kind-elsewhere\" is not defined (defined: {})\n",
            workspace.kubeconfig().display(),
            workspace.kube_context()
        )
    );
    assert_eq!(counter.connections(), 0);
    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn an_unknown_key_in_the_configuration_is_one_line() {
    let counter = ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    let config = workspace.path().join("shopstack.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}colour = \"blue\"\n")).expect("config");
    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 1);
    let error = stderr(&output);
    assert!(error.starts_with("error: shopstack.toml:"), "{error}");
    assert!(error.contains("colour"), "{error}");
    assert_eq!(error.lines().count(), 1);
    assert_eq!(counter.connections(), 0);
}
