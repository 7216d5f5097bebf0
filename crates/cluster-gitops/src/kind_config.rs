//! `kind-config.yaml`: kind's `kind.x-k8s.io/v1alpha4` Cluster schema, decoded strictly and checked.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};
use shopstack_core::location::Location;
use thiserror::Error;

/// The only `apiVersion` kind accepts for this schema.
pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";
/// The only `kind` of a kind configuration.
pub const KIND: &str = "Cluster";

/// Errors from loading a kind configuration.
#[derive(Debug, Error)]
pub enum KindConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the kind configuration", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML of the v1alpha4 schema (syntax, unknown field, wrong type).
    #[error("{location}: {message}")]
    Decode {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// The file decodes but breaks a rule kind (or ShopStack) enforces.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Options for [`KindConfig::load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Accept an API server address or port mapping that listens off loopback.
    pub allow_public: bool,
}

/// A kind cluster configuration (`kind: Cluster`, `apiVersion: kind.x-k8s.io/v1alpha4`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KindConfig {
    /// Always `Cluster`.
    pub kind: Spanned<String>,
    /// Always `kind.x-k8s.io/v1alpha4`.
    pub api_version: Spanned<String>,
    /// Cluster name; `kind create cluster --name` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Spanned<String>>,
    /// The nodes; kind defaults an absent list to one control plane, ShopStack requires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Spanned<Vec<Node>>>,
    /// Cluster-wide network settings.
    #[serde(default)]
    pub networking: Networking,
    /// Kubernetes feature gates for every component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_gates: BTreeMap<String, bool>,
    /// `--runtime-config` values of the API server.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtime_config: BTreeMap<String, String>,
    /// Merge patches of the generated kubeadm configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeadm_config_patches: Vec<String>,
    /// RFC 6902 patches of the generated kubeadm configuration.
    #[serde(
        default,
        rename = "kubeadmConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    /// TOML merge patches of every node's containerd configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containerd_config_patches: Vec<String>,
    /// RFC 6902 patches of every node's containerd configuration.
    #[serde(
        default,
        rename = "containerdConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub containerd_config_patches_json6902: Vec<String>,
}

/// One node container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Node {
    /// Its role; kind defaults to `control-plane`.
    #[serde(default)]
    pub role: NodeRole,
    /// Node image (`kindest/node:vX.Y.Z@sha256:…`); kind's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Kubernetes labels of the node.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Host paths mounted into the node container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_mounts: Vec<Mount>,
    /// Host ports forwarded to the node container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_port_mappings: Vec<PortMapping>,
    /// GPUs passed to the node (`all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<String>,
    /// Node-level merge patches of the kubeadm configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubeadm_config_patches: Vec<String>,
    /// Node-level RFC 6902 patches of the kubeadm configuration.
    #[serde(
        default,
        rename = "kubeadmConfigPatchesJSON6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

/// The role of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    /// Runs the Kubernetes control plane.
    #[default]
    ControlPlane,
    /// Runs workloads only.
    Worker,
}

/// Cluster-wide network settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Networking {
    /// `ipv4`, `ipv6` or `dual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family: Option<IpFamily>,
    /// Host port of the API server (random when absent, `-1` lets docker pick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_port: Option<Spanned<i32>>,
    /// Host address the API server listens on; kind defaults to `127.0.0.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server_address: Option<Spanned<String>>,
    /// Pod CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_subnet: Option<String>,
    /// Service CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subnet: Option<String>,
    /// Leave the default CNI (kindnet) out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_default_cni: bool,
    /// kube-proxy mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_proxy_mode: Option<ProxyMode>,
    /// DNS search domains of the nodes (inherited from the host when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
}

/// IP family of the cluster network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// Both.
    Dual,
}

/// kube-proxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// iptables rules (kind's default).
    Iptables,
    /// IPVS.
    Ipvs,
    /// nftables rules.
    Nftables,
    /// No kube-proxy.
    None,
}

