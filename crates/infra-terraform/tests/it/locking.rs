//! The state lock of `apply` and `destroy`: Terraform's format, held for the whole run, released
//! on success and on Ctrl-C, waited for with `--lock-timeout`, listed and force-unlocked.

use std::process::Output;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;

use shopstack_testkit::{Behaviour, Hold, Lift, Proxy};

use crate::lock_support::{
    PromptingApply, drift, infra_lock_id, lock_item, put_foreign_lock, wait_for,
};
use crate::support::assert_each_resource_once;
use crate::support::{Stack, assert_exit};
use crate::{stderr, stdout};

/// The locks `locks --json` reports.
fn listed(stack: &Stack) -> Vec<serde_json::Value> {
    let output = stack.run(&["locks", "--json"]);
    assert_exit(&output, 0);
    serde_json::from_slice(&output.stdout).expect("locks --json is a JSON array")
}

#[test]
fn apply_at_its_prompt_holds_a_terraform_lock_and_ctrl_c_releases_it() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    drift(&stack);
    let apply = PromptingApply::start(&stack);

    let lock_id = infra_lock_id(&stack);
    let info = lock_item(&stack, &lock_id).expect("the lock item");
    let id = info["ID"].as_str().expect("ID");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "ID {id} is a UUID");
    assert_eq!(info["Operation"], "OperationTypeApply");
    assert_eq!(info["Info"], "infra-terraform apply");
    assert_eq!(info["Path"], lock_id.as_str());
    assert!(info["Who"].as_str().is_some_and(|who| who.contains('@')));
    assert!(
        info["Version"]
            .as_str()
            .is_some_and(|version| version.starts_with("infra-terraform "))
    );
    let created = info["Created"].as_str().expect("Created");
    assert!(humantime::parse_rfc3339(created).is_ok() && created.ends_with('Z'));

    apply.signal("INT");
    let output = apply.finish();
    assert_eq!(output.status.code(), Some(130), "{}", stdout(&output));
    assert!(stdout(&output).contains("Interrupted: the state lock was released."));
    assert_eq!(lock_item(&stack, &lock_id), None);
}

#[test]
fn a_held_lock_fails_apply_at_once_naming_its_holder() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let lock_id = infra_lock_id(&stack);
    put_foreign_lock(&stack, &lock_id, "4f1c0d5e", "alice@laptop");

    let output = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&output, 1);
    let error = stderr(&output);
    assert!(error.contains(&format!("the state lock {lock_id} is held by alice@laptop (OperationTypeApply) since 2026-01-02T03:04:05.123456789Z, lock ID 4f1c0d5e")), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");

    let output = stack.run(&["destroy", "--auto-approve", "--lock-timeout", "1s"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("gave up after 1s: the state lock"),
        "{}",
        stderr(&output)
    );
    // The holder's lock is untouched.
    assert_eq!(
        lock_item(&stack, &lock_id).expect("still held")["Who"],
        "alice@laptop"
    );
}

#[test]
fn lock_timeout_waits_until_the_lock_is_released() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    drift(&stack);
    let lock_id = infra_lock_id(&stack);
    put_foreign_lock(&stack, &lock_id, "7d2e", "bob@ci");

    let waiting = stack
        .command(&["apply", "--auto-approve", "--lock-timeout", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    std::thread::sleep(Duration::from_secs(2));
    stack
        .block_on(
            stack
                .dynamodb()
                .delete_item()
                .table_name(stack.names("local").lock_table())
                .key("LockID", AttributeValue::S(lock_id.clone()))
                .send(),
        )
        .expect("release the foreign lock");
    let output = waiting.wait_with_output().expect("wait for apply");
    assert_exit(&output, 0);
    assert!(stderr(&output).contains("Waiting up to 1m for the state lock"));
    assert!(stdout(&output).contains("Apply complete! Resources: 0 added, 1 changed"));
    assert_eq!(lock_item(&stack, &lock_id), None);
}

#[test]
fn a_killed_holder_leaves_a_lock_that_locks_shows_and_force_unlock_clears() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    drift(&stack);
    let apply = PromptingApply::start(&stack);
    apply.signal("KILL");
    let _ = apply.finish();

    let lock_id = infra_lock_id(&stack);
    let locks = listed(&stack);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["backend"], "dynamodb");
    assert_eq!(locks[0]["location"], lock_id.as_str());
    let id = locks[0]["info"]["ID"].as_str().expect("ID").to_owned();
    let table = stack.run(&["locks"]);
    assert!(stdout(&table).contains(&id) && stdout(&table).contains("OperationTypeApply"));

    let refused = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&refused, 1);
    assert!(stderr(&refused).contains(&format!("lock ID {id}")));

    let unasked = stack.run(&["force-unlock", &id]);
    assert_exit(&unasked, 1);
    assert!(stderr(&unasked).contains("pass --force to force-unlock"));
    assert!(lock_item(&stack, &lock_id).is_some());

    let unlocked = stack.run(&["force-unlock", &id, "--force"]);
    assert_exit(&unlocked, 0);
    assert!(stdout(&unlocked).contains(&format!("Removed lock {id}")));
    assert_eq!(lock_item(&stack, &lock_id), None);

    let again = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&again, 0);
    assert!(stdout(&again).contains("Apply complete! Resources: 0 added, 1 changed"));
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}

