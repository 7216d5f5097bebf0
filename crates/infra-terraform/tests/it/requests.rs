//! The requests a command makes, counted by a proxy in front of the emulator.

use shopstack_testkit::Proxy;

use crate::support::{Stack, assert_exit};

/// The budget of a no-op plan of a whole environment.
const NO_OP_PLAN_BUDGET: usize = 25;

#[test]
fn a_no_op_plan_reads_each_thing_once_within_budget_and_writes_nothing() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    proxy.clear();

    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    let requests = proxy.requests();
    let mut seen: Vec<String> = requests
        .iter()
        .map(|request| format!("{} {}", request.service, request.operation))
        .collect();
    seen.sort();
    assert!(
        requests.len() <= NO_OP_PLAN_BUDGET,
        "{} requests: {seen:#?}",
        requests.len()
    );
    let reads = ["Get", "Describe", "List", "BatchGet", "GET ", "HEAD "];
    for request in &requests {
        assert!(
            reads
                .iter()
                .any(|prefix| request.operation.starts_with(prefix)),
            "a plan must not write: {} {}",
            request.service,
            request.operation
        );
    }
    // Exactly one identity check, and every read of one resource made once: the same operation
    // repeats only across the three roles.
    assert_eq!(
        seen.iter()
            .filter(|line| *line == "sts GetCallerIdentity")
            .count(),
        1
    );
    let mut repeated: Vec<&String> = seen
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| &pair[0])
        .collect();
    repeated.dedup();
    assert_eq!(repeated, ["iam GetRole", "iam GetRolePolicy"]);
    // 23 with the state bucket's TLS-only policy, read over TLS.
    assert_eq!(requests.len(), 23, "{seen:#?}");
}

/// Reads made, by `service operation`, counted.
fn reads(proxy: &Proxy) -> std::collections::BTreeMap<String, usize> {
    let reads = ["Get", "Describe", "List", "BatchGet", "GET ", "HEAD "];
    let mut counted = std::collections::BTreeMap::new();
    for request in proxy.requests() {
        if reads
            .iter()
            .any(|prefix| request.operation.starts_with(prefix))
        {
            *counted
                .entry(format!("{} {}", request.service, request.operation))
                .or_default() += 1;
        }
    }
    counted
}

#[test]
fn an_apply_from_nothing_reads_each_resource_once() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let first = reads(&proxy);
    proxy.clear();
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    let plan = reads(&proxy);
    // The apply's plan is the plan it carries out: no resource is read again under the lock. Only
    // the state bucket, whose settings settle after a write, is read back once written.
    let again: Vec<String> = first
        .iter()
        .filter(|(operation, _)| !operation.starts_with("s3 "))
        .filter(|(operation, count)| **count > plan.get(*operation).copied().unwrap_or(1))
        .map(|(operation, count)| format!("{operation} ×{count}"))
        .collect();
    assert!(
        again.is_empty(),
        "read more than a no-op plan reads: {again:?}\napply: {first:#?}\nplan: {plan:#?}"
    );
    assert_eq!(first.get("dynamodb DescribeTable"), Some(&1), "{first:#?}");
    assert_eq!(first.get("sts GetCallerIdentity"), Some(&1), "{first:#?}");
}

#[test]
fn export_terraform_reads_what_a_no_op_plan_reads_and_nothing_else() {
    let (proxy, stack) = Stack::proxied();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    proxy.clear();
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
    let plan = reads(&proxy);
    proxy.clear();

    assert_exit(&stack.run(&["export-terraform", "--out", "exported"]), 0);
    let export = reads(&proxy);
    // Every request a read, and exactly the plan's: each resource gives its Terraform form from
    // what its own read observed.
    assert_eq!(proxy.requests().len(), export.values().sum::<usize>());
    assert_eq!(export, plan);
    assert!(
        std::fs::read_to_string(stack.project.dir().join("exported/main.tf"))
            .expect("main.tf")
            .contains("resource \"aws_codebuild_project\" \"image_build\""),
    );
}
