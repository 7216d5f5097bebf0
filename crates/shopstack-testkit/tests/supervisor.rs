//! `shopstack-test-cluster` as the `kind` stand-in runs it: usage errors, a detached cluster the
//! API server answers for, and a `down` that leaves no process behind. Being an integration test
//! of this crate, it also makes `cargo test --workspace` build the binary the other crates'
//! tests start clusters with.

use std::process::{Command, Output};

use shopstack_testkit::cluster::{self, daemons};

const PROGRAM: &str = env!("CARGO_BIN_EXE_shopstack-test-cluster");

fn supervisor(args: &[&str]) -> Output {
    Command::new(PROGRAM)
        .args(args)
        .output()
        .expect("run shopstack-test-cluster")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_command_is_one_usage_line_and_exit_1() {
    let output = supervisor(&["up"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    assert!(
        stderr.starts_with("error: usage: shopstack-test-cluster run")
            && stderr.lines().count() == 1,
        "{stderr:?}"
    );
}

#[test]
fn down_without_a_directory_is_refused() {
    let output = supervisor(&["down"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "error: down needs --dir=DIR\n");
}

#[test]
fn a_detached_cluster_serves_its_api_until_down_stops_every_daemon() {
    if !cluster::available_or_skip() {
        return;
    }
    let dir = cluster::new_cluster_dir().expect("cluster dir");
    let dir_arg = format!("--dir={}", dir.display());
    let output = supervisor(&["run", &dir_arg, "--name=detached", "--detach"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("ready {}\n", dir.display())
    );

    let kubeconfig = dir.join("kubeconfig");
    let mut get = cluster::kubectl_command(&kubeconfig);
    get.args(["--context=kind-detached", "get", "--raw=/readyz"]);
    let ready = get.output().expect("kubectl");
    assert_eq!(
        String::from_utf8_lossy(&ready.stdout),
        "ok",
        "{}",
        stderr(&ready)
    );
    let pids: Vec<(String, u32)> = daemons::recorded(&dir)
        .into_iter()
        .map(|daemon| (daemon.name, daemon.pid))
        .collect();
    let names: Vec<&str> = pids.iter().map(|(name, _)| name.as_str()).collect();
    for daemon in ["etcd", "kube-apiserver", "dockerd-", "kubelet-"] {
        assert!(
            names.iter().any(|name| name.starts_with(daemon)),
            "{daemon} not among {names:?}"
        );
    }
    assert!(pids.iter().all(|(_, pid)| daemons::alive(*pid)), "{pids:?}");

    let down = supervisor(&["down", &dir_arg]);
    assert!(down.status.success(), "{}", stderr(&down));
    let left: Vec<_> = pids
        .iter()
        .filter(|(_, pid)| daemons::alive(*pid))
        .collect();
    assert!(left.is_empty(), "still running after down: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
