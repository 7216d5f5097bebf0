//! The account-wide GitHub OIDC provider: adopted when present, shared, kept while trusted.

use crate::stdout;
use crate::support::{REGION, Stack, assert_exit};

fn provider_exists(stack: &Stack) -> bool {
    stack
        .block_on(
            stack
                .iam()
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(stack.oidc_provider_arn())
                .send(),
        )
        .is_ok()
}

#[test]
fn a_pre_existing_provider_is_adopted_and_never_deleted() {
    let stack = Stack::new();
    stack.block_on(async {
        stack
            .iam()
            .create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
            .send()
            .await
            .expect("provider made by another tool");
    });
    let plan = stack.run(&["plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let provider = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|change| change["address"] == "iam_openid_connect_provider.github")
        .expect("provider in plan")
        .clone();
    assert_eq!(provider["action"], "no-op");
    assert_eq!(
        provider["reason"],
        "adopted: exists and matches (not created by shopstack)"
    );
    assert_eq!(plan["summary"]["add"], 8);

    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    let destroy = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&destroy, 0);
    assert!(
        stdout(&destroy).contains("    iam_openid_connect_provider.github  token.actions.githubusercontent.com\n      # kept: not created by shopstack\n"),
        "{}",
        stdout(&destroy)
    );
    assert!(provider_exists(&stack));
    let provider = stack
        .block_on(
            stack
                .iam()
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(stack.oidc_provider_arn())
                .send(),
        )
        .expect("provider");
    assert!(
        provider.tags().is_empty(),
        "an adopted provider is not claimed"
    );
}

#[test]
fn two_environments_share_the_provider_until_the_last_is_destroyed() {
    let endpoint = shopstack_testkit::emulator_endpoint();
    let stack = Stack::with_environments(&format!(
        "[environments.dev]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n\n[environments.stage]\nregion = \"{REGION}\"\nendpoint_url = \"{endpoint}\"\n"
    ));
    assert_exit(&stack.run(&["-e", "dev", "apply", "--auto-approve"]), 0);
    let stage = stack.run(&["-e", "stage", "apply", "--auto-approve"]);
    assert_exit(&stage, 0);
    assert!(
        stdout(&stage).contains("Apply complete! Resources: 8 added, 0 changed, 0 destroyed."),
        "{}",
        stdout(&stage)
    );

    let destroy_dev = stack.run(&["-e", "dev", "destroy", "--auto-approve"]);
    assert_exit(&destroy_dev, 0);
    let stage = stack.names("stage");
    assert!(
        stdout(&destroy_dev).lines().any(|line| {
            line.contains("# kept: shared by the account, still trusted by ")
                && line.contains(&stage.ci_role())
                && line.contains(&stage.infrastructure_role())
        }),
        "{}",
        stdout(&destroy_dev)
    );
    assert!(provider_exists(&stack));
    assert!(
        stack
            .block_on(
                stack
                    .iam()
                    .get_role()
                    .role_name(stack.names("dev").ci_role())
                    .send()
            )
            .is_err()
    );
    assert_exit(
        &stack.run(&["-e", "stage", "plan", "--detailed-exitcode"]),
        0,
    );

    assert_exit(&stack.run(&["-e", "stage", "destroy", "--auto-approve"]), 0);
    assert!(!provider_exists(&stack));
}

#[test]
fn a_provider_without_our_audience_is_a_conflict_when_not_ours() {
    let stack = Stack::new();
    stack.block_on(async {
        stack
            .iam()
            .create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("some-other-audience")
            .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
            .send()
            .await
            .expect("provider made by another tool");
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    assert!(crate::stderr(&apply).contains("iam_openid_connect_provider.github (token.actions.githubusercontent.com) exists, was not created by shopstack, and differs"));
    assert!(
        stdout(&apply).contains("      ~ client_ids  some-other-audience → sts.amazonaws.com"),
        "{}",
        stdout(&apply)
    );
}
