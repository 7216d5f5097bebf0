//! The cluster's certificates: a CA, the API server's serving and kubelet-client certificates,
//! one client certificate per component, each kubelet's pair, and the service-account key.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{ClusterError, command};

/// Where the certificates of one cluster live: `NAME.crt` and `NAME.key` in one directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
}

/// The Service ClusterIP of `kubernetes.default`, inside the cluster's service range.
pub const API_SERVICE_IP: &str = "10.96.0.1";

impl Pki {
    /// Creates the CA and every certificate the control plane and `nodes` (name, address) need,
    /// in `dir`.
    pub fn create(dir: &Path, nodes: &[(String, String)]) -> Result<Self, ClusterError> {
        let pki = Self::authority(dir)?;
        let api_names = format!(
            "subjectAltName=IP:127.0.0.1,IP:{API_SERVICE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
        );
        pki.issue("apiserver", "/CN=kube-apiserver", Some(&api_names))?;
        pki.issue(
            "apiserver-kubelet-client",
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            None,
        )?;
        pki.issue("admin", "/O=system:masters/CN=kubernetes-admin", None)?;
        pki.issue(
            "controller-manager",
            "/CN=system:kube-controller-manager",
            None,
        )?;
        pki.issue("scheduler", "/CN=system:kube-scheduler", None)?;
        for (node, address) in nodes {
            pki.issue(
                &format!("kubelet-{node}"),
                &format!("/O=system:nodes/CN=system:node:{node}"),
                Some(&format!("subjectAltName=IP:{address},DNS:{node}")),
            )?;
        }
        openssl(&[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
            &pki.key("service-account"),
        ])?;
        openssl(&[
            "ec",
            "-in",
            &pki.key("service-account"),
            "-pubout",
            "-out",
            &pki.public_key("service-account"),
        ])?;
        Ok(pki)
    }

    /// A new CA (`ca.crt`, `ca.key`) in `dir`, with nothing signed by it yet.
    pub fn authority(dir: &Path) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(dir).map_err(|error| ClusterError::io(dir, error))?;
        let pki = Self {
            dir: dir.to_path_buf(),
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=shopstack-test-ca",
            "-keyout",
            &pki.key("ca"),
            "-out",
            &pki.cert("ca"),
        ])?;
        Ok(pki)
    }

    /// The certificate file of `name`.
    pub fn cert(&self, name: &str) -> String {
        self.dir.join(format!("{name}.crt")).display().to_string()
    }

    /// The private key file of `name`.
    pub fn key(&self, name: &str) -> String {
        self.dir.join(format!("{name}.key")).display().to_string()
    }

    /// The public key file of `name` (the service-account key).
    pub fn public_key(&self, name: &str) -> String {
        self.dir.join(format!("{name}.pub")).display().to_string()
    }

    /// A key and a certificate for `subject`, signed by the CA, usable for TLS client and server
    /// authentication, with `names` as its subject alternative names when given.
    pub fn issue(
        &self,
        name: &str,
        subject: &str,
        names: Option<&str>,
    ) -> Result<(), ClusterError> {
        let usage = "extendedKeyUsage=serverAuth,clientAuth";
        let mut args = vec![
            "req".to_owned(),
            "-x509".to_owned(),
            "-newkey".to_owned(),
            "ec".to_owned(),
            "-pkeyopt".to_owned(),
            "ec_paramgen_curve:prime256v1".to_owned(),
            "-nodes".to_owned(),
            "-days".to_owned(),
            "30".to_owned(),
            "-subj".to_owned(),
            subject.to_owned(),
            "-CA".to_owned(),
            self.cert("ca"),
            "-CAkey".to_owned(),
            self.key("ca"),
            "-addext".to_owned(),
            usage.to_owned(),
            "-addext".to_owned(),
            "basicConstraints=critical,CA:FALSE".to_owned(),
            "-addext".to_owned(),
            "keyUsage=critical,digitalSignature,keyEncipherment".to_owned(),
            "-keyout".to_owned(),
            self.key(name),
            "-out".to_owned(),
            self.cert(name),
        ];
        if let Some(names) = names {
            args.push("-addext".to_owned());
            args.push(names.to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(&args)
    }
}

fn openssl(args: &[&str]) -> Result<(), ClusterError> {
    let what = format!("openssl {}", args.first().copied().unwrap_or_default());
    command::run(Command::new("openssl").args(args), &what, "").map(drop)
}
