//! The CI role under IAM enforcement, on an emulator of the test's own (enforcement is global to
//! the server): it can do its job — Terraform's S3 backend with either lock, the ECR push calls
//! on its repository, builds of its project as defined — and nothing else.

use aws_sdk_codebuild::types::{
    CredentialProviderType, EnvironmentVariable, ProjectSource, RegistryCredential, SourceType,
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use shopstack_testkit::{Account, Emulator};

use crate::lock_support::Terraform;
use crate::support::{Stack, assert_exit};
use crate::{run, stdout};

/// What AWS answered a call.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// It was done.
    Done,
    /// AccessDenied: the caller may not.
    Refused,
    /// Another error: the caller may, and the call failed for another reason (the emulator does
    /// not implement every ECR layer call, for one).
    Failed(u16),
}

fn answer<T, E: std::fmt::Debug>(result: Result<T, SdkError<E, HttpResponse>>) -> Answer {
    match result {
        Ok(_) => Answer::Done,
        Err(error) => {
            let Some(response) = error.raw_response() else {
                panic!("no answer from the emulator: {error:?}");
            };
            let status = response.status().as_u16();
            let body = response
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            if status == 403 && body.contains("AccessDenied") {
                Answer::Refused
            } else {
                Answer::Failed(status)
            }
        }
    }
}

fn variable(name: &str, value: &str) -> EnvironmentVariable {
    EnvironmentVariable::builder()
        .name(name)
        .value(value)
        .build()
        .expect("environment variable")
}

fn main_tf(dir: &std::path::Path, input: &str) {
    std::fs::write(
        dir.join("main.tf"),
        format!("resource \"terraform_data\" \"marker\" {{\n  input = \"{input}\"\n}}\n"),
    )
    .expect("main.tf");
}

