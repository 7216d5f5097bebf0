//! The private CA an environment trusts (its `ca_bundle`, else `AWS_CA_BUNDLE`) and the HTTPS client that trusts it.

use std::path::{Path, PathBuf};

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use thiserror::Error;

use crate::config::{DEFAULT_ENVIRONMENT, Environment, LOCAL_CA_BUNDLE};

/// The variable the AWS CLI, the SDKs and Terraform read a CA bundle from.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

/// A CA bundle that cannot be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{origin}: cannot read the CA bundle {}: {reason}{hint}", path.display())]
    Read {
        /// `AWS_CA_BUNDLE` or `environments.NAME.ca_bundle`.
        origin: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
        /// What makes the file, if ShopStack knows.
        hint: String,
    },
    /// The file holds no PEM certificate, or a malformed one.
    #[error("{origin}: the CA bundle {} {reason}", path.display())]
    Invalid {
        /// `AWS_CA_BUNDLE` or `environments.NAME.ca_bundle`.
        origin: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// PEM certificates to trust instead of the system's roots, as the AWS CLI does with its
/// `ca_bundle`: a private endpoint (a local emulator, a TLS-inspecting proxy) is verified against
/// them, and nothing else is trusted.
#[derive(Debug, Clone)]
pub struct CaBundle {
    path: PathBuf,
    origin: String,
    pem: Vec<u8>,
}

impl CaBundle {
    /// The bundle `environment` trusts: its `ca_bundle` when set (the environment's own, as
    /// Terraform's `custom_ca_bundle` wins over the variable), else `AWS_CA_BUNDLE` when set and
    /// not empty, else none.
    pub fn for_environment(environment: &Environment) -> Result<Option<Self>, TlsError> {
        match &environment.ca_bundle {
            Some(path) => {
                let origin = format!("environments.{}.ca_bundle", environment.name);
                Self::load(path, &origin)
                    .map_err(|error| with_local_hint(error, environment))
                    .map(Some)
            }
            None => Self::from_variable(),
        }
    }

    /// The bundle `AWS_CA_BUNDLE` names, when it is set and not empty.
    pub fn from_variable() -> Result<Option<Self>, TlsError> {
        match std::env::var_os(CA_BUNDLE_VARIABLE).filter(|value| !value.is_empty()) {
            Some(path) => Self::load(Path::new(&path), CA_BUNDLE_VARIABLE).map(Some),
            None => Ok(None),
        }
    }

    /// Reads and checks the bundle at `path`; `origin` names where the path came from.
    pub fn load(path: &Path, origin: &str) -> Result<Self, TlsError> {
        let pem = std::fs::read(path).map_err(|error| TlsError::Read {
            origin: origin.to_owned(),
            path: path.to_path_buf(),
            reason: error.kind().to_string(),
            hint: String::new(),
        })?;
        let invalid = |reason: String| TlsError::Invalid {
            origin: origin.to_owned(),
            path: path.to_path_buf(),
            reason,
        };
        let mut certificates = 0;
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            certificate
                .map_err(|error| invalid(format!("has a malformed certificate: {error}")))?;
            certificates += 1;
        }
        if certificates == 0 {
            return Err(invalid("holds no PEM certificate".to_owned()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            origin: origin.to_owned(),
            pem,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the path came from: `AWS_CA_BUNDLE` or `environments.NAME.ca_bundle`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// An HTTPS client (rustls, the SDK's own stack) that trusts only this bundle.
    pub fn http_client(&self) -> Result<SharedHttpClient, TlsError> {
        let trust = TrustStore::empty().with_pem_certificate(self.pem.clone());
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|error| TlsError::Invalid {
                origin: self.origin.clone(),
                path: self.path.clone(),
                reason: format!("is not usable: {error}"),
            })?;
        Ok(aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https())
    }
}

/// The embedded `local` environment's bundle is made by the command that starts its emulator.
fn with_local_hint(error: TlsError, environment: &Environment) -> TlsError {
    match error {
        TlsError::Read {
            origin,
            path,
            reason,
            ..
        } if environment.name == DEFAULT_ENVIRONMENT && path.ends_with(LOCAL_CA_BUNDLE) => {
            TlsError::Read {
                origin,
                path,
                reason,
                hint: " (the local AWS emulator's CA: `cargo xtask local-aws start` makes it)"
                    .to_owned(),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused_naming_its_origin() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let error = CaBundle::load(&path, "AWS_CA_BUNDLE").expect_err("no certificate");
        assert_eq!(
            error.to_string(),
            format!(
                "AWS_CA_BUNDLE: the CA bundle {} holds no PEM certificate",
                path.display()
            )
        );
        let missing = dir.path().join("missing.pem");
        let error = CaBundle::load(&missing, "environments.lab.ca_bundle").expect_err("missing");
        assert_eq!(
            error.to_string(),
            format!(
                "environments.lab.ca_bundle: cannot read the CA bundle {}: entity not found",
                missing.display()
            )
        );
    }
}
