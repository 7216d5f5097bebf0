//! Faults injected between the tool and AWS: retried to convergence, or reported with the call,
//! and the state lock released (or, when even that fails, named with the way to clear it).

use std::time::Duration;

use shopstack_testkit::{Behaviour, Fault, Hold, Lift, Proxy};

use crate::lock_support::{infra_lock_id, lock_item};
use crate::support::{Stack, assert_each_resource_once, assert_exit};
use crate::{stderr, stdout};

#[test]
fn apply_converges_when_a_fifth_of_requests_fail() {
    let (proxy, stack) = Stack::proxied();
    proxy.set_behaviour(Behaviour {
        fault_share: 0.2,
        faults: vec![
            Fault::InternalError,
            Fault::ServiceUnavailable,
            Fault::Throttling,
            Fault::Reset,
            Fault::LostResponse,
        ],
        ..Behaviour::default()
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    let injected = proxy
        .requests()
        .iter()
        .filter(|request| request.fault.is_some())
        .count();
    assert!(injected >= 3, "the test must inject faults: {injected}");
    assert_exit(&apply, 0);
    assert!(
        stdout(&apply).contains("Apply complete! Resources: 9 added"),
        "{}",
        stdout(&apply)
    );

    proxy.set_behaviour(Behaviour::default());
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    // Each resource exists once, and is ShopStack's own.
    assert_each_resource_once(&stack);
}

#[test]
fn apply_fails_naming_each_call_when_every_request_fails() {
    let (proxy, stack) = Stack::proxied();
    proxy.set_behaviour(Behaviour {
        fault_share: 1.0,
        faults: vec![Fault::InternalError],
        exempt: vec!["GetCallerIdentity".to_owned()],
        ..Behaviour::default()
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    let message = stderr(&apply);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    let names = stack.names("local");
    // apply's first request after the identity is the lock itself: that call gives up first.
    assert_eq!(
        message,
        format!(
            "error: acquire the state lock: DynamoDB PutItem on {}: InternalFailure: injected\n",
            infra_lock_id(&stack)
        )
    );
    // plan reads everything at once and names every call that failed.
    let plan = stack.run(&["plan"]);
    assert_exit(&plan, 1);
    let message = stderr(&plan);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    for expected in [
        // The bucket's settings are read together; whichever fails first is named.
        "read the live resources: S3 Get".to_owned(),
        format!("{}: InternalError: injected", names.state_bucket()),
        format!(
            "DynamoDB DescribeTable on {}: InternalFailure: injected",
            names.lock_table()
        ),
        format!(
            "IAM GetRole on {}: InternalError: injected",
            names.ci_role()
        ),
        format!(
            "ECR DescribeRepositories on {}: InternalFailure: injected",
            names.ecr_repository()
        ),
        format!(
            "CodeBuild BatchGetProjects on {}: InternalFailure: injected",
            names.codebuild_project()
        ),
        format!(
            "SecretsManager DescribeSecret on {}: InternalFailure: injected",
            names.app_secret()
        ),
    ] {
        assert!(message.contains(&expected), "{expected} in {message}");
    }
    // Every call was retried, and nothing was created.
    let attempts = |operation: &str| {
        proxy
            .requests()
            .iter()
            .filter(|request| request.operation == operation)
            .count()
    };
    // 6 attempts each (the SDK's standard retry): apply's lock, plan's read of the table.
    assert_eq!(attempts("PutItem"), 6, "apply's lock");
    assert_eq!(attempts("DescribeTable"), 6, "plan's read of the table");
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(names.state_bucket()).send())
            .is_err()
    );
}

#[test]
fn an_identity_check_that_keeps_failing_is_one_line_naming_sts() {
    let (proxy, stack) = Stack::proxied();
    proxy.set_behaviour(Behaviour {
        fault_share: 1.0,
        faults: vec![Fault::ServiceUnavailable],
        ..Behaviour::default()
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    let message = stderr(&apply);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!(
            "error: cannot get the caller identity from STS ({})",
            proxy.url()
        )),
        "{message}"
    );
    let requests = proxy.requests();
    assert!(
        requests.len() > 1
            && requests
                .iter()
                .all(|request| request.operation == "GetCallerIdentity"),
        "{requests:?}"
    );
}

/// The locks `locks --json` lists.
fn listed(stack: &Stack) -> Vec<serde_json::Value> {
    let output = stack.run(&["locks", "--json"]);
    assert_exit(&output, 0);
    serde_json::from_slice(&output.stdout).expect("locks --json is a JSON array")
}

/// How many requests of `operation` on `service` the proxy forwarded (not faulted).
fn forwarded(proxy: &Proxy, service: &str, operation: &str) -> usize {
    proxy
        .requests()
        .iter()
        .filter(|request| {
            request.service == service && request.operation == operation && request.fault.is_none()
        })
        .count()
}

#[test]
fn apply_fails_naming_the_call_and_releases_the_lock_when_a_service_always_fails() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    proxy.clear();
    // Everything the resources need beyond the state backend fails; the lock's own calls
    // (DynamoDB, S3) go through, so the lock is taken.
    proxy.set_behaviour(Behaviour {
        fault_share: 1.0,
        faults: vec![Fault::InternalError],
        faulted_services: ["iam", "ecr", "secretsmanager", "codebuild"]
            .map(str::to_owned)
            .to_vec(),
        ..Behaviour::default()
    });
    let apply = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&apply, 1);
    let message = stderr(&apply);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    let names = stack.names("local");
    for expected in [
        format!(
            "IAM GetRole on {}: InternalError: injected",
            names.ci_role()
        ),
        format!(
            "ECR DescribeRepositories on {}: InternalFailure: injected",
            names.ecr_repository()
        ),
        format!(
            "SecretsManager DescribeSecret on {}: InternalFailure: injected",
            names.app_secret()
        ),
    ] {
        assert!(message.contains(&expected), "{expected} in {message}");
    }
    assert!(!message.contains("state lock"), "{message}");
    // The lock was taken, then released: its item is gone, and nothing lists it.
    assert_eq!(forwarded(&proxy, "dynamodb", "PutItem"), 1);
    assert_eq!(forwarded(&proxy, "dynamodb", "DeleteItem"), 1);
    assert_eq!(lock_item(&stack, &infra_lock_id(&stack)), None);
    proxy.set_behaviour(Behaviour::default());
    assert_eq!(listed(&stack), Vec::<serde_json::Value>::new());
}

