//! Integration tests of the `apps-sre` binary: the AWS emulator for STS, ECR, Secrets Manager and
//! CodeBuild; a mock Kubernetes API serving k8s-openapi objects at the real paths; recorded AWS
//! answers for what the emulator cannot produce; stand-in `helm` and `docker` executables.

mod argocd;
mod build;
mod chart;
mod config_errors;
mod deploy;
mod ecr;
mod k8s;
mod local_build;
mod pull_secret;
mod recorded;
mod secrets;
mod status;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Output;

use aws_config::SdkConfig;
use base64::Engine;
use shopstack_testkit::cluster::TestCluster;
use shopstack_testkit::{Account, StandIns, emulator_endpoint, unique_project_name};
use tempfile::TempDir;

/// Region of the test environments.
pub const REGION: &str = "eu-west-1";
/// The environment every test uses.
pub const ENVIRONMENT: &str = "local";
/// A secret value that must never appear in argv, output or logs.
pub const CANARY: &str = "canary-3b9f27-hunter2";

/// Base64 of `bytes`, as Kubernetes Secret data carries it.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A working directory: `shopstack.toml` for a unique project, a kubeconfig location, the shipped
/// `deploy/` tree, and stand-in tools (PATH holds nothing else).
pub struct Workspace {
    dir: TempDir,
    /// The project name.
    pub project: String,
    /// Stand-in executables.
    pub tools: StandIns,
    account: Option<Account>,
    extra_path: Option<PathBuf>,
}

