//! The Terraform state bucket: versioned, KMS-encrypted, private, TLS-only, lock versions expiring.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectIdentifier, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use futures::future::try_join_all;
use shopstack_core::error_chain::aws_error_code;

use crate::context::Context;
use crate::policies::{canonical, tls_only_bucket_policy};
use crate::resource::{
    Attributes, DestroyOptions, Live, Resource, ResourceError, aws, desired_tags,
    encryption_attribute, is_managed, sdk_tags, tags_attribute,
};
use crate::retry;

/// Days a replaced or deleted lock file version is kept.
const NONCURRENT_LOCK_DAYS: i32 = 1;
/// Days after which an upload left incomplete is aborted (its parts stop being stored).
const ABORT_UPLOAD_DAYS: i32 = 7;
/// The four public-access blocks, as the attribute shows them when all are on.
const ALL_PUBLIC_ACCESS_BLOCKED: &str =
    "BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls, RestrictPublicBuckets";
/// The encryption attribute: SSE-KMS, with the key when one is named, and the bucket key.
fn bucket_encryption(algorithm: &str, key: Option<&str>, bucket_key: bool) -> String {
    let text = encryption_attribute(algorithm, key);
    if bucket_key {
        format!("{text}, bucket key")
    } else {
        text
    }
}

/// The state bucket of the environment.
pub struct StateBucket {
    context: Arc<Context>,
}

