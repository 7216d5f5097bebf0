//! A test environment: a unique project in its own emulator account, the binary, and SDK clients.

use std::future::Future;
use std::process::{Command, Output};

use aws_config::SdkConfig;
use shopstack_core::Names;
use shopstack_core::emulator_compat::VersioningResponseRoot;
use shopstack_testkit::{Account, TestProject, emulator_endpoint};

use crate::{infra_terraform, run};

/// Region of test environments: not us-east-1, so bucket location constraints are exercised.
pub const REGION: &str = "eu-west-1";

/// One project in one fresh account on the emulator.
pub struct Stack {
    /// The project and its `shopstack.toml`.
    pub project: TestProject,
    /// The account it lives in.
    pub account: Account,
    runtime: tokio::runtime::Runtime,
    sdk: SdkConfig,
    endpoint: String,
}

impl Stack {
    /// A project whose `local` environment is the emulator, in a new account.
    pub fn new() -> Self {
        Self::reaching(&emulator_endpoint())
    }

    /// A project behind a new proxy to the shared emulator that passes every request on.
    pub fn proxied() -> (shopstack_testkit::Proxy, Self) {
        Self::proxied_with(shopstack_testkit::Behaviour::default())
    }

    /// A project behind a new proxy to the shared emulator, behaving as `behaviour` says.
    pub fn proxied_with(
        behaviour: shopstack_testkit::Behaviour,
    ) -> (shopstack_testkit::Proxy, Self) {
        let proxy =
            shopstack_testkit::Proxy::start(&shopstack_testkit::emulator_endpoint(), behaviour)
                .expect("proxy");
        let stack = Self::behind(&proxy);
        (proxy, stack)
    }

    /// A project whose `local` environment reaches the emulator through `proxy`.
    pub fn behind(proxy: &shopstack_testkit::Proxy) -> Self {
        Self::reaching(&proxy.url())
    }

    fn reaching(endpoint: &str) -> Self {
        Self::with_environments(&format!(
            "[environments.local]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n"
        ))
    }

    /// A project whose `local` environment is the emulator `emulator` (one of the test's own),
    /// in a new account there.
    pub fn on(emulator: &shopstack_testkit::Emulator) -> Self {
        let endpoint = emulator.url();
        Self::with_environments_on(
            &format!(
                "[environments.local]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n"
            ),
            &endpoint,
        )
    }

    /// A project with the given `[environments.*]` tables, in a new account.
    pub fn with_environments(environments: &str) -> Self {
        Self::with_environments_on(environments, &emulator_endpoint())
    }

    fn with_environments_on(environments: &str, endpoint: &str) -> Self {
        let project = TestProject::with_config(&format!(
            "[project]\nname = \"{{project}}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\nbranch = \"main\"\n\n{environments}"
        ))
        .expect("test project");
        let account = Account::isolated(endpoint).expect("isolated emulator account");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let sdk = runtime.block_on(shopstack_testkit::sdk::sdk_config_on(
            &account, REGION, endpoint,
        ));
        Self {
            project,
            account,
            runtime,
            sdk,
            endpoint: endpoint.to_owned(),
        }
    }

