//! `apply` from nothing: every resource with every hardened setting, read back through the SDK.

use aws_sdk_dynamodb::types::{BillingMode, KeyType, ScalarAttributeType, SseStatus};
use aws_sdk_ecr::types::{EncryptionType, ImageTagMutability};
use aws_sdk_s3::types::{BucketVersioningStatus, ObjectOwnership, ServerSideEncryption};
use serde_json::json;

use crate::support::{Stack, assert_exit, policy};
use crate::{stderr, stdout};

fn our_tags(stack: &Stack) -> Vec<(String, String)> {
    let mut tags = vec![
        ("Environment".to_owned(), "local".to_owned()),
        ("ManagedBy".to_owned(), "shopstack".to_owned()),
        ("Project".to_owned(), stack.project.name.clone()),
    ];
    tags.sort();
    tags
}

fn sorted(mut tags: Vec<(String, String)>) -> Vec<(String, String)> {
    tags.sort();
    tags
}

#[test]
fn apply_from_nothing_creates_every_resource_hardened() {
    let stack = Stack::new();
    let names = stack.names("local");
    let output = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed.")
    );

    stack.block_on(async {
        // State bucket.
        let s3 = stack.s3();
        let bucket = names.state_bucket();
        let versioning = s3
            .get_bucket_versioning()
            .bucket(&bucket)
            .send()
            .await
            .expect("versioning");
        assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
        let encryption = s3
            .get_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
            .expect("encryption");
        let rule = &encryption
            .server_side_encryption_configuration()
            .expect("configuration")
            .rules()[0];
        let by_default = rule
            .apply_server_side_encryption_by_default()
            .expect("default encryption");
        assert_eq!(by_default.sse_algorithm(), &ServerSideEncryption::AwsKms);
        assert_eq!(rule.bucket_key_enabled(), Some(true));
        let blocks = s3
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await
            .expect("public access block");
        let blocks = blocks
            .public_access_block_configuration()
            .expect("configuration");
        assert_eq!(
            [
                blocks.block_public_acls(),
                blocks.block_public_policy(),
                blocks.ignore_public_acls(),
                blocks.restrict_public_buckets()
            ],
            [Some(true); 4]
        );
        let ownership = s3
            .get_bucket_ownership_controls()
            .bucket(&bucket)
            .send()
            .await
            .expect("ownership");
        assert_eq!(
            ownership.ownership_controls().expect("controls").rules()[0].object_ownership(),
            &ObjectOwnership::BucketOwnerEnforced
        );
        let lifecycle = s3
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
            .expect("lifecycle");
        // (prefix, noncurrent days, days before an incomplete upload is aborted) of each rule.
        let mut rules: Vec<(String, Option<i32>, Option<i32>)> = lifecycle
            .rules()
            .iter()
            .map(|rule| {
                (
                    rule.filter()
                        .and_then(|filter| filter.prefix())
                        .unwrap_or_default()
                        .to_owned(),
                    rule.noncurrent_version_expiration()
                        .and_then(|expiration| expiration.noncurrent_days()),
                    rule.abort_incomplete_multipart_upload()
                        .and_then(|abort| abort.days_after_initiation()),
                )
            })
            .collect();
        rules.sort();
        // Old lock versions expire after a day; uploads left incomplete anywhere in the bucket
        // are aborted after a week (checkov's CKV_AWS_300 wants a rule without a prefix).
        assert_eq!(
            rules,
            [
                (String::new(), None, Some(7)),
                ("envs/local/terraform.tfstate.tflock".to_owned(), Some(1), None),
                (
                    format!("{}/local/infra.tflock", stack.project.name),
                    Some(1),
                    None
                ),
            ]
        );
        // The TLS-only policy, as S3 stores it.
        let stored = s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .expect("the TLS-only policy");
        assert_eq!(
            policy(stored.policy().unwrap_or_default()),
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}
                }]
            })
        );
        let tagging = s3
            .get_bucket_tagging()
            .bucket(&bucket)
            .send()
            .await
            .expect("tags");
        let tags = tagging
            .tag_set()
            .iter()
            .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
            .collect();
        assert_eq!(sorted(tags), our_tags(&stack));

        // Lock table.
        let dynamodb = stack.dynamodb();
        let table = dynamodb
            .describe_table()
            .table_name(names.lock_table())
            .send()
            .await
            .expect("table")
            .table
            .expect("table description");
        assert_eq!(table.key_schema()[0].attribute_name(), "LockID");
        assert_eq!(table.key_schema()[0].key_type(), &KeyType::Hash);
        assert_eq!(
            table.attribute_definitions()[0].attribute_type(),
            &ScalarAttributeType::S
        );
        assert_eq!(
            table
                .billing_mode_summary()
                .and_then(|summary| summary.billing_mode()),
            Some(&BillingMode::PayPerRequest)
        );
        assert_eq!(
            table.sse_description().and_then(|sse| sse.status()),
            Some(&SseStatus::Enabled)
        );
        assert_eq!(
            stack
                .point_in_time_recovery(&names.lock_table())
                .await
                .as_deref(),
            Some("ENABLED")
        );

        // Secret: metadata only.
        let secrets = stack.secrets();
        let secret = secrets
            .describe_secret()
            .secret_id(names.app_secret())
            .send()
            .await
            .expect("secret");
        assert_eq!(secret.deleted_date(), None);
        let tags = secret
            .tags()
            .iter()
            .map(|tag| {
                (
                    tag.key().unwrap_or_default().to_owned(),
                    tag.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(sorted(tags), our_tags(&stack));
        assert!(
            secrets
                .get_secret_value()
                .secret_id(names.app_secret())
                .send()
                .await
                .is_err(),
            "a new secret has no value"
        );

        // ECR.
        let ecr = stack.ecr();
        let repositories = ecr
            .describe_repositories()
            .repository_names(names.ecr_repository())
            .send()
            .await
            .expect("repository");
        let repository = &repositories.repositories()[0];
        assert_eq!(
            repository.image_tag_mutability(),
            Some(&ImageTagMutability::Immutable)
        );
        assert_eq!(
            repository
                .image_scanning_configuration()
                .map(|scan| scan.scan_on_push()),
            Some(true)
        );
        assert_eq!(
            repository
                .encryption_configuration()
                .map(|encryption| encryption.encryption_type()),
            Some(&EncryptionType::Aes256)
        );
        let lifecycle = ecr
            .get_lifecycle_policy()
            .repository_name(names.ecr_repository())
            .send()
            .await
            .expect("lifecycle");
        let rules: serde_json::Value =
            serde_json::from_str(lifecycle.lifecycle_policy_text().expect("text")).expect("JSON");
        assert_eq!(rules["rules"][0]["selection"]["tagStatus"], "untagged");
        assert_eq!(rules["rules"][0]["selection"]["countNumber"], 14);
        assert_eq!(
            rules["rules"][1]["selection"]["countType"],
            "imageCountMoreThan"
        );
        assert_eq!(rules["rules"][1]["selection"]["countNumber"], 30);

        // GitHub OIDC provider and the CI role's exact trust.
        let iam = stack.iam();
        let provider = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(stack.oidc_provider_arn())
            .send()
            .await
            .expect("provider");
        assert_eq!(provider.client_id_list(), ["sts.amazonaws.com"]);
        let ci_role = iam
            .get_role()
            .role_name(names.ci_role())
            .send()
            .await
            .expect("CI role")
            .role
            .expect("role");
        let trust = policy(ci_role.assume_role_policy_document().expect("trust"));
        assert_eq!(
            trust["Statement"][0]["Principal"]["Federated"],
            stack.oidc_provider_arn()
        );
        assert_eq!(
            trust["Statement"][0]["Action"],
            "sts:AssumeRoleWithWebIdentity"
        );
        assert_eq!(
            trust["Statement"][0]["Condition"],
            json!({"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": [
                    "repo:acme/infra:ref:refs/heads/main",
                    "repo:acme/apps:ref:refs/heads/main"
                ]
            }})
        );
        let ci_policy = iam
            .get_role_policy()
            .role_name(names.ci_role())
            .policy_name("shopstack")
            .send()
            .await
            .expect("CI policy");
        let ci_policy = policy(ci_policy.policy_document());
        let resources: Vec<String> = ci_policy["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|statement| match &statement["Resource"] {
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect(),
                other => other
                    .as_str()
                    .map(str::to_owned)
                    .into_iter()
                    .collect::<Vec<_>>(),
            })
            .collect();
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        assert!(resources.contains(&format!("{bucket_arn}/envs/local/terraform.tfstate")));
        assert!(resources.contains(&format!("{bucket_arn}/envs/local/terraform.tfstate.tflock")));
        assert!(resources.contains(&format!(
            "arn:aws:dynamodb:eu-west-1:{}:table/{}",
            stack.account.id,
            names.lock_table()
        )));
        assert!(resources.contains(&format!(
            "arn:aws:codebuild:eu-west-1:{}:project/{}",
            stack.account.id,
            names.codebuild_project()
        )));
        for statement in ci_policy["Statement"].as_array().expect("statements") {
            let actions = statement["Action"].to_string();
            assert!(!actions.contains('*'), "wildcard action in {statement}");
        }

        // CodeBuild role and project.
        let codebuild_role = iam
            .get_role()
            .role_name(names.codebuild_role())
            .send()
            .await
            .expect("CodeBuild role")
            .role
            .expect("role");
        let trust = policy(codebuild_role.assume_role_policy_document().expect("trust"));
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"],
            "codebuild.amazonaws.com"
        );
        let project_arn = format!(
            "arn:aws:codebuild:eu-west-1:{}:project/{}",
            stack.account.id,
            names.codebuild_project()
        );
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"],
            project_arn
        );
        let projects = stack
            .codebuild()
            .batch_get_projects()
            .names(names.codebuild_project())
            .send()
            .await
            .expect("project");
        let project = &projects.projects()[0];
        // Build logs in the project's own log group, which its role may write, and not in S3
        // (checkov's CKV_AWS_314), as CodeBuild reports them.
        let logs = project.logs_config().expect("logs configuration");
        let cloudwatch = logs.cloud_watch_logs().expect("CloudWatch Logs");
        assert_eq!(cloudwatch.status().as_str(), "ENABLED");
        assert_eq!(
            cloudwatch.group_name(),
            Some(format!("/aws/codebuild/{}", names.codebuild_project()).as_str())
        );
        assert_eq!(
            logs.s3_logs().map(|s3| s3.status().as_str()),
            Some("DISABLED")
        );
        let environment = project.environment().expect("environment");
        assert_eq!(environment.privileged_mode(), Some(true));
        assert_eq!(environment.r#type().as_str(), "LINUX_CONTAINER");
        assert_eq!(
            environment.environment_variables()[0].name(),
            "IMAGE_REPO_URI"
        );
        assert_eq!(
            environment.environment_variables()[0].value(),
            format!(
                "{}.dkr.ecr.eu-west-1.amazonaws.com/{}",
                stack.account.id,
                names.ecr_repository()
            )
        );
        assert_eq!(
            project.service_role(),
            Some(
                format!(
                    "arn:aws:iam::{}:role/{}",
                    stack.account.id,
                    names.codebuild_role()
                )
                .as_str()
            )
        );
        assert_eq!(
            project.source().and_then(|source| source.location()),
            Some("https://github.com/acme/infra.git")
        );
    });
}

