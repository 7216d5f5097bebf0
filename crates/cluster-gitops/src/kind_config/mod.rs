//! `kind-config.yaml`: kind's `kind.x-k8s.io/v1alpha4` Cluster, loaded, defaulted and validated as kind does, plus ShopStack's loopback rule.

// How this follows kind (see KIND_VERSION):
// - encoding/load.go: a lenient first decode reads `apiVersion` and `kind`, then a strict one
//   (go.yaml.in/yaml/v3 with KnownFields) reads the Cluster. Only the first YAML document is read,
//   unknown fields and duplicate keys are refused, and scalars convert as yaml.v3 converts them:
//   see `resolve`, `Decoder::string`, `Decoder::int32` and `Decoder::boolean`.
// - v1alpha4/types.go: the field names, exactly their yaml tags (case-sensitive), and their types.
// - v1alpha4/yaml.go: `protocol` is upper-cased, then must be TCP, UDP or SCTP; `propagation` must
//   be None, HostToContainer or Bidirectional, exactly.
// - v1alpha4/default.go: the defaults (one control plane, role control-plane, ipFamily ipv4, ...).
// - internal/apis/config/validate.go: the rules, in kind's order; the first one broken is reported
//   (kind lists them all).
// ShopStack's own rules come after kind's; each says "ShopStack" and why.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::json;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError};
use sha2::{Digest, Sha256};
use shopstack_core::location::Location;
use thiserror::Error;

mod decode;
mod document;
mod rules;
mod scalars;
#[cfg(test)]
mod tests;

use self::decode::*;
use self::document::*;
use self::rules::*;
use self::scalars::*;

/// The kind release whose configuration loader and validator this module follows: its
/// `v1alpha4` types and defaults, its YAML decoding and its validation (read at
/// v0.33.0-alpha+57, commit fed26882; those files are unchanged since v0.32.0 but for the default
/// node image).
pub const KIND_VERSION: &str = "v0.33";
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
    /// The file is not YAML of the v1alpha4 schema (syntax, unknown field, wrong type, duplicate
    /// key).
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

/// A value with the place the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line of its first character.
    pub line: usize,
    /// 1-based column of its first character.
    pub column: usize,
}

impl<T> Located<T> {
    fn at(&self) -> (usize, usize) {
        (self.line, self.column)
    }
}

/// A kind cluster configuration (`kind: Cluster`, `apiVersion: kind.x-k8s.io/v1alpha4`), with
/// kind's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct KindConfig {
    /// Always `Cluster`.
    pub kind: Located<String>,
    /// Always `kind.x-k8s.io/v1alpha4`.
    pub api_version: Located<String>,
    /// Cluster name as written (`None` when absent or empty); `kind create cluster --name`
    /// overrides it.
    pub name: Option<Located<String>>,
    /// The nodes; kind defaults an absent or empty list to one control plane.
    pub nodes: Vec<Node>,
    /// Cluster-wide network settings.
    pub networking: Networking,
    /// Kubernetes feature gates for every component (`featureGates`).
    pub feature_gates: BTreeMap<String, bool>,
    /// `--runtime-config` values of the API server (`runtimeConfig`).
    pub runtime_config: BTreeMap<String, String>,
    /// Merge patches of the generated kubeadm configuration (`kubeadmConfigPatches`).
    pub kubeadm_config_patches: Vec<String>,
    /// RFC 6902 patches of the generated kubeadm configuration (`kubeadmConfigPatchesJSON6902`).
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    /// TOML merge patches of every node's containerd configuration (`containerdConfigPatches`).
    pub containerd_config_patches: Vec<String>,
    /// RFC 6902 patches of every node's containerd configuration
    /// (`containerdConfigPatchesJSON6902`).
    pub containerd_config_patches_json6902: Vec<String>,
}

/// One node container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its role (kind's default: control-plane).
    pub role: NodeRole,
    /// Node image (`kindest/node:vX.Y.Z@sha256:…`); `None`: the default image of the kind binary.
    pub image: Option<String>,
    /// Kubernetes labels of the node.
    pub labels: BTreeMap<String, String>,
    /// Host paths mounted into the node container (`extraMounts`).
    pub extra_mounts: Vec<Mount>,
    /// Host ports forwarded to the node container (`extraPortMappings`).
    pub extra_port_mappings: Vec<PortMapping>,
    /// Node-level merge patches of the kubeadm configuration.
    pub kubeadm_config_patches: Vec<String>,
    /// Node-level RFC 6902 patches of the kubeadm configuration.
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

