//! kind's defaults and validation rules (validate.go), then ShopStack's loopback and port rules.

#[allow(clippy::wildcard_imports)]
use super::*;

/// kind's `validatePort`: `-1` (docker picks) to 65535, `0` meaning a random port.
pub(super) fn is_port(port: i32) -> bool {
    (-1..=65535).contains(&port)
}

/// validate.go's `^[a-z0-9.-]+$`.
pub(super) fn is_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'-')
        })
}

/// An IP address as Go's `net.ParseIP` reads it (no brackets, no zone), IPv4-mapped IPv6 as
/// IPv4.
pub(super) fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

pub(super) fn not_an_ip(written: &Located<String>, field: &str) -> Refusal {
    let hint = match written
        .value
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
    {
        Some(inner) if inner.parse::<Ipv6Addr>().is_ok() => {
            format!(": write {inner}, without brackets")
        }
        _ => String::new(),
    };
    invalid(
        written,
        format!("{field}: {:?} is not an IP address{hint}", written.value),
    )
}

/// Go's `net.ParseCIDR`, then kind's family test (`IP.To4() != nil` on the masked address):
/// `Some(true)` for IPv4, `Some(false)` for IPv6, `None` when `text` is not a CIDR.
pub(super) fn cidr_is_ipv4(text: &str) -> Option<bool> {
    let (address, prefix) = text.split_once('/')?;
    let address = address.parse::<IpAddr>().ok()?;
    if prefix.is_empty() || !prefix.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let prefix = prefix.parse::<u32>().ok()?;
    match address {
        IpAddr::V4(_) => (prefix <= 32).then_some(true),
        IpAddr::V6(address) => {
            if prefix > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            Some(
                Ipv6Addr::from(u128::from(address) & mask)
                    .to_ipv4_mapped()
                    .is_some(),
            )
        }
    }
}

/// validate.go's `validateSubnets` of a written subnet (kind's defaults always pass).
pub(super) fn check_subnet(
    written: &Located<String>,
    field: &str,
    family: IpFamily,
    family_written: bool,
) -> Result<(), Refusal> {
    let text = &written.value;
    let mut ipv4 = Vec::new();
    for part in text.split(',') {
        let Some(is_ipv4) = cidr_is_ipv4(part) else {
            let what = if part == text {
                format!("{text:?} is not a CIDR")
            } else {
                format!("{text:?}: {part:?} is not a CIDR")
            };
            return Err(invalid(written, format!("{field}: {what}")));
        };
        ipv4.push(is_ipv4);
    }
    let family_text = if family_written {
        format!("ipFamily is {family}")
    } else {
        format!("ipFamily is {family} (kind's default)")
    };
    let dual_rule = "ipFamily dual takes one CIDR, or one IPv4 and one IPv6";
    let problem = match (family, ipv4.as_slice()) {
        (IpFamily::Dual, [_]) => None,
        (IpFamily::Dual, [first, second]) if first != second => None,
        (IpFamily::Dual, [first, _]) => Some(format!(
            "{text:?} are both {}: {dual_rule}",
            if *first { "IPv4" } else { "IPv6" }
        )),
        (IpFamily::Dual, many) => Some(format!("{text:?} has {} CIDRs: {dual_rule}", many.len())),
        (_, [_, _, ..]) => Some(format!(
            "{text:?} has {} CIDRs, but {family_text}: single-stack takes one",
            ipv4.len()
        )),
        (IpFamily::Ipv4, [false]) => Some(format!("{text:?} is an IPv6 CIDR, but {family_text}")),
        (IpFamily::Ipv6, [true]) => Some(format!("{text:?} is an IPv4 CIDR, but {family_text}")),
        _ => None,
    };
    match problem {
        Some(problem) => Err(invalid(written, format!("{field}: {problem}"))),
        None => Ok(()),
    }
}

