//! A full `cargo xtask bootstrap --env local` against the AWS emulator, a real cluster (the
//! testkit's, started by a `kind` stand-in), the real docker engine and local registry, cargo and
//! the real helm: every step runs in order with nothing provided by hand (the app secret is
//! seeded, the sample application's image built and pushed to the local registry), the app's
//! pods become ready from that image and answer, and a second run converges.

use std::path::PathBuf;
use std::process::Output;

use aws_config::SdkConfig;
use base64::Engine;
use serde_json::{Value, json};
use shopstack_core::Names;
use shopstack_testkit::cluster::{self, KindClusters, components};
use shopstack_testkit::{Account, StandIns, TestProject, emulator_endpoint};
use shopstack_testkit::{cluster_tools, helm_argv};

use crate::{text, xtask};

/// The project of the shipped `kind-config.yaml` (its cluster is named after the project); the
/// isolated emulator account keeps its AWS names apart from every other test's.
const PROJECT: &str = "shopstack";
const REGION: &str = "eu-west-1";
/// The commit the stand-in git reports: the application image is tagged with its short form.
const COMMIT: &str = "3f2c1ab9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8";
const TAG: &str = "3f2c1ab";
/// The local registry's container (the shipped `kind-config.yaml` asks for it).
const REGISTRY_CONTAINER: &str = "kind-registry";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|item| (*item).to_owned()).collect()
}

