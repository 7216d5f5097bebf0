//! `export-terraform`: Terraform configuration with an `import {}` block for every live resource
//! of an environment, written from what AWS reports, so that `terraform plan` there shows only
//! imports: the way out to Terraform, and a proof that both tools see the same resources.

use std::path::{Path, PathBuf};

use aws_sdk_s3::error::SdkError;
use serde_json::Value;
use shopstack_core::error_chain::{aws_error_code, aws_error_message};
use shopstack_core::names::GITHUB_OIDC_HOST;
use thiserror::Error;

use crate::context::Context;
use crate::hcl::{self, Block};
use crate::policies::INLINE_POLICY;
use crate::resources::codebuild_project::CodeBuildProject;

/// Errors of exporting.
#[derive(Debug, Error)]
pub enum ExportError {
    /// Reading a live resource failed.
    #[error("{service} {operation} on {target}: {message}")]
    Aws {
        /// e.g. `S3`.
        service: &'static str,
        /// e.g. `GetBucketPolicy`.
        operation: &'static str,
        /// The resource.
        target: String,
        /// `Code: message`, or the transport error.
        message: String,
    },
    /// Writing a file failed.
    #[error("write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn aws<E, R>(
    service: &'static str,
    operation: &'static str,
    target: &str,
) -> impl FnOnce(SdkError<E, R>) -> ExportError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let target = target.to_owned();
    move |error| ExportError::Aws {
        service,
        operation,
        target,
        message: aws_error_message(&error),
    }
}

/// Whether an error says the thing read does not exist.
fn absent<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(
    error: &SdkError<E, R>,
    codes: &[&str],
) -> bool {
    aws_error_code(error).is_some_and(|code| codes.contains(&code))
}

/// The configuration to write.
pub struct Export {
    /// File name → content.
    pub files: Vec<(&'static str, String)>,
    /// Resources with an import block.
    pub imported: usize,
    /// Resources of the environment that do not exist, so are not exported.
    pub missing: Vec<String>,
}

/// Resource and import blocks, built up resource by resource.
#[derive(Default)]
struct Blocks {
    text: String,
    imported: usize,
    missing: Vec<String>,
}

impl Blocks {
    /// Adds `resource` with an import block of `id`.
    fn add(&mut self, resource: Block, kind: &str, name: &str, id: &str) {
        let import = Block::new("import", &[])
            .attribute("to", format!("{kind}.{name}"))
            .string("id", id);
        self.text.push('\n');
        self.text.push_str(&import.render(0));
        self.text.push_str(&resource.render(0));
        self.imported += 1;
    }
}

/// Our tags and any others, as a `tags` map (AWS-reserved `aws:` tags left out).
fn tags<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let pairs: Vec<(&str, &str)> = pairs.filter(|(key, _)| !key.starts_with("aws:")).collect();
    (!pairs.is_empty()).then(|| hcl::map(&pairs, 2))
}

/// A JSON document (possibly URL-encoded, as IAM returns them) as `jsonencode(…)`.
fn document(text: &str, indent: usize) -> String {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    let parsed = serde_json::from_str::<Value>(&decoded)
        .or_else(|_| serde_json::from_str::<Value>(text))
        .unwrap_or_else(|_| Value::String(text.to_owned()));
    match parsed {
        Value::String(raw) => hcl::string(&raw),
        value => hcl::json(&value, indent),
    }
}

