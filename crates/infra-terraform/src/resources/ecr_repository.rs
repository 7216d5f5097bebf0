//! The ECR repository: immutable tags, scan on push, AES256, lifecycle of untagged and old images.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecr::error::SdkError;
use aws_sdk_ecr::operation::create_repository::CreateRepositoryError;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
use aws_sdk_ecr::operation::get_lifecycle_policy::GetLifecyclePolicyError;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};
use futures::future::try_join_all;

use shopstack_core::aws_call;

use crate::context::Context;
use crate::hcl::Block;
use crate::policies::{canonical, ecr_lifecycle_policy};
use crate::resource::{
    Answers, Attributes, DestroyOptions, Live, Resource, ResourceError, desired_tags,
    encryption_attribute, is_managed, sdk_tags, tags_attribute,
};
use crate::terraform_form::{Importable, document, with_tags};

/// What a read of the repository received.
struct Answered {
    repository: Repository,
    /// The lifecycle policy as ECR returned it; `None` without one.
    lifecycle_text: Option<String>,
    tags: Vec<Tag>,
}

/// The environment's image repository.
pub struct EcrRepository {
    context: Arc<Context>,
}

impl EcrRepository {
    /// The ECR repository of `context`'s environment.
    pub fn new(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn name(&self) -> String {
        self.context.names.ecr_repository()
    }

    fn tags(&self) -> Result<Vec<Tag>, ResourceError> {
        sdk_tags(self.context.names.tags(), |key, value| {
            Tag::builder().key(key).value(value).build()
        })
        .map_err(|error| self.unexpected(error))
    }

    async fn put(&self, attribute: &str) -> Result<(), ResourceError> {
        let ecr = &self.context.ecr;
        let name = self.name();
        match attribute {
            "image_tag_mutability" => {
                ecr.put_image_tag_mutability()
                    .repository_name(&name)
                    .image_tag_mutability(ImageTagMutability::Immutable)
                    .send()
                    .await
                    .map_err(aws_call("ECR", "PutImageTagMutability", &name))?;
            }
            "scan_on_push" => {
                ecr.put_image_scanning_configuration()
                    .repository_name(&name)
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(aws_call("ECR", "PutImageScanningConfiguration", &name))?;
            }
            "lifecycle_policy" => {
                ecr.put_lifecycle_policy()
                    .repository_name(&name)
                    .lifecycle_policy_text(ecr_lifecycle_policy().to_string())
                    .send()
                    .await
                    .map_err(aws_call("ECR", "PutLifecyclePolicy", &name))?;
            }
            "tags" => {
                ecr.tag_resource()
                    .resource_arn(self.context.ecr_repository_arn())
                    .set_tags(Some(self.tags()?))
                    .send()
                    .await
                    .map_err(aws_call("ECR", "TagResource", &name))?;
            }
            other => return Err(self.no_setter(other)),
        }
        Ok(())
    }
}

#[async_trait]
impl Resource for EcrRepository {
    fn address(&self) -> &'static str {
        "ecr_repository.app"
    }

    fn id(&self) -> String {
        self.name()
    }

    fn desired(&self) -> Attributes {
        Attributes::from([
            (
                "image_tag_mutability",
                ImageTagMutability::Immutable.as_str().to_owned(),
            ),
            ("scan_on_push", "true".to_owned()),
            (
                "encryption",
                match self.context.kms_key_arn() {
                    Some(key) => encryption_attribute(EncryptionType::Kms.as_str(), Some(key)),
                    None => EncryptionType::Aes256.as_str().to_owned(),
                },
            ),
            (
                "lifecycle_policy",
                canonical(&ecr_lifecycle_policy().to_string()),
            ),
            ("tags", desired_tags(&self.context.names.tags())),
        ])
    }

