//! AWS endpoint URLs: parsing, the loopback rule for plain http, and precedence of their sources.

use std::fmt;
use std::net::IpAddr;

/// A custom AWS endpoint (an emulator, a VPC endpoint, a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    host: String,
    plain_http: bool,
}

impl Endpoint {
    /// Parses `scheme://host[:port][/]`. Plain `http://` is accepted only on a loopback host, where
    /// no credentials or signed requests cross a network unencrypted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (plain_http, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (false, rest)
        } else {
            return Err(format!("\"{text}\" must start with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
            return Err(format!(
                "\"{text}\" must be scheme://host[:port] with no path, query or user"
            ));
        }
        let host =
            split_host(authority).ok_or_else(|| format!("\"{text}\" has no valid host[:port]"))?;
        let endpoint = Self {
            url: format!(
                "{}://{authority}",
                if plain_http { "http" } else { "https" }
            ),
            host: host.to_owned(),
            plain_http,
        };
        if plain_http && !endpoint.is_loopback() {
            return Err(format!(
                "\"{text}\" is plain http on a non-loopback host: use https, or a loopback address for a local emulator"
            ));
        }
        Ok(endpoint)
    }

    /// The URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the endpoint is `http://` (a local emulator): TLS-only bucket policies would lock
    /// the tool out there.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        if self.host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        self.host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Splits `host[:port]` (with `[v6]` hosts) and checks the port; returns the host.
fn split_host(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        (&authority[..inside.len() + 2], after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    if let Some(port) = port {
        port.parse::<u16>().ok().filter(|&port| port != 0)?;
    }
    Some(host)
}

/// Where the endpoint in use came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// The `--endpoint-url` flag.
    Flag,
    /// The `AWS_ENDPOINT_URL` environment variable.
    EnvironmentVariable,
    /// `endpoint_url` of the environment in `shopstack.toml`.
    Config,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--endpoint-url",
            Self::EnvironmentVariable => "AWS_ENDPOINT_URL",
            Self::Config => "shopstack.toml",
        })
    }
}

/// Picks the endpoint by precedence: flag > `AWS_ENDPOINT_URL` > config. An empty flag or variable
/// counts as unset. The error names the source of the invalid value.
pub fn resolve(
    flag: Option<&str>,
    environment_variable: Option<&str>,
    config: Option<&Endpoint>,
) -> Result<Option<(Endpoint, EndpointSource)>, String> {
    let explicit = [
        (flag, EndpointSource::Flag),
        (environment_variable, EndpointSource::EnvironmentVariable),
    ];
    for (value, source) in explicit {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            let endpoint =
                Endpoint::parse(value).map_err(|reason| format!("{source}: {reason}"))?;
            return Ok(Some((endpoint, source)));
        }
    }
    Ok(config.map(|endpoint| (endpoint.clone(), EndpointSource::Config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap_or_else(|reason| panic!("{text}: {reason}"))
    }

    #[test]
    fn loopback_http_endpoints_are_accepted() {
        for text in [
            "http://127.0.0.1:4566",
            "http://localhost:5000/",
            "http://[::1]:4566",
            "http://127.9.9.9",
        ] {
            let endpoint = parse(text);
            assert!(endpoint.is_plain_http() && endpoint.is_loopback(), "{text}");
        }
        assert_eq!(
            parse("http://localhost:5000/").url(),
            "http://localhost:5000"
        );
    }

    #[test]
    fn https_endpoints_are_accepted_anywhere() {
        let endpoint = parse("https://s3.eu-west-1.amazonaws.com");
        assert!(!endpoint.is_plain_http() && !endpoint.is_loopback());
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        assert_eq!(
            Endpoint::parse("http://10.0.0.5:4566"),
            Err("\"http://10.0.0.5:4566\" is plain http on a non-loopback host: use https, or a loopback address for a local emulator".to_owned())
        );
    }

    #[test]
    fn malformed_endpoints_are_refused() {
        assert_eq!(
            Endpoint::parse("ftp://x"),
            Err("\"ftp://x\" must start with http:// or https://".to_owned())
        );
        for text in [
            "http://127.0.0.1:99999",
            "http://:4566",
            "https://host/path",
            "https://user@host",
            "http://127.0.0.1:port",
        ] {
            assert!(Endpoint::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn flag_beats_environment_variable_beats_config() {
        let config = parse("http://127.0.0.1:3000");
        let chosen = |flag, variable| {
            resolve(flag, variable, Some(&config))
                .expect("valid")
                .map(|(endpoint, source)| (endpoint.url().to_owned(), source))
        };
        assert_eq!(
            chosen(Some("http://127.0.0.1:1000"), Some("http://127.0.0.1:2000")),
            Some(("http://127.0.0.1:1000".to_owned(), EndpointSource::Flag))
        );
        assert_eq!(
            chosen(None, Some("http://127.0.0.1:2000")),
            Some((
                "http://127.0.0.1:2000".to_owned(),
                EndpointSource::EnvironmentVariable
            ))
        );
        assert_eq!(
            chosen(None, Some("")),
            Some(("http://127.0.0.1:3000".to_owned(), EndpointSource::Config))
        );
        assert_eq!(resolve(None, None, None), Ok(None));
    }

    #[test]
    fn an_invalid_override_names_its_source() {
        assert_eq!(
            resolve(None, Some("http://203.0.113.9"), None),
            Err("AWS_ENDPOINT_URL: \"http://203.0.113.9\" is plain http on a non-loopback host: use https, or a loopback address for a local emulator".to_owned())
        );
        assert!(
            resolve(Some("nope"), None, None)
                .is_err_and(|error| error.starts_with("--endpoint-url: "))
        );
    }
}
