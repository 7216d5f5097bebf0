//! An environment with its own KMS key (`kms_key_arn`): what each resource is encrypted with, as
//! AWS reports it, the roles' grants on the key, the backend configuration, and a change of key.

use serde_json::Value;

use crate::support::{Stack, assert_exit};
use crate::{stderr, stdout};

fn statement<'a>(document: &'a Value, sid: &str) -> &'a Value {
    document["Statement"]
        .as_array()
        .and_then(|statements| statements.iter().find(|statement| statement["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid}: {document}"))
}

#[test]
#[allow(clippy::too_many_lines)]
fn the_environments_key_encrypts_the_bucket_table_secret_and_repository() {
    let stack = Stack::new();
    let names = stack.names("local");
    let key = stack.kms_key_arn("1234abcd-12ab-34cd-56ef-1234567890ab");
    stack.use_kms_key(&key);
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);

    let (bucket_key, table_key, secret_key, repository, ci, infrastructure) =
        stack.block_on(async {
            let encryption = stack
                .s3()
                .get_bucket_encryption()
                .bucket(names.state_bucket())
                .send()
                .await
                .expect("bucket encryption");
            let rule = encryption
                .server_side_encryption_configuration()
                .expect("configuration")
                .rules()[0]
                .clone();
            assert_eq!(rule.bucket_key_enabled(), Some(true));
            let by_default = rule
                .apply_server_side_encryption_by_default()
                .expect("default encryption");
            assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
            let table = stack
                .dynamodb()
                .describe_table()
                .table_name(names.lock_table())
                .send()
                .await
                .expect("table");
            let sse = table
                .table()
                .and_then(|table| table.sse_description())
                .expect("SSE")
                .clone();
            assert_eq!(sse.sse_type().map(|kind| kind.as_str()), Some("KMS"));
            let secret = stack.secret(&names.app_secret()).await;
            let repository = stack.repository(&names.ecr_repository()).await;
            (
                by_default.kms_master_key_id().map(str::to_owned),
                sse.kms_master_key_arn().map(str::to_owned),
                secret.kms_key_id().map(str::to_owned),
                repository
                    .encryption_configuration()
                    .cloned()
                    .expect("encryption configuration"),
                stack.inline_policy(&names.ci_role()).await,
                stack.inline_policy(&names.infrastructure_role()).await,
            )
        });
    assert_eq!(bucket_key.as_deref(), Some(key.as_str()));
    assert_eq!(table_key.as_deref(), Some(key.as_str()));
    assert_eq!(secret_key.as_deref(), Some(key.as_str()));
    assert_eq!(repository.encryption_type().as_str(), "KMS");
    assert_eq!(repository.kms_key(), Some(key.as_str()));

    // The CI role may use the key for the state objects; the infrastructure role for the
    // resources it makes, and grants on it only for AWS services.
    let state_key = statement(&ci, "StateKey");
    assert_eq!(state_key["Resource"], key.as_str());
    assert_eq!(
        state_key["Action"],
        serde_json::json!(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
    );
    assert_eq!(
        statement(&infrastructure, "EnvironmentKey")["Resource"],
        key.as_str()
    );
    let grants = statement(&infrastructure, "EnvironmentKeyGrants");
    assert_eq!(grants["Action"], serde_json::json!(["kms:CreateGrant"]));
    assert_eq!(
        grants["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
        "true"
    );

    // Nothing left to do; Terraform's backend writes the state with the key, not AES256.
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    assert_exit(&stack.run(&["backend-config"]), 0);
    let backend = std::fs::read_to_string(stack.project.dir().join("envs/local/backend.tf"))
        .expect("backend.tf");
    assert!(
        backend.lines().any(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words == ["kms_key_id", "=", &format!("\"{key}\"")]
        }),
        "{backend}"
    );

    // Another key: the bucket and the secret change in place; the repository cannot (ECR fixes
    // its encryption at creation), so apply refuses before changing anything.
    let other = stack.kms_key_arn("5678efgh-56ef-78gh-90ij-5678901234cd");
    stack.use_kms_key(&other);
    let plan = stack.run(&["plan", "--json", "--detailed-exitcode"]);
    assert_exit(&plan, 2);
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let changes = plan["changes"].as_array().expect("changes");
    let action = |address: &str| {
        changes
            .iter()
            .find(|change| change["address"] == address)
            .map(|change| change["action"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(action("s3_bucket.state"), "update");
    assert_eq!(action("secretsmanager_secret.app_config"), "update");
    assert_eq!(action("ecr_repository.app"), "conflict");
    let refused = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("encryption cannot change in place"),
        "{}{}",
        stdout(&refused),
        stderr(&refused)
    );
    let unchanged = stack.block_on(stack.secret(&names.app_secret()));
    assert_eq!(unchanged.kms_key_id(), Some(key.as_str()));
}

#[test]
fn without_a_key_the_aws_managed_keys_are_used_and_no_role_is_granted_one() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let (secret, repository, ci) = stack.block_on(async {
        (
            stack.secret(&names.app_secret()).await,
            stack.repository(&names.ecr_repository()).await,
            stack.inline_policy(&names.ci_role()).await,
        )
    });
    assert_eq!(secret.kms_key_id().filter(|key| !key.is_empty()), None);
    assert_eq!(
        repository
            .encryption_configuration()
            .map(|configuration| configuration.encryption_type().as_str()),
        Some("AES256")
    );
    assert!(!ci.to_string().contains("kms:"), "{ci}");
}
