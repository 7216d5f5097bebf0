//! AWS's documented eventual-consistency and conflict answers, given by the test proxy at the
//! moment real AWS gives them (`shopstack_testkit::real_aws`): apply from nothing, a no-op plan,
//! destroy and an apply right after it all converge, and leave every resource exactly once.
//! (The emulator has no CodeBuild `UpdateProject`, so the profile's answer to it is not met here.)

use std::collections::BTreeSet;

use shopstack_testkit::{AwsAnswer, Behaviour, Proxy, real_aws};

use crate::stdout;
use crate::support::{Stack, assert_exit};

/// `service operation: code` of every request the proxy answered itself since the last clear.
fn answered(proxy: &Proxy) -> BTreeSet<String> {
    proxy
        .requests()
        .iter()
        .filter_map(|request| {
            request
                .answered
                .as_ref()
                .map(|code| format!("{} {}: {code}", request.service, request.operation))
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn apply_plan_and_destroy_converge_through_awss_documented_answers() {
    let (proxy, stack) = Stack::proxied_with(Behaviour {
        answers: real_aws(),
        ..Behaviour::default()
    });
    let names = stack.names("local");

    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_eq!(
        answered(&proxy),
        set(&[
            "codebuild CreateProject: InvalidInputException",
            "dynamodb UpdateContinuousBackups: ContinuousBackupsUnavailableException",
            "iam PutRolePolicy: ConcurrentModification",
            "s3 PUT ?lifecycle: OperationAborted",
            "s3 PUT ?policy: OperationAborted",
            "s3 PUT ?tagging: NoSuchBucket",
        ]),
        "the profile must answer during apply"
    );
    assert_exit(&apply, 0);
    assert!(
        stdout(&apply).contains("Apply complete! Resources: 9 added"),
        "{}",
        stdout(&apply)
    );
    // Settings written through conflicts read back as written: no false drift.
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    stack.block_on(async {
        let mut expected = vec![
            names.ci_role(),
            names.infrastructure_role(),
            names.codebuild_role(),
        ];
        expected.sort();
        assert_eq!(stack.role_names().await, expected);
        assert_eq!(
            stack
                .point_in_time_recovery(&names.lock_table())
                .await
                .as_deref(),
            Some("ENABLED")
        );
    });

    proxy.clear();
    let destroy = stack.run(&["destroy", "--auto-approve", "--force-delete-state"]);
    assert_eq!(answered(&proxy), set(&["iam DeleteRole: DeleteConflict"]));
    assert_exit(&destroy, 0);
    stack.block_on(async {
        let roles = stack.iam().list_roles().send().await.expect("roles");
        assert!(roles.roles().is_empty(), "{:?}", roles.roles());
        let buckets = stack.s3().list_buckets().send().await.expect("buckets");
        assert!(buckets.buckets().is_empty(), "{:?}", buckets.buckets());
    });

    // Created again at once: the bucket name is not free yet.
    proxy.clear();
    let again = stack.run(&["apply", "--auto-approve"]);
    assert!(
        answered(&proxy).contains("s3 PUT bucket: OperationAborted"),
        "{:?}",
        answered(&proxy)
    );
    assert_exit(&again, 0);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}

#[test]
fn tags_beyond_the_first_page_are_read() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    // ShopStack's ManagedBy tag after ten others: on the second page of ListTagsOfResource
    // (the emulator pages at 10, AWS at its own size).
    stack.block_on(async {
        let dynamodb = stack.dynamodb();
        let arn = dynamodb
            .describe_table()
            .table_name(names.lock_table())
            .send()
            .await
            .expect("table")
            .table()
            .and_then(|table| table.table_arn())
            .expect("arn")
            .to_owned();
        dynamodb
            .untag_resource()
            .resource_arn(&arn)
            .tag_keys("ManagedBy")
            .send()
            .await
            .expect("untag");
        let tag = |key: String, value: &str| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(key)
                .value(value)
                .build()
                .expect("tag")
        };
        let others: Vec<_> = (0..10).map(|n| tag(format!("team-{n}"), "x")).collect();
        dynamodb
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(others))
            .send()
            .await
            .expect("tag others");
        dynamodb
            .tag_resource()
            .resource_arn(&arn)
            .tags(tag("ManagedBy".to_owned(), "shopstack"))
            .send()
            .await
            .expect("tag back");
        let first = dynamodb
            .list_tags_of_resource()
            .resource_arn(&arn)
            .send()
            .await
            .expect("tags");
        assert!(first.next_token().is_some(), "the tags must span two pages");
    });
    // Read to the last page, the table is still the one ShopStack created (not one it adopts).
    let plan = stack.run(&["plan", "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert!(!stdout(&plan).contains("adopted"), "{}", stdout(&plan));
}

#[test]
fn a_state_bucket_in_another_region_is_one_line_naming_both() {
    let (proxy, stack) = Stack::proxied();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    // The bucket answers from another region than the environment's: S3 redirects.
    proxy.set_behaviour(Behaviour {
        answers: vec![
            AwsAnswer::error(
                "s3",
                "GET ?versioning",
                301,
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified endpoint.",
            )
            .header("x-amz-bucket-region", "us-west-2"),
        ],
        ..Behaviour::default()
    });
    let plan = stack.run(&["plan"]);
    assert_exit(&plan, 1);
    assert_eq!(
        crate::stderr(&plan),
        format!(
            "error: read the live resources: state bucket {} lives in region us-west-2, the environment says eu-west-1\n",
            names.state_bucket()
        )
    );
}

/// `document` with every list reversed: the same policy, in another order.
fn reversed(document: &mut serde_json::Value) {
    match document {
        serde_json::Value::Array(items) => {
            items.reverse();
            items.iter_mut().for_each(reversed);
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(reversed),
        _ => {}
    }
}

#[test]
fn policies_in_another_order_are_no_drift() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    // The same documents, every list (statements, actions, resources, lifecycle rules) in
    // reverse, as AWS may hand them back.
    stack.block_on(async {
        let iam = stack.iam();
        let stored = iam
            .get_role_policy()
            .role_name(names.ci_role())
            .policy_name("shopstack")
            .send()
            .await
            .expect("inline policy");
        let mut document = crate::support::policy(stored.policy_document());
        let statements = document["Statement"].as_array().map_or(0, Vec::len);
        assert!(statements > 1, "the policy must have statements to reorder");
        reversed(&mut document);
        iam.put_role_policy()
            .role_name(names.ci_role())
            .policy_name("shopstack")
            .policy_document(document.to_string())
            .send()
            .await
            .expect("put reordered policy");
        let ecr = stack.ecr();
        let lifecycle = ecr
            .get_lifecycle_policy()
            .repository_name(names.ecr_repository())
            .send()
            .await
            .expect("lifecycle");
        let mut rules: serde_json::Value =
            serde_json::from_str(lifecycle.lifecycle_policy_text().unwrap_or_default())
                .expect("lifecycle JSON");
        reversed(&mut rules);
        ecr.put_lifecycle_policy()
            .repository_name(names.ecr_repository())
            .lifecycle_policy_text(rules.to_string())
            .send()
            .await
            .expect("put reordered lifecycle");
    });
    let plan = stack.run(&["plan", "--detailed-exitcode"]);
    assert_exit(&plan, 0);
}

#[test]
fn settings_that_read_back_stale_are_confirmed_before_apply_reports_success() {
    // S3 answers the first read after a lifecycle write with the old state (none yet): apply
    // reads again until it sees what it wrote, so the plan right after it is clean.
    let (proxy, stack) = Stack::proxied_with(Behaviour {
        answers: vec![
            AwsAnswer::error(
                "s3",
                "GET ?lifecycle",
                404,
                "NoSuchLifecycleConfiguration",
                "The lifecycle configuration does not exist",
            )
            .after("s3", "PUT ?lifecycle"),
        ],
        ..Behaviour::default()
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 0);
    assert_eq!(
        answered(&proxy),
        set(&["s3 GET ?lifecycle: NoSuchLifecycleConfiguration"]),
        "the stale answer must be given to apply's read-back"
    );
    assert!(!stdout(&apply).contains("note:"), "{}", stdout(&apply));
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}
