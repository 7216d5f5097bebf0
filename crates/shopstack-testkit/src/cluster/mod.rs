//! A real single- or multi-node Kubernetes cluster for tests: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kubelets running pods on docker engines of their
//! own, on free loopback ports, with a `kind-<name>` context using client certificates.
//!
//! The cluster runs under a supervisor process (`shopstack-test-cluster run`), which tears it down
//! when its standard input closes: when the test binary holding it exits, however it exits.

pub mod command;
pub mod components;
pub mod daemons;
pub mod manifests;
pub mod pki;
pub mod supervisor;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;

pub use components::{Components, KUBERNETES_VERSION};
pub use manifests::{BUSYBOX_IMAGE, PAUSE_IMAGE};

/// Errors starting or driving a test cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A component is not installed where it is looked for.
    #[error(
        "{component} not found ({looked}): `cargo xtask test` provisions the cluster's components"
    )]
    Missing {
        /// The component.
        component: String,
        /// Where it was looked for.
        looked: String,
    },
    /// A program could not be started.
    #[error("start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("{what} failed: {detail}")]
    Failed {
        /// The command.
        what: String,
        /// Its error output.
        detail: String,
    },
    /// A component exited while the cluster was starting.
    #[error("{component} exited while the cluster was starting: {log_tail}")]
    Exited {
        /// The component.
        component: String,
        /// The end of its log.
        log_tail: String,
    },
    /// The cluster did not become ready in time.
    #[error("timed out after {seconds}s waiting for {what} (logs in {logs})")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        seconds: u64,
        /// The logs directory.
        logs: String,
    },
}

