//! Grafana's admin credentials as Secret `grafana-admin`, which the observability chart reads
//! through `grafana.admin.existingSecret`: the password never reaches helm's command line.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use shopstack_core::SecretValue;
use thiserror::Error;

use crate::secret_apply::{self, Outcome, SecretApplyError};
use cluster_gitops::kubeconfig::Connection;

/// Name of the Secret holding Grafana's admin credentials.
pub const SECRET_NAME: &str = "grafana-admin";
/// Its user key (the chart's `grafana.admin.userKey`).
pub const USER_KEY: &str = "admin-user";
/// Its password key (the chart's `grafana.admin.passwordKey`).
pub const PASSWORD_KEY: &str = "admin-password";
/// The admin user name.
pub const ADMIN_USER: &str = "admin";
/// Random bytes in a generated password (32 base64 characters).
const GENERATED_BYTES: usize = 24;

/// Errors from providing Grafana's admin Secret.
#[derive(Debug, Error)]
pub enum GrafanaError {
    /// Reading or writing the Secret failed.
    #[error(transparent)]
    Secret(#[from] SecretApplyError),
    /// No randomness to generate a password from.
    #[error("generate a Grafana admin password: cannot read /dev/urandom")]
    Random(#[source] std::io::Error),
}

/// Where the admin password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// The application secret's `GRAFANA_ADMIN_PASSWORD`.
    AppSecret,
    /// The Secret already in the cluster (kept as it was).
    Existing,
    /// Generated now, as neither of the above had one.
    Generated,
}

/// The Secret `namespace/grafana-admin` holding `password`.
pub fn desired_secret(namespace: &str, password: &SecretValue) -> Secret {
    Secret {
        metadata: secret_apply::metadata(SECRET_NAME, namespace, BTreeMap::new()),
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([
            (
                USER_KEY.to_owned(),
                ByteString(ADMIN_USER.as_bytes().to_vec()),
            ),
            (
                PASSWORD_KEY.to_owned(),
                ByteString(password.expose().as_bytes().to_vec()),
            ),
        ])),
        ..Secret::default()
    }
}

/// Makes sure `namespace/grafana-admin` holds the password from the application secret when it
/// has one; otherwise keeps the Secret in the cluster, or generates a password when there is none.
pub async fn ensure_admin_secret(
    connection: &Connection,
    namespace: &str,
    from_app_secret: Option<&SecretValue>,
) -> Result<(PasswordSource, Outcome), GrafanaError> {
    let existing = secret_apply::get(connection, namespace, SECRET_NAME).await?;
    let (source, password) = match (from_app_secret, &existing) {
        (Some(password), _) => (PasswordSource::AppSecret, password.clone()),
        (None, Some(secret)) if has_password(secret) => {
            return Ok((PasswordSource::Existing, Outcome::Unchanged));
        }
        (None, _) => (
            PasswordSource::Generated,
            generate_password().map_err(GrafanaError::Random)?,
        ),
    };
    let outcome = secret_apply::apply_if_changed(
        connection,
        existing.as_ref(),
        &desired_secret(namespace, &password),
    )
    .await?;
    Ok((source, outcome))
}

fn has_password(secret: &Secret) -> bool {
    secret
        .data
        .as_ref()
        .and_then(|data| data.get(PASSWORD_KEY))
        .is_some_and(|value| !value.0.is_empty())
}

/// A random password: 24 bytes of `/dev/urandom`, URL-safe base64.
pub fn generate_password() -> Result<SecretValue, std::io::Error> {
    let mut bytes = [0u8; GENERATED_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(SecretValue::new(URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let first = generate_password().unwrap();
        let second = generate_password().unwrap();
        assert_eq!(first.expose().len(), 32);
        assert_ne!(first, second);
    }
}
