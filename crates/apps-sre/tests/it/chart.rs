//! The application chart: its rendering parses as Kubernetes objects carrying the probes, limits,
//! image, configuration and pull secret `deploy` relies on; with helm, the chart still renders so.

use std::path::Path;

use apps_sre::exposure::KindPorts;
use apps_sre::image::ImageRef;
use apps_sre::releases::{self, Release};
use cluster_gitops::kind_config::{KindConfig, LoadOptions};
use shopstack_core::Names;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;

use crate::{real_helm, repository_root};

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
    assert_eq!(
        kinds,
        ["NetworkPolicy", "ConfigMap", "Service", "Deployment"]
    );
    // Every object names its namespace (checkov's CKV_K8S_21).
    for document in &documents {
        assert_eq!(document["metadata"]["namespace"], "shop", "{document}");
    }

    let deployment: Deployment = typed(&documents, "Deployment");
    assert_eq!(deployment.metadata.name.as_deref(), Some("shop"));
    let spec = deployment.spec.expect("spec");
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.image_pull_secrets.expect("pull secrets")[0].name,
        "ecr-pull"
    );
    // No API token in a pod that calls no API; the image's own user, stated.
    assert_eq!(pod.automount_service_account_token, Some(false));
    let security = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(security.run_as_user, Some(65532));
    assert_eq!(security.run_as_group, Some(65532));
    assert_eq!(security.run_as_non_root, Some(true));
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

    // Traffic in to the application's port only, on the application's pods.
    let policy: NetworkPolicy = typed(&documents, "NetworkPolicy");
    let policy = policy.spec.expect("policy spec");
    assert_eq!(
        policy
            .pod_selector
            .as_ref()
            .and_then(|pods| pods.match_labels.as_ref()),
        Some(&selector)
    );
    assert_eq!(
        policy.policy_types.as_deref(),
        Some(&["Ingress".to_owned()][..])
    );
    let ingress = policy.ingress.expect("ingress rules");
    assert_eq!(ingress.len(), 1);
    assert_eq!(ingress[0].from, None);
    let ports = ingress[0].ports.as_ref().expect("ports");
    assert_eq!(ports.len(), 1);
    assert_eq!(
        ports[0].port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".to_owned()))
    );
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

