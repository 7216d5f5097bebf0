//! `repeat-test`: N × (create → validate → delete) of real clusters (kind stood in), the JSON
//! log, the summary, the exit code.

use crate::{Workspace, stderr, stdout, tools};

/// kubeadm fails on the second `kind create cluster` only.
const SECOND_CREATE_FAILS: &str = r#"n=0
[ -f "$STATE/creates" ] && read -r n < "$STATE/creates"
n=$((n + 1))
printf '%s\n' "$n" > "$STATE/creates"
if [ "$n" = 2 ]; then
  printf '%s\n' "ERROR: failed to create cluster: failed to init node with kubeadm: command \"docker exec --privileged $4-control-plane kubeadm init\" failed with error: exit status 1" >&2
  exit 1
fi"#;

#[tokio::test]
async fn one_failed_run_out_of_three_is_logged_summarised_and_exits_1() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, SECOND_CREATE_FAILS) else {
        return;
    };
    let output = workspace
        .run(&["repeat-test", "--runs", "3", "--keep-going"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let log = std::fs::read_to_string(workspace.path().join("repeat.log")).expect("repeat.log");
    let runs: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert_eq!(runs.len(), 3);
    for (index, (run, line)) in runs.iter().zip(log.lines()).enumerate() {
        let mut keys: Vec<&str> = run
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "create_seconds",
                "delete_seconds",
                "error",
                "passed",
                "run",
                "started_at",
                "validate_seconds"
            ]
        );
        assert!(
            line.starts_with(&format!("{{\"run\":{},\"started_at\":", index + 1)),
            "{line}"
        );
        assert_eq!(run["run"], index + 1);
        assert!(run["create_seconds"].as_f64().is_some());
        assert!(run["delete_seconds"].as_f64().is_some());
    }
    assert_eq!(
        runs.iter()
            .map(|run| run["passed"].clone())
            .collect::<Vec<_>>(),
        [true, false, true]
    );
    assert!(runs[1]["validate_seconds"].is_null());
    let error = runs[1]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(
            "create: create kind cluster \"shop\" (node logs exported to kind-logs/shop-"
        ),
        "{error}"
    );
    assert!(
        error.contains("failed to init node with kubeadm"),
        "{error}"
    );
    assert!(runs[0]["error"].is_null());

    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "passed 2/3 runs");
    assert!(lines[1].starts_with("create    p50 "), "{out}");
    assert!(lines[1].ends_with("(3 runs)"), "{out}");
    assert!(
        lines[2].starts_with("validate  p50 ") && lines[2].ends_with("(2 runs)"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("delete    p50 ") && lines[3].ends_with("(3 runs)"),
        "{out}"
    );

    // Every run deleted its cluster, the failed one included.
    let kind_calls = workspace.tools.calls_of("kind");
    let creates = kind_calls
        .iter()
        .filter(|call| call[..2] == ["create", "cluster"])
        .count();
    let deletes = kind_calls
        .iter()
        .filter(|call| call[..2] == ["delete", "cluster"])
        .count();
    assert_eq!((creates, deletes), (3, 3));
    let left = std::fs::read_dir(workspace.tools.state().join("clusters"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "a cluster outlived its run");
}

#[tokio::test]
async fn without_keep_going_the_test_stops_at_the_first_failed_run() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, SECOND_CREATE_FAILS) else {
        return;
    };
    let output = workspace
        .run(&["repeat-test", "--runs", "3", "--log", "runs.jsonl"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let log = std::fs::read_to_string(workspace.path().join("runs.jsonl")).expect("log");
    assert_eq!(log.lines().count(), 2);
    assert!(stdout(&output).starts_with("passed 1/2 runs\n"));
    assert!(stderr(&output).contains("stopped after run 2 failed"));
}

#[tokio::test]
async fn all_runs_passing_exits_0_and_appends_to_an_existing_log() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, "") else {
        return;
    };
    std::fs::write(workspace.path().join("repeat.log"), "{\"run\":1}\n").expect("old log");
    let output = workspace.run(&["repeat-test", "--runs", "2"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = std::fs::read_to_string(workspace.path().join("repeat.log")).expect("log");
    assert_eq!(log.lines().count(), 3);
    assert!(stdout(&output).starts_with("passed 2/2 runs\n"));
}

#[tokio::test]
async fn an_existing_cluster_is_refused_before_the_first_run() {
    // Refused before any run: no cluster is started, so kind's answers are enough.
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", "");
    tools::cluster_exists(&workspace);
    let output = workspace.run(&["repeat-test", "--runs", "2"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: repeat-test: kind cluster \"shop\" already exists and every run deletes it: delete it first (cluster-gitops delete)\n"
    );
    assert_eq!(workspace.tools.calls_of("kind"), [vec!["get", "clusters"]]);
    assert!(!workspace.path().join("repeat.log").exists());
}
