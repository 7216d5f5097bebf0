//! `secrets sync`: the application secret from the emulator's Secrets Manager applied to a real
//! API server as Secret `app-config`, byte for byte; no write when nothing changed; bad secrets
//! refused before anything reaches the cluster.

use serde_json::json;
use shopstack_testkit::ConnectionCounter;

use crate::{CANARY, Workspace, assert_exit, b64, managers, stderr, stdout};

const VALUE: &str = r#"{"DATABASE_URL":"postgres://db:5432/shop","API_TOKEN":"canary-3b9f27-hunter2","WORKERS":4,"GRAFANA_ADMIN_PASSWORD":"grafana-only"}"#;

/// Asserts that the command's standard output holds `text`.
fn assert_says(output: &std::process::Output, text: &str) {
    assert!(stdout(output).contains(text), "{}", stdout(output));
}

/// A workspace on the emulator with the app secret set to `value`, its kubeconfig on a server
/// that counts connections (and must see none).
async fn setup_unreachable(value: &str) -> (Workspace, ConnectionCounter) {
    let workspace = Workspace::on_emulator();
    workspace.put_app_secret(value).await;
    let counter = ConnectionCounter::start().expect("counter");
    workspace.use_cluster(&counter.url());
    (workspace, counter)
}

#[tokio::test]
async fn sync_applies_the_secret_as_base64_data_without_logging_values() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    workspace.put_app_secret(VALUE).await;
    let namespace = workspace.namespace();

    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 0);

    let secret = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["data"],
        json!({
            "API_TOKEN": b64(CANARY),
            "DATABASE_URL": b64("postgres://db:5432/shop"),
            "WORKERS": b64("4"),
        })
    );
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "shopstack"})
    );
    assert_eq!(
        secret["metadata"]["annotations"],
        json!({"shopstack.io/source": format!("secretsmanager:{}", workspace.names().app_secret())})
    );
    assert_eq!(
        managers(&secret),
        [("shopstack".to_owned(), "Apply".to_owned())]
    );
    assert_eq!(
        stdout(&output),
        format!(
            "secret {namespace}/app-config created from {} (3 keys)\n",
            workspace.names().app_secret()
        )
    );
    for text in [stdout(&output), stderr(&output)] {
        assert!(!text.contains(CANARY), "{text}");
        assert!(!text.contains("postgres://"), "{text}");
    }
}

#[tokio::test]
async fn an_unchanged_secret_gets_no_write() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    workspace.put_app_secret(VALUE).await;
    let namespace = workspace.namespace();
    assert_exit(&workspace.run(&["secrets", "sync"]).await, 0);
    // Added by someone else: not a difference.
    cluster.kubectl_ok(
        &[
            "-n",
            &namespace,
            "annotate",
            "secret",
            "app-config",
            "example.com/owner=team-a",
        ],
        "",
    );
    let before = cluster.stored(&namespace, "secret", "app-config");

    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 0);
    let after = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_says(&output, "app-config unchanged");
}

#[tokio::test]
async fn a_changed_value_is_written_and_a_missing_namespace_created_first() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_emulator();
    workspace.put_app_secret(VALUE).await;
    workspace.use_real_cluster(cluster);
    let namespace = format!("{}-payments", workspace.project);

    let output = workspace
        .run(&["secrets", "sync", "--namespace", &namespace])
        .await;
    assert_exit(&output, 0);
    let created = cluster.stored("default", "namespace", &namespace);
    assert_eq!(
        created["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "shopstack"
    );
    let secret = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(secret["data"]["API_TOKEN"], b64(CANARY));

    // A new value at the source is written over the old one.
    aws_sdk_secretsmanager::Client::new(&workspace.sdk().await)
        .put_secret_value()
        .secret_id(workspace.names().app_secret())
        .secret_string(
            r#"{"API_TOKEN":"rotated","DATABASE_URL":"postgres://db:5432/shop","WORKERS":"4"}"#,
        )
        .send()
        .await
        .expect("put secret value");
    let output = workspace
        .run(&["secrets", "sync", "--namespace", &namespace])
        .await;
    assert_exit(&output, 0);
    let secret = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(secret["data"]["API_TOKEN"], b64("rotated"));
}

