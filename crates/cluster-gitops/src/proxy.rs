//! Which API servers go through `HTTPS_PROXY`: kubectl's rules (Go's `httpproxy`), `NO_PROXY` included.

use std::net::IpAddr;

/// The proxy for a connection to `host:port`, as kubectl picks it: the kubeconfig cluster's own
/// `proxy-url` always (`explicit`); else `HTTPS_PROXY` (or `https_proxy`) unless the host is
/// loopback or `NO_PROXY` (or `no_proxy`) names it. A proxy written without a scheme is
/// `http://`, as Go reads it.
pub fn for_host(
    host: &str,
    port: u16,
    explicit: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let nonempty = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(url) = explicit.filter(|url| !url.is_empty()) {
        return Some(with_scheme(url));
    }
    let proxy = nonempty("HTTPS_PROXY").or_else(|| nonempty("https_proxy"))?;
    let no_proxy = nonempty("NO_PROXY")
        .or_else(|| nonempty("no_proxy"))
        .unwrap_or_default();
    (!bypasses(host, port, &no_proxy)).then(|| with_scheme(&proxy))
}

fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

/// Whether a connection to `host:port` skips the proxy: `localhost` and loopback addresses
/// always do; otherwise `no_proxy` decides, a comma-separated list of `*`, IP addresses, CIDR
/// ranges and domain names (`example.com` is the domain and its subdomains, `.example.com` and
/// `*.example.com` only its subdomains), each optionally with `:port`.
pub fn bypasses(host: &str, port: u16, no_proxy: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    no_proxy
        .split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_matches(&entry, &host, ip, port))
}

fn entry_matches(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((network, bits)) = entry.split_once('/') {
        return match (network.parse::<IpAddr>(), bits.parse::<u8>(), ip) {
            (Ok(network), Ok(bits), Some(ip)) => in_network(ip, network, bits),
            _ => false,
        };
    }
    if let Ok(address) = entry
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return ip == Some(address);
    }
    let (name, entry_port) = split_port(entry);
    if entry_port.is_some_and(|entry_port| entry_port != port) {
        return false;
    }
    if let Ok(address) = name.parse::<IpAddr>() {
        return ip == Some(address);
    }
    let name = name.strip_prefix('*').unwrap_or(name);
    match name.strip_prefix('.') {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == name || host.ends_with(&format!(".{name}")),
    }
}

/// `name:port` → (`name`, port); an IPv6 address in brackets keeps its colons.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((address, tail)) => (address, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_follows_gos_rules() {
        let cases: &[(&str, u16, &str, bool)] = &[
            ("127.0.0.1", 6443, "", true),
            ("::1", 6443, "", true),
            ("[::1]", 6443, "", true),
            ("localhost", 6443, "", true),
            ("10.0.0.5", 6443, "", false),
            ("api.example.com", 443, "*", true),
            ("api.example.com", 443, "example.com", true),
            ("example.com", 443, "example.com", true),
            ("badexample.com", 443, "example.com", false),
            ("api.example.com", 443, ".example.com", true),
            ("example.com", 443, ".example.com", false),
            ("api.example.com", 443, "*.example.com", true),
            ("api.example.com", 443, "example.com:443", true),
            ("api.example.com", 6443, "example.com:443", false),
            ("10.1.2.3", 6443, "10.0.0.0/8", true),
            ("11.1.2.3", 6443, "10.0.0.0/8", false),
            ("10.1.2.3", 6443, "10.1.2.3", true),
            ("10.1.2.3", 6443, "10.1.2.3:6443", true),
            ("fd00::5", 6443, "fd00::/8", true),
            ("fd00::5", 6443, "[fd00::5]:6443", true),
            ("api.example.com", 443, " other.org , EXAMPLE.com ", true),
            ("API.Example.com", 443, "example.com", true),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter(|(host, port, no_proxy, want)| bypasses(host, *port, no_proxy) != *want)
            .map(|(host, port, no_proxy, want)| {
                format!("{host}:{port} with NO_PROXY={no_proxy:?}: want bypass={want}")
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn the_proxy_is_picked_as_kubectl_picks_it() {
        let proxy = env(&[
            ("HTTPS_PROXY", "proxy.corp:3128"),
            ("NO_PROXY", ".internal"),
        ]);
        assert_eq!(
            for_host("api.example.com", 443, None, &proxy).as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(for_host("k8s.internal", 443, None, &proxy), None);
        assert_eq!(for_host("127.0.0.1", 6443, None, &proxy), None);
        // The kubeconfig's own proxy-url wins, even for a host NO_PROXY names.
        assert_eq!(
            for_host("k8s.internal", 443, Some("socks5://jump:1080"), &proxy).as_deref(),
            Some("socks5://jump:1080")
        );
        let lower = env(&[
            ("https_proxy", "http://p:8080"),
            ("no_proxy", "example.com"),
        ]);
        assert_eq!(for_host("api.example.com", 443, None, &lower), None);
        assert_eq!(
            for_host("other.org", 443, None, &lower).as_deref(),
            Some("http://p:8080")
        );
        assert_eq!(for_host("other.org", 443, None, env(&[])), None);
    }
}