impl Node {
    /// kind's default node: a control plane of the default image.
    fn control_plane() -> Self {
        Self {
            role: NodeRole::ControlPlane,
            image: None,
            labels: BTreeMap::new(),
            extra_mounts: Vec::new(),
            extra_port_mappings: Vec::new(),
            kubeadm_config_patches: Vec::new(),
            kubeadm_config_patches_json6902: Vec::new(),
        }
    }
}

/// The role of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeRole {
    /// Runs the Kubernetes control plane (`control-plane`).
    #[default]
    ControlPlane,
    /// Runs workloads only (`worker`).
    Worker,
}

impl NodeRole {
    /// kind's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ControlPlane => "control-plane",
            Self::Worker => "worker",
        }
    }

    fn from_kind(text: &str) -> Option<Self> {
        [Self::ControlPlane, Self::Worker]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// Cluster-wide network settings, with kind's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networking {
    /// `ipFamily` (kind's default: ipv4).
    pub ip_family: IpFamily,
    /// Host port of the API server (`0`: a random one, `-1`: docker picks).
    pub api_server_port: i32,
    /// Host address the API server listens on, as written (`None`: kind's default, see
    /// [`Networking::api_server_address_or_default`]).
    pub api_server_address: Option<Located<String>>,
    /// Pod CIDR, or the IPv4 and IPv6 ones separated by a comma (kind's default per family).
    pub pod_subnet: String,
    /// Service CIDR, or the IPv4 and IPv6 ones separated by a comma (kind's default per family).
    pub service_subnet: String,
    /// Leave the default CNI (kindnet) out (`disableDefaultCNI`).
    pub disable_default_cni: bool,
    /// kube-proxy mode (kind's default: iptables).
    pub kube_proxy_mode: ProxyMode,
    /// DNS search domains of the nodes (`None`: inherited from the host).
    pub dns_search: Option<Vec<String>>,
}

impl Networking {
    /// The API server's host address: as written, else kind's default (`127.0.0.1`, or `::1` for
    /// an IPv6 cluster).
    pub fn api_server_address_or_default(&self) -> &str {
        self.api_server_address
            .as_ref()
            .map_or(self.ip_family.loopback(), |address| address.value.as_str())
    }
}

/// IP family of the cluster network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IpFamily {
    /// IPv4 only (`ipv4`).
    #[default]
    Ipv4,
    /// IPv6 only (`ipv6`).
    Ipv6,
    /// Both (`dual`).
    Dual,
}

impl IpFamily {
    /// kind's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Dual => "dual",
        }
    }

    fn from_kind(text: &str) -> Option<Self> {
        [Self::Ipv4, Self::Ipv6, Self::Dual]
            .into_iter()
            .find(|family| family.as_str() == text)
    }

    fn loopback(self) -> &'static str {
        if self == Self::Ipv6 {
            "::1"
        } else {
            "127.0.0.1"
        }
    }

    /// The address kind publishes a port mapping on when it has no listen address.
    fn every_interface(self) -> &'static str {
        if self == Self::Ipv6 { "::" } else { "0.0.0.0" }
    }

    fn default_pod_subnet(self) -> &'static str {
        match self {
            Self::Ipv4 => "10.244.0.0/16",
            Self::Ipv6 => "fd00:10:244::/56",
            Self::Dual => "10.244.0.0/16,fd00:10:244::/56",
        }
    }

    fn default_service_subnet(self) -> &'static str {
        match self {
            Self::Ipv4 => "10.96.0.0/16",
            Self::Ipv6 => "fd00:10:96::/112",
            Self::Dual => "10.96.0.0/16,fd00:10:96::/112",
        }
    }
}

impl std::fmt::Display for IpFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// kube-proxy mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyMode {
    /// iptables rules (`iptables`, kind's default).
    #[default]
    Iptables,
    /// IPVS (`ipvs`).
    Ipvs,
    /// nftables rules (`nftables`).
    Nftables,
    /// No kube-proxy (`none`: kind's internal API accepts it, v1alpha4 passes it through).
    None,
}

impl ProxyMode {
    /// kind's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iptables => "iptables",
            Self::Ipvs => "ipvs",
            Self::Nftables => "nftables",
            Self::None => "none",
        }
    }

    fn from_kind(text: &str) -> Option<Self> {
        [Self::Iptables, Self::Ipvs, Self::Nftables, Self::None]
            .into_iter()
            .find(|mode| mode.as_str() == text)
    }
}

