//! kind's own configuration rules end to end: what kind accepts reaches `kind create cluster`, what it refuses is one line, exit 1, and runs no tool.

use crate::{Workspace, stderr, tools};

/// The cluster is the project's, `shop`; the body of each case starts on line 4.
const HEAD: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: shop\n";

fn doc(body: &str) -> String {
    format!("{HEAD}{body}")
}

/// A control plane with one loopback port mapping and these extra lines (from line 8).
fn mapping(extra: &str) -> String {
    doc(&format!(
        "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        listenAddress: 127.0.0.1\n{extra}"
    ))
}

/// (rule, kind-config.yaml, `None` when kind accepts it, else the one-line refusal)
fn cases() -> Vec<(&'static str, String, Option<&'static str>)> {
    vec![
        // Accepted by kind, so they must reach it.
        ("kind's minimal configuration: no nodes", doc(""), None),
        ("an empty node list", doc("nodes: []\n"), None),
        ("an empty role", doc("nodes:\n  - role: \"\"\n"), None),
        (
            "a lower-case protocol",
            mapping("        hostPort: 5353\n        protocol: udp\n"),
            None,
        ),
        (
            "kind's disableDefaultCNI",
            doc("networking:\n  disableDefaultCNI: true\n"),
            None,
        ),
        (
            "an IPv6 cluster on ::1",
            doc(
                "networking:\n  ipFamily: ipv6\nnodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: \"::1\"\n",
            ),
            None,
        ),
        (
            "dual-stack subnets",
            doc(
                "networking:\n  ipFamily: dual\n  podSubnet: 10.244.0.0/16,fd00:10:244::/56\n  serviceSubnet: 10.96.0.0/16\n",
            ),
            None,
        ),
        (
            "kube-proxy mode none",
            doc("networking:\n  kubeProxyMode: none\n"),
            None,
        ),
        (
            "every field kind has",
            doc(concat!(
                "networking:\n  ipFamily: ipv4\n  apiServerPort: 6443\n  apiServerAddress: 127.0.0.1\n  podSubnet: 10.240.0.0/16\n  serviceSubnet: 10.90.0.0/16\n  disableDefaultCNI: false\n  kubeProxyMode: nftables\n  dnsSearch: []\n",
                "featureGates: {AllBeta: false}\nruntimeConfig: {api/alpha: \"false\"}\n",
                "kubeadmConfigPatches: [\"kind: ClusterConfiguration\"]\n",
                "kubeadmConfigPatchesJSON6902:\n  - {group: kubeadm.k8s.io, version: v1beta3, kind: ClusterConfiguration, patch: \"[]\"}\n",
                "containerdConfigPatches: [\"version = 2\"]\ncontainerdConfigPatchesJSON6902: [\"[]\"]\n",
                "nodes:\n  - role: control-plane\n    image: kindest/node:v1.35.0\n    labels: {tier: web}\n",
                "    extraMounts:\n      - {containerPath: /data, hostPath: ./data, readOnly: true, selinuxRelabel: false, propagation: None}\n",
                "    extraPortMappings:\n      - {containerPort: 30080, hostPort: 8080, listenAddress: 127.0.0.1, protocol: TCP}\n",
                "    kubeadmConfigPatches: [\"kind: JoinConfiguration\"]\n",
                "    kubeadmConfigPatchesJSON6902: []\n",
                "  - role: worker\n",
            )),
            None,
        ),
        (
            "anchors and merge keys",
            doc(
                "nodes:\n  - &base\n    role: control-plane\n    labels: {tier: web}\n  - <<: *base\n    role: worker\n",
            ),
            None,
        ),
        (
            "a second YAML document, which kind does not read",
            doc("nodes:\n  - role: control-plane\n---\nnotAField: 1\n"),
            None,
        ),
        (
            "random host ports, twice",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, listenAddress: 127.0.0.1}\n      - {containerPort: 443, hostPort: -1, listenAddress: 127.0.0.1}\n      - {containerPort: 444, hostPort: -1, listenAddress: 127.0.0.1}\n",
            ),
            None,
        ),
        (
            "three control planes",
            doc(
                "nodes:\n  - role: control-plane\n  - role: control-plane\n  - role: control-plane\n  - role: worker\n",
            ),
            None,
        ),
        // Refused by kind (or ShopStack): one line, and kind is never run.
        (
            "serde's disableDefaultCni",
            doc("networking:\n  disableDefaultCni: true\n"),
            Some(
                "kind-config.yaml:5:3: unknown field `disableDefaultCni` in networking: kind's field is `disableDefaultCNI` (field names are case-sensitive)",
            ),
        ),
        (
            "a gpus field kind does not have",
            doc("nodes:\n  - role: control-plane\n    gpus: all\n"),
            Some(
                "kind-config.yaml:6:5: unknown field `gpus` in nodes[0], expected one of role, image, labels, extraMounts, extraPortMappings, kubeadmConfigPatches, kubeadmConfigPatchesJSON6902",
            ),
        ),
        (
            "kind's invalid-bad-indent",
            doc(
                "nodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n      - role: worker\n",
            ),
            Some(
                "kind-config.yaml:10:9: unknown field `role` in nodes[0].extraPortMappings[1], expected one of containerPort, hostPort, listenAddress, protocol",
            ),
        ),
        (
            "a name field in a JSON 6902 patch",
            doc(
                "kubeadmConfigPatchesJSON6902:\n  - group: kubeadm.k8s.io\n    version: v1beta3\n    kind: ClusterConfiguration\n    name: config\n    patch: \"[]\"\n",
            ),
            Some(
                "kind-config.yaml:8:5: unknown field `name` in kubeadmConfigPatchesJSON6902[0], expected one of group, version, kind, patch",
            ),
        ),
        (
            "an unknown protocol",
            mapping("        hostPort: 5353\n        protocol: quic\n"),
            Some(
                "kind-config.yaml:9:19: nodes[0].extraPortMappings[0].protocol: \"quic\" is not a protocol: kind's are TCP, UDP and SCTP (in any case)",
            ),
        ),
        (
            "a mount propagation not spelled as kind's",
            doc(
                "nodes:\n  - extraMounts:\n      - hostPath: /tmp\n        containerPath: /data\n        propagation: none\n",
            ),
            Some(
                "kind-config.yaml:8:22: nodes[0].extraMounts[0].propagation: \"none\" is not a mount propagation: kind's are None, HostToContainer and Bidirectional",
            ),
        ),
        (
            "an IP family not spelled as kind's",
            doc("networking:\n  ipFamily: IPv6\n"),
            Some(
                "kind-config.yaml:5:13: networking.ipFamily: \"IPv6\" is not an IP family: kind's are ipv4, ipv6 and dual",
            ),
        ),
        (
            "a kube-proxy mode not spelled as kind's",
            doc("networking:\n  kubeProxyMode: IPVS\n"),
            Some(
                "kind-config.yaml:5:18: networking.kubeProxyMode: \"IPVS\" is not a kube-proxy mode: kind's are iptables, ipvs, nftables and none",
            ),
        ),
        (
            "a malformed pod subnet",
            doc("networking:\n  podSubnet: 10.0.0.0/33\n"),
            Some("kind-config.yaml:5:14: networking.podSubnet: \"10.0.0.0/33\" is not a CIDR"),
        ),
        (
            "a pod subnet of the wrong family",
            doc("networking:\n  podSubnet: fd00:10:244::/56\n"),
            Some(
                "kind-config.yaml:5:14: networking.podSubnet: \"fd00:10:244::/56\" is an IPv6 CIDR, but ipFamily is ipv4 (kind's default)",
            ),
        ),
        (
            "dual-stack without one subnet of each family",
            doc("networking:\n  ipFamily: dual\n  serviceSubnet: 10.96.0.0/16,10.97.0.0/16\n"),
            Some(
                "kind-config.yaml:6:18: networking.serviceSubnet: \"10.96.0.0/16,10.97.0.0/16\" are both IPv4: ipFamily dual takes one CIDR, or one IPv4 and one IPv6",
            ),
        ),
        (
            "an API server port out of range",
            doc("networking:\n  apiServerPort: 70000\n"),
            Some(
                "kind-config.yaml:5:18: networking.apiServerPort: 70000 is not a port (0-65535, or -1)",
            ),
        ),
        (
            "a quoted host port",
            mapping("        hostPort: \"8080\"\n"),
            Some(
                "kind-config.yaml:8:19: nodes[0].extraPortMappings[0].hostPort: expected an integer, found the string \"8080\" (write 8080 without quotes)",
            ),
        ),
        (
            "a bracketed listen address",
            doc(
                "nodes:\n  - extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n        listenAddress: \"[::1]\"\n",
            ),
            Some(
                "kind-config.yaml:8:24: nodes[0].extraPortMappings[0].listenAddress: \"[::1]\" is not an IP address: write ::1, without brackets",
            ),
        ),
        (
            "a key written twice",
            doc("nodes: []\nnodes: []\n"),
            Some("kind-config.yaml:5:1: mapping key \"nodes\" already defined at line 4"),
        ),
        (
            "workers only",
            doc("nodes:\n  - role: worker\n"),
            Some("kind-config.yaml:5:3: nodes: has no control-plane node: kind needs at least one"),
        ),
        (
            "a role kind does not have",
            doc("nodes:\n  - role: master\n"),
            Some(
                "kind-config.yaml:5:11: nodes[0].role: \"master\" is not a node role: kind's are control-plane and worker",
            ),
        ),
        (
            "a cluster name kind refuses",
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: Shop\n".to_owned(),
            Some(
                "kind-config.yaml:3:7: name: \"Shop\" is not a valid cluster name: kind's names match ^[a-z0-9.-]+$",
            ),
        ),
        (
            "ShopStack: a host port on two nodes",
            doc(
                "nodes:\n  - extraPortMappings:\n      - {containerPort: 80, hostPort: 8080, listenAddress: 127.0.0.1}\n  - role: worker\n    extraPortMappings:\n      - containerPort: 81\n        hostPort: 8080\n        listenAddress: 127.0.0.1\n",
            ),
            Some(
                "kind-config.yaml:10:19: nodes[1].extraPortMappings[0].hostPort: TCP port 8080 is already mapped by nodes[0].extraPortMappings[0]",
            ),
        ),
    ]
}