/// Reads every resource of the environment and writes its configuration.
pub async fn export(context: &Context) -> Result<Export, ExportError> {
    let mut blocks = Blocks::default();
    state_bucket(context, &mut blocks).await?;
    lock_table(context, &mut blocks).await?;
    app_secret(context, &mut blocks).await?;
    ecr_repository(context, &mut blocks).await?;
    oidc_provider(context, &mut blocks).await?;
    for (name, role) in [
        ("codebuild", context.names.codebuild_role()),
        ("github_actions", context.names.ci_role()),
        ("github_infra", context.names.infrastructure_role()),
    ] {
        iam_role(context, &mut blocks, name, &role).await?;
    }
    codebuild_project(context, &mut blocks).await?;
    let header = format!(
        "# The live resources of the ShopStack environment \"{}\" (account {}, {}), with an import\n# block each: `terraform plan` here shows only imports. Written by `infra-terraform export-terraform`.\n",
        context.names.environment(),
        context.account(),
        context.region()
    );
    Ok(Export {
        files: vec![
            ("providers.tf", providers(context)),
            ("main.tf", format!("{header}{}", blocks.text)),
        ],
        imported: blocks.imported,
        missing: blocks.missing,
    })
}

/// Writes the files into `dir`, creating it.
pub fn write(dir: &Path, export: &Export) -> Result<(), ExportError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(error(dir))?;
    for (name, text) in &export.files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(error(&path))?;
    }
    Ok(())
}

/// `terraform { required_providers }` and the AWS provider of the environment; on a custom
/// endpoint every service goes there, and on a local emulator nothing real is checked.
fn providers(context: &Context) -> String {
    let required =
        Block::new("terraform", &[]).block(Block::new("required_providers", &[]).attribute(
            "aws",
            "{\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }",
        ));
    let mut provider = Block::new("provider", &["aws"]).string("region", context.region());
    if let Some((endpoint, _)) = context.session.endpoint() {
        if endpoint.is_loopback() {
            for flag in [
                "skip_credentials_validation",
                "skip_metadata_api_check",
                "skip_region_validation",
                "skip_requesting_account_id",
            ] {
                provider = provider.attribute(flag, "true");
            }
        }
        provider = provider.attribute("s3_use_path_style", "true");
        let mut endpoints = Block::new("endpoints", &[]);
        for service in [
            "codebuild",
            "dynamodb",
            "ecr",
            "iam",
            "s3",
            "secretsmanager",
            "sts",
        ] {
            endpoints = endpoints.string(service, endpoint.url());
        }
        provider = provider.block(endpoints);
    }
    if let Some(bundle) = context.ca_bundle() {
        provider = provider.string("custom_ca_bundle", &bundle);
    }
    format!("{}\n{}", required.render(0), provider.render(0))
}