#[test]
fn a_second_apply_and_a_plan_report_no_changes() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let again = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&again, 0);
    assert!(stdout(&again).contains("No changes. The live resources match the configuration."));
    assert!(!stdout(&again).contains("Apply complete"));
    let plan = stack.run(&["plan", "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    let status = stack.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let states: Vec<&str> = status["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|resource| resource["state"].as_str())
        .collect();
    assert_eq!(states, ["ok"; 9]);
}

#[test]
fn plan_shows_every_resource_to_create_and_exits_2() {
    let stack = Stack::new();
    let plan = stack.run(&["plan", "--json", "--detailed-exitcode"]);
    assert_exit(&plan, 2);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert_eq!(
        plan["summary"],
        json!({"add": 9, "change": 0, "destroy": 0, "conflict": 0})
    );
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|change| change["address"].as_str())
        .collect();
    assert_eq!(
        addresses,
        [
            "s3_bucket.state",
            "dynamodb_table.lock",
            "secretsmanager_secret.app_config",
            "ecr_repository.app",
            "iam_openid_connect_provider.github",
            "iam_role.codebuild",
            "iam_role.github_actions",
            "iam_role.github_infra",
            "codebuild_project.image_build"
        ]
    );
    assert_eq!(
        plan["notes"],
        serde_json::json!([]),
        "nothing is left out over TLS"
    );
    // Planning created nothing.
    let bucket = stack.names("local").state_bucket();
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(bucket).send())
            .is_err()
    );
}

