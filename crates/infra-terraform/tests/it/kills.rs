//! `apply` SIGKILLed at ten points, from before the lock to its release, and `destroy` at four:
//! the next run reports the stale lock left, and after `force-unlock` converges (each resource
//! once, or none left).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use shopstack_testkit::{Behaviour, Hold, Lift, Proxy, Request};

use crate::lock_support::{infra_lock_id, lock_item};
use crate::support::{Inventory, Stack, assert_each_resource_once, assert_exit};
use crate::{stderr, stdout};

/// How long a step of a killed apply may take before the test gives up.
const TIMEOUT: Duration = Duration::from_secs(60);

fn operations(requests: &[Request]) -> String {
    requests
        .iter()
        .map(|request| format!("{} {}", request.service, request.operation))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The ID of every lock `locks --json` lists.
fn listed_ids(stack: &Stack) -> Vec<String> {
    let output = stack.run(&["locks", "--json"]);
    assert_exit(&output, 0);
    let locks: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("locks --json is a JSON array");
    locks
        .iter()
        .map(|lock| lock["info"]["ID"].as_str().expect("ID").to_owned())
        .collect()
}

/// Whether a request only reads (or is the lock's conditional PutItem, refused when held).
fn reads(request: &Request) -> bool {
    let operation = request.operation.as_str();
    ["Get", "Describe", "List", "BatchGet", "GET ", "HEAD "]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
        || (request.service == "dynamodb" && operation == "PutItem")
}

/// Runs `infra-terraform COMMAND --auto-approve` behind `proxy` holding `hold`, SIGKILLs it once
/// the hold has its request (which then never reaches AWS), and returns that request.
fn kill_at(stack: &Stack, proxy: &Proxy, command: &str, hold: &Hold) -> Request {
    proxy.set_behaviour(Behaviour {
        hold: Some(hold.clone()),
        ..Behaviour::default()
    });
    let mut child = stack
        .command(&[command, "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("start {command}: {error}"));
    let held = proxy.wait_for_held(TIMEOUT);
    // `Child::kill` is SIGKILL: no handler runs, nothing is released.
    let _ = child.kill();
    let killed = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("wait for the killed {command}: {error}"));
    proxy.lift_hold(Lift::Drop);
    let Some(held) = held else {
        panic!(
            "{command} never reached {hold:?} within {TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}\nrequests:\n{}",
            stdout(&killed),
            stderr(&killed),
            operations(&proxy.requests())
        );
    };
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "killed at {held:?}: {}",
        stderr(&killed)
    );
    proxy.set_behaviour(Behaviour::default());
    held
}

/// The next `COMMAND --auto-approve` exits 1 naming the stale lock `id` and `force-unlock`, and
/// sends no write; then `force-unlock ID` clears it.
fn refused_then_unlocked(stack: &Stack, proxy: &Proxy, command: &str, id: &str) {
    proxy.clear();
    let refused = stack.run(&[command, "--auto-approve"]);
    assert_exit(&refused, 1);
    let error = stderr(&refused);
    assert!(
        error.contains(&format!("lock ID {id}")) && error.contains("force-unlock"),
        "{error}"
    );
    let writes: Vec<Request> = proxy
        .requests()
        .into_iter()
        .filter(|request| !reads(request))
        .collect();
    assert!(
        writes.is_empty(),
        "a refused {command} writes nothing: {writes:?}"
    );
    assert_exit(&stack.run(&["force-unlock", id, "--force"]), 0);
}

/// Starts `apply` behind a proxy holding `hold`, SIGKILLs it once the hold has its request, then
/// checks what the kill left and that the environment converges: the next `apply` refuses naming
/// the stale lock (when the kill left one), `force-unlock` clears it, `apply` converges, and a
/// plan after it has nothing to change.
fn killed_at(hold: Hold, leaves_lock: bool) {
    let (proxy, stack) = Stack::proxied();
    let held = kill_at(&stack, &proxy, "apply", &hold);

    let ids = listed_ids(&stack);
    if leaves_lock {
        let [id] = ids.as_slice() else {
            panic!("killed at {held:?}, one stale lock is left: {ids:?}");
        };
        let lock_id = infra_lock_id(&stack);
        let item = lock_item(&stack, &lock_id).expect("the stale lock item");
        assert_eq!(item["ID"], id.as_str());

        refused_then_unlocked(&stack, &proxy, "apply", id);
        assert_eq!(lock_item(&stack, &lock_id), None);
    } else {
        assert!(
            ids.is_empty(),
            "killed at {held:?} before the lock: {ids:?}"
        );
    }

    let converged = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&converged, 0);
    assert!(
        stdout(&converged).contains("Apply complete!")
            || stdout(&converged).contains("No changes."),
        "{}",
        stdout(&converged)
    );
    let plan = stack.run(&["plan", "--detailed-exitcode"]);
    assert_exit(&plan, 0);
    assert!(listed_ids(&stack).is_empty());
    assert_each_resource_once(&stack);
}

