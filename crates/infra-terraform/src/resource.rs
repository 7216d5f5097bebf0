//! The one trait every resource kind implements: read, diff (against `desired`), apply, destroy.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use shopstack_core::AwsCallError;
use shopstack_core::names::MANAGED_BY;
use thiserror::Error;

use crate::terraform_form::Importable;

/// Attribute name → value as shown to people; the unit of diffing.
pub type Attributes = BTreeMap<&'static str, String>;

/// A resource as AWS reports it.
#[derive(Debug, Clone)]
pub struct Live {
    /// Attribute values, named as in [`Resource::desired`].
    pub attributes: Attributes,
    /// Whether it carries `ManagedBy=shopstack`, i.e. ShopStack created it.
    pub managed: bool,
    /// What AWS answered, in the resource's own types, for its [`Resource::terraform`] form.
    pub answers: Answers,
}

/// The answers a resource's read received, kept beside the attributes made from them; only the
/// resource that read them knows their type.
#[derive(Clone)]
pub struct Answers(Arc<dyn Any + Send + Sync>);

impl Answers {
    /// Keeps `answers`.
    pub fn new<T: Any + Send + Sync>(answers: T) -> Self {
        Self(Arc::new(answers))
    }

    /// The answers, when they are a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl std::fmt::Debug for Answers {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Answers(..)")
    }
}

/// Options of `destroy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DestroyOptions {
    /// Delete the state bucket even when it holds objects (every version).
    pub force_delete_state: bool,
    /// Delete the ECR repository even when it holds images.
    pub force_delete_images: bool,
}

/// Errors of resource operations.
#[derive(Debug, Error)]
pub enum ResourceError {
    /// An AWS call failed (after the SDK's retries).
    #[error(transparent)]
    Aws(#[from] AwsCallError),
    /// The state bucket exists in another region than the environment's.
    #[error("state bucket {bucket} lives in region {region}, the environment says {configured}")]
    WrongRegion {
        /// The bucket.
        bucket: String,
        /// Where S3 says it lives.
        region: String,
        /// The environment's region.
        configured: String,
    },
    /// AWS answered in a way the tool cannot use.
    #[error("{resource}: {message}")]
    Unexpected {
        /// The resource's name.
        resource: String,
        /// What was wrong.
        message: String,
    },
}

/// A kind of AWS resource ShopStack manages.
#[async_trait]
pub trait Resource: Send + Sync {
    /// Stable address, e.g. `s3_bucket.state`.
    fn address(&self) -> &'static str;
    /// The resource's name (or identifier) in AWS.
    fn id(&self) -> String;
    /// The addresses of the resources it needs to exist first: `apply` creates it after them,
    /// `destroy` deletes it before them.
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// The attributes it must have.
    fn desired(&self) -> Attributes;
    /// Whether `destroy` deletes it after everything else (the lock table: it holds the lock the
    /// destroy runs under).
    fn destroyed_last(&self) -> bool {
        false
    }
    /// Whether its settings may read back stale for a while after a write (S3's bucket settings),
    /// so that `apply` reads them back until they show what was written.
    fn settles_after_write(&self) -> bool {
        false
    }
    /// Attributes AWS cannot change in place: a difference there is a conflict.
    fn immutable(&self) -> &'static [&'static str] {
        &[]
    }
    /// Reads it from AWS; `None` when it does not exist.
    async fn read(&self) -> Result<Option<Live>, ResourceError>;
    /// Creates it with every desired attribute.
    async fn create(&self) -> Result<(), ResourceError>;
    /// Sets the given drifted attributes to their desired values.
    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError>;
    /// Why `destroy` must keep it, when it must (holds data, still shared).
    async fn keep_reason(
        &self,
        _live: &Live,
        _options: &DestroyOptions,
    ) -> Result<Option<String>, ResourceError> {
        Ok(None)
    }
    /// Deletes it.
    async fn delete(&self, options: &DestroyOptions) -> Result<(), ResourceError>;
    /// Terraform's type of it, e.g. `aws_s3_bucket`: how `export-terraform` names it missing.
    fn terraform_type(&self) -> &'static str;
    /// Its Terraform form, made from what [`Resource::read`] observed: the resource blocks,
    /// each with the id Terraform imports it by.
    fn terraform(&self, live: &Live) -> Vec<Importable>;
    /// Findings beyond attribute drift, e.g. wildcards in a live policy.
    fn audit(&self, _live: &Live) -> Vec<String> {
        Vec::new()
    }
    /// [`ResourceError::Unexpected`] naming this resource: AWS answered in a way the tool cannot
    /// use, or a request could not be built.
    fn unexpected(&self, message: impl std::fmt::Display) -> ResourceError
    where
        Self: Sized,
    {
        ResourceError::Unexpected {
            resource: self.id(),
            message: message.to_string(),
        }
    }
    /// The error of an update asked for an attribute the resource has no call for.
    fn no_setter(&self, attribute: &str) -> ResourceError
    where
        Self: Sized,
    {
        self.unexpected(format_args!("no way to set attribute {attribute}"))
    }
}

