//! Reading, comparing and server-side applying the Secrets ShopStack owns, and their namespaces.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
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
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist and was created.
    Created,
    /// It existed with other content and was replaced.
    Updated,
    /// It existed with the same content: nothing was written.
    Unchanged,
}

impl Outcome {
    /// `created`, `updated`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
        }
    }
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
    existing.type_.as_deref().unwrap_or("Opaque") == desired.type_.as_deref().unwrap_or("Opaque")
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

/// Writes `desired` unless `existing` already has its content; creates the namespace first when
/// the Secret did not exist and neither does its namespace.
pub async fn apply_if_changed(
    connection: &Connection,
    existing: Option<&Secret>,
    desired: &Secret,
) -> Result<Outcome, SecretApplyError> {
    match existing {
        Some(existing) if same_content(existing, desired) => Ok(Outcome::Unchanged),
        Some(_) => {
            apply(connection, desired).await?;
            Ok(Outcome::Updated)
        }
        None => {
            if let Some(namespace) = &desired.metadata.namespace {
                ensure_namespace(connection, namespace).await?;
            }
            apply(connection, desired).await?;
            Ok(Outcome::Created)
        }
    }
}

/// Server-side applies `secret` (field manager `shopstack`, taking over conflicting fields).
pub async fn apply(connection: &Connection, secret: &Secret) -> Result<(), SecretApplyError> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(connection.client.clone(), &namespace);
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
