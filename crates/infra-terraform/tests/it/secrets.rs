//! `secret put`: the value is stored, checked before sending, and never printed.

use std::io::Write;
use std::process::Stdio;

use shopstack_testkit::{ConnectionCounter, TestProject};

use crate::support::{Stack, assert_exit};
use crate::{infra_terraform, run, stderr, stdout};

const CANARY: &str = "canary-7f3e1b-never-print-me";

#[test]
fn a_canary_secret_value_never_appears_in_any_output() {
    let stack = Stack::new();
    let mut outputs = vec![stack.run(&["-vv", "apply", "--auto-approve"])];
    let value = stack.project.dir().join("value.json");
    let json = format!("{{\"API_KEY\": \"{CANARY}\", \"GRAFANA_ADMIN_PASSWORD\": \"{CANARY}\"}}");
    std::fs::write(&value, &json).expect("write value");
    let value = value.to_str().expect("utf-8 path");
    for verbosity in [&[][..], &["-v"][..], &["-vv"][..]] {
        let mut args = verbosity.to_vec();
        args.extend(["secret", "put", "--from-file", value]);
        outputs.push(stack.run(&args));
    }
    let mut from_stdin = stack.command(&["-vv", "secret", "put", "--from-file", "-"]);
    from_stdin
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = from_stdin.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json.as_bytes())
        .expect("write stdin");
    outputs.push(child.wait_with_output().expect("wait"));
    for command in [
        &["-vv", "plan"][..],
        &["-vv", "status"],
        &["-vv", "audit"],
        &["-vv", "plan", "--json"],
        &["-vv", "whoami"],
    ] {
        outputs.push(stack.run(command));
    }
    for output in &outputs {
        assert_exit(output, 0);
        assert!(!stdout(output).contains(CANARY) && !stderr(output).contains(CANARY));
    }
    assert!(stdout(&outputs[1]).starts_with(&format!(
        "stored a new version of {}",
        stack.names("local").app_secret()
    )));
    assert!(
        stderr(&outputs[3]).contains("DEBUG"),
        "-vv shows the SDK's requests"
    );
    let stored = stack
        .block_on(
            stack
                .secrets()
                .get_secret_value()
                .secret_id(stack.names("local").app_secret())
                .send(),
        )
        .expect("stored value");
    assert_eq!(stored.secret_string(), Some(json.as_str()));
}

#[test]
fn a_non_object_secret_value_is_refused_before_any_request() {
    let counter = ConnectionCounter::start().expect("listener");
    let project = TestProject::standard().expect("project");
    let value = project.dir().join("value.txt");
    std::fs::write(&value, format!("API_KEY={CANARY}\n")).expect("write value");
    let output = run(infra_terraform(project.dir())
        .args([
            "--endpoint-url",
            &counter.url(),
            "secret",
            "put",
            "--from-file",
        ])
        .arg(&value));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: the secret value must be a JSON object of configuration keys: expected value at line 1 column 1\n",
            value.display()
        )
    );
    assert_eq!(counter.connections(), 0);
}

#[test]
fn a_secret_put_before_apply_says_to_apply_first() {
    let stack = Stack::new();
    let value = stack.project.dir().join("value.json");
    std::fs::write(&value, "{}").expect("write value");
    let output = stack.run(&[
        "secret",
        "put",
        "--from-file",
        value.to_str().expect("utf-8 path"),
    ]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: secret {} does not exist: run `infra-terraform apply` first\n",
            stack.names("local").app_secret()
        )
    );
}

/// The secret's current value, as Secrets Manager holds it.
fn stored_value(stack: &Stack) -> serde_json::Value {
    let stored = stack
        .block_on(
            stack
                .secrets()
                .get_secret_value()
                .secret_id(stack.names("local").app_secret())
                .send(),
        )
        .expect("stored value");
    serde_json::from_str(stored.secret_string().expect("a string")).expect("a JSON object")
}

#[test]
fn seed_generates_the_sample_apps_keys_once_never_shows_them_and_never_replaces_a_value() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let name = stack.names("local").app_secret();

    let seeded = stack.run(&["secret", "seed"]);
    assert_exit(&seeded, 0);
    assert_eq!(
        stdout(&seeded),
        format!(
            "secret {name} seeded with generated values for SESSION_SECRET, GREETING (never shown; `infra-terraform secret put` replaces them)\n"
        )
    );
    let value = stored_value(&stack);
    let session = value["SESSION_SECRET"].as_str().expect("SESSION_SECRET");
    assert_eq!(session.len(), 64);
    assert!(session.chars().all(|c| c.is_ascii_hexdigit()), "{session}");
    assert_eq!(value["GREETING"], "Hello from ShopStack (local)");
    assert!(!stdout(&seeded).contains(session) && !stderr(&seeded).contains(session));

    // Seeded again: kept.
    let again = stack.run(&["secret", "seed"]);
    assert_exit(&again, 0);
    assert_eq!(
        stdout(&again),
        format!("secret {name} has a value: kept (seed never replaces one)\n")
    );
    assert_eq!(stored_value(&stack), value);

    // A value of the user's own is never replaced.
    let file = stack.project.dir().join("value.json");
    std::fs::write(&file, format!("{{\"SESSION_SECRET\": \"{CANARY}\"}}")).expect("write value");
    let file = file.to_str().expect("utf-8 path");
    assert_exit(&stack.run(&["secret", "put", "--from-file", file]), 0);
    assert_exit(&stack.run(&["secret", "seed"]), 0);
    assert_eq!(stored_value(&stack)["SESSION_SECRET"], CANARY);
}

#[test]
fn seed_is_refused_outside_the_local_environment_before_any_request() {
    let counter = ConnectionCounter::start().expect("listener");
    let stack = Stack::with_environments(&format!(
        "[environments.dev]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\nplain_http = true\n",
        counter.url()
    ));
    let output = stack.run(&["--env", "dev", "secret", "seed"]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: secret seed gives generated values on the local environment only; on dev put the real ones: infra-terraform --env dev secret put --from-file FILE\n"
    );
    assert_eq!(counter.connections(), 0);
}

#[test]
fn check_names_the_command_that_gives_the_secret_its_value_until_it_has_one() {
    let stack = Stack::new();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let name = stack.names("local").app_secret();
    let unset = stack.run(&["secret", "check"]);
    assert_exit(&unset, 1);
    assert_eq!(
        stderr(&unset),
        format!(
            "error: secret {name} has no value yet: put the application's configuration (a JSON object) with `infra-terraform --env local secret put --from-file FILE`\n"
        )
    );
    let file = stack.project.dir().join("value.json");
    std::fs::write(&file, format!("{{\"SESSION_SECRET\": \"{CANARY}\"}}")).expect("write value");
    let file = file.to_str().expect("utf-8 path");
    assert_exit(&stack.run(&["secret", "put", "--from-file", file]), 0);
    let set = stack.run(&["secret", "check"]);
    assert_exit(&set, 0);
    assert_eq!(stdout(&set), format!("secret {name} has a value\n"));
    assert!(!stdout(&set).contains(CANARY));
}