/// An RFC 6902 patch of one kubeadm object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchJson6902 {
    /// API group of the target.
    pub group: String,
    /// API version of the target.
    pub version: String,
    /// Kind of the target.
    pub kind: String,
    /// The patch, as YAML or JSON text.
    pub patch: String,
}

/// A host path mounted into a node container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    /// Path inside the node container (`containerPath`).
    pub container_path: String,
    /// Path on the host (`hostPath`; kind makes a relative one absolute).
    pub host_path: String,
    /// Mount read-only (`readOnly`).
    pub read_only: bool,
    /// Relabel for SELinux (`selinuxRelabel`).
    pub selinux_relabel: bool,
    /// Mount propagation (`None`: private).
    pub propagation: Option<MountPropagation>,
}

/// Mount propagation of an extra mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountPropagation {
    /// Private (`None`).
    None,
    /// Host mounts propagate into the container (`HostToContainer`).
    HostToContainer,
    /// Both ways (`Bidirectional`).
    Bidirectional,
}

impl MountPropagation {
    /// kind's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::HostToContainer => "HostToContainer",
            Self::Bidirectional => "Bidirectional",
        }
    }

    fn from_kind(text: &str) -> Option<Self> {
        [Self::None, Self::HostToContainer, Self::Bidirectional]
            .into_iter()
            .find(|propagation| propagation.as_str() == text)
    }
}

/// A host port forwarded into a node container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port inside the node container (a NodePort, for example).
    pub container_port: i32,
    /// Port on the host (`0`: a random one, `-1`: docker picks).
    pub host_port: i32,
    /// Host address to listen on; `None`: every interface (kind publishes on `0.0.0.0`, or `::`
    /// for an IPv6 cluster).
    pub listen_address: Option<String>,
    /// The protocol (TCP when not written, as kind's docker provider defaults it).
    pub protocol: Protocol,
}