/// Mappings holding a host port: (protocol, port) → (listen address, `None` meaning every
/// interface; who holds it).
pub(super) type Bindings<'a, P> = BTreeMap<(P, i32), Vec<(Option<IpAddr>, &'a str)>>;

/// Records a host binding, refusing one that overlaps an earlier binding of the same port and
/// protocol (the same address, or either on every interface).
pub(super) fn bind<'a, P: Ord>(
    bindings: &mut Bindings<'a, P>,
    key: (P, i32),
    address: Option<IpAddr>,
    holder: &'a str,
) -> Result<(), &'a str> {
    let holders = bindings.entry(key).or_default();
    if let Some((_, other)) = holders
        .iter()
        .find(|(other, _)| other.is_none() || address.is_none() || *other == address)
    {
        return Err(other);
    }
    holders.push((address, holder));
    Ok(())
}

pub(super) fn already_mapped(
    mapping: &RawPortMapping,
    port: &Located<i32>,
    other: &str,
) -> Refusal {
    invalid(
        port,
        format!(
            "{}.hostPort: {} port {} is already mapped by {other}",
            mapping.path,
            mapping.protocol.unwrap_or_default(),
            port.value
        ),
    )
}

/// validate.go's `validatePortMappings`, per node: a fixed host port is mapped once per listen
/// address (0.0.0.0 and :: standing for every address) and protocol as written.
pub(super) fn check_kind_port_mappings(node: &RawNode) -> Result<(), Refusal> {
    let mut bindings: Bindings<'_, Option<Protocol>> = BTreeMap::new();
    for mapping in &node.extra_port_mappings {
        let Some(port) = mapping
            .host_port
            .as_ref()
            .filter(|port| port.value != 0 && port.value != -1)
        else {
            continue;
        };
        let address = match non_empty(&mapping.listen_address) {
            None => None,
            Some(written) => {
                let ip = parse_ip(&written.value).ok_or_else(|| {
                    not_an_ip(written, &format!("{}.listenAddress", mapping.path))
                })?;
                (!ip.is_unspecified()).then_some(ip)
            }
        };
        bind(
            &mut bindings,
            (mapping.protocol, port.value),
            address,
            &mapping.path,
        )
        .map_err(|other| already_mapped(mapping, port, other))?;
    }
    Ok(())
}

/// The listen address of a mapping (`None`: every interface), refused off loopback unless public
/// endpoints are allowed (ShopStack).
pub(super) fn check_listen_address(
    mapping: &RawPortMapping,
    container_port: &Located<i32>,
    family: IpFamily,
    options: LoadOptions,
) -> Result<Option<IpAddr>, Refusal> {
    let field = format!("{}.listenAddress", mapping.path);
    let Some(address) = non_empty(&mapping.listen_address) else {
        if options.allow_public {
            return Ok(None);
        }
        return Err(invalid(
            container_port,
            format!(
                "{field}: missing, and kind then listens on {} (every interface): set listenAddress: {:?}, or pass --allow-public",
                family.every_interface(),
                family.loopback()
            ),
        ));
    };
    let ip = parse_ip(&address.value).ok_or_else(|| not_an_ip(address, &field))?;
    if ip.is_loopback() {
        return Ok(Some(ip));
    }
    if !options.allow_public {
        return Err(invalid(
            address,
            format!(
                "{field}: {:?} is not a loopback address: the port would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
                address.value
            ),
        ));
    }
    Ok((!ip.is_unspecified()).then_some(ip))
}