#[test]
fn force_unlock_of_an_unknown_id_fails() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let output = stack.run(&["force-unlock", "no-such-id", "--force"]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output).trim(),
        "error: no lock with ID no-such-id in the lock table or the state bucket (see `infra-terraform locks`)"
    );
}

#[test]
fn locks_lists_terraform_items_and_lockfiles_but_not_digests() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let names = stack.names("local");
    let state = format!("{}/{}", names.state_bucket(), names.state_key());
    put_foreign_lock(&stack, &state, "item-1", "carol@ci");
    stack
        .block_on(
            stack
                .dynamodb()
                .put_item()
                .table_name(names.lock_table())
                .item("LockID", AttributeValue::S(format!("{state}-md5")))
                .item(
                    "Digest",
                    AttributeValue::S("4e8df2119653c1446a588f05bcb656cd".to_owned()),
                )
                .send(),
        )
        .expect("digest item");
    let lockfile = format!("{}.tflock", names.state_key());
    let body = serde_json::json!({"ID": "file-2", "Operation": "OperationTypePlan", "Info": "", "Who": "dave@laptop", "Version": "1.11.4", "Created": "2026-01-02T03:04:05Z", "Path": state});
    stack
        .block_on(
            stack
                .s3()
                .put_object()
                .bucket(names.state_bucket())
                .key(&lockfile)
                .body(ByteStream::from(body.to_string().into_bytes()))
                .send(),
        )
        .expect("lockfile");

    let locks = listed(&stack);
    let summary: Vec<(String, String, String)> = locks
        .iter()
        .map(|lock| {
            (
                lock["backend"].as_str().unwrap_or_default().to_owned(),
                lock["location"].as_str().unwrap_or_default().to_owned(),
                lock["info"]["Who"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("s3".to_owned(), lockfile.clone(), "dave@laptop".to_owned()),
            ("dynamodb".to_owned(), state.clone(), "carol@ci".to_owned()),
        ]
    );

    assert_exit(&stack.run(&["force-unlock", "file-2", "--force"]), 0);
    let gone = stack.block_on(
        stack
            .s3()
            .head_object()
            .bucket(names.state_bucket())
            .key(&lockfile)
            .send(),
    );
    assert!(gone.is_err(), "the lockfile is deleted");
    assert_eq!(listed(&stack).len(), 1);
}

#[test]
fn eight_concurrent_applies_on_a_fresh_environment_create_everything_once() {
    let stack = Stack::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            stack
                .command(&["apply", "--auto-approve", "--lock-timeout", "120s"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start apply")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("wait for apply"))
        .collect();
    for output in &outputs {
        assert_exit(output, 0);
    }
    // Under the lock, each resource was created by exactly one of them (the lock table, created
    // before the lock, is reported by whichever saw its CreateTable succeed).
    let reports: String = outputs.iter().map(stdout).collect();
    for address in [
        "s3_bucket.state",
        "secretsmanager_secret.app_config",
        "ecr_repository.app",
        "iam_openid_connect_provider.github",
        "iam_role.codebuild",
        "iam_role.github_actions",
        "iam_role.github_infra",
        "codebuild_project.image_build",
    ] {
        let creations = reports
            .lines()
            .filter(|line| {
                line.starts_with(&format!("{address}  ")) && line.contains(": created in")
            })
            .count();
        assert_eq!(creations, 1, "{address}:\n{reports}");
    }
    assert!(
        reports.contains("dynamodb_table.lock  ") && reports.contains("(first: it holds the lock)")
    );
    let names = stack.names("local");
    let tables = stack
        .block_on(stack.dynamodb().list_tables().send())
        .expect("ListTables");
    assert_eq!(
        tables
            .table_names()
            .iter()
            .filter(|name| **name == names.lock_table())
            .count(),
        1
    );
    let secrets = stack
        .block_on(stack.secrets().list_secrets().send())
        .expect("ListSecrets");
    assert_eq!(
        secrets
            .secret_list()
            .iter()
            .filter(|secret| secret.name() == Some(names.app_secret().as_str()))
            .count(),
        1
    );
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    assert_eq!(listed(&stack), Vec::<serde_json::Value>::new());
}

#[test]
fn without_lock_timeout_the_applies_that_lose_the_race_fail_naming_the_holder() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    drift(&stack);
    let children: Vec<_> = (0..8)
        .map(|_| {
            stack
                .command(&["apply", "--auto-approve"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start apply")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("wait for apply"))
        .collect();
    let (won, lost): (Vec<&Output>, Vec<&Output>) = outputs
        .iter()
        .partition(|output| output.status.code() == Some(0));
    assert!(!won.is_empty(), "one apply wins the lock");
    assert!(
        !lost.is_empty(),
        "eight applies at once contend for the lock"
    );
    for output in lost {
        assert_exit(output, 1);
        let error = stderr(output);
        assert!(
            error.contains("is held by")
                && error.contains("(OperationTypeApply, infra-terraform apply) since"),
            "{error}"
        );
    }
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    assert_eq!(listed(&stack), Vec::<serde_json::Value>::new());
}

/// A first apply (with `flags`) started behind a proxy holding its lock request, the one after
/// its CreateTable: once that is held.
fn creator_held(flags: &[&str]) -> (Proxy, Stack, std::process::Child) {
    let (proxy, stack) = Stack::proxied_with(Behaviour {
        hold: Some(Hold::operation("dynamodb", "PutItem").after("dynamodb", "CreateTable")),
        ..Behaviour::default()
    });
    let creator = stack
        .command(&[&["apply", "--auto-approve"], flags].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start apply");
    proxy
        .wait_for_held(Duration::from_secs(60))
        .expect("the creator's lock request, held");
    (proxy, stack, creator)
}

/// The first apply whose lock is held first by a concurrent one (which found the table made and
/// locked in it) does not carry out the plan it showed: it waits, plans again under the lock, and
/// finds everything done.
#[test]
fn a_first_apply_whose_lock_was_held_first_plans_again() {
    let (proxy, stack, creator) = creator_held(&["--lock-timeout", "120s"]);
    // The other apply locks in the table made, and waits at its prompt holding the lock.
    let other = PromptingApply::start(&stack);
    proxy.clear();
    proxy.lift_hold(Lift::Forward);
    // The creator's lock request meets the lock and reads its holder.
    wait_for(
        Duration::from_secs(60),
        "the creator reading the holder",
        || {
            proxy
                .requests()
                .iter()
                .any(|request| request.operation == "GetItem")
        },
    );
    let other = other.answer("yes");
    assert_eq!(other.status.code(), Some(0), "{}", stdout(&other));
    let creator = creator.wait_with_output().expect("wait for apply");
    assert_exit(&creator, 0);
    let report = stdout(&creator);
    assert!(
        report.contains("(a concurrent apply held the lock first: planning again)"),
        "{report}"
    );
    assert!(
        report.contains("Apply complete! Resources: 0 added, 0 changed, 0 destroyed."),
        "{report}"
    );
    assert!(
        stdout(&other).contains("Apply complete! Resources: 8 added"),
        "{}",
        stdout(&other)
    );
    assert_each_resource_once(&stack);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}

/// Should a concurrent first apply run whole between the table turning ACTIVE and the creator's
/// first lock request, the creator's plan meets every resource made: nothing is made twice and
/// nothing is left to change.
#[test]
fn a_first_apply_outrun_by_a_whole_concurrent_apply_makes_nothing_twice() {
    let (proxy, stack, creator) = creator_held(&[]);
    let other = stack.run(&["apply", "--auto-approve"]);
    assert_exit(&other, 0);
    assert!(
        stdout(&other).contains("s3_bucket.state  "),
        "{}",
        stdout(&other)
    );
    proxy.lift_hold(Lift::Forward);
    let creator = creator.wait_with_output().expect("wait for apply");
    assert_exit(&creator, 0);
    assert_each_resource_once(&stack);
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    assert_eq!(listed(&stack), Vec::<serde_json::Value>::new());
}