    /// Runs `infra-terraform ARGS` with this account's credentials.
    pub fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    /// The command, for callers that add stdin or environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = infra_terraform(self.project.dir());
        command
            .env_remove("AWS_PROFILE")
            .envs(self.account.environment())
            .args(args);
        command
    }

    /// The ARN of a KMS key `id` of this account in the test region.
    pub fn kms_key_arn(&self, id: &str) -> String {
        format!("arn:aws:kms:{REGION}:{}:key/{id}", self.account.id)
    }

    /// Makes `key` the `local` environment's `kms_key_arn`, replacing any before it.
    pub fn use_kms_key(&self, key: &str) {
        let config = self.project.config();
        let text = std::fs::read_to_string(&config).expect("shopstack.toml");
        let text: String = text
            .lines()
            .filter(|line| !line.starts_with("kms_key_arn"))
            .map(|line| format!("{line}\n"))
            .collect();
        // The `[environments.local]` table is the file's last.
        std::fs::write(&config, format!("{text}kms_key_arn = \"{key}\"\n")).expect("write");
    }

    /// Resource names of `environment`.
    pub fn names(&self, environment: &str) -> Names {
        Names::new(&self.project.name, environment, &self.account.id)
    }

    /// The SDK configuration of this account on the emulator.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The SDK configuration of another principal of this account (e.g. an assumed role), on
    /// this stack's emulator, without retries: an answer is seen as it comes.
    pub fn sdk_config_as(&self, principal: &Account) -> SdkConfig {
        let config = self.block_on(shopstack_testkit::sdk::sdk_config_on(
            principal,
            REGION,
            &self.endpoint,
        ));
        config
            .into_builder()
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build()
    }

    /// The emulator this stack lives on.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs a future to completion.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// S3, path-style, as the tool uses it.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(true)
            .interceptor(VersioningResponseRoot)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// DynamoDB.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// IAM.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// ECR.
    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.sdk)
    }

    /// Secrets Manager.
    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }

    /// CodeBuild.
    pub fn codebuild(&self) -> aws_sdk_codebuild::Client {
        aws_sdk_codebuild::Client::new(&self.sdk)
    }

    /// The Terraform state of `local` as the state bucket holds it, parsed.
    pub async fn terraform_state(&self) -> serde_json::Value {
        let names = self.names("local");
        let object = self
            .s3()
            .get_object()
            .bucket(names.state_bucket())
            .key(names.state_key())
            .send()
            .await
            .expect("the state object under the configured key");
        let body = object
            .body
            .collect()
            .await
            .expect("state body")
            .into_bytes();
        serde_json::from_slice(&body).expect("state JSON")
    }

    /// Secret `name` as Secrets Manager describes it.
    pub async fn secret(
        &self,
        name: &str,
    ) -> aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput {
        self.secrets()
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .expect("secret")
    }

    /// ECR repository `name` as ECR describes it.
    pub async fn repository(&self, name: &str) -> aws_sdk_ecr::types::Repository {
        let output = self
            .ecr()
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
            .expect("repository");
        output.repositories()[0].clone()
    }

    /// The ARN of role `name` as IAM reports it.
    pub async fn role_arn(&self, name: &str) -> String {
        let output = self
            .iam()
            .get_role()
            .role_name(name)
            .send()
            .await
            .expect("role");
        output.role().expect("role").arn().to_owned()
    }

    /// The inline policy of role `role` as IAM stores it, parsed.
    pub async fn inline_policy(&self, role: &str) -> serde_json::Value {
        let stored = self
            .iam()
            .get_role_policy()
            .role_name(role)
            .policy_name("shopstack")
            .send()
            .await
            .expect("inline policy");
        policy(stored.policy_document())
    }

    /// The names of the account's roles, sorted, as IAM lists them.
    pub async fn role_names(&self) -> Vec<String> {
        let roles = self.iam().list_roles().send().await.expect("roles");
        let mut names: Vec<String> = roles
            .roles()
            .iter()
            .map(|role| role.role_name().to_owned())
            .collect();
        names.sort_unstable();
        names
    }

    /// Point-in-time recovery of `table` as DynamoDB reports it (`ENABLED`, `DISABLED`).
    pub async fn point_in_time_recovery(&self, table: &str) -> Option<String> {
        let backups = self
            .dynamodb()
            .describe_continuous_backups()
            .table_name(table)
            .send()
            .await
            .expect("backups");
        backups
            .continuous_backups_description()
            .and_then(|description| description.point_in_time_recovery_description())
            .and_then(|recovery| recovery.point_in_time_recovery_status())
            .map(|status| status.as_str().to_owned())
    }

    /// ARN of the account's GitHub OIDC provider.
    pub fn oidc_provider_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:oidc-provider/token.actions.githubusercontent.com",
            self.account.id
        )
    }
}

