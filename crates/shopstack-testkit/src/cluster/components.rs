//! The real components a test cluster runs and where they are found: the Kubernetes server
//! binaries built by `cargo xtask test`, etcd, dockerd, kubectl, openssl and the static binaries
//! its images are built from.

use std::path::{Path, PathBuf};

use super::ClusterError;

/// The Kubernetes version the server binaries are built from.
pub const KUBERNETES_VERSION: &str = "v1.20.2";

/// The revision of the patches `cargo xtask provision` applies to that tree (the OOM scores, the
/// newer reflect2); part of the cache key, so that a new revision rebuilds.
pub const KUBERNETES_PATCHES: &str = "p2";

/// Environment variable naming the directory of the built Kubernetes server binaries
/// (`kube-apiserver`, `kube-controller-manager`, `kube-scheduler`, `kubelet`, `pause`).
pub const KUBERNETES_VARIABLE: &str = "SHOPSTACK_TEST_KUBERNETES";

/// The Kubernetes server binaries' directory: `$SHOPSTACK_TEST_KUBERNETES`, else the tool cache
/// (`$XDG_CACHE_HOME` or `~/.cache`, then `shopstack/kubernetes-<version>-<patches>/bin`).
pub fn kubernetes_dir() -> PathBuf {
    std::env::var_os(KUBERNETES_VARIABLE)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            cache_dir()
                .join(format!(
                    "kubernetes-{KUBERNETES_VERSION}-{KUBERNETES_PATCHES}"
                ))
                .join("bin")
        })
}

/// The directory ShopStack caches built and unpacked tools in, outside any checkout.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"))
        .join("shopstack")
}

/// Every program a cluster needs, located.
#[derive(Debug, Clone)]
pub struct Components {
    /// `kube-apiserver`.
    pub apiserver: PathBuf,
    /// `kube-controller-manager`.
    pub controller_manager: PathBuf,
    /// `kube-scheduler`.
    pub scheduler: PathBuf,
    /// `kubelet`.
    pub kubelet: PathBuf,
    /// The static `pause` binary of the pod sandbox image.
    pub pause: PathBuf,
    /// `etcd`.
    pub etcd: PathBuf,
    /// `dockerd`, one per node.
    pub dockerd: PathBuf,
    /// `docker`, the client.
    pub docker: PathBuf,
    /// `kubectl`, for the cluster's own set-up (labels, the DNS stand-in).
    pub kubectl: PathBuf,
    /// A static `busybox`, the only program of the stand-in images.
    pub busybox: PathBuf,
}

impl Components {
    /// Finds every component, or names the first one missing and how to get it.
    pub fn locate() -> Result<Self, ClusterError> {
        let kubernetes = kubernetes_dir();
        let built = |name: &str| {
            let path = kubernetes.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(ClusterError::Missing {
                    component: format!("{name} {KUBERNETES_VERSION}"),
                    looked: path.display().to_string(),
                })
            }
        };
        Ok(Self {
            apiserver: built("kube-apiserver")?,
            controller_manager: built("kube-controller-manager")?,
            scheduler: built("kube-scheduler")?,
            kubelet: built("kubelet")?,
            pause: built("pause")?,
            etcd: on_path("etcd")?,
            dockerd: on_path("dockerd")?,
            docker: on_path("docker")?,
            kubectl: on_path("kubectl")?,
            busybox: ["/bin/busybox", "/usr/bin/busybox"]
                .iter()
                .map(PathBuf::from)
                .find(|path| path.is_file())
                .ok_or_else(|| ClusterError::Missing {
                    component: "busybox (static)".to_owned(),
                    looked: "/bin/busybox".to_owned(),
                })?,
        })
    }
}

/// The first `name` on PATH, or `/usr/sbin` and `/sbin` (where Debian puts dockerd).
pub fn on_path(name: &str) -> Result<PathBuf, ClusterError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| ClusterError::Missing {
            component: name.to_owned(),
            looked: "PATH".to_owned(),
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
