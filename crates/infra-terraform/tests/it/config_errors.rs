//! Invalid configurations: one line naming file, line and column (or field), exit 1, nothing sent.

use shopstack_testkit::ConnectionCounter;

use crate::{infra_terraform, run, stderr};

const HEAD: &str = "[project]\nname = \"shop\"\n\n[github]\nrepositories = [\"acme/infra\"]\n";

/// (what is wrong, file content, extra flags, the expected stderr line)
fn cases() -> Vec<(&'static str, String, Vec<&'static str>, &'static str)> {
    vec![
        (
            "TOML syntax",
            "[project\nname = \"shop\"\n".into(),
            vec![],
            "error: shopstack.toml:1:9: unclosed table, expected `]`",
        ),
        (
            "unknown table",
            format!("{HEAD}[projekt]\nname = \"x\"\n"),
            vec![],
            "error: shopstack.toml:6:2: unknown field `projekt`, expected one of `project`, `github`, `codebuild`, `environments`",
        ),
        (
            "unknown key",
            "[project]\nnmae = \"shop\"\n".into(),
            vec![],
            "error: shopstack.toml:2:1: project: unknown field `nmae`, expected `name`",
        ),
        (
            "wrong type",
            "[project]\nname = 5\n\n[github]\nrepositories = [\"acme/infra\"]\n".into(),
            vec![],
            "error: shopstack.toml:2:8: project.name: invalid type: integer `5`, expected a string",
        ),
        (
            "missing table",
            "[project]\nname = \"shop\"\n".into(),
            vec![],
            "error: shopstack.toml:1:1: missing field `github`",
        ),
        (
            "invalid project name",
            HEAD.replace("\"shop\"", "\"Shop_Stack\""),
            vec![],
            "error: shopstack.toml:2:8: project.name: \"Shop_Stack\" must be lowercase letters, digits and '-', start with a letter and end with a letter or digit",
        ),
        (
            "empty repository list",
            HEAD.replace("[\"acme/infra\"]", "[]"),
            vec![],
            "error: shopstack.toml:5:16: github.repositories: is empty: name at least one \"owner/repo\" allowed to assume the CI role",
        ),
        (
            "wildcard repository",
            HEAD.replace("[\"acme/infra\"]", "[\"acme/infra\", \"acme/*\"]"),
            vec![],
            "error: shopstack.toml:5:31: github.repositories[1]: \"acme/*\" is a wildcard: name each repository exactly as \"owner/repo\" (a wildcard subject lets any matching repository assume the role)",
        ),
        (
            "subject instead of repository",
            HEAD.replace("\"acme/infra\"", "\"repo:acme/infra:ref:refs/heads/main\""),
            vec![],
            "error: shopstack.toml:5:17: github.repositories[0]: \"repo:acme/infra:ref:refs/heads/main\" is an OIDC subject: write \"owner/repo\" and set github.branch",
        ),
        (
            "wildcard branch",
            format!("{HEAD}branch = \"*\"\n"),
            vec![],
            "error: shopstack.toml:6:10: github.branch: \"*\" is a wildcard: name exactly one branch",
        ),
        (
            "repository listed twice",
            HEAD.replace("[\"acme/infra\"]", "[\"acme/infra\", \"acme/infra\"]"),
            vec![],
            "error: shopstack.toml:5:31: github.repositories[1]: \"acme/infra\" is listed twice",
        ),
        (
            "bad region",
            format!("{HEAD}\n[environments.dev]\nregion = \"eu-west\"\n"),
            vec![],
            "error: shopstack.toml:8:10: environments.dev.region: \"eu-west\" is not an AWS region name (like \"eu-west-1\")",
        ),
        (
            "short account id",
            format!("{HEAD}\n[environments.dev]\nregion = \"eu-west-1\"\naccount_id = \"1234\"\n"),
            vec![],
            "error: shopstack.toml:9:14: environments.dev.account_id: \"1234\" must be 12 digits",
        ),
        (
            "plain http endpoint off loopback",
            format!(
                "{HEAD}\n[environments.dev]\nregion = \"eu-west-1\"\nendpoint_url = \"http://10.1.2.3:4566\"\n"
            ),
            vec![],
            "error: shopstack.toml:9:16: environments.dev.endpoint_url: \"http://10.1.2.3:4566\" is plain http on a non-loopback host: use https, or a loopback address for a local emulator",
        ),
        (
            "unknown environment key",
            format!("{HEAD}\n[environments.dev]\nregoin = \"eu-west-1\"\n"),
            vec![],
            "error: shopstack.toml:8:1: environments.dev: unknown field `regoin`, expected one of `region`, `endpoint_url`, `account_id`, `ca_bundle`, `plain_http`, `kms_key_arn`",
        ),
        (
            "names too long for AWS",
            HEAD.replace("\"shop\"", &format!("\"{}\"", "p".repeat(38)))
                + "\n[environments.prod]\nregion = \"eu-west-1\"\n",
            vec![],
            "error: shopstack.toml:7:15: environments.prod: project \"pppppppppppppppppppppppppppppppppppppp\" and environment \"prod\" give S3 bucket \"pppppppppppppppppppppppppppppppppppppp-prod-tfstate-<account-id>\", which is invalid: must be 3 to 63 characters long, is 64 (shorten project.name or the environment name)",
        ),
        (
            "undefined environment",
            HEAD.to_owned(),
            vec!["--env", "prod"],
            "error: shopstack.toml: environment \"prod\" is not defined (defined: local)",
        ),
    ]
}

