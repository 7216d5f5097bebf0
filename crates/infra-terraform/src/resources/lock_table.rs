//! The DynamoDB lock table: `LockID` hash key, on-demand, KMS-encrypted, point-in-time recovery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ContinuousBackupsDescription, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, ScalarAttributeType, SseDescription, SseSpecification,
    SseType, TableDescription, TableStatus, Tag,
};
use futures::future::try_join_all;

use shopstack_core::aws_call;

use crate::context::Context;
use crate::hcl::Block;
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags,
    encryption_attribute, is_managed, sdk_tags, tags_attribute,
};
use crate::retry;
use crate::terraform_form::{Importable, with_tags};

/// The table's encryption, when it is on (or being turned on or changed).
fn active_encryption(table: &TableDescription) -> Option<&SseDescription> {
    table.sse_description().filter(|sse| {
        sse.status()
            .is_some_and(|status| matches!(status.as_str(), "ENABLED" | "ENABLING" | "UPDATING"))
    })
}

/// What a read of the table received.
struct Answered {
    table: TableDescription,
    backups: Option<ContinuousBackupsDescription>,
    tags: Vec<Tag>,
}

/// The hash key Terraform's S3 backend uses.
pub const LOCK_KEY: &str = "LockID";
const KEY_SCHEMA: &str = "LockID (S, HASH)";
/// How long a new table may take to become ACTIVE.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The lock table of the environment.
pub struct LockTable {
    context: Arc<Context>,
}

impl LockTable {
    /// Its address in plans.
    pub const ADDRESS: &'static str = "dynamodb_table.lock";

