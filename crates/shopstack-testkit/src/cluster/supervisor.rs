//! Starting and tearing down a whole cluster: per node a docker engine of its own (own data root,
//! exec root, socket, bridge and cgroup parent, as kind gives each node its own containerd), then
//! etcd, kube-apiserver, kube-controller-manager, kube-scheduler and one kubelet per node.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::components::Components;
use super::daemons::{self, Daemon};
use super::manifests::{self, BUSYBOX_IMAGE, KubeletSettings, PAUSE_IMAGE};
use super::pki::Pki;
use super::{ClusterError, command};

/// What to start.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The cluster's name: nodes are `<name>-control-plane`, `<name>-worker`, `<name>-worker2`…
    pub name: String,
    /// How many worker nodes beside the control plane.
    pub workers: usize,
    /// The directory holding everything of the cluster (certificates, data, logs, sockets).
    pub dir: PathBuf,
    /// The kubeconfig the `kind-<name>` context is merged into, as kind does.
    pub kubeconfig: PathBuf,
}

impl Spec {
    /// The node names, kind's way.
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes = vec![format!("{}-control-plane", self.name)];
        for index in 1..=self.workers {
            let suffix = if index == 1 {
                String::new()
            } else {
                index.to_string()
            };
            nodes.push(format!("{}-worker{suffix}", self.name));
        }
        nodes
    }
}

/// One node's docker engine: its socket and bridge.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The node name.
    pub node: String,
    /// `unix://…/docker.sock`.
    pub host: String,
    /// The bridge its containers (the pods) are attached to.
    pub bridge: String,
    /// The bridge's address on this machine: the node's IP, where its kubelet listens (a
    /// kubelet refuses a loopback node IP).
    pub address: String,
    /// The node's cgroup parent.
    pub cgroup_root: String,
}

/// A started cluster: its processes, in start order.
pub struct Running {
    daemons: Vec<Daemon>,
    dir: PathBuf,
}

/// How long the control plane and the nodes may take to come up on a busy 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Starts everything in `spec`, waits until every node is Ready and the CoreDNS stand-in is
/// ready, and merges the `kind-<name>` context into `spec.kubeconfig`. On failure what was
/// started is torn down again.
pub fn start(spec: &Spec, components: &Components) -> Result<Running, ClusterError> {
    std::fs::create_dir_all(&spec.dir).map_err(|error| ClusterError::io(&spec.dir, error))?;
    let mut running = Running {
        daemons: Vec::new(),
        dir: spec.dir.clone(),
    };
    match start_into(spec, components, &mut running) {
        Ok(()) => Ok(running),
        Err(error) => {
            running.teardown();
            Err(error)
        }
    }
}

