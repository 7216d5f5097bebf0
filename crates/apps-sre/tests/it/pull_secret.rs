//! `pull-secret`: the emulator's ECR token as a `kubernetes.io/dockerconfigjson` Secret, annotated
//! with its times; refreshed only when stale; attached to the default ServiceAccount.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use crate::ecr::emulator_login;
use crate::k8s::MockApi;
use crate::{Workspace, assert_exit, b64, stderr, stdout};
use shopstack_testkit::cluster::TestCluster;

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
        data: Some(BTreeMap::from([(
            ".dockerconfigjson".to_owned(),
            k8s_openapi::ByteString(br#"{"auths":{}}"#.to_vec()),
        )])),
        ..Secret::default()
    }
}

/// Writes `secret` to the real cluster as another client would.
fn put(cluster: &TestCluster, secret: &Secret) {
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        &serde_json::to_string(secret).expect("Secret JSON"),
    );
}

/// Sets the `imagePullSecrets` of `namespace`'s default ServiceAccount to `names`, as another
/// client would.
fn set_pull_secrets(cluster: &TestCluster, namespace: &str, names: &[&str]) {
    let secrets: Vec<serde_json::Value> = names.iter().map(|name| json!({"name": name})).collect();
    let patch = json!({"imagePullSecrets": secrets}).to_string();
    cluster.kubectl_ok(
        &[
            "-n",
            namespace,
            "patch",
            "serviceaccount",
            "default",
            "--type=merge",
            "-p",
            &patch,
        ],
        "",
    );
}

/// The `imagePullSecrets` names of `namespace`'s default ServiceAccount.
fn attached(cluster: &TestCluster, namespace: &str) -> serde_json::Value {
    cluster.stored(namespace, "serviceaccount", "default")["imagePullSecrets"].clone()
}

#[tokio::test]
async fn a_missing_pull_secret_is_created_with_the_decoded_token_and_attached() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    let (registry, password, expires) = emulator_login(&workspace).await;
    let namespace = workspace.namespace();
    set_pull_secrets(cluster, &namespace, &["other"]);

    let before = now();
    let output = workspace.run(&["pull-secret"]).await;
    let after = now();
    assert_exit(&output, 0);

    let secret = cluster.stored(&namespace, "secret", "ecr-pull");
    let annotations = &secret["metadata"]["annotations"];
    let created: Timestamp = annotations["shopstack.io/token-created-at"]
        .as_str()
        .expect("created-at annotation")
        .parse()
        .expect("RFC 3339");
    assert!((before..=after).contains(&created.as_second()), "{created}");
    assert_eq!(annotations["shopstack.io/token-expires-at"], expires);
    assert_eq!(annotations["shopstack.io/registry"], registry);
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "shopstack"})
    );
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let docker_config = serde_json::to_string(&json!({"auths": {registry.as_str(): {
        "username": "AWS",
        "password": password,
        "auth": b64(format!("AWS:{password}")),
    }}}))
    .expect("JSON");
    assert_eq!(secret["data"][".dockerconfigjson"], b64(docker_config));
    // The other pull secret stays.
    assert_eq!(
        attached(cluster, &namespace),
        json!([{"name": "other"}, {"name": "ecr-pull"}])
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
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    let (registry, _, _) = emulator_login(&workspace).await;
    let namespace = workspace.namespace();
    let now = now();
    put(
        cluster,
        &existing(&namespace, &registry, now - 3600, now + 11 * 3600),
    );
    set_pull_secrets(cluster, &namespace, &["ecr-pull"]);
    let secret_version =
        cluster.stored(&namespace, "secret", "ecr-pull")["metadata"]["resourceVersion"].clone();
    let account_version =
        cluster.stored(&namespace, "serviceaccount", "default")["metadata"]["resourceVersion"]
            .clone();

    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    assert_eq!(
        cluster.stored(&namespace, "secret", "ecr-pull")["metadata"]["resourceVersion"],
        secret_version
    );
    assert_eq!(
        cluster.stored(&namespace, "serviceaccount", "default")["metadata"]["resourceVersion"],
        account_version
    );
    assert!(
        stdout(&output).contains("ecr-pull: fresh, 1h00m old"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("already attached"));
}

#[tokio::test]
async fn a_pull_secret_older_than_six_hours_is_refreshed_in_every_namespace() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_emulator();
    let (registry, _, _) = emulator_login(&workspace).await;
    workspace.use_real_cluster(cluster);
    let now = now();
    let namespaces = [
        format!("{}-a", workspace.project),
        format!("{}-b", workspace.project),
    ];
    for namespace in &namespaces {
        crate::create_namespace(cluster, namespace);
        put(
            cluster,
            &existing(namespace, &registry, now - 7 * 3600, now + 5 * 3600),
        );
    }

    let output = workspace
        .run(&[
            "pull-secret",
            "--namespace",
            &namespaces[0],
            "--namespace",
            &namespaces[1],
        ])
        .await;
    assert_exit(&output, 0);
    for namespace in &namespaces {
        let secret = cluster.stored(namespace, "secret", "ecr-pull");
        let created: Timestamp = secret["metadata"]["annotations"]["shopstack.io/token-created-at"]
            .as_str()
            .expect("annotation")
            .parse()
            .expect("time");
        assert!(created.as_second() >= now, "{created}");
        assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(attached(cluster, namespace), json!([{"name": "ecr-pull"}]));
    }
    assert!(
        stdout(&output).contains("refreshed (7h00m old)"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn a_pull_secret_in_a_namespace_it_creates_is_attached_while_the_controllers_update_it() {
    // The token controller writes a new namespace's default ServiceAccount just after the
    // service-account controller creates it: the guarded patch meets 409s and reads again.
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_emulator();
    emulator_login(&workspace).await;
    workspace.use_real_cluster(cluster);
    let namespace = workspace.namespace();
    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    assert_eq!(attached(cluster, &namespace), json!([{"name": "ecr-pull"}]));
}

#[tokio::test]
async fn an_existing_opaque_ecr_pull_is_replaced_by_a_pull_secret() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_real_cluster(cluster);
    emulator_login(&workspace).await;
    let namespace = workspace.namespace();
    cluster.kubectl_ok(
        &[
            "-n",
            &namespace,
            "create",
            "secret",
            "generic",
            "ecr-pull",
            "--from-literal=a=b",
        ],
        "",
    );
    let before = cluster.stored(&namespace, "secret", "ecr-pull");
    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("ecr-pull: replaced (it was of type Opaque) for "),
        "{}",
        stdout(&output)
    );
    let secret = cluster.stored(&namespace, "secret", "ecr-pull");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert_ne!(secret["metadata"]["uid"], before["metadata"]["uid"]);
    let keys: Vec<&String> = secret["data"].as_object().expect("data").keys().collect();
    assert_eq!(keys, [".dockerconfigjson"]);

    // Replaced once: the next run (the emulator's tokens always expire within 6 hours, so it
    // refreshes) changes that Secret in place.
    let output = workspace.run(&["pull-secret"]).await;
    assert_exit(&output, 0);
    assert!(!stdout(&output).contains("replaced"), "{}", stdout(&output));
    let again = cluster.stored(&namespace, "secret", "ecr-pull");
    assert_eq!(again["metadata"]["uid"], secret["metadata"]["uid"]);
}

/// On a real cluster the service-account controller re-creates `default` within moments of its
/// deletion, so a namespace without one is only reproducible on the mock API.
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