/// `destroy` of a whole environment behind a proxy holding `hold`, SIGKILLed there: the next
/// `destroy` refuses naming the stale lock, `force-unlock` clears it, and `destroy` then removes
/// everything that was left (the secret scheduled for deletion, as always).
fn destroy_killed_at(hold: Hold) {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let held = kill_at(&stack, &proxy, "destroy", &hold);

    let ids = listed_ids(&stack);
    let [id] = ids.as_slice() else {
        panic!("killed at {held:?}, one stale lock is left: {ids:?}");
    };
    refused_then_unlocked(&stack, &proxy, "destroy", id);

    let converged = stack.run(&["destroy", "--auto-approve"]);
    assert_exit(&converged, 0);
    assert!(
        stdout(&converged).contains("Destroy complete!"),
        "{}",
        stdout(&converged)
    );
    assert_nothing_left(&stack);
    // And the environment can be built again from what is left.
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}

/// Nothing of the environment is left in its account but the secret scheduled for deletion.
fn assert_nothing_left(stack: &Stack) {
    let names = stack.names("local");
    stack.block_on(async {
        let inventory = stack.inventory().await;
        // The secret is scheduled for deletion, checked below.
        let secrets = inventory.secrets.clone();
        assert_eq!(
            inventory,
            Inventory {
                secrets,
                ..Inventory::default()
            }
        );
        let secret = stack
            .secrets()
            .describe_secret()
            .secret_id(names.app_secret())
            .send()
            .await
            .expect("the secret, scheduled for deletion");
        assert!(secret.deleted_date().is_some(), "{secret:?}");
    });
}

