//! Everything a resource needs: the AWS clients, the names and ARNs of the environment.

use shopstack_core::names::{self, GITHUB_OIDC_HOST};
use shopstack_core::{AwsSession, Config, Names};

/// The clients and facts shared by every resource of one environment.
pub struct Context {
    /// The verified session.
    pub session: AwsSession,
    /// The project configuration.
    pub config: Config,
    /// Resource names.
    pub names: Names,
    /// S3 (path-style on a custom endpoint).
    pub s3: aws_sdk_s3::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// CodeBuild.
    pub codebuild: aws_sdk_codebuild::Client,
}

impl Context {
    /// Builds every client from the session.
    pub fn new(session: AwsSession, config: Config) -> Self {
        let sdk = session.sdk_config();
        let names = config.names(session.environment(), session.account_id());
        Self {
            s3: session.s3(),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            ecr: aws_sdk_ecr::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            codebuild: aws_sdk_codebuild::Client::new(sdk),
            names,
            config,
            session,
        }
    }

    /// The customer-managed KMS key of the environment (`kms_key_arn`), if it has one: the state
    /// bucket, lock table, secret and ECR repository are encrypted with it instead of AWS-managed
    /// keys.
    pub fn kms_key_arn(&self) -> Option<&str> {
        self.session.environment().kms_key_arn.as_deref()
    }

    /// The environment's region.
    pub fn region(&self) -> &str {
        self.session.region()
    }

    /// The verified account.
    pub fn account(&self) -> &str {
        self.session.account_id()
    }

    /// The ARN partition.
    pub fn partition(&self) -> &'static str {
        names::partition(self.region())
    }

    /// Whether the endpoint is plain http (a local emulator): TLS-only policies would lock us out.
    pub fn plain_http(&self) -> bool {
        self.session
            .endpoint()
            .is_some_and(|(endpoint, _)| endpoint.is_plain_http())
    }

    /// The CA bundle the session trusts, as an absolute path for Terraform's
    /// `custom_ca_bundle` (Terraform runs from another directory).
    pub fn ca_bundle(&self) -> Option<String> {
        self.session.ca_bundle().map(|bundle| {
            std::path::absolute(bundle.path())
                .unwrap_or_else(|_| bundle.path().to_path_buf())
                .display()
                .to_string()
        })
    }

    /// ARN of the state bucket.
    pub fn state_bucket_arn(&self) -> String {
        format!(
            "arn:{}:s3:::{}",
            self.partition(),
            self.names.state_bucket()
        )
    }

    /// ARN of the lock table.
    pub fn lock_table_arn(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition(),
            self.region(),
            self.account(),
            self.names.lock_table()
        )
    }

    /// ARN of the app secret as an IAM policy names it: Secrets Manager appends six random
    /// characters to the name, so its ARN is only known once it exists.
    pub fn app_secret_arn_pattern(&self) -> String {
        format!(
            "arn:{}:secretsmanager:{}:{}:secret:{}-??????",
            self.partition(),
            self.region(),
            self.account(),
            self.names.app_secret()
        )
    }

    /// ARN of the ECR repository.
    pub fn ecr_repository_arn(&self) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            self.partition(),
            self.region(),
            self.account(),
            self.names.ecr_repository()
        )
    }

    /// URI images are pushed to: `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY`.
    pub fn ecr_repository_uri(&self) -> String {
        let suffix = if self.partition() == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!(
            "{}.dkr.ecr.{}.{suffix}/{}",
            self.account(),
            self.region(),
            self.names.ecr_repository()
        )
    }

    /// ARN of the CodeBuild project.
    pub fn codebuild_project_arn(&self) -> String {
        format!(
            "arn:{}:codebuild:{}:{}:project/{}",
            self.partition(),
            self.region(),
            self.account(),
            self.names.codebuild_project()
        )
    }

    /// ARN of the CodeBuild project's log group.
    pub fn codebuild_log_group_arn(&self) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition(),
            self.region(),
            self.account(),
            self.names.codebuild_log_group()
        )
    }

    /// ARN of an IAM role of this account.
    pub fn role_arn(&self, role: &str) -> String {
        format!(
            "arn:{}:iam::{}:role/{role}",
            self.partition(),
            self.account()
        )
    }

    /// ARN of the account-wide GitHub OIDC provider.
    pub fn oidc_provider_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{GITHUB_OIDC_HOST}",
            self.partition(),
            self.account()
        )
    }
}
