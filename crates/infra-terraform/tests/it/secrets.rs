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