/// An RFC 6902 patch of one kubeadm object.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatchJson6902 {
    /// API group of the target.
    #[serde(default)]
    pub group: String,
    /// API version of the target.
    #[serde(default)]
    pub version: String,
    /// Kind of the target.
    #[serde(default)]
    pub kind: String,
    /// The patch, as YAML or JSON text.
    #[serde(default)]
    pub patch: String,
}

/// A host path mounted into a node container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mount {
    /// Path inside the node container.
    #[serde(default)]
    pub container_path: String,
    /// Path on the host.
    #[serde(default)]
    pub host_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Relabel for SELinux.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub selinux_relabel: bool,
    /// Mount propagation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<MountPropagation>,
}

/// Mount propagation of an extra mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum MountPropagation {
    /// Private.
    None,
    /// Host mounts propagate into the container.
    HostToContainer,
    /// Both ways.
    Bidirectional,
}

/// A host port forwarded into a node container.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PortMapping {
    /// Port inside the node container (a NodePort, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<Spanned<i32>>,
    /// Port on the host (random when absent, `-1` lets docker pick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<Spanned<i32>>,
    /// Host address to listen on; kind's default is `0.0.0.0`, every interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_address: Option<Spanned<String>>,
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

/// Protocol of a port mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum Protocol {
    /// TCP.
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        })
    }
}