/// A project on the emulator, a home directory holding the kubeconfig, and the tools on PATH:
/// the real docker, helm (see `cluster_tools::helm_without_observability`), and stand-ins
/// for kind (starting the testkit's real cluster: kind's node image cannot be pulled here) and
/// git (the project is no checkout).
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

    /// Puts the tools on PATH (see [`Platform`]).
    fn install_tools(&mut self) {
        let supervisor = cluster::supervisor_program().expect("shopstack-test-cluster");
        let docker = components::on_path("docker").expect("docker");
        let helm = components::on_path("helm").expect("helm (cargo xtask provision)");
        self.tools
            .add("kind", &cluster_tools::kind_real(&supervisor, 1, &[], ""))
            .expect("kind");
        std::os::unix::fs::symlink(&docker, self.tools.bin().join("docker")).expect("link docker");
        self.tools
            .add("helm", &cluster_tools::helm_without_observability(&helm))
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

    /// `xtask bootstrap --config … --env local`, with only the stand-ins and the Rust toolchain
    /// (the build step compiles the sample application) on PATH.
    async fn bootstrap(&self) -> Output {
        let config = self.project.config();
        let mut command = xtask(&[
            "bootstrap",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--env",
            "local",
        ]);
        // The toolchain the tests were built with: its directory holds cargo and rustc.
        let cargo =
            std::env::var_os("CARGO").map_or_else(|| PathBuf::from(env!("CARGO")), PathBuf::from);
        let toolchain = cargo.parent().expect("cargo's directory").to_path_buf();
        let path = std::env::join_paths([self.tools.bin(), toolchain]).expect("PATH");
        let real_home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map_or_else(|| real_home.join(".rustup"), PathBuf::from);
        let cargo_home =
            std::env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
        command
            .current_dir(self.project.dir())
            .envs(self.account.environment())
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("RUSTUP_HOME", rustup_home)
            .env("CARGO_HOME", cargo_home)
            // A target directory of its own: the test's own build may hold the usual one.
            .env(
                "CARGO_TARGET_DIR",
                crate::repository_root().join("target").join("app-image"),
            )
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

/// The Helm upgrades of `deploy all`: observability (from the vendored chart), then the app from
/// the local registry, `config_version` being `app-config`'s resource version.
fn helm_upgrades(names: &Names, config_version: &str) -> [Vec<String>; 2] {
    let context = names.kube_context();
    let helm = |argv: Vec<String>| [vec!["helm".to_owned()], argv].concat();
    let app = helm_argv::AppRelease {
        project: &names.app_namespace(),
        repository: &format!("localhost:5001/{}", names.ecr_repository()),
        tag: TAG,
        config_version,
        local_registry: true,
        node_port: Some(30080),
    };
    [
        helm(helm_argv::observability_upgrade(Some(30300), &context)),
        helm(app.upgrade(&context)),
    ]
}

fn data(object: &Value) -> Value {
    object.get("data").cloned().unwrap_or(Value::Null)
}

fn version(object: &Value) -> Value {
    object["metadata"]["resourceVersion"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_local_bootstrap_builds_deploys_and_reaches_the_app_then_converges() {
    if !cluster::available_or_skip() {
        return;
    }
    let mut platform = Platform::start().await;
    platform.install_tools();
    // The local registry's configured image, built here because none can be pulled.
    let _registry = cluster::LocalRegistry::fresh(REGISTRY_CONTAINER, "registry:2")
        .expect("the registry image");
    let names = &platform.names;
    let namespace = names.app_namespace();
    let image = format!("localhost:5001/{}:{TAG}", names.ecr_repository());

    let first = platform.bootstrap().await;
    let first_text = text(&first);
    // Shown with `--nocapture`: what a user sees at the end of a first bootstrap.
    eprintln!("{first_text}");
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
            ("secret seed", "done"),
            ("build", "done"),
            ("secrets sync", "done"),
            ("deploy", "done"),
        ]),
        "{first_text}"
    );
    // After the table: the image deployed and where the app and Grafana answer (Kind's port
    // mappings: the stand-in's nodes are not containers, so nothing listens on the host ports).
    assert!(
        first_text.contains(&format!("app runs {image}\napp: http://127.0.0.1:8080 "))
            && first_text.contains("\ngrafana: http://127.0.0.1:3000 ")
            && first_text.contains("\ndashboard: http://127.0.0.1:3000/d/shopstack-app\n")
            && first_text.contains("Bootstrap of local complete.\n"),
        "{first_text}"
    );

    // The tools, in the order the steps called them: cluster create, build, deploy.
    let app_config = platform.stored(&namespace, "secret", "app-config");
    let [observability, app] = helm_upgrades(
        names,
        version(&app_config).as_str().expect("resourceVersion"),
    );
    let git = [
        owned(&["git", "rev-parse", "HEAD"]),
        owned(&["git", "rev-parse", "--short", "HEAD"]),
    ];
    assert_eq!(
        calls_after_probes(&platform.tools),
        [
            vec![
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
                owned(&["kind", "get", "nodes", "--name", PROJECT]),
            ],
            git.to_vec(),
            git.to_vec(),
            vec![observability.clone(), app.clone()],
        ]
        .concat()
    );

    // The cluster's nodes are ready, and its local registry announced.
    let spec_map = platform.stored("kube-public", "configmap", "shopstack-cluster-spec");
    assert_eq!(
        spec_map["data"]["spec-sha256"].as_str().map(str::len),
        Some(64)
    );
    let hosting = platform.stored("kube-public", "configmap", "local-registry-hosting");
    assert_eq!(
        hosting["data"]["localRegistryHosting.v1"],
        "host: \"localhost:5001\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
    );
    // Nothing was provided by hand: the secret was seeded, and synced as it is in AWS.
    let seeded = aws_sdk_secretsmanager::Client::new(&platform.sdk().await)
        .get_secret_value()
        .secret_id(names.app_secret())
        .send()
        .await
        .expect("the seeded value");
    let seeded: Value =
        serde_json::from_str(seeded.secret_string().expect("a string")).expect("JSON");
    let session = seeded["SESSION_SECRET"].as_str().expect("SESSION_SECRET");
    assert_eq!(session.len(), 64);
    assert_eq!(
        data(&app_config),
        json!({"SESSION_SECRET": b64(session), "GREETING": b64("Hello from ShopStack (local)")})
    );
    assert!(
        !first_text.contains(session),
        "the seeded secret was printed"
    );
    let grafana = platform.stored("observability", "secret", "grafana-admin");
    assert_eq!(
        data(&grafana)["admin-password"].as_str().map(str::len),
        Some(b64([0u8; 32]).len())
    );
    // The app, installed by the real helm, runs under the real kubelet from the image built and
    // pushed to the local registry, and answers through the API server's service proxy.
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
    let pods = platform.stored(&namespace, "pods", "");
    for pod in pods["items"].as_array().expect("pods") {
        let image_id = pod["status"]["containerStatuses"][0]["imageID"]
            .as_str()
            .unwrap_or_default();
        assert!(
            image_id.contains(&format!(
                "localhost:5001/{}@sha256:",
                names.ecr_repository()
            )),
            "pulled from the local registry: {image_id}"
        );
    }
    // The app's dashboard, where Grafana's sidecar loads it.
    let dashboard = platform.stored(&namespace, "configmap", &format!("{PROJECT}-dashboard"));
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let service = platform.stored(&namespace, "service", PROJECT);
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["nodePort"], 30080);
    let proxied = cluster::kubectl_command(&platform.kubeconfig())
        .args([
            "--context",
            &names.kube_context(),
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{namespace}/services/http:{PROJECT}:80/proxy/"),
        ])
        .output()
        .expect("kubectl");
    let page: Value = serde_json::from_slice(&proxied.stdout).expect("the app's JSON");
    assert_eq!(page["ready"], true, "{page}");
    assert_eq!(page["config_keys"], json!(["GREETING", "SESSION_SECRET"]));

    // What AWS holds now: the state backend exists, tagged as ShopStack's.
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
    let backend = std::fs::read_to_string(platform.project.dir().join("envs/local/backend.tf"))
        .expect("backend.tf");
    assert!(
        backend.lines().any(|line| {
            line.trim_start().starts_with("bucket ")
                && line.ends_with(&format!("= \"{}\"", names.state_bucket()))
        }),
        "{backend}"
    );

    // A second run changes nothing but the Helm releases (upgraded again): the seed keeps the
    // value, the image is not built again, the pods do not roll.
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
            ("secret seed", "unchanged"),
            ("build", "unchanged"),
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
            vec![
                owned(&["kind", "get", "clusters"]),
                owned(&["kind", "get", "nodes", "--name", PROJECT]),
            ],
            git.to_vec(),
            git.to_vec(),
            vec![observability, app],
        ]
        .concat()
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
}
