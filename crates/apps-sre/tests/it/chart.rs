//! The application chart: its rendering parses as Kubernetes objects carrying the probes, limits,
//! image, configuration and pull secret `deploy` relies on; with helm, the chart still renders so.

use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

use crate::repository_root;

const RENDERED: &str = include_str!("fixtures/shopstack-app.rendered.yaml");
const IMAGE: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop-dev";

fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .expect("YAML")
        .into_iter()
        .filter(|document| !document.is_null())
        .collect()
}

fn typed<T: serde::de::DeserializeOwned>(documents: &[Value], kind: &str) -> T {
    let document = documents
        .iter()
        .find(|document| document["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"));
    serde_json::from_value(document.clone()).unwrap_or_else(|error| panic!("{kind}: {error}"))
}

/// The checks every rendering of the chart must pass.
fn check_rendering(text: &str) {
    let documents = documents(text);
    let kinds: Vec<&str> = documents
        .iter()
        .map(|document| document["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["Service", "Deployment"]);

    let deployment: Deployment = typed(&documents, "Deployment");
    assert_eq!(deployment.metadata.name.as_deref(), Some("shop"));
    let spec = deployment.spec.expect("spec");
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.image_pull_secrets.expect("pull secrets")[0].name,
        "ecr-pull"
    );
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some(format!("{IMAGE}:abc1234").as_str())
    );
    let env_from = container.env_from.as_ref().expect("envFrom");
    assert_eq!(
        env_from[0]
            .secret_ref
            .as_ref()
            .map(|secret| secret.name.as_str()),
        Some("app-config")
    );
    let resources = container.resources.as_ref().expect("resources");
    let limits = resources.limits.as_ref().expect("limits");
    assert!(limits.contains_key("cpu") && limits.contains_key("memory"));
    assert!(resources.requests.is_some());
    for probe in [&container.liveness_probe, &container.readiness_probe] {
        let probe = probe.as_ref().expect("probe");
        assert!(probe.http_get.is_some());
    }
    let selector = spec.selector.match_labels.expect("selector");
    let labels = spec
        .template
        .metadata
        .and_then(|meta| meta.labels)
        .expect("labels");
    assert!(
        selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
    );

    let service: Service = typed(&documents, "Service");
    let service_spec = service.spec.expect("service spec");
    assert_eq!(service_spec.selector.as_ref(), Some(&selector));
    assert_eq!(service_spec.ports.expect("ports")[0].port, 80);
}

#[test]
fn the_rendered_chart_parses_as_kubernetes_objects() {
    check_rendering(RENDERED);
}

#[test]
fn chart_and_values_files_parse() {
    let root = repository_root();
    let chart: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("deploy/charts/shopstack-app/Chart.yaml"))
            .expect("Chart.yaml"),
    )
    .expect("Chart.yaml YAML");
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "shopstack-app");
    let observability: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root.join("deploy/observability/values.yaml")).expect("values"),
    )
    .expect("observability values YAML");
    for component in [
        "kubeEtcd",
        "kubeScheduler",
        "kubeControllerManager",
        "kubeProxy",
    ] {
        assert_eq!(observability[component]["enabled"], false, "{component}");
    }
    assert_eq!(
        observability["prometheus-node-exporter"]["hostRootFsMount"]["enabled"],
        false
    );
    assert_eq!(
        observability["grafana"]["admin"],
        serde_json::json!({
            "existingSecret": "grafana-admin",
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        })
    );
    assert!(observability["grafana"].get("adminPassword").is_none());
}

#[test]
#[ignore = "needs helm"]
fn helm_template_renders_the_chart_as_recorded() {
    let root = repository_root();
    let output = std::process::Command::new("helm")
        .current_dir(&root)
        .args([
            "template",
            "shop",
            "deploy/charts/shopstack-app",
            "--namespace",
            "shop",
            "--set",
            &format!("image.repository={IMAGE}"),
            "--set",
            "image.tag=abc1234",
        ])
        .output()
        .expect("run helm");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    check_rendering(&text);
    assert_eq!(documents(&text), documents(RENDERED));
    assert!(
        Path::new(&root)
            .join("deploy/charts/shopstack-app")
            .is_dir()
    );
}
