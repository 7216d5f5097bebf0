//! `pull-secret`: the ECR token as Secret `ecr-pull`, refreshed when older than 6 hours, and
//! attached to the namespace's default ServiceAccount.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{LocalObjectReference, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use thiserror::Error;

use crate::FIELD_MANAGER;
use crate::ecr_login::RegistryLogin;
use crate::secret_apply::{self, Outcome, SecretApplyError};
use cluster_gitops::kubeconfig::Connection;

/// Name of the image pull Secret.
pub const SECRET_NAME: &str = "ecr-pull";
/// Type of a Secret holding a docker `config.json`.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// Data key of that type.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// Annotation: when the token was fetched (RFC 3339).
pub const CREATED_AT_ANNOTATION: &str = "shopstack.io/token-created-at";
/// Annotation: when the token expires (RFC 3339).
pub const EXPIRES_AT_ANNOTATION: &str = "shopstack.io/token-expires-at";
/// Annotation: the registry the token is for.
pub const REGISTRY_ANNOTATION: &str = "shopstack.io/registry";
/// A token is replaced once it is this old (ECR tokens live 12 hours), or when it has less than
/// this left to live.
pub const REFRESH_AFTER: Duration = Duration::from_secs(6 * 3600);
/// The ServiceAccount pods use when they name none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Errors from writing the pull secret or attaching it.
#[derive(Debug, Error)]
pub enum PullSecretError {
    /// Reading or writing the Secret or its namespace failed.
    #[error(transparent)]
    Secret(#[from] SecretApplyError),
    /// Reading or changing the default ServiceAccount failed.
    #[error(
        "attach {SECRET_NAME} to serviceaccount {namespace}/{DEFAULT_SERVICE_ACCOUNT} on {server}"
    )]
    ServiceAccount {
        /// The namespace.
        namespace: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Whether the Secret in the cluster can stay, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Young enough and for the right registry.
    Fresh {
        /// Its age.
        age: Duration,
    },
    /// There is no such Secret.
    Missing,
    /// It has no readable creation annotation, or is not of the dockerconfigjson type.
    Unknown,
    /// It is older than [`REFRESH_AFTER`].
    Stale {
        /// Its age.
        age: Duration,
    },
    /// Its token expires in less than [`REFRESH_AFTER`].
    ExpiresSoon,
    /// It is for another registry.
    OtherRegistry,
}

impl Freshness {
    /// Whether the Secret must be written.
    pub fn needs_refresh(&self) -> bool {
        !matches!(self, Self::Fresh { .. })
    }

    /// A few words for the report.
    pub fn describe(&self) -> String {
        match self {
            Self::Fresh { age } => format!("fresh, {} old", minutes(*age)),
            Self::Missing => "created".to_owned(),
            Self::Unknown => "refreshed (no token timestamps)".to_owned(),
            Self::Stale { age } => format!("refreshed ({} old)", minutes(*age)),
            Self::ExpiresSoon => "refreshed (token expiring)".to_owned(),
            Self::OtherRegistry => "refreshed (another registry)".to_owned(),
        }
    }
}

fn minutes(age: Duration) -> String {
    let minutes = age.as_secs() / 60;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

/// Judges `existing` against the registry in use at time `now`.
pub fn freshness(existing: Option<&Secret>, registry: &str, now: Timestamp) -> Freshness {
    let Some(secret) = existing else {
        return Freshness::Missing;
    };
    if secret.type_.as_deref() != Some(DOCKER_CONFIG_JSON) {
        return Freshness::Unknown;
    }
    let annotation = |key: &str| {
        secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(key))
    };
    let Some(created) =
        annotation(CREATED_AT_ANNOTATION).and_then(|text| text.parse::<Timestamp>().ok())
    else {
        return Freshness::Unknown;
    };
    if annotation(REGISTRY_ANNOTATION).map(String::as_str) != Some(registry) {
        return Freshness::OtherRegistry;
    }
    let age = Duration::from_secs(
        u64::try_from(now.as_second().saturating_sub(created.as_second())).unwrap_or(0),
    );
    if age >= REFRESH_AFTER {
        return Freshness::Stale { age };
    }
    if let Some(expires) =
        annotation(EXPIRES_AT_ANNOTATION).and_then(|text| text.parse::<Timestamp>().ok())
    {
        let left = expires.as_second().saturating_sub(now.as_second());
        if left < i64::try_from(REFRESH_AFTER.as_secs()).unwrap_or(i64::MAX) {
            return Freshness::ExpiresSoon;
        }
    }
    Freshness::Fresh { age }
}

