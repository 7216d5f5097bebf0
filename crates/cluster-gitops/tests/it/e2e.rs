//! End to end on a real Kind cluster: run with `cargo xtask e2e` where docker and kind are present.

use std::process::Command;

use shopstack_testkit::unique_project_name;

/// A working directory for a real cluster of a unique name, its host ports moved off the usual
/// ones so that a developer's own cluster keeps running.
fn real_workspace() -> (tempfile::TempDir, String) {
    let name = unique_project_name();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("shopstack.toml"),
        format!("[project]\nname = \"{name}\"\n\n[github]\nrepositories = [\"acme/infra\"]\n"),
    )
    .expect("write shopstack.toml");
    let config = include_str!("../../../../kind-config.yaml")
        .replace("name: shopstack", &format!("name: {name}"))
        .replace("hostPort: 8080", "hostPort: 18080")
        .replace("hostPort: 3000", "hostPort: 13000");
    std::fs::write(dir.path().join("kind-config.yaml"), config).expect("write kind-config.yaml");
    (dir, name)
}

fn cluster_gitops(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cluster-gitops"))
        .current_dir(dir)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run cluster-gitops {args:?}: {error}"))
}

#[test]
#[ignore = "needs docker + kind"]
fn create_validate_delete_on_a_real_kind_cluster() {
    let (dir, name) = real_workspace();
    let created = cluster_gitops(dir.path(), &["create", "--wait", "5m"]);
    let validated = cluster_gitops(dir.path(), &["validate", "--json"]);
    let again = cluster_gitops(dir.path(), &["create"]);
    let deleted = cluster_gitops(dir.path(), &["delete"]);
    assert_eq!(
        created.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&validated.stdout).expect("JSON");
    assert_eq!(report["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["problems"], serde_json::json!([]));
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged and ready"));
    assert_eq!(deleted.status.code(), Some(0));
    let status = cluster_gitops(dir.path(), &["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains(&format!("\"{name}\": absent")));
}

#[test]
#[ignore = "needs docker + kind"]
fn repeat_test_on_a_real_kind_cluster() {
    let (dir, _name) = real_workspace();
    let output = cluster_gitops(dir.path(), &["repeat-test", "--runs", "2"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = std::fs::read_to_string(dir.path().join("repeat.log")).expect("repeat.log");
    assert_eq!(log.lines().count(), 2);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("passed 2/2 runs"));
}