/// One test per kill point of `destroy`, each before the lock table is gone: each leaves the lock.
macro_rules! destroy_kill_points {
    ($($(#[doc = $doc:literal])* $name:ident: $hold:expr;)*) => {
        $(
            $(#[doc = $doc])*
            #[test]
            fn $name() {
                destroy_killed_at($hold);
            }
        )*
    };
}

destroy_kill_points! {
    /// The lock is taken, the CodeBuild project (which needs its role) not yet deleted.
    destroy_killed_deleting_the_project_converges: Hold::operation("codebuild", "DeleteProject");
    /// A role's policies are gone, the role itself is not.
    destroy_killed_deleting_a_role_converges: Hold::operation("iam", "DeleteRole");
    /// The state bucket's DeleteBucket held, the other deletions under way.
    destroy_killed_deleting_the_state_bucket_converges: Hold::operation("s3", "DELETE bucket");
    /// Last: everything else deleted, the lock table, which holds the lock, about to be.
    destroy_killed_deleting_the_lock_table_converges: Hold::operation("dynamodb", "DeleteTable");
}

/// One test per kill point: `name: hold, whether the kill leaves a lock`.
macro_rules! kill_points {
    ($($(#[doc = $doc:literal])* $name:ident: $hold:expr, $leaves_lock:expr;)*) => {
        $(
            $(#[doc = $doc])*
            #[test]
            fn $name() {
                killed_at($hold, $leaves_lock);
            }
        )*
    };
}

kill_points! {
    /// At the identity check, before anything exists: nothing to unlock.
    killed_before_the_lock_converges: Hold::operation("sts", "GetCallerIdentity"), false;
    /// The lock table exists (created before the lock), the lock's PutItem in it never arrived
    /// (the first PutItem, before CreateTable, found no table).
    killed_as_it_takes_the_lock_converges:
        Hold::operation("dynamodb", "PutItem").after("dynamodb", "CreateTable"), false;
    /// The lock is taken, nothing else is created yet.
    killed_right_after_taking_the_lock_converges:
        Hold::next_request().after_occurrence("dynamodb", "PutItem", 2), true;
    /// The state bucket's CreateBucket held, the other creations under way.
    killed_creating_the_state_bucket_converges: Hold::operation("s3", "PUT bucket"), true;
    /// The state bucket exists, untagged; nothing reaches S3 from its tagging on.
    killed_before_the_state_bucket_is_tagged_converges:
        Hold::operation("s3", "PUT ?tagging").and_everything_after(), true;
    /// The ECR repository exists without its lifecycle policy.
    killed_before_the_repository_lifecycle_policy_converges:
        Hold::operation("ecr", "PutLifecyclePolicy"), true;
    /// The first role's CreateRole held, what needs no role under way.
    killed_creating_a_role_converges: Hold::operation("iam", "CreateRole"), true;
    /// A role exists without its inline policy.
    killed_before_a_role_policy_converges: Hold::operation("iam", "PutRolePolicy"), true;
    /// Both roles done, the CodeBuild project's CreateProject held.
    killed_creating_the_project_converges: Hold::operation("codebuild", "CreateProject"), true;
    /// Everything created, the lock's release (DeleteItem) held.
    killed_releasing_the_lock_converges: Hold::operation("dynamodb", "DeleteItem"), true;
}

/// The kill points fall where the tests say: one apply from nothing sends the identity check,
/// finds no lock table where the lock goes, creates the table, takes the lock, then creates each
/// resource after what it needs, then releases the lock.
#[test]
fn the_kill_points_are_in_dependency_order_in_an_apply() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let requests = proxy.requests();
    let sequence = operations(&requests);
    let first = |service: &str, operation: &str| {
        requests
            .iter()
            .position(|request| request.service == service && request.operation == operation)
            .unwrap_or_else(|| panic!("no {service} {operation} in:\n{sequence}"))
    };
    let last = |service: &str, operation: &str| {
        requests
            .iter()
            .rposition(|request| request.service == service && request.operation == operation)
            .unwrap_or_else(|| panic!("no {service} {operation} in:\n{sequence}"))
    };
    let identity = first("sts", "GetCallerIdentity");
    let no_table = first("dynamodb", "PutItem");
    let table = first("dynamodb", "CreateTable");
    let lock = last("dynamodb", "PutItem");
    let creations = [
        first("s3", "PUT bucket"),
        first("s3", "PUT ?tagging"),
        first("secretsmanager", "CreateSecret"),
        first("ecr", "CreateRepository"),
        first("iam", "CreateOpenIDConnectProvider"),
        first("iam", "CreateRole"),
        first("codebuild", "CreateProject"),
    ];
    let release = first("dynamodb", "DeleteItem");
    assert!(
        identity < no_table && no_table < table && table < lock,
        "{sequence}"
    );
    assert!(
        creations.iter().all(|&at| lock < at && at < release),
        "{sequence}"
    );
    // What needs another resource comes after it: the CI role after the OIDC provider its trust
    // names, a role's policy after a role, the project after a role and its policy.
    assert!(
        last("iam", "CreateRole") > first("iam", "CreateOpenIDConnectProvider"),
        "{sequence}"
    );
    assert!(
        first("iam", "PutRolePolicy") > first("iam", "CreateRole"),
        "{sequence}"
    );
    assert!(
        first("codebuild", "CreateProject") > first("iam", "PutRolePolicy"),
        "{sequence}"
    );
    assert_eq!(release, requests.len() - 1, "{sequence}");
    // The lock is the only item written after the table exists; only its release is a DeleteItem.
    assert_eq!(
        requests
            .iter()
            .filter(|request| request.operation == "PutItem")
            .count(),
        2,
        "{sequence}"
    );
    assert_eq!(release, last("dynamodb", "DeleteItem"), "{sequence}");
}

/// `destroy` deletes the lock table after everything else: the lock it runs under lasts until
/// the end, so a kill anywhere before leaves a lock the next run reports.
#[test]
fn the_lock_table_is_the_last_deletion_of_a_destroy() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    proxy.clear();
    assert_exit(&stack.run(&["destroy", "--auto-approve"]), 0);
    let requests = proxy.requests();
    let sequence = operations(&requests);
    let deletions: Vec<&Request> = requests
        .iter()
        .filter(|request| {
            request.operation.starts_with("Delete") && request.operation != "DeleteItem"
                || request.operation == "DELETE bucket"
        })
        .collect();
    assert!(deletions.len() >= 8, "{sequence}");
    let last = deletions.last().expect("a deletion");
    assert_eq!(
        (last.service.as_str(), last.operation.as_str()),
        ("dynamodb", "DeleteTable"),
        "{sequence}"
    );
}