fn start_into(
    spec: &Spec,
    components: &Components,
    running: &mut Running,
) -> Result<(), ClusterError> {
    let dir = &spec.dir;
    let nodes = spec.nodes();
    let mut engines = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let engine = start_engine(dir, index, node, components, running)?;
        engines.push(engine);
    }
    let node_addresses: Vec<(String, String)> = engines
        .iter()
        .map(|engine| (engine.node.clone(), engine.address.clone()))
        .collect();
    let pki = Pki::create(&dir.join("pki"), &node_addresses)?;
    let etcd_port = free_port()?;
    let etcd_peer_port = free_port()?;
    let api_port = free_port()?;
    let server = format!("https://127.0.0.1:{api_port}");
    let admin = write(
        dir,
        "admin.kubeconfig",
        &manifests::component_kubeconfig(&pki, &server, "admin"),
    )?;
    let etcd_data = dir.join("etcd");
    running.daemons.push(daemons::start(
        dir,
        "etcd",
        Command::new(&components.etcd)
            .arg("--name=test")
            .arg(format!("--data-dir={}", etcd_data.display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
            ))
            .arg(format!(
                "--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}"
            ))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=test=http://127.0.0.1:{etcd_peer_port}"
            ))
            .arg("--unsafe-no-fsync"),
    )?);
    running.daemons.push(daemons::start(
        dir,
        "kube-apiserver",
        Command::new(&components.apiserver)
            .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={api_port}"))
            .arg("--insecure-port=0")
            .arg(format!("--tls-cert-file={}", pki.cert("apiserver")))
            .arg(format!("--tls-private-key-file={}", pki.key("apiserver")))
            .arg(format!("--client-ca-file={}", pki.cert("ca")))
            .arg(format!(
                "--kubelet-client-certificate={}",
                pki.cert("apiserver-kubelet-client")
            ))
            .arg(format!(
                "--kubelet-client-key={}",
                pki.key("apiserver-kubelet-client")
            ))
            .arg("--kubelet-preferred-address-types=InternalIP,Hostname")
            .arg(format!(
                "--service-account-key-file={}",
                pki.public_key("service-account")
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                pki.key("service-account")
            ))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg("--authorization-mode=Node,RBAC")
            .arg("--enable-admission-plugins=NodeRestriction")
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            .arg("--allow-privileged=true")
            // The endpoints of `kubernetes.default` would be 127.0.0.1, which the API refuses.
            .arg("--endpoint-reconciler-type=none")
            .arg("--profiling=false"),
    )?);
    wait_for(READY_TIMEOUT, "the API server to be ready", running, || {
        kubectl(components, &admin, &["get", "--raw", "/readyz"]).is_ok()
    })?;

    let controller_manager = write(
        dir,
        "controller-manager.kubeconfig",
        &manifests::component_kubeconfig(&pki, &server, "controller-manager"),
    )?;
    running.daemons.push(daemons::start(
        dir,
        "kube-controller-manager",
        Command::new(&components.controller_manager)
            .arg(format!("--kubeconfig={}", controller_manager.display()))
            // Pods get their addresses from each node's docker bridge, not from node CIDRs.
            .arg("--controllers=*,-nodeipam")
            .arg(format!(
                "--service-account-private-key-file={}",
                pki.key("service-account")
            ))
            .arg(format!("--root-ca-file={}", pki.cert("ca")))
            .arg("--use-service-account-credentials=true")
            .arg("--leader-elect=false")
            // 1.20 also listens on fixed ports (10252, 10257): clusters side by side would collide.
            .arg("--port=0")
            .arg("--secure-port=0")
            .arg("--node-monitor-period=2s")
            .arg("--node-monitor-grace-period=12s"),
    )?);
    let scheduler = write(
        dir,
        "scheduler.kubeconfig",
        &manifests::component_kubeconfig(&pki, &server, "scheduler"),
    )?;
    running.daemons.push(daemons::start(
        dir,
        "kube-scheduler",
        Command::new(&components.scheduler)
            .arg(format!("--kubeconfig={}", scheduler.display()))
            .arg("--leader-elect=false")
            .arg("--port=0")
            .arg("--secure-port=0"),
    )?);

    for engine in &engines {
        start_kubelet(dir, &pki, &server, engine, components, running)?;
    }
    let control_plane = &nodes[0];
    wait_for(READY_TIMEOUT, "every node to be Ready", running, || {
        let Ok(out) = kubectl(
            components,
            &admin,
            &[
                "get",
                "nodes",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
            ],
        ) else {
            return false;
        };
        nodes
            .iter()
            .all(|node| out.lines().any(|line| line == format!("{node}=True")))
    })?;
    kubectl(
        components,
        &admin,
        &[
            "label",
            "node",
            control_plane,
            "node-role.kubernetes.io/control-plane=",
            "node-role.kubernetes.io/master=",
            "--overwrite",
        ],
    )?;
    wait_for(
        READY_TIMEOUT,
        "the kube-system service account",
        running,
        || {
            kubectl(
                components,
                &admin,
                &["-n", "kube-system", "get", "serviceaccount", "default"],
            )
            .is_ok()
        },
    )?;
    kubectl_stdin(
        components,
        &admin,
        &["apply", "-f", "-"],
        &manifests::dns_stand_in(),
    )?;
    kubectl(
        components,
        &admin,
        &[
            "-n",
            "kube-system",
            "rollout",
            "status",
            "deployment/coredns",
            "--timeout=180s",
        ],
    )?;
    // The cluster's own kubeconfig (what `kind get kubeconfig` prints), then the context merged
    // into the requested one, as kind does.
    let own = dir.join("kubeconfig");
    merge_kubeconfig(&spec.name, &own, &pki, &server, components)?;
    if spec.kubeconfig != own {
        merge_kubeconfig(&spec.name, &spec.kubeconfig, &pki, &server, components)?;
    }
    write(dir, "ready", &server)?;
    Ok(())
}