    fn immutable(&self) -> &'static [&'static str] {
        &["encryption"]
    }

    async fn read(&self) -> Result<Option<Live>, ResourceError> {
        let ecr = &self.context.ecr;
        let name = self.name();
        let describe = ecr.describe_repositories().repository_names(&name).send();
        let lifecycle = ecr.get_lifecycle_policy().repository_name(&name).send();
        let tags = ecr
            .list_tags_for_resource()
            .resource_arn(self.context.ecr_repository_arn())
            .send();
        let (describe, lifecycle, tags) = futures::join!(describe, lifecycle, tags);
        let repositories = match describe {
            Ok(output) => output.repositories.unwrap_or_default(),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DescribeRepositoriesError::RepositoryNotFoundException(_)
                ) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(aws_call("ECR", "DescribeRepositories", &name)(error).into()),
        };
        let Some(repository) = repositories.into_iter().next() else {
            return Ok(None);
        };
        let lifecycle_text = match lifecycle {
            Ok(output) => output.lifecycle_policy_text,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    GetLifecyclePolicyError::LifecyclePolicyNotFoundException(_)
                ) =>
            {
                None
            }
            Err(error) => return Err(aws_call("ECR", "GetLifecyclePolicy", &name)(error).into()),
        };
        let lifecycle_policy = lifecycle_text
            .as_deref()
            .map_or_else(|| "none".to_owned(), canonical);
        let tags = tags
            .map_err(aws_call("ECR", "ListTagsForResource", &name))?
            .tags
            .unwrap_or_default();
        let pairs = || tags.iter().map(|tag| (tag.key(), tag.value()));
        let mutability = repository
            .image_tag_mutability()
            .map_or("MUTABLE", ImageTagMutability::as_str)
            .to_owned();
        let scan_on_push = repository
            .image_scanning_configuration()
            .is_some_and(ImageScanningConfiguration::scan_on_push)
            .to_string();
        let encryption = repository.encryption_configuration().map_or_else(
            || EncryptionType::Aes256.as_str().to_owned(),
            |configuration| {
                let kind = configuration.encryption_type();
                let key = (kind == &EncryptionType::Kms)
                    .then(|| configuration.kms_key().unwrap_or("aws/ecr"));
                encryption_attribute(kind.as_str(), key)
            },
        );
        Ok(Some(Live {
            attributes: Attributes::from([
                ("image_tag_mutability", mutability),
                ("scan_on_push", scan_on_push),
                ("encryption", encryption),
                ("lifecycle_policy", lifecycle_policy),
                ("tags", tags_attribute(pairs(), &self.context.names.tags())),
            ]),
            managed: is_managed(pairs()),
            answers: Answers::new(Answered {
                repository,
                lifecycle_text,
                tags,
            }),
        }))
    }

    fn terraform_type(&self) -> &'static str {
        "aws_ecr_repository"
    }

    fn terraform(&self, live: &Live) -> Vec<Importable> {
        let Some(answered) = live.answers.get::<Answered>() else {
            return Vec::new();
        };
        let repository = &answered.repository;
        let name = self.name();
        let mut importables = vec![Importable::new(
            self.terraform_type(),
            "app",
            &name,
            |mut block| {
                block = block
                    .string("name", &name)
                    .string(
                        "image_tag_mutability",
                        repository
                            .image_tag_mutability()
                            .map_or("MUTABLE", ImageTagMutability::as_str),
                    )
                    .block(
                        Block::new("image_scanning_configuration", &[]).attribute(
                            "scan_on_push",
                            repository
                                .image_scanning_configuration()
                                .is_some_and(ImageScanningConfiguration::scan_on_push)
                                .to_string(),
                        ),
                    );
                if let Some(encryption) = repository.encryption_configuration() {
                    let mut configuration = Block::new("encryption_configuration", &[])
                        .string("encryption_type", encryption.encryption_type().as_str());
                    if let Some(key) = encryption.kms_key() {
                        configuration = configuration.string("kms_key", key);
                    }
                    block = block.block(configuration);
                }
                with_tags(
                    block,
                    answered.tags.iter().map(|tag| (tag.key(), tag.value())),
                )
            },
        )];
        if let Some(policy) = &answered.lifecycle_text {
            importables.push(Importable::new(
                "aws_ecr_lifecycle_policy",
                "app",
                &name,
                |block| {
                    block
                        .attribute("repository", "aws_ecr_repository.app.name")
                        .attribute("policy", document(policy, 2))
                },
            ));
        }
        importables
    }

    async fn create(&self) -> Result<(), ResourceError> {
        let name = self.name();
        // Fixed at creation (ECR has no call to change it): the environment's key, else AES256.
        let encryption = EncryptionConfiguration::builder()
            .encryption_type(if self.context.kms_key_arn().is_some() {
                EncryptionType::Kms
            } else {
                EncryptionType::Aes256
            })
            .set_kms_key(self.context.kms_key_arn().map(str::to_owned))
            .build()
            .map_err(|error| self.unexpected(error))?;
        let created = self
            .context
            .ecr
            .create_repository()
            .repository_name(&name)
            .image_tag_mutability(ImageTagMutability::Immutable)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(true)
                    .build(),
            )
            .encryption_configuration(encryption)
            .set_tags(Some(self.tags()?))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Created meanwhile by a concurrent apply: its settings are ours too.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    CreateRepositoryError::RepositoryAlreadyExistsException(_)
                ) => {}
            Err(error) => return Err(aws_call("ECR", "CreateRepository", &name)(error).into()),
        }
        self.put("lifecycle_policy").await
    }

    async fn update(&self, attributes: &[&'static str]) -> Result<(), ResourceError> {
        try_join_all(attributes.iter().map(|attribute| self.put(attribute))).await?;
        Ok(())
    }

    async fn keep_reason(
        &self,
        _live: &Live,
        options: &DestroyOptions,
    ) -> Result<Option<String>, ResourceError> {
        if options.force_delete_images {
            return Ok(None);
        }
        let name = self.name();
        let images = self
            .context
            .ecr
            .list_images()
            .repository_name(&name)
            .max_results(1)
            .send()
            .await
            .map_err(aws_call("ECR", "ListImages", &name))?;
        Ok((!images.image_ids().is_empty()).then(|| {
            "kept: it holds images; --force-delete-images deletes them with the repository"
                .to_owned()
        }))
    }

    async fn delete(&self, options: &DestroyOptions) -> Result<(), ResourceError> {
        let name = self.name();
        self.context
            .ecr
            .delete_repository()
            .repository_name(&name)
            .force(options.force_delete_images)
            .send()
            .await
            .map_err(aws_call("ECR", "DeleteRepository", &name))?;
        Ok(())
    }
}