async fn state_bucket(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let s3 = &context.s3;
    let bucket = context.names.state_bucket();
    let no_bucket = ["NoSuchBucket"];
    match s3.head_bucket().bucket(&bucket).send().await {
        Ok(_) => {}
        Err(error) if error.raw_response().map(|raw| raw.status().as_u16()) == Some(404) => {
            blocks.missing.push(format!("aws_s3_bucket {bucket}"));
            return Ok(());
        }
        Err(error) => return Err(aws("S3", "HeadBucket", &bucket)(error)),
    }
    let reference = "aws_s3_bucket.state.id";

    let tagging = match s3.get_bucket_tagging().bucket(&bucket).send().await {
        Ok(output) => output
            .tag_set()
            .iter()
            .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
            .collect(),
        Err(error) if absent(&error, &["NoSuchTagSet"]) => Vec::new(),
        Err(error) => return Err(aws("S3", "GetBucketTagging", &bucket)(error)),
    };
    let mut resource =
        Block::new("resource", &["aws_s3_bucket", "state"]).string("bucket", &bucket);
    if let Some(tags) = tags(tagging.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_s3_bucket", "state", &bucket);

    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .map_err(aws("S3", "GetBucketVersioning", &bucket))?;
    if let Some(status) = versioning.status() {
        let resource = Block::new("resource", &["aws_s3_bucket_versioning", "state"])
            .attribute("bucket", reference)
            .block(Block::new("versioning_configuration", &[]).string("status", status.as_str()));
        blocks.add(resource, "aws_s3_bucket_versioning", "state", &bucket);
    }

    match s3.get_bucket_encryption().bucket(&bucket).send().await {
        Ok(output) => {
            let mut resource = Block::new(
                "resource",
                &[
                    "aws_s3_bucket_server_side_encryption_configuration",
                    "state",
                ],
            )
            .attribute("bucket", reference);
            let rules = output
                .server_side_encryption_configuration()
                .map(|configuration| configuration.rules())
                .unwrap_or_default();
            for rule in rules {
                let mut block = Block::new("rule", &[]);
                if let Some(default) = rule.apply_server_side_encryption_by_default() {
                    let mut by_default = Block::new("apply_server_side_encryption_by_default", &[])
                        .string("sse_algorithm", default.sse_algorithm().as_str());
                    if let Some(key) = default.kms_master_key_id() {
                        by_default = by_default.string("kms_master_key_id", key);
                    }
                    block = block.block(by_default);
                }
                if let Some(enabled) = rule.bucket_key_enabled() {
                    block = block.attribute("bucket_key_enabled", enabled.to_string());
                }
                resource = resource.block(block);
            }
            blocks.add(
                resource,
                "aws_s3_bucket_server_side_encryption_configuration",
                "state",
                &bucket,
            );
        }
        Err(error)
            if absent(
                &error,
                &[
                    "ServerSideEncryptionConfigurationNotFoundError",
                    no_bucket[0],
                ],
            ) => {}
        Err(error) => return Err(aws("S3", "GetBucketEncryption", &bucket)(error)),
    }

    match s3.get_public_access_block().bucket(&bucket).send().await {
        Ok(output) => {
            let blocked = output.public_access_block_configuration();
            let flag = |value: Option<bool>| value.unwrap_or(false).to_string();
            let resource = Block::new("resource", &["aws_s3_bucket_public_access_block", "state"])
                .attribute("bucket", reference)
                .attribute(
                    "block_public_acls",
                    flag(blocked.and_then(|b| b.block_public_acls())),
                )
                .attribute(
                    "block_public_policy",
                    flag(blocked.and_then(|b| b.block_public_policy())),
                )
                .attribute(
                    "ignore_public_acls",
                    flag(blocked.and_then(|b| b.ignore_public_acls())),
                )
                .attribute(
                    "restrict_public_buckets",
                    flag(blocked.and_then(|b| b.restrict_public_buckets())),
                );
            blocks.add(
                resource,
                "aws_s3_bucket_public_access_block",
                "state",
                &bucket,
            );
        }
        Err(error) if absent(&error, &["NoSuchPublicAccessBlockConfiguration"]) => {}
        Err(error) => return Err(aws("S3", "GetPublicAccessBlock", &bucket)(error)),
    }

    match s3
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await
    {
        Ok(output) => {
            let mut resource =
                Block::new("resource", &["aws_s3_bucket_ownership_controls", "state"])
                    .attribute("bucket", reference);
            for rule in output
                .ownership_controls()
                .map(|controls| controls.rules())
                .unwrap_or_default()
            {
                resource = resource.block(
                    Block::new("rule", &[])
                        .string("object_ownership", rule.object_ownership().as_str()),
                );
            }
            blocks.add(
                resource,
                "aws_s3_bucket_ownership_controls",
                "state",
                &bucket,
            );
        }
        Err(error) if absent(&error, &["OwnershipControlsNotFoundError"]) => {}
        Err(error) => return Err(aws("S3", "GetBucketOwnershipControls", &bucket)(error)),
    }

    match s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
    {
        Ok(output) => {
            let mut resource = Block::new(
                "resource",
                &["aws_s3_bucket_lifecycle_configuration", "state"],
            )
            .attribute("bucket", reference);
            for rule in output.rules() {
                let mut block = Block::new("rule", &[])
                    .string("id", rule.id().unwrap_or_default())
                    .string("status", rule.status().as_str());
                let prefix = rule
                    .filter()
                    .and_then(|filter| filter.prefix())
                    .unwrap_or_default();
                // An empty prefix is the whole bucket: `filter {}`, as the provider reads it.
                let mut filter = Block::new("filter", &[]);
                if !prefix.is_empty() {
                    filter = filter.string("prefix", prefix);
                }
                block = block.block(filter);
                if let Some(days) = rule
                    .noncurrent_version_expiration()
                    .and_then(|expiration| expiration.noncurrent_days())
                {
                    block = block.block(
                        Block::new("noncurrent_version_expiration", &[])
                            .attribute("noncurrent_days", days.to_string()),
                    );
                }
                if let Some(days) = rule
                    .abort_incomplete_multipart_upload()
                    .and_then(|abort| abort.days_after_initiation())
                {
                    block = block.block(
                        Block::new("abort_incomplete_multipart_upload", &[])
                            .attribute("days_after_initiation", days.to_string()),
                    );
                }
                if let Some(expiration) = rule.expiration() {
                    let mut expires = Block::new("expiration", &[]);
                    if let Some(days) = expiration.days() {
                        expires = expires.attribute("days", days.to_string());
                    }
                    if let Some(marker) = expiration.expired_object_delete_marker() {
                        expires =
                            expires.attribute("expired_object_delete_marker", marker.to_string());
                    }
                    block = block.block(expires);
                }
                resource = resource.block(block);
            }
            blocks.add(
                resource,
                "aws_s3_bucket_lifecycle_configuration",
                "state",
                &bucket,
            );
        }
        Err(error) if absent(&error, &["NoSuchLifecycleConfiguration"]) => {}
        Err(error) => return Err(aws("S3", "GetBucketLifecycleConfiguration", &bucket)(error)),
    }

    match s3.get_bucket_policy().bucket(&bucket).send().await {
        Ok(output) => {
            if let Some(policy) = output.policy() {
                let resource = Block::new("resource", &["aws_s3_bucket_policy", "state"])
                    .attribute("bucket", reference)
                    .attribute("policy", document(policy, 2));
                blocks.add(resource, "aws_s3_bucket_policy", "state", &bucket);
            }
        }
        Err(error) if absent(&error, &["NoSuchBucketPolicy"]) => {}
        Err(error) => return Err(aws("S3", "GetBucketPolicy", &bucket)(error)),
    }
    Ok(())
}

async fn lock_table(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let dynamodb = &context.dynamodb;
    let name = context.names.lock_table();
    let table = match dynamodb.describe_table().table_name(&name).send().await {
        Ok(output) => output.table,
        Err(error) if absent(&error, &["ResourceNotFoundException"]) => None,
        Err(error) => return Err(aws("DynamoDB", "DescribeTable", &name)(error)),
    };
    let Some(table) = table else {
        blocks.missing.push(format!("aws_dynamodb_table {name}"));
        return Ok(());
    };
    let backups = dynamodb
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .map_err(aws("DynamoDB", "DescribeContinuousBackups", &name))?;
    let tagged =
        crate::resources::lock_table::all_tags(dynamodb, table.table_arn().unwrap_or_default())
            .await
            .map_err(aws("DynamoDB", "ListTagsOfResource", &name))?;
    let billing = table
        .billing_mode_summary()
        .and_then(|summary| summary.billing_mode())
        .map_or("PROVISIONED", |mode| mode.as_str());
    let mut resource = Block::new("resource", &["aws_dynamodb_table", "lock"])
        .string("name", &name)
        .string("billing_mode", billing);
    for key in table.key_schema() {
        let attribute = match key.key_type().as_str() {
            "HASH" => "hash_key",
            _ => "range_key",
        };
        resource = resource.string(attribute, key.attribute_name());
    }
    if billing == "PROVISIONED"
        && let Some(throughput) = table.provisioned_throughput()
    {
        resource = resource
            .attribute(
                "read_capacity",
                throughput.read_capacity_units().unwrap_or(0).to_string(),
            )
            .attribute(
                "write_capacity",
                throughput.write_capacity_units().unwrap_or(0).to_string(),
            );
    }
    for definition in table.attribute_definitions() {
        resource = resource.block(
            Block::new("attribute", &[])
                .string("name", definition.attribute_name())
                .string("type", definition.attribute_type().as_str()),
        );
    }
    let encrypted = table
        .sse_description()
        .and_then(|sse| sse.status())
        .is_some_and(|status| matches!(status.as_str(), "ENABLED" | "ENABLING" | "UPDATING"));
    let mut encryption =
        Block::new("server_side_encryption", &[]).attribute("enabled", encrypted.to_string());
    // The provider reads the AWS-managed key's ARN as empty (computed): a key is written only
    // where the environment names its own.
    if let (Some(_), Some(key)) = (
        context.kms_key_arn(),
        table
            .sse_description()
            .and_then(|sse| sse.kms_master_key_arn()),
    ) {
        encryption = encryption.string("kms_key_arn", key);
    }
    resource = resource.block(encryption);
    let recovery = backups
        .continuous_backups_description()
        .and_then(|description| description.point_in_time_recovery_description())
        .and_then(|recovery| recovery.point_in_time_recovery_status())
        .is_some_and(|status| status.as_str() == "ENABLED");
    resource = resource.block(
        Block::new("point_in_time_recovery", &[]).attribute("enabled", recovery.to_string()),
    );
    if let Some(tags) = tags(tagged.iter().map(|tag| (tag.key(), tag.value()))) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_dynamodb_table", "lock", &name);
    Ok(())
}

async fn app_secret(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let name = context.names.app_secret();
    let secret = match context
        .secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) if absent(&error, &["ResourceNotFoundException"]) => {
            blocks
                .missing
                .push(format!("aws_secretsmanager_secret {name}"));
            return Ok(());
        }
        Err(error) => return Err(aws("SecretsManager", "DescribeSecret", &name)(error)),
    };
    let Some(arn) = secret.arn() else {
        blocks
            .missing
            .push(format!("aws_secretsmanager_secret {name}"));
        return Ok(());
    };
    let mut resource = Block::new("resource", &["aws_secretsmanager_secret", "app_config"])
        .string("name", &name)
        .string("description", secret.description().unwrap_or_default());
    if let Some(key) = secret.kms_key_id() {
        resource = resource.string("kms_key_id", key);
    }
    if let Some(tags) = tags(
        secret
            .tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?, tag.value()?))),
    ) {
        resource = resource.attribute("tags", tags);
    }
    // What happens on a Terraform destroy is Terraform's own setting, not read from AWS: an
    // import leaves it unset, which would otherwise show as a change.
    resource = resource.block(Block::new("lifecycle", &[]).attribute(
        "ignore_changes",
        "[recovery_window_in_days, force_overwrite_replica_secret]",
    ));
    blocks.add(resource, "aws_secretsmanager_secret", "app_config", arn);
    Ok(())
}