fn start_engine(
    dir: &Path,
    index: usize,
    node: &str,
    components: &Components,
    running: &mut Running,
) -> Result<Engine, ClusterError> {
    let node_dir = dir.join(format!("n{index}"));
    std::fs::create_dir_all(&node_dir).map_err(|error| ClusterError::io(&node_dir, error))?;
    let (bridge, address) = claim_bridge(dir)?;
    let socket = node_dir.join("docker.sock");
    let host = format!("unix://{}", socket.display());
    let cgroup_root = format!("/ssc-{}-n{index}", cluster_id(dir));
    make_cgroups(&cgroup_root)?;
    running.daemons.push(daemons::start(
        dir,
        &format!("dockerd-{node}"),
        Command::new(&components.dockerd)
            .arg(format!("--data-root={}", node_dir.join("docker").display()))
            .arg(format!("--exec-root={}", node_dir.join("exec").display()))
            .arg(format!(
                "--pidfile={}",
                node_dir.join("docker.pid").display()
            ))
            .arg(format!("--host={host}"))
            .arg(format!("--bridge={bridge}"))
            .arg("--iptables=false")
            .arg("--ip-masq=false")
            .arg("--storage-driver=overlay2")
            .arg(format!("--cgroup-parent={cgroup_root}"))
            .arg("--exec-opt=native.cgroupdriver=cgroupfs"),
    )?);
    let engine = Engine {
        node: node.to_owned(),
        host,
        bridge,
        address,
        cgroup_root,
    };
    wait_for(
        Duration::from_secs(60),
        "a node's docker engine",
        running,
        || {
            docker(
                components,
                &engine.host,
                &["info", "--format", "{{.ServerVersion}}"],
            )
            .is_ok()
        },
    )?;
    build_image(
        dir,
        components,
        &engine.host,
        PAUSE_IMAGE,
        &components.pause,
        "pause",
        manifests::PAUSE_DOCKERFILE,
    )?;
    build_image(
        dir,
        components,
        &engine.host,
        BUSYBOX_IMAGE,
        &components.busybox,
        "busybox",
        manifests::BUSYBOX_DOCKERFILE,
    )?;
    Ok(engine)
}

fn start_kubelet(
    dir: &Path,
    pki: &Pki,
    server: &str,
    engine: &Engine,
    components: &Components,
    running: &mut Running,
) -> Result<(), ClusterError> {
    let node = &engine.node;
    let node_dir = dir.join(format!("kubelet-{node}"));
    std::fs::create_dir_all(&node_dir).map_err(|error| ClusterError::io(&node_dir, error))?;
    let certificate = format!("kubelet-{node}");
    let kubeconfig = write(
        &node_dir,
        "kubeconfig",
        &manifests::component_kubeconfig(pki, server, &certificate),
    )?;
    let config = write(
        &node_dir,
        "config.yaml",
        &manifests::kubelet_config(
            pki,
            &KubeletSettings {
                address: &engine.address,
                port: free_port()?,
                cgroup_root: &engine.cgroup_root,
                certificate: &certificate,
            },
        ),
    )?;
    running.daemons.push(daemons::start(
        dir,
        &format!("kubelet-{node}"),
        Command::new(&components.kubelet)
            .arg(format!("--config={}", config.display()))
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--root-dir={}", node_dir.join("root").display()))
            .arg(format!("--cert-dir={}", node_dir.join("pki").display()))
            .arg(format!(
                "--experimental-dockershim-root-directory={}",
                node_dir.join("dockershim").display()
            ))
            .arg("--container-runtime=docker")
            .arg(format!("--docker-endpoint={}", engine.host))
            // dockershim's own socket defaults to one path for every kubelet of the machine.
            .arg(format!(
                "--container-runtime-endpoint=unix://{}",
                node_dir.join("dockershim.sock").display()
            ))
            .arg(format!("--pod-infra-container-image={PAUSE_IMAGE}"))
            .arg(format!("--hostname-override={node}"))
            .arg(format!("--node-ip={}", engine.address))
            .arg("--v=1"),
    )?);
    Ok(())
}

impl Running {
    /// Stops every process (kubelets first, so that nothing restarts the pods), removes every
    /// container of the nodes' engines, unmounts what the kubelets mounted, removes the cgroups
    /// and bridges, and deletes the cluster directory.
    pub fn teardown(&mut self) {
        teardown(&self.dir, &mut self.daemons);
    }
}

