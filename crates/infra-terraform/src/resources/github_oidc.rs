//! The account-wide GitHub Actions OIDC provider: adopted if present, kept while any role trusts it.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::error::SdkError;
use aws_sdk_iam::operation::create_open_id_connect_provider::CreateOpenIDConnectProviderError;
use aws_sdk_iam::operation::get_open_id_connect_provider::{
    GetOpenIDConnectProviderError, GetOpenIdConnectProviderOutput,
};
use aws_sdk_iam::types::Tag;
use shopstack_core::names::{GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, MANAGED_BY};

use shopstack_core::aws_call;

use crate::context::Context;
use crate::hcl;
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, is_managed,
};
use crate::terraform_form::{Importable, with_tags};

/// Certificate thumbprints of GitHub's OIDC issuer. AWS now trusts the issuer through its own CA
/// library, but older partitions and tools still expect a thumbprint list.
const GITHUB_THUMBPRINTS: [&str; 2] = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
];

/// The GitHub OIDC provider of the account.
pub struct GitHubOidcProvider {
    context: Arc<Context>,
}

impl GitHubOidcProvider {
    /// Its address in plans.
    pub const ADDRESS: &'static str = "iam_openid_connect_provider.github";

    /// The provider of `context`'s account.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    /// Tags of the provider: shared by every environment, so no `Environment` tag.
    fn tags() -> Vec<Tag> {
        [("ManagedBy", MANAGED_BY)]
            .into_iter()
            .filter_map(|(key, value)| Tag::builder().key(key).value(value).build().ok())
            .collect()
    }

    /// Roles other than this environment's CI and infrastructure roles whose trust policy names
    /// the provider.
    async fn other_trusting_roles(&self) -> Result<Vec<String>, ResourceError> {
        let arn = self.context.oidc_provider_arn();
        let own_roles = [
            self.context.names.ci_role(),
            self.context.names.infrastructure_role(),
        ];
        let mut trusting = Vec::new();
        let mut pages = self.context.iam.list_roles().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws_call("IAM", "ListRoles", GITHUB_OIDC_HOST))?;
            for role in page.roles() {
                let trust = role
                    .assume_role_policy_document()
                    .map(|document| {
                        percent_encoding::percent_decode_str(document)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                    .unwrap_or_default();
                if !own_roles.iter().any(|own| own == role.role_name()) && trust.contains(&arn) {
                    trusting.push(role.role_name().to_owned());
                }
            }
        }
        Ok(trusting)
    }
}

#[async_trait]
impl Resource for GitHubOidcProvider {
    fn address(&self) -> &'static str {
        Self::ADDRESS
    }

    fn id(&self) -> String {
        GITHUB_OIDC_HOST.to_owned()
    }

    fn desired(&self) -> Attributes {
        Attributes::from([("client_ids", GITHUB_OIDC_AUDIENCE.to_owned())])
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let arn = self.context.oidc_provider_arn();
        let output = match self
            .context
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .send()
            .await
        {
            Ok(output) => output,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    GetOpenIDConnectProviderError::NoSuchEntityException(_)
                ) =>
            {
                return Ok(None);
            }
            Err(error) => {
                return Err(
                    aws_call("IAM", "GetOpenIDConnectProvider", GITHUB_OIDC_HOST)(error).into(),
                );
            }
        };
        // Other client ids belong to whoever else uses the provider: only ours must be there.
        let client_ids = output.client_id_list();
        let shown = if client_ids.iter().any(|id| id == GITHUB_OIDC_AUDIENCE) {
            GITHUB_OIDC_AUDIENCE.to_owned()
        } else if client_ids.is_empty() {
            "none".to_owned()
        } else {
            client_ids.join(", ")
        };
        Ok(Some(Live {
            attributes: Attributes::from([("client_ids", shown)]),
            managed: is_managed(output.tags().iter().map(|tag| (tag.key(), tag.value()))),
            answers: Answers::new(output),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_iam_openid_connect_provider"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(provider) = live.answers.get::<GetOpenIdConnectProviderOutput>() else {
            return Vec::new();
        };
        let url = provider.url().unwrap_or(GITHUB_OIDC_HOST);
        let url = if url.starts_with("https://") {
            url.to_owned()
        } else {
            format!("https://{url}")
        };
        let arn = self.context.oidc_provider_arn();
        vec![Importable::new(
            self.terraform_type(),
            "github",
            &arn,
            |block| {
                let block = block
                    .string("url", &url)
                    .attribute("client_id_list", hcl::strings(provider.client_id_list()))
                    .attribute("thumbprint_list", hcl::strings(provider.thumbprint_list()));
                with_tags(
                    block,
                    provider.tags().iter().map(|tag| (tag.key(), tag.value())),
                )
            },
        )]
    }

    async fn create(&self) -> Result<(), ResourceError> {
        let created = self
            .context
            .iam
            .create_open_id_connect_provider()
            .url(format!("https://{GITHUB_OIDC_HOST}"))
            .client_id_list(GITHUB_OIDC_AUDIENCE)
            .set_thumbprint_list(Some(GITHUB_THUMBPRINTS.map(str::to_owned).to_vec()))
            .set_tags(Some(Self::tags()))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Another environment's apply created it meanwhile: shared, so adopted.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    CreateOpenIDConnectProviderError::EntityAlreadyExistsException(_)
                ) =>
            {
                Ok(())
            }
            Err(error) => {
                Err(aws_call("IAM", "CreateOpenIDConnectProvider", GITHUB_OIDC_HOST)(error).into())
            }
        }
    }

    async fn update(&self, _attributes: &[&'static str]) -> Result<(), ResourceError> {
        // Adding our audience leaves every other user of the provider as it was.
        self.context
            .iam
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(self.context.oidc_provider_arn())
            .client_id(GITHUB_OIDC_AUDIENCE)
            .send()
            .await
            .map_err(aws_call(
                "IAM",
                "AddClientIDToOpenIDConnectProvider",
                GITHUB_OIDC_HOST,
            ))?;
        Ok(())
    }

    async fn keep_reason(
        &self,
        _live: &Live,
        _options: &DestroyOptions,
    ) -> Result<Option<String>, ResourceError> {
        let trusting = self.other_trusting_roles().await?;
        Ok((!trusting.is_empty()).then(|| {
            format!(
                "kept: shared by the account, still trusted by {}",
                trusting.join(", ")
            )
        }))
    }

    async fn delete(&self, _options: &DestroyOptions) -> Result<(), ResourceError> {
        self.context
            .iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(self.context.oidc_provider_arn())
            .send()
            .await
            .map_err(aws_call(
                "IAM",
                "DeleteOpenIDConnectProvider",
                GITHUB_OIDC_HOST,
            ))?;
        Ok(())
    }
}
