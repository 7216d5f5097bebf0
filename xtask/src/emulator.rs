//! The moto AWS emulator: installing it, starting it on loopback over TLS, waiting for it, stopping it.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shopstack_testkit::EmulatorTls;
use xshell::{Shell, cmd};

/// How long a starting emulator may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Installs `moto[server]` with pip when the server module cannot be imported.
pub fn ensure_installed(sh: &Shell) -> anyhow::Result<()> {
    let probe = "import moto.server";
    if cmd!(sh, "python3 -c {probe}")
        .quiet()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(());
    }
    eprintln!("moto[server] is missing: installing it with pip");
    let package = "moto[server]";
    let installed = cmd!(sh, "python3 -m pip install --quiet {package}")
        .run()
        .is_ok()
        || cmd!(
            sh,
            "python3 -m pip install --quiet --break-system-packages {package}"
        )
        .run()
        .is_ok();
    if !installed {
        bail!("install the AWS emulator: `python3 -m pip install 'moto[server]'` failed");
    }
    Ok(())
}

/// A free TCP port on loopback.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether something answers HTTPS at `address` with a certificate `ca` signed (any status
/// counts).
pub fn answers(address: SocketAddr, ca: &Path) -> bool {
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    shopstack_testkit::tls::exchange(&format!("https://{address}"), Some(ca), &request)
        .is_ok_and(|answer| answer.starts_with("HTTP/"))
}

/// The moto server with `aws:SecureTransport` evaluated (moto ignores `Bool` conditions, so the
/// TLS-only bucket policy would deny every object request, TLS or not).
fn launcher() -> PathBuf {
    crate::project_root()
        .join("xtask")
        .join("emulator")
        .join("moto_tls.py")
}

/// A running emulator process.
pub struct Emulator {
    /// The server process.
    pub child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// Its output.
    pub log: PathBuf,
    /// Its CA and certificate.
    pub tls: EmulatorTls,
}

impl Emulator {
    /// Starts the moto server on `address` over TLS with a certificate of a new CA made
    /// in `tls_dir`, its output in `log`. A `detached` server is in its own process group, so it
    /// outlives this process and the terminal's Ctrl-C.
    pub fn start(
        address: SocketAddr,
        log: &Path,
        tls_dir: &Path,
        detached: bool,
    ) -> anyhow::Result<Self> {
        let tls = EmulatorTls::create(tls_dir)
            .with_context(|| format!("make the emulator's CA in {}", tls_dir.display()))?;
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
        }
        let output = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let mut command = Command::new("python3");
        command
            .arg(launcher())
            .arg("-H")
            .arg(address.ip().to_string())
            .arg("-p")
            .arg(address.port().to_string())
            .arg("--ssl-cert")
            .arg(tls.cert())
            .arg("--ssl-key")
            .arg(tls.key())
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output);
        if detached {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let child = command
            .spawn()
            .context("start the AWS emulator (python3 xtask/emulator/moto_tls.py)")?;
        let mut emulator = Self {
            child,
            address,
            log: log.to_path_buf(),
            tls,
        };
        emulator.wait_until_answers()?;
        Ok(emulator)
    }

    fn wait_until_answers(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if answers(self.address, &self.tls.ca()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the AWS emulator exited ({status}) before answering; its log: {}",
                    log_tail(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        bail!(
            "the AWS emulator did not answer on {} within {}s; its log: {}",
            self.address,
            START_TIMEOUT.as_secs(),
            log_tail(&self.log)
        )
    }

    /// `https://ADDRESS`.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}

/// The last lines of a log, joined on one line, for error messages.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
