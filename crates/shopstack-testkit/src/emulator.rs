//! The moto AWS emulator as a process: started on loopback over TLS, waited for, stopped.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::EmulatorTls;

/// How long a starting emulator may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The moto server with AWS's authorization context (`aws:SecureTransport`, resource ARNs,
/// condition keys) that moto lacks; the script says what it adds and why.
pub fn launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../xtask/emulator/moto_tls.py")
        .components()
        .collect()
}

/// A free TCP port on loopback.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether something answers HTTPS at `address` with a certificate `ca` signed (any status
/// counts).
pub fn answers(address: SocketAddr, ca: &Path) -> bool {
    let request =
        format!("GET /moto-api/ HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    crate::tls::exchange(&format!("https://{address}"), Some(ca), &request)
        .is_ok_and(|answer| answer.starts_with("HTTP/"))
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
    /// Starts the moto server on `address` over TLS with a certificate of a new CA made in
    /// `tls_dir`, its output in `log`. A `detached` server is in its own process group, so it
    /// outlives this process and the terminal's Ctrl-C.
    pub fn start(
        address: SocketAddr,
        log: &Path,
        tls_dir: &Path,
        detached: bool,
    ) -> io::Result<Self> {
        let tls = EmulatorTls::create(tls_dir).map_err(|error| {
            io::Error::other(format!(
                "make the emulator's CA in {}: {error}",
                tls_dir.display()
            ))
        })?;
        Self::start_with(address, log, tls, detached)
    }

    /// A server of the test's own on a free port, with the test run's certificate: for what
    /// changes the whole server (IAM enforcement is global to it). Stopped when dropped.
    pub fn private(log_dir: &Path) -> io::Result<StopOnDrop> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let log = log_dir.join(format!("moto-{}.log", address.port()));
        Self::start_with(address, &log, EmulatorTls::of_test_run(), false).map(StopOnDrop)
    }

    fn start_with(
        address: SocketAddr,
        log: &Path,
        tls: EmulatorTls,
        detached: bool,
    ) -> io::Result<Self> {
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let output = File::create(log)?;
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
        let child = command.spawn().map_err(|error| {
            io::Error::other(format!(
                "start the AWS emulator (python3 {}): {error}",
                launcher().display()
            ))
        })?;
        let mut emulator = Self {
            child,
            address,
            log: log.to_path_buf(),
            tls,
        };
        emulator.wait_until_answers()?;
        Ok(emulator)
    }

    fn wait_until_answers(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if answers(self.address, &self.tls.ca()) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "the AWS emulator exited ({status}) before answering; its log: {}",
                    log_tail(&self.log)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        Err(io::Error::other(format!(
            "the AWS emulator did not answer on {} within {}s; its log: {}",
            self.address,
            START_TIMEOUT.as_secs(),
            log_tail(&self.log)
        )))
    }

    /// `https://ADDRESS`.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// Turns moto's IAM enforcement on (`true`: every later request is authenticated and
    /// authorized against its principal's policies) or off, for the whole server.
    pub fn enforce_iam(&self, on: bool) -> io::Result<()> {
        let count = if on { "0" } else { "inf" };
        let request = format!(
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{count}",
            self.address,
            count.len()
        );
        let answer = crate::tls::exchange(&self.url(), Some(&self.tls.ca()), &request)?;
        if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "moto refused reset-auth: {answer}"
            )))
        }
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An emulator stopped when this is dropped: on success, failure or panic alike.
pub struct StopOnDrop(pub Emulator);

impl std::ops::Deref for StopOnDrop {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.0
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// The last lines of a log, joined on one line, for error messages.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
