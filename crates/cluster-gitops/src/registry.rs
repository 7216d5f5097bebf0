//! The local image registry of a Kind cluster, as kind documents it ("local registry") and ctlptl
//! runs it: a registry container on 127.0.0.1:5001 joined to the `kind` network, each node's
//! containerd pulling `localhost:5001/…` from it, and ConfigMap `kube-public/local-registry-hosting`
//! (KEP-1755) announcing it to tools.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};
use shopstack_core::command::{self, CommandError};
use thiserror::Error;
use xshell::{Shell, cmd};

use crate::FIELD_MANAGER;
use crate::kind_config::KindConfig;
use crate::kubeconfig::Connection;

/// The registry container's name (kind's), also its host name on the `kind` network.
pub const CONTAINER: &str = "kind-registry";
/// The registry image (the registry program of the Docker distribution project).
pub const IMAGE: &str = "registry:2";
/// The host port it is published on, on loopback only.
pub const HOST_PORT: u16 = 5001;
/// How images are named for it, on the host and in the cluster alike.
pub const HOST: &str = "localhost:5001";
/// The docker network of kind's nodes.
pub const KIND_NETWORK: &str = "kind";
/// Where containerd looks for per-registry hosts files, as the configuration patch tells it.
pub const CERTS_DIR: &str = "/etc/containerd/certs.d";
/// Namespace of the announcing ConfigMap (KEP-1755).
pub const HOSTING_NAMESPACE: &str = "kube-public";
/// Name of the announcing ConfigMap (KEP-1755).
pub const HOSTING_NAME: &str = "local-registry-hosting";
/// Its key (KEP-1755).
pub const HOSTING_KEY: &str = "localRegistryHosting.v1";
/// The documentation the ConfigMap points to.
pub const HELP: &str = "https://kind.sigs.k8s.io/docs/user/local-registry/";
/// How long a started registry may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors from setting up or checking the local registry.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The registry image is neither on this machine nor pullable.
    #[error(
        "the local registry needs image {IMAGE}, which docker could not get ({detail}): pull it (docker pull {IMAGE}) where a registry is reachable, or load it with docker load"
    )]
    ImageMissing {
        /// docker's message.
        detail: String,
    },
    /// Host port 5001 is taken by something else.
    #[error(
        "the local registry cannot listen on 127.0.0.1:{HOST_PORT}: {detail} (stop what holds the port)"
    )]
    PortTaken {
        /// docker's message.
        detail: String,
    },
    /// A docker or kind command could not run, or ran and failed.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The registry runs but does not answer.
    #[error(
        "the local registry runs but http://127.0.0.1:{HOST_PORT}/v2/ did not answer within {}s: see `docker logs {CONTAINER}`",
        ANSWER_TIMEOUT.as_secs()
    )]
    NotAnswering,
    /// The announcing ConfigMap could not be read or written.
    #[error("ConfigMap {HOSTING_NAMESPACE}/{HOSTING_NAME} at {server}")]
    Kube {
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Whether `config` asks for the local registry: its containerd patch points containerd at the
/// per-registry hosts files (kind's documented patch).
pub fn wanted(config: &KindConfig) -> bool {
    config
        .containerd_config_patches
        .iter()
        .any(|patch| patch.contains("config_path") && patch.contains(CERTS_DIR))
}

/// What [`ensure_running`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// It was running.
    Running,
    /// It existed, stopped, and was started.
    Restarted,
    /// It was created.
    Created,
}

impl Started {
    /// For messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Restarted => "started",
            Self::Created => "created",
        }
    }
}

/// The registry container's state: `Some(true)` running, `Some(false)` stopped, `None` absent.
pub fn container_state(sh: &Shell) -> Result<Option<bool>, RegistryError> {
    let format = "{{.State.Running}}";
    let output = docker(sh, &["inspect", "--format", format, CONTAINER])?;
    Ok(match output {
        Ok(text) => Some(text.trim() == "true"),
        Err(_) => None,
    })
}

