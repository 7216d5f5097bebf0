//! `deploy`: every helm call's argv, the Secrets written before it, and the Grafana password kept
//! out of helm's argv, environment and all output.

use serde_json::json;

use crate::{CANARY, Workspace, assert_exit, b64, stderr, stdout};
use shopstack_testkit::cluster::TestCluster;
use shopstack_testkit::helm_argv;

/// helm's answers to the calls `deploy` makes; each call's variables are kept in `$STATE`.
const HELM: &str = r#"set > "$STATE/env-$$"
case "$1" in
  repo) printf '"%s" has been added to your repositories\n' "$3" ;;
  upgrade) printf 'Release "%s" has been upgraded. Happy Helming!\nSTATUS: deployed\n' "$3" ;;
  list) printf '[]\n' ;;
  *) printf 'Error: unknown command "%s" for "helm"\n' "$1" >&2; exit 1 ;;
esac"#;

/// `helm list` of the app's namespace, which `deploy observability` makes to find an app
/// installed before it.
fn app_list(workspace: &Workspace) -> Vec<String> {
    [
        "list",
        "--all",
        "--namespace",
        &workspace.namespace(),
        "--output",
        "json",
        "--kube-context",
        &workspace.kube_context(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// helm's message when an atomic upgrade times out and rolls back.
const HELM_ATOMIC_FAILURE: &str = r#"case "$1" in
  upgrade) printf 'Error: UPGRADE FAILED: release %s failed, and has been rolled back due to atomic being set: context deadline exceeded\n' "$3" >&2; exit 1 ;;
  *) exit 0 ;;
esac"#;

fn observability_upgrade(context: &str) -> Vec<String> {
    helm_argv::observability_upgrade(None, context)
}

/// The upgrade of the app release, `config_version` being the synced `app-config`'s resource
/// version (as the API server stores it).
fn app_upgrade(workspace: &Workspace, uri: &str, tag: &str, config_version: &str) -> Vec<String> {
    helm_argv::AppRelease {
        project: &workspace.project,
        repository: uri,
        tag,
        config_version,
        local_registry: false,
        node_port: None,
    }
    .upgrade(&workspace.kube_context())
}

/// The last line of the standard error: the error, after the progress lines.
fn last_line(output: &std::process::Output) -> String {
    stderr(output).lines().last().unwrap_or_default().to_owned()
}

/// The resource version of `namespace/app-config` as the API server stores it.
fn config_version(cluster: &TestCluster, namespace: &str) -> String {
    cluster.stored(namespace, "secret", "app-config")["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_owned()
}

/// Asserts the canary is nowhere: argv, helm's environment, the tool's output.
fn assert_no_canary(workspace: &Workspace, output: &std::process::Output) {
    for call in workspace.tools.calls() {
        assert!(!call.iter().any(|arg| arg.contains(CANARY)), "{call:?}");
    }
    for entry in std::fs::read_dir(workspace.tools.state()).expect("state dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        assert!(
            !text.contains(CANARY),
            "helm's environment holds the password"
        );
    }
    for text in [stdout(output), stderr(output)] {
        assert!(!text.contains(CANARY), "{text}");
    }
}

/// A cluster of the test's own: observability lives in one fixed namespace and Secret per cluster
/// (`observability/grafana-admin`), whose first write these tests assert, so they cannot share
/// one. helm stands in: kube-prometheus-stack's images cannot be pulled here (its pods never run).
fn observability_cluster(workspace: &Workspace) -> Option<TestCluster> {
    let cluster = TestCluster::start_or_skip("observability", 0)?;
    workspace.use_real_cluster(&cluster);
    Some(cluster)
}

#[tokio::test]
async fn observability_gets_the_grafana_password_through_a_secret_never_argv() {
    let workspace = Workspace::on_emulator();
    workspace
        .put_app_secret(&format!(
            r#"{{"GRAFANA_ADMIN_PASSWORD":"{CANARY}","DATABASE_URL":"postgres://db"}}"#
        ))
        .await;
    workspace.tools.add("helm", HELM).expect("helm stand-in");
    let Some(cluster) = observability_cluster(&workspace) else {
        return;
    };

    let output = workspace.run(&["deploy", "observability"]).await;
    assert_exit(&output, 0);

    assert_eq!(
        workspace.tools.calls_of("helm"),
        [
            observability_upgrade(&workspace.kube_context()),
            app_list(&workspace)
        ]
    );
    let namespace = cluster.stored("default", "namespace", "observability");
    assert_eq!(
        namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "shopstack"
    );
    let secret = cluster.stored("observability", "secret", "grafana-admin");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["metadata"]["labels"],
        json!({"app.kubernetes.io/managed-by": "shopstack"})
    );
    assert_eq!(
        secret["data"],
        json!({"admin-user": b64("admin"), "admin-password": b64(CANARY)})
    );
    // The values file the release uses names that Secret.
    let values = std::fs::read_to_string(workspace.path().join("deploy/observability/values.yaml"))
        .expect("values");
    assert!(values.contains("existingSecret: grafana-admin"));
    assert!(
        stdout(&output).contains(
            "secret observability/grafana-admin created: password from GRAFANA_ADMIN_PASSWORD"
        ),
        "{}",
        stdout(&output)
    );
    assert_no_canary(&workspace, &output);
}

