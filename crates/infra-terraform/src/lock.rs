//! Terraform-compatible state locks: DynamoDB lock items and S3 lockfiles holding Terraform's
//! `LockInfo`, so that Terraform and infra-terraform can read and clear each other's locks.
//!
//! The formats are those of Terraform's S3 backend. A DynamoDB lock is the item
//! `{LockID: "<bucket>/<path>", Info: "<LockInfo JSON>"}`, written with
//! `attribute_not_exists(LockID)`; Terraform also keeps `<bucket>/<path>-md5` digest items in the
//! same table, which are not locks. An S3 lock is the object `<path>.tflock` holding the LockInfo
//! JSON, written with `If-None-Match: *` (412 when it is held). Unlocking reads the lock
//! (consistently), compares its ID and deletes exactly what was read.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TableStatus};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use shopstack_core::error_chain::aws_error_code;
use shopstack_core::{AwsCallError, aws_call};
use thiserror::Error;

use crate::context::Context;
use crate::resources::lock_table::LOCK_KEY;

/// The item attribute holding the LockInfo JSON.
const INFO_ATTRIBUTE: &str = "Info";
/// Suffix of S3 lockfiles after the state path.
pub const LOCKFILE_SUFFIX: &str = ".tflock";
/// The operation Terraform records for `apply` (and for `destroy`, an apply in destroy mode).
pub const OPERATION_APPLY: &str = "OperationTypeApply";
/// First delay between attempts while waiting for a held lock; it grows to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Terraform's `statemgr.LockInfo`, field for field and in its JSON field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random UUID, the handle `force-unlock` takes.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// What the holder does, e.g. `OperationTypeApply`.
    #[serde(rename = "Operation", default)]
    pub operation: String,
    /// Free text from the holder.
    #[serde(rename = "Info", default)]
    pub info: String,
    /// `user@host` of the holder.
    #[serde(rename = "Who", default)]
    pub who: String,
    /// The holder's tool version.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// When the lock was taken: RFC 3339 in UTC, with nanoseconds.
    #[serde(rename = "Created", default)]
    pub created: String,
    /// `<bucket>/<path>`: the LockID of the lock.
    #[serde(rename = "Path", default)]
    pub path: String,
}

impl LockInfo {
    /// A new lock on `path` (`<bucket>/<path>`) for `operation`, taken now by this user and host.
    pub fn new(path: String, operation: &str, info: String) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            info,
            who: who(),
            version: format!("infra-terraform {}", env!("CARGO_PKG_VERSION")),
            created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            path,
        }
    }

    /// The holder, as error messages show it.
    pub fn holder(&self) -> String {
        let info = if self.info.is_empty() {
            String::new()
        } else {
            format!(", {}", self.info)
        };
        format!(
            "{} ({}{info}) since {}, lock ID {}",
            self.who, self.operation, self.created, self.id
        )
    }
}

/// `user@host`, as Terraform records it.
fn who() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{host}")
}

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