/// Starts the registry container unless it runs: `docker start` when it exists, else
/// `docker run -d --restart=always -p 127.0.0.1:5001:5000 --name kind-registry registry:2`; then
/// waits until it answers.
pub fn ensure_running(sh: &Shell) -> Result<Started, RegistryError> {
    let started = match container_state(sh)? {
        Some(true) => Started::Running,
        Some(false) => {
            docker_ok(sh, &["start", CONTAINER])?;
            Started::Restarted
        }
        None => {
            let publish = format!("127.0.0.1:{HOST_PORT}:5000");
            let run = [
                "run",
                "--detach",
                "--restart=always",
                "--publish",
                &publish,
                "--network",
                "bridge",
                "--name",
                CONTAINER,
                IMAGE,
            ];
            match docker_ok(sh, &run) {
                Ok(_) => Started::Created,
                Err(RegistryError::Command(CommandError::Failed { detail, .. }))
                    if detail.contains("Unable to find image")
                        || detail.contains("pull access denied")
                        || detail.contains("error pulling image")
                        || detail.contains("manifest unknown")
                        || detail.contains("dial tcp")
                        || detail.contains("lookup ") =>
                {
                    // A failed run leaves a created container behind: remove it.
                    let _ = docker(sh, &["rm", "--force", CONTAINER]);
                    return Err(RegistryError::ImageMissing { detail });
                }
                Err(RegistryError::Command(CommandError::Failed { detail, .. }))
                    if detail.contains("address already in use")
                        || detail.contains("port is already allocated") =>
                {
                    let _ = docker(sh, &["rm", "--force", CONTAINER]);
                    return Err(RegistryError::PortTaken { detail });
                }
                Err(error) => return Err(error),
            }
        }
    };
    wait_answering(ANSWER_TIMEOUT)?;
    Ok(started)
}

/// Joins the registry to the `kind` network, so that nodes reach it as `kind-registry:5000`;
/// `false` when there is no such network (no kind node runs in docker).
pub fn join_kind_network(sh: &Shell) -> Result<bool, RegistryError> {
    if docker(sh, &["network", "inspect", KIND_NETWORK])?.is_err() {
        return Ok(false);
    }
    let format = format!("{{{{json .NetworkSettings.Networks.{KIND_NETWORK}}}}}");
    let joined = docker_ok(sh, &["inspect", "--format", &format, CONTAINER])?;
    if joined.trim() == "null" {
        docker_ok(sh, &["network", "connect", KIND_NETWORK, CONTAINER])?;
    }
    Ok(true)
}

/// The hosts file telling a node's containerd where `localhost:5001` images come from.
pub fn hosts_toml() -> String {
    format!("[host.\"http://{CONTAINER}:5000\"]\n")
}

/// Writes [`hosts_toml`] into every node of kind cluster `cluster` (`kind get nodes`), as kind's
/// local-registry recipe does; the number of nodes written.
pub fn configure_nodes(sh: &Shell, cluster: &str) -> Result<usize, RegistryError> {
    let listed = run_ok(
        cmd!(sh, "kind get nodes --name {cluster}"),
        format!("kind get nodes --name {cluster}"),
    )?;
    let nodes: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("No kind nodes"))
        .collect();
    let dir = format!("{CERTS_DIR}/{HOST}");
    let file = format!("{dir}/hosts.toml");
    let hosts = hosts_toml();
    for node in &nodes {
        docker_ok(sh, &["exec", node, "mkdir", "-p", &dir])?;
        run_ok(
            cmd!(sh, "docker exec -i {node} cp /dev/stdin {file}").stdin(&hosts),
            format!("docker exec -i {node} cp /dev/stdin {file}"),
        )?;
    }
    Ok(nodes.len())
}

/// Runs `command` (shown as `line`): its standard output, or an error naming it with its last
/// error line.
fn run_ok(command: xshell::Cmd<'_>, line: String) -> Result<String, RegistryError> {
    Ok(command::capture(command, &line)?.or_failed(&line, None)?)
}

/// The announcing ConfigMap's value (KEP-1755).
pub fn hosting_value() -> String {
    format!("host: \"{HOST}\"\nhelp: \"{HELP}\"\n")
}