#[tokio::test]
async fn app_syncs_its_secrets_then_upgrades_the_chart_with_the_ecr_image() {
    // The real API server; helm stands in so that its argv and environment can be searched for
    // the canary (the real helm's release is tested below).
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    workspace.put_image("v3").await;
    workspace
        .put_app_secret(&format!(
            r#"{{"GRAFANA_ADMIN_PASSWORD":"{CANARY}","DATABASE_URL":"postgres://db"}}"#
        ))
        .await;
    workspace.tools.add("helm", HELM).expect("helm stand-in");
    workspace.use_real_cluster(cluster);
    let namespace = workspace.namespace();
    crate::create_namespace(cluster, &namespace);

    let output = workspace.run(&["deploy", "app", "--tag", "v3"]).await;
    assert_exit(&output, 0);

    assert_eq!(
        workspace.tools.calls_of("helm"),
        [app_upgrade(
            &workspace,
            &uri,
            "v3",
            &config_version(cluster, &namespace)
        )]
    );
    // Before helm: the pull secret, attached, and the app's Secret, without Grafana's password.
    let pull = cluster.stored(&namespace, "secret", "ecr-pull");
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(
        cluster.stored(&namespace, "serviceaccount", "default")["imagePullSecrets"],
        json!([{"name": "ecr-pull"}])
    );
    assert_eq!(
        cluster.stored(&namespace, "secret", "app-config")["data"],
        json!({"DATABASE_URL": b64("postgres://db")})
    );
    assert_no_canary(&workspace, &output);
}

/// The application's own image cannot be built here yet: a busybox stand-in (see
/// `build_app_stand_in`), built by this machine's docker engine and loaded into the nodes.
fn stand_in_app_image(cluster: &shopstack_testkit::cluster::TestCluster, tag: &str, ready: bool) {
    shopstack_testkit::cluster::build_app_stand_in(tag, ready).expect("build the stand-in image");
    cluster
        .load_image(tag)
        .expect("load the image into the nodes");
}