/// Whether an S3 error says the bucket or the key does not exist.
fn s3_absent<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        aws_error_code(error),
        Some("NoSuchBucket" | "NoSuchKey" | "NotFound")
    )
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

    /// Whether the lock table exists and is ACTIVE.
    pub async fn table_exists(&self) -> Result<bool, LockError> {
        match self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(output) => {
                Ok(output.table().and_then(|table| table.table_status())
                    == Some(&TableStatus::Active))
            }
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DescribeTableError::ResourceNotFoundException(_)
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(aws_call("DynamoDB", "DescribeTable", &self.table)(error).into()),
        }
    }

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

    /// Writes the lock item for `info.path` with `body`, Terraform's LockInfo JSON of `info`:
    /// `true` when written, `false` when there is no lock table, `Held` when the item exists.
    pub async fn lock_item(&self, info: &LockInfo, body: &str) -> Result<bool, LockError> {
        let put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item(LOCK_KEY, AttributeValue::S(info.path.clone()))
            .item(INFO_ATTRIBUTE, AttributeValue::S(body.to_owned()))
            .condition_expression("attribute_not_exists(LockID)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(error) if is_missing_table(&error) => Ok(false),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                match self.read_item(&info.path).await? {
                    Some((holder, _)) => Err(LockError::Held {
                        location: info.path.clone(),
                        holder: Box::new(holder),
                    }),
                    // Released between the two calls: the caller tries again.
                    None => Err(LockError::Held {
                        location: info.path.clone(),
                        holder: Box::new(LockInfo {
                            info: "released meanwhile".to_owned(),
                            ..LockInfo::default_for(&info.path)
                        }),
                    }),
                }
            }
            Err(error) => Err(aws_call("DynamoDB", "PutItem", &info.path)(error).into()),
        }
    }

    /// The lock item at `lock_id` (consistent read): its LockInfo and raw Info text.
    async fn read_item(&self, lock_id: &str) -> Result<Option<(LockInfo, String)>, LockError> {
        let output = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(LOCK_KEY, AttributeValue::S(lock_id.to_owned()))
            .consistent_read(true)
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(error) if is_missing_table(&error) => return Ok(None),
            Err(error) => return Err(aws_call("DynamoDB", "GetItem", lock_id)(error).into()),
        };
        let Some(item) = output.item else {
            return Ok(None);
        };
        let Some(AttributeValue::S(raw)) = item.get(INFO_ATTRIBUTE) else {
            return Ok(None);
        };
        let info = parse(lock_id, raw)?;
        Ok(Some((info, raw.clone())))
    }

    /// Deletes the lock item at `lock_id` if its ID is `id`. Returns whether it did.
    pub async fn unlock_item(&self, lock_id: &str, id: &str) -> Result<bool, LockError> {
        let Some((info, raw)) = self.read_item(lock_id).await? else {
            return Ok(false);
        };
        if info.id != id {
            return Ok(false);
        }
        self.delete_item_if(lock_id, raw).await
    }

    /// Deletes the lock item at `lock_id` if its Info is exactly `raw`: never a lock taken since.
    /// Returns whether it did (a missing table or item holds nothing to delete).
    pub async fn delete_item_if(&self, lock_id: &str, raw: String) -> Result<bool, LockError> {
        let deleted = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key(LOCK_KEY, AttributeValue::S(lock_id.to_owned()))
            .condition_expression("#info = :info")
            .expression_attribute_names("#info", INFO_ATTRIBUTE)
            .expression_attribute_values(":info", AttributeValue::S(raw))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DeleteItemError::ConditionalCheckFailedException(_)
                        | DeleteItemError::ResourceNotFoundException(_)
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(aws_call("DynamoDB", "DeleteItem", lock_id)(error).into()),
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
    async fn read_file(&self, key: &str) -> Result<Option<(LockInfo, Option<String>)>, LockError> {
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

    /// Every lock: the table's items (Terraform's digest items excluded) and the bucket's
    /// `.tflock` objects. A missing table or bucket holds none.
    pub async fn list(&self) -> Result<Vec<FoundLock>, LockError> {
        let (items, files) = futures::try_join!(self.list_items(), self.list_files())?;
        let mut locks: Vec<FoundLock> = items.into_iter().chain(files).collect();
        locks.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(locks)
    }

    async fn list_items(&self) -> Result<Vec<FoundLock>, LockError> {
        let mut locks = Vec::new();
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(error) if is_missing_table(&error) => return Ok(Vec::new()),
                Err(error) => return Err(aws_call("DynamoDB", "Scan", &self.table)(error).into()),
            };
            for item in page.items() {
                // Terraform's `<bucket>/<key>-md5` digest items carry `Digest`, not `Info`.
                let (Some(AttributeValue::S(lock_id)), Some(AttributeValue::S(raw))) =
                    (item.get(LOCK_KEY), item.get(INFO_ATTRIBUTE))
                else {
                    continue;
                };
                locks.push(FoundLock {
                    backend: Backend::Dynamodb,
                    location: lock_id.clone(),
                    info: parse(lock_id, raw)?,
                });
            }
        }
        Ok(locks)
    }

    async fn list_files(&self) -> Result<Vec<FoundLock>, LockError> {
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

    /// Removes every lock whose ID is `id` (a Terraform lock with both a lockfile and an item
    /// has both); returns what was removed.
    pub async fn force_unlock(&self, id: &str) -> Result<Vec<FoundLock>, LockError> {
        let found: Vec<FoundLock> = self
            .list()
            .await?
            .into_iter()
            .filter(|lock| lock.info.id == id)
            .collect();
        if found.is_empty() {
            return Err(LockError::NoSuchLock(id.to_owned()));
        }
        let mut removed = Vec::new();
        for lock in found {
            let done = match lock.backend {
                Backend::Dynamodb => self.unlock_item(&lock.location, id).await?,
                Backend::S3 => self.unlock_file(&lock.location, id).await?,
            };
            if done {
                removed.push(lock);
            }
        }
        if removed.is_empty() {
            return Err(LockError::NoSuchLock(id.to_owned()));
        }
        Ok(removed)
    }
}