#[test]
#[allow(clippy::too_many_lines)]
fn the_ci_role_can_do_its_job_and_nothing_else() {
    let Some(terraform) = Terraform::find() else {
        return;
    };
    let logs = tempfile::tempdir().expect("log directory");
    let emulator = Emulator::private(logs.path()).expect("an emulator of the test's own");
    let stack = Stack::on(&emulator);
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let table_dir = stack.project.dir().join("envs/local");
    assert_exit(&stack.run(&["backend-config"]), 0);
    let lockfile_dir = stack.project.dir().join("lockfile");
    let lockfile_backend = lockfile_dir.join("backend.tf");
    let lockfile_out = lockfile_backend.to_string_lossy();
    assert_exit(
        &stack.run(&["backend-config", "--lockfile", "--out", &lockfile_out]),
        0,
    );
    main_tf(&table_dir, "table");
    main_tf(&lockfile_dir, "lockfile");
    let other_repository = format!("{}-other", names.ecr_repository());
    stack.block_on(async {
        stack
            .ecr()
            .create_repository()
            .repository_name(&other_repository)
            .send()
            .await
            .expect("a repository that is not the CI role's");
    });

    let ca = emulator.tls.ca();
    let ci = Account::web_identity_on(
        stack.endpoint(),
        Some(&ca),
        &stack.account.id,
        &names.ci_role(),
    )
    .expect("the CI role's credentials");
    let builder = Account::web_identity_on(
        stack.endpoint(),
        Some(&ca),
        &stack.account.id,
        &names.codebuild_role(),
    )
    .expect("the CodeBuild role's credentials");
    let ci_sdk = stack.sdk_config_as(&ci);
    let builder_sdk = stack.sdk_config_as(&builder);
    emulator.enforce_iam(true).expect("IAM enforcement on");

    // Terraform's S3 backend, locking in the table and then with a lockfile.
    for dir in [&table_dir, &lockfile_dir] {
        let init = run(&mut terraform.command_as(&ci, dir, &["init", "-input=false", "-no-color"]));
        assert_exit(&init, 0);
        let applied = run(&mut terraform.command_as(
            &ci,
            dir,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        ));
        assert_exit(&applied, 0);
        assert!(
            stdout(&applied).contains("Apply complete!"),
            "{}",
            stdout(&applied)
        );
    }

    let (ecr_answers, build, build_answers, other_answers, builder_answers) =
        stack.block_on(async {
            let ecr = aws_sdk_ecr::Client::new(&ci_sdk);
            let repository = names.ecr_repository();
            let digest = format!("sha256:{}", "0".repeat(64));
            let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#;
            let own = |repository: String| {
                let ecr = ecr.clone();
                let digest = digest.clone();
                async move {
                    vec![
                        (
                            "BatchCheckLayerAvailability",
                            answer(
                                ecr.batch_check_layer_availability()
                                    .repository_name(&repository)
                                    .layer_digests(&digest)
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "InitiateLayerUpload",
                            answer(
                                ecr.initiate_layer_upload()
                                    .repository_name(&repository)
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "UploadLayerPart",
                            answer(
                                ecr.upload_layer_part()
                                    .repository_name(&repository)
                                    .upload_id("upload")
                                    .part_first_byte(0)
                                    .part_last_byte(0)
                                    .layer_part_blob(aws_sdk_ecr::primitives::Blob::new(b"x"))
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "CompleteLayerUpload",
                            answer(
                                ecr.complete_layer_upload()
                                    .repository_name(&repository)
                                    .upload_id("upload")
                                    .layer_digests(&digest)
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "PutImage",
                            answer(
                                ecr.put_image()
                                    .repository_name(&repository)
                                    .image_manifest(manifest)
                                    .image_tag("ci")
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "BatchGetImage",
                            answer(
                                ecr.batch_get_image()
                                    .repository_name(&repository)
                                    .image_ids(ImageIdentifier::builder().image_tag("ci").build())
                                    .send()
                                    .await,
                            ),
                        ),
                        (
                            "GetDownloadUrlForLayer",
                            answer(
                                ecr.get_download_url_for_layer()
                                    .repository_name(&repository)
                                    .layer_digest(&digest)
                                    .send()
                                    .await,
                            ),
                        ),
                    ]
                }
            };
            let mut ecr_answers = vec![(
                "GetAuthorizationToken".to_owned(),
                answer(ecr.get_authorization_token().send().await),
            )];
            for (call, got) in own(repository.clone()).await {
                ecr_answers.push((format!("{call} on its repository"), got));
            }
            for (call, got) in own(other_repository.clone()).await {
                ecr_answers.push((format!("{call} on another repository"), got));
            }

            // Builds of its project, as `apps-sre build` starts them, and no override.
            let codebuild = aws_sdk_codebuild::Client::new(&ci_sdk);
            let project = names.codebuild_project();
            let start = || {
                codebuild
                    .start_build()
                    .project_name(&project)
                    .environment_variables_override(variable("IMAGE_TAG", "v1"))
                    .environment_variables_override(variable("IMAGE_REPO_URI", "repo"))
            };
            let started = start().send().await.expect("StartBuild as the project defines it");
            let build = started.build_value.and_then(|build| build.id).expect("build id");
            let fetched = answer(codebuild.batch_get_builds().ids(&build).send().await);
            let source = ProjectSource::builder()
                .r#type(SourceType::S3)
                .location("attacker/source.zip")
                .source_identifier("extra")
                .build()
                .expect("source");
            let credential = RegistryCredential::builder()
                .credential(format!("arn:aws:secretsmanager:eu-west-1:{}:secret:x", stack.account.id))
                .credential_provider(CredentialProviderType::SecretsManager)
                .build()
                .expect("credential");
            let build_answers = vec![
                ("BatchGetBuilds", fetched),
                ("buildspecOverride", answer(start().buildspec_override("version: 0.2").send().await)),
                ("sourceLocationOverride", answer(start().source_location_override("attacker/source.zip").send().await)),
                ("secondarySourcesOverride", answer(start().secondary_sources_override(source).send().await)),
                ("imageOverride", answer(start().image_override("attacker/image:latest").send().await)),
                ("privilegedModeOverride", answer(start().privileged_mode_override(true).send().await)),
                ("serviceRoleOverride", answer(start().service_role_override(format!("arn:aws:iam::{}:role/admin", stack.account.id)).send().await)),
                ("registryCredentialOverride", answer(start().registry_credential_override(credential).send().await)),
                ("another variable", answer(start().environment_variables_override(variable("AWS_SECRET", "x")).send().await)),
                ("another project", answer(codebuild.start_build().project_name(format!("{project}-other")).send().await)),
            ];

            // Nothing else: no secret, no other state, no changes to what holds it, no escalation.
            let secrets = aws_sdk_secretsmanager::Client::new(&ci_sdk);
            let dynamodb = aws_sdk_dynamodb::Client::new(&ci_sdk);
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&ci_sdk).force_path_style(true).build(),
            );
            let iam = aws_sdk_iam::Client::new(&ci_sdk);
            let bucket = names.state_bucket();
            let other_answers = vec![
                ("GetSecretValue", answer(secrets.get_secret_value().secret_id(names.app_secret()).send().await)),
                ("DeleteTable", answer(dynamodb.delete_table().table_name(names.lock_table()).send().await)),
                ("Scan of the lock table", answer(dynamodb.scan().table_name(names.lock_table()).send().await)),
                ("PutItem in another table", answer(dynamodb.put_item().table_name(format!("{}-other", names.lock_table())).item("LockID", AttributeValue::S("x".into())).send().await)),
                ("GetObject of another key", answer(s3.get_object().bucket(&bucket).key("other/terraform.tfstate").send().await)),
                ("PutObject of another key", answer(s3.put_object().bucket(&bucket).key("other/terraform.tfstate").body(ByteStream::from_static(b"{}")).send().await)),
                ("DeleteBucketPolicy", answer(s3.delete_bucket_policy().bucket(&bucket).send().await)),
                ("PutRolePolicy on itself", answer(iam.put_role_policy().role_name(names.ci_role()).policy_name("more").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#).send().await)),
                ("DeleteRepository", answer(ecr.delete_repository().repository_name(&repository).send().await)),
                ("UpdateProject", answer(codebuild.update_project().name(&project).description("changed").send().await)),
            ];
            let builder_answers = vec![
                ("GetAuthorizationToken", answer(aws_sdk_ecr::Client::new(&builder_sdk).get_authorization_token().send().await)),
                ("GetSecretValue", answer(aws_sdk_secretsmanager::Client::new(&builder_sdk).get_secret_value().secret_id(names.app_secret()).send().await)),
            ];
            (ecr_answers, build, build_answers, other_answers, builder_answers)
        });
    emulator.enforce_iam(false).expect("IAM enforcement off");

    for (call, got) in &ecr_answers {
        let expected_refused = call.ends_with("another repository");
        assert_eq!(
            *got == Answer::Refused,
            expected_refused,
            "ECR {call} as the CI role: {got:?}"
        );
    }
    assert_eq!(ecr_answers[0].1, Answer::Done, "GetAuthorizationToken");
    assert_eq!(build_answers[0], ("BatchGetBuilds", Answer::Done));
    for (call, got) in &build_answers[1..] {
        assert_eq!(
            *got,
            Answer::Refused,
            "StartBuild with {call} as the CI role"
        );
    }
    for (call, got) in &other_answers {
        assert_eq!(*got, Answer::Refused, "{call} as the CI role");
    }
    assert_eq!(
        builder_answers,
        [
            ("GetAuthorizationToken", Answer::Done),
            ("GetSecretValue", Answer::Refused)
        ],
        "as the CodeBuild role"
    );

    // What the CI role did is there; what it was refused did not happen.
    stack.block_on(async {
        let state = stack.terraform_state().await;
        assert_eq!(
            state["resources"][0]["instances"][0]["attributes"]["input"]["value"],
            "lockfile"
        );
        let builds = stack
            .codebuild()
            .list_builds_for_project()
            .project_name(names.codebuild_project())
            .send()
            .await
            .expect("builds");
        assert_eq!(
            builds.ids(),
            std::slice::from_ref(&build),
            "only the allowed build started"
        );
        let policy = stack
            .s3()
            .get_bucket_policy()
            .bucket(names.state_bucket())
            .send()
            .await
            .expect("the TLS-only policy is still there");
        assert!(
            policy
                .policy()
                .is_some_and(|policy| policy.contains("aws:SecureTransport"))
        );
        let policies = stack
            .iam()
            .list_role_policies()
            .role_name(names.ci_role())
            .send()
            .await
            .expect("the CI role's policies");
        assert_eq!(policies.policy_names(), ["shopstack"]);
        stack
            .dynamodb()
            .describe_table()
            .table_name(names.lock_table())
            .send()
            .await
            .expect("the lock table is still there");
    });
}

#[test]
#[allow(clippy::too_many_lines)]
fn the_infrastructure_role_plans_and_applies_its_environment_and_deletes_nothing() {
    let logs = tempfile::tempdir().expect("log directory");
    let emulator = Emulator::private(logs.path()).expect("an emulator of the test's own");
    let stack = Stack::on(&emulator);
    let names = stack.names("local");
    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let outsider = format!("{}-outsider", names.ci_role());
    stack.block_on(async {
        stack
            .iam()
            .create_role()
            .role_name(&outsider)
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
            .send()
            .await
            .expect("a role that is not the environment's");
    });
    let ca = emulator.tls.ca();
    let infrastructure = Account::web_identity_on(
        stack.endpoint(),
        Some(&ca),
        &stack.account.id,
        &names.infrastructure_role(),
    )
    .expect("the infrastructure role's credentials");
    let as_infrastructure =
        |args: &[&str]| run(stack.command(args).envs(infrastructure.environment()));
    emulator.enforce_iam(true).expect("IAM enforcement on");

    // What its workflow runs: a plan, and an apply when the plan has changes.
    assert_exit(&as_infrastructure(&["plan", "--detailed-exitcode"]), 0);
    let config = stack.project.config();
    let text = std::fs::read_to_string(&config).expect("shopstack.toml");
    std::fs::write(
        &config,
        text.replace(
            "[\"acme/infra\", \"acme/apps\"]",
            "[\"acme/infra\", \"acme/apps\", \"acme/tools\"]",
        ),
    )
    .expect("a third repository");
    assert_exit(&as_infrastructure(&["plan", "--detailed-exitcode"]), 2);
    let applied = as_infrastructure(&["apply", "--auto-approve"]);
    assert_exit(&applied, 0);
    assert!(
        stdout(&applied).contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        stdout(&applied)
    );
    assert_exit(&as_infrastructure(&["plan", "--detailed-exitcode"]), 0);
    // Destroy stays with an administrator.
    let destroyed = as_infrastructure(&["destroy", "--auto-approve"]);
    assert_exit(&destroyed, 1);

    let infrastructure_sdk = stack.sdk_config_as(&infrastructure);
    let refused = stack.block_on(async {
        let secrets = aws_sdk_secretsmanager::Client::new(&infrastructure_sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&infrastructure_sdk);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&infrastructure_sdk)
                .force_path_style(true)
                .build(),
        );
        let iam = aws_sdk_iam::Client::new(&infrastructure_sdk);
        let ecr = aws_sdk_ecr::Client::new(&infrastructure_sdk);
        vec![
            ("GetSecretValue", answer(secrets.get_secret_value().secret_id(names.app_secret()).send().await)),
            ("GetObject of the state", answer(s3.get_object().bucket(names.state_bucket()).key(names.state_key()).send().await)),
            ("CreateBucket of another bucket", answer(s3.create_bucket().bucket(format!("{}-other", names.state_bucket())).send().await)),
            ("DeleteTable", answer(dynamodb.delete_table().table_name(names.lock_table()).send().await)),
            ("PutRolePolicy on another role", answer(iam.put_role_policy().role_name(&outsider).policy_name("more").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#).send().await)),
            ("CreateRepository of another repository", answer(ecr.create_repository().repository_name(format!("{}-other", names.ecr_repository())).send().await)),
        ]
    });
    emulator.enforce_iam(false).expect("IAM enforcement off");
    for (call, got) in &refused {
        assert_eq!(*got, Answer::Refused, "{call} as the infrastructure role");
    }

    // The change it applied is there, as IAM reports it; the environment is whole.
    let trust = stack.block_on(async {
        let role = stack
            .iam()
            .get_role()
            .role_name(names.ci_role())
            .send()
            .await
            .expect("the CI role");
        crate::support::policy(
            role.role()
                .and_then(|role| role.assume_role_policy_document())
                .expect("trust policy"),
        )
    });
    assert!(
        trust
            .to_string()
            .contains("repo:acme/tools:ref:refs/heads/main"),
        "{trust}"
    );
    assert_exit(&stack.run(&["plan", "--detailed-exitcode"]), 0);
}
