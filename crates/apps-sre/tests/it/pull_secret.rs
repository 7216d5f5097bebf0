//! `pull-secret`: the emulator's ECR token as a `kubernetes.io/dockerconfigjson` Secret, annotated
//! with its times; refreshed only when stale; attached to the default ServiceAccount.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use crate::ecr::emulator_login;
use crate::k8s::{MockApi, default_service_account};
use crate::{Workspace, assert_exit, b64, stderr, stdout};

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds")
}

fn at(seconds: i64) -> String {
    Timestamp::from_second(seconds).expect("time").to_string()
}

fn existing(namespace: &str, registry: &str, created: i64, expires: i64) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("ecr-pull".to_owned()),
            namespace: Some(namespace.to_owned()),
            annotations: Some(BTreeMap::from([
                ("shopstack.io/token-created-at".to_owned(), at(created)),
                ("shopstack.io/token-expires-at".to_owned(), at(expires)),
                ("shopstack.io/registry".to_owned(), registry.to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".to_owned()),
        ..Secret::default()
    }
}

#[tokio::test]
async fn a_missing_pull_secret_is_created_with_the_decoded_token_and_attached() {
    let workspace = Workspace::on_emulator();
    let (registry, password, expires) = emulator_login(&workspace).await;
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let namespace = workspace.namespace();
    api.serve_secret(&namespace, "ecr-pull", None).await;
    api.serve_namespace(&namespace, true).await;
    api.serve_default_service_account(
        &namespace,
        Some(default_service_account(&namespace, &["other"])),
    )
    .await;

    let before = now();
    let output = workspace.run(&["pull-secret"]).await;
    let after = now();
    assert_exit(&output, 0);

    let writes = api.writes().await;
    let paths: Vec<&str> = writes.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("PATCH /api/v1/namespaces/{namespace}/secrets/ecr-pull"),
            format!("PATCH /api/v1/namespaces/{namespace}/serviceaccounts/default"),
        ]
    );
    let secret = &writes[0].1;
    let created: Timestamp = secret["metadata"]["annotations"]["shopstack.io/token-created-at"]
        .as_str()
        .expect("created-at annotation")
        .parse()
        .expect("RFC 3339");
    assert!((before..=after).contains(&created.as_second()), "{created}");
    let docker_config = serde_json::to_string(&json!({"auths": {registry.as_str(): {
        "username": "AWS",
        "password": password,
        "auth": b64(format!("AWS:{password}")),
    }}}))
    .expect("JSON");
    assert_eq!(
        secret,
        &json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "ecr-pull",
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "shopstack"},
                "annotations": {
                    "shopstack.io/token-created-at": created.to_string(),
                    "shopstack.io/token-expires-at": expires,
                    "shopstack.io/registry": registry,
                },
            },
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(docker_config)},
        })
    );
    // The other pull secret stays; the patch is guarded by the resource version.
    assert_eq!(
        writes[1].1,
        json!({
            "metadata": {"resourceVersion": "4711"},
            "imagePullSecrets": [{"name": "other"}, {"name": "ecr-pull"}],
        })
    );
    let (_, content_type) = api
        .write_details(&format!(
            "/api/v1/namespaces/{namespace}/serviceaccounts/default"
        ))
        .await;
    assert_eq!(
        content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        stdout(&output),
        format!(
            "secret {namespace}/ecr-pull: created for {registry}; serviceaccount {namespace}/default: attached\n"
        )
    );
    for text in [stdout(&output), stderr(&output)] {
        assert!(!text.contains(&password), "{text}");
    }
}

#[tokio::test]
async fn a_fresh_pull_secret_gets_no_write() {
    let workspace = Workspace::on_emulator();
    let (registry, _, _) = emulator_login(&workspace).await;
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let namespace = workspace.namespace();
    let now = now();
    api.serve_secret(
        &namespace,
        "ecr-pull",
        Some(existing(&namespace, &registry, now - 3600, now + 11 * 3600)),
    )
    .await;
    api.serve_default_service_account(
        &namespace,
        Some(default_service_account(&namespace, &["ecr-pull"])),
    )
    .await;

    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    assert_eq!(api.writes().await, []);
    assert!(
        stdout(&output).contains("ecr-pull: fresh, 1h00m old"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("already attached"));
}

#[tokio::test]
async fn a_pull_secret_older_than_six_hours_is_refreshed_in_every_namespace() {
    let workspace = Workspace::on_emulator();
    let (registry, _, _) = emulator_login(&workspace).await;
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let now = now();
    for namespace in ["shop-a", "shop-b"] {
        api.serve_secret(
            namespace,
            "ecr-pull",
            Some(existing(
                namespace,
                &registry,
                now - 7 * 3600,
                now + 5 * 3600,
            )),
        )
        .await;
        api.serve_default_service_account(
            namespace,
            Some(default_service_account(namespace, &["ecr-pull"])),
        )
        .await;
    }

    let output = workspace
        .run(&[
            "pull-secret",
            "--namespace",
            "shop-a",
            "--namespace",
            "shop-b",
        ])
        .await;
    assert_exit(&output, 0);
    let writes = api.writes().await;
    let paths: Vec<&str> = writes.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "PATCH /api/v1/namespaces/shop-a/secrets/ecr-pull",
            "PATCH /api/v1/namespaces/shop-b/secrets/ecr-pull"
        ]
    );
    for (_, body) in &writes {
        let created: Timestamp = body["metadata"]["annotations"]["shopstack.io/token-created-at"]
            .as_str()
            .expect("annotation")
            .parse()
            .expect("time");
        assert!(created.as_second() >= now, "{created}");
        assert_eq!(body["type"], "kubernetes.io/dockerconfigjson");
    }
    assert!(
        stdout(&output).contains("refreshed (7h00m old)"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_missing_default_service_account_is_created_with_the_pull_secret() {
    let workspace = Workspace::on_emulator();
    let (registry, _, _) = emulator_login(&workspace).await;
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    let namespace = workspace.namespace();
    let now = now();
    api.serve_secret(
        &namespace,
        "ecr-pull",
        Some(existing(&namespace, &registry, now - 60, now + 12 * 3600)),
    )
    .await;
    api.serve_default_service_account(&namespace, None).await;

    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/default");
    assert_eq!(
        api.writes().await,
        [(
            format!("PATCH {path}"),
            json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": namespace},
                "imagePullSecrets": [{"name": "ecr-pull"}],
            })
        )]
    );
    let (query, _) = api.write_details(&path).await;
    assert_eq!(query.as_deref(), Some("&force=true&fieldManager=shopstack"));
}
