//! Naming conventions: every name ShopStack gives a resource, derived from project and environment.

use crate::aws_rules::{self, InvalidName};

/// The account-wide GitHub Actions OIDC issuer host, shared by every environment of an account.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";
/// The audience GitHub Actions requests for AWS.
pub const GITHUB_OIDC_AUDIENCE: &str = "sts.amazonaws.com";
/// The `ManagedBy` tag value on everything ShopStack creates.
pub const MANAGED_BY: &str = "shopstack";
/// Namespace of the observability stack.
pub const OBSERVABILITY_NAMESPACE: &str = "observability";

/// The names of one environment's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    project: String,
    environment: String,
    account_id: String,
}

impl Names {
    /// Names for `project` / `environment` in AWS account `account_id`.
    pub fn new(project: &str, environment: &str, account_id: &str) -> Self {
        Self {
            project: project.to_owned(),
            environment: environment.to_owned(),
            account_id: account_id.to_owned(),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The environment name.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The AWS account the names live in.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Terraform state bucket: globally unique, so it carries the account id.
    pub fn state_bucket(&self) -> String {
        format!(
            "{}-{}-tfstate-{}",
            self.project, self.environment, self.account_id
        )
    }

    /// DynamoDB lock table.
    pub fn lock_table(&self) -> String {
        format!("{}-{}-tflock", self.project, self.environment)
    }

    /// Key of the environment's Terraform state object in the state bucket.
    pub fn state_key(&self) -> String {
        format!("envs/{}/terraform.tfstate", self.environment)
    }

    /// Path that `apply` / `destroy` lock while they run, under the state bucket.
    pub fn infra_lock_path(&self) -> String {
        format!("{}/{}/infra", self.project, self.environment)
    }

    /// Secrets Manager secret holding the application configuration.
    pub fn app_secret(&self) -> String {
        format!("{}/{}/app-config", self.project, self.environment)
    }

    /// ECR repository for the environment's images.
    pub fn ecr_repository(&self) -> String {
        format!("{}-{}", self.project, self.environment)
    }

    /// CodeBuild project that builds images.
    pub fn codebuild_project(&self) -> String {
        format!("{}-{}-image-build", self.project, self.environment)
    }

    /// CloudWatch Logs group of the CodeBuild project's builds (CodeBuild's default name).
    pub fn codebuild_log_group(&self) -> String {
        format!("/aws/codebuild/{}", self.codebuild_project())
    }

    /// IAM role CodeBuild runs as.
    pub fn codebuild_role(&self) -> String {
        format!("{}-{}-codebuild", self.project, self.environment)
    }

    /// IAM role GitHub Actions assumes through OIDC.
    pub fn ci_role(&self) -> String {
        format!("{}-{}-github-actions", self.project, self.environment)
    }

    /// IAM role the infrastructure repository's workflow assumes through OIDC to plan and apply.
    pub fn infrastructure_role(&self) -> String {
        format!("{}-{}-github-infra", self.project, self.environment)
    }

    /// Kind cluster name.
    pub fn cluster(&self) -> String {
        self.project.clone()
    }

    /// kubeconfig context of the Kind cluster.
    pub fn kube_context(&self) -> String {
        format!("kind-{}", self.project)
    }

    /// Kubernetes namespace of the application.
    pub fn app_namespace(&self) -> String {
        self.project.clone()
    }

    /// Tags put on everything taggable.
    pub fn tags(&self) -> [(&'static str, String); 3] {
        [
            ("Project", self.project.clone()),
            ("Environment", self.environment.clone()),
            ("ManagedBy", MANAGED_BY.to_owned()),
        ]
    }

    /// Checks every derived name against AWS's (and Kubernetes') rules.
    pub fn validate(&self) -> Result<(), InvalidName> {
        aws_rules::s3_bucket(&self.state_bucket())?;
        aws_rules::dynamodb_table(&self.lock_table())?;
        aws_rules::secrets_manager_secret(&self.app_secret())?;
        aws_rules::ecr_repository(&self.ecr_repository())?;
        aws_rules::codebuild_project(&self.codebuild_project())?;
        aws_rules::iam_role(&self.codebuild_role())?;
        aws_rules::iam_role(&self.ci_role())?;
        aws_rules::iam_role(&self.infrastructure_role())?;
        aws_rules::dns_label(&self.cluster())?;
        aws_rules::dns_label(&self.app_namespace())?;
        Ok(())
    }
}

/// The AWS partition a region belongs to, for ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Names {
        Names::new("shopstack", "dev", "111122223333")
    }

    #[test]
    fn names_follow_the_documented_conventions() {
        let names = dev();
        assert_eq!(names.state_bucket(), "shopstack-dev-tfstate-111122223333");
        assert_eq!(names.lock_table(), "shopstack-dev-tflock");
        assert_eq!(names.state_key(), "envs/dev/terraform.tfstate");
        assert_eq!(names.infra_lock_path(), "shopstack/dev/infra");
        assert_eq!(names.app_secret(), "shopstack/dev/app-config");
        assert_eq!(names.ecr_repository(), "shopstack-dev");
        assert_eq!(names.codebuild_project(), "shopstack-dev-image-build");
        assert_eq!(names.codebuild_role(), "shopstack-dev-codebuild");
        assert_eq!(names.ci_role(), "shopstack-dev-github-actions");
        assert_eq!(names.infrastructure_role(), "shopstack-dev-github-infra");
        assert_eq!(names.cluster(), "shopstack");
        assert_eq!(names.kube_context(), "kind-shopstack");
        assert_eq!(names.app_namespace(), "shopstack");
        assert_eq!(
            names.tags().map(|(key, value)| format!("{key}={value}")),
            [
                "Project=shopstack",
                "Environment=dev",
                "ManagedBy=shopstack"
            ]
        );
    }

    #[test]
    fn default_names_satisfy_every_aws_rule() {
        assert_eq!(dev().validate(), Ok(()));
    }

    #[test]
    fn a_long_project_name_gives_an_invalid_bucket() {
        // 32 + "-" + 10 + "-tfstate-" + 12 = 64 characters.
        let names = Names::new(&"p".repeat(32), "production", "111122223333");
        let error = names.validate().unwrap_err();
        assert_eq!(error.kind, "S3 bucket");
        assert_eq!(error.rule, "must be 3 to 63 characters long, is 64");
    }

    #[test]
    fn a_reserved_prefix_gives_an_invalid_bucket() {
        let error = Names::new("xn--shop", "dev", "111122223333")
            .validate()
            .unwrap_err();
        assert_eq!(error.rule, "must not start with \"xn--\"");
    }

    #[test]
    fn the_ci_role_limits_the_combined_length() {
        // A 64-character role: bucket (project + env + 22) would already be too long, so check the
        // role rule directly on the derived name.
        let names = Names::new("shop", &"e".repeat(45), "111122223333");
        assert_eq!(names.ci_role().len(), 65);
        assert!(aws_rules::iam_role(&names.ci_role()).is_err());
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