impl KindConfig {
    /// Reads, decodes and checks the file at `path`.
    pub fn load(path: &Path, options: LoadOptions) -> Result<Self, KindConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| KindConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text, options)
    }

    /// Decodes and checks `text`, naming `path` in errors.
    pub fn parse(path: &Path, text: &str, options: LoadOptions) -> Result<Self, KindConfigError> {
        let config: Self =
            serde_saphyr::from_str(text).map_err(|error| decode_error(path, &error))?;
        Checker { path, options }.check(&config)?;
        Ok(config)
    }

    /// The nodes (never empty once loaded).
    pub fn nodes(&self) -> &[Node] {
        self.nodes.as_ref().map_or(&[], |nodes| &nodes.value)
    }

    /// Nodes of each role: (control planes, workers).
    pub fn node_counts(&self) -> (usize, usize) {
        let control_planes = self
            .nodes()
            .iter()
            .filter(|node| node.role == NodeRole::ControlPlane)
            .count();
        (control_planes, self.nodes().len() - control_planes)
    }

    /// `name` as written in the file, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(|name| name.value.as_str())
    }

    /// SHA-256 (hex) of the decoded configuration with the cluster name set to `cluster`: equal
    /// for files that differ only in comments, layout or quoting.
    pub fn spec_hash(&self, cluster: &str) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("name".to_owned(), cluster.into());
        }
        let digest = Sha256::digest(value.to_string().as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// A decoding error as `file:line:column: message`.
fn decode_error(path: &Path, error: &serde_saphyr::Error) -> KindConfigError {
    let plain = error.without_snippet();
    let location = plain.location();
    let mut message = plain.to_string();
    // The message ends with its own " at line L, column C"; the location prefix already says it.
    if let Some(index) = message.rfind(" at line ") {
        message.truncate(index);
    }
    KindConfigError::Decode {
        location: Location {
            file: path.to_path_buf(),
            line_column: location.map(|at| (to_usize(at.line()), to_usize(at.column()))),
        },
        message: message.trim_end().replace('\n', " "),
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Applies the rules that serde cannot express, pointing at the offending value.
struct Checker<'a> {
    path: &'a Path,
    options: LoadOptions,
}

impl Checker<'_> {
    fn at<T>(&self, spanned: &Spanned<T>) -> Location {
        Location {
            file: self.path.to_path_buf(),
            line_column: Some((
                to_usize(spanned.referenced.line()),
                to_usize(spanned.referenced.column()),
            )),
        }
    }

    fn invalid<T>(&self, spanned: &Spanned<T>, message: String) -> KindConfigError {
        KindConfigError::Invalid {
            location: self.at(spanned),
            message,
        }
    }

    fn check(&self, config: &KindConfig) -> Result<(), KindConfigError> {
        if config.api_version.value != API_VERSION {
            return Err(self.invalid(
                &config.api_version,
                format!(
                    "apiVersion: {:?} is not supported: use {API_VERSION:?}",
                    config.api_version.value
                ),
            ));
        }
        if config.kind.value != KIND {
            return Err(self.invalid(
                &config.kind,
                format!(
                    "kind: {:?} is not a kind cluster configuration: use {KIND:?}",
                    config.kind.value
                ),
            ));
        }
        let Some(nodes) = &config.nodes else {
            return Err(KindConfigError::Invalid {
                location: Location::file(self.path),
                message: "nodes: missing: list the nodes (at least one control-plane)".to_owned(),
            });
        };
        if nodes.value.is_empty() {
            return Err(self.invalid(
                nodes,
                "nodes: is empty: list at least one control-plane node".to_owned(),
            ));
        }
        if !nodes
            .value
            .iter()
            .any(|node| node.role == NodeRole::ControlPlane)
        {
            return Err(self.invalid(
                nodes,
                "nodes: has no control-plane node: kind needs at least one".to_owned(),
            ));
        }
        self.check_api_server(&config.networking)?;
        self.check_port_mappings(&nodes.value)
    }

    fn check_api_server(&self, networking: &Networking) -> Result<(), KindConfigError> {
        if let Some(port) = &networking.api_server_port
            && !(port.value == -1 || (0..=65535).contains(&port.value))
        {
            return Err(self.invalid(
                port,
                format!(
                    "networking.apiServerPort: {} is not a port (0-65535, or -1)",
                    port.value
                ),
            ));
        }
        if let Some(address) = &networking.api_server_address {
            let field = "networking.apiServerAddress";
            let ip = parse_ip(&address.value).ok_or_else(|| {
                self.invalid(
                    address,
                    format!("{field}: {:?} is not an IP address", address.value),
                )
            })?;
            if !ip.is_loopback() && !self.options.allow_public {
                return Err(self.invalid(
                    address,
                    format!(
                        "{field}: {:?} is not a loopback address: the API server would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
                        address.value
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_port_mappings(&self, nodes: &[Node]) -> Result<(), KindConfigError> {
        // (protocol, host port) → listen addresses already taken, `None` meaning every interface.
        let mut taken: BTreeMap<(Protocol, i32), Vec<PortUser>> = BTreeMap::new();
        for (node_index, node) in nodes.iter().enumerate() {
            for (index, mapping) in node.extra_port_mappings.iter().enumerate() {
                let field = format!("nodes[{node_index}].extraPortMappings[{index}]");
                let container_port =
                    mapping
                        .container_port
                        .as_ref()
                        .ok_or_else(|| KindConfigError::Invalid {
                            location: Location::file(self.path),
                            message: format!("{field}.containerPort: missing"),
                        })?;
                if !(1..=65535).contains(&container_port.value) {
                    return Err(self.invalid(
                        container_port,
                        format!(
                            "{field}.containerPort: {} is not a port (1-65535)",
                            container_port.value
                        ),
                    ));
                }
                let address = self.listen_address(mapping, &field, container_port)?;
                let Some(host_port) = &mapping.host_port else {
                    continue;
                };
                if !(host_port.value == -1 || (0..=65535).contains(&host_port.value)) {
                    return Err(self.invalid(
                        host_port,
                        format!(
                            "{field}.hostPort: {} is not a port (0-65535, or -1)",
                            host_port.value
                        ),
                    ));
                }
                if host_port.value <= 0 {
                    // 0 and -1 ask for a random port: they never collide.
                    continue;
                }
                let protocol = mapping.protocol.unwrap_or_default();
                let users = taken.entry((protocol, host_port.value)).or_default();
                let overlapping = users.iter().find(|(other, _, _)| {
                    other.is_none() || address.is_none() || *other == address
                });
                if let Some((_, other_node, other_index)) = overlapping {
                    return Err(self.invalid(
                        host_port,
                        format!(
                            "{field}.hostPort: {protocol} port {} is already mapped by nodes[{other_node}].extraPortMappings[{other_index}]",
                            host_port.value
                        ),
                    ));
                }
                users.push((address, node_index, index));
            }
        }
        Ok(())
    }

    /// The listen address of a mapping (`None`: every interface), refused off loopback unless
    /// public endpoints are allowed.
    fn listen_address(
        &self,
        mapping: &PortMapping,
        field: &str,
        container_port: &Spanned<i32>,
    ) -> Result<Option<IpAddr>, KindConfigError> {
        let Some(address) = &mapping.listen_address else {
            if self.options.allow_public {
                return Ok(None);
            }
            return Err(self.invalid(
                container_port,
                format!(
                    "{field}.listenAddress: missing, and kind then listens on 0.0.0.0 (every interface): set listenAddress: \"127.0.0.1\", or pass --allow-public"
                ),
            ));
        };
        let ip = parse_ip(&address.value).ok_or_else(|| {
            self.invalid(
                address,
                format!(
                    "{field}.listenAddress: {:?} is not an IP address",
                    address.value
                ),
            )
        })?;
        if ip.is_loopback() {
            return Ok(Some(ip));
        }
        if !self.options.allow_public {
            return Err(self.invalid(
                address,
                format!(
                    "{field}.listenAddress: {:?} is not a loopback address: the port would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
                    address.value
                ),
            ));
        }
        Ok((!ip.is_unspecified()).then_some(ip))
    }
}

/// A mapping holding a host port: its listen address (`None`: every interface), node and index.
type PortUser = (Option<IpAddr>, usize, usize);

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Host ports of every mapping, for messages (`127.0.0.1:8080→30080/TCP`).
pub fn describe_port_mappings(config: &KindConfig) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for node in config.nodes() {
        for mapping in &node.extra_port_mappings {
            let address = mapping
                .listen_address
                .as_ref()
                .map_or("0.0.0.0", |address| address.value.as_str());
            let host = mapping.host_port.as_ref().map_or(0, |port| port.value);
            let container = mapping.container_port.as_ref().map_or(0, |port| port.value);
            seen.insert(format!(
                "{address}:{host}→{container}/{}",
                mapping.protocol.unwrap_or_default()
            ));
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../kind-config.yaml");

    fn parse(text: &str) -> Result<KindConfig, String> {
        KindConfig::parse(Path::new("kind-config.yaml"), text, LoadOptions::default())
            .map_err(|error| error.to_string())
    }

    fn parse_public(text: &str) -> Result<KindConfig, String> {
        KindConfig::parse(
            Path::new("kind-config.yaml"),
            text,
            LoadOptions { allow_public: true },
        )
        .map_err(|error| error.to_string())
    }

    const HEAD: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";

    #[test]
    fn the_shipped_configuration_has_one_control_plane_one_worker_and_loopback_ports() {
        let config = parse(SHIPPED).unwrap();
        assert_eq!(config.node_counts(), (1, 1));
        assert_eq!(config.name(), Some("shopstack"));
        assert_eq!(
            describe_port_mappings(&config),
            ["127.0.0.1:3000→30300/TCP", "127.0.0.1:8080→30080/TCP"]
        );
        assert_eq!(
            config
                .networking
                .api_server_address
                .as_ref()
                .map(|a| a.value.as_str()),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let error = parse(&format!("{HEAD}nodes:\n  - role: worker\n    rol: x\n")).unwrap_err();
        assert!(
            error.starts_with("kind-config.yaml:5:5: unknown field `rol`"),
            "{error}"
        );
        assert!(!error.contains('\n'));
    }

    #[test]
    fn an_unknown_role_is_named_with_its_line() {
        let error = parse(&format!("{HEAD}nodes:\n  - role: master\n")).unwrap_err();
        assert!(
            error.starts_with("kind-config.yaml:4:11: unknown variant `master`"),
            "{error}"
        );
    }

    #[test]
    fn a_wrong_api_version_is_refused() {
        let error = parse(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\nnodes:\n  - role: control-plane\n",
        )
        .unwrap_err();
        assert_eq!(
            error,
            "kind-config.yaml:2:13: apiVersion: \"kind.x-k8s.io/v1alpha3\" is not supported: use \"kind.x-k8s.io/v1alpha4\""
        );
    }

    #[test]
    fn a_wrong_kind_is_refused() {
        let error = parse(
            "kind: Config\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n",
        )
        .unwrap_err();
        assert_eq!(
            error,
            "kind-config.yaml:1:7: kind: \"Config\" is not a kind cluster configuration: use \"Cluster\""
        );
    }

    #[test]
    fn an_empty_node_list_is_refused() {
        let error = parse(&format!("{HEAD}nodes: []\n")).unwrap_err();
        assert_eq!(
            error,
            "kind-config.yaml:3:8: nodes: is empty: list at least one control-plane node"
        );
    }

    #[test]
    fn a_missing_node_list_is_refused() {
        let error = parse(HEAD).unwrap_err();
        assert_eq!(
            error,
            "kind-config.yaml: nodes: missing: list the nodes (at least one control-plane)"
        );
    }

    #[test]
    fn workers_only_are_refused() {
        let error = parse(&format!("{HEAD}nodes:\n  - role: worker\n")).unwrap_err();
        assert_eq!(
            error,
            "kind-config.yaml:4:3: nodes: has no control-plane node: kind needs at least one"
        );
    }

    #[test]
    fn a_duplicate_host_port_is_refused_with_both_places() {
        let text = format!(
            "{HEAD}nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n  - role: worker\n    extraPortMappings:\n      - containerPort: 30081\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n"
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            "kind-config.yaml:12:19: nodes[1].extraPortMappings[0].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]"
        );
    }

    #[test]
    fn the_same_host_port_on_two_protocols_is_fine() {
        let text = format!(
            "{HEAD}nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30053\n        hostPort: 5353\n        listenAddress: 127.0.0.1\n      - containerPort: 30053\n        hostPort: 5353\n        listenAddress: 127.0.0.1\n        protocol: UDP\n"
        );
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn a_public_api_server_address_is_refused_unless_allowed() {
        let text = format!(
            "{HEAD}networking:\n  apiServerAddress: 0.0.0.0\nnodes:\n  - role: control-plane\n"
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            "kind-config.yaml:4:21: networking.apiServerAddress: \"0.0.0.0\" is not a loopback address: the API server would be reachable from the network (use 127.0.0.1, or pass --allow-public)"
        );
        assert!(parse_public(&text).is_ok());
    }

    #[test]
    fn a_public_listen_address_is_refused_unless_allowed() {
        let text = format!(
            "{HEAD}nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 192.168.1.10\n"
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            "kind-config.yaml:8:24: nodes[0].extraPortMappings[0].listenAddress: \"192.168.1.10\" is not a loopback address: the port would be reachable from the network (use 127.0.0.1, or pass --allow-public)"
        );
        assert!(parse_public(&text).is_ok());
    }

    #[test]
    fn a_missing_listen_address_means_every_interface_and_is_refused() {
        let text = format!(
            "{HEAD}nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n"
        );
        let error = parse(&text).unwrap_err();
        assert!(
            error.starts_with("kind-config.yaml:6:24: nodes[0].extraPortMappings[0].listenAddress: missing, and kind then listens on 0.0.0.0"),
            "{error}"
        );
    }

    #[test]
    fn the_spec_hash_ignores_layout_and_comments_but_not_content() {
        let config = parse(SHIPPED).unwrap();
        let reformatted = parse(
            &SHIPPED
                .lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .map(|line| line.replace('"', ""))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .unwrap();
        assert_eq!(
            config.spec_hash("shopstack"),
            reformatted.spec_hash("shopstack")
        );
        assert_eq!(config.spec_hash("shopstack").len(), 64);
        let changed = parse(&SHIPPED.replace("hostPort: 3000", "hostPort: 3001")).unwrap();
        assert_ne!(
            config.spec_hash("shopstack"),
            changed.spec_hash("shopstack")
        );
        assert_ne!(config.spec_hash("shopstack"), config.spec_hash("other"));
    }

    #[test]
    fn a_yaml_syntax_error_is_one_line_with_its_place() {
        let error = parse(&format!("{HEAD}nodes:\n  - role: [control-plane\n")).unwrap_err();
        assert!(error.starts_with("kind-config.yaml:"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}