/// Tears down the cluster in `dir` whose processes are `daemons`.
pub fn teardown(dir: &Path, daemons: &mut [Daemon]) {
    let order = |name: &str| {
        if name.starts_with("kubelet-") {
            0
        } else if name.starts_with("dockerd-") {
            2
        } else {
            3
        }
    };
    daemons.sort_by_key(|daemon| order(&daemon.name));
    let engines: Vec<String> = engine_sockets(dir);
    // Nothing of a kubelet's is worth a graceful stop: the cluster goes with it.
    for daemon in daemons.iter_mut().filter(|daemon| order(&daemon.name) == 0) {
        daemon.stop(Duration::ZERO);
    }
    if let Ok(docker) = super::components::on_path("docker") {
        for host in &engines {
            remove_containers(&docker, host);
        }
    }
    daemons::stop_all(
        daemons.iter_mut().filter(|daemon| order(&daemon.name) == 2),
        Duration::from_secs(20),
    );
    daemons::stop_all(
        daemons.iter_mut().filter(|daemon| order(&daemon.name) == 3),
        Duration::from_secs(10),
    );
    unmount_below(dir);
    for cgroup in cgroup_roots(dir) {
        remove_cgroups(&cgroup);
    }
    for bridge in bridges(dir) {
        let _ = Command::new("ip")
            .args(["link", "delete", &bridge])
            .stderr(Stdio::null())
            .status();
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn engine_sockets(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("docker.sock"))
        .filter(|socket| socket.exists())
        .map(|socket| format!("unix://{}", socket.display()))
        .collect()
}

fn remove_containers(docker: &Path, host: &str) {
    let Ok(output) = Command::new(docker)
        .args(["--host", host, "ps", "--all", "--quiet"])
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new(docker)
            .args(["--host", host, "rm", "--force", "--volumes"])
            .args(&ids)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Unmounts every mount point below `dir`, deepest first (secret and token volumes, overlay
/// layers a killed engine left).
fn unmount_below(dir: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.display().to_string();
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in points {
        let status = Command::new("umount")
            .arg(point)
            .stderr(Stdio::null())
            .status();
        if !status.is_ok_and(|status| status.success()) {
            let _ = Command::new("umount")
                .args(["-l", point])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The cgroup hierarchies of this machine (cgroup v1: one directory per controller).
fn cgroup_hierarchies() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("cgroup.procs").exists())
        .collect()
}

fn make_cgroups(root: &str) -> Result<(), ClusterError> {
    for hierarchy in cgroup_hierarchies() {
        let path = hierarchy.join(root.trim_start_matches('/'));
        std::fs::create_dir_all(&path).map_err(|error| ClusterError::io(&path, error))?;
    }
    Ok(())
}

/// A short name for the cluster in `dir`, unique on this machine: the hash of its path.
fn cluster_id(dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

fn cgroup_roots(dir: &Path) -> Vec<String> {
    let prefix = format!("ssc-{}-n", cluster_id(dir));
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup/pids") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

/// Removes cgroup `name` and everything below it in every hierarchy (directories only: a cgroup
/// is removed with rmdir once it holds no process).
fn remove_cgroups(name: &str) {
    for hierarchy in cgroup_hierarchies() {
        remove_cgroup_tree(&hierarchy.join(name));
    }
}

fn remove_cgroup_tree(path: &Path) {
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(path);
}

/// Claims a bridge of its own for a node: the first free `ssc-brN` (creating the link is the
/// claim, so clusters started at once never share one) with `10.250.N.1/24`, recorded in
/// `bridges` under the cluster directory. Answers its name and address.
fn claim_bridge(dir: &Path) -> Result<(String, String), ClusterError> {
    for index in 0..=255u16 {
        let name = format!("ssc-br{index}");
        let created = Command::new("ip")
            .args(["link", "add", "name", &name, "type", "bridge"])
            .stderr(Stdio::null())
            .status()
            .map_err(|error| ClusterError::Spawn {
                program: "ip".to_owned(),
                source: error,
            })?;
        if !created.success() {
            continue;
        }
        let mut record = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join("bridges"))
            .map_err(|error| ClusterError::io(dir, error))?;
        writeln!(record, "{name}").map_err(|error| ClusterError::io(dir, error))?;
        run_checked(
            "ip",
            &["addr", "add", &format!("10.250.{index}.1/24"), "dev", &name],
        )?;
        run_checked("ip", &["link", "set", &name, "up"])?;
        return Ok((name, format!("10.250.{index}.1")));
    }
    Err(ClusterError::Failed {
        what: "claim a bridge".to_owned(),
        detail: "ssc-br0 to ssc-br255 all exist".to_owned(),
    })
}

fn bridges(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("bridges"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn build_image(
    dir: &Path,
    components: &Components,
    host: &str,
    tag: &str,
    binary: &Path,
    file_name: &str,
    dockerfile: &str,
) -> Result<(), ClusterError> {
    let context = dir.join("images").join(file_name);
    std::fs::create_dir_all(&context).map_err(|error| ClusterError::io(&context, error))?;
    let target = context.join(file_name);
    if !target.exists() {
        std::fs::copy(binary, &target).map_err(|error| ClusterError::io(&target, error))?;
    }
    write(&context, "Dockerfile", dockerfile)?;
    let context = context.display().to_string();
    command::run(
        Command::new(&components.docker)
            .args(["--host", host, "build", "--quiet", "--tag", tag, &context])
            .env("DOCKER_BUILDKIT", "0"),
        &format!("docker build {tag}"),
        "",
    )
    .map(drop)
}

/// Merges context, cluster and user `kind-<name>` into the kubeconfig `file` and makes it current.
fn merge_kubeconfig(
    name: &str,
    file: &Path,
    pki: &Pki,
    server: &str,
    components: &Components,
) -> Result<(), ClusterError> {
    let context = format!("kind-{name}");
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(|error| ClusterError::io(parent, error))?;
    }
    let ca = format!("--certificate-authority={}", pki.cert("ca"));
    let cert = format!("--client-certificate={}", pki.cert("admin"));
    let key = format!("--client-key={}", pki.key("admin"));
    let server = format!("--server={server}");
    let cluster = format!("--cluster={context}");
    let user = format!("--user={context}");
    kubectl(
        components,
        file,
        &[
            "config",
            "set-cluster",
            &context,
            &server,
            &ca,
            "--embed-certs=true",
        ],
    )?;
    kubectl(
        components,
        file,
        &[
            "config",
            "set-credentials",
            &context,
            &cert,
            &key,
            "--embed-certs=true",
        ],
    )?;
    kubectl(
        components,
        file,
        &["config", "set-context", &context, &cluster, &user],
    )?;
    kubectl(components, file, &["config", "use-context", &context])?;
    Ok(())
}

/// Runs kubectl with `kubeconfig`, answering its standard output.
pub fn kubectl(
    components: &Components,
    kubeconfig: &Path,
    args: &[&str],
) -> Result<String, ClusterError> {
    kubectl_stdin(components, kubeconfig, args, "")
}

fn kubectl_stdin(
    components: &Components,
    kubeconfig: &Path,
    args: &[&str],
    input: &str,
) -> Result<String, ClusterError> {
    command::run(
        Command::new(&components.kubectl)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(args),
        &format!("kubectl {}", args.join(" ")),
        input,
    )
}

fn docker(components: &Components, host: &str, args: &[&str]) -> Result<String, ClusterError> {
    command::run(
        Command::new(&components.docker)
            .args(["--host", host])
            .args(args),
        &format!("docker {}", args.join(" ")),
        "",
    )
}

fn run_checked(program: &str, args: &[&str]) -> Result<(), ClusterError> {
    command::run(
        Command::new(program).args(args),
        &format!("{program} {}", args.join(" ")),
        "",
    )
    .map(drop)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, ClusterError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|error| ClusterError::io(&path, error))?;
    Ok(path)
}

/// A free loopback port (bound, then released for the component to bind).
pub fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| ClusterError::io(Path::new("127.0.0.1:0"), error))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| ClusterError::io(Path::new("127.0.0.1:0"), error))
}

/// Polls `ready` every 250 ms until it holds; fails naming `what` and the first process that
/// exited meanwhile (with the end of its log), or the timeout.
fn wait_for(
    timeout: Duration,
    what: &str,
    running: &mut Running,
    mut ready: impl FnMut() -> bool,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(index) = running
            .daemons
            .iter_mut()
            .position(|daemon| !daemon.running())
        {
            let daemon = &running.daemons[index];
            return Err(ClusterError::Exited {
                component: daemon.name.clone(),
                log_tail: log_tail(&Daemon::log(&running.dir, &daemon.name)),
            });
        }
        if Instant::now() > deadline {
            return Err(ClusterError::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                logs: running.dir.join("logs").display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The last lines of a log, for an error message.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