#[test]
fn apply_without_a_terminal_refuses_and_changes_nothing() {
    let stack = Stack::new();
    let output = stack.run(&["apply"]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: standard input is not a terminal: pass --auto-approve to apply without asking\n"
    );
    let bucket = stack.names("local").state_bucket();
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(bucket).send())
            .is_err()
    );
}

/// Runs `infra-terraform apply` on a pseudo-terminal (util-linux `script`), answering `answer`.
fn apply_on_a_terminal(stack: &Stack, answer: &str) -> std::process::Output {
    use std::io::Write;
    let mut command = std::process::Command::new("script");
    command
        .args([
            "-qec",
            &format!("{} apply", env!("CARGO_BIN_EXE_infra-terraform")),
            "/dev/null",
        ])
        .current_dir(stack.project.dir())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SHOPSTACK_ENV")
        .envs(stack.account.environment())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .expect("script (util-linux) runs the command on a terminal");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.as_bytes())
        .expect("answer");
    child.wait_with_output().expect("wait")
}

#[test]
fn apply_on_a_terminal_asks_and_only_yes_applies() {
    let stack = Stack::new();
    let bucket = stack.names("local").state_bucket();

    let declined = apply_on_a_terminal(&stack, "no\n");
    let text = stdout(&declined);
    assert!(
        text.contains("Apply these changes to environment local (account "),
        "{text}"
    );
    assert!(text.contains("Only 'yes' will be accepted."), "{text}");
    assert!(text.contains("Apply cancelled."), "{text}");
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(&bucket).send())
            .is_err()
    );

    let approved = apply_on_a_terminal(&stack, "yes\n");
    let text = stdout(&approved);
    assert!(
        text.contains("Apply complete! Resources: 9 added, 0 changed, 0 destroyed."),
        "{text}"
    );
    stack
        .block_on(stack.s3().head_bucket().bucket(&bucket).send())
        .expect("created after yes");
}
