//! `cargo xtask bootstrap`: the steps run in order, idempotently, and stop at a missing tool.

use shopstack_testkit::{Account, StandIns, TestProject, emulator_endpoint};

use std::process::{Command, Stdio};

use crate::{binaries, text, xtask};

fn project() -> TestProject {
    TestProject::with_config(&format!(
        "[project]\nname = \"{{project}}\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
        emulator_endpoint()
    ))
    .expect("project")
}

fn summary_row<'a>(output: &'a str, step: &str) -> Option<&'a str> {
    output
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{step}  ")))
}

#[test]
fn bootstrap_without_cluster_and_apps_creates_the_environment_then_changes_nothing() {
    let project = project();
    let account = Account::isolated(&emulator_endpoint()).expect("account");
    let config = project.config();
    let config = config.to_str().expect("utf-8 path");
    let run = || {
        xtask(&[
            "bootstrap",
            "--config",
            config,
            "--env",
            "local",
            "--skip-cluster",
            "--skip-apps",
        ])
        .current_dir(project.dir())
        .envs(account.environment())
        .output()
        .expect("run xtask")
    };
    let first = run();
    let first_text = text(&first);
    assert_eq!(first.status.code(), Some(0), "{first_text}");
    assert!(
        summary_row(&first_text, "infra apply").is_some_and(|row| row.contains(" done ")),
        "{first_text}"
    );
    assert!(
        summary_row(&first_text, "backend config").is_some(),
        "{first_text}"
    );
    assert!(
        summary_row(&first_text, "cluster create").is_none(),
        "{first_text}"
    );
    assert!(
        project.dir().join("envs/local/backend.tf").exists(),
        "{first_text}"
    );
    // Off a terminal: plain lines, a start and an end per step, no terminal control codes.
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("--> infra apply\n    ok  infra apply ("),
        "{stderr}"
    );
    assert!(!stderr.contains('\x1b'), "{stderr}");

    let second = run();
    let second_text = text(&second);
    assert_eq!(second.status.code(), Some(0), "{second_text}");
    assert!(
        summary_row(&second_text, "infra apply").is_some_and(|row| row.contains(" unchanged ")),
        "{second_text}"
    );
    assert!(
        second_text.contains("Bootstrap of local complete: nothing changed."),
        "{second_text}"
    );
}

#[test]
fn a_missing_kind_stops_bootstrap_after_the_infra_steps() {
    let project = project();
    let account = Account::isolated(&emulator_endpoint()).expect("account");
    let tools = StandIns::new().expect("stand-ins");
    // A docker whose engine answers, and no kind anywhere on PATH.
    tools.add("docker", "case \"$1\" in --version) echo 'Docker version 28.2.2, build e6534b4';; info) echo '28.2.2';; esac").expect("docker");
    let config = project.config();
    let output = xtask(&[
        "bootstrap",
        "--config",
        config.to_str().expect("utf-8 path"),
        "--env",
        "local",
    ])
    .current_dir(project.dir())
    .envs(account.environment())
    .env("PATH", tools.bin())
    .output()
    .expect("run xtask");
    let output_text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{output_text}");
    assert!(
        summary_row(&output_text, "infra apply").is_some_and(|row| row.contains(" done ")),
        "{output_text}"
    );
    assert!(
        summary_row(&output_text, "cluster create")
            .is_some_and(|row| row.contains("blocked: needs kind")),
        "{output_text}"
    );
    assert!(
        summary_row(&output_text, "deploy").is_some_and(|row| row.contains("not run")),
        "{output_text}"
    );
    assert!(
        output_text
            .contains("error: bootstrap stopped before cluster create: kind missing (kind: "),
        "{output_text}"
    );
    // The docker stand-in was asked, kind never was (it does not exist).
    assert!(
        tools
            .calls_of("docker")
            .iter()
            .any(|call| call.first().is_some_and(|arg| arg == "info"))
    );
}

#[test]
fn on_a_terminal_each_step_has_a_live_line_that_its_result_replaces() {
    let project = project();
    let account = Account::isolated(&emulator_endpoint()).expect("account");
    let config = project.config();
    // util-linux `script` gives the command a pseudo-terminal and copies what it shows.
    let shown = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!(
            "exec '{}' bootstrap --config '{}' --env local --skip-cluster --skip-apps",
            env!("CARGO_BIN_EXE_xtask"),
            config.display()
        ))
        .arg("/dev/null")
        .current_dir(project.dir())
        .env("SHOPSTACK_BIN_DIR", binaries())
        .env_remove("SHOPSTACK_ENV")
        .env_remove("AWS_ENDPOINT_URL")
        .envs(account.environment())
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs xtask on a terminal");
    let shown_text = text(&shown);
    assert_eq!(shown.status.code(), Some(0), "{shown_text}");
    // The live line: cleared and redrawn in place with the elapsed seconds, then replaced by
    // the step's result; never the plain start line.
    assert!(
        shown_text.contains("\r\x1b[2K--> infra apply 0s"),
        "{shown_text:?}"
    );
    assert!(
        shown_text.contains("\r\x1b[2K    ok  infra apply ("),
        "{shown_text:?}"
    );
    assert!(
        !shown_text.contains("--> infra apply\r\n"),
        "{shown_text:?}"
    );
    assert!(
        summary_row(&shown_text, "infra apply").is_some_and(|row| row.contains(" done ")),
        "{shown_text}"
    );
}
