//! The Terraform state bucket: versioned, KMS-encrypted, private, TLS-only, lock versions expiring.

mod settings;
mod terraform;

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

use shopstack_core::aws_call;

use self::settings::Settings;
use crate::context::Context;
use crate::policies::{canonical, tls_only_bucket_policy};
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags,
    encryption_attribute, is_managed, sdk_tags,
};
use crate::retry;
use crate::terraform_form::Importable;

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
            .map_err(aws_call("S3", "ListObjectVersions", &bucket))?;
        let keys = listing
            .versions()
            .iter()
            .map(|version| version.key())
            .chain(listing.delete_markers().iter().map(|marker| marker.key()));
        let others = keys.filter(|key| *key != Some(own_lock.as_str())).count();
        Ok(others == 0 && !listing.is_truncated().unwrap_or(false))
    }

    /// Turns a read error into: bucket missing (`Ok(None)`), setting absent (`Ok(Some(None))`),
    /// or a failure.
    fn classify<T, E>(
        &self,
        operation: &'static str,
        absent_code: &str,
        error: SdkError<E, HttpResponse>,
    ) -> Result<Option<Option<T>>, ResourceError>
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
            Some(code) if code == absent_code => Ok(Some(None)),
            _ => Err(aws_call("S3", operation, &self.bucket())(error).into()),
        }
    }

    /// One setting: `take` of S3's answer (`None`: not set), `Ok(Some(None))` when S3 answers
    /// `absent_code`, `Ok(None)` when the bucket does not exist.
    async fn setting<O, E, T>(
        &self,
        operation: &'static str,
        absent_code: &str,
        answer: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
        take: impl FnOnce(O) -> Option<T>,
    ) -> Result<Option<Option<T>>, ResourceError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match answer.await {
            Ok(output) => Ok(Some(take(output))),
            Err(error) => self.classify(operation, absent_code, error),
        }
    }

    /// Every setting at once; `None` when the bucket does not exist.
    async fn read_settings(&self) -> Result<Option<(Settings, bool)>, ResourceError> {
        let s3 = &self.context.s3;
        let bucket = self.bucket();
        let policy = async {
            if self.context.plain_http() {
                Ok(Some(None))
            } else {
                let answer = s3.get_bucket_policy().bucket(&bucket).send();
                self.setting("GetBucketPolicy", "NoSuchBucketPolicy", answer, |output| {
                    output.policy
                })
                .await
            }
        };
        let (versioning, encryption, public_access_block, ownership, policy, lifecycle, tags) = futures::try_join!(
            self.setting(
                "GetBucketVersioning",
                "",
                s3.get_bucket_versioning().bucket(&bucket).send(),
                |output| output.status,
            ),
            self.setting(
                "GetBucketEncryption",
                "ServerSideEncryptionConfigurationNotFoundError",
                s3.get_bucket_encryption().bucket(&bucket).send(),
                |output| {
                    Some(
                        output
                            .server_side_encryption_configuration
                            .map(|configuration| configuration.rules)
                            .unwrap_or_default(),
                    )
                },
            ),
            self.setting(
                "GetPublicAccessBlock",
                "NoSuchPublicAccessBlockConfiguration",
                s3.get_public_access_block().bucket(&bucket).send(),
                |output| {
                    Some(
                        output
                            .public_access_block_configuration
                            .unwrap_or_else(|| PublicAccessBlockConfiguration::builder().build()),
                    )
                },
            ),
            self.setting(
                "GetBucketOwnershipControls",
                "OwnershipControlsNotFoundError",
                s3.get_bucket_ownership_controls().bucket(&bucket).send(),
                |output| Some(
                    output
                        .ownership_controls
                        .map(|controls| controls.rules)
                        .unwrap_or_default()
                ),
            ),
            policy,
            self.setting(
                "GetBucketLifecycleConfiguration",
                "NoSuchLifecycleConfiguration",
                s3.get_bucket_lifecycle_configuration()
                    .bucket(&bucket)
                    .send(),
                |output| Some(output.rules.unwrap_or_default()),
            ),
            self.read_tags(),
        )?;
        let (
            Some(versioning),
            Some(encryption),
            Some(public_access_block),
            Some(ownership),
            Some(policy),
            Some(lifecycle),
            Some((tags, cut_short)),
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
        let settings = Settings {
            versioning,
            encryption,
            public_access_block,
            ownership,
            policy,
            lifecycle,
            tags,
        };
        Ok(Some((settings, cut_short)))
    }

    /// The tag set (`None` without one), and whether the bucket is ours although untagged.
    ///
    /// `create` tags the bucket in its CreateBucket and, for an S3 that ignores tags there (as
    /// the emulator does), again first thing after it. A run killed between the two leaves the
    /// bucket empty and untagged: that is a creation of ours cut short, so the next apply
    /// finishes it rather than adopting it untagged or refusing it as a conflict.
    async fn read_tags(&self) -> Result<Option<(Option<Vec<Tag>>, bool)>, ResourceError> {
        let answer = self
            .context
            .s3
            .get_bucket_tagging()
            .bucket(self.bucket())
            .send();
        let Some(tags) = self
            .setting("GetBucketTagging", "NoSuchTagSet", answer, |output| {
                Some(output.tag_set)
            })
            .await?
        else {
            return Ok(None);
        };
        let untagged = tags.as_ref().is_none_or(Vec::is_empty);
        let cut_short = untagged && self.is_empty().await?;
        if cut_short {
            tracing::info!(
                bucket = self.bucket(),
                "an empty bucket without tags: a creation cut short, finished by apply"
            );
        }
        Ok(Some((tags, cut_short)))
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
                    .map_err(aws_call("S3", "PutBucketVersioning", &bucket))?;
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
                    .map_err(aws_call("S3", "PutBucketEncryption", &bucket))?;
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
                    .map_err(aws_call("S3", "PutPublicAccessBlock", &bucket))?;
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
                    .map_err(aws_call("S3", "PutBucketOwnershipControls", &bucket))?;
            }
            "tls_policy" => {
                let policy = tls_only_bucket_policy(&self.context.state_bucket_arn()).to_string();
                let request = s3.put_bucket_policy().bucket(&bucket).policy(policy);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws_call("S3", "PutBucketPolicy", &bucket))?;
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
                    .map_err(aws_call("S3", "PutBucketLifecycleConfiguration", &bucket))?;
            }
            "tags" => {
                let tagging = Tagging::builder()
                    .set_tag_set(Some(self.tag_set()?))
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = s3.put_bucket_tagging().bucket(&bucket).tagging(tagging);
                retry::eventually(&retry::S3_BUCKET_SETTLING, || request.clone().send())
                    .await
                    .map_err(aws_call("S3", "PutBucketTagging", &bucket))?;
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
                .map_err(aws_call("S3", "ListObjectVersions", &bucket))?;
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
        let Some((settings, cut_short)) = self.read_settings().await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            attributes: settings.attributes(&self.context.names.tags(), !self.context.plain_http()),
            managed: is_managed(settings.tag_pairs()) || cut_short,
            answers: Answers::new(settings),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_s3_bucket"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        live.answers
            .get::<Settings>()
            .map(|settings| terraform::importables(&self.bucket(), settings))
            .unwrap_or_default()
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
                return Err(aws_call("S3", "CreateBucket", &bucket)(error).into());
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
                Err(error) => return Err(aws_call("S3", "DeleteBucket", &bucket)(error).into()),
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
                .map_err(aws_call("S3", "DeleteObjects", &bucket))?;
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
            .map_err(aws_call("S3", "DeleteBucket", &bucket))?;
        Ok(())
    }

    fn audit(&self, live: &Live) -> Vec<String> {
        match live.attributes.get("tls_policy") {
            Some(policy) if policy == "none" => vec!["no bucket policy requires TLS".to_owned()],
            _ => Vec::new(),
        }
    }
}