    /// The lock table of `context`'s environment.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn table(&self) -> String {
        self.context.names.lock_table()
    }

    async fn wait_until_active(&self) -> Result<(), ResourceError> {
        let table = self.table();
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let output = self
                .context
                .dynamodb
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .map_err(aws_call("DynamoDB", "DescribeTable", &table))?;
            if output.table().and_then(|table| table.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if started.elapsed() > ACTIVE_TIMEOUT {
                return Err(
                    self.unexpected(format!("not ACTIVE after {}s", ACTIVE_TIMEOUT.as_secs()))
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Creates the table with its key, billing, encryption and tags in one call, waiting until it
    /// is ACTIVE (no wait when CreateTable answers ACTIVE). Whether this call created it: `false`
    /// when a concurrent process did (its settings are ours too). Point-in-time recovery, which
    /// needs the table ACTIVE, is [`enable_recovery`](Self::enable_recovery).
    pub async fn create_reporting(&self) -> Result<bool, ResourceError> {
        let table = self.table();
        let definition = AttributeDefinition::builder()
            .attribute_name(LOCK_KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| self.unexpected(error))?;
        let key = KeySchemaElement::builder()
            .attribute_name(LOCK_KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|error| self.unexpected(error))?;
        let created = self
            .context
            .dynamodb
            .create_table()
            .table_name(&table)
            .attribute_definitions(definition)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(self.sse_specification())
            .set_tags(Some(self.tags()?))
            .send()
            .await;
        let (ours, active) = match created {
            Ok(output) => (
                true,
                output
                    .table_description()
                    .and_then(|description| description.table_status())
                    == Some(&TableStatus::Active),
            ),
            // Another process is creating it: wait for it like for our own.
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), CreateTableError::ResourceInUseException(_)) =>
            {
                (false, false)
            }
            Err(error) => return Err(aws_call("DynamoDB", "CreateTable", &table)(error).into()),
        };
        if !active {
            self.wait_until_active().await?;
        }
        Ok(ours)
    }

    /// Turns point-in-time recovery on (retried while AWS answers that backups are being
    /// enabled on a table just ACTIVE).
    pub async fn enable_recovery(&self) -> Result<(), ResourceError> {
        self.put("point_in_time_recovery").await
    }

    fn tags(&self) -> Result<Vec<Tag>, ResourceError> {
        sdk_tags(self.context.names.tags(), |key, value| {
            Tag::builder().key(key).value(value).build()
        })
        .map_err(|error| self.unexpected(error))
    }

    /// SSE with KMS: the environment's key when it names one, else the AWS-managed aws/dynamodb.
    fn sse_specification(&self) -> SseSpecification {
        SseSpecification::builder()
            .enabled(true)
            .sse_type(SseType::Kms)
            .set_kms_master_key_id(self.context.kms_key_arn().map(str::to_owned))
            .build()
    }

    async fn put(&self, attribute: &str) -> Result<(), ResourceError> {
        let dynamodb = &self.context.dynamodb;
        let table = self.table();
        match attribute {
            "billing_mode" => {
                dynamodb
                    .update_table()
                    .table_name(&table)
                    .billing_mode(BillingMode::PayPerRequest)
                    .send()
                    .await
                    .map_err(aws_call("DynamoDB", "UpdateTable", &table))?;
            }
            "encryption" => {
                dynamodb
                    .update_table()
                    .table_name(&table)
                    .sse_specification(self.sse_specification())
                    .send()
                    .await
                    .map_err(aws_call("DynamoDB", "UpdateTable", &table))?;
            }
            "point_in_time_recovery" => {
                let specification = PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(|error| self.unexpected(error))?;
                let request = dynamodb
                    .update_continuous_backups()
                    .table_name(&table)
                    .point_in_time_recovery_specification(specification);
                retry::eventually(&retry::DYNAMODB_BACKUPS_ENABLING, || request.clone().send())
                    .await
                    .map_err(aws_call("DynamoDB", "UpdateContinuousBackups", &table))?;
            }
            "tags" => {
                dynamodb
                    .tag_resource()
                    .resource_arn(self.context.lock_table_arn())
                    .set_tags(Some(self.tags()?))
                    .send()
                    .await
                    .map_err(aws_call("DynamoDB", "TagResource", &table))?;
            }
            other => return Err(self.no_setter(other)),
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for LockTable {
    fn address(&self) -> &'static str {
        Self::ADDRESS
    }

    fn id(&self) -> String {
        self.table()
    }

    fn destroyed_last(&self) -> bool {
        true
    }

    fn desired(&self) -> Attributes {
        Attributes::from([
            ("key_schema", KEY_SCHEMA.to_owned()),
            (
                "billing_mode",
                BillingMode::PayPerRequest.as_str().to_owned(),
            ),
            (
                "encryption",
                encryption_attribute(SseType::Kms.as_str(), self.context.kms_key_arn()),
            ),
            ("point_in_time_recovery", "ENABLED".to_owned()),
            ("tags", desired_tags(&self.context.names.tags())),
        ])
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["key_schema"]
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let dynamodb = &self.context.dynamodb;
        let table = self.table();
        let describe = dynamodb.describe_table().table_name(&table).send();
        let backups = dynamodb
            .describe_continuous_backups()
            .table_name(&table)
            .send();
        let arn = self.context.lock_table_arn();
        let tags = all_tags(dynamodb, &arn);
        let (describe, backups, tags) = futures::join!(describe, backups, tags);
        let description = match describe {
            Ok(output) => output.table,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DescribeTableError::ResourceNotFoundException(_)
                ) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws_call("DynamoDB", "DescribeTable", &table)(error).into()),
        };
        let Some(description) = description else {
            return Ok(None);
        };
        let backups = backups
            .map_err(aws_call("DynamoDB", "DescribeContinuousBackups", &table))?
            .continuous_backups_description;
        let tags = tags.map_err(aws_call("DynamoDB", "ListTagsOfResource", &table))?;

        let key_schema = description
            .key_schema()
            .iter()
            .map(|key| {
                let kind = description
                    .attribute_definitions()
                    .iter()
                    .find(|definition| definition.attribute_name() == key.attribute_name())
                    .map_or("?", |definition| definition.attribute_type().as_str());
                format!(
                    "{} ({kind}, {})",
                    key.attribute_name(),
                    key.key_type().as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let billing_mode = description
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode())
            .map_or("PROVISIONED", BillingMode::as_str)
            .to_owned();
        let sse = active_encryption(&description);
        let kind = sse
            .and_then(|sse| sse.sse_type())
            .map_or("AWS owned key", SseType::as_str);
        // DynamoDB reports the AWS-managed key's ARN too, which cannot be told from a customer
        // key's without asking KMS: the key is compared only where the environment names one.
        let key = self.context.kms_key_arn().map(|_| {
            sse.and_then(|sse| sse.kms_master_key_arn())
                .unwrap_or("no key")
        });
        let encryption = encryption_attribute(kind, key);
        let point_in_time_recovery = backups
            .as_ref()
            .and_then(|description| description.point_in_time_recovery_description())
            .and_then(|recovery| recovery.point_in_time_recovery_status())
            .map_or("DISABLED", |status| status.as_str())
            .to_owned();
        let pairs = || tags.iter().map(|tag| (tag.key(), tag.value()));
        Ok(Some(Live {
            attributes: Attributes::from([
                ("key_schema", key_schema),
                ("billing_mode", billing_mode),
                ("encryption", encryption),
                ("point_in_time_recovery", point_in_time_recovery),
                ("tags", tags_attribute(pairs(), &self.context.names.tags())),
            ]),
            managed: is_managed(pairs()),
            answers: Answers::new(Answered {
                table: description,
                backups,
                tags,
            }),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_dynamodb_table"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(Answered {
            table,
            backups,
            tags,
        }) = live.answers.get::<Answered>()
        else {
            return Vec::new();
        };
        let name = self.table();
        let billing = table
            .billing_mode_summary()
            .and_then(|summary| summary.billing_mode())
            .map_or("PROVISIONED", BillingMode::as_str);
        let body = |mut block: Block| {
            block = block.string("name", &name).string("billing_mode", billing);
            for key in table.key_schema() {
                let attribute = match key.key_type() {
                    KeyType::Hash => "hash_key",
                    _ => "range_key",
                };
                block = block.string(attribute, key.attribute_name());
            }
            if billing == BillingMode::Provisioned.as_str()
                && let Some(throughput) = table.provisioned_throughput()
            {
                block = block
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
                block = block.block(
                    Block::new("attribute", &[])
                        .string("name", definition.attribute_name())
                        .string("type", definition.attribute_type().as_str()),
                );
            }
            let encrypted = active_encryption(table).is_some();
            let mut encryption = Block::new("server_side_encryption", &[])
                .attribute("enabled", encrypted.to_string());
            // The provider reads the AWS-managed key's ARN as empty (computed): a key is
            // written only where the environment names its own.
            if let (Some(_), Some(key)) = (
                self.context.kms_key_arn(),
                table
                    .sse_description()
                    .and_then(|sse| sse.kms_master_key_arn()),
            ) {
                encryption = encryption.string("kms_key_arn", key);
            }
            let recovery = backups
                .as_ref()
                .and_then(|description| description.point_in_time_recovery_description())
                .and_then(|recovery| recovery.point_in_time_recovery_status())
                .is_some_and(|status| status.as_str() == "ENABLED");
            block = block.block(encryption).block(
                Block::new("point_in_time_recovery", &[])
                    .attribute("enabled", recovery.to_string()),
            );
            with_tags(block, tags.iter().map(|tag| (tag.key(), tag.value())))
        };
        vec![Importable::new(self.terraform_type(), "lock", &name, body)]
    }

    async fn create(&self) -> Result<(), ResourceError> {
        self.create_reporting().await?;
        self.enable_recovery().await
    }

    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError> {
        // UpdateTable allows one change at a time: billing mode and encryption go in turn.
        for attribute in attributes
            .iter()
            .filter(|attribute| matches!(**attribute, "billing_mode" | "encryption"))
        {
            self.put(attribute).await?;
            self.wait_until_active().await?;
        }
        let rest = attributes
            .iter()
            .filter(|attribute| !matches!(**attribute, "billing_mode" | "encryption"));
        try_join_all(rest.map(|attribute| self.put(attribute))).await?;
        Ok(())
    }

    async fn delete(&self, _options: &DestroyOptions) -> Result<(), ResourceError> {
        let table = self.table();
        self.context
            .dynamodb
            .delete_table()
            .table_name(&table)
            .send()
            .await
            .map_err(aws_call("DynamoDB", "DeleteTable", &table))?;
        Ok(())
    }
}

/// Every tag of the DynamoDB resource `arn`: `ListTagsOfResource` pages (its `NextToken`), and a
/// table may carry up to 50 tags.
async fn all_tags(
    dynamodb: &aws_sdk_dynamodb::Client,
    arn: &str,
) -> Result<Vec<Tag>, SdkError<ListTagsOfResourceError>> {
    let mut tags = Vec::new();
    let mut next = None;
    loop {
        let page = dynamodb
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next)
            .send()
            .await?;
        tags.extend(page.tags().iter().cloned());
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => return Ok(tags),
        }
    }
}
