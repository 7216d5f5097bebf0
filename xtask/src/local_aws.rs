//! `cargo xtask local-aws start|stop|status`: the emulator behind the `local` environment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::emulator::{self, Emulator};

/// Endpoint of the `local` environment when `shopstack.toml` does not set one.
const DEFAULT_LOCAL_ENDPOINT: &str = "https://127.0.0.1:4566";
/// Where the emulator's CA and certificate live, beside `shopstack.toml`: the embedded `local`
/// environment trusts `ca.crt` there.
const TLS_DIR: &str = ".shopstack/local-aws";

/// What to do with the local emulator.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Action {
    /// Start it in the background unless something already answers.
    Start,
    /// Stop the emulator that `start` started.
    Stop,
    /// Say whether it answers (exit 0) or not (exit 1).
    Status,
}

pub fn run(sh: &Shell, action: Action) -> anyhow::Result<ExitCode> {
    let config = crate::project::root().join("shopstack.toml");
    let address = local_address(&config)?;
    let ca = tls_dir(&config).join("ca.crt");
    match action {
        Action::Start => {
            let url = ensure_running(sh, address, &config)?;
            println!(
                "local AWS emulator answering at {url} (CA: {})",
                ca.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Action::Stop => stop(sh, address, &ca),
        Action::Status => Ok(status(address, &ca)),
    }
}

/// The directory of the local emulator's CA and certificate, beside the configuration `config`.
pub fn tls_dir(config: &Path) -> PathBuf {
    config.parent().unwrap_or(Path::new(".")).join(TLS_DIR)
}

/// Starts the local emulator of the configuration `config` when nothing answers at its address;
/// returns its URL.
pub fn ensure_running(sh: &Shell, address: SocketAddr, config: &Path) -> anyhow::Result<String> {
    let url = format!("https://{address}");
    let tls_dir = tls_dir(config);
    let ca = tls_dir.join("ca.crt");
    // An environment without `ca_bundle` trusts `AWS_CA_BUNDLE`: an emulator it signed will do.
    let signed_by_variable = shopstack_testkit::tls::ca_bundle()
        .is_some_and(|bundle| emulator::answers(address, &bundle));
    if emulator::answers(address, &ca) || signed_by_variable {
        return Ok(url);
    }
    if std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
        bail!(
            "something listens at {address} but does not answer HTTPS with the local emulator's certificate ({}): stop it, then run `cargo xtask local-aws start` again",
            ca.display()
        );
    }
    emulator::ensure_installed(sh)?;
    let log = crate::project::state_dir().join("local-aws.log");
    let emulator = Emulator::start(address, &log, &tls_dir, true)?;
    std::fs::write(pid_file(), emulator.child.id().to_string())
        .context("write the emulator's pid file")?;
    eprintln!(
        "started the local AWS emulator (pid {}, log {})",
        emulator.child.id(),
        log.display()
    );
    Ok(url)
}

fn stop(sh: &Shell, address: SocketAddr, ca: &Path) -> anyhow::Result<ExitCode> {
    let pid_file = pid_file();
    let Ok(pid) = std::fs::read_to_string(&pid_file) else {
        if emulator::answers(address, ca) {
            bail!(
                "an emulator answers at {address} but was not started by `cargo xtask local-aws start`; stop it where it was started"
            );
        }
        println!("local AWS emulator is not running");
        return Ok(ExitCode::SUCCESS);
    };
    let pid = pid.trim().to_owned();
    // A pid file left by a crashed emulator may name a process that is gone: that is fine.
    let _ = cmd!(sh, "kill -TERM {pid}").quiet().ignore_stderr().run();
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator::answers(address, ca) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::remove_file(&pid_file).context("remove the emulator's pid file")?;
    if emulator::answers(address, ca) {
        bail!("the local AWS emulator (pid {pid}) still answers at {address} after SIGTERM");
    }
    println!("stopped the local AWS emulator (pid {pid})");
    Ok(ExitCode::SUCCESS)
}

fn status(address: SocketAddr, ca: &Path) -> ExitCode {
    let pid = std::fs::read_to_string(pid_file()).ok();
    match (emulator::answers(address, ca), pid) {
        (true, Some(pid)) => println!(
            "running at https://{address} (pid {}, CA {})",
            pid.trim(),
            ca.display()
        ),
        (true, None) => println!("answering at https://{address} (not started by xtask)"),
        (false, _) => {
            println!(
                "not running (expected at https://{address}; start it with `cargo xtask local-aws start`)"
            );
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn pid_file() -> PathBuf {
    crate::project::state_dir().join("local-aws.pid")
}

/// The loopback address of the `local` environment, from the configuration when it sets one.
pub fn local_address(path: &std::path::Path) -> anyhow::Result<SocketAddr> {
    let configured = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            let local = table.get("environments")?.get("local")?;
            local.get("endpoint_url")?.as_str().map(str::to_owned)
        });
    let url = configured.unwrap_or_else(|| DEFAULT_LOCAL_ENDPOINT.to_owned());
    parse_loopback(&url).with_context(|| {
        format!(
            "environments.local.endpoint_url \"{url}\" in {}",
            path.display()
        )
    })
}

fn parse_loopback(url: &str) -> anyhow::Result<SocketAddr> {
    let authority = url
        .strip_prefix("https://")
        .context("the local emulator is served over https://")?
        .trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    let port: u16 = port.parse().context("invalid port")?;
    let ip = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other
            .parse::<IpAddr>()
            .context("host must be a loopback address")?,
    };
    if !ip.is_loopback() {
        bail!("host must be a loopback address");
    }
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints_parse_to_loopback_addresses() {
        assert_eq!(
            parse_loopback("https://127.0.0.1:4566").ok(),
            "127.0.0.1:4566".parse().ok()
        );
        assert_eq!(
            parse_loopback("https://localhost:5000/").ok(),
            "127.0.0.1:5000".parse().ok()
        );
        assert_eq!(
            parse_loopback("https://[::1]:4566").ok(),
            "[::1]:4566".parse().ok()
        );
        assert!(parse_loopback("https://192.0.2.1:4566").is_err());
        assert!(parse_loopback("http://127.0.0.1:4566").is_err());
    }
}
