//! `destroy`: what holds data is kept unless forced; the secret is scheduled, and restorable.

use crate::stdout;
use crate::support::{Stack, assert_exit};

fn put_state(stack: &Stack, body: &str) {
    let bucket = stack.names("local").state_bucket();
    stack
        .block_on(
            stack
                .s3()
                .put_object()
                .bucket(bucket)
                .key("envs/local/terraform.tfstate")
                .body(body.as_bytes().to_vec().into())
                .send(),
        )
        .expect("put state");
}

#[test]
fn destroy_keeps_a_state_bucket_that_holds_objects_until_forced() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    put_state(&stack, "{\"version\": 4}");
    put_state(&stack, "{\"version\": 4, \"serial\": 2}");

    let destroy = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&destroy, 0);
    assert!(
        stdout(&destroy).contains(&format!(
            "    s3_bucket.state  {}\n      # kept: it holds state objects; --force-delete-state deletes them (every version) with the bucket\n",
            names.state_bucket()
        )),
        "{}",
        stdout(&destroy)
    );
    assert!(stdout(&destroy).contains("Destroy complete! Resources: 8 destroyed."));
    stack.block_on(async {
        stack
            .s3()
            .head_bucket()
            .bucket(names.state_bucket())
            .send()
            .await
            .expect("bucket kept");
        let object = stack
            .s3()
            .get_object()
            .bucket(names.state_bucket())
            .key("envs/local/terraform.tfstate")
            .send()
            .await
            .expect("state kept");
        let body = object.body.collect().await.expect("body").into_bytes();
        assert_eq!(&body[..], b"{\"version\": 4, \"serial\": 2}");
        assert!(
            stack
                .dynamodb()
                .describe_table()
                .table_name(names.lock_table())
                .send()
                .await
                .is_err()
        );
        assert!(
            stack
                .iam()
                .get_role()
                .role_name(names.ci_role())
                .send()
                .await
                .is_err()
        );
        assert!(
            stack
                .iam()
                .get_role()
                .role_name(names.codebuild_role())
                .send()
                .await
                .is_err()
        );
        assert!(
            stack
                .ecr()
                .describe_repositories()
                .repository_names(names.ecr_repository())
                .send()
                .await
                .is_err()
        );
    });

    let forced = stack.run(&["destroy", "--auto-approve", "--force-delete-state"]);
    assert_exit(&forced, 0);
    assert!(
        stdout(&forced).contains("Destroy complete! Resources: 1 destroyed."),
        "{}",
        stdout(&forced)
    );
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(names.state_bucket()).send())
            .is_err()
    );
}

#[test]
fn destroy_schedules_the_secret_deletion_and_apply_restores_it() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let value = stack.project.dir().join("value.json");
    std::fs::write(&value, "{\"LOG_LEVEL\": \"debug\"}").expect("write value");
    assert_exit(
        &stack.run(&[
            "secret",
            "put",
            "--from-file",
            value.to_str().expect("utf-8 path"),
        ]),
        0,
    );

    assert_exit(&stack.run(&["destroy", "--auto-approve"]), 0);
    let described = stack
        .block_on(
            stack
                .secrets()
                .describe_secret()
                .secret_id(names.app_secret())
                .send(),
        )
        .expect("secret still known");
    assert!(
        described.deleted_date().is_some(),
        "deletion is scheduled, with a recovery window"
    );

    let plan = stack.run(&["plan"]);
    assert!(
        stdout(&plan).contains("      ~ state  pending deletion → active"),
        "{}",
        stdout(&plan)
    );
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    stack.block_on(async {
        let described = stack
            .secrets()
            .describe_secret()
            .secret_id(names.app_secret())
            .send()
            .await
            .expect("secret");
        assert_eq!(described.deleted_date(), None);
        let value = stack
            .secrets()
            .get_secret_value()
            .secret_id(names.app_secret())
            .send()
            .await
            .expect("value");
        assert_eq!(value.secret_string(), Some("{\"LOG_LEVEL\": \"debug\"}"));
    });
}

#[test]
fn destroy_without_a_terminal_refuses_and_deletes_nothing() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let destroy = stack.run(&["destroy"]);
    assert_exit(&destroy, 1);
    assert_eq!(
        crate::stderr(&destroy),
        "error: standard input is not a terminal: pass --auto-approve to destroy without asking\n"
    );
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}

