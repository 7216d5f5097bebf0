//! The state bucket's settings as S3 answered a read, and the plan attributes made from them.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketVersioningStatus, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryptionByDefault, ServerSideEncryptionRule, Tag,
};

use super::{ABORT_UPLOAD_DAYS, NONCURRENT_LOCK_DAYS, StateBucket, bucket_encryption};
use crate::policies::canonical;
use crate::resource::{Attributes, tags_attribute};

/// What each read of the bucket returned; `None` where S3 says the setting is absent.
#[derive(Debug, Default)]
pub(super) struct Settings {
    pub versioning: Option<BucketVersioningStatus>,
    /// The encryption rules.
    pub encryption: Option<Vec<ServerSideEncryptionRule>>,
    pub public_access_block: Option<PublicAccessBlockConfiguration>,
    /// The ownership rules.
    pub ownership: Option<Vec<OwnershipControlsRule>>,
    /// The policy document; `None` also where it is not read (plain http: not ours to set).
    pub policy: Option<String>,
    pub lifecycle: Option<Vec<LifecycleRule>>,
    /// `None` where the bucket has no tag set at all.
    pub tags: Option<Vec<Tag>>,
}

/// `text`, or `none` when empty.
fn or_none(text: String) -> String {
    if text.is_empty() {
        "none".to_owned()
    } else {
        text
    }
}

impl Settings {
    /// The attributes plans diff, `tls_policy` only when `with_policy`.
    pub fn attributes(&self, ours: &[(&'static str, String)], with_policy: bool) -> Attributes {
        let mut attributes = Attributes::from([
            ("versioning", self.versioning()),
            ("encryption", self.encryption()),
            ("public_access_block", self.public_access_block()),
            ("object_ownership", self.ownership()),
            ("lifecycle", self.lifecycle()),
            ("tags", self.tags(ours)),
        ]);
        if with_policy {
            attributes.insert(
                "tls_policy",
                self.policy
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), canonical),
            );
        }
        attributes
    }

    /// Tag pairs as S3 reported them.
    pub fn tag_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags
            .iter()
            .flatten()
            .map(|tag| (tag.key(), tag.value()))
    }

    fn versioning(&self) -> String {
        self.versioning
            .as_ref()
            .map_or("Disabled", BucketVersioningStatus::as_str)
            .to_owned()
    }

    fn encryption(&self) -> String {
        let Some(rules) = &self.encryption else {
            return "none".to_owned();
        };
        let rule = rules.first();
        let by_default =
            rule.and_then(ServerSideEncryptionRule::apply_server_side_encryption_by_default);
        let algorithm = by_default.map_or("none", |default| default.sse_algorithm().as_str());
        let key = by_default.and_then(ServerSideEncryptionByDefault::kms_master_key_id);
        let bucket_key = rule.and_then(ServerSideEncryptionRule::bucket_key_enabled) == Some(true);
        bucket_encryption(algorithm, key, bucket_key)
    }

    fn public_access_block(&self) -> String {
        let Some(blocks) = &self.public_access_block else {
            return "none".to_owned();
        };
        let on: Vec<&str> = [
            ("BlockPublicAcls", blocks.block_public_acls()),
            ("BlockPublicPolicy", blocks.block_public_policy()),
            ("IgnorePublicAcls", blocks.ignore_public_acls()),
            ("RestrictPublicBuckets", blocks.restrict_public_buckets()),
        ]
        .into_iter()
        .filter_map(|(name, on)| (on == Some(true)).then_some(name))
        .collect();
        or_none(on.join(", "))
    }

    fn ownership(&self) -> String {
        self.ownership
            .as_ref()
            .and_then(|rules| rules.first())
            .map_or("none", |rule| rule.object_ownership().as_str())
            .to_owned()
    }

    fn lifecycle(&self) -> String {
        let Some(rules) = &self.lifecycle else {
            return "none".to_owned();
        };
        let enabled = || {
            rules
                .iter()
                .filter(|rule| rule.status() == &ExpirationStatus::Enabled)
        };
        let prefix = |rule: &LifecycleRule| {
            rule.filter()
                .and_then(LifecycleRuleFilter::prefix)
                .unwrap_or_default()
                .to_owned()
        };
        let prefixes = enabled()
            .filter(|rule| {
                rule.noncurrent_version_expiration()
                    .and_then(NoncurrentVersionExpiration::noncurrent_days)
                    == Some(NONCURRENT_LOCK_DAYS)
            })
            .map(prefix)
            .filter(|prefix| !prefix.is_empty());
        // Only a rule with no prefix covers every upload.
        let aborts = enabled().any(|rule| {
            prefix(rule).is_empty()
                && rule
                    .abort_incomplete_multipart_upload()
                    .and_then(AbortIncompleteMultipartUpload::days_after_initiation)
                    == Some(ABORT_UPLOAD_DAYS)
        });
        or_none(StateBucket::lifecycle_description(prefixes, aborts))
    }

    fn tags(&self, ours: &[(&'static str, String)]) -> String {
        if self.tags.is_none() {
            return "none".to_owned();
        }
        tags_attribute(self.tag_pairs(), ours)
    }
}