impl ClusterError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Where test clusters keep their directories (short: docker's sockets live below them).
pub fn clusters_root() -> PathBuf {
    PathBuf::from("/tmp/ssc")
}

/// A running test cluster, torn down when dropped (or, for [`TestCluster::shared`], when the
/// test binary exits).
pub struct TestCluster {
    name: String,
    dir: PathBuf,
    kubeconfig: PathBuf,
    nodes: Vec<String>,
    supervisor: Child,
    stdin: Option<ChildStdin>,
}

impl TestCluster {
    /// Starts cluster `name` with `workers` worker nodes; its context `kind-<name>` is the only
    /// one of the kubeconfig [`TestCluster::kubeconfig`].
    pub fn start(name: &str, workers: usize) -> Result<Self, ClusterError> {
        Components::locate()?;
        let dir = new_cluster_dir()?;
        let kubeconfig = dir.join("kubeconfig");
        let spec = supervisor::Spec {
            name: name.to_owned(),
            workers,
            dir: dir.clone(),
            kubeconfig: kubeconfig.clone(),
        };
        let program = supervisor_program()?;
        let log_path = std::env::temp_dir().join(format!(
            "shopstack-test-cluster-{}.log",
            dir.file_name()
                .map(|id| id.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        let log =
            std::fs::File::create(&log_path).map_err(|error| ClusterError::io(&log_path, error))?;
        let mut supervisor = Command::new(&program)
            .args(supervisor_args(&spec))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|error| ClusterError::Spawn {
                program: program.display().to_string(),
                source: error,
            })?;
        let stdin = supervisor.stdin.take();
        let mut line = String::new();
        if let Some(stdout) = supervisor.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = supervisor.wait();
            return Err(ClusterError::Failed {
                what: format!("start test cluster {name}"),
                detail: std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            dir,
            kubeconfig,
            nodes: spec.nodes(),
            supervisor,
            stdin,
        })
    }

    /// The cluster this test binary shares among its tests (one node, named `name`), started on
    /// first use. `None`, with a note on standard error, when its components are not installed
    /// outside CI; in CI (`CI=true`) a missing component fails the test.
    pub fn shared(name: &str) -> Option<&'static TestCluster> {
        /// The cluster, or why there is none and whether that skips the test (else fails it).
        type Shared = Result<TestCluster, (bool, String)>;
        static SHARED: OnceLock<Shared> = OnceLock::new();
        let cluster = SHARED.get_or_init(|| {
            TestCluster::start(name, 0).map_err(|error| {
                let skip = matches!(error, ClusterError::Missing { .. }) && !required();
                (skip, error.to_string())
            })
        });
        match cluster {
            Ok(cluster) => Some(cluster),
            Err((true, error)) => {
                eprintln!("skipped: no real cluster: {error}");
                None
            }
            Err((false, error)) => panic!("test cluster: {error}"),
        }
    }

    /// A cluster of the test's own (for what would disturb the shared one, such as stopping a
    /// kubelet), with the same skip rule as [`TestCluster::shared`].
    pub fn start_or_skip(name: &str, workers: usize) -> Option<TestCluster> {
        match TestCluster::start(name, workers) {
            Ok(cluster) => Some(cluster),
            Err(error @ ClusterError::Missing { .. }) if !required() => {
                eprintln!("skipped: no real cluster: {error}");
                None
            }
            Err(error) => panic!("test cluster: {error}"),
        }
    }

    /// The kubeconfig's text with its context, cluster and user renamed to `context`.
    pub fn kubeconfig_text_as(&self, context: &str) -> String {
        self.kubeconfig_text().replace(&self.context(), context)
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its kubeconfig context, `kind-<name>`.
    pub fn context(&self) -> String {
        format!("kind-{}", self.name)
    }

    /// The kubeconfig holding its context (mode 0600, client certificates embedded).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig's text, to copy into a test's own kubeconfig.
    pub fn kubeconfig_text(&self) -> String {
        std::fs::read_to_string(&self.kubeconfig).unwrap_or_default()
    }

    /// The API server's URL, `https://127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        std::fs::read_to_string(self.dir.join("ready")).unwrap_or_default()
    }

    /// The node names, control plane first.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// The directory of the cluster (logs under `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the real kubectl against the cluster with `args`.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl_command(&self.kubeconfig)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("run kubectl {args:?}: {error}"))
    }

    /// Runs kubectl with `args` and `input` on its standard input (e.g. `apply -f -`), panicking
    /// with its error output when it fails; answers its standard output.
    pub fn kubectl_ok(&self, args: &[&str], input: &str) -> String {
        command::run(
            kubectl_command(&self.kubeconfig).args(args),
            &format!("kubectl {}", args.join(" ")),
            input,
        )
        .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Object `kind/name` in `namespace` as the API server stores it (see [`stored_object`]).
    pub fn stored(&self, namespace: &str, kind: &str, name: &str) -> serde_json::Value {
        stored_object(&self.kubeconfig, namespace, kind, name)
    }

    /// The docker host (`unix://…`) of node `index`'s engine.
    pub fn docker_host(&self, index: usize) -> String {
        format!(
            "unix://{}",
            self.dir
                .join(format!("n{index}"))
                .join("docker.sock")
                .display()
        )
    }

    /// Copies image `tag` from this machine's docker engine into every node's engine
    /// (`docker save | docker load`, what `kind load docker-image` does).
    pub fn load_image(&self, tag: &str) -> Result<(), ClusterError> {
        let docker = components::on_path("docker")?;
        for index in 0..self.nodes.len() {
            let mut save = Command::new(&docker)
                .args(["save", tag])
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|error| ClusterError::Spawn {
                    program: "docker save".to_owned(),
                    source: error,
                })?;
            let stdout = save.stdout.take().map_or_else(Stdio::null, Stdio::from);
            let load = Command::new(&docker)
                .args(["--host", &self.docker_host(index), "load", "--quiet"])
                .stdin(stdout)
                .output()
                .map_err(|error| ClusterError::Spawn {
                    program: "docker load".to_owned(),
                    source: error,
                })?;
            let saved = save.wait().map_err(|error| ClusterError::Spawn {
                program: "docker save".to_owned(),
                source: error,
            })?;
            if !saved.success() || !load.status.success() {
                return Err(ClusterError::Failed {
                    what: format!("load image {tag} into node {}", self.nodes[index]),
                    detail: String::from_utf8_lossy(&load.stderr).trim().to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Stops the kubelet of node `index` (the node turns NotReady within seconds).
    pub fn stop_kubelet(&self, index: usize) {
        if let Some(node) = self.nodes.get(index) {
            for mut daemon in daemons::recorded(&self.dir) {
                if daemon.name == format!("kubelet-{node}") {
                    daemon.stop(std::time::Duration::from_secs(10));
                }
            }
        }
    }

    /// Stops the cluster and waits for its teardown.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        drop(self.stdin.take());
        let _ = self.supervisor.wait();
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Tears down, when dropped, every cluster a [`crate::cluster_tools::kind_real`] stand-in
/// started under its `$STATE` directory that is still running.
pub struct KindClusters {
    state: PathBuf,
}

impl KindClusters {
    /// Guards the clusters of the stand-in whose `$STATE` is `state`.
    pub fn new(state: &Path) -> Self {
        Self {
            state: state.to_path_buf(),
        }
    }
}

impl Drop for KindClusters {
    fn drop(&mut self) {
        let Ok(program) = supervisor_program() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(self.state.join("clusters")) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let _ = Command::new(&program)
                .arg("down")
                .arg(format!("--dir={}", entry.path().display()))
                .status();
        }
    }
}

/// Whether the real components are here for a test that starts clusters itself (through the
/// `kind` stand-in): `false`, with a note, when they are not and CI does not require them; in CI
/// their absence fails the test.
pub fn available_or_skip() -> bool {
    match Components::locate().and_then(|_| supervisor_program()) {
        Ok(_) => true,
        Err(error) if !required() => {
            eprintln!("skipped: no real cluster: {error}");
            false
        }
        Err(error) => panic!("test cluster: {error}"),
    }
}

/// Builds image `tag` with this machine's docker engine: a stand-in for the application, whose
/// own image cannot be built here yet, serving `/healthz` and, when `ready`, `/readyz` on port
/// 8080 (see [`manifests::APP_STAND_IN_DOCKERFILE`]).
pub fn build_app_stand_in(tag: &str, ready: bool) -> Result<(), ClusterError> {
    let components = Components::locate()?;
    let context =
        tempfile::tempdir().map_err(|error| ClusterError::io(Path::new("tempdir"), error))?;
    let dir = context.path();
    std::fs::copy(&components.busybox, dir.join("busybox"))
        .map_err(|error| ClusterError::io(&components.busybox, error))?;
    let www = dir.join("www");
    std::fs::create_dir_all(&www).map_err(|error| ClusterError::io(&www, error))?;
    let mut files = vec!["healthz"];
    if ready {
        files.push("readyz");
    }
    for file in files {
        std::fs::write(www.join(file), "ok\n").map_err(|error| ClusterError::io(&www, error))?;
    }
    std::fs::write(dir.join("Dockerfile"), manifests::APP_STAND_IN_DOCKERFILE)
        .map_err(|error| ClusterError::io(dir, error))?;
    docker_build(&components, dir, tag)
}

/// `docker build --quiet --tag TAG DIR` with the legacy builder (nothing to pull `FROM scratch`).
fn docker_build(components: &Components, dir: &Path, tag: &str) -> Result<(), ClusterError> {
    command::run(
        Command::new(&components.docker)
            .args(["build", "--quiet", "--tag", tag])
            .arg(dir)
            .env("DOCKER_BUILDKIT", "0"),
        &format!("docker build {tag}"),
        "",
    )
    .map(drop)
}

/// The registry program of Debian's `docker-registry` package (the Docker distribution
/// project's), which the registry image of the local golden path runs.
pub const REGISTRY_PROGRAM: &str = "/usr/bin/docker-registry";

/// Builds image `tag` (the local registry's configured image, e.g. `registry:2`) with this
/// machine's docker engine, `FROM scratch`: Debian's registry program, the C library it links,
/// and a configuration serving `:5000` from `/var/lib/registry`. It stands in for Docker Hub's
/// `registry` image only because no image can be pulled here; the registry itself is real.
pub fn build_registry_image(tag: &str) -> Result<(), ClusterError> {
    let components = Components::locate()?;
    let context =
        tempfile::tempdir().map_err(|error| ClusterError::io(Path::new("tempdir"), error))?;
    let dir = context.path();
    let copy = |from: &Path, to: &str| -> Result<(), ClusterError> {
        let target = dir.join(to);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|error| ClusterError::io(parent, error))?;
        }
        std::fs::copy(from, &target)
            .map(drop)
            .map_err(|error| ClusterError::io(from, error))
    };
    let program = Path::new(REGISTRY_PROGRAM);
    if !program.is_file() {
        return Err(ClusterError::Missing {
            component: "the registry program (Debian package docker-registry)".to_owned(),
            looked: REGISTRY_PROGRAM.to_owned(),
        });
    }
    copy(program, "bin/registry")?;
    // The program links only the C library: copy it and its loader, following links.
    for library in [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ] {
        let library = Path::new(library);
        let resolved =
            std::fs::canonicalize(library).map_err(|error| ClusterError::io(library, error))?;
        copy(&resolved, library.to_string_lossy().trim_start_matches('/'))?;
    }
    std::fs::write(dir.join("config.yml"), manifests::REGISTRY_CONFIG)
        .map_err(|error| ClusterError::io(dir, error))?;
    std::fs::write(dir.join("Dockerfile"), manifests::REGISTRY_DOCKERFILE)
        .map_err(|error| ClusterError::io(dir, error))?;
    docker_build(&components, dir, tag)
}

/// The local registry's container for a test: none left by an earlier run, its `image` built
/// (see [`build_registry_image`]), and the container `name` removed again when this is dropped,
/// whatever the test's outcome (there is one per machine, on a fixed port).
pub struct LocalRegistry {
    docker: PathBuf,
    name: String,
}

impl LocalRegistry {
    /// Removes container `name` if it exists and builds `image`.
    pub fn fresh(name: &str, image: &str) -> Result<Self, ClusterError> {
        let registry = Self {
            docker: Components::locate()?.docker,
            name: name.to_owned(),
        };
        registry.remove();
        build_registry_image(image)?;
        Ok(registry)
    }

    fn remove(&self) {
        let _ = Command::new(&self.docker)
            .args(["rm", "--force", "--volumes", &self.name])
            .output();
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Object `kind/name` in `namespace` as the API server stores it, read with kubectl through
/// `kubeconfig`, managed fields included; the list of every object of the kind when `name` is
/// empty. Panics when kubectl fails (a test helper).
pub fn stored_object(
    kubeconfig: &Path,
    namespace: &str,
    kind: &str,
    name: &str,
) -> serde_json::Value {
    let mut command = kubectl_command(kubeconfig);
    command
        .args(["-n", namespace, "get", kind])
        .args((!name.is_empty()).then_some(name))
        .args(["-o", "json", "--show-managed-fields"]);
    let text = command::run(&mut command, &format!("kubectl get {kind} {name}"), "")
        .unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("kubectl get {kind} {name}: {error}"))
}

/// The (manager, operation) pairs of a stored object's managed fields.
pub fn managers(object: &serde_json::Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            (
                entry["manager"].as_str().unwrap_or_default().to_owned(),
                entry["operation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Whether real components are required (CI) rather than optional.
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// kubectl with `kubeconfig`.
pub fn kubectl_command(kubeconfig: &Path) -> Command {
    let program = components::on_path("kubectl").unwrap_or_else(|_| PathBuf::from("kubectl"));
    let mut command = Command::new(program);
    command.arg(format!("--kubeconfig={}", kubeconfig.display()));
    command
}

/// The arguments of `shopstack-test-cluster run` for `spec`.
pub fn supervisor_args(spec: &supervisor::Spec) -> Vec<String> {
    vec![
        "run".to_owned(),
        format!("--dir={}", spec.dir.display()),
        format!("--name={}", spec.name),
        format!("--workers={}", spec.workers),
        format!("--kubeconfig={}", spec.kubeconfig.display()),
    ]
}

/// A new, empty directory under [`clusters_root`].
pub fn new_cluster_dir() -> Result<PathBuf, ClusterError> {
    let root = clusters_root();
    std::fs::create_dir_all(&root).map_err(|error| ClusterError::io(&root, error))?;
    let dir = tempfile::Builder::new()
        .prefix("")
        .rand_bytes(6)
        .tempdir_in(&root)
        .map_err(|error| ClusterError::io(&root, error))?;
    Ok(dir.keep())
}

/// The supervisor binary: `$SHOPSTACK_TEST_CLUSTER_BIN`, else `shopstack-test-cluster` beside the
/// test binary's directory (cargo puts both in `target/<profile>/`).
pub fn supervisor_program() -> Result<PathBuf, ClusterError> {
    if let Some(path) =
        std::env::var_os("SHOPSTACK_TEST_CLUSTER_BIN").filter(|path| !path.is_empty())
    {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|error| ClusterError::io(Path::new("current exe"), error))?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("shopstack-test-cluster"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ClusterError::Missing {
            component: "shopstack-test-cluster".to_owned(),
            looked: format!(
                "beside {}; build it with `cargo build -p shopstack-testkit`",
                exe.display()
            ),
        })
}
