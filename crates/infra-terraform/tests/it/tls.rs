//! TLS everywhere: the state bucket's TLS-only policy applied and audited, a plain-HTTP request to
//! the bucket denied as AWS denies it (the test proxy evaluates `aws:SecureTransport`, which the
//! emulator does not), plain http only with the environment's consent, and the CA bundle trusted
//! from `AWS_CA_BUNDLE` or `ca_bundle`, and nothing else.

use serde_json::Value;
use shopstack_testkit::{Behaviour, EmulatorTls, Proxy, emulator_endpoint};

use crate::support::{Stack, assert_exit};
use crate::{stderr, stdout};

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

fn proxy() -> Proxy {
    Proxy::start(&emulator_endpoint(), Behaviour::default()).expect("proxy")
}

#[test]
fn the_state_bucket_refuses_plain_http_and_audit_holds_it_to_that() {
    let proxy = proxy();
    let stack = Stack::behind(&proxy);
    let bucket = stack.names("local").state_bucket();
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);

    // Over plain HTTP, the bucket's own policy refuses the state, as AWS would.
    let plain = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(stack.sdk_config())
            .endpoint_url(proxy.plain_url())
            .force_path_style(true)
            .build(),
    );
    proxy.clear();
    let denied = stack.block_on(plain.list_objects_v2().bucket(&bucket).send());
    let error = denied
        .expect_err("plain HTTP is denied")
        .into_service_error();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&error),
        Some("AccessDenied")
    );
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .all(|request| !request.secure && request.answered.as_deref() == Some("AccessDenied")),
        "{requests:?}"
    );
    // Over TLS it answers.
    stack
        .block_on(stack.s3().list_objects_v2().bucket(&bucket).send())
        .expect("TLS is allowed");

    // Without the policy, plain HTTP reaches the bucket: the denial above was the policy's.
    stack
        .block_on(stack.s3().delete_bucket_policy().bucket(&bucket).send())
        .expect("remove the policy by hand");
    stack
        .block_on(plain.list_objects_v2().bucket(&bucket).send())
        .expect("no policy, no denial");
    let audit = stack.run(&["audit", "--json"]);
    assert_exit(&audit, 1);
    assert_eq!(
        json(&audit)["findings"],
        serde_json::json!([
            {
                "address": "s3_bucket.state",
                "id": bucket,
                "finding": "tls_policy differs from the hardened policy"
            },
            {
                "address": "s3_bucket.state",
                "id": bucket,
                "finding": "no bucket policy requires TLS"
            }
        ]),
        "{}",
        stdout(&audit)
    );
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    assert_exit(&stack.run(&["audit"]), 0);
    assert!(
        stack
            .block_on(plain.list_objects_v2().bucket(&bucket).send())
            .is_err(),
        "apply restored the policy"
    );
}

#[test]
fn plain_http_needs_the_environments_consent_and_says_what_it_leaves_out() {
    let proxy = proxy();
    // Refused before any request is sent.
    let stack = Stack::new();
    let refused = stack.run(&["--endpoint-url", &proxy.plain_url(), "plan"]);
    assert_exit(&refused, 1);
    assert_eq!(
        stderr(&refused),
        format!(
            "error: --endpoint-url: \"{}\" is plain http, which environment \"local\" does not allow: use https, or set plain_http = true in [environments.local]\n",
            proxy.plain_url()
        )
    );
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());

    // With consent: the TLS-only policy is not applied, and plan and audit say so.
    let consenting = Stack::with_environments(&format!(
        "[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\nplain_http = true\n",
        proxy.plain_url()
    ));
    let note = "the state bucket policy requiring TLS is not applied: environment \"local\" allows plain http (plain_http = true) and its endpoint is plain http, where a bucket requiring TLS refuses every request";
    let plan = consenting.run(&["plan", "--json"]);
    assert_exit(&plan, 0);
    assert_eq!(json(&plan)["notes"], serde_json::json!([note]));
    assert_exit(&consenting.run(&["apply", "--auto-approve"]), 0);
    let audit = consenting.run(&["audit", "--json"]);
    assert_exit(&audit, 0);
    assert_eq!(json(&audit)["notes"], serde_json::json!([note]));
    let bucket = consenting.names("local").state_bucket();
    let policy = consenting.block_on(consenting.s3().get_bucket_policy().bucket(bucket).send());
    assert_eq!(
        policy
            .expect_err("no policy")
            .into_service_error()
            .meta()
            .code(),
        Some("NoSuchBucketPolicy")
    );
    assert!(proxy.requests().iter().all(|request| !request.secure));
}

#[test]
fn only_the_ca_bundle_given_is_trusted() {
    let stack = Stack::new();
    // `whoami` with `ca_bundle` in the configuration and `AWS_CA_BUNDLE` set to `variable`.
    let whoami = |ca_bundle: Option<&str>, variable: Option<&std::path::Path>| {
        let config = std::fs::read_to_string(stack.project.config()).expect("config");
        let config = match ca_bundle {
            Some(path) => config.replace(
                "[environments.local]\n",
                &format!("[environments.local]\nca_bundle = \"{path}\"\n"),
            ),
            None => config,
        };
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("shopstack.toml"), config).expect("write config");
        let mut command = crate::infra_terraform(dir.path());
        match variable {
            Some(bundle) => command.env("AWS_CA_BUNDLE", bundle),
            None => command.env_remove("AWS_CA_BUNDLE"),
        };
        let output = crate::run(command.envs(stack.account.environment()).arg("whoami"));
        (output, dir)
    };

    // The emulator's CA from `ca_bundle` (AWS_CA_BUNDLE unset): trusted.
    let ca = EmulatorTls::of_test_run().ca();
    let (trusted, _dir) = whoami(Some(&ca.display().to_string()), None);
    assert_exit(&trusted, 0);
    assert!(
        stdout(&trusted).contains(&stack.account.id),
        "{}",
        stdout(&trusted)
    );

    // Another CA: refused in one line, naming the certificate problem.
    let other = tempfile::tempdir().expect("dir");
    let other_ca = EmulatorTls::create(other.path()).expect("another CA").ca();
    // The environment's own bundle wins over AWS_CA_BUNDLE.
    let (winning, _dir) = whoami(Some(&ca.display().to_string()), Some(&other_ca));
    assert_exit(&winning, 0);
    let (refused, _dir) = whoami(Some(&other_ca.display().to_string()), None);
    assert_exit(&refused, 1);
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: cannot get the caller identity from STS")
            && message.contains("certificate"),
        "{message}"
    );

    // No CA at all: the system's roots do not know the emulator's CA either.
    let (untrusted, _dir) = whoami(None, None);
    assert_exit(&untrusted, 1);
    assert!(
        stderr(&untrusted).contains("certificate"),
        "{}",
        stderr(&untrusted)
    );

    // A bundle that is not there, or holds no certificate: one line naming the field.
    let (missing, _dir) = whoami(Some("certs/none.pem"), None);
    assert_exit(&missing, 1);
    assert_eq!(
        stderr(&missing),
        "error: environments.local.ca_bundle: cannot read the CA bundle certs/none.pem: entity not found\n"
    );
}
