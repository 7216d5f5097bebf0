//! Terraform-compatible state locks: DynamoDB lock items and S3 lockfiles holding Terraform's
//! `LockInfo`, so that Terraform and infra-terraform can read and clear each other's locks.
//!
//! The formats are those of Terraform's S3 backend. A DynamoDB lock is the item
//! `{LockID: "<bucket>/<path>", Info: "<LockInfo JSON>"}`, written with
//! `attribute_not_exists(LockID)`; Terraform also keeps `<bucket>/<path>-md5` digest items in the
//! same table, which are not locks. An S3 lock is the object `<path>.tflock` holding the LockInfo
//! JSON, written with `If-None-Match: *` (412 when it is held). Unlocking reads the lock
//! (consistently), compares its ID and deletes exactly what was read.

mod dynamodb;
mod held;
mod info;
mod listing;
mod lockfile;

use serde::Serialize;
use shopstack_core::AwsCallError;
use thiserror::Error;

use crate::context::Context;

pub use held::{HeldLock, Wait};
pub use info::{LockInfo, OPERATION_APPLY};
pub use lockfile::LOCKFILE_SUFFIX;

/// Where a lock is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An item of the DynamoDB lock table.
    Dynamodb,
    /// A `.tflock` object in the state bucket.
    S3,
}

/// A lock found in the table or the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundLock {
    /// Table item or lockfile.
    pub backend: Backend,
    /// The item's LockID, or the lockfile's key.
    pub location: String,
    /// What the holder wrote.
    pub info: LockInfo,
}

/// Errors of locking.
#[derive(Debug, Error)]
pub enum LockError {
    /// Someone else holds the lock.
    #[error("the state lock {location} is held by {}", holder.holder())]
    Held {
        /// LockID or lockfile key.
        location: String,
        /// What the holder wrote.
        holder: Box<LockInfo>,
    },
    /// Waited for `--lock-timeout` and the lock is still held.
    #[error("gave up after {waited}: the state lock {location} is still held by {}", holder.holder())]
    TimedOut {
        /// How long was waited, e.g. `2m`.
        waited: String,
        /// LockID or lockfile key.
        location: String,
        /// What the holder wrote.
        holder: Box<LockInfo>,
    },
    /// A lock whose content is not Terraform's LockInfo JSON.
    #[error("the state lock {location} is unreadable: {message}")]
    Unreadable {
        /// LockID or lockfile key.
        location: String,
        /// Why.
        message: String,
    },
    /// No lock has the given ID.
    #[error(
        "no lock with ID {0} in the lock table or the state bucket (see `infra-terraform locks`)"
    )]
    NoSuchLock(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsCallError),
}

/// Where the lock of an environment can live right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// The lock table exists: the lock is its item (Terraform's `dynamodb_table`).
    Table,
    /// Only the state bucket exists: the lock is a lockfile (Terraform's `use_lockfile`).
    Bucket,
    /// Neither exists yet.
    Nowhere,
}

/// The lock table and state bucket of one environment, where its locks live.
#[derive(Clone)]
pub struct LockStore {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
}

impl LockStore {
    /// The lock table and state bucket of `context`'s environment.
    pub fn new(context: &Context) -> Self {
        Self {
            dynamodb: context.dynamodb.clone(),
            s3: context.s3.clone(),
            table: context.names.lock_table(),
            bucket: context.names.state_bucket(),
        }
    }

    /// The state bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The LockID of `path`: `<bucket>/<path>`, as Terraform's S3 backend names it.
    pub fn lock_id(&self, path: &str) -> String {
        format!("{}/{path}", self.bucket)
    }
}
