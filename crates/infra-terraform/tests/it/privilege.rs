//! Least privilege without escalation: the CI role cannot start a build that runs anything but
//! the project's own buildspec, and the CodeBuild role holds only what that buildspec uses.

use crate::support::{Stack, assert_exit};
use crate::{stderr, stdout};

/// The inline policy of role `role` as IAM stores it.
fn inline_policy(stack: &Stack, role: &str) -> serde_json::Value {
    stack.block_on(stack.inline_policy(role))
}

fn put_inline_policy(stack: &Stack, role: &str, document: &serde_json::Value) {
    stack.block_on(async {
        stack
            .iam()
            .put_role_policy()
            .role_name(role)
            .policy_name("shopstack")
            .policy_document(document.to_string())
            .send()
            .await
            .expect("put inline policy");
    });
}

#[test]
fn start_build_overrides_are_denied_and_the_codebuild_role_reads_no_secret() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);

    // As IAM stores them: a Deny of its own for each override, no secret for the builds.
    let ci = inline_policy(&stack, &names.ci_role());
    let statements = ci["Statement"].as_array().expect("statements");
    let denied: Vec<&str> = statements
        .iter()
        .filter(|statement| statement["Effect"] == "Deny")
        .filter_map(|statement| statement["Condition"]["Null"].as_object())
        .flat_map(|null| null.keys().map(String::as_str))
        .collect();
    assert_eq!(
        denied,
        [
            "codebuild:source.buildspec",
            "codebuild:source.location",
            "codebuild:secondarySources",
            "codebuild:environment.image",
            "codebuild:environment.privilegedMode",
            "codebuild:serviceRole",
            "codebuild:environment.registryCredential",
        ]
    );
    let only_variables = statements
        .iter()
        .find(|statement| statement["Sid"] == "OnlyImageVariables")
        .expect("OnlyImageVariables");
    assert_eq!(
        only_variables["Condition"]["ForAnyValue:StringNotEquals"]["codebuild:environment.environmentVariables.name"],
        serde_json::json!(["IMAGE_TAG", "IMAGE_REPO_URI"])
    );
    let codebuild = inline_policy(&stack, &names.codebuild_role());
    assert!(
        !codebuild.to_string().contains("secretsmanager"),
        "{codebuild}"
    );
    let audit = stack.run(&["audit"]);
    assert_exit(&audit, 0);

    // A CI policy of an older kind (overrides allowed) and a CodeBuild role reading the app
    // secret: audit names each, and apply repairs both.
    let mut widened = ci.clone();
    widened["Statement"]
        .as_array_mut()
        .expect("statements")
        .retain(|statement| statement["Effect"] != "Deny");
    put_inline_policy(&stack, &names.ci_role(), &widened);
    let mut reading = codebuild.clone();
    reading["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(serde_json::json!({
            "Sid": "AppSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": "*"
        }));
    put_inline_policy(&stack, &names.codebuild_role(), &reading);

    let audit = stack.run(&["audit"]);
    assert_exit(&audit, 1);
    let report = stdout(&audit);
    for expected in [
        "inline policy StartBuild may set codebuild:source.buildspec",
        "inline policy StartBuild may set codebuild:environment.privilegedMode",
        "inline policy StartBuild may set codebuild:serviceRole",
        "inline policy StartBuild may set environment variables other than IMAGE_TAG, IMAGE_REPO_URI",
        "inline policy statement AppSecret: secretsmanager:GetSecretValue is not used by the buildspec",
    ] {
        assert!(
            report.contains(expected),
            "{expected} not in {report}{}",
            stderr(&audit)
        );
    }
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    assert_exit(&stack.run(&["audit"]), 0);
}