#[tokio::test]
async fn app_deploys_through_real_helm_its_pods_ready_and_an_unready_image_rolls_back() {
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let Some(helm) = crate::real_helm() else {
        return;
    };
    let mut workspace = Workspace::on_emulator();
    workspace.also_on_path(helm.parent().expect("helm's directory"));
    let uri = workspace.create_repository().await;
    workspace.put_image("v3").await;
    workspace.put_image("v4").await;
    workspace
        .put_app_secret(r#"{"DATABASE_URL":"postgres://db","LOG_LEVEL":"info"}"#)
        .await;
    workspace.use_real_cluster(cluster);
    stand_in_app_image(cluster, &format!("{uri}:v3"), true);
    stand_in_app_image(cluster, &format!("{uri}:v4"), false);
    let namespace = workspace.namespace();

    let output = workspace
        .run(&["deploy", "app", "--tag", "v3", "--timeout", "120s"])
        .await;
    assert_exit(&output, 0);
    let deployment = cluster.stored(&namespace, "deployment", &workspace.project);
    assert_eq!(
        deployment["status"]["readyReplicas"], 2,
        "{}",
        deployment["status"]
    );
    let pod_spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod_spec["containers"][0]["image"], format!("{uri}:v3"));
    assert_eq!(
        pod_spec["containers"][0]["envFrom"][0]["secretRef"]["name"],
        "app-config"
    );
    assert_eq!(pod_spec["imagePullSecrets"][0]["name"], "ecr-pull");
    // The pods the kubelet runs: ready, from the image that was deployed.
    let pods: serde_json::Value = serde_json::from_str(
        &cluster.kubectl_ok(&["-n", &namespace, "get", "pods", "-o", "json"], ""),
    )
    .expect("pods JSON");
    let ready: Vec<bool> = pods["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| pod["status"]["containerStatuses"][0]["ready"] == true)
        .collect();
    assert_eq!(ready, [true, true], "{pods}");

    // `status` reads the same from the real helm and API server; the observability release is
    // not installed here, so it fails naming that alone.
    let project = &workspace.project;
    let status = workspace.run(&["status"]).await;
    let table = stdout(&status);
    assert!(
        table.contains(&format!("release  {project}/{project}")),
        "{table}"
    );
    assert!(table.contains("shopstack-app-0.1.0 revision 1"), "{table}");
    assert_eq!(table.matches("ready 1/1 restarts 0").count(), 2, "{table}");
    assert_eq!(
        stderr(&status),
        "error: 1 release(s) or pod(s) not deployed or not ready\n"
    );
    assert_exit(&status, 1);

    // An image whose readiness never passes: helm waits, gives up and rolls back.
    let output = workspace
        .run(&["deploy", "app", "--tag", "v4", "--timeout", "25s"])
        .await;
    assert_exit(&output, 1);
    let last = last_line(&output);
    assert!(
        last.starts_with("error: `helm upgrade --install ")
            && last.contains("has been rolled back due to atomic being set"),
        "{last}"
    );
    let deployment = cluster.stored(&namespace, "deployment", &workspace.project);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{uri}:v3")
    );
}