/// The `tags` attribute: our three tags as `Key=value, …`, sorted by key.
pub fn tags_attribute<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ours: &[(&'static str, String)],
) -> String {
    let live: BTreeMap<&str, &str> = tags.into_iter().collect();
    let mut shown: Vec<String> = ours
        .iter()
        .filter_map(|(key, _)| live.get(key).map(|value| format!("{key}={value}")))
        .collect();
    shown.sort();
    if shown.is_empty() {
        "(none)".to_owned()
    } else {
        shown.join(", ")
    }
}

/// An encryption attribute as plans show it: the kind (`KMS`, `aws:kms`, `AES256`), then the key
/// when one is named.
pub fn encryption_attribute(kind: &str, key: Option<&str>) -> String {
    key.map_or_else(|| kind.to_owned(), |key| format!("{kind} {key}"))
}

/// The desired `tags` attribute.
pub fn desired_tags(ours: &[(&'static str, String)]) -> String {
    tags_attribute(ours.iter().map(|(key, value)| (*key, value.as_str())), ours)
}

/// Our tags in one SDK's own tag type, each built by `tag(key, value)`.
pub fn sdk_tags<T, E>(
    ours: impl IntoIterator<Item = (&'static str, String)>,
    tag: impl Fn(&'static str, String) -> Result<T, E>,
) -> Result<Vec<T>, E> {
    ours.into_iter()
        .map(|(key, value)| tag(key, value))
        .collect()
}

/// Whether live tags mark the resource as created by ShopStack.
pub fn is_managed<'a>(mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    tags.any(|(key, value)| key == "ManagedBy" && value == MANAGED_BY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Vec<(&'static str, String)> {
        vec![
            ("Project", "shop".to_owned()),
            ("Environment", "dev".to_owned()),
            ("ManagedBy", "shopstack".to_owned()),
        ]
    }

    #[test]
    fn tags_attribute_shows_only_our_keys_sorted() {
        let live = [
            ("Owner", "alice"),
            ("Project", "shop"),
            ("ManagedBy", "shopstack"),
        ];
        assert_eq!(
            tags_attribute(live, &ours()),
            "ManagedBy=shopstack, Project=shop"
        );
        assert_eq!(
            desired_tags(&ours()),
            "Environment=dev, ManagedBy=shopstack, Project=shop"
        );
        assert_eq!(tags_attribute([("Owner", "alice")], &ours()), "(none)");
    }

    #[test]
    fn managed_means_the_managed_by_tag() {
        assert!(is_managed([("ManagedBy", "shopstack")].into_iter()));
        assert!(!is_managed([("ManagedBy", "terraform")].into_iter()));
        assert!(!is_managed(std::iter::empty()));
    }
}
