//! Kubernetes API clients built from a kubeconfig file and context.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use thiserror::Error;

/// Errors from building a Kubernetes client.
#[derive(Debug, Error)]
pub enum KubeClientError {
    /// The kubeconfig could not be read or parsed.
    #[error("{what}: cannot load the kubeconfig")]
    Load {
        /// The file, or the default location.
        what: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// The requested context is not in the kubeconfig.
    #[error("{what}: context \"{context}\" is not defined (defined: {})", defined.join(", "))]
    UnknownContext {
        /// The file, or the default location.
        what: String,
        /// The requested context.
        context: String,
        /// The contexts the kubeconfig defines.
        defined: Vec<String>,
    },
    /// The context does not make a usable client configuration.
    #[error("{what}: context \"{context}\" is unusable")]
    Context {
        /// The file, or the default location.
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
}

/// Which kubeconfig and context to talk to.
#[derive(Debug, Clone)]
pub struct KubeTarget {
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
}

impl KubeTarget {
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
    pub async fn connect(&self) -> Result<Connection, KubeClientError> {
        let what = self.describe();
        let kubeconfig = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .map_err(|source| KubeClientError::Load {
            what: what.clone(),
            source: Box::new(source),
        })?;
        if !kubeconfig
            .contexts
            .iter()
            .any(|context| context.name == self.context)
        {
            return Err(KubeClientError::UnknownContext {
                what,
                context: self.context.clone(),
                defined: kubeconfig
                    .contexts
                    .iter()
                    .map(|context| context.name.clone())
                    .collect(),
            });
        }
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|source| KubeClientError::Context {
                what,
                context: self.context.clone(),
                source: Box::new(source),
            })?;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client = kube::Client::try_from(config).map_err(|source| KubeClientError::Client {
            context: self.context.clone(),
            source: Box::new(source),
        })?;
        Ok(Connection { client, server })
    }
}