#[tokio::test]
async fn all_deploys_observability_before_the_app() {
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    workspace.put_image("v4").await;
    workspace.put_app_secret(r#"{"A":"1"}"#).await;
    workspace.tools.add("helm", HELM).expect("helm stand-in");
    let Some(cluster) = observability_cluster(&workspace) else {
        return;
    };
    crate::create_namespace(&cluster, &workspace.namespace());

    let output = workspace.run(&["deploy", "all", "--tag", "v4"]).await;
    assert_exit(&output, 0);
    assert_eq!(
        workspace.tools.calls_of("helm"),
        [
            observability_upgrade(&workspace.kube_context()),
            app_upgrade(
                &workspace,
                &uri,
                "v4",
                &config_version(&cluster, &workspace.namespace())
            ),
        ]
    );
    // No password in the application secret: one was generated into grafana-admin.
    let grafana = cluster.stored("observability", "secret", "grafana-admin");
    let password = grafana["data"]["admin-password"]
        .as_str()
        .expect("password");
    assert_eq!(password.len(), b64([0u8; 32]).len());
    assert!(
        stdout(&output).contains("password generated"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn an_image_not_in_ecr_stops_before_helm_and_the_cluster() {
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    workspace.put_app_secret(r#"{"A":"1"}"#).await;
    workspace.tools.add("helm", HELM).expect("helm stand-in");
    let cluster = shopstack_testkit::ConnectionCounter::start().expect("counter");
    workspace.use_cluster(&cluster.url());

    let output = workspace.run(&["deploy", "app", "--tag", "v5"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!("error: image {uri}:v5 is not in ECR: build it first (`apps-sre build`)\n")
    );
    assert!(workspace.tools.calls_of("helm").is_empty());
    assert_eq!(cluster.connections(), 0);
}

#[tokio::test]
async fn a_failed_atomic_upgrade_is_one_line_with_helms_reason() {
    let workspace = Workspace::on_emulator();
    workspace.put_app_secret(r#"{"A":"1"}"#).await;
    workspace
        .tools
        .add("helm", HELM_ATOMIC_FAILURE)
        .expect("helm stand-in");
    let Some(cluster) = observability_cluster(&workspace) else {
        return;
    };

    let output = workspace.run(&["deploy", "observability"]).await;
    assert_exit(&output, 1);
    let last = last_line(&output);
    assert_eq!(
        last,
        format!(
            "error: `helm {}` failed: UPGRADE FAILED: release kube-prometheus-stack failed, and has been rolled back due to atomic being set: context deadline exceeded",
            observability_upgrade(&workspace.kube_context()).join(" ")
        )
    );
    // The Secret was written before helm ran.
    let secret = cluster.stored("observability", "secret", "grafana-admin");
    assert_eq!(secret["type"], "Opaque");
}

#[tokio::test]
async fn without_helm_nothing_is_sent_anywhere() {
    let counter = shopstack_testkit::ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    workspace.use_cluster(&counter.url());
    let output = workspace.run(&["deploy", "all", "--tag", "v1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: helm is not installed (not found on PATH): install helm 3 (helm.sh/docs/intro/install)\n"
    );
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn outside_the_repository_root_the_missing_chart_is_named_before_any_request() {
    let counter = shopstack_testkit::ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    std::fs::remove_dir_all(workspace.path().join("deploy/charts")).expect("remove charts");
    workspace.tools.add("helm", HELM).expect("helm stand-in");
    let output = workspace.run(&["deploy", "app", "--tag", "v1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: deploy/charts/shopstack-app: chart not found (run from the repository root)\n"
    );
    assert!(workspace.tools.calls().is_empty());
    assert_eq!(counter.connections(), 0);
}

/// The sample application's image, built from its static binary and `deploy/app/Dockerfile` by
/// the real docker engine, pushed to the real local registry; then `deploy app` on the cluster
/// of `kind-config.yaml`: the kubelet pulls it from the registry, the pods become ready with
/// `app-config`, the app answers through the API server's service proxy, and a configuration
/// missing a key rolls the deploy back.
#[tokio::test]
async fn the_sample_app_from_the_local_registry_deploys_ready_and_a_missing_key_rolls_back() {
    use cluster_gitops::registry;
    let Some(cluster) = crate::real_cluster() else {
        return;
    };
    let Some(helm) = crate::real_helm() else {
        return;
    };
    let sh = xshell::Shell::new().expect("shell");
    // The registry as `cluster-gitops create` runs it, from the configured image built here.
    let _registry =
        shopstack_testkit::cluster::LocalRegistry::fresh(registry::CONTAINER, registry::IMAGE)
            .expect("registry image");
    registry::ensure_running(&sh).expect("the local registry");

    let mut workspace = Workspace::on_emulator();
    workspace.also_on_path(helm.parent().expect("helm's directory"));
    let project = workspace.project.clone();
    // The workspace's kind-config.yaml describes the test cluster's context, with the registry.
    let kind_config = std::fs::read_to_string(crate::repository_root().join("kind-config.yaml"))
        .expect("kind-config.yaml")
        .replace("name: shopstack", &format!("name: {project}"));
    std::fs::write(workspace.path().join("kind-config.yaml"), kind_config).expect("write");
    workspace
        .put_app_secret(&format!(
            r#"{{"SESSION_SECRET":"{CANARY}","GREETING":"hello"}}"#
        ))
        .await;
    workspace.use_real_cluster(cluster);
    let namespace = workspace.namespace();

    let image = apps_sre::image::ImageRef {
        repository_uri: format!("localhost:5001/{}", workspace.names().ecr_repository()),
        tag: "t1".to_owned(),
    };
    let root = crate::repository_root();
    // Cargo builds into a directory of its own: the test's own build may hold the usual one.
    let target = root.join("target").join("app-image");
    apps_sre::app_image::build(&sh, &root, &target, &image).expect("the app image");
    let pushed = std::process::Command::new("docker")
        .args(["push", &image.to_string()])
        .output()
        .expect("docker push");
    assert!(pushed.status.success(), "{pushed:?}");

    let output = workspace
        .run(&["deploy", "app", "--tag", "t1", "--timeout", "180s"])
        .await;
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&format!("app runs {image}\n")),
        "{}",
        stdout(&output)
    );
    let deployment = cluster.stored(&namespace, "deployment", &project);
    assert_eq!(
        deployment["status"]["readyReplicas"], 2,
        "{}",
        deployment["status"]
    );
    let pod_spec = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod_spec["containers"][0]["image"], image.to_string());
    assert!(pod_spec["imagePullSecrets"].is_null(), "{pod_spec}");
    // The kubelet pulled the image from the local registry.
    let pods: serde_json::Value = serde_json::from_str(
        &cluster.kubectl_ok(&["-n", &namespace, "get", "pods", "-o", "json"], ""),
    )
    .expect("pods JSON");
    for pod in pods["items"].as_array().expect("items") {
        let image_id = pod["status"]["containerStatuses"][0]["imageID"]
            .as_str()
            .unwrap_or_default();
        assert!(
            image_id.contains(&format!("{}@sha256:", image.repository_uri)),
            "{image_id}"
        );
    }
    // Through the API server's service proxy: ready, with the configuration's key names only.
    let proxy = |path: &str| {
        cluster.kubectl_ok(
            &[
                "get",
                "--raw",
                &format!("/api/v1/namespaces/{namespace}/services/http:{project}:80/proxy{path}"),
            ],
            "",
        )
    };
    assert_eq!(proxy("/readyz"), "ready\n");
    let root_page: serde_json::Value = serde_json::from_str(&proxy("/")).expect("JSON");
    assert_eq!(root_page["environment"], "local");
    assert_eq!(
        root_page["config_keys"],
        json!(["GREETING", "SESSION_SECRET"])
    );
    assert!(!proxy("/").contains(CANARY));
    let metrics = proxy("/metrics");
    assert!(metrics.contains("shopstack_app_ready 1"), "{metrics}");
    // Every metric of the app's dashboard, as the running app exposes it.
    for name in crate::chart::APP_DASHBOARD_METRICS
        .iter()
        .filter(|name| name.starts_with("shopstack_app_"))
    {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with(&format!("{name}{{"))
                    || line.starts_with(&format!("{name} "))),
            "{name} in {metrics}"
        );
    }
    // The dashboard, where Grafana's sidecar finds it.
    let dashboard = cluster.stored(&namespace, "configmap", &format!("{project}-dashboard"));
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");

    // A configuration without GREETING: the new pods never become ready, helm rolls back.
    aws_sdk_secretsmanager::Client::new(&workspace.sdk().await)
        .put_secret_value()
        .secret_id(workspace.names().app_secret())
        .secret_string(format!(r#"{{"SESSION_SECRET":"{CANARY}"}}"#))
        .send()
        .await
        .expect("put the value");
    let output = workspace
        .run(&["deploy", "app", "--tag", "t1", "--timeout", "30s"])
        .await;
    assert_exit(&output, 1);
    let last = last_line(&output);
    assert!(
        last.contains("has been rolled back due to atomic being set"),
        "{last}"
    );
    assert!(!stdout(&output).contains(CANARY) && !stderr(&output).contains(CANARY));
    // The pods of the release before still run, ready.
    assert_eq!(proxy("/readyz"), "ready\n");

    // The observability stack deployed after the app (its CRD stood in, its upgrade answered:
    // see `helm_without_observability`): the app is upgraded again with its values, and so gets
    // the ServiceMonitor its chart renders only where the API exists.
    assert!(
        !cluster
            .kubectl(&["-n", &namespace, "get", "servicemonitor", &project])
            .status
            .success()
    );
    cluster.kubectl_ok(
        &["apply", "-f", "-"],
        shopstack_testkit::cluster_tools::SERVICE_MONITOR_CRD,
    );
    cluster.kubectl_ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/servicemonitors.monitoring.coreos.com",
            "--timeout=60s",
        ],
        "",
    );
    workspace
        .tools
        .add(
            "helm",
            &shopstack_testkit::cluster_tools::helm_without_observability(&helm),
        )
        .expect("helm");
    let output = workspace
        .run(&["deploy", "observability", "--timeout", "300s"])
        .await;
    assert_exit(&output, 0);
    let monitor = cluster.stored(&namespace, "servicemonitor", &project);
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    assert!(
        stderr(&output).contains("upgraded with its values: its ServiceMonitor is rendered"),
        "{}",
        stderr(&output)
    );

    // `status` on the cluster of kind-config.yaml says where the app and Grafana answer, and
    // whether they do (nothing maps the host ports of these nodes, which are no containers).
    let status = workspace.run(&["status"]).await;
    let text = stdout(&status);
    assert!(
        text.contains("\napp: http://127.0.0.1:8080 ")
            && text.contains("\ngrafana: http://127.0.0.1:3000 "),
        "{text}"
    );
}
