//! Locks as items of the DynamoDB lock table, as Terraform's `dynamodb_table` locking writes them.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TableStatus};
use shopstack_core::aws_call;
use shopstack_core::error_chain::aws_error_code;

use super::info::parse;
use super::{Backend, FoundLock, LockError, LockInfo, LockStore};
use crate::resources::lock_table::LOCK_KEY;

/// The item attribute holding the LockInfo JSON.
const INFO_ATTRIBUTE: &str = "Info";

fn is_missing_table<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    error: &SdkError<E, R>,
) -> bool {
    aws_error_code(error) == Some("ResourceNotFoundException")
}

impl LockStore {
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
    pub(super) async fn read_item(
        &self,
        lock_id: &str,
    ) -> Result<Option<(LockInfo, String)>, LockError> {
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

    pub(super) async fn list_items(&self) -> Result<Vec<FoundLock>, LockError> {
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
}