/// Applies ConfigMap `kube-public/local-registry-hosting` (server-side, idempotent).
pub async fn announce(connection: &Connection) -> Result<(), RegistryError> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), HOSTING_NAMESPACE);
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(HOSTING_NAME.to_owned()),
            namespace: Some(HOSTING_NAMESPACE.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                FIELD_MANAGER.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(HOSTING_KEY.to_owned(), hosting_value())])),
        ..ConfigMap::default()
    };
    api.patch(
        HOSTING_NAME,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&config_map),
    )
    .await
    .map_err(|source| RegistryError::Kube {
        server: connection.server.clone(),
        source: Box::new(source),
    })?;
    Ok(())
}

/// Whether the cluster announces the registry as [`announce`] does.
pub async fn announced(connection: &Connection) -> Result<bool, RegistryError> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), HOSTING_NAMESPACE);
    let config_map = api
        .get_opt(HOSTING_NAME)
        .await
        .map_err(|source| RegistryError::Kube {
            server: connection.server.clone(),
            source: Box::new(source),
        })?;
    Ok(config_map
        .and_then(|config_map| config_map.data)
        .and_then(|mut data| data.remove(HOSTING_KEY))
        .is_some_and(|value| value == hosting_value()))
}

/// Removes the registry container and its storage; `false` when there was none.
pub fn remove(sh: &Shell) -> Result<bool, RegistryError> {
    if container_state(sh)?.is_none() {
        return Ok(false);
    }
    docker_ok(sh, &["rm", "--force", "--volumes", CONTAINER])?;
    Ok(true)
}

/// Whether the registry answers its API root (`GET /v2/` → 200) on the host port.
pub fn answers() -> bool {
    http_status(HOST, "GET", "/v2/", "") == Some(200)
}

/// Whether registry `host` (`localhost:5001`) holds image `name:tag` (`HEAD
/// /v2/NAME/manifests/TAG`); `None` when it does not answer.
pub fn holds(host: &str, name: &str, tag: &str) -> Option<bool> {
    // Docker's manifest types, as `docker push` stores them.
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json\r\n";
    match http_status(host, "HEAD", &format!("/v2/{name}/manifests/{tag}"), accept)? {
        200 => Some(true),
        404 => Some(false),
        _ => None,
    }
}

/// The status code of `METHOD PATH` at `host` (`HOST:PORT`) over plain HTTP, as a local
/// registry or a Kind port mapping serves it; `None` when nothing answers in time.
pub fn http_status(host: &str, method: &str, path: &str, headers: &str) -> Option<u16> {
    use std::net::ToSocketAddrs;
    let address: SocketAddr = host
        .to_socket_addrs()
        .ok()?
        .find(SocketAddr::is_ipv4)
        .or_else(|| host.to_socket_addrs().ok()?.next())?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).ok()?;
    if !head.starts_with(b"HTTP/1.") {
        return None;
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_answering(timeout: Duration) -> Result<(), RegistryError> {
    let started = Instant::now();
    while !answers() {
        if started.elapsed() > timeout {
            return Err(RegistryError::NotAnswering);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Runs `docker ARGS`: its standard output, or its last error line when it failed (`Err` only
/// when docker could not be run).
fn docker(sh: &Shell, args: &[&str]) -> Result<Result<String, String>, RegistryError> {
    let line = format!("docker {}", args.join(" "));
    let captured = command::capture(cmd!(sh, "docker {args...}"), &line)?;
    Ok(match captured.or_failed(&line, None) {
        Ok(stdout) => Ok(stdout),
        Err(CommandError::Failed { detail, .. }) => Err(detail),
        Err(error) => return Err(error.into()),
    })
}

/// Runs `docker ARGS`, a failure being an error naming the command.
fn docker_ok(sh: &Shell, args: &[&str]) -> Result<String, RegistryError> {
    run_ok(
        cmd!(sh, "docker {args...}"),
        format!("docker {}", args.join(" ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_file_and_the_announcement_are_kinds() {
        assert_eq!(hosts_toml(), "[host.\"http://kind-registry:5000\"]\n");
        assert_eq!(
            hosting_value(),
            "host: \"localhost:5001\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
        );
    }
}
