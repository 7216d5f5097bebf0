//! The spec a cluster was created from, kept in the cluster: ConfigMap `kube-public/shopstack-cluster-spec`.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};
use thiserror::Error;

use crate::FIELD_MANAGER;
use crate::kind_config::{KindConfig, LoadOptions};
use crate::kubeconfig::Connection;

/// Namespace of the spec ConfigMap (readable by every authenticated user, like cluster-info).
pub const NAMESPACE: &str = "kube-public";
/// Name of the spec ConfigMap.
pub const NAME: &str = "shopstack-cluster-spec";
/// Key of the configuration's SHA-256.
pub const HASH_KEY: &str = "spec-sha256";
/// Key of the configuration text, for a human comparing specs (and the hash computed anew).
pub const CONFIG_KEY: &str = "kind-config.yaml";

/// Errors from reading or writing the stored spec.
#[derive(Debug, Error)]
pub enum SpecError {
    /// The ConfigMap could not be read.
    #[error("read ConfigMap {NAMESPACE}/{NAME} at {server}")]
    Read {
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The ConfigMap could not be applied.
    #[error("apply ConfigMap {NAMESPACE}/{NAME} at {server}")]
    Write {
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// The stored spec's hash for `cluster`, `None` when the cluster carries none (not created by
/// ShopStack). It is computed anew from the stored configuration text when that still loads, so
/// that a change of the hash's own format (a ShopStack upgrade) does not look like a new spec;
/// the stored hash is the answer otherwise.
pub async fn stored_hash(
    connection: &Connection,
    cluster: &str,
) -> Result<Option<String>, SpecError> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), NAMESPACE);
    let config_map = api.get_opt(NAME).await.map_err(|source| SpecError::Read {
        server: connection.server.clone(),
        source: Box::new(source),
    })?;
    let Some(mut data) = config_map.and_then(|config_map| config_map.data) else {
        return Ok(None);
    };
    let recomputed = data.get(CONFIG_KEY).and_then(|text| {
        KindConfig::parse(
            Path::new(CONFIG_KEY),
            text,
            LoadOptions { allow_public: true },
        )
        .ok()
        .map(|config| config.spec_hash(cluster))
    });
    Ok(recomputed.or_else(|| data.remove(HASH_KEY)))
}

/// Records `hash` (and the configuration text) by server-side apply.
pub async fn store(
    connection: &Connection,
    hash: &str,
    config_text: &str,
) -> Result<(), SpecError> {
    let api: Api<ConfigMap> = Api::namespaced(connection.client.clone(), NAMESPACE);
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                FIELD_MANAGER.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (HASH_KEY.to_owned(), hash.to_owned()),
            (CONFIG_KEY.to_owned(), config_text.to_owned()),
        ])),
        ..ConfigMap::default()
    };
    api.patch(
        NAME,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&config_map),
    )
    .await
    .map_err(|source| SpecError::Write {
        server: connection.server.clone(),
        source: Box::new(source),
    })?;
    Ok(())
}