impl StateBucket {
    /// The state bucket of `context`'s environment.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn bucket(&self) -> String {
        self.context.names.state_bucket()
    }

    /// Keys of lock files whose old versions expire: Terraform's and the tool's own.
    fn lock_keys(&self) -> [String; 2] {
        let names = &self.context.names;
        [
            format!("{}.tflock", names.state_key()),
            format!("{}.tflock", names.infra_lock_path()),
        ]
    }

    /// The lifecycle as plans show it: the lock files whose old versions expire, and whether
    /// uploads left incomplete anywhere in the bucket are aborted.
    fn lifecycle_description(prefixes: impl IntoIterator<Item = String>, aborts: bool) -> String {
        let mut rules: Vec<String> = prefixes
            .into_iter()
            .map(|prefix| {
                format!("{prefix}: noncurrent versions expire after {NONCURRENT_LOCK_DAYS} day")
            })
            .collect();
        rules.sort();
        if aborts {
            rules.push(format!(
                "every key: incomplete uploads are aborted after {ABORT_UPLOAD_DAYS} days"
            ));
        }
        rules.join("; ")
    }

    /// Our tags, as S3 takes them.
    fn tag_set(&self) -> Result<Vec<Tag>, ResourceError> {
        sdk_tags(self.context.names.tags(), |key, value| {
            Tag::builder().key(key).value(value).build()
        })
        .map_err(|error| self.unexpected(error))
    }

    /// Whether the bucket holds no object, not even an old version or a delete marker, besides
    /// this tool's own lock file: the lock of the running command when the lock table is gone
    /// (a destroy resumed after the table was deleted), which is not state.
    /// The key of the lockfile `apply` and `destroy` take when only the bucket exists.
    fn own_lockfile(&self) -> String {
        format!(
            "{}{}",
            self.context.names.infra_lock_path(),
            crate::lock::LOCKFILE_SUFFIX
        )
    }

    async fn is_empty(&self) -> Result<bool, ResourceError> {
        let bucket = self.bucket();
        let own_lock = self.own_lockfile();
        let listing = self
            .context
            .s3
            .list_object_versions()
            .bucket(&bucket)
            .max_keys(10)
            .send()
            .await
            .map_err(aws("S3", "ListObjectVersions", &bucket))?;
        let keys = listing
            .versions()
            .iter()
            .map(|version| version.key())
            .chain(listing.delete_markers().iter().map(|marker| marker.key()));
        let others = keys.filter(|key| *key != Some(own_lock.as_str())).count();
        Ok(others == 0 && !listing.is_truncated().unwrap_or(false))
    }

    /// Turns a read error into: bucket missing (`Ok(None)`), setting absent (`Ok(Some("none"))`),
    /// or a failure.
    fn classify<E>(
        &self,
        operation: &'static str,
        absent_code: &str,
        error: SdkError<E, HttpResponse>,
    ) -> Result<Option<String>, ResourceError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        // The bucket lives in another region (the environment's region was changed, say): S3
        // answers 301 PermanentRedirect naming that region in `x-amz-bucket-region`.
        let redirected = aws_error_code(&error) == Some("PermanentRedirect")
            || error
                .raw_response()
                .is_some_and(|response| response.status().as_u16() == 301);
        if redirected {
            let region = error
                .raw_response()
                .and_then(|response| response.headers().get("x-amz-bucket-region"))
                .unwrap_or("another region")
                .to_owned();
            return Err(ResourceError::WrongRegion {
                bucket: self.bucket(),
                region,
                configured: self.context.region().to_owned(),
            });
        }
        match aws_error_code(&error) {
            Some("NoSuchBucket") => Ok(None),
            Some(code) if code == absent_code => Ok(Some("none".to_owned())),
            _ => Err(aws("S3", operation, &self.bucket())(error)),
        }
    }

    async fn read_versioning(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_bucket_versioning()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .status()
                    .map_or("Disabled", BucketVersioningStatus::as_str)
                    .to_owned(),
            )),
            Err(error) => self.classify("GetBucketVersioning", "", error),
        }
    }

    async fn read_encryption(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_bucket_encryption()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => {
                let rule = output
                    .server_side_encryption_configuration()
                    .and_then(|configuration| configuration.rules().first());
                let by_default = rule
                    .and_then(ServerSideEncryptionRule::apply_server_side_encryption_by_default);
                let algorithm =
                    by_default.map_or("none", |default| default.sse_algorithm().as_str());
                let key = by_default.and_then(ServerSideEncryptionByDefault::kms_master_key_id);
                let bucket_key =
                    rule.and_then(ServerSideEncryptionRule::bucket_key_enabled) == Some(true);
                Ok(Some(bucket_encryption(algorithm, key, bucket_key)))
            }
            Err(error) => self.classify(
                "GetBucketEncryption",
                "ServerSideEncryptionConfigurationNotFoundError",
                error,
            ),
        }
    }

    async fn read_public_access_block(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_public_access_block()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => {
                let blocks = output.public_access_block_configuration();
                let flag = |get: fn(&PublicAccessBlockConfiguration) -> Option<bool>| {
                    blocks.and_then(get) == Some(true)
                };
                let on: Vec<&str> = [
                    (
                        "BlockPublicAcls",
                        flag(PublicAccessBlockConfiguration::block_public_acls),
                    ),
                    (
                        "BlockPublicPolicy",
                        flag(PublicAccessBlockConfiguration::block_public_policy),
                    ),
                    (
                        "IgnorePublicAcls",
                        flag(PublicAccessBlockConfiguration::ignore_public_acls),
                    ),
                    (
                        "RestrictPublicBuckets",
                        flag(PublicAccessBlockConfiguration::restrict_public_buckets),
                    ),
                ]
                .into_iter()
                .filter_map(|(name, on)| on.then_some(name))
                .collect();
                Ok(Some(if on.is_empty() {
                    "none".to_owned()
                } else {
                    on.join(", ")
                }))
            }
            Err(error) => self.classify(
                "GetPublicAccessBlock",
                "NoSuchPublicAccessBlockConfiguration",
                error,
            ),
        }
    }

    async fn read_ownership(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_bucket_ownership_controls()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output
                    .ownership_controls()
                    .and_then(|controls| controls.rules().first())
                    .map_or("none", |rule| rule.object_ownership().as_str())
                    .to_owned(),
            )),
            Err(error) => self.classify(
                "GetBucketOwnershipControls",
                "OwnershipControlsNotFoundError",
                error,
            ),
        }
    }

    async fn read_policy(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_bucket_policy()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => Ok(Some(
                output.policy().map_or_else(|| "none".to_owned(), canonical),
            )),
            Err(error) => self.classify("GetBucketPolicy", "NoSuchBucketPolicy", error),
        }
    }

    async fn read_lifecycle(&self) -> Result<Option<String>, ResourceError> {
        match self
            .context
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(self.bucket())
            .send()
            .await
        {
            Ok(output) => {
                let enabled = || {
                    output
                        .rules()
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
                let description = Self::lifecycle_description(prefixes, aborts);
                Ok(Some(if description.is_empty() {
                    "none".to_owned()
                } else {
                    description
                }))
            }
            Err(error) => self.classify(
                "GetBucketLifecycleConfiguration",
                "NoSuchLifecycleConfiguration",
                error,
            ),
        }
    }

    /// The `tags` attribute, and whether the bucket is ours: tagged `ManagedBy=shopstack`, or
    /// without any tag and empty.
    ///
    /// `create` tags the bucket in its CreateBucket and, for an S3 that ignores tags there (as
    /// the emulator does), again first thing after it. A run killed between the two leaves the
    /// bucket empty and untagged: that is a creation of ours cut short, so the next apply
    /// finishes it rather than adopting it untagged or refusing it as a conflict.
    async fn read_tags(&self) -> Result<Option<(String, bool)>, ResourceError> {
        let tagging = self
            .context
            .s3
            .get_bucket_tagging()
            .bucket(self.bucket())
            .send()
            .await;
        let (attribute, managed, untagged) = match tagging {
            Ok(output) => {
                let pairs = || output.tag_set().iter().map(|tag| (tag.key(), tag.value()));
                (
                    tags_attribute(pairs(), &self.context.names.tags()),
                    is_managed(pairs()),
                    output.tag_set().is_empty(),
                )
            }
            Err(error) => match self.classify("GetBucketTagging", "NoSuchTagSet", error)? {
                Some(none) => (none, false, true),
                None => return Ok(None),
            },
        };
        let cut_short = untagged && self.is_empty().await?;
        if cut_short {
            tracing::info!(
                bucket = self.bucket(),
                "an empty bucket without tags: a creation cut short, finished by apply"
            );
        }
        Ok(Some((attribute, managed || cut_short)))
    }

    async fn put(&self, attribute: &str) -> Result<(), ResourceError> {
        let s3 = &self.context.s3;
        let bucket = self.bucket();
        match attribute {
            "versioning" => {
                let configuration = VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build();
                let request = s3
                    .put_bucket_versioning()
                    .bucket(&bucket)
                    .versioning_configuration(configuration);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketVersioning", &bucket))?;
            }
            "encryption" => {
                // Without a key named, S3 uses the account's aws/s3 key.
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .set_kms_master_key_id(self.context.kms_key_arn().map(str::to_owned))
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let rule = ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .bucket_key_enabled(true)
                    .build();
                let configuration = ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = s3
                    .put_bucket_encryption()
                    .bucket(&bucket)
                    .server_side_encryption_configuration(configuration);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketEncryption", &bucket))?;
            }
            "public_access_block" => {
                let configuration = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true)
                    .build();
                let request = s3
                    .put_public_access_block()
                    .bucket(&bucket)
                    .public_access_block_configuration(configuration);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutPublicAccessBlock", &bucket))?;
            }
            "object_ownership" => {
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = s3
                    .put_bucket_ownership_controls()
                    .bucket(&bucket)
                    .ownership_controls(controls);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketOwnershipControls", &bucket))?;
            }
            "tls_policy" => {
                let policy = tls_only_bucket_policy(&self.context.state_bucket_arn()).to_string();
                let request = s3.put_bucket_policy().bucket(&bucket).policy(policy);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketPolicy", &bucket))?;
            }
            "lifecycle" => {
                let mut configuration = BucketLifecycleConfiguration::builder();
                for (index, key) in self.lock_keys().into_iter().enumerate() {
                    let rule = LifecycleRule::builder()
                        .id(format!("expire-noncurrent-lock-versions-{index}"))
                        .filter(LifecycleRuleFilter::builder().prefix(key).build())
                        .status(ExpirationStatus::Enabled)
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder()
                                .noncurrent_days(NONCURRENT_LOCK_DAYS)
                                .build(),
                        )
                        .expiration(
                            LifecycleExpiration::builder()
                                .expired_object_delete_marker(true)
                                .build(),
                        )
                        .build()
                        .map_err(|error| self.unexpected(error))?;
                    configuration = configuration.rules(rule);
                }
                // Every key: checkov's CKV_AWS_300 wants a rule that covers the whole bucket.
                let aborts = LifecycleRule::builder()
                    .id("abort-incomplete-uploads")
                    .filter(LifecycleRuleFilter::builder().prefix("").build())
                    .status(ExpirationStatus::Enabled)
                    .abort_incomplete_multipart_upload(
                        AbortIncompleteMultipartUpload::builder()
                            .days_after_initiation(ABORT_UPLOAD_DAYS)
                            .build(),
                    )
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                configuration = configuration.rules(aborts);
                let configuration = configuration
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = s3
                    .put_bucket_lifecycle_configuration()
                    .bucket(&bucket)
                    .lifecycle_configuration(configuration);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketLifecycleConfiguration", &bucket))?;
            }
            "tags" => {
                let tagging = Tagging::builder()
                    .set_tag_set(Some(self.tag_set()?))
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = s3.put_bucket_tagging().bucket(&bucket).tagging(tagging);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws("S3", "PutBucketTagging", &bucket))?;
            }
            other => return Err(self.no_setter(other)),
        }
        Ok(())
    }

    /// Every version and delete marker in the bucket, as delete requests.
    async fn all_versions(&self) -> Result<Vec<ObjectIdentifier>, ResourceError> {
        let bucket = self.bucket();
        let mut identifiers = Vec::new();
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .context
                .s3
                .list_object_versions()
                .bucket(&bucket)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(aws("S3", "ListObjectVersions", &bucket))?;
            let versions = page
                .versions()
                .iter()
                .map(|version| (version.key(), version.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|marker| (marker.key(), marker.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                let identifier = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                identifiers.push(identifier);
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
        Ok(identifiers)
    }
}

#[async_trait]
impl Resource for StateBucket {
    fn address(&self) -> &'static str {
        "s3_bucket.state"
    }

    fn id(&self) -> String {
        self.bucket()
    }

    fn settles_after_write(&self) -> bool {
        // S3's configuration reads are eventually consistent with its writes.
        true
    }

    fn desired(&self) -> Attributes {
        let mut attributes = Attributes::from([
            ("versioning", "Enabled".to_owned()),
            (
                "encryption",
                bucket_encryption(
                    ServerSideEncryption::AwsKms.as_str(),
                    self.context.kms_key_arn(),
                    true,
                ),
            ),
            ("public_access_block", ALL_PUBLIC_ACCESS_BLOCKED.to_owned()),
            (
                "object_ownership",
                ObjectOwnership::BucketOwnerEnforced.as_str().to_owned(),
            ),
            (
                "lifecycle",
                Self::lifecycle_description(self.lock_keys(), true),
            ),
            ("tags", desired_tags(&self.context.names.tags())),
        ]);
        if !self.context.plain_http() {
            let policy = tls_only_bucket_policy(&self.context.state_bucket_arn());
            attributes.insert("tls_policy", canonical(&policy.to_string()));
        }
        attributes
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let policy = async {
            if self.context.plain_http() {
                Ok(Some("skipped".to_owned()))
            } else {
                self.read_policy().await
            }
        };
        let (versioning, encryption, public_access_block, ownership, policy, lifecycle, tags) = futures::try_join!(
            self.read_versioning(),
            self.read_encryption(),
            self.read_public_access_block(),
            self.read_ownership(),
            policy,
            self.read_lifecycle(),
            self.read_tags(),
        )?;
        let (
            Some(versioning),
            Some(encryption),
            Some(public_access_block),
            Some(ownership),
            Some(policy),
            Some(lifecycle),
            Some((tags, managed)),
        ) = (
            versioning,
            encryption,
            public_access_block,
            ownership,
            policy,
            lifecycle,
            tags,
        )
        else {
            return Ok(None);
        };
        let mut attributes = Attributes::from([
            ("versioning", versioning),
            ("encryption", encryption),
            ("public_access_block", public_access_block),
            ("object_ownership", ownership),
            ("lifecycle", lifecycle),
            ("tags", tags),
        ]);
        if !self.context.plain_http() {
            attributes.insert("tls_policy", policy);
        }
        Ok(Some(Live {
            attributes,
            managed,
        }))
    }

    async fn create(&self) -> Result<(), ResourceError> {
        let bucket = self.bucket();
        let region = self.context.region();
        let mut configuration =
            CreateBucketConfiguration::builder().set_tags(Some(self.tag_set()?));
        if region != "us-east-1" {
            configuration =
                configuration.location_constraint(BucketLocationConstraint::from(region));
        }
        let request = self
            .context
            .s3
            .create_bucket()
            .bucket(&bucket)
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .create_bucket_configuration(configuration.build());
        // A name deleted moments ago is not free at once.
        let created = retry::eventually(&retry::S3_NAME_RELEASING, || request.clone().send()).await;
        if let Err(error) = created {
            // Another process creating the same environment got there first: carry on.
            if aws_error_code(&error) != Some("BucketAlreadyOwnedByYou") {
                return Err(aws("S3", "CreateBucket", &bucket)(error));
            }
        }
        // Every setting at once, tags among them: until they are set, emptiness tells this
        // bucket is ours (`read_tags`), so a run cut short here is finished by the next.
        let settings: Vec<&'static str> = self
            .desired()
            .into_keys()
            .filter(|attribute| *attribute != "object_ownership")
            .collect();
        self.update(&settings).await
    }

    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError> {
        try_join_all(attributes.iter().map(|attribute| self.put(attribute))).await?;
        Ok(())
    }

    async fn keep_reason(
        &self,
        _live: &Live,
        options: &DestroyOptions,
    ) -> Result<Option<String>, ResourceError> {
        if options.force_delete_state {
            return Ok(None);
        }
        let holds_objects = !self.is_empty().await?;
        Ok(holds_objects.then(|| "kept: it holds state objects; --force-delete-state deletes them (every version) with the bucket".to_owned()))
    }

    async fn delete(&self, options: &DestroyOptions) -> Result<(), ResourceError> {
        let bucket = self.bucket();
        // Unless forced, `keep_reason` found it empty but for this run's own lockfile: one
        // request when that is not there either.
        if !options.force_delete_state {
            match self.context.s3.delete_bucket().bucket(&bucket).send().await {
                Ok(_) => return Ok(()),
                Err(error) if aws_error_code(&error) == Some("BucketNotEmpty") => {}
                Err(error) => return Err(aws("S3", "DeleteBucket", &bucket)(error)),
            }
        }
        let own_lock = self.own_lockfile();
        let versions: Vec<ObjectIdentifier> = self
            .all_versions()
            .await?
            .into_iter()
            .filter(|version| options.force_delete_state || version.key() == own_lock)
            .collect();
        for chunk in versions.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(chunk.to_vec()))
                .quiet(true)
                .build()
                .map_err(|error| self.unexpected(error))?;
            let output = self
                .context
                .s3
                .delete_objects()
                .bucket(&bucket)
                .delete(delete)
                .send()
                .await
                .map_err(aws("S3", "DeleteObjects", &bucket))?;
            if let Some(failure) = output.errors().first() {
                return Err(self.unexpected(format!(
                    "could not delete {}: {}",
                    failure.key().unwrap_or("an object"),
                    failure.message().unwrap_or("unknown error")
                )));
            }
        }
        self.context
            .s3
            .delete_bucket()
            .bucket(&bucket)
            .send()
            .await
            .map_err(aws("S3", "DeleteBucket", &bucket))?;
        Ok(())
    }

    fn audit(&self, live: &Live) -> Vec<String> {
        match live.attributes.get("tls_policy") {
            Some(policy) if policy == "none" => vec!["no bucket policy requires TLS".to_owned()],
            _ => Vec::new(),
        }
    }
}