/// Protocol of a port mapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// kind's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Sctp => "SCTP",
        }
    }

    fn from_kind(text: &str) -> Option<Self> {
        [Self::Tcp, Self::Udp, Self::Sctp]
            .into_iter()
            .find(|protocol| protocol.as_str() == text)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

    /// Decodes, defaults and checks `text` as kind does (then ShopStack's rules), naming `path`
    /// in errors.
    pub fn parse(path: &Path, text: &str, options: LoadOptions) -> Result<Self, KindConfigError> {
        parse_config(text, options).map_err(|refusal| refusal.into_error(path))
    }

    /// The nodes, as kind defaults them (one control plane when the file lists none).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Nodes of each role: (control planes, workers).
    pub fn node_counts(&self) -> (usize, usize) {
        let control_planes = self
            .nodes
            .iter()
            .filter(|node| node.role == NodeRole::ControlPlane)
            .count();
        (control_planes, self.nodes.len() - control_planes)
    }

    /// `name` as written in the file, if any (kind treats an empty one as absent).
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(|name| name.value.as_str())
    }

    /// SHA-256 (hex) of the configuration as kind defaults it, with the cluster name set to
    /// `cluster`: equal for files that differ only in comments, layout, quoting or in writing a
    /// default out.
    pub fn spec_hash(&self, cluster: &str) -> String {
        let value = json!({
            "kind": self.kind.value,
            "apiVersion": self.api_version.value,
            "name": cluster,
            "nodes": self.nodes.iter().map(Node::spec).collect::<Vec<_>>(),
            "networking": self.networking.spec(),
            "featureGates": self.feature_gates,
            "runtimeConfig": self.runtime_config,
            "kubeadmConfigPatches": self.kubeadm_config_patches,
            "kubeadmConfigPatchesJSON6902": self
                .kubeadm_config_patches_json6902
                .iter()
                .map(PatchJson6902::spec)
                .collect::<Vec<_>>(),
            "containerdConfigPatches": self.containerd_config_patches,
            "containerdConfigPatchesJSON6902": self.containerd_config_patches_json6902,
        });
        let digest = Sha256::digest(value.to_string().as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl Node {
    fn spec(&self) -> serde_json::Value {
        json!({
            "role": self.role.as_str(),
            "image": self.image,
            "labels": self.labels,
            "extraMounts": self.extra_mounts.iter().map(Mount::spec).collect::<Vec<_>>(),
            "extraPortMappings": self
                .extra_port_mappings
                .iter()
                .map(PortMapping::spec)
                .collect::<Vec<_>>(),
            "kubeadmConfigPatches": self.kubeadm_config_patches,
            "kubeadmConfigPatchesJSON6902": self
                .kubeadm_config_patches_json6902
                .iter()
                .map(PatchJson6902::spec)
                .collect::<Vec<_>>(),
        })
    }
}

impl Networking {
    fn spec(&self) -> serde_json::Value {
        json!({
            "ipFamily": self.ip_family.as_str(),
            "apiServerPort": self.api_server_port,
            "apiServerAddress": self.api_server_address_or_default(),
            "podSubnet": self.pod_subnet,
            "serviceSubnet": self.service_subnet,
            "disableDefaultCNI": self.disable_default_cni,
            "kubeProxyMode": self.kube_proxy_mode.as_str(),
            "dnsSearch": self.dns_search,
        })
    }
}

impl Mount {
    fn spec(&self) -> serde_json::Value {
        json!({
            "containerPath": self.container_path,
            "hostPath": self.host_path,
            "readOnly": self.read_only,
            "selinuxRelabel": self.selinux_relabel,
            "propagation": self.propagation.map(MountPropagation::as_str),
        })
    }
}

impl PortMapping {
    fn spec(&self) -> serde_json::Value {
        json!({
            "containerPort": self.container_port,
            "hostPort": self.host_port,
            "listenAddress": self.listen_address,
            "protocol": self.protocol.as_str(),
        })
    }
}

impl PatchJson6902 {
    fn spec(&self) -> serde_json::Value {
        json!({
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
            "patch": self.patch,
        })
    }
}

/// Host ports of every mapping, for messages (`127.0.0.1:8080→30080/TCP`).
pub fn describe_port_mappings(config: &KindConfig) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for node in config.nodes() {
        for mapping in &node.extra_port_mappings {
            let address = mapping
                .listen_address
                .as_deref()
                .unwrap_or(config.networking.ip_family.every_interface());
            let host = if address.contains(':') {
                format!("[{address}]")
            } else {
                address.to_owned()
            };
            seen.insert(format!(
                "{host}:{}→{}/{}",
                mapping.host_port, mapping.container_port, mapping.protocol
            ));
        }
    }
    seen.into_iter().collect()
}

/// A problem in the file: where (1-based line and column), what, and whether the file does not
/// decode or breaks a rule.
#[derive(Debug)]
struct Refusal {
    at: (usize, usize),
    message: String,
    decoding: bool,
}

impl Refusal {
    fn decode(at: (usize, usize), message: String) -> Self {
        Self {
            at,
            message,
            decoding: true,
        }
    }

    fn invalid(at: (usize, usize), message: String) -> Self {
        Self {
            at,
            message,
            decoding: false,
        }
    }

    fn into_error(self, path: &Path) -> KindConfigError {
        let location = Location {
            file: path.to_path_buf(),
            line_column: Some(self.at),
        };
        // One line, whatever the parser said.
        let message = self.message.replace(['\n', '\r'], " ");
        if self.decoding {
            KindConfigError::Decode { location, message }
        } else {
            KindConfigError::Invalid { location, message }
        }
    }
}

fn invalid<T>(at: &Located<T>, message: String) -> Refusal {
    Refusal::invalid(at.at(), message)
}

/// `field` as written, which must be `expected`: missing (or empty) is refused at `start`, another
/// value where it is written, saying it `is_not`.
fn required(
    written: Option<Located<String>>,
    start: (usize, usize),
    field: &str,
    expected: &str,
    is_not: &str,
) -> Result<Located<String>, Refusal> {
    match written.filter(|written| !written.value.is_empty()) {
        None => Err(Refusal::invalid(
            start,
            format!("{field}: missing: use {expected:?}"),
        )),
        Some(written) if written.value != expected => Err(invalid(
            &written,
            format!("{field}: {:?} {is_not}: use {expected:?}", written.value),
        )),
        Some(written) => Ok(written),
    }
}

fn parse_config(text: &str, options: LoadOptions) -> Result<KindConfig, Refusal> {
    let document = read_document(text)?;
    let root = document.root.as_ref();
    let start = root.map_or((1, 1), YNode::at);
    let mut decoder = Decoder::new(document.size);
    // load.go decides by apiVersion and kind, read leniently, before decoding anything else.
    let (kind, api_version) = decoder.type_meta(root)?;
    let api_version = required(
        api_version,
        start,
        "apiVersion",
        API_VERSION,
        "is not supported",
    )?;
    let kind = required(
        kind,
        start,
        "kind",
        KIND,
        "is not a kind cluster configuration",
    )?;
    let raw = match root {
        Some(root) => decoder.cluster(root)?,
        None => RawCluster::default(),
    };
    build(raw, kind, api_version, options)
}
