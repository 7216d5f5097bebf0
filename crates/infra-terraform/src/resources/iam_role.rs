//! An IAM role with a trust policy and one inline permissions policy: the CodeBuild, CI and
//! infrastructure roles.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::error::SdkError;
use aws_sdk_iam::operation::create_role::CreateRoleError;
use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
use aws_sdk_iam::types::{Role, Tag};
use futures::future::try_join_all;
use serde_json::Value;

use shopstack_core::aws_call;

use crate::context::Context;
use crate::policies::{
    INLINE_POLICY, build_override_findings, canonical, ci_trust_findings,
    codebuild_permission_findings, codebuild_trust_findings, permission_findings,
};
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags, is_managed,
    sdk_tags, tags_attribute,
};
use crate::resources::github_oidc::GitHubOidcProvider;
use crate::retry;
use crate::terraform_form::{Importable, document, with_tags};

/// What a read of a role received.
struct Answered {
    role: Role,
    /// The inline policy ShopStack writes, as IAM returned it; `None` without one.
    policy_document: Option<String>,
}

/// Which role: they differ in policies and in what audit checks in their trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// Assumed by CodeBuild to build and push images.
    CodeBuild,
    /// Assumed by GitHub Actions through OIDC.
    GitHubActions,
    /// Assumed through OIDC by the infrastructure repository's workflow, to plan and apply.
    Infrastructure,
}

/// One of the environment's roles.
pub struct IamRole {
    context: Arc<Context>,
    kind: RoleKind,
}

impl IamRole {
    /// The CodeBuild role's address in plans.
    pub const CODEBUILD_ADDRESS: &'static str = "iam_role.codebuild";

    /// The role of `kind` in `context`'s environment.
    pub fn new(context: Arc<Context>, kind: RoleKind) -> Self {
        Self { context, kind }
    }

    /// The resource name in Terraform's form: the address's second part.
    fn terraform_name(&self) -> &'static str {
        let address = self.address();
        address.split_once('.').map_or(address, |(_, name)| name)
    }

    fn name(&self) -> String {
        match self.kind {
            RoleKind::CodeBuild => self.context.names.codebuild_role(),
            RoleKind::GitHubActions => self.context.names.ci_role(),
            RoleKind::Infrastructure => self.context.names.infrastructure_role(),
        }
    }

    fn trust(&self) -> Value {
        match self.kind {
            RoleKind::CodeBuild => crate::policies::codebuild_trust_policy(&self.context),
            RoleKind::GitHubActions => crate::policies::ci_trust_policy(&self.context),
            RoleKind::Infrastructure => crate::policies::infrastructure_trust_policy(&self.context),
        }
    }

    fn permissions(&self) -> Value {
        match self.kind {
            RoleKind::CodeBuild => crate::policies::codebuild_permissions(&self.context),
            RoleKind::GitHubActions => crate::policies::ci_permissions(&self.context),
            RoleKind::Infrastructure => crate::policies::infrastructure_permissions(&self.context),
        }
    }

    fn description(&self) -> String {
        let environment = self.context.names.environment();
        match self.kind {
            RoleKind::CodeBuild => format!("ShopStack {environment}: CodeBuild image builds"),
            RoleKind::GitHubActions => {
                format!("ShopStack {environment}: GitHub Actions through OIDC")
            }
            RoleKind::Infrastructure => {
                format!("ShopStack {environment}: infrastructure workflow through OIDC")
            }
        }
    }

    fn tags(&self) -> Result<Vec<Tag>, ResourceError> {
        sdk_tags(self.context.names.tags(), |key, value| {
            Tag::builder().key(key).value(value).build()
        })
        .map_err(|error| self.unexpected(error))
    }

    async fn put(&self, attribute: &str) -> Result<(), ResourceError> {
        let iam = &self.context.iam;
        let name = self.name();
        match attribute {
            "trust_policy" => {
                iam.update_assume_role_policy()
                    .role_name(&name)
                    .policy_document(self.trust().to_string())
                    .send()
                    .await
                    .map_err(aws_call("IAM", "UpdateAssumeRolePolicy", &name))?;
            }
            "inline_policy" => {
                let request = iam
                    .put_role_policy()
                    .role_name(&name)
                    .policy_name(INLINE_POLICY)
                    .policy_document(self.permissions().to_string());
                retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send())
                    .await
                    .map_err(aws_call("IAM", "PutRolePolicy", &name))?;
            }
            "tags" => {
                iam.tag_role()
                    .role_name(&name)
                    .set_tags(Some(self.tags()?))
                    .send()
                    .await
                    .map_err(aws_call("IAM", "TagRole", &name))?;
            }
            other => return Err(self.no_setter(other)),
        }
        Ok(())
    }

    async fn create_role(&self) -> Result<(), ResourceError> {
        let name = self.name();
        let request = self
            .context
            .iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(self.trust().to_string())
            .description(self.description())
            .set_tags(Some(self.tags()?));
        // A just-created OIDC provider may not be visible to IAM's policy check of a GitHub
        // role's trust yet; the CodeBuild role's trust names no such principal.
        let settle = match self.kind {
            RoleKind::GitHubActions | RoleKind::Infrastructure => &retry::OIDC_PROVIDER_PROPAGATING,
            RoleKind::CodeBuild => &retry::NOTHING,
        };
        match retry::eventually(settle, || request.clone().send()).await {
            Ok(_) => Ok(()),
            // Created meanwhile by a concurrent apply; its policies are set below all the same.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    CreateRoleError::EntityAlreadyExistsException(_)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(aws_call("IAM", "CreateRole", &name)(error).into()),
        }
    }
}

