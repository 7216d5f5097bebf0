//! Reading, comparing and server-side applying the Secrets ShopStack owns, and their namespaces.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use thiserror::Error;

use crate::FIELD_MANAGER;
use cluster_gitops::kubeconfig::Connection;

/// Label on every object ShopStack applies.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Errors from the Kubernetes API while reading or writing a Secret or a namespace.
#[derive(Debug, Error)]
pub enum SecretApplyError {
    /// Reading the object failed (other than "not found").
    #[error("read {what} from {server}")]
    Read {
        /// `secret NAMESPACE/NAME`, `namespace NAME`.
        what: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused the apply.
    #[error("apply {what} to {server}")]
    Apply {
        /// `secret NAMESPACE/NAME`, `namespace NAME`.
        what: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// Removing the keys another field manager keeps, or deleting a Secret to replace it, failed.
    #[error("{action} {what} on {server}")]
    Write {
        /// What was being done (`remove keys A, B of`, `delete, to replace,`).
        action: String,
        /// `secret NAMESPACE/NAME`.
        what: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// What happened to an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It existed with other content and was changed in place.
    Updated,
    /// It existed in a form that cannot change in place, and was deleted and created anew.
    Replaced {
        /// Why (`it was of type Opaque`, `it was immutable`).
        reason: String,
    },
    /// It existed with the same content: nothing was written.
    Unchanged,
}

impl std::fmt::Display for Outcome {
    /// `created`, `updated`, `replaced (it was immutable)`, `unchanged`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created => f.write_str("created"),
            Self::Updated => f.write_str("updated"),
            Self::Replaced { reason } => write!(f, "replaced ({reason})"),
            Self::Unchanged => f.write_str("unchanged"),
        }
    }
}

/// A Secret's `type`; the API server's default when none is set.
fn type_of(secret: &Secret) -> &str {
    secret.type_.as_deref().unwrap_or("Opaque")
}

/// Why `existing` cannot become `desired` in place, if it cannot: the API server refuses to
/// change a Secret's `type`, and any data of an `immutable` one.
pub fn replace_reason(existing: &Secret, desired: &Secret) -> Option<String> {
    if type_of(existing) != type_of(desired) {
        return Some(format!("it was of type {}", type_of(existing)));
    }
    existing
        .immutable
        .unwrap_or(false)
        .then(|| "it was immutable".to_owned())
}

/// The metadata of a Secret ShopStack owns: name, namespace, the managed-by label, annotations.
pub fn metadata(name: &str, namespace: &str, annotations: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([(
            MANAGED_BY_LABEL.to_owned(),
            FIELD_MANAGER.to_owned(),
        )])),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

/// The Secret `namespace/name`, or `None` when it (or its namespace) does not exist.
pub async fn get(
    connection: &Connection,
    namespace: &str,
    name: &str,
) -> Result<Option<Secret>, SecretApplyError> {
    let api: Api<Secret> = Api::namespaced(connection.client.clone(), namespace);
    api.get_opt(name)
        .await
        .map_err(|source| SecretApplyError::Read {
            what: format!("secret {namespace}/{name}"),
            server: connection.server.clone(),
            source: Box::new(source),
        })
}

/// Whether `existing` already holds what `desired` describes: same type, same data, and the
/// labels and annotations `desired` sets (others may have added more).
pub fn same_content(existing: &Secret, desired: &Secret) -> bool {
    let empty = BTreeMap::new();
    let data = |secret: &Secret| secret.data.clone().unwrap_or_default();
    let includes = |have: Option<&BTreeMap<String, String>>,
                    want: Option<&BTreeMap<String, String>>| {
        let have = have.unwrap_or(&empty);
        want.unwrap_or(&empty)
            .iter()
            .all(|(key, value)| have.get(key) == Some(value))
    };
    type_of(existing) == type_of(desired)
        && data(existing) == data(desired)
        && includes(
            existing.metadata.labels.as_ref(),
            desired.metadata.labels.as_ref(),
        )
        && includes(
            existing.metadata.annotations.as_ref(),
            desired.metadata.annotations.as_ref(),
        )
}

/// Writes `desired` unless `existing` already has its content (see [`write`]).
pub async fn apply_if_changed(
    connection: &Connection,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<Outcome, SecretApplyError> {
    match existing {
        Some(existing) if same_content(existing, desired) => Ok(Outcome::Unchanged),
        _ => write(connection, existing, desired).await,
    }
}

/// Makes the Secret exactly `desired`, whatever `existing` (the Secret as just read) is: creates
/// it, and its namespace, when there is none; deletes and creates it anew when it cannot change
/// in place ([`replace_reason`]); otherwise applies it and removes the keys another field manager
/// keeps (a Secret first made with `kubectl create secret`, say), which an apply leaves alone.
pub async fn write(
    connection: &Connection,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<Outcome, SecretApplyError> {
    let Some(existing) = existing else {
        if let Some(namespace) = &desired.metadata.namespace {
            ensure_namespace(connection, namespace).await?;
        }
        apply(connection, desired).await?;
        return Ok(Outcome::Created);
    };
    if let Some(reason) = replace_reason(existing, desired) {
        delete_exactly(connection, existing).await?;
        apply(connection, desired).await?;
        return Ok(Outcome::Replaced { reason });
    }
    let stored = apply(connection, desired).await?;
    remove_foreign_keys(connection, &stored, desired).await?;
    Ok(Outcome::Updated)
}

/// Server-side applies `secret` (field manager `shopstack`, taking over conflicting fields);
/// returns the Secret as stored.
pub async fn apply(connection: &Connection, secret: &Secret) -> Result<Secret, SecretApplyError> {
    let (api, namespace, name) = secret_api(connection, secret);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(secret),
    )
    .await
    .map_err(|source| SecretApplyError::Apply {
        what: format!("secret {namespace}/{name}"),
        server: connection.server.clone(),
        source: Box::new(source),
    })
}

fn secret_api(connection: &Connection, secret: &Secret) -> (Api<Secret>, String, String) {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    (
        Api::namespaced(connection.client.clone(), &namespace),
        namespace,
        name,
    )
}

/// Deletes `existing` only if it is still the object that was read (a uid precondition), and
/// waits until it is gone.
async fn delete_exactly(
    connection: &Connection,
    existing: &Secret,
) -> Result<(), SecretApplyError> {
    let (api, namespace, name) = secret_api(connection, existing);
    let failed = |source| SecretApplyError::Write {
        action: "delete, to replace,".to_owned(),
        what: format!("secret {namespace}/{name}"),
        server: connection.server.clone(),
        source: Box::new(source),
    };
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(failed(error)),
    }
}

/// Removes from `stored` the data keys `desired` does not have, guarded by the resource version
/// the apply returned (a concurrent writer makes it fail rather than be overwritten).
async fn remove_foreign_keys(
    connection: &Connection,
    stored: &Secret,
    desired: &Secret,
) -> Result<(), SecretApplyError> {
    let wanted = desired.data.as_ref();
    let foreign: Vec<&String> = stored
        .data
        .iter()
        .flatten()
        .map(|(key, _)| key)
        .filter(|key| !wanted.is_some_and(|data| data.contains_key(*key)))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let (api, namespace, name) = secret_api(connection, stored);
    let removed: serde_json::Map<String, serde_json::Value> = foreign
        .iter()
        .map(|key| ((*key).clone(), serde_json::Value::Null))
        .collect();
    let patch = serde_json::json!({
        "metadata": {"resourceVersion": stored.metadata.resource_version},
        "data": removed,
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(&name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| SecretApplyError::Write {
            action: format!(
                "remove keys {} of",
                foreign
                    .iter()
                    .map(|key| key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            what: format!("secret {namespace}/{name}"),
            server: connection.server.clone(),
            source: Box::new(source),
        })?;
    Ok(())
}

/// Creates namespace `name` by server-side apply when it does not exist; returns whether it did.
pub async fn ensure_namespace(
    connection: &Connection,
    name: &str,
) -> Result<bool, SecretApplyError> {
    let api: Api<Namespace> = Api::all(connection.client.clone());
    let what = || format!("namespace {name}");
    let existing = api
        .get_opt(name)
        .await
        .map_err(|source| SecretApplyError::Read {
            what: what(),
            server: connection.server.clone(),
            source: Box::new(source),
        })?;
    if existing.is_some() {
        return Ok(false);
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_owned(),
                FIELD_MANAGER.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&namespace),
    )
    .await
    .map_err(|source| SecretApplyError::Apply {
        what: what(),
        server: connection.server.clone(),
        source: Box::new(source),
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(data: &[(&str, &str)], annotations: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: metadata(
                "s",
                "ns",
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            type_: Some("Opaque".to_owned()),
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn extra_annotations_from_others_do_not_count_as_a_change() {
        let desired = secret(&[("A", "1")], &[("x", "1")]);
        let existing = secret(&[("A", "1")], &[("x", "1"), ("kubectl", "y")]);
        assert!(same_content(&existing, &desired));
    }

    #[test]
    fn a_changed_value_a_missing_key_or_annotation_is_a_change() {
        let desired = secret(&[("A", "1"), ("B", "2")], &[("x", "1")]);
        assert!(!same_content(
            &secret(&[("A", "1"), ("B", "3")], &[("x", "1")]),
            &desired
        ));
        assert!(!same_content(
            &secret(&[("A", "1")], &[("x", "1")]),
            &desired
        ));
        assert!(!same_content(
            &secret(&[("A", "1"), ("B", "2"), ("C", "3")], &[("x", "1")]),
            &desired
        ));
        assert!(!same_content(
            &secret(&[("A", "1"), ("B", "2")], &[]),
            &desired
        ));
    }
}
