//! Locks as `.tflock` objects in the state bucket, as Terraform's `use_lockfile` writes them.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use shopstack_core::error_chain::aws_error_code;
use shopstack_core::{AwsCallError, aws_call};

use super::info::parse;
use super::{Backend, FoundLock, LockError, LockInfo, LockStore};

/// Suffix of S3 lockfiles after the state path.
pub const LOCKFILE_SUFFIX: &str = ".tflock";

/// Whether an S3 error says the bucket or the key does not exist.
fn s3_absent<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        aws_error_code(error),
        Some("NoSuchBucket" | "NoSuchKey" | "NotFound")
    )
}

impl LockStore {
    /// Whether the state bucket exists.
    pub async fn bucket_exists(&self) -> Result<bool, LockError> {
        match self.s3.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(true),
            Err(error)
                if s3_absent(&error)
                    || error.raw_response().map(|raw| raw.status().as_u16()) == Some(404) =>
            {
                Ok(false)
            }
            Err(error) => Err(aws_call("S3", "HeadBucket", &self.bucket)(error).into()),
        }
    }

    /// Writes the lockfile `key` with `If-None-Match: *`: `true` when written, `false` when there
    /// is no state bucket, `Held` when the lockfile exists.
    pub async fn lock_file(&self, key: &str, info: &LockInfo) -> Result<bool, LockError> {
        let body = serde_json::to_vec(info).map_err(|error| LockError::Unreadable {
            location: key.to_owned(),
            message: error.to_string(),
        })?;
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .if_none_match("*")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(error) if aws_error_code(&error) == Some("NoSuchBucket") => Ok(false),
            Err(error)
                if matches!(
                    aws_error_code(&error),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) || matches!(
                    error.raw_response().map(|raw| raw.status().as_u16()),
                    Some(409 | 412)
                ) =>
            {
                let holder = match self.read_file(key).await? {
                    Some((holder, _)) => holder,
                    None => LockInfo {
                        info: "released meanwhile".to_owned(),
                        ..LockInfo::default_for(key)
                    },
                };
                Err(LockError::Held {
                    location: format!("s3://{}/{key}", self.bucket),
                    holder: Box::new(holder),
                })
            }
            Err(error) => Err(aws_call("S3", "PutObject", key)(error).into()),
        }
    }

    /// The lockfile `key`: its LockInfo and version.
    pub(super) async fn read_file(
        &self,
        key: &str,
    ) -> Result<Option<(LockInfo, Option<String>)>, LockError> {
        let output = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if s3_absent(&error) => return Ok(None),
            Err(error) => return Err(aws_call("S3", "GetObject", key)(error).into()),
        };
        let version = output.version_id().map(str::to_owned);
        let body = output
            .body
            .collect()
            .await
            .map_err(|error| AwsCallError::other("S3", "GetObject", key, &error))?
            .into_bytes();
        let info = parse(key, &String::from_utf8_lossy(&body))?;
        Ok(Some((info, version)))
    }

    /// Deletes the lockfile `key` if its ID is `id` (the very version read, so no lock taken
    /// since is touched and no delete marker is left). Returns whether it did.
    pub async fn unlock_file(&self, key: &str, id: &str) -> Result<bool, LockError> {
        let Some((info, version)) = self.read_file(key).await? else {
            return Ok(false);
        };
        if info.id != id {
            return Ok(false);
        }
        match self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if s3_absent(&error) => Ok(false),
            Err(error) => Err(aws_call("S3", "DeleteObject", key)(error).into()),
        }
    }

    pub(super) async fn list_files(&self) -> Result<Vec<FoundLock>, LockError> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(error) if s3_absent(&error) => return Ok(Vec::new()),
                Err(error) => {
                    return Err(aws_call("S3", "ListObjectsV2", &self.bucket)(error).into());
                }
            };
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .filter(|key| key.ends_with(LOCKFILE_SUFFIX))
                    .map(str::to_owned),
            );
        }
        let mut locks = Vec::new();
        for key in keys {
            if let Some((info, _)) = self.read_file(&key).await? {
                locks.push(FoundLock {
                    backend: Backend::S3,
                    location: key,
                    info,
                });
            }
        }
        Ok(locks)
    }
}