#[tokio::test]
async fn a_key_removed_at_the_source_is_removed_from_a_secret_kubectl_created() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    workspace.put_app_secret(r#"{"KEEP":"yes"}"#).await;
    let namespace = workspace.namespace();
    cluster.kubectl_ok(
        &[
            "-n",
            &namespace,
            "create",
            "secret",
            "generic",
            "app-config",
            "--from-literal=KEEP=yes",
            "--from-literal=REMOVED=old",
        ],
        "",
    );
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 0);
    assert_says(&output, "app-config updated");
    let secret = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(secret["data"], json!({"KEEP": b64("yes")}));

    // Converged: the next run writes nothing.
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_says(&output, "app-config unchanged");
    let again = cluster.stored(&namespace, "secret", "app-config");
    assert_eq!(
        again["metadata"]["resourceVersion"],
        secret["metadata"]["resourceVersion"]
    );
}

/// Creates Secret `app-config` in `namespace` with kubectl, `rest` holding its other fields.
fn create_secret_with_kubectl(
    cluster: &shopstack_testkit::cluster::TestCluster,
    namespace: &str,
    rest: &str,
) {
    cluster.kubectl_ok(
        &["-n", namespace, "create", "-f", "-"],
        &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-config\n{rest}"),
    );
}

#[tokio::test]
async fn an_immutable_or_other_typed_secret_is_replaced_with_a_note_and_then_left_alone() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    for (rest, note) in [
        (
            "immutable: true\ndata:\n  KEEP: b2xk\n",
            "replaced (it was immutable)",
        ),
        (
            "type: example.com/custom\ndata:\n  KEEP: eWVz\n",
            "replaced (it was of type example.com/custom)",
        ),
    ] {
        let workspace = Workspace::on_real_cluster(cluster);
        workspace.put_app_secret(r#"{"KEEP":"yes"}"#).await;
        let namespace = workspace.namespace();
        create_secret_with_kubectl(cluster, &namespace, rest);
        let before = cluster.stored(&namespace, "secret", "app-config");

        let output = workspace.run(&["secrets", "sync"]).await;
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            format!(
                "secret {namespace}/app-config {note} from {} (1 key)\n",
                workspace.names().app_secret()
            )
        );
        let secret = cluster.stored(&namespace, "secret", "app-config");
        assert_ne!(
            secret["metadata"]["uid"], before["metadata"]["uid"],
            "{note}"
        );
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret.get("immutable"), None, "{secret}");
        assert_eq!(secret["data"], json!({"KEEP": b64("yes")}));

        let output = workspace.run(&["secrets", "sync"]).await;
        assert_says(&output, "app-config unchanged");
    }
}

#[tokio::test]
async fn a_non_object_secret_is_one_line_and_nothing_is_sent_to_the_cluster() {
    let (workspace, counter) = setup_unreachable(&format!(r#"["{CANARY}"]"#)).await;
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: secret {}: the value must be a JSON object of strings, found an array\n",
            workspace.names().app_secret()
        )
    );
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn an_invalid_key_is_named_and_nothing_is_sent_to_the_cluster() {
    for key in ["db/url", "..data"] {
        let (workspace, counter) = setup_unreachable(&format!(r#"{{"{key}":"{CANARY}"}}"#)).await;
        let output = workspace.run(&["secrets", "sync"]).await;
        assert_exit(&output, 1);
        let error = stderr(&output);
        assert_eq!(
            error,
            format!(
                "error: secret {}: key \"{key}\" is not a valid Kubernetes Secret key (1 to 253 letters, digits, '-', '_' or '.', not starting with '..')\n",
                workspace.names().app_secret()
            )
        );
        assert!(!error.contains(CANARY));
        assert_eq!(counter.connections(), 0, "{key}");
    }
}

#[tokio::test]
async fn a_missing_secret_says_how_to_create_it() {
    let workspace = Workspace::on_emulator();
    let counter = ConnectionCounter::start().expect("counter");
    workspace.use_cluster(&counter.url());
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: secret {} does not exist: create it with `infra-terraform apply`\n",
            workspace.names().app_secret()
        )
    );
    assert_eq!(counter.connections(), 0);
}
