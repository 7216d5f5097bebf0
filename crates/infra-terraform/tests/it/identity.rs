//! `whoami`: the identity STS reports, the account pin, and which endpoint wins.

use shopstack_testkit::{ConnectionCounter, TestProject, emulator_endpoint};

use crate::{infra_terraform, run, stderr, stdout};

/// The account the emulator's default credentials belong to.
const EMULATOR_ACCOUNT: &str = "123456789012";

fn project(environment: &str) -> TestProject {
    TestProject::with_config(&format!(
        "[project]\nname = \"{{project}}\"\n\n[github]\nrepositories = [\"acme/infra\"]\n\n{environment}"
    ))
    .expect("test project")
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(output)))
}

#[test]
fn whoami_reports_the_account_sts_returns_and_the_endpoint_source() {
    let endpoint = emulator_endpoint();
    let project = project(&format!(
        "[environments.local]\nregion = \"eu-central-1\"\nendpoint_url = \"{endpoint}\"\n"
    ));
    let output = run(infra_terraform(project.dir()).arg("whoami"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "environment  local\nregion       eu-central-1\nendpoint     {endpoint} (from shopstack.toml)\naccount      {EMULATOR_ACCOUNT}\ncaller       arn:aws:sts::{EMULATOR_ACCOUNT}:user/moto\n"
        )
    );
}

#[test]
fn a_pinned_account_other_than_the_callers_is_refused() {
    let project = project(&format!(
        "[environments.dev]\nregion = \"eu-west-1\"\naccount_id = \"111122223333\"\nendpoint_url = \"{}\"\n",
        emulator_endpoint()
    ));
    let output = run(infra_terraform(project.dir()).args(["--env", "dev", "whoami"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "error: environment \"dev\" is pinned to account 111122223333, but the credentials are for account {EMULATOR_ACCOUNT} (arn:aws:sts::{EMULATOR_ACCOUNT}:user/moto): refusing to touch it\n"
        )
    );
}

#[test]
fn a_pinned_account_matching_the_caller_is_accepted() {
    let project = project(&format!(
        "[environments.dev]\nregion = \"eu-west-1\"\naccount_id = \"{EMULATOR_ACCOUNT}\"\nendpoint_url = \"{}\"\n",
        emulator_endpoint()
    ));
    let output = run(infra_terraform(project.dir()).args(["-e", "dev", "whoami", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["account_id"], EMULATOR_ACCOUNT);
}

#[test]
fn the_endpoint_flag_beats_the_variable_and_the_config() {
    let from_config = ConnectionCounter::start().expect("listener");
    let from_variable = ConnectionCounter::start().expect("listener");
    let project = project(&format!(
        "[environments.local]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
        from_config.url().replacen("http://", "https://", 1)
    ));
    let output = run(infra_terraform(project.dir())
        .env(
            "AWS_ENDPOINT_URL",
            from_variable.url().replacen("http://", "https://", 1),
        )
        .args(["--endpoint-url", &emulator_endpoint(), "whoami", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["endpoint_source"], "--endpoint-url");
    assert_eq!(json(&output)["endpoint"], emulator_endpoint());
    assert_eq!(
        (from_config.connections(), from_variable.connections()),
        (0, 0)
    );
}

#[test]
fn the_endpoint_variable_beats_the_config() {
    let from_config = ConnectionCounter::start().expect("listener");
    let project = project(&format!(
        "[environments.local]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
        from_config.url().replacen("http://", "https://", 1)
    ));
    let output = run(infra_terraform(project.dir())
        .env("AWS_ENDPOINT_URL", emulator_endpoint())
        .args(["whoami", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["endpoint_source"], "AWS_ENDPOINT_URL");
    assert_eq!(from_config.connections(), 0);
}

#[test]
fn the_config_endpoint_is_used_when_nothing_overrides_it() {
    let project = project(&format!(
        "[environments.local]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n",
        emulator_endpoint()
    ));
    let output = run(infra_terraform(project.dir()).args(["whoami", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json(&output)["endpoint_source"], "shopstack.toml");
}

#[test]
fn a_bad_lock_timeout_is_refused_before_any_request() {
    let counter = ConnectionCounter::start().expect("listener");
    let project = project(&format!(
        "[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
        counter.url()
    ));
    let output = run(infra_terraform(project.dir()).args([
        "apply",
        "--auto-approve",
        "--lock-timeout",
        "soon",
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output)
            .starts_with("error: invalid value 'soon' for '--lock-timeout <DURATION>': \"soon\": "),
        "{}",
        stderr(&output)
    );
    assert_eq!(counter.connections(), 0);
}

#[test]
fn an_emulator_that_is_not_running_is_one_line_naming_what_starts_it() {
    // A loopback port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let endpoint = format!("https://127.0.0.1:{port}");
    for (environment, hint) in [
        (
            "local",
            "start the local environment's AWS emulator with `cargo xtask local-aws start`",
        ),
        ("dev", "start the emulator environment \"dev\" points at"),
    ] {
        let project = project(&format!(
            "[environments.{environment}]\nregion = \"eu-west-1\"\nendpoint_url = \"{endpoint}\"\n"
        ));
        let output = run(infra_terraform(project.dir()).args(["--env", environment, "plan"]));
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(
            stderr(&output),
            format!("error: nothing answers at {endpoint} (connection refused): {hint}\n")
        );
    }
}