impl LockInfo {
    /// An empty LockInfo for `path`, for holders that left nothing to read.
    fn default_for(path: &str) -> Self {
        Self {
            id: String::new(),
            operation: "unknown".to_owned(),
            info: String::new(),
            who: "unknown".to_owned(),
            version: String::new(),
            created: "unknown".to_owned(),
            path: path.to_owned(),
        }
    }
}

fn parse(location: &str, raw: &str) -> Result<LockInfo, LockError> {
    serde_json::from_str(raw).map_err(|error| LockError::Unreadable {
        location: location.to_owned(),
        message: error.to_string(),
    })
}

fn is_missing_table<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    error: &SdkError<E, R>,
) -> bool {
    aws_error_code(error) == Some("ResourceNotFoundException")
}

/// The lock `apply` and `destroy` hold on `<bucket>/<project>/<env>/infra`, in the table, the
/// bucket, or both. Releasing deletes only what carries its ID, so releasing a lock that was never
/// fully taken (or was cleared with `force-unlock`) is harmless.
pub struct HeldLock {
    store: LockStore,
    /// What was written.
    pub info: LockInfo,
    lockfile_key: String,
    item: bool,
    file: bool,
}

/// How long to wait for a held lock.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// `None`: fail at once when the lock is held.
    pub timeout: Option<Duration>,
}

impl HeldLock {
    /// A lock on `<bucket>/<path>` (lockfile `<path>.tflock`), not taken yet.
    pub fn new(store: LockStore, path: &str, operation_info: String) -> Self {
        let info = LockInfo::new(store.lock_id(path), OPERATION_APPLY, operation_info);
        Self {
            lockfile_key: format!("{path}{LOCKFILE_SUFFIX}"),
            store,
            info,
            item: false,
            file: false,
        }
    }

    /// Takes the lock where it can live now, among `places`, waiting with backoff up to
    /// `wait.timeout` while it is held: in the table when that exists, else in the bucket when
    /// that exists; [`Home::Nowhere`] when neither of `places` exists (nothing taken). The first
    /// request is the lock itself: its PutItem tells whether the table exists. In the table, a
    /// lockfile of the same path (a holder that took it while the table was missing) also counts
    /// as held; in the bucket, a table created meanwhile is locked too.
    pub async fn acquire(
        &mut self,
        places: &[Home],
        wait: Wait,
        waiting: &(dyn Fn(&LockError) + Sync),
    ) -> Result<Home, LockError> {
        let started = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut reported = false;
        loop {
            let held = match self.try_places(places).await {
                Ok(home) => return Ok(home),
                Err(held @ LockError::Held { .. }) => held,
                Err(error) => {
                    // The first failure is the one to report; a release failing here is retried,
                    // and reported, by the caller's own release.
                    let _ = self.release().await;
                    return Err(error);
                }
            };
            let Some(timeout) = wait.timeout else {
                return Err(held);
            };
            if started.elapsed() >= timeout {
                let LockError::Held { location, holder } = held else {
                    return Err(held);
                };
                return Err(LockError::TimedOut {
                    waited: humantime::format_duration(timeout).to_string(),
                    location,
                    holder,
                });
            }
            if !reported {
                waiting(&held);
                reported = true;
            }
            tokio::time::sleep(jittered(delay).min(timeout.saturating_sub(started.elapsed())))
                .await;
            delay = (delay * 3 / 2).min(MAX_DELAY);
        }
    }

    async fn try_places(&mut self, places: &[Home]) -> Result<Home, LockError> {
        if places.contains(&Home::Table) && self.try_table().await? {
            return Ok(Home::Table);
        }
        if places.contains(&Home::Bucket) && self.try_bucket().await? {
            return Ok(Home::Bucket);
        }
        Ok(Home::Nowhere)
    }

    /// Terraform's LockInfo JSON of this lock, as its table item holds it.
    fn body(&self) -> Result<String, LockError> {
        serde_json::to_string(&self.info).map_err(|error| LockError::Unreadable {
            location: self.info.path.clone(),
            message: error.to_string(),
        })
    }

