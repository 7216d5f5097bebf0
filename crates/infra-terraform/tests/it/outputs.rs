//! `outputs`: what CI and the other tools need of an environment, read live: the values AWS
//! reports, as lines or JSON, and every missing resource named.

use serde_json::{Value, json};

use crate::support::{REGION, Stack, assert_exit};
use crate::{stderr, stdout};

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("outputs --json is a JSON object")
}

#[test]
fn outputs_are_read_live_and_a_missing_resource_is_named() {
    let stack = Stack::new();
    let names = stack.names("local");

    let before = stack.run(&["outputs", "--json"]);
    assert_exit(&before, 1);
    let values = json_of(&before);
    assert_eq!(values["state_bucket"], Value::Null);
    assert_eq!(values["ci_role_arn"], Value::Null);
    assert_eq!(values["region"], REGION);
    assert_eq!(values["account_id"], stack.account.id.as_str());
    assert_eq!(
        stderr(&before),
        "error: state_bucket, lock_table, backend_key, ecr_repository_uri, codebuild_project, ci_role_arn, infrastructure_role_arn, codebuild_role_arn, app_secret_arn missing: run `infra-terraform apply`\n"
    );

    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let after = stack.run(&["outputs", "--json"]);
    assert_exit(&after, 0);
    // What AWS reports of each resource.
    let (ci_role, infrastructure_role, codebuild_role, secret, repository) =
        stack.block_on(async {
            let secret = stack.secret(&names.app_secret()).await;
            let repository = stack.repository(&names.ecr_repository()).await;
            (
                stack.role_arn(&names.ci_role()).await,
                stack.role_arn(&names.infrastructure_role()).await,
                stack.role_arn(&names.codebuild_role()).await,
                secret.arn().expect("ARN").to_owned(),
                repository.repository_uri().expect("URI").to_owned(),
            )
        });
    assert_eq!(
        json_of(&after),
        json!({
            "state_bucket": names.state_bucket(),
            "lock_table": names.lock_table(),
            "backend_key": names.state_key(),
            "ecr_repository_uri": repository,
            "codebuild_project": names.codebuild_project(),
            "ci_role_arn": ci_role,
            "infrastructure_role_arn": infrastructure_role,
            "codebuild_role_arn": codebuild_role,
            "app_secret_arn": secret,
            "region": REGION,
            "account_id": stack.account.id,
        })
    );
    // The same as lines, one per output.
    let lines = stack.run(&["outputs"]);
    assert_exit(&lines, 0);
    let text = stdout(&lines);
    assert_eq!(text.lines().count(), 11, "{text}");
    assert!(
        text.lines()
            .any(|line| line.starts_with("ci_role_arn ") && line.ends_with(&ci_role)),
        "{text}"
    );
}
