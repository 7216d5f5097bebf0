//! The ECR repository: immutable tags, scan on push, AES256, lifecycle of untagged and old images.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ecr::error::SdkError;
use aws_sdk_ecr::operation::create_repository::CreateRepositoryError;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
use aws_sdk_ecr::operation::get_lifecycle_policy::GetLifecyclePolicyError;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use futures::future::try_join_all;

use crate::context::Context;
use crate::policies::{canonical, ecr_lifecycle_policy};
use crate::resource::{
    Attributes, DestroyOptions, Live, Resource, ResourceError, aws, desired_tags,
    encryption_attribute, is_managed, sdk_tags, tags_attribute,
};

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
                    .map_err(aws("ECR", "PutImageTagMutability", &name))?;
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
                    .map_err(aws("ECR", "PutImageScanningConfiguration", &name))?;
            }
            "lifecycle_policy" => {
                ecr.put_lifecycle_policy()
                    .repository_name(&name)
                    .lifecycle_policy_text(ecr_lifecycle_policy().to_string())
                    .send()
                    .await
                    .map_err(aws("ECR", "PutLifecyclePolicy", &name))?;
            }
            "tags" => {
                ecr.tag_resource()
                    .resource_arn(self.context.ecr_repository_arn())
                    .set_tags(Some(self.tags()?))
                    .send()
                    .await
                    .map_err(aws("ECR", "TagResource", &name))?;
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
            Err(error) => return Err(aws("ECR", "DescribeRepositories", &name)(error)),
        };
        let Some(repository) = repositories.into_iter().next() else {
            return Ok(None);
        };
        let lifecycle_policy = match lifecycle {
            Ok(output) => output
                .lifecycle_policy_text()
                .map_or_else(|| "none".to_owned(), canonical),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    GetLifecyclePolicyError::LifecyclePolicyNotFoundException(_)
                ) =>
            {
                "none".to_owned()
            }
            Err(error) => return Err(aws("ECR", "GetLifecyclePolicy", &name)(error)),
        };
        let tags = tags.map_err(aws("ECR", "ListTagsForResource", &name))?;
        let pairs = || tags.tags().iter().map(|tag| (tag.key(), tag.value()));
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
        }))
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
            Err(error) => return Err(aws("ECR", "CreateRepository", &name)(error)),
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
            .map_err(aws("ECR", "ListImages", &name))?;
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
            .map_err(aws("ECR", "DeleteRepository", &name))?;
        Ok(())
    }
}