/// Applies kind's defaults and validation (validate.go, in its order), then ShopStack's rules,
/// and builds the configuration.
pub(super) fn build(
    raw: RawCluster,
    kind: Located<String>,
    api_version: Located<String>,
    options: LoadOptions,
) -> Result<KindConfig, Refusal> {
    let net = &raw.networking;
    if let Some(name) = non_empty(&raw.name)
        && !is_cluster_name(&name.value)
    {
        return Err(invalid(
            name,
            format!(
                "name: {:?} is not a valid cluster name: kind's names match ^[a-z0-9.-]+$",
                name.value
            ),
        ));
    }
    // Port 0 asks for a random port and is not checked.
    if let Some(port) = &net.api_server_port
        && !is_port(port.value)
    {
        return Err(invalid(
            port,
            format!(
                "networking.apiServerPort: {} is not a port (0-65535, or -1)",
                port.value
            ),
        ));
    }
    let ip_family = match non_empty(&net.ip_family) {
        None => IpFamily::Ipv4,
        Some(written) => IpFamily::from_kind(&written.value).ok_or_else(|| {
            invalid(
                written,
                format!(
                    "networking.ipFamily: {:?} is not an IP family: kind's are ipv4, ipv6 and dual",
                    written.value
                ),
            )
        })?,
    };
    let family_written = non_empty(&net.ip_family).is_some();
    let pod_subnet = match non_empty(&net.pod_subnet) {
        None => ip_family.default_pod_subnet().to_owned(),
        Some(written) => {
            check_subnet(written, "networking.podSubnet", ip_family, family_written)?;
            written.value.clone()
        }
    };
    let service_subnet = match non_empty(&net.service_subnet) {
        None => ip_family.default_service_subnet().to_owned(),
        Some(written) => {
            check_subnet(
                written,
                "networking.serviceSubnet",
                ip_family,
                family_written,
            )?;
            written.value.clone()
        }
    };
    let kube_proxy_mode = match non_empty(&net.kube_proxy_mode) {
        None => ProxyMode::Iptables,
        Some(written) => ProxyMode::from_kind(&written.value).ok_or_else(|| {
            invalid(
                written,
                format!(
                    "networking.kubeProxyMode: {:?} is not a kube-proxy mode: kind's are iptables, ipvs, nftables and none",
                    written.value
                ),
            )
        })?,
    };
    let mut roles = Vec::with_capacity(raw.nodes.len());
    for node in &raw.nodes {
        let role = match non_empty(&node.role) {
            None => NodeRole::ControlPlane,
            Some(written) => NodeRole::from_kind(&written.value).ok_or_else(|| {
                invalid(
                    written,
                    format!(
                        "{}.role: {:?} is not a node role: kind's are control-plane and worker",
                        node.path, written.value
                    ),
                )
            })?,
        };
        roles.push(role);
        // kind's "image is a required field" cannot fire: an empty image is defaulted first.
        for mapping in &node.extra_port_mappings {
            if let Some(port) = &mapping.host_port
                && !is_port(port.value)
            {
                return Err(invalid(
                    port,
                    format!(
                        "{}.hostPort: {} is not a port (0-65535, or -1)",
                        mapping.path, port.value
                    ),
                ));
            }
            // kind takes -1 to 65535 here; the range named is ShopStack's (checked below).
            if let Some(port) = &mapping.container_port
                && !is_port(port.value)
            {
                return Err(invalid(
                    port,
                    format!(
                        "{}.containerPort: {} is not a port (1-65535)",
                        mapping.path, port.value
                    ),
                ));
            }
        }
        check_kind_port_mappings(node)?;
    }
    // An absent or empty node list is defaulted to one control plane, so only a written list can
    // lack one.
    if !raw.nodes.is_empty() && !roles.contains(&NodeRole::ControlPlane) {
        return Err(Refusal::invalid(
            raw.nodes_at.unwrap_or((1, 1)),
            "nodes: has no control-plane node: kind needs at least one".to_owned(),
        ));
    }

    // ShopStack: the API server listens on loopback unless public endpoints are allowed. kind does
    // not check the address; docker refuses one that is not an IP address when kind publishes it.
    let api_server_address = non_empty(&net.api_server_address).cloned();
    let api_server_ip = match &api_server_address {
        None => None,
        Some(written) => {
            let field = "networking.apiServerAddress";
            let ip = parse_ip(&written.value).ok_or_else(|| not_an_ip(written, field))?;
            if !ip.is_loopback() && !options.allow_public {
                return Err(invalid(
                    written,
                    format!(
                        "{field}: {:?} is not a loopback address: the API server would be reachable from the network (use 127.0.0.1, or pass --allow-public)",
                        written.value
                    ),
                ));
            }
            Some(ip)
        }
    };
    // ShopStack: every port mapping forwards to a port of the node and listens on loopback unless
    // public endpoints are allowed; and no host binding collides with another, on any node and
    // with the API server's (kind checks each node alone and compares protocols as written; docker
    // refuses the collision at create time, after the first nodes started).
    let mut bindings: Bindings<'_, Protocol> = BTreeMap::new();
    if let Some(port) = net.api_server_port.as_ref().filter(|port| port.value > 0) {
        let address = api_server_ip
            .or_else(|| parse_ip(ip_family.loopback()))
            .filter(|ip| !ip.is_unspecified());
        bindings
            .entry((Protocol::Tcp, port.value))
            .or_default()
            .push((address, "networking.apiServerPort"));
    }
    for node in &raw.nodes {
        for mapping in &node.extra_port_mappings {
            let container_port = match &mapping.container_port {
                None => {
                    return Err(Refusal::invalid(
                        mapping.at,
                        format!(
                            "{}.containerPort: missing: set the port inside the node (1-65535)",
                            mapping.path
                        ),
                    ));
                }
                Some(port) if port.value < 1 => {
                    return Err(invalid(
                        port,
                        format!(
                            "{}.containerPort: {} is not a port (1-65535)",
                            mapping.path, port.value
                        ),
                    ));
                }
                Some(port) => port,
            };
            let address = check_listen_address(mapping, container_port, ip_family, options)?;
            let Some(port) = mapping.host_port.as_ref().filter(|port| port.value > 0) else {
                continue;
            };
            bind(
                &mut bindings,
                (mapping.protocol.unwrap_or_default(), port.value),
                address,
                &mapping.path,
            )
            .map_err(|other| already_mapped(mapping, port, other))?;
        }
    }

    let networking = Networking {
        ip_family,
        api_server_port: net.api_server_port.as_ref().map_or(0, |port| port.value),
        api_server_address,
        pod_subnet,
        service_subnet,
        disable_default_cni: net.disable_default_cni,
        kube_proxy_mode,
        dns_search: net.dns_search.clone(),
    };
    let mut nodes: Vec<Node> = raw
        .nodes
        .into_iter()
        .zip(roles)
        .map(|(node, role)| Node {
            role,
            image: node.image.filter(|image| !image.is_empty()),
            labels: node.labels,
            extra_mounts: node.extra_mounts,
            extra_port_mappings: node
                .extra_port_mappings
                .into_iter()
                .map(|mapping| PortMapping {
                    container_port: mapping.container_port.map_or(0, |port| port.value),
                    host_port: mapping.host_port.map_or(0, |port| port.value),
                    listen_address: mapping
                        .listen_address
                        .map(|address| address.value)
                        .filter(|address| !address.is_empty()),
                    protocol: mapping.protocol.unwrap_or_default(),
                })
                .collect(),
            kubeadm_config_patches: node.kubeadm_config_patches,
            kubeadm_config_patches_json6902: node.kubeadm_config_patches_json6902,
        })
        .collect();
    if nodes.is_empty() {
        nodes.push(Node::control_plane());
    }
    Ok(KindConfig {
        kind,
        api_version,
        name: non_empty(&raw.name).cloned(),
        nodes,
        networking,
        feature_gates: raw.feature_gates,
        runtime_config: raw.runtime_config,
        kubeadm_config_patches: raw.kubeadm_config_patches,
        kubeadm_config_patches_json6902: raw.kubeadm_config_patches_json6902,
        containerd_config_patches: raw.containerd_config_patches,
        containerd_config_patches_json6902: raw.containerd_config_patches_json6902,
    })
}
