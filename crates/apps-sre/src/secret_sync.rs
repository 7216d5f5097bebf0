//! `secrets sync`: the application secret from Secrets Manager as Kubernetes Secret `app-config`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use crate::app_secret::AppConfig;
use crate::secret_apply::{self, Outcome, SecretApplyError};
use cluster_gitops::kubeconfig::Connection;

/// Name of the Kubernetes Secret the application reads its configuration from.
pub const SECRET_NAME: &str = "app-config";
/// Annotation naming the Secrets Manager secret the content came from.
pub const SOURCE_ANNOTATION: &str = "shopstack.io/source";

/// The Secret `namespace/app-config` holding `config`'s application entries.
pub fn desired_secret(namespace: &str, config: &AppConfig) -> Secret {
    let data: BTreeMap<String, ByteString> = config
        .application_entries()
        .map(|(key, value)| (key.clone(), ByteString(value.expose().as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: secret_apply::metadata(
            SECRET_NAME,
            namespace,
            BTreeMap::from([(
                SOURCE_ANNOTATION.to_owned(),
                format!("secretsmanager:{}", config.secret_id),
            )]),
        ),
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Secret::default()
    }
}

/// Reads `namespace/app-config` and applies `config` when its content differs; no write when
/// it is the same.
pub async fn sync(
    connection: &Connection,
    namespace: &str,
    config: &AppConfig,
) -> Result<Outcome, SecretApplyError> {
    let desired = desired_secret(namespace, config);
    let existing = secret_apply::get(connection, namespace, SECRET_NAME).await?;
    secret_apply::apply_if_changed(connection, existing.as_ref(), &desired).await
}
