//! Interoperability with the real `terraform`: the backend `backend-config` writes, locks cleared
//! by either tool, and `export-terraform` imported by Terraform without a difference.

use std::time::Duration;

use crate::lock_support::{PromptingApply, Terraform, Watched, drift, infra_lock_id, lock_item};
use crate::support::{Stack, assert_exit};
use crate::{stderr, stdout};

/// `terraform init` (no colour, no questions) and its success.
fn init(terraform: &Terraform, stack: &Stack, dir: &std::path::Path) {
    let output = terraform.run(stack, dir, &["init", "-input=false", "-no-color"]);
    assert_exit(&output, 0);
}

#[test]
fn terraform_uses_the_backend_and_either_tool_clears_the_others_lock() {
    let Some(terraform) = Terraform::find() else {
        return;
    };
    let stack = Stack::new();
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let written = stack.run(&["backend-config"]);
    assert_exit(&written, 0);
    let dir = stack.project.dir().join("envs/local");
    let backend = std::fs::read_to_string(dir.join("backend.tf")).expect("backend.tf");
    assert!(backend.contains(&format!("dynamodb_table = \"{}\"", names.lock_table())));
    assert!(backend.contains("use_path_style              = true"));

    // A plain init and apply store the state under the configured key and leave no lock.
    let config = |input: &str| {
        std::fs::write(
            dir.join("main.tf"),
            format!("resource \"terraform_data\" \"marker\" {{\n  input = \"{input}\"\n}}\n"),
        )
        .expect("main.tf");
    };
    config("first");
    init(&terraform, &stack, &dir);
    let applied = terraform.run(
        &stack,
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    assert_exit(&applied, 0);
    assert!(
        stdout(&applied).contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")
    );
    let state = stack.block_on(stack.terraform_state());
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(
        state["resources"][0]["instances"][0]["attributes"]["input"]["value"],
        "first"
    );
    let state_lock = format!("{}/{}", names.state_bucket(), names.state_key());
    assert_eq!(lock_item(&stack, &state_lock), None);
    let listed = stack.run(&["locks", "--json"]);
    assert_eq!(
        stdout(&listed).trim(),
        "[]",
        "Terraform's digest item is no lock"
    );

    // Terraform waiting at its prompt holds its lock: `locks` shows it, `force-unlock` clears it.
    config("second");
    let mut held = Watched::spawn(&mut terraform.command(
        &stack,
        &dir,
        &["apply", "-input=true", "-no-color"],
    ));
    held.wait_for_output("Enter a value:", Duration::from_secs(120));
    let locks: Vec<serde_json::Value> =
        serde_json::from_str(&stdout(&stack.run(&["locks", "--json"]))).expect("locks JSON");
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["location"], state_lock.as_str());
    assert_eq!(locks[0]["info"]["Operation"], "OperationTypeApply");
    assert!(
        locks[0]["info"]["Who"]
            .as_str()
            .is_some_and(|who| who.contains('@'))
    );
    let id = locks[0]["info"]["ID"].as_str().expect("ID").to_owned();
    let unlocked = stack.run(&["force-unlock", &id, "--force"]);
    assert_exit(&unlocked, 0);
    assert_eq!(lock_item(&stack, &state_lock), None);
    held.answer("no\n");
    drop(held);

    // Conversely, `terraform force-unlock` clears the lock infra-terraform holds.
    let infra = stack.project.dir().join("infra-lock");
    std::fs::create_dir_all(&infra).expect("directory");
    std::fs::write(
        infra.join("backend.tf"),
        backend.replace(
            &format!("key            = \"{}\"", names.state_key()),
            &format!("key            = \"{}\"", names.infra_lock_path()),
        ),
    )
    .expect("backend.tf");
    init(&terraform, &stack, &infra);
    drift(&stack);
    let apply = PromptingApply::start(&stack);
    let lock_id = infra_lock_id(&stack);
    let id = lock_item(&stack, &lock_id).expect("held")["ID"]
        .as_str()
        .expect("ID")
        .to_owned();
    let cleared = terraform.run(
        &stack,
        &infra,
        &["force-unlock", "-force", "-no-color", &id],
    );
    assert_exit(&cleared, 0);
    assert!(stdout(&cleared).contains("Terraform state has been successfully unlocked!"));
    assert_eq!(lock_item(&stack, &lock_id), None);
    apply.signal("TERM");
    let output = apply.finish();
    assert_eq!(output.status.code(), Some(143), "{}", stdout(&output));
}

#[test]
fn terraform_imports_every_exported_resource_without_a_difference() {
    imports_without_a_difference(None);
}

#[test]
fn terraform_imports_an_environment_with_its_own_key_without_a_difference() {
    imports_without_a_difference(Some("1234abcd-12ab-34cd-56ef-1234567890ab"));
}

/// Applies an environment (with a KMS key of `key_id`, when given), exports it, and has
/// Terraform import it: nothing to add or change, then nothing to do.
fn imports_without_a_difference(key_id: Option<&str>) {
    let Some(terraform) = Terraform::find() else {
        return;
    };
    let stack = Stack::new();
    if let Some(id) = key_id {
        stack.use_kms_key(&stack.kms_key_arn(id));
    }
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let exported = stack.run(&["export-terraform", "--out", "exported"]);
    assert_exit(&exported, 0);
    // State bucket (7, its TLS-only policy included), table, secret, ECR repository and its
    // lifecycle policy, OIDC provider, three roles with their inline policies, CodeBuild project.
    assert!(
        stdout(&exported).contains("with 19 resources to import"),
        "{}",
        stdout(&exported)
    );
    let dir = stack.project.dir().join("exported");
    init(&terraform, &stack, &dir);

    let plan = terraform.run(&stack, &dir, &["plan", "-input=false", "-no-color"]);
    assert_exit(&plan, 0);
    assert!(
        stdout(&plan).contains("Plan: 19 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}{}",
        stdout(&plan),
        stderr(&plan)
    );
    let imported = terraform.run(
        &stack,
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    assert_exit(&imported, 0);
    assert!(
        stdout(&imported)
            .contains("Apply complete! Resources: 19 imported, 0 added, 0 changed, 0 destroyed.")
    );
    let again = terraform.run(
        &stack,
        &dir,
        &["plan", "-detailed-exitcode", "-input=false", "-no-color"],
    );
    assert_exit(&again, 0);
}
