//! A full `cargo xtask bootstrap --env local` against the AWS emulator, a mock Kubernetes API and
//! stand-in docker, kind, helm and git: every step runs, in order, and a second run converges.

use std::path::PathBuf;
use std::process::Output;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use base64::Engine;
use serde_json::{Value, json};
use shopstack_core::Names;
use shopstack_testkit::cluster_tools::{self, DOCKER, HELM};
use shopstack_testkit::{Account, KubeApi, StandIns, TestProject, emulator_endpoint};

use crate::{text, xtask};

/// The project of the shipped `kind-config.yaml` (its cluster is named after the project); the
/// isolated emulator account keeps its AWS names apart from every other test's.
const PROJECT: &str = "shopstack";
const REGION: &str = "eu-west-1";
/// The commit the stand-in git reports: the application image is tagged with its short form.
const COMMIT: &str = "3f2c1ab9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8";
const TAG: &str = "3f2c1ab";
const DATABASE_URL: &str = "postgres://db:5432/shop";
const GRAFANA_PASSWORD: &str = "grafana-admin-9f3e";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|item| (*item).to_owned()).collect()
}

/// A project on the emulator, a home directory holding the kubeconfig, the stand-in tools (the
/// only thing on PATH) and the cluster's API server.
struct Platform {
    project: TestProject,
    account: Account,
    names: Names,
    home: tempfile::TempDir,
    tools: StandIns,
    api: KubeApi,
}

impl Platform {
    async fn start() -> Self {
        let endpoint = emulator_endpoint();
        let project = TestProject::with_config(&format!(
            "[project]\nname = \"{PROJECT}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\n\n[environments.local]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n"
        ))
        .expect("project");
        let account = Account::isolated(&endpoint).expect("isolated emulator account");
        let names = Names::new(PROJECT, "local", &account.id);
        let home = tempfile::tempdir().expect("home");
        std::fs::create_dir_all(home.path().join(".kube")).expect(".kube");
        let api = KubeApi::ready_cluster(&names.cluster()).await;
        let tools = StandIns::new().expect("stand-ins");
        let kubeconfig = cluster_tools::kubeconfig_text(&[(&names.kube_context(), &api.url())]);
        tools.add("docker", DOCKER).expect("docker");
        tools
            .add("kind", &cluster_tools::kind(&kubeconfig, ""))
            .expect("kind");
        tools.add("helm", HELM).expect("helm");
        tools.add("git", &cluster_tools::git(COMMIT)).expect("git");
        Self {
            project,
            account,
            names,
            home,
            tools,
            api,
        }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.home.path().join(".kube").join("config")
    }

    async fn sdk(&self) -> SdkConfig {
        let credentials = aws_sdk_ecr::config::Credentials::new(
            &self.account.access_key_id,
            &self.account.secret_access_key,
            Some(self.account.session_token.clone()),
            None,
            "test",
        );
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(emulator_endpoint())
            .credentials_provider(credentials)
            .load()
            .await
    }

    /// What a team provides before it can deploy: the application secret's value (`secret put`)
    /// and an image built from the checked-out commit (CI). Both live in resources tagged as
    /// ShopStack's, which `infra apply` then brings to their hardened settings. Returns the
    /// repository URI.
    async fn provide_secret_and_image(&self) -> String {
        let sdk = self.sdk().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let mut create_secret = secrets
            .create_secret()
            .name(self.names.app_secret())
            .secret_string(
                json!({"DATABASE_URL": DATABASE_URL, "GRAFANA_ADMIN_PASSWORD": GRAFANA_PASSWORD})
                    .to_string(),
            );
        for (key, value) in self.names.tags() {
            create_secret = create_secret.tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            );
        }
        create_secret.send().await.expect("create the app secret");

        let ecr = aws_sdk_ecr::Client::new(&sdk);
        let mut create_repository = ecr
            .create_repository()
            .repository_name(self.names.ecr_repository())
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable);
        for (key, value) in self.names.tags() {
            create_repository = create_repository.tags(
                aws_sdk_ecr::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .expect("tag"),
            );
        }
        let repository = create_repository
            .send()
            .await
            .expect("create the ECR repository");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
            },
            "layers": []
        });
        ecr.put_image()
            .repository_name(self.names.ecr_repository())
            .image_manifest(manifest.to_string())
            .image_tag(TAG)
            .send()
            .await
            .expect("push the image");
        repository
            .repository()
            .and_then(|repository| repository.repository_uri())
            .expect("repository URI")
            .to_owned()
    }

    /// `xtask bootstrap --config … --env local`, with only the stand-ins on PATH.
    async fn bootstrap(&self) -> Output {
        let config = self.project.config();
        let mut command = xtask(&[
            "bootstrap",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--env",
            "local",
        ]);
        command
            .current_dir(self.project.dir())
            .envs(self.account.environment())
            .env("PATH", self.tools.bin())
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.kubeconfig());
        tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("run xtask")
    }
}

