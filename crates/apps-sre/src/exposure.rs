//! What `kind-config.yaml` says of its Kind cluster to the apps: the NodePorts of the app's and
//! Grafana's Services, the host URLs its port mappings give them, and its local registry.

use std::path::Path;

use cluster_gitops::kind_config::{KindConfig, KindConfigError, LoadOptions, Protocol};

/// The Kind cluster definition, relative to the repository root.
pub const KIND_CONFIG: &str = "kind-config.yaml";
/// NodePort of the application's Service on Kind.
pub const APP_NODE_PORT: i32 = 30080;
/// NodePort of Grafana's Service on Kind.
pub const GRAFANA_NODE_PORT: i32 = 30300;

/// One Service exposed on a Kind node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    /// What it is (`app`, `grafana`).
    pub what: &'static str,
    /// Its NodePort.
    pub node_port: i32,
    /// The URL on the host, when `kind-config.yaml` maps a fixed host port to the NodePort.
    pub url: Option<String>,
}

impl Exposed {
    /// Where it answers, or why it cannot be reached from the host.
    pub fn describe(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => format!(
                "not reachable from the host: {KIND_CONFIG} maps no fixed host port to NodePort {}",
                self.node_port
            ),
        }
    }
}

/// The NodePorts of a Kind cluster, with their host URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindPorts {
    /// The application.
    pub app: Exposed,
    /// Grafana.
    pub grafana: Exposed,
    /// The local registry (`localhost:5001`) images go to, when the file asks for one
    /// (`cluster-gitops create` runs it); `None`: images go to ECR.
    pub local_registry: Option<&'static str>,
}

impl KindPorts {
    /// The ports of the cluster `kind-config.yaml` under `root` describes, when `context` is that
    /// cluster's (`kind-NAME`); `None` for any other cluster, or when there is no such file.
    pub fn for_context(root: &Path, context: &str) -> Result<Option<Self>, KindConfigError> {
        let path = root.join(KIND_CONFIG);
        if !path.is_file() {
            return Ok(None);
        }
        let config = KindConfig::load(&path, LoadOptions::default())?;
        let name = config
            .name
            .as_ref()
            .map_or("kind", |name| name.value.as_str());
        Ok((context == format!("kind-{name}")).then(|| Self::of(&config)))
    }

    /// The ports `config`'s mappings give.
    pub fn of(config: &KindConfig) -> Self {
        let exposed = |what, node_port| Exposed {
            what,
            node_port,
            url: host_url(config, node_port),
        };
        Self {
            app: exposed("app", APP_NODE_PORT),
            grafana: exposed("grafana", GRAFANA_NODE_PORT),
            local_registry: cluster_gitops::registry::wanted(config)
                .then_some(cluster_gitops::registry::HOST),
        }
    }
}

/// Where `exposed` answers and whether it does now: `URL answers (HTTP 200)`, `URL does not
/// answer`, or why it cannot be reached from the host.
pub fn reachability(exposed: &Exposed) -> String {
    match &exposed.url {
        Some(url) => match http_status(url) {
            Some(code) => format!("{url} answers (HTTP {code})"),
            None => format!("{url} does not answer"),
        },
        None => exposed.describe(),
    }
}

/// The status code of `GET /` at `http://HOST:PORT`, `None` when nothing answers in time.
fn http_status(url: &str) -> Option<u16> {
    let authority = url.strip_prefix("http://")?.trim_end_matches('/');
    cluster_gitops::registry::http_status(authority, "GET", "/", "")
}

/// `http://ADDRESS:PORT` of the first TCP mapping of `node_port` to a fixed host port; a mapping
/// on every interface is reached through loopback.
fn host_url(config: &KindConfig, node_port: i32) -> Option<String> {
    let mapping = config
        .nodes
        .iter()
        .flat_map(|node| &node.extra_port_mappings)
        .find(|mapping| {
            mapping.container_port == node_port
                && mapping.protocol == Protocol::Tcp
                && mapping.host_port > 0
        })?;
    let address = match mapping.listen_address.as_deref() {
        None | Some("0.0.0.0") => "127.0.0.1",
        Some("::") => "[::1]",
        Some(address) if address.contains(':') => {
            return Some(format!("http://[{address}]:{}", mapping.host_port));
        }
        Some(address) => address,
    };
    Some(format!("http://{address}:{}", mapping.host_port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(yaml: &str) -> KindPorts {
        let config = KindConfig::parse(Path::new(KIND_CONFIG), yaml, LoadOptions::default())
            .expect("a valid kind configuration");
        KindPorts::of(&config)
    }

    #[test]
    fn the_mappings_give_the_host_urls() {
        let ports = ports(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 30080\n    hostPort: 8080\n    listenAddress: \"127.0.0.1\"\n  - containerPort: 30300\n    hostPort: 3000\n    listenAddress: \"127.0.0.1\"\n",
        );
        assert_eq!(ports.app.url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(ports.grafana.url.as_deref(), Some("http://127.0.0.1:3000"));
    }

    #[test]
    fn reachability_says_whether_the_url_answers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = [0_u8; 64];
            let _ = stream.read(&mut request);
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
                .expect("answer");
        });
        let exposed = Exposed {
            what: "app",
            node_port: APP_NODE_PORT,
            url: Some(format!("http://127.0.0.1:{port}")),
        };
        assert_eq!(
            reachability(&exposed),
            format!("http://127.0.0.1:{port} answers (HTTP 503)")
        );
        server.join().expect("server");
        // Nothing listens there any more.
        assert_eq!(
            reachability(&exposed),
            format!("http://127.0.0.1:{port} does not answer")
        );
    }

    #[test]
    fn an_unmapped_or_random_port_has_no_url_and_says_so() {
        let ports = ports(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n  extraPortMappings:\n  - containerPort: 30080\n    hostPort: 0\n    listenAddress: \"127.0.0.1\"\n",
        );
        assert_eq!(ports.app.url, None);
        assert_eq!(
            ports.grafana.describe(),
            "not reachable from the host: kind-config.yaml maps no fixed host port to NodePort 30300"
        );
    }
}