impl IamRole {
    /// Takes role `name` out of every instance profile holding it.
    async fn leave_instance_profiles(&self, name: &str) -> Result<(), ResourceError> {
        let iam = &self.context.iam;
        let profiles = iam
            .list_instance_profiles_for_role()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(aws_call("IAM", "ListInstanceProfilesForRole", name))?;
        try_join_all(profiles.iter().map(|profile| async move {
            let request = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name);
            retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send())
                .await
                .map(drop)
                .map_err(aws_call("IAM", "RemoveRoleFromInstanceProfile", name))
        }))
        .await?;
        Ok(())
    }
}

/// Decodes a policy document as IAM returns it (URL-encoded JSON) into canonical JSON.
fn decode_policy(document: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    canonical(&decoded)
}

#[async_trait]
impl Resource for IamRole {
    fn address(&self) -> &'static str {
        match self.kind {
            RoleKind::CodeBuild => Self::CODEBUILD_ADDRESS,
            RoleKind::GitHubActions => "iam_role.github_actions",
            RoleKind::Infrastructure => "iam_role.github_infra",
        }
    }

    fn id(&self) -> String {
        self.name()
    }

    fn depends_on(&self) -> &'static [&'static str] {
        match self.kind {
            // IAM refuses a trust policy naming an OIDC provider that does not exist.
            RoleKind::GitHubActions | RoleKind::Infrastructure => &[GitHubOidcProvider::ADDRESS],
            RoleKind::CodeBuild => &[],
        }
    }

    fn desired(&self) -> Attributes {
        Attributes::from([
            ("trust_policy", canonical(&self.trust().to_string())),
            ("inline_policy", canonical(&self.permissions().to_string())),
            ("tags", desired_tags(&self.context.names.tags())),
        ])
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let iam = &self.context.iam;
        let name = self.name();
        let role = iam.get_role().role_name(&name).send();
        let policy = iam
            .get_role_policy()
            .role_name(&name)
            .policy_name(INLINE_POLICY)
            .send();
        let (role, policy) = futures::join!(role, policy);
        let role = match role {
            Ok(output) => output.role,
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), GetRoleError::NoSuchEntityException(_)) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws_call("IAM", "GetRole", &name)(error).into()),
        };
        let Some(role) = role else {
            return Ok(None);
        };
        let policy_document = match policy {
            Ok(output) => Some(output.policy_document),
            Err(SdkError::ServiceError(service))
                if matches!(service.err(), GetRolePolicyError::NoSuchEntityException(_)) =>
            {
                None
            }
            Err(error) => return Err(aws_call("IAM", "GetRolePolicy", &name)(error).into()),
        };
        let inline_policy = policy_document
            .as_deref()
            .map_or_else(|| "none".to_owned(), decode_policy);
        let pairs = || role.tags().iter().map(|tag| (tag.key(), tag.value()));
        Ok(Some(Live {
            attributes: Attributes::from([
                (
                    "trust_policy",
                    role.assume_role_policy_document()
                        .map_or_else(|| "none".to_owned(), decode_policy),
                ),
                ("inline_policy", inline_policy),
                ("tags", tags_attribute(pairs(), &self.context.names.tags())),
            ]),
            managed: is_managed(pairs()),
            answers: Answers::new(Answered {
                role,
                policy_document,
            }),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_iam_role"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(Answered {
            role,
            policy_document,
        }) = live.answers.get::<Answered>()
        else {
            return Vec::new();
        };
        let name = self.name();
        let label = self.terraform_name();
        let mut importables = vec![Importable::new(
            self.terraform_type(),
            label,
            &name,
            |mut block| {
                block = block.string("name", &name);
                if role.path() != "/" {
                    block = block.string("path", role.path());
                }
                if let Some(description) = role.description() {
                    block = block.string("description", description);
                }
                if let Some(duration) = role
                    .max_session_duration()
                    .filter(|seconds| *seconds != 3600)
                {
                    block = block.attribute("max_session_duration", duration.to_string());
                }
                block = block.attribute(
                    "assume_role_policy",
                    document(role.assume_role_policy_document().unwrap_or("{}"), 2),
                );
                with_tags(
                    block,
                    role.tags().iter().map(|tag| (tag.key(), tag.value())),
                )
            },
        )];
        if let Some(policy) = policy_document {
            importables.push(Importable::new(
                "aws_iam_role_policy",
                label,
                &format!("{name}:{INLINE_POLICY}"),
                |block| {
                    block
                        .string("name", INLINE_POLICY)
                        .attribute("role", format!("aws_iam_role.{label}.id"))
                        .attribute("policy", document(policy, 2))
                },
            ));
        }
        importables
    }

    async fn create(&self) -> Result<(), ResourceError> {
        self.create_role().await?;
        self.put("inline_policy").await
    }

    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError> {
        try_join_all(attributes.iter().map(|attribute| self.put(attribute))).await?;
        Ok(())
    }

    async fn delete(&self, _options: &DestroyOptions) -> Result<(), ResourceError> {
        let iam = &self.context.iam;
        let name = self.name();
        // IAM refuses to delete a role that still has policies: remove every one first, the
        // inline and the attached ones at once, every page of each. ShopStack's own inline
        // policy goes while the others are listed.
        let own = async {
            let request = iam
                .delete_role_policy()
                .role_name(&name)
                .policy_name(INLINE_POLICY);
            match retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send()).await {
                Ok(_) => Ok(()),
                Err(error)
                    if shopstack_core::error_chain::aws_error_code(&error)
                        == Some("NoSuchEntity") =>
                {
                    Ok(())
                }
                Err(error) => Err(aws_call("IAM", "DeleteRolePolicy", &name)(error)),
            }
        };
        let ((), inline, attached) = futures::try_join!(
            own,
            async {
                iam.list_role_policies()
                    .role_name(&name)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<String>, _>>()
                    .await
                    .map_err(aws_call("IAM", "ListRolePolicies", &name))
            },
            async {
                iam.list_attached_role_policies()
                    .role_name(&name)
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(aws_call("IAM", "ListAttachedRolePolicies", &name))
            },
        )?;
        let name = name.as_str();
        let others = inline.iter().filter(|policy| *policy != INLINE_POLICY);
        let deletes = others.map(|policy| async move {
            let request = iam.delete_role_policy().role_name(name).policy_name(policy);
            retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send())
                .await
                .map(drop)
                .map_err(aws_call("IAM", "DeleteRolePolicy", name))
        });
        let detaches = attached
            .iter()
            .filter_map(|policy| policy.policy_arn())
            .map(|arn| async move {
                let request = iam.detach_role_policy().role_name(name).policy_arn(arn);
                retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send())
                    .await
                    .map(drop)
                    .map_err(aws_call("IAM", "DetachRolePolicy", name))
            });
        futures::try_join!(try_join_all(deletes), try_join_all(detaches))?;
        let request = iam.delete_role().role_name(name);
        // The removals propagate: DeleteConflict for a while. A role in an instance profile
        // (added outside ShopStack) conflicts until it is taken out, as DeleteRole's reference
        // says; that costs its round trips only when it happens.
        match retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send()).await {
            Ok(_) => {}
            Err(error)
                if shopstack_core::error_chain::aws_error_code(&error)
                    == Some("DeleteConflict") =>
            {
                self.leave_instance_profiles(name).await?;
                retry::eventually(&retry::IAM_CONCURRENT, || request.clone().send())
                    .await
                    .map_err(aws_call("IAM", "DeleteRole", name))?;
            }
            Err(error) => return Err(aws_call("IAM", "DeleteRole", name)(error).into()),
        }
        Ok(())
    }

    fn audit(&self, live: &Live) -> Vec<String> {
        let parse = |attribute: &str| {
            live.attributes
                .get(attribute)
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .unwrap_or(Value::Null)
        };
        let trust = parse("trust_policy");
        let mut findings: Vec<String> = permission_findings(&parse("inline_policy"))
            .into_iter()
            .map(|finding| format!("inline policy {finding}"))
            .collect();
        findings.extend(
            match self.kind {
                RoleKind::CodeBuild => codebuild_permission_findings(&parse("inline_policy")),
                RoleKind::GitHubActions => build_override_findings(&parse("inline_policy")),
                RoleKind::Infrastructure => Vec::new(),
            }
            .into_iter()
            .map(|finding| format!("inline policy {finding}")),
        );
        let trust_findings = match self.kind {
            RoleKind::CodeBuild => {
                codebuild_trust_findings(&trust, &self.context.codebuild_project_arn())
            }
            RoleKind::GitHubActions | RoleKind::Infrastructure => ci_trust_findings(&trust),
        };
        findings.extend(
            trust_findings
                .into_iter()
                .map(|finding| format!("trust policy {finding}")),
        );
        findings
    }
}
