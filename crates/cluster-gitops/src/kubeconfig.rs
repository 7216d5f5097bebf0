//! kubeconfig files: where they live, their permissions (0600), and API clients built from them.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use thiserror::Error;

/// The only permissions a kubeconfig should have: it holds cluster-admin credentials.
pub const PRIVATE_MODE: u32 = 0o600;

/// Errors from reading, writing or using a kubeconfig.
#[derive(Debug, Error)]
pub enum KubeconfigError {
    /// Neither `KUBECONFIG` nor `HOME` says where the default kubeconfig is.
    #[error("no kubeconfig location: set KUBECONFIG or HOME, or pass --kubeconfig")]
    NoLocation,
    /// The kubeconfig could not be read or parsed.
    #[error("{what}: cannot load the kubeconfig")]
    Load {
        /// The file, or "KUBECONFIG / ~/.kube/config" for the default.
        what: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// The requested context is not in the kubeconfig.
    #[error("{what}: context \"{context}\" is not defined (defined: {})", defined.join(", "))]
    UnknownContext {
        /// The file, or the default.
        what: String,
        /// The requested context.
        context: String,
        /// The contexts the kubeconfig defines.
        defined: Vec<String>,
    },
    /// The context does not make a usable client configuration (missing cluster, bad certificate).
    #[error("{what}: context \"{context}\" is unusable")]
    Context {
        /// The file, or the default.
        what: String,
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// The client could not be built (TLS setup).
    #[error("cannot build a Kubernetes client for context \"{context}\"")]
    Client {
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The proxy for the context's server is not a URL (not shown: it may hold a password).
    #[error(
        "context \"{context}\": the proxy (the kubeconfig's proxy-url or HTTPS_PROXY) is not a URL"
    )]
    Proxy {
        /// The context.
        context: String,
    },
    /// A file's permissions could not be read or set.
    #[error("{}: cannot set mode 0600", path.display())]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A kubeconfig could not be written.
    #[error("{}: cannot write the kubeconfig", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Which kubeconfig and context to talk to.
#[derive(Debug, Clone)]
pub struct Target {
    /// An explicit kubeconfig file; `None` means `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The context to use.
    pub context: String,
}

/// A client and the server it talks to.
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: kube::Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The context it came from.
    pub context: String,
}

impl Target {
    fn describe(&self) -> String {
        match &self.kubeconfig {
            Some(path) => path.display().to_string(),
            None => match std::env::var_os("KUBECONFIG").filter(|list| !list.is_empty()) {
                Some(list) => format!("{} (KUBECONFIG)", list.to_string_lossy()),
                None => "~/.kube/config".to_owned(),
            },
        }
    }

    /// Builds a client for the context. Nothing is sent yet.
    pub async fn connect(&self) -> Result<Connection, KubeconfigError> {
        let what = self.describe();
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|source| KubeconfigError::Load {
            what: what.clone(),
            source: Box::new(source),
        })?;
        if !kubeconfig
            .contexts
            .iter()
            .any(|context| context.name == self.context)
        {
            return Err(KubeconfigError::UnknownContext {
                what,
                context: self.context.clone(),
                defined: kubeconfig
                    .contexts
                    .iter()
                    .map(|context| context.name.clone())
                    .collect(),
            });
        }
        let explicit_proxy = cluster_proxy_url(&kubeconfig, &self.context);
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|source| KubeconfigError::Context {
                what,
                context: self.context.clone(),
                source: Box::new(source),
            })?;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let host = config.cluster_url.host().unwrap_or_default().to_owned();
        let port = config.cluster_url.port_u16().unwrap_or(443);
        // kube takes HTTPS_PROXY for every server; kubectl skips it for loopback and NO_PROXY.
        config.proxy_url = crate::proxy::for_host(&host, port, explicit_proxy.as_deref(), |name| {
            std::env::var(name).ok()
        })
        .map(|url| {
            url.parse().map_err(|_| KubeconfigError::Proxy {
                context: self.context.clone(),
            })
        })
        .transpose()?;
        let client = kube::Client::try_from(config).map_err(|source| KubeconfigError::Client {
            context: self.context.clone(),
            source: Box::new(source),
        })?;
        Ok(Connection {
            client,
            server,
            context: self.context.clone(),
        })
    }
}

/// The `proxy-url` of the cluster that `context` names, when the kubeconfig sets one.
fn cluster_proxy_url(kubeconfig: &Kubeconfig, context: &str) -> Option<String> {
    let cluster = kubeconfig
        .contexts
        .iter()
        .find(|named| named.name == context)?
        .context
        .as_ref()?
        .cluster
        .clone();
    kubeconfig
        .clusters
        .iter()
        .find(|named| named.name == cluster)?
        .cluster
        .as_ref()?
        .proxy_url
        .clone()
}

/// Every kubeconfig file in use: the entries of `KUBECONFIG`, else `~/.kube/config`.
pub fn default_paths() -> Result<Vec<PathBuf>, KubeconfigError> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|list| !list.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|path| !path.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return Ok(paths);
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or(KubeconfigError::NoLocation)?;
    Ok(vec![PathBuf::from(home).join(".kube").join("config")])
}

/// The kubeconfig kind writes to: the first entry of `KUBECONFIG`, else `~/.kube/config`.
pub fn default_path() -> Result<PathBuf, KubeconfigError> {
    default_paths()?
        .into_iter()
        .next()
        .ok_or(KubeconfigError::NoLocation)
}

/// Sets mode 0600 on `path`; returns the previous mode when it was different.
pub fn harden(path: &Path) -> Result<Option<u32>, KubeconfigError> {
    let error = |source| KubeconfigError::Permissions {
        path: path.to_path_buf(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(error)?.permissions().mode() & 0o777;
    if mode == PRIVATE_MODE {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_MODE)).map_err(error)?;
    Ok(Some(mode))
}

/// A warning when `path` exists and its group or others may access it.
pub fn loose_mode_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "warning: {} has mode {mode:04o}: group or others can read cluster credentials (chmod 600 it)",
            path.display()
        )
    })
}

/// Writes `text` to `path` with mode 0600 from the first byte (parent directories created).
pub fn write_private(path: &Path, text: &str) -> Result<(), KubeconfigError> {
    let error = |source| KubeconfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_MODE)
        .open(path)
        .map_err(error)?;
    // An existing file keeps its mode through `open`: set it explicitly.
    file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))
        .map_err(error)?;
    file.write_all(text.as_bytes()).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn harden_sets_0600_and_reports_the_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(harden(&path).unwrap(), Some(0o644));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(harden(&path).unwrap(), None);
    }

    #[test]
    fn a_group_readable_file_gets_a_warning_and_a_private_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let warning = loose_mode_warning(&path).unwrap();
        assert!(warning.contains("has mode 0640"), "{warning}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(loose_mode_warning(&path), None);
        assert_eq!(loose_mode_warning(&dir.path().join("absent")), None);
    }

    #[test]
    fn write_private_replaces_a_loose_file_with_a_0600_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("kubeconfig");
        write_private(&path, "first").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&path, "second").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
    }
}