/// Asserts the exit code, showing both streams when it differs.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An IAM policy document as IAM returns it (URL-encoded) parsed into JSON.
pub fn policy(document: &str) -> serde_json::Value {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&decoded).expect("policy JSON")
}

/// What AWS lists of each kind in the stack's account, by name (sorted).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub buckets: Vec<String>,
    pub tables: Vec<String>,
    /// Secrets not scheduled for deletion.
    pub secrets: Vec<String>,
    pub repositories: Vec<String>,
    /// OIDC providers, by ARN.
    pub providers: Vec<String>,
    pub roles: Vec<String>,
    pub projects: Vec<String>,
}

impl Stack {
    /// Everything of each kind the stack's account holds, as AWS lists it.
    pub async fn inventory(&self) -> Inventory {
        let sorted = |mut names: Vec<String>| {
            names.sort();
            names
        };
        let buckets = self.s3().list_buckets().send().await.expect("buckets");
        let tables = self.dynamodb().list_tables().send().await.expect("tables");
        let secrets = self.secrets().list_secrets().send().await.expect("secrets");
        let repositories = self
            .ecr()
            .describe_repositories()
            .send()
            .await
            .expect("repositories");
        let providers = self
            .iam()
            .list_open_id_connect_providers()
            .send()
            .await
            .expect("providers");
        let projects = self
            .codebuild()
            .list_projects()
            .send()
            .await
            .expect("projects");
        Inventory {
            buckets: sorted(
                buckets
                    .buckets()
                    .iter()
                    .filter_map(|b| b.name())
                    .map(str::to_owned)
                    .collect(),
            ),
            tables: sorted(tables.table_names().to_vec()),
            secrets: sorted(
                secrets
                    .secret_list()
                    .iter()
                    .filter_map(|secret| secret.name())
                    .map(str::to_owned)
                    .collect(),
            ),
            repositories: sorted(
                repositories
                    .repositories()
                    .iter()
                    .filter_map(|repository| repository.repository_name())
                    .map(str::to_owned)
                    .collect(),
            ),
            providers: sorted(
                providers
                    .open_id_connect_provider_list()
                    .iter()
                    .filter_map(|provider| provider.arn())
                    .map(str::to_owned)
                    .collect(),
            ),
            roles: self.role_names().await,
            projects: sorted(projects.projects().to_vec()),
        }
    }
}

/// Each resource exists exactly once, as AWS lists them in the stack's own account, and meets
/// every control (`audit`).
pub fn assert_each_resource_once(stack: &Stack) {
    let names = stack.names("local");
    let mut roles = vec![
        names.ci_role(),
        names.infrastructure_role(),
        names.codebuild_role(),
    ];
    roles.sort();
    assert_eq!(
        stack.block_on(stack.inventory()),
        Inventory {
            buckets: vec![names.state_bucket()],
            tables: vec![names.lock_table()],
            secrets: vec![names.app_secret()],
            repositories: vec![names.ecr_repository()],
            providers: vec![stack.oidc_provider_arn()],
            roles,
            projects: vec![names.codebuild_project()],
        }
    );
    // Every resource is ShopStack's own: none merely adopted (which would leave it untagged,
    // unaudited and kept by `destroy`).
    let status = stack.run(&["status", "--json"]);
    assert_exit(&status, 0);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let states: Vec<(&str, &str)> = status["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|resource| {
            (
                resource["address"].as_str().unwrap_or_default(),
                resource["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        states.len() == 9 && states.iter().all(|(_, state)| *state == "ok"),
        "{states:?}"
    );
    let tagging = stack
        .block_on(
            stack
                .s3()
                .get_bucket_tagging()
                .bucket(names.state_bucket())
                .send(),
        )
        .expect("the state bucket's tags");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|tag| tag.key() == "ManagedBy" && tag.value() == "shopstack"),
        "{tagging:?}"
    );
    assert_exit(&stack.run(&["audit"]), 0);
}
