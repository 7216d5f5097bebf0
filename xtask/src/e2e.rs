//! `cargo xtask e2e` and `cargo xtask repeat-test`: the tests and checks that need docker and kind.

use std::process::ExitCode;

use anyhow::bail;
use xshell::{Shell, cmd};

use crate::doctor::{self, TOOLS};
use crate::project::WithoutCargoRunVariables;

/// The tools a real Kind cluster needs, by their name in `doctor`.
const NEEDED: [&str; 3] = ["docker", "docker engine", "kind"];

/// Fails naming every missing tool, and how to get it, unless docker, its engine and kind work.
fn require_cluster_tools() -> anyhow::Result<()> {
    let missing: Vec<String> = TOOLS
        .iter()
        .filter(|tool| NEEDED.contains(&tool.name))
        .filter_map(|tool| {
            doctor::probe(tool.probe)
                .err()
                .map(|reason| format!("{} ({reason}): {}", tool.name, tool.install))
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "a real Kind cluster needs docker, a running docker engine and kind; missing: {}",
            missing.join("; ")
        );
    }
    Ok(())
}

/// Runs the ignored end-to-end tests (`#[ignore = "needs docker + kind"]`) of the workspace.
pub fn run(sh: &Shell, cargo_args: &[String]) -> anyhow::Result<ExitCode> {
    require_cluster_tools()?;
    let result = cmd!(sh, "cargo test --workspace {cargo_args...} -- --ignored")
        .without_cargo_run_variables()
        .env_remove("SHOPSTACK_ENV")
        .run();
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: end-to-end tests failed: {error}");
            ExitCode::FAILURE
        }
    })
}

/// `cluster-gitops repeat-test`, logging to `repeat.log` at the workspace root.
pub fn repeat_test(sh: &Shell, runs: u32, keep_going: bool) -> anyhow::Result<ExitCode> {
    require_cluster_tools()?;
    let runs = runs.to_string();
    let keep_going: &[&str] = if keep_going { &["--keep-going"] } else { &[] };
    let result = cmd!(
        sh,
        "cargo run --quiet --package cluster-gitops -- repeat-test --runs {runs} --log repeat.log {keep_going...}"
    )
    .without_cargo_run_variables()
    .run();
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