    /// The item, with the lockfile looked for at the same time: `false` when there is no table.
    async fn try_table(&mut self) -> Result<bool, LockError> {
        let body = self.body()?;
        let (item, file) = futures::join!(
            self.store.lock_item(&self.info, &body),
            self.store.read_file(&self.lockfile_key)
        );
        if !item? {
            return Ok(false);
        }
        self.item = true;
        match file {
            Ok(None) => Ok(true),
            Ok(Some((holder, _))) => {
                self.release().await?;
                Err(LockError::Held {
                    location: format!("s3://{}/{}", self.store.bucket, self.lockfile_key),
                    holder: Box::new(holder),
                })
            }
            Err(error) => Err(error),
        }
    }

    /// The lockfile, then the item when a table exists by then: `false` when there is no bucket.
    async fn try_bucket(&mut self) -> Result<bool, LockError> {
        if !self.store.lock_file(&self.lockfile_key, &self.info).await? {
            return Ok(false);
        }
        self.file = true;
        if self.store.table_exists().await? {
            match self.store.lock_item(&self.info, &self.body()?).await {
                Ok(taken) => self.item = taken,
                Err(error) => {
                    self.release().await?;
                    return Err(error);
                }
            }
        }
        Ok(true)
    }

    /// Forgets the item: the lock table is deleted, and the lock with it.
    pub fn table_deleted(&mut self) {
        self.item = false;
    }

    /// Marks the lock as possibly taken in both places, so that [`release`](Self::release)
    /// cleans up after an interruption in the middle of taking it.
    pub fn assume_taken(&mut self) {
        self.item = true;
        self.file = true;
    }

    /// Deletes what this lock wrote (only what still carries its ID). A table or bucket that is
    /// gone (a `destroy` deleted it) holds nothing to release.
    pub async fn release(&mut self) -> Result<(), LockError> {
        if self.item {
            self.store
                .delete_item_if(&self.info.path, self.body()?)
                .await?;
            self.item = false;
        }
        if self.file {
            self.store
                .unlock_file(&self.lockfile_key, &self.info.id)
                .await?;
            self.file = false;
        }
        Ok(())
    }
}

/// `delay` with ±25% jitter, so that waiting processes do not retry in lockstep.
fn jittered(delay: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    delay.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_info_is_terraforms_json() {
        let info = LockInfo {
            id: "a1b2".to_owned(),
            operation: OPERATION_APPLY.to_owned(),
            info: "infra-terraform apply".to_owned(),
            who: "alice@host".to_owned(),
            version: "infra-terraform 0.1.0".to_owned(),
            created: "2026-01-02T03:04:05.123456789Z".to_owned(),
            path: "bucket/p/dev/infra".to_owned(),
        };
        assert_eq!(
            serde_json::to_string(&info).expect("JSON"),
            r#"{"ID":"a1b2","Operation":"OperationTypeApply","Info":"infra-terraform apply","Who":"alice@host","Version":"infra-terraform 0.1.0","Created":"2026-01-02T03:04:05.123456789Z","Path":"bucket/p/dev/infra"}"#
        );
    }

    #[test]
    fn terraforms_lock_info_is_read() {
        let raw = r#"{"ID":"6c2c","Operation":"OperationTypeApply","Info":"","Who":"bob@ci","Version":"1.11.4","Created":"2026-01-02T03:04:05.5Z","Path":"b/envs/dev/terraform.tfstate"}"#;
        let info = parse("b/envs/dev/terraform.tfstate", raw).expect("parsed");
        assert_eq!(info.who, "bob@ci");
        assert_eq!(
            info.holder(),
            "bob@ci (OperationTypeApply) since 2026-01-02T03:04:05.5Z, lock ID 6c2c"
        );
    }

    #[test]
    fn new_locks_have_a_uuid_and_utc_nanosecond_time() {
        let info = LockInfo::new("b/p/dev/infra".to_owned(), OPERATION_APPLY, String::new());
        assert!(uuid::Uuid::parse_str(&info.id).is_ok());
        assert!(info.created.ends_with('Z'));
        assert_eq!(info.created.len(), "2026-01-02T03:04:05.123456789Z".len());
        assert!(info.who.contains('@'));
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        let delay = Duration::from_millis(1000);
        let jittered = jittered(delay);
        assert!(jittered >= Duration::from_millis(750) && jittered <= Duration::from_millis(1250));
    }
}
