//! A canary secret value reaches AWS and the cluster yet never appears in any command's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use serde_json::json;
use shopstack_testkit::{Account, TestProject, emulator_endpoint};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::binaries;

const CANARY: &str = "canary-91d4e0-do-not-print";

/// The value stored with `secret put`: the canary alone and inside a larger string.
fn secret_value() -> String {
    json!({
        "API_KEY": CANARY,
        "DATABASE_URL": format!("postgres://shop:{CANARY}@db:5432/shop"),
    })
    .to_string()
}

/// Base64 as Kubernetes Secret data carries it.
fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Answers a server-side apply with its own body, as the API server does.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(request.body.clone())
    }
}

/// A Kubernetes API with namespace `namespace`, no Secret `app-config` in it, and writes echoed.
async fn mock_api(namespace: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/namespaces/{namespace}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/api/v1/namespaces/{namespace}/secrets/app-config"
        )))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure", "code": 404,
            "reason": "NotFound", "message": "secrets \"app-config\" not found"
        })))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    server
}

/// One project on the emulator in its own account, with a kubeconfig pointing at a mock API.
struct Platform {
    project: TestProject,
    account: Account,
    kubeconfig: PathBuf,
}

impl Platform {
    fn new(kube_server: &str, project: TestProject) -> Self {
        let account = Account::isolated(&emulator_endpoint()).expect("isolated emulator account");
        let kubeconfig = project.dir().join("kubeconfig");
        let context = format!("kind-{}", project.name);
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {kube_server}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\ncurrent-context: {context}\nusers:\n- name: {context}\n  user:\n    token: test-token\n"
            ),
        )
        .expect("write kubeconfig");
        Self {
            project,
            account,
            kubeconfig,
        }
    }

    /// Runs `binary ARGS` in the project with the account's credentials and nothing else
    /// inherited.
    fn run(&self, binary: &str, args: &[&str]) -> Output {
        Command::new(binaries().join(binary))
            .current_dir(self.project.dir())
            .env_clear()
            .env("HOME", self.project.dir())
            .env("KUBECONFIG", &self.kubeconfig)
            .envs(self.account.environment())
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("run {binary} {args:?}: {error}"))
    }
}

fn project_on_emulator() -> TestProject {
    TestProject::with_config(&format!(
        "[project]\nname = \"{{project}}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\nbranch = \"main\"\n\n[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\nca_bundle = \"{}\"\n",
        emulator_endpoint(),
        shopstack_testkit::EmulatorTls::of_test_run().ca().display()
    ))
    .expect("test project")
}

fn write_value(dir: &Path) -> String {
    let file = dir.join("value.json");
    std::fs::write(&file, secret_value()).expect("write value");
    file.to_str().expect("utf-8 path").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_secret_never_appears_in_the_output_of_any_command() {
    let project = project_on_emulator();
    let namespace = project.name.clone();
    let api = mock_api(&namespace).await;
    let platform = Platform::new(&api.uri(), project);
    let value = write_value(platform.project.dir());

    // (command line, expected exit code) in the order they run.
    let mut runs: Vec<(String, Output)> = Vec::new();
    let mut run = |binary: &str, args: &[&str]| {
        let output = platform.run(binary, args);
        runs.push((format!("{binary} {}", args.join(" ")), output));
    };
    run("infra-terraform", &["-vv", "apply", "--auto-approve"]);
    run(
        "infra-terraform",
        &["-v", "secret", "put", "--from-file", &value],
    );
    for verbosity in ["-v", "-vv"] {
        run("infra-terraform", &[verbosity, "plan"]);
        run("infra-terraform", &[verbosity, "plan", "--json"]);
        run("infra-terraform", &[verbosity, "apply", "--auto-approve"]);
        run("infra-terraform", &[verbosity, "status"]);
        run("infra-terraform", &[verbosity, "status", "--json"]);
        run("infra-terraform", &[verbosity, "audit"]);
        run("infra-terraform", &[verbosity, "audit", "--json"]);
        run("infra-terraform", &[verbosity, "whoami"]);
        run("infra-terraform", &[verbosity, "whoami", "--json"]);
        run("apps-sre", &[verbosity, "secrets", "sync"]);
    }
    // Destroy at both verbosities: apply in between brings the environment (and the secret,
    // restored from pending deletion) back.
    run("infra-terraform", &["-v", "destroy", "--auto-approve"]);
    run("infra-terraform", &["-vv", "apply", "--auto-approve"]);
    run("infra-terraform", &["-vv", "destroy", "--auto-approve"]);

    let mut failures = Vec::new();
    for (command, output) in &runs {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() != Some(0) {
            failures.push(format!(
                "{command}: exit {:?}: {}",
                output.status.code(),
                stderr.lines().last().unwrap_or_default()
            ));
        }
        for needle in [CANARY.to_owned(), b64(CANARY)] {
            if stdout.contains(&needle) || stderr.contains(&needle) {
                failures.push(format!("{command}: output holds {needle:?}"));
            }
        }
        if command.contains("-vv") && !stderr.contains("DEBUG") {
            failures.push(format!("{command}: -vv printed no DEBUG lines"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The value did reach the cluster, in the Secret body of the server-side apply.
    let secret_path = format!("/api/v1/namespaces/{namespace}/secrets/app-config");
    let writes: Vec<serde_json::Value> = api
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == "PATCH" && request.url.path() == secret_path)
        .map(|request| serde_json::from_slice(&request.body).unwrap_or_default())
        .collect();
    assert_eq!(writes.len(), 2, "one apply per sync: {writes:?}");
    for body in &writes {
        assert_eq!(body["data"]["API_KEY"], json!(b64(CANARY)));
        assert_eq!(
            body["data"]["DATABASE_URL"],
            json!(b64(&format!("postgres://shop:{CANARY}@db:5432/shop")))
        );
    }
}
