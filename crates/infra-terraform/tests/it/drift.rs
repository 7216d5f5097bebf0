//! Drift made out of band is planned exactly, repaired by apply, and reported by audit.

use aws_sdk_ecr::types::ImageTagMutability;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};
use serde_json::json;

use crate::stdout;
use crate::support::{REGION, Stack, assert_exit, policy};

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(output)))
}

#[test]
fn drift_is_planned_repaired_and_audited() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);

    let widened = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": stack.oidc_provider_arn()},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}
            }
        }]
    });
    stack.block_on(async {
        stack
            .s3()
            .put_bucket_versioning()
            .bucket(names.state_bucket())
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .expect("suspend versioning");
        stack
            .ecr()
            .put_image_tag_mutability()
            .repository_name(names.ecr_repository())
            .image_tag_mutability(ImageTagMutability::Mutable)
            .send()
            .await
            .expect("make tags mutable");
        stack
            .iam()
            .update_assume_role_policy()
            .role_name(names.ci_role())
            .policy_document(widened.to_string())
            .send()
            .await
            .expect("widen trust");
    });

    let plan = stack.run(&["plan", "--json", "--detailed-exitcode"]);
    assert_exit(&plan, 2);
    let plan = json(&plan);
    assert_eq!(
        plan["summary"],
        json!({"add": 0, "change": 3, "destroy": 0, "conflict": 0})
    );
    let updates: Vec<(String, Vec<String>)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|change| change["action"] == "update")
        .map(|change| {
            let attributes = change["attributes"]
                .as_array()
                .expect("attributes")
                .iter()
                .map(|attribute| {
                    attribute["attribute"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            (
                change["address"].as_str().unwrap_or_default().to_owned(),
                attributes,
            )
        })
        .collect();
    assert_eq!(
        updates,
        [
            ("s3_bucket.state".to_owned(), vec!["versioning".to_owned()]),
            (
                "ecr_repository.app".to_owned(),
                vec!["image_tag_mutability".to_owned()]
            ),
            (
                "iam_role.github_actions".to_owned(),
                vec!["trust_policy".to_owned()]
            ),
        ]
    );
    let versioning = &plan["changes"][0]["attributes"][0];
    assert_eq!(
        (&versioning["old"], &versioning["new"]),
        (&json!("Suspended"), &json!("Enabled"))
    );

    let audit = stack.run(&["audit", "--json"]);
    assert_exit(&audit, 1);
    let findings: Vec<String> = json(&audit)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| {
            format!(
                "{}: {}",
                finding["address"].as_str().unwrap_or_default(),
                finding["finding"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            "s3_bucket.state: versioning is Suspended, expected Enabled",
            "ecr_repository.app: image_tag_mutability is MUTABLE, expected IMMUTABLE",
            "iam_role.github_actions: trust_policy differs from the hardened policy",
            "iam_role.github_actions: trust policy statement 0: StringLike allows wildcard subjects",
            "iam_role.github_actions: trust policy statement 0: token.actions.githubusercontent.com:sub is not pinned with StringEquals",
        ]
    );

    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 0);
    assert!(
        stdout(&apply).contains("Apply complete! Resources: 0 added, 3 changed, 0 destroyed."),
        "{}",
        stdout(&apply)
    );
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    let audit = stack.run(&["audit"]);
    assert_exit(&audit, 0);
    assert!(stdout(&audit).contains("Audit passed: 9 resources meet every control."));

    stack.block_on(async {
        let versioning = stack.s3().get_bucket_versioning().bucket(names.state_bucket()).send().await.expect("versioning");
        assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
        let repositories = stack
            .ecr()
            .describe_repositories()
            .repository_names(names.ecr_repository())
            .send()
            .await
            .expect("repository");
        assert_eq!(repositories.repositories()[0].image_tag_mutability(), Some(&ImageTagMutability::Immutable));
        let role = stack.iam().get_role().role_name(names.ci_role()).send().await.expect("role").role.expect("role");
        let trust = policy(role.assume_role_policy_document().expect("trust"));
        assert!(trust["Statement"][0]["Condition"].get("StringLike").is_none());
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"],
            json!(["repo:acme/infra:ref:refs/heads/main", "repo:acme/apps:ref:refs/heads/main"])
        );
    });
}

#[test]
fn an_unmanaged_resource_that_differs_is_a_conflict_and_apply_changes_nothing() {
    let stack = Stack::new();
    let names = stack.names("local");
    stack.block_on(async {
        stack
            .ecr()
            .create_repository()
            .repository_name(names.ecr_repository())
            .image_tag_mutability(ImageTagMutability::Mutable)
            .send()
            .await
            .expect("someone else's repository");
    });
    let plan = stack.run(&["plan"]);
    assert_exit(&plan, 0);
    assert!(
        stdout(&plan).contains(&format!(
            "  ! ecr_repository.app  {}\n      # exists, was not created by shopstack, and differs",
            names.ecr_repository()
        )),
        "{}",
        stdout(&plan)
    );
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    assert!(
        crate::stderr(&apply).starts_with(&format!(
            "error: refusing to apply: ecr_repository.app ({}) exists, was not created by shopstack, and differs",
            names.ecr_repository()
        )),
        "{}",
        crate::stderr(&apply)
    );
    // Nothing was created, and the repository was left as it was.
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(names.state_bucket()).send())
            .is_err()
    );
    let repositories = stack
        .block_on(
            stack
                .ecr()
                .describe_repositories()
                .repository_names(names.ecr_repository())
                .send(),
        )
        .expect("repository");
    assert_eq!(
        repositories.repositories()[0].image_tag_mutability(),
        Some(&ImageTagMutability::Mutable)
    );
}

#[test]
fn an_untagged_state_bucket_holding_objects_is_a_conflict_and_an_empty_one_is_finished() {
    let stack = Stack::new();
    let bucket = stack.names("local").state_bucket();
    stack.block_on(async {
        stack
            .s3()
            .create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .expect("an untagged bucket");
        stack
            .s3()
            .put_object()
            .bucket(&bucket)
            .key("someone/else.tfstate")
            .body(ByteStream::from_static(b"{}"))
            .send()
            .await
            .expect("an object in it");
    });
    // Holding objects, it is someone else's: refused, left untouched.
    let plan = stack.run(&["plan"]);
    assert_exit(&plan, 0);
    assert!(
        stdout(&plan).contains(&format!(
            "  ! s3_bucket.state  {bucket}\n      # exists, was not created by shopstack, and differs"
        )),
        "{}",
        stdout(&plan)
    );
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    let tagging = stack.block_on(stack.s3().get_bucket_tagging().bucket(&bucket).send());
    assert!(
        tagging.is_err() || tagging.is_ok_and(|tagging| tagging.tag_set().is_empty()),
        "left untagged"
    );

    // Empty, it is a creation of ours cut short (a run killed right after CreateBucket).
    stack
        .block_on(
            stack
                .s3()
                .delete_object()
                .bucket(&bucket)
                .key("someone/else.tfstate")
                .send(),
        )
        .expect("empty it");
    let plan = stack.run(&["plan"]);
    assert!(
        stdout(&plan).contains(&format!("  ~ s3_bucket.state  {bucket}")),
        "{}",
        stdout(&plan)
    );
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let tagging = stack
        .block_on(stack.s3().get_bucket_tagging().bucket(&bucket).send())
        .expect("tags");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|tag| tag.key() == "ManagedBy" && tag.value() == "shopstack")
    );
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}
