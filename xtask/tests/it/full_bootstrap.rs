//! A full `cargo xtask bootstrap --env local` against the AWS emulator, a real cluster (the
//! testkit's, started by a `kind` stand-in), the real docker engine and the real helm: every step
//! runs, in order, the app's pods become ready, and a second run converges.

use std::path::PathBuf;
use std::process::Output;

use aws_config::SdkConfig;
use base64::Engine;
use serde_json::{Value, json};
use shopstack_core::Names;
use shopstack_testkit::cluster::{self, KindClusters, components};
use shopstack_testkit::cluster_tools;
use shopstack_testkit::{Account, StandIns, TestProject, emulator_endpoint};

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

/// helm itself for everything but kube-prometheus-stack, whose chart repository cannot be reached
/// here (no chart is vendored yet): its `repo add` and `upgrade` answer as helm does on success.
fn helm_forwarding_to(real: &std::path::Path) -> String {
    format!(
        r#"case "$1 $3" in
  "repo "*) printf '"%s" has been added to your repositories\n' "$3" ;;
  "upgrade kube-prometheus-stack") printf 'Release "%s" has been upgraded. Happy Helming!\nSTATUS: deployed\n' "$3" ;;
  *) exec '{real}' "$@" ;;
esac"#,
        real = real.display()
    )
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|item| (*item).to_owned()).collect()
}

/// A project on the emulator, a home directory holding the kubeconfig, and the tools on PATH:
/// the real docker, helm (see [`helm_forwarding_to`]), and stand-ins for kind (starting the
/// testkit's real cluster: kind's node image cannot be pulled here) and git (the project is no
/// checkout).
struct Platform {
    /// First, so that the clusters go before the stand-ins' directory that records them.
    clusters: Option<KindClusters>,
    project: TestProject,
    account: Account,
    names: Names,
    home: tempfile::TempDir,
    tools: StandIns,
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
        let tools = StandIns::new().expect("stand-ins");
        Self {
            project,
            account,
            names,
            home,
            tools,
            clusters: None,
        }
    }

    /// Puts the tools on PATH; the `kind` stand-in preloads `image` into the nodes it starts.
    fn install_tools(&mut self, image: &str) {
        let supervisor = cluster::supervisor_program().expect("shopstack-test-cluster");
        let docker = components::on_path("docker").expect("docker");
        let helm = components::on_path("helm").expect("helm (cargo xtask provision)");
        self.tools
            .add(
                "kind",
                &cluster_tools::kind_real(&supervisor, 1, &[image], ""),
            )
            .expect("kind");
        std::os::unix::fs::symlink(&docker, self.tools.bin().join("docker")).expect("link docker");
        self.tools
            .add("helm", &helm_forwarding_to(&helm))
            .expect("helm");
        self.tools
            .add("git", &cluster_tools::git(COMMIT))
            .expect("git");
        self.clusters = Some(KindClusters::new(&self.tools.state()));
    }

    /// Object `kind/name` in `namespace` as the API server stores it (every object of the kind
    /// when `name` is empty).
    fn stored(&self, namespace: &str, kind: &str, name: &str) -> Value {
        cluster::stored_object(&self.kubeconfig(), namespace, kind, name)
    }

    fn kubeconfig(&self) -> PathBuf {
        self.home.path().join(".kube").join("config")
    }

    async fn sdk(&self) -> SdkConfig {
        shopstack_testkit::sdk::sdk_config(&self.account, REGION).await
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

/// The recorded calls after doctor's version probes of helm and kind (concurrent, in any order).
fn calls_after_probes(tools: &StandIns) -> Vec<Vec<String>> {
    let mut calls = tools.calls();
    let probes: Vec<Vec<String>> = calls.drain(..2.min(calls.len())).collect();
    let mut sorted = probes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            owned(&["helm", "version", "--short"]),
            owned(&["kind", "version"])
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

fn version(object: &Value) -> Value {
    object["metadata"]["resourceVersion"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_local_bootstrap_runs_every_step_in_order_then_converges() {
    if !cluster::available_or_skip() {
        return;
    }
    let mut platform = Platform::start().await;
    let repository_uri = platform.provide_secret_and_image().await;
    let image = format!("{repository_uri}:{TAG}");
    cluster::build_app_stand_in(&image, true).expect("build the application stand-in");
    platform.install_tools(&image);
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

    // What the cluster holds now, as its API server stores it.
    let nodes = platform.stored("default", "nodes", "");
    let ready: Vec<(String, String)> = nodes["items"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            let condition = node["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|condition| condition["type"] == "Ready")
                .map(|condition| condition["status"].as_str().unwrap_or_default().to_owned())
                .unwrap_or_default();
            (
                node["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                condition,
            )
        })
        .collect();
    assert_eq!(
        ready,
        [
            ("shopstack-control-plane".to_owned(), "True".to_owned()),
            ("shopstack-worker".to_owned(), "True".to_owned())
        ]
    );
    let spec_map = platform.stored("kube-public", "configmap", "shopstack-cluster-spec");
    assert_eq!(
        spec_map["data"]["spec-sha256"].as_str().map(str::len),
        Some(64)
    );
    let pull = platform.stored(&namespace, "secret", "ecr-pull");
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
        platform.stored(&namespace, "serviceaccount", "default")["imagePullSecrets"],
        json!([{"name": "ecr-pull"}])
    );
    let app_config = platform.stored(&namespace, "secret", "app-config");
    assert_eq!(
        data(&app_config),
        json!({"DATABASE_URL": b64(DATABASE_URL)})
    );
    let grafana = platform.stored("observability", "secret", "grafana-admin");
    assert_eq!(data(&grafana)["admin-password"], b64(GRAFANA_PASSWORD));
    // The app, installed by the real helm, runs under the real kubelet from the built image.
    let deployment = platform.stored(&namespace, "deployment", PROJECT);
    assert_eq!(
        deployment["status"]["readyReplicas"], 2,
        "{}",
        deployment["status"]
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        image
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
    let second_calls: Vec<Vec<String>> = calls[calls_before + 2..].to_vec();
    assert_eq!(
        second_calls,
        [
            owned(&["kind", "get", "clusters"]),
            owned(&["git", "rev-parse", "HEAD"]),
            owned(&["git", "rev-parse", "--short", "HEAD"]),
            repo_add,
            observability,
            app,
        ]
    );
    for (namespace, kind, name, before) in [
        (
            "kube-public",
            "configmap",
            "shopstack-cluster-spec",
            &spec_map,
        ),
        (namespace.as_str(), "secret", "app-config", &app_config),
        ("observability", "secret", "grafana-admin", &grafana),
    ] {
        assert_eq!(
            version(&platform.stored(namespace, kind, name)),
            version(before),
            "{namespace}/{name} was written again"
        );
    }
    assert_ne!(
        version(&platform.stored(&namespace, "secret", "ecr-pull")),
        version(&pull)
    );
}
