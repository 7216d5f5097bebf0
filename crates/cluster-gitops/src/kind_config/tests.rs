//! kind's rules as a table of configurations, and the loader's other behaviours.

use super::*;

const SHIPPED: &str = include_str!("../../../../kind-config.yaml");

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

/// `HEAD` and then `body`, which starts on line 3.
fn doc(body: &str) -> String {
    format!("{HEAD}{body}")
}

/// What a case of the table expects.
enum Want {
    /// kind loads it (and so does ShopStack).
    Accepted,
    /// kind loads it, and the loaded configuration has this property.
    AcceptedWith(&'static str, fn(&KindConfig) -> bool),
    /// Refused with exactly this one line.
    Refused(&'static str),
}
use Want::{Accepted, AcceptedWith, Refused};

/// One control plane of kind's default image, nothing else.
fn one_default_control_plane(config: &KindConfig) -> bool {
    config.nodes() == [Node::control_plane()]
}

fn first_mapping(config: &KindConfig) -> &PortMapping {
    &config.nodes()[0].extra_port_mappings[0]
}

/// A control plane with one port mapping of these extra lines (indented under the mapping).
fn mapping(extra: &str) -> String {
    doc(&format!(
        "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        listenAddress: 127.0.0.1\n{extra}"
    ))
}

/// Every case is a rule of kind v0.33 (types.go, default.go, yaml.go, validate.go, load.go)
/// or of ShopStack (marked so).
#[allow(clippy::too_many_lines)]
fn kind_cases() -> Vec<(&'static str, String, Want)> {
    vec![
        // load.go and default.go: the minimal configurations.
        (
            "kind's valid-minimal: no nodes is one control plane",
            doc(""),
            AcceptedWith("one default control plane", one_default_control_plane),
        ),
        (
            "an empty node list is one control plane",
            doc("nodes: []\n"),
            AcceptedWith("one default control plane", one_default_control_plane),
        ),
        (
            "a null node list is one control plane",
            doc("nodes:\n"),
            AcceptedWith("one default control plane", one_default_control_plane),
        ),
        (
            "a null node is dropped, as yaml.v3 drops it",
            doc("nodes:\n  -\n  - role: worker\n  - role: control-plane\n"),
            AcceptedWith("(1, 1) nodes", |c| c.node_counts() == (1, 1)),
        ),
        (
            "role \"\" defaults to control-plane",
            doc("nodes:\n  - role: \"\"\n"),
            AcceptedWith("a control plane", |c| {
                c.nodes()[0].role == NodeRole::ControlPlane
            }),
        ),
        (
            "an absent role defaults to control-plane",
            doc("nodes:\n  - labels: {tier: web}\n"),
            AcceptedWith("a labelled control plane", |c| {
                c.nodes()[0].role == NodeRole::ControlPlane && c.nodes()[0].labels["tier"] == "web"
            }),
        ),
        (
            "an empty image is kind's default image",
            doc("nodes:\n  - image: \"\"\n"),
            AcceptedWith("no image", |c| c.nodes()[0].image.is_none()),
        ),
        (
            "kind's valid-minimal-two-nodes",
            doc("nodes:\n- role: control-plane\n- role: worker\n"),
            AcceptedWith("(1, 1) nodes", |c| c.node_counts() == (1, 1)),
        ),
        (
            "kind's valid-full-ha",
            doc(
                "nodes:\n- role: control-plane\n- role: control-plane\n- role: control-plane\n- role: worker\n- role: worker\n- role: worker\n",
            ),
            AcceptedWith("(3, 3) nodes", |c| c.node_counts() == (3, 3)),
        ),
        (
            "the defaults of an IPv4 cluster",
            doc(""),
            AcceptedWith(
                "ipv4, 127.0.0.1, 10.244.0.0/16, 10.96.0.0/16, iptables",
                |c| {
                    let n = &c.networking;
                    n.ip_family == IpFamily::Ipv4
                        && n.api_server_address_or_default() == "127.0.0.1"
                        && n.pod_subnet == "10.244.0.0/16"
                        && n.service_subnet == "10.96.0.0/16"
                        && n.kube_proxy_mode == ProxyMode::Iptables
                        && n.api_server_port == 0
                        && n.dns_search.is_none()
                },
            ),
        ),
        (
            "the defaults of an IPv6 cluster",
            doc("networking:\n  ipFamily: ipv6\n"),
            AcceptedWith("::1, fd00:10:244::/56, fd00:10:96::/112", |c| {
                let n = &c.networking;
                n.api_server_address_or_default() == "::1"
                    && n.pod_subnet == "fd00:10:244::/56"
                    && n.service_subnet == "fd00:10:96::/112"
            }),
        ),
        (
            "the defaults of a dual-stack cluster",
            doc("networking:\n  ipFamily: dual\n"),
            AcceptedWith("both families' subnets", |c| {
                c.networking.pod_subnet == "10.244.0.0/16,fd00:10:244::/56"
                    && c.networking.service_subnet == "10.96.0.0/16,fd00:10:96::/112"
            }),
        ),
        // types.go: every field of Cluster, by its yaml tag.
        (
            "every Cluster field",
            doc(concat!(
                "name: shop\n",
                "nodes:\n  - role: control-plane\n",
                "networking:\n  ipFamily: ipv4\n  apiServerPort: 6443\n  apiServerAddress: 127.0.0.1\n  podSubnet: 10.240.0.0/16\n  serviceSubnet: 10.90.0.0/16\n  disableDefaultCNI: true\n  kubeProxyMode: ipvs\n  dnsSearch: [example.com]\n",
                "featureGates:\n  AllBeta: false\n",
                "runtimeConfig:\n  api/alpha: \"false\"\n",
                "kubeadmConfigPatches:\n  - |\n    kind: ClusterConfiguration\n",
                "kubeadmConfigPatchesJSON6902:\n  - group: kubeadm.k8s.io\n    version: v1beta3\n    kind: ClusterConfiguration\n    patch: |\n      - op: add\n        path: /apiServer/certSANs/-\n        value: my-hostname\n",
                "containerdConfigPatches:\n  - |-\n    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n",
                "containerdConfigPatchesJSON6902:\n  - '[{\"op\": \"remove\", \"path\": \"/version\"}]'\n",
            )),
            AcceptedWith("every value", |c| {
                let n = &c.networking;
                c.name() == Some("shop")
                    && n.api_server_port == 6443
                    && n.pod_subnet == "10.240.0.0/16"
                    && n.service_subnet == "10.90.0.0/16"
                    && n.disable_default_cni
                    && n.kube_proxy_mode == ProxyMode::Ipvs
                    && n.dns_search.as_deref() == Some(&["example.com".to_owned()][..])
                    && !c.feature_gates["AllBeta"]
                    && c.runtime_config["api/alpha"] == "false"
                    && c.kubeadm_config_patches == ["kind: ClusterConfiguration\n"]
                    && c.kubeadm_config_patches_json6902[0].kind == "ClusterConfiguration"
                    && c.kubeadm_config_patches_json6902[0]
                        .patch
                        .starts_with("- op: add\n")
                    && c.containerd_config_patches.len() == 1
                    && c.containerd_config_patches_json6902.len() == 1
            }),
        ),
        // types.go: every field of Node, Mount, PortMapping and PatchJSON6902.
        (
            "every Node, Mount, PortMapping and PatchJSON6902 field",
            doc(concat!(
                "nodes:\n  - role: worker\n  - role: control-plane\n    image: kindest/node:v1.35.0\n    labels:\n      tier: web\n",
                "    extraMounts:\n      - containerPath: /data\n        hostPath: ./data\n        readOnly: true\n        selinuxRelabel: true\n        propagation: HostToContainer\n",
                "    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n        protocol: TCP\n",
                "    kubeadmConfigPatches:\n      - \"kind: JoinConfiguration\"\n",
                "    kubeadmConfigPatchesJSON6902:\n      - group: kubelet.config.k8s.io\n        version: v1beta1\n        kind: KubeletConfiguration\n        patch: \"[]\"\n",
            )),
            AcceptedWith("every value", |c| {
                let node = &c.nodes()[1];
                let mount = &node.extra_mounts[0];
                node.image.as_deref() == Some("kindest/node:v1.35.0")
                    && node.labels["tier"] == "web"
                    && *mount
                        == Mount {
                            container_path: "/data".into(),
                            host_path: "./data".into(),
                            read_only: true,
                            selinux_relabel: true,
                            propagation: Some(MountPropagation::HostToContainer),
                        }
                    && node.extra_port_mappings
                        == [PortMapping {
                            container_port: 30080,
                            host_port: 8080,
                            listen_address: Some("127.0.0.1".into()),
                            protocol: Protocol::Tcp,
                        }]
                    && node.kubeadm_config_patches == ["kind: JoinConfiguration"]
                    && node.kubeadm_config_patches_json6902[0].group == "kubelet.config.k8s.io"
            }),
        ),
        (
            "kind's disableDefaultCNI",
            doc("networking:\n  disableDefaultCNI: true\n"),
            AcceptedWith("no default CNI", |c| c.networking.disable_default_cni),
        ),
        (
            "serde's disableDefaultCni is not kind's field",
            doc("networking:\n  disableDefaultCni: true\n"),
            Refused(
                "kind-config.yaml:4:3: unknown field `disableDefaultCni` in networking: kind's field is `disableDefaultCNI` (field names are case-sensitive)",
            ),
        ),
        (
            "kubeadmConfigPatchesJson6902 is not kind's field",
            doc("kubeadmConfigPatchesJson6902: []\n"),
            Refused(
                "kind-config.yaml:3:1: unknown field `kubeadmConfigPatchesJson6902`: kind's field is `kubeadmConfigPatchesJSON6902` (field names are case-sensitive)",
            ),
        ),
        (
            "seLinuxRelabel is not kind's field",
            doc(
                "nodes:\n  - extraMounts:\n      - hostPath: /tmp\n        containerPath: /data\n        seLinuxRelabel: true\n",
            ),
            Refused(
                "kind-config.yaml:7:9: unknown field `seLinuxRelabel` in nodes[0].extraMounts[0]: kind's field is `selinuxRelabel` (field names are case-sensitive)",
            ),
        ),
        (
            "kind's Node has no gpus",
            doc("nodes:\n  - role: control-plane\n    gpus: all\n"),
            Refused(
                "kind-config.yaml:5:5: unknown field `gpus` in nodes[0], expected one of role, image, labels, extraMounts, extraPortMappings, kubeadmConfigPatches, kubeadmConfigPatchesJSON6902",
            ),
        ),
        (
            "kind's invalid-bad-indent: role in a port mapping",
            doc(
                "nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n      - role: worker\n",
            ),
            Refused(
                "kind-config.yaml:9:9: unknown field `role` in nodes[0].extraPortMappings[1], expected one of containerPort, hostPort, listenAddress, protocol",
            ),
        ),
        (
            "PatchJSON6902 has no name any more",
            doc(
                "kubeadmConfigPatchesJSON6902:\n  - group: kubeadm.k8s.io\n    version: v1beta3\n    kind: ClusterConfiguration\n    name: config\n    patch: \"[]\"\n",
            ),
            Refused(
                "kind-config.yaml:7:5: unknown field `name` in kubeadmConfigPatchesJSON6902[0], expected one of group, version, kind, patch",
            ),
        ),
        (
            "an unknown top-level field",
            doc("node:\n  - role: worker\n"),
            Refused(
                "kind-config.yaml:3:1: unknown field `node`, expected one of kind, apiVersion, name, nodes, networking, featureGates, runtimeConfig, kubeadmConfigPatches, kubeadmConfigPatchesJSON6902, containerdConfigPatches, containerdConfigPatchesJSON6902",
            ),
        ),
        // yaml.go: protocol is upper-cased; propagation is exact.
        (
            "protocol udp is kind's UDP",
            mapping("        hostPort: 5353\n        protocol: udp\n"),
            AcceptedWith("UDP", |c| first_mapping(c).protocol == Protocol::Udp),
        ),
        (
            "protocol Sctp is kind's SCTP",
            mapping("        protocol: Sctp\n"),
            AcceptedWith("SCTP", |c| first_mapping(c).protocol == Protocol::Sctp),
        ),
        (
            "an empty protocol is TCP",
            mapping("        protocol: \"\"\n"),
            AcceptedWith("TCP", |c| first_mapping(c).protocol == Protocol::Tcp),
        ),
        (
            "protocol quic is none of kind's",
            mapping("        protocol: quic\n"),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[0].protocol: \"quic\" is not a protocol: kind's are TCP, UDP and SCTP (in any case)",
            ),
        ),
        (
            "propagation Bidirectional",
            doc(
                "nodes:\n  - extraMounts:\n      - {hostPath: /tmp, containerPath: /data, propagation: Bidirectional}\n",
            ),
            AcceptedWith("Bidirectional", |c| {
                c.nodes()[0].extra_mounts[0].propagation == Some(MountPropagation::Bidirectional)
            }),
        ),
        (
            "propagation None",
            doc(
                "nodes:\n  - extraMounts:\n      - {hostPath: /tmp, containerPath: /data, propagation: None}\n",
            ),
            AcceptedWith("None", |c| {
                c.nodes()[0].extra_mounts[0].propagation == Some(MountPropagation::None)
            }),
        ),
        (
            "propagation none is not kind's None",
            doc(
                "nodes:\n  - extraMounts:\n      - hostPath: /tmp\n        containerPath: /data\n        propagation: none\n",
            ),
            Refused(
                "kind-config.yaml:7:22: nodes[0].extraMounts[0].propagation: \"none\" is not a mount propagation: kind's are None, HostToContainer and Bidirectional",
            ),
        ),
        // validate.go: ipFamily and kubeProxyMode are compared exactly.
        (
            "ipFamily IPv6 is not kind's ipv6",
            doc("networking:\n  ipFamily: IPv6\n"),
            Refused(
                "kind-config.yaml:4:13: networking.ipFamily: \"IPv6\" is not an IP family: kind's are ipv4, ipv6 and dual",
            ),
        ),
        (
            "kind's bogus ipFamily",
            doc("networking:\n  ipFamily: ds\n"),
            Refused(
                "kind-config.yaml:4:13: networking.ipFamily: \"ds\" is not an IP family: kind's are ipv4, ipv6 and dual",
            ),
        ),
        (
            "kubeProxyMode nftables",
            doc("networking:\n  kubeProxyMode: nftables\n"),
            AcceptedWith("nftables", |c| {
                c.networking.kube_proxy_mode == ProxyMode::Nftables
            }),
        ),
        (
            "kubeProxyMode none",
            doc("networking:\n  kubeProxyMode: none\n"),
            AcceptedWith("none", |c| c.networking.kube_proxy_mode == ProxyMode::None),
        ),
        (
            "kubeProxyMode IPVS is not kind's ipvs",
            doc("networking:\n  kubeProxyMode: IPVS\n"),
            Refused(
                "kind-config.yaml:4:18: networking.kubeProxyMode: \"IPVS\" is not a kube-proxy mode: kind's are iptables, ipvs, nftables and none",
            ),
        ),
        // validate.go: subnets.
        (
            "a prefix of 33 is not a CIDR",
            doc("networking:\n  podSubnet: 10.0.0.0/33\n"),
            Refused("kind-config.yaml:4:14: networking.podSubnet: \"10.0.0.0/33\" is not a CIDR"),
        ),
        (
            "an address without prefix is not a CIDR",
            doc("networking:\n  podSubnet: 10.244.0.0\n"),
            Refused("kind-config.yaml:4:14: networking.podSubnet: \"10.244.0.0\" is not a CIDR"),
        ),
        (
            "kind's bogus serviceSubnet",
            doc("networking:\n  serviceSubnet: aa\n"),
            Refused("kind-config.yaml:4:18: networking.serviceSubnet: \"aa\" is not a CIDR"),
        ),
        (
            "a trailing comma leaves an empty CIDR",
            doc("networking:\n  podSubnet: 10.244.0.0/16,\n"),
            Refused(
                "kind-config.yaml:4:14: networking.podSubnet: \"10.244.0.0/16,\": \"\" is not a CIDR",
            ),
        ),
        (
            "a host address in a CIDR is fine",
            doc("networking:\n  podSubnet: 10.244.0.1/16\n"),
            Accepted,
        ),
        (
            "an IPv6 pod subnet in an IPv4 cluster",
            doc("networking:\n  podSubnet: fd00:1::/64\n"),
            Refused(
                "kind-config.yaml:4:14: networking.podSubnet: \"fd00:1::/64\" is an IPv6 CIDR, but ipFamily is ipv4 (kind's default)",
            ),
        ),
        (
            "an IPv4 service subnet in an IPv6 cluster",
            doc("networking:\n  ipFamily: ipv6\n  serviceSubnet: 10.96.0.0/16\n"),
            Refused(
                "kind-config.yaml:5:18: networking.serviceSubnet: \"10.96.0.0/16\" is an IPv4 CIDR, but ipFamily is ipv6",
            ),
        ),
        (
            "kind's invalid number of podSubnet",
            doc("networking:\n  podSubnet: 192.168.0.2/24,2.2.2.0/24\n"),
            Refused(
                "kind-config.yaml:4:14: networking.podSubnet: \"192.168.0.2/24,2.2.2.0/24\" has 2 CIDRs, but ipFamily is ipv4 (kind's default): single-stack takes one",
            ),
        ),
        (
            "kind's valid dual stack podSubnet and serviceSubnet",
            doc(
                "networking:\n  ipFamily: dual\n  podSubnet: 192.168.0.2/24,fd00:1::/25\n  serviceSubnet: 192.168.0.2/24,fd00:1::/25\n",
            ),
            Accepted,
        ),
        (
            "kind's valid dual stack podSubnet and single stack serviceSubnet",
            doc(
                "networking:\n  ipFamily: dual\n  podSubnet: 192.168.0.2/24,fd00:1::/25\n  serviceSubnet: 192.168.0.2/24\n",
            ),
            Accepted,
        ),
        (
            "a dual stack with one IPv6 CIDR is fine",
            doc("networking:\n  ipFamily: dual\n  podSubnet: fd00:1::/56\n"),
            Accepted,
        ),
        (
            "kind's bad dual stack podSubnet",
            doc("networking:\n  ipFamily: dual\n  podSubnet: 192.168.0.2/24,2.2.2.0/25\n"),
            Refused(
                "kind-config.yaml:5:14: networking.podSubnet: \"192.168.0.2/24,2.2.2.0/25\" are both IPv4: ipFamily dual takes one CIDR, or one IPv4 and one IPv6",
            ),
        ),
        (
            "kind's invalid dual stack multiple serviceSubnet",
            doc(
                "networking:\n  ipFamily: dual\n  serviceSubnet: 192.168.0.2/24,fd00:1::/25,10.0.0.0/16\n",
            ),
            Refused(
                "kind-config.yaml:5:18: networking.serviceSubnet: \"192.168.0.2/24,fd00:1::/25,10.0.0.0/16\" has 3 CIDRs: ipFamily dual takes one CIDR, or one IPv4 and one IPv6",
            ),
        ),
        // validate.go: ports.
        (
            "apiServerPort -1 lets docker pick",
            doc("networking:\n  apiServerPort: -1\n"),
            Accepted,
        ),
        (
            "kind's bogus apiServerPort",
            doc("networking:\n  apiServerPort: 9999999\n"),
            Refused(
                "kind-config.yaml:4:18: networking.apiServerPort: 9999999 is not a port (0-65535, or -1)",
            ),
        ),
        (
            "apiServerPort -2",
            doc("networking:\n  apiServerPort: -2\n"),
            Refused(
                "kind-config.yaml:4:18: networking.apiServerPort: -2 is not a port (0-65535, or -1)",
            ),
        ),
        (
            "a quoted apiServerPort is a string",
            doc("networking:\n  apiServerPort: \"6443\"\n"),
            Refused(
                "kind-config.yaml:4:18: networking.apiServerPort: expected an integer, found the string \"6443\" (write 6443 without quotes)",
            ),
        ),
        (
            "a quoted hostPort is a string",
            mapping("        hostPort: \"8080\"\n"),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[0].hostPort: expected an integer, found the string \"8080\" (write 8080 without quotes)",
            ),
        ),
        (
            "a boolean hostPort",
            mapping("        hostPort: true\n"),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[0].hostPort: expected an integer, found true (a boolean)",
            ),
        ),
        (
            "a hostPort beyond int32",
            mapping("        hostPort: 99999999999\n"),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[0].hostPort: 99999999999 is out of range of kind's 32-bit integer",
            ),
        ),
        (
            "yaml.v3 reads 0x1F90 as 8080",
            mapping("        hostPort: 0x1F90\n"),
            AcceptedWith("host port 8080", |c| first_mapping(c).host_port == 8080),
        ),
        (
            "yaml.v3 truncates 8080.9 to 8080",
            mapping("        hostPort: 8080.9\n"),
            AcceptedWith("host port 8080", |c| first_mapping(c).host_port == 8080),
        ),
        (
            "kind's invalid HostPort",
            mapping("        hostPort: 65536\n"),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[0].hostPort: 65536 is not a port (0-65535, or -1)",
            ),
        ),
        (
            "kind's invalid ContainerPort",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 999999999\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:5:24: nodes[0].extraPortMappings[0].containerPort: 999999999 is not a port (1-65535)",
            ),
        ),
        (
            "kind's multiple random HostPort",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, listenAddress: 127.0.0.1}\n      - {containerPort: 443, listenAddress: 127.0.0.1}\n",
            ),
            Accepted,
        ),
        (
            "kind's multiple random -1 HostPort",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: -1, listenAddress: 127.0.0.1}\n      - {containerPort: 443, hostPort: -1, listenAddress: 127.0.0.1}\n",
            ),
            Accepted,
        ),
        (
            "ShopStack: a mapping needs its containerPort",
            doc(
                "nodes:\n  - extraPortMappings:\n      - hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:5:9: nodes[0].extraPortMappings[0].containerPort: missing: set the port inside the node (1-65535)",
            ),
        ),
        (
            "ShopStack: containerPort 0 forwards nothing",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 0\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:5:24: nodes[0].extraPortMappings[0].containerPort: 0 is not a port (1-65535)",
            ),
        ),
        // validate.go: listen addresses and duplicate mappings.
        (
            "listenAddress [::1] is not an IP address",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: \"[::1]\"\n",
            ),
            Refused(
                "kind-config.yaml:7:24: nodes[0].extraPortMappings[0].listenAddress: \"[::1]\" is not an IP address: write ::1, without brackets",
            ),
        ),
        (
            "kind's invalid listen address",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: not-an-ip\n",
            ),
            Refused(
                "kind-config.yaml:7:24: nodes[0].extraPortMappings[0].listenAddress: \"not-an-ip\" is not an IP address",
            ),
        ),
        (
            "listenAddress ::1",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: ::1\n",
            ),
            Accepted,
        ),
        (
            "an IPv4-mapped loopback is loopback",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: ::ffff:127.0.0.1\n",
            ),
            Accepted,
        ),
        (
            "kind's exact duplicate port mappings",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 80\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n      - containerPort: 81\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:9:19: nodes[0].extraPortMappings[1].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
            ),
        ),
        (
            "kind's subset already configured: 0.0.0.0 after 127.0.0.1",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 80\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n      - containerPort: 81\n        hostPort: 8080\n        listenAddress: 0.0.0.0\n",
            ),
            Refused(
                "kind-config.yaml:9:19: nodes[0].extraPortMappings[1].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
            ),
        ),
        (
            "kind's unique port mappings: same port, two protocols",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1, protocol: UDP}\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1, protocol: TCP}\n",
            ),
            Accepted,
        ),
        (
            "kind's unique port mappings: 127.0.0.1 and ::1",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1}\n      - {containerPort: 80, hostPort: 8080, listenAddress: \"::1\"}\n",
            ),
            Accepted,
        ),
        (
            "ShopStack: a host port on two nodes (docker refuses it)",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1}\n  - role: worker\n    extraPortMappings:\n      - containerPort: 81\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:9:19: nodes[1].extraPortMappings[0].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
            ),
        ),
        (
            "ShopStack: an unset protocol is TCP (kind compares them as written)",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1, protocol: TCP}\n      - containerPort: 81\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:7:19: nodes[0].extraPortMappings[1].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
            ),
        ),
        (
            "ShopStack: the API server's host port is taken",
            doc(
                "networking:\n  apiServerPort: 8080\nnodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Refused(
                "kind-config.yaml:8:19: nodes[0].extraPortMappings[0].hostPort: TCP port 8080 is already mapped by networking.apiServerPort",
            ),
        ),
        // validate.go: roles, control planes, name.
        (
            "kind's missing control-plane",
            doc("nodes:\n  - role: worker\n"),
            Refused(
                "kind-config.yaml:4:3: nodes: has no control-plane node: kind needs at least one",
            ),
        ),
        (
            "kind's bogus node role",
            doc("nodes:\n  - role: master\n"),
            Refused(
                "kind-config.yaml:4:11: nodes[0].role: \"master\" is not a node role: kind's are control-plane and worker",
            ),
        ),
        (
            "roles are exact",
            doc("nodes:\n  - role: Worker\n"),
            Refused(
                "kind-config.yaml:4:11: nodes[0].role: \"Worker\" is not a node role: kind's are control-plane and worker",
            ),
        ),
        (
            "a cluster name of kind's characters",
            doc("name: shop.1-a\n"),
            AcceptedWith("the name", |c| c.name() == Some("shop.1-a")),
        ),
        (
            "an empty name is no name",
            doc("name: \"\"\n"),
            AcceptedWith("no name", |c| c.name().is_none()),
        ),
        (
            "kind's cluster name pattern",
            doc("name: Shop\n"),
            Refused(
                "kind-config.yaml:3:7: name: \"Shop\" is not a valid cluster name: kind's names match ^[a-z0-9.-]+$",
            ),
        ),
        // load.go: strict yaml.v3.
        (
            "a duplicate top-level key",
            doc("nodes: []\nnodes: []\n"),
            Refused("kind-config.yaml:4:1: mapping key \"nodes\" already defined at line 3"),
        ),
        (
            "a duplicate nested key",
            doc("networking:\n  podSubnet: 10.244.0.0/16\n  podSubnet: 10.245.0.0/16\n"),
            Refused(
                "kind-config.yaml:5:3: networking: mapping key \"podSubnet\" already defined at line 4",
            ),
        ),
        (
            "a duplicate label",
            doc("nodes:\n  - labels:\n      tier: web\n      tier: db\n"),
            Refused(
                "kind-config.yaml:6:7: nodes[0].labels: mapping key \"tier\" already defined at line 5",
            ),
        ),
        (
            "nodes as a mapping",
            doc("nodes:\n  role: worker\n"),
            Refused("kind-config.yaml:4:3: nodes: expected a list, found a mapping"),
        ),
        (
            "a node as a string",
            doc("nodes:\n  - control-plane\n"),
            Refused(
                "kind-config.yaml:4:5: nodes[0]: expected a mapping, found the string \"control-plane\"",
            ),
        ),
        (
            "yaml.v3 takes yes for a bool field",
            doc("networking:\n  disableDefaultCNI: yes\n"),
            AcceptedWith("no default CNI", |c| c.networking.disable_default_cni),
        ),
        (
            "a quoted true is a string in featureGates",
            doc("featureGates:\n  AllBeta: \"true\"\n"),
            Refused(
                "kind-config.yaml:4:12: featureGates[\"AllBeta\"]: expected a boolean (true or false), found the string \"true\"",
            ),
        ),
        (
            "a number is no boolean",
            doc("networking:\n  disableDefaultCNI: 1\n"),
            Refused(
                "kind-config.yaml:4:22: networking.disableDefaultCNI: expected a boolean (true or false), found 1 (an integer)",
            ),
        ),
        (
            "a label value as a list",
            doc("nodes:\n  - labels:\n      tier: [web]\n"),
            Refused(
                "kind-config.yaml:5:13: nodes[0].labels[\"tier\"]: expected a string, found a list",
            ),
        ),
        (
            "numbers and booleans keep their text in string maps",
            doc("runtimeConfig:\n  api/alpha: false\nnodes:\n  - labels:\n      replicas: 3\n"),
            AcceptedWith("\"false\" and \"3\"", |c| {
                c.runtime_config["api/alpha"] == "false" && c.nodes()[0].labels["replicas"] == "3"
            }),
        ),
        (
            "kubeadmConfigPatches is a list",
            doc("kubeadmConfigPatches: |\n  kind: ClusterConfiguration\n"),
            Refused(
                "kind-config.yaml:4:3: kubeadmConfigPatches: expected a list, found the string \"kind: ClusterConfiguration\\n\"",
            ),
        ),
        (
            "dnsSearch is a list",
            doc("networking:\n  dnsSearch: example.com\n"),
            Refused(
                "kind-config.yaml:4:14: networking.dnsSearch: expected a list, found the string \"example.com\"",
            ),
        ),
        (
            "an empty dnsSearch is no search domain",
            doc("networking:\n  dnsSearch: []\n"),
            AcceptedWith("Some([])", |c| c.networking.dns_search == Some(Vec::new())),
        ),
        (
            "a null networking is kind's defaults",
            doc("networking:\n"),
            Accepted,
        ),
        (
            "an explicit tag that does not fit",
            doc("name: !!int shop\n"),
            Refused("kind-config.yaml:3:13: name: cannot decode !!str `shop` as a !!int"),
        ),
        (
            "anchors, aliases and merge keys",
            doc(
                "nodes:\n  - &base\n    role: control-plane\n    labels: &labels {tier: web}\n  - <<: *base\n    role: worker\n  - role: worker\n    labels: *labels\n",
            ),
            AcceptedWith("(1, 2) nodes, labelled", |c| {
                c.node_counts() == (1, 2)
                    && c.nodes().iter().all(|node| node.labels["tier"] == "web")
            }),
        ),
        (
            "a merge key takes mappings",
            doc("networking:\n  <<: 1\n"),
            Refused(
                "kind-config.yaml:4:7: networking: a merge key (<<) takes a mapping or a list of mappings",
            ),
        ),
        (
            "an unknown alias",
            doc("nodes: *nope\n"),
            Refused("kind-config.yaml:3:8: while parsing node, found unknown anchor"),
        ),
        (
            "only the first document is read",
            doc("nodes:\n  - role: control-plane\n---\nnotAField: 1\n"),
            Accepted,
        ),
        (
            "a YAML syntax error",
            doc("nodes: [\n"),
            Refused("kind-config.yaml:3:8: unclosed bracket '['"),
        ),
        (
            "a quoted key is the same field",
            doc("\"nodes\": []\n"),
            Accepted,
        ),
        // load.go: apiVersion, then kind, before anything else.
        (
            "kind's invalid-apiversion",
            "kind: Node\napiVersion: not-valid\n".to_owned(),
            Refused(
                "kind-config.yaml:2:13: apiVersion: \"not-valid\" is not supported: use \"kind.x-k8s.io/v1alpha4\"",
            ),
        ),
        (
            "kind's invalid-kind",
            "kind: not-valid\napiVersion: kind.x-k8s.io/v1alpha4\n".to_owned(),
            Refused(
                "kind-config.yaml:1:7: kind: \"not-valid\" is not a kind cluster configuration: use \"Cluster\"",
            ),
        ),
        (
            "apiVersion is read before unknown fields",
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\nbogus: 1\n".to_owned(),
            Refused(
                "kind-config.yaml:2:13: apiVersion: \"kind.x-k8s.io/v1alpha3\" is not supported: use \"kind.x-k8s.io/v1alpha4\"",
            ),
        ),
        (
            "a missing apiVersion",
            "kind: Cluster\n".to_owned(),
            Refused("kind-config.yaml:1:1: apiVersion: missing: use \"kind.x-k8s.io/v1alpha4\""),
        ),
        (
            "a missing kind",
            "apiVersion: kind.x-k8s.io/v1alpha4\n".to_owned(),
            Refused("kind-config.yaml:1:1: kind: missing: use \"Cluster\""),
        ),
        (
            "an empty file",
            String::new(),
            Refused("kind-config.yaml:1:1: apiVersion: missing: use \"kind.x-k8s.io/v1alpha4\""),
        ),
        (
            "a document that is a list",
            "- kind: Cluster\n".to_owned(),
            Refused(
                "kind-config.yaml:1:1: expected a mapping of Cluster fields (kind, apiVersion, nodes, …), found a list",
            ),
        ),
        // ShopStack: loopback only.
        (
            "ShopStack: apiServerAddress [::1] is no IP address",
            doc("networking:\n  apiServerAddress: \"[::1]\"\n"),
            Refused(
                "kind-config.yaml:4:21: networking.apiServerAddress: \"[::1]\" is not an IP address: write ::1, without brackets",
            ),
        ),
        (
            "ShopStack: apiServerAddress ::1",
            doc("networking:\n  apiServerAddress: \"::1\"\n"),
            Accepted,
        ),
        (
            "ShopStack: a public API server",
            doc("networking:\n  apiServerAddress: 0.0.0.0\n"),
            Refused(
                "kind-config.yaml:4:21: networking.apiServerAddress: \"0.0.0.0\" is not a loopback address: the API server would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
            ),
        ),
        (
            "ShopStack: a missing listenAddress in an IPv6 cluster is ::",
            doc(
                "networking:\n  ipFamily: ipv6\nnodes:\n  - extraPortMappings:\n      - containerPort: 30080\n",
            ),
            Refused(
                "kind-config.yaml:7:24: nodes[0].extraPortMappings[0].listenAddress: missing, and kind then listens on :: (every interface): set listenAddress: \"::1\", or pass --allow-public",
            ),
        ),
    ]
}

