//! The application image: its ECR repository, tag rules, and whether a tag is already pushed.

use std::fmt;

use aws_sdk_ecr::operation::describe_images::DescribeImagesError;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
use aws_sdk_ecr::types::ImageIdentifier;
use shopstack_core::error_chain::aws_error_message;
use thiserror::Error;

/// Longest tag a registry accepts.
const MAX_TAG_LENGTH: usize = 128;

/// Errors about the image or its repository.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The tag breaks the registry's rule.
    #[error(
        "--tag \"{tag}\" is not a valid image tag (1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-')"
    )]
    InvalidTag {
        /// The tag.
        tag: String,
    },
    /// The ECR repository does not exist.
    #[error("ECR repository {repository} does not exist: create it with `infra-terraform apply`")]
    RepositoryMissing {
        /// The repository name.
        repository: String,
    },
    /// The tag is pushed already, and the repository's tags are immutable.
    #[error(
        "image {image} already exists and ECR tags are immutable: build another commit or pass another --tag"
    )]
    TagExists {
        /// `URI:TAG`.
        image: String,
    },
    /// The image the release would run is not in ECR.
    #[error("image {image} is not in ECR: build it first (`apps-sre build`)")]
    ImageMissing {
        /// `URI:TAG`.
        image: String,
    },
    /// ECR refused or did not answer.
    #[error("ECR repository {repository}: {message}")]
    Request {
        /// The repository name.
        repository: String,
        /// The SDK's error on one line.
        message: String,
    },
}

/// `REPOSITORY_URI:TAG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME`.
    pub repository_uri: String,
    /// The tag.
    pub tag: String,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository_uri, self.tag)
    }
}

/// Checks `tag` against the registry's rule: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), ImageError> {
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_LENGTH
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ImageError::InvalidTag {
            tag: tag.to_owned(),
        })
    }
}

/// The URI of ECR repository `name`.
pub async fn repository_uri(
    client: &aws_sdk_ecr::Client,
    name: &str,
) -> Result<String, ImageError> {
    let output = client
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
        .map_err(|error| match error.as_service_error() {
            Some(DescribeRepositoriesError::RepositoryNotFoundException(_)) => {
                ImageError::RepositoryMissing {
                    repository: name.to_owned(),
                }
            }
            _ => ImageError::Request {
                repository: name.to_owned(),
                message: aws_error_message(&error),
            },
        })?;
    output
        .repositories()
        .iter()
        .find(|repository| repository.repository_name() == Some(name))
        .and_then(|repository| repository.repository_uri())
        .map(str::to_owned)
        .ok_or_else(|| ImageError::RepositoryMissing {
            repository: name.to_owned(),
        })
}

/// Whether ECR repository `name` holds an image tagged `tag`.
pub async fn tag_exists(
    client: &aws_sdk_ecr::Client,
    name: &str,
    tag: &str,
) -> Result<bool, ImageError> {
    let result = client
        .describe_images()
        .repository_name(name)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    match result {
        Ok(output) => Ok(!output.image_details().is_empty()),
        Err(error) => match error.as_service_error() {
            Some(DescribeImagesError::ImageNotFoundException(_)) => Ok(false),
            Some(DescribeImagesError::RepositoryNotFoundException(_)) => {
                Err(ImageError::RepositoryMissing {
                    repository: name.to_owned(),
                })
            }
            _ => Err(ImageError::Request {
                repository: name.to_owned(),
                message: aws_error_message(&error),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_registry_rule() {
        for tag in ["v1", "1a2b3c4", "release_2.0-rc1", "_x", &"a".repeat(128)] {
            assert!(validate_tag(tag).is_ok(), "{tag}");
        }
        for tag in ["", ".x", "-x", "a/b", "a:b", "ü", &"a".repeat(129)] {
            assert!(validate_tag(tag).is_err(), "{tag}");
        }
    }

    #[test]
    fn an_image_shows_as_uri_and_tag() {
        let image = ImageRef {
            repository_uri: "1.dkr.ecr.r.amazonaws.com/shop-dev".to_owned(),
            tag: "abc1234".to_owned(),
        };
        assert_eq!(
            image.to_string(),
            "1.dkr.ecr.r.amazonaws.com/shop-dev:abc1234"
        );
    }
}