/// The Secret `namespace/ecr-pull` for `login`, fetched at `now`.
pub fn desired_secret(namespace: &str, login: &RegistryLogin, now: Timestamp) -> Secret {
    let mut annotations = BTreeMap::from([
        (CREATED_AT_ANNOTATION.to_owned(), now.to_string()),
        (REGISTRY_ANNOTATION.to_owned(), login.registry.clone()),
    ]);
    if let Some(expires) = login.expires_at {
        annotations.insert(EXPIRES_AT_ANNOTATION.to_owned(), expires.to_string());
    }
    Secret {
        metadata: secret_apply::metadata(SECRET_NAME, namespace, annotations),
        type_: Some(DOCKER_CONFIG_JSON.to_owned()),
        data: Some(BTreeMap::from([(
            DOCKER_CONFIG_JSON_KEY.to_owned(),
            ByteString(login.docker_config_json().expose().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// What `ensure` did in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The namespace.
    pub namespace: String,
    /// The Secret's state before, which decided whether it was written.
    pub secret: Freshness,
    /// What the write did, when there was one.
    pub written: Option<Outcome>,
    /// Whether the default ServiceAccount was changed (or created) to name the Secret.
    pub attached: bool,
}

/// Writes `namespace/ecr-pull` from `login` unless the one there is fresh, then makes sure the
/// default ServiceAccount lists it in `imagePullSecrets`.
pub async fn ensure(
    connection: &Connection,
    namespace: &str,
    login: &RegistryLogin,
    now: Timestamp,
) -> Result<Report, PullSecretError> {
    let existing = secret_apply::get(connection, namespace, SECRET_NAME).await?;
    let state = freshness(existing.as_ref(), &login.registry, now);
    let written = if state.needs_refresh() {
        let desired = desired_secret(namespace, login, now);
        Some(secret_apply::write(connection, existing.as_ref(), &desired).await?)
    } else {
        None
    };
    let attached = attach(connection, namespace).await?;
    Ok(Report {
        namespace: namespace.to_owned(),
        secret: state,
        written,
        attached,
    })
}

/// Adds `ecr-pull` to the default ServiceAccount's `imagePullSecrets` (keeping the others), or
/// creates the ServiceAccount with it when the controller has not made it yet. Returns whether
/// anything was written.
async fn attach(connection: &Connection, namespace: &str) -> Result<bool, PullSecretError> {
    let error = |source| PullSecretError::ServiceAccount {
        namespace: namespace.to_owned(),
        server: connection.server.clone(),
        source: Box::new(source),
    };
    let api: Api<ServiceAccount> = Api::namespaced(connection.client.clone(), namespace);
    let reference = LocalObjectReference {
        name: SECRET_NAME.to_owned(),
    };
    // The token controller updates a new namespace's ServiceAccount moments after creating it,
    // so a guarded patch can meet a 409: read it again and retry, a few times.
    let mut attempt = 1;
    loop {
        match add_reference(&api, namespace, &reference).await {
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < ATTACH_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                    .await;
            }
            result => return result.map_err(error),
        }
    }
}

/// How many times a conflicting ServiceAccount patch is tried.
const ATTACH_ATTEMPTS: u32 = 3;

/// One read and one write of the default ServiceAccount; whether anything was written.
async fn add_reference(
    api: &Api<ServiceAccount>,
    namespace: &str,
    reference: &LocalObjectReference,
) -> Result<bool, kube::Error> {
    match api.get_opt(DEFAULT_SERVICE_ACCOUNT).await? {
        Some(account) => {
            let mut secrets = account.image_pull_secrets.unwrap_or_default();
            if secrets.contains(reference) {
                return Ok(false);
            }
            secrets.push(reference.clone());
            // The resource version makes the API server refuse the patch if someone changed the
            // list in between, instead of losing their entry.
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": account.metadata.resource_version},
                "imagePullSecrets": secrets,
            });
            api.patch(
                DEFAULT_SERVICE_ACCOUNT,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        }
        None => {
            let account = ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(DEFAULT_SERVICE_ACCOUNT.to_owned()),
                    namespace: Some(namespace.to_owned()),
                    ..ObjectMeta::default()
                },
                image_pull_secrets: Some(vec![reference.clone()]),
                ..ServiceAccount::default()
            };
            api.patch(
                DEFAULT_SERVICE_ACCOUNT,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&account),
            )
            .await?;
        }
    }
    Ok(true)
}

/// The current time, to the second.
pub fn now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Timestamp::from_second(i64::try_from(seconds).unwrap_or(0)).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn existing(created: &str, expires: &str, registry: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([
                    (CREATED_AT_ANNOTATION.to_owned(), created.to_owned()),
                    (EXPIRES_AT_ANNOTATION.to_owned(), expires.to_owned()),
                    (REGISTRY_ANNOTATION.to_owned(), registry.to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            type_: Some(DOCKER_CONFIG_JSON.to_owned()),
            ..Secret::default()
        }
    }

    #[test]
    fn a_token_younger_than_six_hours_stays() {
        let secret = existing("2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z", REGISTRY);
        assert_eq!(
            freshness(Some(&secret), REGISTRY, at("2026-01-01T05:59:00Z")),
            Freshness::Fresh {
                age: Duration::from_secs(5 * 3600 + 59 * 60)
            }
        );
    }

    #[test]
    fn a_token_six_hours_old_is_refreshed() {
        let secret = existing("2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z", REGISTRY);
        assert_eq!(
            freshness(Some(&secret), REGISTRY, at("2026-01-01T06:00:00Z")),
            Freshness::Stale { age: REFRESH_AFTER }
        );
    }

    #[test]
    fn a_short_lived_token_is_refreshed_early() {
        let secret = existing("2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z", REGISTRY);
        assert_eq!(
            freshness(Some(&secret), REGISTRY, at("2026-01-01T01:00:00Z")),
            Freshness::ExpiresSoon
        );
    }

    #[test]
    fn missing_unannotated_or_foreign_secrets_are_refreshed() {
        let now = at("2026-01-01T01:00:00Z");
        assert_eq!(freshness(None, REGISTRY, now), Freshness::Missing);
        let mut unannotated = existing("x", "y", REGISTRY);
        unannotated.metadata.annotations = None;
        assert_eq!(
            freshness(Some(&unannotated), REGISTRY, now),
            Freshness::Unknown
        );
        let foreign = existing("2026-01-01T00:30:00Z", "2026-01-01T12:30:00Z", "other");
        assert_eq!(
            freshness(Some(&foreign), REGISTRY, now),
            Freshness::OtherRegistry
        );
    }
}