/// The summary table: (step, state) per row, in order.
fn summary(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .skip_while(|line| !line.starts_with("Bootstrap of local:"))
        .skip(2)
        .take_while(|line| !line.trim_start().starts_with("total"))
        .map(|line| {
            let step = line.get(2..20).unwrap_or_default().trim().to_owned();
            let state = line.get(21..53).unwrap_or_default().trim().to_owned();
            (step, state)
        })
        .collect()
}

fn rows(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(step, state)| ((*step).to_owned(), (*state).to_owned()))
        .collect()
}

/// The stand-in calls after doctor's version probes (which run concurrently, in any order).
fn calls_after_probes(tools: &StandIns) -> Vec<Vec<String>> {
    let mut calls = tools.calls();
    let probes: Vec<Vec<String>> = calls.drain(..4.min(calls.len())).collect();
    let mut sorted = probes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            owned(&["docker", "--version"]),
            owned(&["docker", "info", "--format", "{{.ServerVersion}}"]),
            owned(&["helm", "version", "--short"]),
            owned(&["kind", "version"]),
        ],
        "doctor's probes, then {calls:?}"
    );
    calls
}

fn helm_upgrades(names: &Names, repository_uri: &str) -> [Vec<String>; 3] {
    let context = names.kube_context();
    let namespace = names.app_namespace();
    [
        owned(&[
            "helm",
            "repo",
            "add",
            "prometheus-community",
            "https://prometheus-community.github.io/helm-charts",
            "--force-update",
        ]),
        owned(&[
            "helm",
            "upgrade",
            "--install",
            "kube-prometheus-stack",
            "prometheus-community/kube-prometheus-stack",
            "--version",
            "67.8.0",
            "--namespace",
            "observability",
            "--create-namespace",
            "--values",
            "deploy/observability/values.yaml",
            "--atomic",
            "--wait",
            "--timeout",
            "600s",
            "--kube-context",
            &context,
        ]),
        owned(&[
            "helm",
            "upgrade",
            "--install",
            PROJECT,
            "deploy/charts/shopstack-app",
            "--namespace",
            &namespace,
            "--create-namespace",
            "--set",
            &format!("image.repository={repository_uri}"),
            "--set",
            &format!("image.tag={TAG}"),
            "--atomic",
            "--wait",
            "--timeout",
            "600s",
            "--kube-context",
            &context,
        ]),
    ]
}