#[tokio::test]
async fn kind_rules_let_what_kind_accepts_reach_kind_create_cluster_and_nothing_else() {
    let create_cluster = ["create".to_owned(), "cluster".to_owned()];
    let mut failures = Vec::new();
    for (rule, text, refusal) in cases() {
        let workspace = Workspace::new();
        // The stand-in kind refuses once called: enough to see the configuration reached it.
        tools::install(&workspace, "http://127.0.0.1:9", tools::ALREADY_EXISTS);
        std::fs::write(workspace.path().join("kind-config.yaml"), &text).expect("write");
        let output = workspace.run(&["create"]).await;
        let stderr = stderr(&output);
        let problems = match refusal {
            None => vec![
                (!workspace
                    .tools
                    .calls_of("kind")
                    .iter()
                    .any(|call| call.starts_with(&create_cluster)))
                .then(|| format!("kind create cluster was not run: {stderr:?}")),
            ],
            Some(expected) => vec![
                (output.status.code() != Some(1))
                    .then(|| format!("exit {:?}", output.status.code())),
                (stderr != format!("error: create: {expected}\n"))
                    .then(|| format!("stderr {stderr:?}")),
                (!workspace.tools.calls().is_empty())
                    .then(|| format!("tools called: {:?}", workspace.tools.calls())),
            ],
        };
        for problem in problems.into_iter().flatten() {
            failures.push(format!("{rule}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