#[test]
fn kind_rules_decide_what_loads() {
    let mut failures = Vec::new();
    for (name, text, want) in kind_cases() {
        let got = parse(&text);
        let problem = match (&want, &got) {
            (Accepted, Ok(_)) | (AcceptedWith(..), Ok(_)) => None,
            (Accepted | AcceptedWith(..), Err(error)) => Some(format!("refused: {error}")),
            (Refused(expected), Err(error)) if error == expected => None,
            (Refused(expected), Err(error)) => Some(format!(
                "refused with\n      {error}\n    not\n      {expected}"
            )),
            (Refused(_), Ok(_)) => Some("accepted".to_owned()),
        };
        let problem = problem.or_else(|| match (&want, &got) {
            (AcceptedWith(what, check), Ok(config)) if !check(config) => {
                Some(format!("accepted, but not with {what}: {config:?}"))
            }
            _ => None,
        });
        if let Some(problem) = problem {
            failures.push(format!("{name}: {problem}"));
        }
        if let Err(error) = &got
            && error.contains('\n')
        {
            failures.push(format!("{name}: not one line: {error:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        kind_cases().len(),
        failures.join("\n")
    );
}

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
        error.starts_with("kind-config.yaml:5:5: unknown field `rol` in nodes[0]"),
        "{error}"
    );
    assert!(!error.contains('\n'));
}

#[test]
fn an_unknown_role_is_named_with_its_line() {
    let error = parse(&format!("{HEAD}nodes:\n  - role: master\n")).unwrap_err();
    assert_eq!(
        error,
        "kind-config.yaml:4:11: nodes[0].role: \"master\" is not a node role: kind's are control-plane and worker"
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
fn an_empty_node_list_defaults_to_one_control_plane_as_kind_does() {
    let config = parse(&format!("{HEAD}nodes: []\n")).unwrap();
    assert_eq!(config.nodes(), [Node::control_plane()]);
}

#[test]
fn a_missing_node_list_defaults_to_one_control_plane_as_kind_does() {
    let config = parse(HEAD).unwrap();
    assert_eq!(config.node_counts(), (1, 0));
    assert_eq!(config.nodes()[0].role, NodeRole::ControlPlane);
    assert_eq!(config.nodes()[0].image, None);
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
    let config = parse_public(&text).unwrap();
    assert_eq!(describe_port_mappings(&config), ["0.0.0.0:8080→30080/TCP"]);
}

#[test]
fn every_interface_is_one_wildcard_as_kind_says() {
    // kind's "wildcard ipv4 & ipv6": 0.0.0.0 and :: are the same wildcard.
    let text = format!(
        "{HEAD}nodes:\n  - extraPortMappings:\n      - {{containerPort: 80, hostPort: 8080, listenAddress: 0.0.0.0, protocol: UDP}}\n      - {{containerPort: 80, hostPort: 8080, listenAddress: \"::\", protocol: UDP}}\n"
    );
    assert_eq!(
        parse_public(&text).unwrap_err(),
        "kind-config.yaml:6:39: nodes[0].extraPortMappings[1].hostPort: UDP port 8080 is already mapped by nodes[0].extraPortMappings[0]"
    );
}

#[test]
fn the_spec_hash_ignores_layout_and_comments_but_not_content() {
    let config = parse(SHIPPED).unwrap();
    let reformatted = parse(
        &SHIPPED
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            // Quoted scalars unquoted; quotes inside the containerd patch are its content.
            .map(|line| {
                if line.contains(": \"") {
                    line.replace('"', "")
                } else {
                    line.to_owned()
                }
            })
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
fn the_spec_hash_of_kind_defaults_written_out_is_the_same() {
    let written = parse(&format!(
        "{HEAD}networking:\n  ipFamily: ipv4\n  podSubnet: 10.244.0.0/16\n  kubeProxyMode: iptables\nnodes:\n  - role: control-plane\n"
    ))
    .unwrap();
    assert_eq!(
        written.spec_hash("shop"),
        parse(HEAD).unwrap().spec_hash("shop")
    );
}

#[test]
fn a_yaml_syntax_error_is_one_line_with_its_place() {
    let error = parse(&format!("{HEAD}nodes:\n  - role: [control-plane\n")).unwrap_err();
    assert!(error.starts_with("kind-config.yaml:"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let items = vec!["x"; 200].join(", ");
    let aliases = vec!["*m"; 200].join(", ");
    let text = format!(
        "{HEAD}kubeadmConfigPatches: &p [{items}]\nnodes: [&m {{kubeadmConfigPatches: *p}}, {aliases}]\n"
    );
    let error = parse(&text).unwrap_err();
    assert!(error.contains("excessive aliasing"), "{error}");
}

#[test]
fn deep_nesting_is_refused_not_overflowing() {
    // The parser stops at 256 levels, before the tree's own bound.
    let text = format!("{HEAD}nodes: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(
        parse(&text).unwrap_err(),
        "kind-config.yaml:3:263: recursion limit exceeded"
    );
    let text = format!("{HEAD}x: {}\n", "{a: ".repeat(3000));
    assert!(parse(&text).unwrap_err().starts_with("kind-config.yaml:3:"));
}

#[test]
fn yaml_v3_integer_syntax_is_go_s() {
    for (text, value) in [
        ("8080", Some(8080)),
        ("+8080", Some(8080)),
        ("-1", Some(-1)),
        ("0x1F90", Some(8080)),
        ("0o17620", Some(8080)),
        ("017620", Some(8080)),
        ("0b1111110010000", Some(8080)),
        ("0", Some(0)),
        ("08", None),
        ("0x", None),
        ("1e3", None),
    ] {
        assert_eq!(go_parse_int(text), value, "{text}");
    }
    assert!(matches!(resolve_plain("8_080"), Resolved::Int(8080)));
    assert!(matches!(resolve_plain("08"), Resolved::Float(value) if (value - 8.0).abs() < 1e-9));
    assert!(
        matches!(resolve_plain("1e3"), Resolved::Float(value) if (value - 1000.0).abs() < 1e-9)
    );
    assert!(matches!(resolve_plain("yes"), Resolved::Str(_)));
    assert!(matches!(resolve_plain("~"), Resolved::Null));
}