async fn ecr_repository(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let ecr = &context.ecr;
    let name = context.names.ecr_repository();
    let repositories = match ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
    {
        Ok(output) => output.repositories.unwrap_or_default(),
        Err(error) if absent(&error, &["RepositoryNotFoundException"]) => Vec::new(),
        Err(error) => return Err(aws("ECR", "DescribeRepositories", &name)(error)),
    };
    let Some(repository) = repositories.into_iter().next() else {
        blocks.missing.push(format!("aws_ecr_repository {name}"));
        return Ok(());
    };
    let tagged = ecr
        .list_tags_for_resource()
        .resource_arn(repository.repository_arn().unwrap_or_default())
        .send()
        .await
        .map_err(aws("ECR", "ListTagsForResource", &name))?;
    let mut resource = Block::new("resource", &["aws_ecr_repository", "app"])
        .string("name", &name)
        .string(
            "image_tag_mutability",
            repository
                .image_tag_mutability()
                .map_or("MUTABLE", |mutability| mutability.as_str()),
        )
        .block(
            Block::new("image_scanning_configuration", &[]).attribute(
                "scan_on_push",
                repository
                    .image_scanning_configuration()
                    .is_some_and(|scanning| scanning.scan_on_push())
                    .to_string(),
            ),
        );
    if let Some(encryption) = repository.encryption_configuration() {
        let mut block = Block::new("encryption_configuration", &[])
            .string("encryption_type", encryption.encryption_type().as_str());
        if let Some(key) = encryption.kms_key() {
            block = block.string("kms_key", key);
        }
        resource = resource.block(block);
    }
    if let Some(tags) = tags(tagged.tags().iter().map(|tag| (tag.key(), tag.value()))) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_ecr_repository", "app", &name);

    match ecr
        .get_lifecycle_policy()
        .repository_name(&name)
        .send()
        .await
    {
        Ok(output) => {
            if let Some(policy) = output.lifecycle_policy_text() {
                let resource = Block::new("resource", &["aws_ecr_lifecycle_policy", "app"])
                    .attribute("repository", "aws_ecr_repository.app.name")
                    .attribute("policy", document(policy, 2));
                blocks.add(resource, "aws_ecr_lifecycle_policy", "app", &name);
            }
        }
        Err(error) if absent(&error, &["LifecyclePolicyNotFoundException"]) => {}
        Err(error) => return Err(aws("ECR", "GetLifecyclePolicy", &name)(error)),
    }
    Ok(())
}

