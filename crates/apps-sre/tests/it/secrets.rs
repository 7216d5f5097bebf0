//! `secrets sync`: the application secret from the emulator's Secrets Manager applied as Secret
//! `app-config`, byte for byte; no write when nothing changed; bad secrets refused before any write.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use crate::k8s::MockApi;
use crate::{CANARY, Workspace, assert_exit, b64, stderr, stdout};

const VALUE: &str = r#"{"DATABASE_URL":"postgres://db:5432/shop","API_TOKEN":"canary-3b9f27-hunter2","WORKERS":4,"GRAFANA_ADMIN_PASSWORD":"grafana-only"}"#;

async fn setup(value: &str) -> (Workspace, MockApi) {
    let workspace = Workspace::on_emulator();
    workspace.put_app_secret(value).await;
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    (workspace, api)
}

fn expected_body(workspace: &Workspace) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "app-config",
            "namespace": workspace.namespace(),
            "labels": {"app.kubernetes.io/managed-by": "shopstack"},
            "annotations": {
                "shopstack.io/source": format!("secretsmanager:{}", workspace.names().app_secret())
            },
        },
        "type": "Opaque",
        "data": {
            "API_TOKEN": b64(CANARY),
            "DATABASE_URL": b64("postgres://db:5432/shop"),
            "WORKERS": b64("4"),
        },
    })
}

#[tokio::test]
async fn sync_applies_the_secret_as_base64_data_without_logging_values() {
    let (workspace, api) = setup(VALUE).await;
    let namespace = workspace.namespace();
    api.serve_secret(&namespace, "app-config", None).await;
    api.serve_namespace(&namespace, true).await;

    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 0);

    let path = format!("/api/v1/namespaces/{namespace}/secrets/app-config");
    assert_eq!(
        api.writes().await,
        [(format!("PATCH {path}"), expected_body(&workspace))]
    );
    let (query, content_type) = api.write_details(&path).await;
    assert_eq!(query.as_deref(), Some("&force=true&fieldManager=shopstack"));
    assert_eq!(
        content_type.as_deref(),
        Some("application/apply-patch+yaml")
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
    let (workspace, api) = setup(VALUE).await;
    let namespace = workspace.namespace();
    let data: BTreeMap<String, ByteString> = [
        ("API_TOKEN", CANARY),
        ("DATABASE_URL", "postgres://db:5432/shop"),
        ("WORKERS", "4"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), ByteString(value.as_bytes().to_vec())))
    .collect();
    let existing = Secret {
        metadata: ObjectMeta {
            name: Some("app-config".to_owned()),
            namespace: Some(namespace.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                "shopstack".to_owned(),
            )])),
            annotations: Some(BTreeMap::from([
                (
                    "shopstack.io/source".to_owned(),
                    format!("secretsmanager:{}", workspace.names().app_secret()),
                ),
                // Added by someone else: not a difference.
                ("example.com/owner".to_owned(), "team-a".to_owned()),
            ])),
            resource_version: Some("12".to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    };
    api.serve_secret(&namespace, "app-config", Some(existing))
        .await;

    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 0);
    assert_eq!(api.writes().await, []);
    let reads: Vec<String> = api
        .requests()
        .await
        .iter()
        .map(|request| format!("{} {}", request.method, request.url.path()))
        .collect();
    assert_eq!(
        reads,
        [format!(
            "GET /api/v1/namespaces/{namespace}/secrets/app-config"
        )]
    );
    assert!(
        stdout(&output).contains("app-config unchanged"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_changed_value_is_written_and_a_missing_namespace_created_first() {
    let (workspace, api) = setup(VALUE).await;
    let namespace = "payments";
    api.serve_secret(namespace, "app-config", None).await;
    api.serve_namespace(namespace, false).await;

    let output = workspace
        .run(&["secrets", "sync", "--namespace", namespace])
        .await;
    assert_exit(&output, 0);
    let writes = api.writes().await;
    let paths: Vec<&str> = writes.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "PATCH /api/v1/namespaces/payments",
            "PATCH /api/v1/namespaces/payments/secrets/app-config"
        ]
    );
    assert_eq!(
        writes[0].1,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": "payments", "labels": {"app.kubernetes.io/managed-by": "shopstack"}
        }})
    );
    assert_eq!(writes[1].1["metadata"]["namespace"], "payments");
    assert_eq!(writes[1].1["data"]["API_TOKEN"], b64(CANARY));
}

#[tokio::test]
async fn a_non_object_secret_is_one_line_and_nothing_is_sent_to_the_cluster() {
    let (workspace, api) = setup(&format!(r#"["{CANARY}"]"#)).await;
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: secret {}: the value must be a JSON object of strings, found an array\n",
            workspace.names().app_secret()
        )
    );
    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn an_invalid_key_is_named_and_nothing_is_sent_to_the_cluster() {
    let (workspace, api) = setup(&format!(r#"{{"db/url":"{CANARY}"}}"#)).await;
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 1);
    let error = stderr(&output);
    assert_eq!(
        error,
        format!(
            "error: secret {}: key \"db/url\" is not a valid Kubernetes Secret key (1 to 253 letters, digits, '-', '_' or '.')\n",
            workspace.names().app_secret()
        )
    );
    assert!(!error.contains(CANARY));
    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn a_missing_secret_says_how_to_create_it() {
    let workspace = Workspace::on_emulator();
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let output = workspace.run(&["secrets", "sync"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: secret {} does not exist: create it with `infra-terraform apply`\n",
            workspace.names().app_secret()
        )
    );
    assert!(api.requests().await.is_empty());
}
