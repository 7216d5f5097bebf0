//! The application secret: metadata only at creation, restored rather than recreated after delete.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::create_secret::CreateSecretError;
use aws_sdk_secretsmanager::operation::describe_secret::{
    DescribeSecretError, DescribeSecretOutput,
};
use aws_sdk_secretsmanager::types::Tag;
use futures::future::try_join_all;

use shopstack_core::aws_call;

use crate::context::Context;
use crate::hcl::Block;
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags, is_managed,
    tags_attribute,
};
use crate::terraform_form::{Importable, with_tags};

const ACTIVE: &str = "active";
const PENDING_DELETION: &str = "pending deletion";
/// The key Secrets Manager encrypts with when none is named.
const DEFAULT_KEY: &str = "aws/secretsmanager";

/// The `<project>/<env>/app-config` secret.
pub struct AppSecret {
    context: Arc<Context>,
}

impl AppSecret {
    /// The application secret of `context`'s environment.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn name(&self) -> String {
        self.context.names.app_secret()
    }

    fn description(&self) -> String {
        format!(
            "ShopStack application configuration of {} (a JSON object; set with `infra-terraform secret put`)",
            self.context.names.environment()
        )
    }

    /// The key the secret is encrypted with: the environment's, else Secrets Manager's own.
    fn kms_key(&self) -> String {
        self.context.kms_key_arn().unwrap_or(DEFAULT_KEY).to_owned()
    }

    fn tags(&self) -> Vec<Tag> {
        self.context
            .names
            .tags()
            .into_iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect()
    }

    async fn put(&self, attribute: &str) -> Result<(), ResourceError> {
        let secrets = &self.context.secrets;
        let name = self.name();
        match attribute {
            "state" => {
                secrets
                    .restore_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .map_err(aws_call("SecretsManager", "RestoreSecret", &name))?;
            }
            "description" => {
                secrets
                    .update_secret()
                    .secret_id(&name)
                    .description(self.description())
                    .send()
                    .await
                    .map_err(aws_call("SecretsManager", "UpdateSecret", &name))?;
            }
            "kms_key" => {
                // An empty key ID goes back to aws/secretsmanager (UpdateSecret's reference).
                secrets
                    .update_secret()
                    .secret_id(&name)
                    .kms_key_id(self.context.kms_key_arn().unwrap_or_default())
                    .send()
                    .await
                    .map_err(aws_call("SecretsManager", "UpdateSecret", &name))?;
            }
            "tags" => {
                secrets
                    .tag_resource()
                    .secret_id(&name)
                    .set_tags(Some(self.tags()))
                    .send()
                    .await
                    .map_err(aws_call("SecretsManager", "TagResource", &name))?;
            }
            other => return Err(self.no_setter(other)),
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for AppSecret {
    fn address(&self) -> &'static str {
        "secretsmanager_secret.app_config"
    }

    fn id(&self) -> String {
        self.name()
    }

    fn desired(&self) -> Attributes {
        Attributes::from([
            ("state", ACTIVE.to_owned()),
            ("description", self.description()),
            ("kms_key", self.kms_key()),
            ("tags", desired_tags(&self.context.names.tags())),
        ])
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let name = self.name();
        let output = match self
            .context
            .secrets
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
        {
            Ok(output) => output,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DescribeSecretError::ResourceNotFoundException(_)
                ) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(aws_call("SecretsManager", "DescribeSecret", &name)(error).into());
            }
        };
        let state = if output.deleted_date().is_some() {
            PENDING_DELETION
        } else {
            ACTIVE
        };
        let pairs = || {
            output
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?, tag.value()?)))
        };
        Ok(Some(Live {
            attributes: Attributes::from([
                ("state", state.to_owned()),
                (
                    "description",
                    output.description().unwrap_or_default().to_owned(),
                ),
                (
                    "kms_key",
                    output
                        .kms_key_id()
                        .filter(|key| !key.is_empty())
                        .unwrap_or(DEFAULT_KEY)
                        .to_owned(),
                ),
                ("tags", tags_attribute(pairs(), &self.context.names.tags())),
            ]),
            managed: is_managed(pairs()),
            answers: Answers::new(output),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_secretsmanager_secret"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(secret) = live.answers.get::<DescribeSecretOutput>() else {
            return Vec::new();
        };
        // Secrets Manager imports by ARN.
        let Some(arn) = secret.arn() else {
            return Vec::new();
        };
        vec![Importable::new(
            self.terraform_type(),
            "app_config",
            arn,
            |mut block| {
                block = block
                    .string("name", &self.name())
                    .string("description", secret.description().unwrap_or_default());
                if let Some(key) = secret.kms_key_id() {
                    block = block.string("kms_key_id", key);
                }
                let tags = secret
                    .tags()
                    .iter()
                    .filter_map(|tag| Some((tag.key()?, tag.value()?)));
                // What happens on a Terraform destroy is Terraform's own setting, not read from
                // AWS: an import leaves it unset, which would otherwise show as a change.
                with_tags(block, tags).block(Block::new("lifecycle", &[]).attribute(
                    "ignore_changes",
                    "[recovery_window_in_days, force_overwrite_replica_secret]",
                ))
            },
        )]
    }

    async fn create(&self) -> Result<(), ResourceError> {
        let name = self.name();
        let created = self
            .context
            .secrets
            .create_secret()
            .name(&name)
            .description(self.description())
            .set_kms_key_id(self.context.kms_key_arn().map(str::to_owned))
            .set_tags(Some(self.tags()))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Created meanwhile by a concurrent apply: the same secret, nothing to do.
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), CreateSecretError::ResourceExistsException(_)) =>
            {
                Ok(())
            }
            Err(error) => Err(aws_call("SecretsManager", "CreateSecret", &name)(error).into()),
        }
    }

    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError> {
        // A secret pending deletion accepts no other change until it is restored.
        if attributes.contains(&"state") {
            self.put("state").await?;
        }
        let rest = attributes.iter().filter(|attribute| **attribute != "state");
        try_join_all(rest.map(|attribute| self.put(attribute))).await?;
        Ok(())
    }

    async fn keep_reason(
        &self,
        live: &Live,
        _options: &DestroyOptions,
    ) -> Result<Option<String>, ResourceError> {
        Ok(
            (live.attributes.get("state").map(String::as_str) == Some(PENDING_DELETION))
                .then(|| "deletion already scheduled".to_owned()),
        )
    }

    async fn delete(&self, _options: &DestroyOptions) -> Result<(), ResourceError> {
        // The default recovery window (30 days) applies: `apply` restores it within that time.
        let name = self.name();
        self.context
            .secrets
            .delete_secret()
            .secret_id(&name)
            .send()
            .await
            .map_err(aws_call("SecretsManager", "DeleteSecret", &name))?;
        Ok(())
    }
}