fn data(object: &Value) -> Value {
    object.get("data").cloned().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_local_bootstrap_runs_every_step_in_order_then_converges() {
    let platform = Platform::start().await;
    let repository_uri = platform.provide_secret_and_image().await;
    let names = &platform.names;
    let namespace = names.app_namespace();

    let first = platform.bootstrap().await;
    let first_text = text(&first);
    assert_eq!(first.status.code(), Some(0), "{first_text}");
    assert_eq!(
        summary(&first_text),
        rows(&[
            ("doctor", "done"),
            ("local aws", "unchanged"),
            ("infra apply", "done"),
            ("backend config", "done"),
            ("cluster create", "done"),
            ("cluster validate", "unchanged"),
            ("pull secret", "done"),
            ("secrets sync", "done"),
            ("deploy", "done"),
        ]),
        "{first_text}"
    );
    assert!(
        first_text.contains("Bootstrap of local complete.\n"),
        "{first_text}"
    );

    // The tools, in the order the steps called them: cluster create, then deploy.
    let [repo_add, observability, app] = helm_upgrades(names, &repository_uri);
    assert_eq!(
        calls_after_probes(&platform.tools),
        [
            owned(&["docker", "info", "--format", "{{.ServerVersion}}"]),
            owned(&["kind", "get", "clusters"]),
            owned(&[
                "kind",
                "create",
                "cluster",
                "--name",
                PROJECT,
                "--config",
                "kind-config.yaml"
            ]),
            owned(&["git", "rev-parse", "HEAD"]),
            owned(&["git", "rev-parse", "--short", "HEAD"]),
            repo_add.clone(),
            observability.clone(),
            app.clone(),
        ]
    );

    // The cluster's API, in the order the steps asked it.
    let secret = |name: &str| format!("/api/v1/namespaces/{namespace}/secrets/{name}");
    let app_namespace = format!("/api/v1/namespaces/{namespace}");
    let account = format!("/api/v1/namespaces/{namespace}/serviceaccounts/default");
    let spec = "/api/v1/namespaces/kube-public/configmaps/shopstack-cluster-spec";
    let grafana = "/api/v1/namespaces/observability/secrets/grafana-admin";
    let readiness = [
        "GET /api/v1/nodes".to_owned(),
        "GET /api/v1/namespaces/kube-system/pods".to_owned(),
    ];
    let get = |path: &str| format!("GET {path}");
    let patch = |path: &str| format!("PATCH {path}");
    let mut expected: Vec<String> = Vec::new();
    // cluster create: waits for readiness, then records the spec.
    expected.extend(readiness.clone());
    expected.push(patch(spec));
    // cluster validate.
    expected.extend(readiness.clone());
    // pull secret: the namespace, the Secret, attached to the default ServiceAccount.
    expected.extend([
        get(&secret("ecr-pull")),
        get(&app_namespace),
        patch(&app_namespace),
        patch(&secret("ecr-pull")),
        get(&account),
        patch(&account),
    ]);
    // secrets sync.
    expected.extend([
        get(&secret("app-config")),
        get(&app_namespace),
        patch(&secret("app-config")),
    ]);
    // deploy: Grafana's Secret, then the app's pull secret and Secret checked again. The
    // emulator's ECR tokens carry an expiry in the past, so every check refreshes the pull secret
    // (real tokens last 12 hours); the app Secret is current.
    expected.extend([
        get(grafana),
        get("/api/v1/namespaces/observability"),
        patch("/api/v1/namespaces/observability"),
        patch(grafana),
        get(&secret("ecr-pull")),
        patch(&secret("ecr-pull")),
        get(&account),
        get(&secret("app-config")),
    ]);
    assert_eq!(platform.api.request_lines().await, expected);

    // What the cluster holds now.
    let api = &platform.api;
    let spec_map = api.object(spec).expect("spec ConfigMap");
    assert_eq!(
        spec_map["data"]["spec-sha256"].as_str().map(str::len),
        Some(64)
    );
    let pull = api.object(&secret("ecr-pull")).expect("ecr-pull");
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    let registry = repository_uri
        .split('/')
        .next()
        .expect("registry host")
        .to_owned();
    let docker_config = base64::engine::general_purpose::STANDARD
        .decode(pull["data"][".dockerconfigjson"].as_str().expect("data"))
        .expect("base64");
    let docker_config: Value = serde_json::from_slice(&docker_config).expect("JSON");
    assert_eq!(
        docker_config["auths"][&registry]["username"], "AWS",
        "{docker_config}"
    );
    assert_eq!(
        api.object(&account).expect("default ServiceAccount")["imagePullSecrets"],
        json!([{"name": "ecr-pull"}])
    );
    assert_eq!(
        data(&api.object(&secret("app-config")).expect("app-config")),
        json!({"DATABASE_URL": b64(DATABASE_URL)})
    );
    assert_eq!(
        data(&api.object(grafana).expect("grafana-admin"))["admin-password"],
        b64(GRAFANA_PASSWORD)
    );

    // What AWS holds now: the state backend exists, the repository got its hardened settings.
    let sdk = platform.sdk().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let tagging = s3
        .get_bucket_tagging()
        .bucket(names.state_bucket())
        .send()
        .await
        .expect("the state bucket exists");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|tag| tag.key() == "ManagedBy" && tag.value() == "shopstack"),
        "{tagging:?}"
    );
    let repositories = aws_sdk_ecr::Client::new(&sdk)
        .describe_repositories()
        .repository_names(names.ecr_repository())
        .send()
        .await
        .expect("describe the repository");
    let scan_on_push = repositories
        .repositories()
        .first()
        .and_then(|repository| repository.image_scanning_configuration())
        .is_some_and(|scanning| scanning.scan_on_push());
    assert!(scan_on_push, "{repositories:?}");
    let backend = std::fs::read_to_string(platform.project.dir().join("envs/local/backend.tf"))
        .expect("backend.tf");
    assert!(
        backend.lines().any(|line| {
            line.trim_start().starts_with("bucket ")
                && line.ends_with(&format!("= \"{}\"", names.state_bucket()))
        }),
        "{backend}"
    );

    // A second run changes nothing but the Helm releases (upgraded again) and the pull secret
    // (refreshed again, its emulator token being expired).
    let calls_before = platform.tools.calls().len();
    let requests_before = platform.api.request_lines().await.len();
    let second = platform.bootstrap().await;
    let second_text = text(&second);
    assert_eq!(second.status.code(), Some(0), "{second_text}");
    assert_eq!(
        summary(&second_text),
        rows(&[
            ("doctor", "done"),
            ("local aws", "unchanged"),
            ("infra apply", "unchanged"),
            ("backend config", "unchanged"),
            ("cluster create", "unchanged"),
            ("cluster validate", "unchanged"),
            ("pull secret", "done"),
            ("secrets sync", "unchanged"),
            ("deploy", "done"),
        ]),
        "{second_text}"
    );
    let calls = platform.tools.calls();
    let second_calls: Vec<Vec<String>> = calls[calls_before + 4..].to_vec();
    assert_eq!(
        second_calls,
        [
            owned(&["docker", "info", "--format", "{{.ServerVersion}}"]),
            owned(&["kind", "get", "clusters"]),
            owned(&["git", "rev-parse", "HEAD"]),
            owned(&["git", "rev-parse", "--short", "HEAD"]),
            repo_add,
            observability,
            app,
        ]
    );
    let requests = platform.api.request_lines().await;
    let second_requests = &requests[requests_before..];
    assert_eq!(
        second_requests.first(),
        Some(&get(spec)),
        "create reads the stored spec first: {second_requests:?}"
    );
    let writes: Vec<&String> = second_requests
        .iter()
        .filter(|request| !request.starts_with("GET "))
        .collect();
    assert_eq!(
        writes,
        [&patch(&secret("ecr-pull")), &patch(&secret("ecr-pull"))],
        "{second_requests:?}"
    );
}
