//! The state bucket's Terraform form: the bucket and each of its settings as the AWS provider
//! splits them, one resource each.

use aws_sdk_s3::types::LifecycleRule;

use super::settings::Settings;
use crate::hcl::Block;
use crate::terraform_form::{Importable, document, with_tags};

/// How the settings' resources name the bucket.
const BUCKET: &str = "aws_s3_bucket.state.id";

/// The bucket and every setting it has, each imported by the bucket's name.
pub(super) fn importables(bucket: &str, settings: &Settings) -> Vec<Importable> {
    let setting = |kind: &str, body: &dyn Fn(Block) -> Block| {
        Importable::new(kind, "state", bucket, |block| {
            body(block.attribute("bucket", BUCKET))
        })
    };
    let mut importables = vec![Importable::new("aws_s3_bucket", "state", bucket, |block| {
        with_tags(block.string("bucket", bucket), settings.tag_pairs())
    })];
    if let Some(status) = &settings.versioning {
        importables.push(setting("aws_s3_bucket_versioning", &|block| {
            block.block(
                Block::new("versioning_configuration", &[]).string("status", status.as_str()),
            )
        }));
    }
    if let Some(rules) = &settings.encryption {
        importables.push(setting(
            "aws_s3_bucket_server_side_encryption_configuration",
            &|mut block| {
                for rule in rules {
                    let mut rule_block = Block::new("rule", &[]);
                    if let Some(default) = rule.apply_server_side_encryption_by_default() {
                        let mut by_default =
                            Block::new("apply_server_side_encryption_by_default", &[])
                                .string("sse_algorithm", default.sse_algorithm().as_str());
                        if let Some(key) = default.kms_master_key_id() {
                            by_default = by_default.string("kms_master_key_id", key);
                        }
                        rule_block = rule_block.block(by_default);
                    }
                    if let Some(enabled) = rule.bucket_key_enabled() {
                        rule_block =
                            rule_block.attribute("bucket_key_enabled", enabled.to_string());
                    }
                    block = block.block(rule_block);
                }
                block
            },
        ));
    }
    if let Some(blocked) = &settings.public_access_block {
        let flag = |value: Option<bool>| value.unwrap_or(false).to_string();
        importables.push(setting("aws_s3_bucket_public_access_block", &|block| {
            block
                .attribute("block_public_acls", flag(blocked.block_public_acls()))
                .attribute("block_public_policy", flag(blocked.block_public_policy()))
                .attribute("ignore_public_acls", flag(blocked.ignore_public_acls()))
                .attribute(
                    "restrict_public_buckets",
                    flag(blocked.restrict_public_buckets()),
                )
        }));
    }
    if let Some(rules) = &settings.ownership {
        importables.push(setting("aws_s3_bucket_ownership_controls", &|mut block| {
            for rule in rules {
                block = block.block(
                    Block::new("rule", &[])
                        .string("object_ownership", rule.object_ownership().as_str()),
                );
            }
            block
        }));
    }
    if let Some(rules) = &settings.lifecycle {
        importables.push(setting("aws_s3_bucket_lifecycle_configuration", &|block| {
            rules
                .iter()
                .fold(block, |block, rule| block.block(lifecycle_rule(rule)))
        }));
    }
    if let Some(policy) = &settings.policy {
        importables.push(setting("aws_s3_bucket_policy", &|block| {
            block.attribute("policy", document(policy, 2))
        }));
    }
    importables
}

/// One lifecycle `rule` block.
fn lifecycle_rule(rule: &LifecycleRule) -> Block {
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
            expires = expires.attribute("expired_object_delete_marker", marker.to_string());
        }
        block = block.block(expires);
    }
    block
}
