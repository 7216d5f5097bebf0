//! TLS for the AWS emulator and the test proxy: the emulator's CA and certificate, rustls configurations, and streams that speak TLS or plain TCP.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use crate::cluster::pki::Pki;

/// Environment variable through which `cargo xtask test` hands the tests the emulator's TLS
/// directory (its CA, certificate and key).
pub const TLS_DIR_VARIABLE: &str = "SHOPSTACK_TEST_TLS_DIR";
/// The CA bundle variable the product, the AWS CLI and Terraform read.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";
/// Name of the emulator's certificate and key in its directory.
const SERVER: &str = "aws-emulator";

/// A CA and the certificate it signed for an emulator on loopback (`127.0.0.1`, `::1`,
/// `localhost`): moto serves it, the test proxy serves it too, clients trust the CA.
#[derive(Debug, Clone)]
pub struct EmulatorTls {
    dir: PathBuf,
}

impl EmulatorTls {
    /// Makes a new CA and the emulator's certificate in `dir`, replacing any there.
    pub fn create(dir: &Path) -> io::Result<Self> {
        let pki = Pki::authority(dir).map_err(io::Error::other)?;
        pki.issue(
            SERVER,
            "/CN=shopstack-aws-emulator",
            Some("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"),
        )
        .map_err(io::Error::other)?;
        // Nothing else is ever signed by it: the CA's key has no further use.
        std::fs::remove_file(dir.join("ca.key"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The one `cargo xtask test` made for this run.
    pub fn of_test_run() -> Self {
        match std::env::var_os(TLS_DIR_VARIABLE) {
            Some(dir) if !dir.is_empty() => Self {
                dir: PathBuf::from(dir),
            },
            _ => panic!(
                "{TLS_DIR_VARIABLE} is not set: run the tests with `cargo xtask test`, which starts the AWS emulator over TLS"
            ),
        }
    }

    /// The CA certificate (PEM): what `AWS_CA_BUNDLE` names.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The emulator's certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.join(format!("{SERVER}.crt"))
    }

    /// The emulator's private key (PEM).
    pub fn key(&self) -> PathBuf {
        self.dir.join(format!("{SERVER}.key"))
    }

    /// A rustls server configuration presenting the emulator's certificate.
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let chain = CertificateDer::pem_file_iter(self.cert())
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(self.key()).map_err(io::Error::other)?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(io::Error::other)?;
        Ok(Arc::new(config))
    }
}

/// A rustls client configuration trusting only the CA certificates in `ca` (PEM).
pub fn client_config(ca: &Path) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca).map_err(io::Error::other)? {
        roots
            .add(certificate.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A connection, over TLS or not.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS as the client.
    Client(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
    /// TLS as the server.
    Server(Box<rustls::StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    /// Connects to `host:port`, over TLS when `tls` is given (the host is the server name).
    pub fn connect(authority: &str, tls: Option<&Arc<ClientConfig>>) -> io::Result<Self> {
        let socket = TcpStream::connect(authority)?;
        socket.set_nodelay(true)?;
        let Some(config) = tls else {
            return Ok(Self::Plain(socket));
        };
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).map_err(io::Error::other)?;
        let connection =
            ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
        Ok(Self::Client(Box::new(rustls::StreamOwned::new(
            connection, socket,
        ))))
    }

    /// Accepts `socket` as a TLS server when its first byte opens a TLS handshake and `tls` is
    /// given; otherwise as plain TCP. Returns whether it is TLS.
    pub fn accept(socket: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<(Self, bool)> {
        const HANDSHAKE: u8 = 0x16;
        let mut first = [0u8; 1];
        let handshake = socket.peek(&mut first)? == 1 && first[0] == HANDSHAKE;
        match tls {
            Some(config) if handshake => {
                let connection =
                    ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                Ok((
                    Self::Server(Box::new(rustls::StreamOwned::new(connection, socket))),
                    true,
                ))
            }
            _ => Ok((Self::Plain(socket), false)),
        }
    }

    fn socket(&self) -> &TcpStream {
        match self {
            Self::Plain(socket) => socket,
            Self::Client(stream) => &stream.sock,
            Self::Server(stream) => &stream.sock,
        }
    }

    /// Closes the connection at once, without a TLS close notification.
    pub fn shutdown(&self) {
        let _ = self.socket().shutdown(Shutdown::Both);
    }

    /// Sets the read timeout of the socket.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket().set_read_timeout(timeout)
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(socket) => socket.read(buffer),
            Self::Client(stream) => stream.read(buffer),
            Self::Server(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(socket) => socket.write(buffer),
            Self::Client(stream) => stream.write(buffer),
            Self::Server(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(socket) => socket.flush(),
            Self::Client(stream) => stream.flush(),
            Self::Server(stream) => stream.flush(),
        }
    }
}

/// Sends one HTTP/1.1 `request` (whole, `Connection: close`) to `url` (`http://` or `https://`
/// with the CA bundle `ca`) and reads the answer to its end. A peer that ends TLS without a close
/// notification still gives what it sent.
pub fn exchange(url: &str, ca: Option<&Path>, request: &str) -> io::Result<String> {
    let (authority, tls) = if let Some(rest) = url.strip_prefix("https://") {
        let ca = ca.ok_or_else(|| io::Error::other(format!("no CA bundle to trust {url}")))?;
        (rest, Some(client_config(ca)?))
    } else {
        (url.trim_start_matches("http://"), None)
    };
    let mut stream = Stream::connect(authority.trim_end_matches('/'), tls.as_ref())?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        other => {
            other?;
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The CA bundle of this process (`AWS_CA_BUNDLE`), if any.
pub fn ca_bundle() -> Option<PathBuf> {
    std::env::var_os(CA_BUNDLE_VARIABLE)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}