#[test]
fn destroy_removes_a_role_with_policies_added_by_hand_and_keeps_the_policy_itself() {
    let stack = Stack::new();
    let role = stack.names("local").ci_role();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let iam = stack.iam();
    // Someone attached a managed policy and added a second inline one to the CI role.
    let policy_document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    let policy_arn = stack.block_on(async {
        let policy = iam
            .create_policy()
            .policy_name(format!("{role}-extra"))
            .policy_document(policy_document)
            .send()
            .await
            .expect("create policy");
        let arn = policy
            .policy()
            .and_then(|policy| policy.arn())
            .expect("policy ARN")
            .to_owned();
        iam.attach_role_policy()
            .role_name(&role)
            .policy_arn(&arn)
            .send()
            .await
            .expect("attach");
        iam.put_role_policy()
            .role_name(&role)
            .policy_name("added-by-hand")
            .policy_document(policy_document)
            .send()
            .await
            .expect("put inline");
        arn
    });

    let destroy = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&destroy, 0);
    stack.block_on(async {
        let gone = iam.get_role().role_name(&role).send().await;
        assert!(
            gone.as_ref().is_err_and(|error| error
                .as_service_error()
                .is_some_and(|error| error.is_no_such_entity_exception())),
            "{gone:?}"
        );
        // Detached, not deleted: the policy is not ShopStack's.
        let policy = iam
            .get_policy()
            .policy_arn(&policy_arn)
            .send()
            .await
            .expect("the managed policy still exists");
        assert_eq!(
            policy.policy().and_then(|policy| policy.attachment_count()),
            Some(0)
        );
    });
}

#[test]
fn destroy_takes_a_role_out_of_an_instance_profile_before_deleting_it() {
    let (proxy, stack) = Stack::proxied();
    let role = stack.names("local").codebuild_role();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let iam = stack.iam();
    // Someone put the CodeBuild role into an instance profile: DeleteRole refuses until the
    // role is taken out (DeleteRole's reference), which no waiting mends.
    let profile = format!("{role}-profile");
    stack.block_on(async {
        iam.create_instance_profile()
            .instance_profile_name(&profile)
            .send()
            .await
            .expect("create instance profile");
        iam.add_role_to_instance_profile()
            .instance_profile_name(&profile)
            .role_name(&role)
            .send()
            .await
            .expect("add role");
    });

    proxy.clear();
    let destroy = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&destroy, 0);
    // Refused once, then deleted once the role is out: no waiting on a conflict that needs an
    // action (the CI and infrastructure roles' DeleteRole are the others).
    let calls = |operation: &str| {
        proxy
            .requests()
            .iter()
            .filter(|request| request.operation == operation)
            .count()
    };
    assert_eq!(calls("DeleteRole"), 4);
    assert_eq!(calls("RemoveRoleFromInstanceProfile"), 1);
    stack.block_on(async {
        let gone = iam.get_role().role_name(&role).send().await;
        assert!(gone.is_err(), "{gone:?}");
        // The profile is not ShopStack's: it stays, without the role.
        let kept = iam
            .get_instance_profile()
            .instance_profile_name(&profile)
            .send()
            .await
            .expect("the instance profile still exists");
        assert!(
            kept.instance_profile()
                .is_some_and(|profile| profile.roles().is_empty()),
            "{kept:?}"
        );
    });
}

#[test]
fn a_destroy_resumed_after_the_lock_table_is_gone_locks_in_the_bucket_and_deletes_it() {
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    // What a destroy stopped right after deleting the lock table leaves: everything else.
    stack
        .block_on(
            stack
                .dynamodb()
                .delete_table()
                .table_name(names.lock_table())
                .send(),
        )
        .expect("delete the lock table");

    let destroy = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&destroy, 0);
    let text = stdout(&destroy);
    // Its own lock file in the bucket is not state: the bucket goes with the rest.
    assert!(!text.contains("kept: it holds state objects"), "{text}");
    assert!(
        text.contains("Destroy complete! Resources: 8 destroyed."),
        "{text}"
    );
    stack.block_on(async {
        let buckets = stack.s3().list_buckets().send().await.expect("buckets");
        assert!(buckets.buckets().is_empty(), "{buckets:?}");
    });
    // And the lock went with it: nothing is left to clear.
    let locks = stack.run(&["locks", "--json"]);
    assert_exit(&locks, 0);
    let locks: serde_json::Value = serde_json::from_slice(&locks.stdout).expect("locks JSON");
    assert_eq!(locks, serde_json::json!([]));
}