#[test]
fn when_releasing_the_lock_fails_too_the_message_names_the_lock_left_and_how_to_clear_it() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    // Hold the plan's read of the lock table (made once the lock is taken, and the check for a
    // lockfile of the same path beside it, are answered), then let every request fail from there.
    proxy.set_behaviour(Behaviour {
        hold: Some(Hold::operation("dynamodb", "DescribeTable").after("dynamodb", "PutItem")),
        ..Behaviour::default()
    });
    let apply = stack
        .command(&["apply", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    let held = proxy.wait_for_held(Duration::from_secs(60));
    proxy.set_behaviour(Behaviour {
        fault_share: 1.0,
        faults: vec![Fault::InternalError],
        ..Behaviour::default()
    });
    proxy.lift_hold(Lift::Drop);
    let apply = apply.wait_with_output().expect("wait for apply");
    let held = held.expect("apply took the lock and went on");
    assert_eq!(held.operation, "DescribeTable");
    assert_exit(&apply, 1);
    proxy.set_behaviour(Behaviour::default());

    let lock_id = infra_lock_id(&stack);
    let item = lock_item(&stack, &lock_id).expect("the lock is left");
    let id = item["ID"].as_str().expect("ID");
    let message = stderr(&apply);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    let names = stack.names("local");
    // First what failed, then the lock left, with its ID and the command that clears it.
    assert!(
        message.starts_with("error: read the live resources: "),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "; then releasing the state lock {lock_id} failed (DynamoDB DeleteItem on {lock_id}: InternalFailure: injected), so it is left: clear it with `infra-terraform force-unlock {id}`\n"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "DynamoDB DescribeTable on {}: InternalFailure: injected",
            names.lock_table()
        )),
        "{message}"
    );
    let unlocked = stack.run(&["force-unlock", id, "--force"]);
    assert_exit(&unlocked, 0);
    assert_eq!(lock_item(&stack, &lock_id), None);
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}