async fn oidc_provider(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let arn = context.oidc_provider_arn();
    let provider = match context
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
    {
        Ok(output) => output,
        Err(error) if absent(&error, &["NoSuchEntity"]) => {
            blocks.missing.push(format!(
                "aws_iam_openid_connect_provider {GITHUB_OIDC_HOST}"
            ));
            return Ok(());
        }
        Err(error) => return Err(aws("IAM", "GetOpenIDConnectProvider", &arn)(error)),
    };
    let url = provider.url().unwrap_or(GITHUB_OIDC_HOST);
    let url = if url.starts_with("https://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    let mut resource = Block::new("resource", &["aws_iam_openid_connect_provider", "github"])
        .string("url", &url)
        .attribute("client_id_list", hcl::strings(provider.client_id_list()))
        .attribute("thumbprint_list", hcl::strings(provider.thumbprint_list()));
    if let Some(tags) = tags(provider.tags().iter().map(|tag| (tag.key(), tag.value()))) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_iam_openid_connect_provider", "github", &arn);
    Ok(())
}

async fn iam_role(
    context: &Context,
    blocks: &mut Blocks,
    label: &str,
    name: &str,
) -> Result<(), ExportError> {
    let iam = &context.iam;
    let role = match iam.get_role().role_name(name).send().await {
        Ok(output) => output.role,
        Err(error) if absent(&error, &["NoSuchEntity"]) => None,
        Err(error) => return Err(aws("IAM", "GetRole", name)(error)),
    };
    let Some(role) = role else {
        blocks.missing.push(format!("aws_iam_role {name}"));
        return Ok(());
    };
    let mut resource = Block::new("resource", &["aws_iam_role", label]).string("name", name);
    if role.path() != "/" {
        resource = resource.string("path", role.path());
    }
    if let Some(description) = role.description() {
        resource = resource.string("description", description);
    }
    if let Some(duration) = role
        .max_session_duration()
        .filter(|seconds| *seconds != 3600)
    {
        resource = resource.attribute("max_session_duration", duration.to_string());
    }
    resource = resource.attribute(
        "assume_role_policy",
        document(role.assume_role_policy_document().unwrap_or("{}"), 2),
    );
    if let Some(tags) = tags(role.tags().iter().map(|tag| (tag.key(), tag.value()))) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_iam_role", label, name);

    let listed = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(aws("IAM", "ListRolePolicies", name))?;
    for policy_name in listed.policy_names() {
        let policy = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(aws("IAM", "GetRolePolicy", name))?;
        let policy_label = if policy_name == INLINE_POLICY {
            label.to_owned()
        } else {
            let cleaned: String = policy_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{label}_{cleaned}")
        };
        let resource = Block::new("resource", &["aws_iam_role_policy", &policy_label])
            .string("name", policy_name)
            .attribute("role", format!("aws_iam_role.{label}.id"))
            .attribute("policy", document(policy.policy_document(), 2));
        blocks.add(
            resource,
            "aws_iam_role_policy",
            &policy_label,
            &format!("{name}:{policy_name}"),
        );
    }
    Ok(())
}

async fn codebuild_project(context: &Context, blocks: &mut Blocks) -> Result<(), ExportError> {
    let name = context.names.codebuild_project();
    let output = context
        .codebuild
        .batch_get_projects()
        .names(&name)
        .send()
        .await
        .map_err(aws("CodeBuild", "BatchGetProjects", &name))?;
    let Some(project) = output
        .projects()
        .iter()
        .find(|project| project.name() == Some(name.as_str()))
    else {
        blocks.missing.push(format!("aws_codebuild_project {name}"));
        return Ok(());
    };
    let mut resource =
        Block::new("resource", &["aws_codebuild_project", "image_build"]).string("name", &name);
    if let Some(description) = project.description() {
        resource = resource.string("description", description);
    }
    if let Some(role) = project.service_role() {
        resource = resource.string("service_role", role);
    }
    if let Some(minutes) = project.timeout_in_minutes() {
        resource = resource.attribute("build_timeout", minutes.to_string());
    }
    // Terraform accepts 5 to 480 minutes; an emulator that reports 0 has no queue timeout.
    if let Some(minutes) = project
        .queued_timeout_in_minutes()
        .filter(|minutes| (5..=480).contains(minutes))
    {
        resource = resource.attribute("queued_timeout", minutes.to_string());
    }
    if let Some(artifacts) = project.artifacts() {
        resource = resource
            .block(Block::new("artifacts", &[]).string("type", artifacts.r#type().as_str()));
    }
    if let Some(environment) = project.environment() {
        let mut block = Block::new("environment", &[])
            .string("type", environment.r#type().as_str())
            .string("image", environment.image())
            .string("compute_type", environment.compute_type().as_str())
            .attribute(
                "privileged_mode",
                environment.privileged_mode().unwrap_or(false).to_string(),
            );
        if let Some(credentials) = environment.image_pull_credentials_type() {
            block = block.string("image_pull_credentials_type", credentials.as_str());
        }
        for variable in environment.environment_variables() {
            let mut entry = Block::new("environment_variable", &[])
                .string("name", variable.name())
                .string("value", variable.value());
            if let Some(kind) = variable.r#type() {
                entry = entry.string("type", kind.as_str());
            }
            block = block.block(entry);
        }
        resource = resource.block(block);
    }
    if let Some(source) = project.source() {
        let mut block = Block::new("source", &[]).string("type", source.r#type().as_str());
        if let Some(location) = source.location() {
            block = block.string("location", location);
        }
        if let Some(buildspec) = source.buildspec() {
            block = block.string("buildspec", buildspec);
        }
        resource = resource.block(block);
    }
    let (cloudwatch, s3) =
        CodeBuildProject::effective_logs(project, &context.names.codebuild_log_group());
    let status = |on: bool| if on { "ENABLED" } else { "DISABLED" };
    let mut cloudwatch_logs =
        Block::new("cloudwatch_logs", &[]).string("status", status(cloudwatch.is_some()));
    if let Some(group) = &cloudwatch {
        cloudwatch_logs = cloudwatch_logs.string("group_name", group);
    }
    let mut s3_logs = Block::new("s3_logs", &[]).string("status", status(s3.is_some()));
    if let Some(location) = &s3 {
        s3_logs = s3_logs.string("location", location);
    }
    resource = resource.block(
        Block::new("logs_config", &[])
            .block(cloudwatch_logs)
            .block(s3_logs),
    );
    if let Some(tags) = tags(
        project
            .tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?, tag.value()?))),
    ) {
        resource = resource.attribute("tags", tags);
    }
    blocks.add(resource, "aws_codebuild_project", "image_build", &name);
    Ok(())
}
