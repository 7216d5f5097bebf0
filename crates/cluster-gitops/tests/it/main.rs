//! Integration tests of the `cluster-gitops` binary: a mock Kubernetes API server serving
//! k8s-openapi objects at the real paths, and stand-in `kind` and `docker` executables.

mod api;
mod config_errors;
mod create;
mod e2e;
mod kind_rules;
mod kubeconfig;
mod proxy;
mod registry;
mod repeat;
mod sync;
mod tools;
mod validate;

use std::path::{Path, PathBuf};
use std::process::Output;

use shopstack_testkit::StandIns;
use shopstack_testkit::cluster::TestCluster;
use tempfile::TempDir;

/// The project name of every test workspace: the cluster is `shop`, its context `kind-shop`.
pub const PROJECT: &str = "shop";
/// The kind context of [`PROJECT`].
pub const CONTEXT: &str = "kind-shop";

/// The shipped kind configuration's local registry patch, with its comment.
const REGISTRY_PATCH: &str =
    "# The local registry, as kind documents it: containerd reads a hosts file per registry, and
# `cluster-gitops create` runs the registry on 127.0.0.1:5001 and points each node's
# localhost:5001 at it. Drop this patch to go without a local registry.
containerdConfigPatches:
  - |-
    [plugins.\"io.containerd.grpc.v1.cri\".registry]
      config_path = \"/etc/containerd/certs.d\"
";

/// The shipped kind configuration, with the cluster renamed to [`PROJECT`].
pub fn shipped_with_registry() -> String {
    let text =
        include_str!("../../../../kind-config.yaml").replace("name: shopstack", "name: shop");
    assert!(text.contains(REGISTRY_PATCH), "the shipped registry patch");
    text
}

/// The shipped kind configuration, with the cluster renamed to [`PROJECT`] and without the local
/// registry: there is one per machine, on a fixed port, which `registry.rs` tests alone.
pub fn shipped_kind_config() -> String {
    shipped_with_registry().replace(REGISTRY_PATCH, "")
}

/// A working directory with `shopstack.toml`, `kind-config.yaml`, a kubeconfig location and a
/// directory of stand-in tools.
pub struct Workspace {
    dir: TempDir,
    /// The stand-in tools; PATH holds nothing else.
    pub tools: StandIns,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// A workspace for project [`PROJECT`] with the shipped kind configuration and no tools.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("shopstack.toml"),
            format!(
                "[project]\nname = \"{PROJECT}\"\n\n[github]\nrepositories = [\"acme/infra\"]\n"
            ),
        )
        .expect("write shopstack.toml");
        std::fs::write(dir.path().join("kind-config.yaml"), shipped_kind_config())
            .expect("write kind-config.yaml");
        std::fs::create_dir_all(dir.path().join(".kube")).expect("create .kube");
        Self {
            dir,
            tools: StandIns::new().expect("stand-ins"),
        }
    }

    /// A workspace whose kubeconfig holds the context of `cluster`.
    pub fn on_cluster(cluster: &TestCluster) -> Self {
        let workspace = Self::new();
        write_private(&workspace.kubeconfig(), &cluster.kubeconfig_text());
        workspace
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default kubeconfig (`KUBECONFIG` of every command).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join(".kube").join("config")
    }

    /// The binary, run in the workspace with only the stand-ins on PATH.
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_cluster-gitops"));
        command
            .current_dir(self.path())
            .env_clear()
            .env("PATH", self.tools.bin())
            .env("HOME", self.path())
            .env("KUBECONFIG", self.kubeconfig());
        command
    }

    /// Runs the binary with `args`.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .await
            .unwrap_or_else(|error| panic!("run cluster-gitops {args:?}: {error}"))
    }
}

/// The real cluster this test binary shares: one node, `shop-control-plane`, context
/// [`CONTEXT`]; `None` (the test skips) when its components are not installed outside CI.
pub fn real_cluster() -> Option<&'static TestCluster> {
    TestCluster::shared(PROJECT)
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `text` to `path` with mode 0600, as a kubeconfig holding credentials must be.
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write kubeconfig");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 0600");
}

/// The permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