#[test]
fn each_invalid_configuration_is_one_line_exit_1_and_sends_nothing() {
    let mut failures = Vec::new();
    for (what, text, flags, expected) in cases() {
        let counter = ConnectionCounter::start().expect("listener");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("shopstack.toml"), &text).expect("write config");
        let output = run(infra_terraform(dir.path())
            .args(["--endpoint-url", &counter.url()])
            .args(&flags)
            .arg("whoami"));
        let stderr = stderr(&output);
        let problems = [
            (output.status.code() != Some(1)).then(|| format!("exit {:?}", output.status.code())),
            (stderr != format!("{expected}\n")).then(|| format!("stderr {stderr:?}")),
            (counter.connections() != 0).then(|| format!("{} connections", counter.connections())),
        ];
        for problem in problems.into_iter().flatten() {
            failures.push(format!("{what}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases().len() >= 12);
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run(infra_terraform(dir.path()).args(["-c", "nope.toml", "whoami"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: nope.toml: cannot read the configuration: No such file or directory (os error 2)\n"
    );
}

#[test]
fn an_invalid_endpoint_flag_is_refused_before_any_request() {
    let counter = ConnectionCounter::start().expect("listener");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("shopstack.toml"), HEAD).expect("write config");
    let output = run(infra_terraform(dir.path())
        .env("AWS_ENDPOINT_URL", counter.url())
        .args(["--endpoint-url", "http://192.0.2.10:4566", "whoami"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: --endpoint-url: \"http://192.0.2.10:4566\" is plain http on a non-loopback host: use https, or a loopback address for a local emulator\n"
    );
    assert_eq!(counter.connections(), 0);
}

#[test]
fn apply_with_a_wildcard_subject_sends_nothing() {
    let counter = ConnectionCounter::start().expect("listener");
    let dir = tempfile::tempdir().expect("temp dir");
    let text = HEAD.replace("[\"acme/infra\"]", "[\"acme/*\"]");
    std::fs::write(dir.path().join("shopstack.toml"), text).expect("write config");
    let output = run(infra_terraform(dir.path()).args([
        "--endpoint-url",
        &counter.url(),
        "apply",
        "--auto-approve",
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with(
        "error: shopstack.toml:5:17: github.repositories[0]: \"acme/*\" is a wildcard"
    ));
    assert_eq!(counter.connections(), 0);
}

#[test]
fn apply_in_another_account_than_the_pinned_one_changes_nothing() {
    let stack = crate::support::Stack::with_environments(&format!(
        "[environments.prod]\nregion = \"eu-west-1\"\naccount_id = \"111122223333\"\nendpoint_url = \"{}\"\n",
        shopstack_testkit::emulator_endpoint()
    ));
    let output = stack.run(&["-e", "prod", "apply", "--auto-approve"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: environment \"prod\" is pinned to account 111122223333, but the credentials are for account {} (arn:aws:sts::{}:assumed-role/shopstack-test/shopstack-test): refusing to touch it\n",
            stack.account.id, stack.account.id
        )
    );
    let bucket = stack.names("prod").state_bucket();
    assert!(
        stack
            .block_on(stack.s3().head_bucket().bucket(bucket).send())
            .is_err()
    );
    let listed = stack
        .block_on(stack.s3().list_buckets().send())
        .expect("list buckets");
    assert!(
        listed.buckets().is_empty(),
        "nothing was created in the account"
    );
}
