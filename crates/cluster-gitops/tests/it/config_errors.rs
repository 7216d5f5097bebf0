//! Invalid kind configurations: one line naming file, line and field, exit 1, no tool touched.

use crate::{Workspace, shipped_kind_config, stderr, tools};

const HEAD: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";

/// (what is wrong, kind-config.yaml, the expected stderr)
fn cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "unknown field",
            shipped_kind_config().replace("hostPort: 8080", "hostPort: 8080\n        hostPorts: 1"),
            "error: create: kind-config.yaml:14:9: unknown field `hostPorts` in nodes[0].extraPortMappings[0], expected one of containerPort, hostPort, listenAddress, protocol",
        ),
        (
            "wrong apiVersion",
            shipped_kind_config().replace("kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha3"),
            "error: create: kind-config.yaml:4:13: apiVersion: \"kind.x-k8s.io/v1alpha3\" is not supported: use \"kind.x-k8s.io/v1alpha4\"",
        ),
        (
            "wrong kind",
            shipped_kind_config().replace("kind: Cluster", "kind: Config"),
            "error: create: kind-config.yaml:3:7: kind: \"Config\" is not a kind cluster configuration: use \"Cluster\"",
        ),
        (
            "duplicate host port",
            shipped_kind_config().replace("hostPort: 3000", "hostPort: 8080"),
            "error: create: kind-config.yaml:18:19: nodes[0].extraPortMappings[1].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
        ),
        (
            "no control-plane node",
            format!("{HEAD}nodes:\n  - role: worker\n"),
            "error: create: kind-config.yaml:4:3: nodes: has no control-plane node: kind needs at least one",
        ),
        (
            "public API server",
            shipped_kind_config().replace(
                "apiServerAddress: \"127.0.0.1\"",
                "apiServerAddress: \"0.0.0.0\"",
            ),
            "error: create: kind-config.yaml:7:21: networking.apiServerAddress: \"0.0.0.0\" is not a loopback address: the API server would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
        ),
        (
            "public port mapping",
            shipped_kind_config().replacen(
                "listenAddress: \"127.0.0.1\"",
                "listenAddress: \"0.0.0.0\"",
                1,
            ),
            "error: create: kind-config.yaml:14:24: nodes[0].extraPortMappings[0].listenAddress: \"0.0.0.0\" is not a loopback address: the port would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
        ),
        (
            "another cluster's name",
            shipped_kind_config().replace("name: shop", "name: other"),
            "error: create: kind-config.yaml: name: \"other\" differs from the cluster name \"shop\" (project.name in the configuration): make them equal or drop name",
        ),
    ]
}

#[tokio::test]
async fn each_invalid_kind_configuration_is_one_line_exit_1_and_runs_no_tool() {
    let mut failures = Vec::new();
    for (what, text, expected) in cases() {
        let workspace = Workspace::new();
        tools::install(&workspace, "http://127.0.0.1:9", "");
        std::fs::write(workspace.path().join("kind-config.yaml"), &text).expect("write");
        let output = workspace.run(&["create"]).await;
        let stderr = stderr(&output);
        let problems = [
            (output.status.code() != Some(1)).then(|| format!("exit {:?}", output.status.code())),
            (stderr != format!("{expected}\n")).then(|| format!("stderr {stderr:?}")),
            (!workspace.tools.calls().is_empty())
                .then(|| format!("tools called: {:?}", workspace.tools.calls())),
        ];
        for problem in problems.into_iter().flatten() {
            failures.push(format!("{what}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn allow_public_accepts_a_public_port_mapping() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", tools::ALREADY_EXISTS);
    std::fs::write(
        workspace.path().join("kind-config.yaml"),
        shipped_kind_config().replacen(
            "listenAddress: \"127.0.0.1\"",
            "listenAddress: \"0.0.0.0\"",
            1,
        ),
    )
    .expect("write");
    let output = workspace.run(&["create", "--allow-public"]).await;
    // The configuration passed: kind was asked (and, scripted here, refused).
    assert!(
        workspace
            .tools
            .calls_of("kind")
            .iter()
            .any(|call| call[..2] == ["create", "cluster"]),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_missing_kind_configuration_is_named() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", "");
    let output = workspace
        .run(&["create", "--kind-config", "nope.yaml"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: create: nope.yaml: cannot read the kind configuration: No such file or directory (os error 2)\n"
    );
    assert!(workspace.tools.calls().is_empty());
}

#[tokio::test]
async fn a_malformed_duration_is_a_usage_error() {
    let workspace = Workspace::new();
    let output = workspace.run(&["create", "--wait", "5x"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("write a duration like 90s, 5m or 2m30s"),
        "{}",
        stderr(&output)
    );
}