impl Workspace {
    /// A workspace whose `local` environment points at `endpoint`, with no credentials (the tool
    /// then uses its fixed loopback ones).
    pub fn with_endpoint(endpoint: &str) -> Self {
        let project = unique_project_name();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("shopstack.toml"),
            format!(
                "[project]\nname = \"{project}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\nbranch = \"main\"\n\n[codebuild]\nsource_repository = \"acme/apps\"\n\n[environments.local]\nregion = \"{REGION}\"\n{}endpoint_url = \"{endpoint}\"\n",
                // A stand-in server speaks plain http, by the environment's explicit consent.
                if endpoint.starts_with("http://") {
                    "plain_http = true\n".to_owned()
                } else {
                    format!(
                        "ca_bundle = \"{}\"\n",
                        shopstack_testkit::EmulatorTls::of_test_run().ca().display()
                    )
                }
            ),
        )
        .expect("write shopstack.toml");
        std::fs::create_dir_all(dir.path().join(".kube")).expect("create .kube");
        copy_dir(
            &repository_root().join("deploy"),
            &dir.path().join("deploy"),
        );
        Self {
            dir,
            project,
            tools: StandIns::new().expect("stand-ins"),
            account: None,
            extra_path: None,
        }
    }

    /// A workspace on the emulator, in a fresh account of its own.
    pub fn on_emulator() -> Self {
        let endpoint = emulator_endpoint();
        let mut workspace = Self::with_endpoint(&endpoint);
        workspace.account = Some(Account::isolated(&endpoint).expect("isolated emulator account"));
        workspace
    }

    /// Points the `local` environment at `endpoint` instead.
    pub fn set_endpoint(&self, endpoint: &str) {
        let config = self.path().join("shopstack.toml");
        let text = std::fs::read_to_string(&config).expect("read shopstack.toml");
        let start = text.find("endpoint_url = ").expect("endpoint line");
        let consent = if endpoint.starts_with("http://") {
            "plain_http = true\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!("{}{consent}endpoint_url = \"{endpoint}\"\n", &text[..start]),
        )
        .expect("write shopstack.toml");
    }

    /// Also puts `dir` on PATH, after the stand-ins (for a real `git`).
    pub fn also_on_path(&mut self, dir: &Path) {
        self.extra_path = Some(dir.to_path_buf());
    }

    /// The account of an emulator workspace.
    pub fn account(&self) -> &Account {
        self.account.as_ref().expect("an emulator workspace")
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default kubeconfig (`KUBECONFIG` of every command).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join(".kube").join("config")
    }

    /// Points the kubeconfig's context `kind-<project>` at `server`.
    pub fn use_cluster(&self, server: &str) {
        std::fs::write(
            self.kubeconfig(),
            k8s::kubeconfig_text(&self.kube_context(), server),
        )
        .expect("write kubeconfig");
    }

    /// A workspace on the emulator whose context points at the real `cluster`, with its own
    /// namespace (the project's) created there and its default ServiceAccount in place.
    pub fn on_real_cluster(cluster: &TestCluster) -> Self {
        let workspace = Self::on_emulator();
        workspace.use_real_cluster(cluster);
        create_namespace(cluster, &workspace.namespace());
        workspace
    }

    /// Points the kubeconfig's context `kind-<project>` at the real `cluster` (mode 0600).
    pub fn use_real_cluster(&self, cluster: &TestCluster) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            self.kubeconfig(),
            cluster.kubeconfig_text_as(&self.kube_context()),
        )
        .expect("write kubeconfig");
        std::fs::set_permissions(self.kubeconfig(), std::fs::Permissions::from_mode(0o600))
            .expect("chmod kubeconfig");
    }

    /// The default kube context.
    pub fn kube_context(&self) -> String {
        format!("kind-{}", self.project)
    }

    /// The application namespace.
    pub fn namespace(&self) -> String {
        self.project.clone()
    }

    /// Names of the environment's resources (the account's when on the emulator).
    pub fn names(&self) -> shopstack_core::Names {
        let account = self
            .account
            .as_ref()
            .map_or("", |account| account.id.as_str());
        shopstack_core::Names::new(&self.project, ENVIRONMENT, account)
    }

    /// Runs the binary with `args` in the workspace.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_apps-sre"));
        let path = match &self.extra_path {
            Some(extra) => std::env::join_paths([self.tools.bin(), extra.clone()])
                .expect("PATH")
                .into_string()
                .expect("PATH"),
            None => self.tools.bin().display().to_string(),
        };
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path())
            .env("KUBECONFIG", self.kubeconfig())
            .args(args);
        if let Some(account) = &self.account {
            command.envs(account.environment());
        }
        command
            .output()
            .await
            .unwrap_or_else(|error| panic!("run apps-sre {args:?}: {error}"))
    }

    /// The SDK configuration of the workspace's emulator account.
    pub async fn sdk(&self) -> SdkConfig {
        let account = self.account();
        shopstack_testkit::sdk::sdk_config(account, REGION).await
    }

    /// Creates the environment's ECR repository (immutable tags); returns its URI.
    pub async fn create_repository(&self) -> String {
        let ecr = aws_sdk_ecr::Client::new(&self.sdk().await);
        let output = ecr
            .create_repository()
            .repository_name(self.names().ecr_repository())
            .image_tag_mutability(aws_sdk_ecr::types::ImageTagMutability::Immutable)
            .send()
            .await
            .expect("create ECR repository");
        output
            .repository()
            .and_then(|repository| repository.repository_uri())
            .expect("repository URI")
            .to_owned()
    }

    /// Pushes a (manifest-only) image tagged `tag` to the environment's repository.
    pub async fn put_image(&self, tag: &str) {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
            },
            "layers": []
        });
        aws_sdk_ecr::Client::new(&self.sdk().await)
            .put_image()
            .repository_name(self.names().ecr_repository())
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send()
            .await
            .expect("put image");
    }

    /// Creates the application secret with `value`.
    pub async fn put_app_secret(&self, value: &str) {
        aws_sdk_secretsmanager::Client::new(&self.sdk().await)
            .create_secret()
            .name(self.names().app_secret())
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
    }

    /// Creates the environment's CodeBuild project as `infra-terraform` does (GitHub source,
    /// `IMAGE_REPO_URI`).
    pub async fn create_codebuild_project(&self, repository_uri: &str) {
        use aws_sdk_codebuild::types::{
            ArtifactsType, ComputeType, EnvironmentType, EnvironmentVariable, ProjectArtifacts,
            ProjectEnvironment, ProjectSource, SourceType,
        };
        let names = self.names();
        aws_sdk_codebuild::Client::new(&self.sdk().await)
            .create_project()
            .name(names.codebuild_project())
            .source(
                ProjectSource::builder()
                    .r#type(SourceType::Github)
                    .location("https://github.com/acme/apps.git")
                    .build()
                    .expect("source"),
            )
            .artifacts(
                ProjectArtifacts::builder()
                    .r#type(ArtifactsType::NoArtifacts)
                    .build()
                    .expect("artifacts"),
            )
            .environment(
                ProjectEnvironment::builder()
                    .r#type(EnvironmentType::LinuxContainer)
                    .image("aws/codebuild/standard:7.0")
                    .compute_type(ComputeType::BuildGeneral1Small)
                    .privileged_mode(true)
                    .environment_variables(
                        EnvironmentVariable::builder()
                            .name("IMAGE_REPO_URI")
                            .value(repository_uri)
                            .build()
                            .expect("variable"),
                    )
                    .build()
                    .expect("environment"),
            )
            .service_role(format!(
                "arn:aws:iam::{}:role/{}",
                self.account().id,
                names.codebuild_role()
            ))
            .send()
            .await
            .expect("create CodeBuild project");
    }
}

/// The real helm (`cargo xtask test` puts it on PATH); `None`, with a note, where it is not
/// provisioned outside CI.
pub fn real_helm() -> Option<PathBuf> {
    match shopstack_testkit::cluster::components::on_path("helm") {
        Ok(helm) => Some(helm),
        Err(error) => {
            assert!(!shopstack_testkit::cluster::required(), "{error}");
            eprintln!("skipped: {error}");
            None
        }
    }
}

/// The real cluster this test binary shares (one node), or `None` (the test skips) when its
/// components are not installed outside CI. Tests isolate themselves by namespace: each
/// workspace's project name is unique.
pub fn real_cluster() -> Option<&'static TestCluster> {
    TestCluster::shared("apps")
}

/// Creates namespace `name` on `cluster` and waits until its `default` ServiceAccount exists
/// (the controller manager creates it a moment after the namespace).
pub fn create_namespace(cluster: &TestCluster, name: &str) {
    cluster.kubectl_ok(&["create", "namespace", name], "");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cluster
        .kubectl(&["-n", name, "get", "serviceaccount", "default"])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no default ServiceAccount in {name}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

pub use shopstack_testkit::cluster::managers;

/// Runs a future on a fresh runtime (for synchronous helpers).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The repository root (where `deploy/` lives).
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}