/// `helm template` of `release` as `deploy` installs it, from the repository root.
fn rendered(helm: &Path, release: &Release) -> String {
    let output = std::process::Command::new(helm)
        .current_dir(repository_root())
        .args(apps_sre::helm::template_args(Path::new(""), release))
        .output()
        .expect("run helm");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn on_kind_the_app_service_is_the_node_port_kind_config_maps_to_the_host() {
    let Some(helm) = real_helm() else {
        return;
    };
    let root = repository_root();
    let names = Names::new("shopstack", "local", "111122223333");
    let image = ImageRef {
        repository_uri: IMAGE.to_owned(),
        tag: "abc1234".to_owned(),
    };
    let ports = KindPorts::for_context(&root, &names.kube_context())
        .expect("the shipped kind-config.yaml")
        .expect("the shipped cluster's context");
    // The shipped configuration maps host port 8080 to the app's NodePort, 3000 to Grafana's.
    let config = KindConfig::load(&root.join("kind-config.yaml"), LoadOptions::default())
        .expect("the shipped kind-config.yaml");
    let mapped: Vec<(i32, i32)> = config
        .nodes
        .iter()
        .flat_map(|node| &node.extra_port_mappings)
        .map(|mapping| (mapping.container_port, mapping.host_port))
        .collect();
    assert!(mapped.contains(&(ports.app.node_port, 8080)), "{mapped:?}");
    assert!(
        mapped.contains(&(ports.grafana.node_port, 3000)),
        "{mapped:?}"
    );
    assert_eq!(ports.app.url.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(ports.grafana.url.as_deref(), Some("http://127.0.0.1:3000"));

    let text = rendered(
        &helm,
        &releases::app(
            &names,
            &image,
            &releases::AppOptions {
                kind: Some(&ports),
                ..releases::AppOptions::default()
            },
        ),
    );
    let service: Service = typed(&documents(&text), "Service");
    let spec = service.spec.expect("service spec");
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(
        spec.ports.expect("ports")[0].node_port,
        Some(ports.app.node_port)
    );

    // Any other cluster: no kind ports, a ClusterIP Service without a NodePort.
    assert_eq!(
        KindPorts::for_context(&root, "arn:aws:eks:eu-west-1:111122223333:cluster/shop")
            .expect("the shipped kind-config.yaml"),
        None
    );
    let text = rendered(
        &helm,
        &releases::app(&names, &image, &releases::AppOptions::default()),
    );
    let service: Service = typed(&documents(&text), "Service");
    let spec = service.spec.expect("service spec");
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.ports.expect("ports")[0].node_port, None);
}

#[test]
fn helm_template_renders_the_chart_as_recorded() {
    let Some(helm) = real_helm() else {
        return;
    };
    let root = repository_root();
    let output = std::process::Command::new(helm)
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

#[test]
fn the_vendored_observability_chart_is_the_pinned_one_and_a_changed_archive_is_refused() {
    let root = repository_root();
    let release = releases::observability(None);
    apps_sre::helm::check_files(&root, &release).expect("the vendored chart, as pinned");
    // The checksum file beside the archive records what the code pins.
    let recorded = std::fs::read_to_string(root.join("deploy/observability/CHART.sha256"))
        .expect("CHART.sha256");
    let archive = Path::new(releases::KUBE_PROMETHEUS_STACK_ARCHIVE);
    assert_eq!(
        recorded.trim_end(),
        format!(
            "{}  {}",
            releases::KUBE_PROMETHEUS_STACK_SHA256,
            archive.file_name().expect("file name").to_string_lossy()
        )
    );
    // One byte changed: refused, naming the archive and both checksums.
    let copy = tempfile::tempdir().expect("temp dir");
    let mut bytes = std::fs::read(root.join(archive)).expect("the archive");
    bytes[100] ^= 1;
    std::fs::create_dir_all(copy.path().join(archive.parent().expect("its folder")))
        .expect("folder");
    std::fs::write(copy.path().join(archive), bytes).expect("write the copy");
    let error = apps_sre::helm::check_files(copy.path(), &release)
        .expect_err("a changed archive")
        .to_string();
    assert!(
        error.starts_with(&format!("{}: sha256 ", archive.display()))
            && error.contains(&format!(
                "expected {}",
                releases::KUBE_PROMETHEUS_STACK_SHA256
            )),
        "{error}"
    );
}

#[test]
fn on_kind_grafana_is_the_node_port_kind_config_maps_to_the_host() {
    let Some(helm) = real_helm() else {
        return;
    };
    let root = repository_root();
    let ports = KindPorts::for_context(&root, "kind-shopstack")
        .expect("the shipped kind-config.yaml")
        .expect("the shipped cluster's context");
    let grafana = |text: &str| -> Service {
        let document = documents(text)
            .into_iter()
            .find(|document| {
                document["kind"] == "Service"
                    && document["metadata"]["name"] == "kube-prometheus-stack-grafana"
            })
            .expect("Grafana's Service");
        serde_json::from_value(document).expect("a Service")
    };
    // Rendered offline from the vendored archive, with the values deploy gives it.
    let service = grafana(&rendered(&helm, &releases::observability(Some(&ports))));
    let spec = service.spec.expect("spec");
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(
        spec.ports.expect("ports")[0].node_port,
        Some(ports.grafana.node_port)
    );
    let service = grafana(&rendered(&helm, &releases::observability(None)));
    assert_eq!(
        service.spec.expect("spec").type_.as_deref(),
        Some("ClusterIP")
    );
}

#[test]
fn the_charts_required_keys_are_the_ones_seed_generates() {
    let values: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repository_root().join("deploy/charts/shopstack-app/values.yaml"))
            .expect("values.yaml"),
    )
    .expect("values YAML");
    assert_eq!(
        values["requiredKeys"],
        serde_json::json!(shopstack_core::secret::SAMPLE_APP_KEYS)
    );
}

/// The metric names a PromQL expression reads.
fn metrics_of(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find(|c: char| c.is_ascii_lowercase()) {
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        if (word.starts_with("shopstack_app_") || word.starts_with("kube_"))
            && rest[end..].starts_with('{')
        {
            names.push(word.to_owned());
        }
        rest = &rest[end..];
    }
    names
}

#[test]
fn the_dashboard_is_a_configmap_grafanas_sidecar_loads_reading_the_apps_metrics() {
    let documents = documents(RENDERED);
    let config_map = documents
        .iter()
        .find(|document| document["kind"] == "ConfigMap")
        .expect("the dashboard ConfigMap");
    assert_eq!(config_map["metadata"]["name"], "shop-dashboard");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let dashboard: Value = serde_json::from_str(
        config_map["data"]["shopstack-app.json"]
            .as_str()
            .expect("the dashboard JSON"),
    )
    .expect("JSON");
    assert_eq!(dashboard["uid"], releases::APP_DASHBOARD_UID);
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|panel| panel["title"].as_str())
        .collect();
    for wanted in [
        "Request rate",
        "Error rate",
        "Latency percentiles",
        "Pod restarts",
    ] {
        assert!(
            titles.iter().any(|title| title.starts_with(wanted)),
            "{wanted} in {titles:?}"
        );
    }
    let mut metrics: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .flat_map(|target| metrics_of(target["expr"].as_str().unwrap_or_default()))
        .collect();
    metrics.sort();
    metrics.dedup();
    // What the app exposes (its deploy test reads them from the running pods) and what
    // kube-state-metrics exposes for restarts.
    assert_eq!(
        metrics,
        APP_DASHBOARD_METRICS
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>()
    );
}

/// Every metric the dashboard reads, sorted.
pub const APP_DASHBOARD_METRICS: [&str; 5] = [
    "kube_pod_container_status_restarts_total",
    "shopstack_app_build_info",
    "shopstack_app_http_request_duration_seconds_bucket",
    "shopstack_app_http_requests_total",
    "shopstack_app_ready",
];
