//! `github-workflows`: the files as written, the roles they name as IAM reports them, and what
//! GitHub's workflow schema and zizmor say of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use shopstack_testkit::cluster::components::on_path;

use crate::support::{REGION, Stack, assert_exit};
use crate::{run, stderr, stdout};

/// A checker installed by `cargo xtask provision` (into the tool cache, on the tests' PATH):
/// required in CI, skipped with a note elsewhere.
fn checker(name: &str) -> Option<PathBuf> {
    match on_path(name) {
        Ok(path) => Some(path),
        Err(_) => {
            assert!(
                !shopstack_testkit::cluster::required(),
                "{name} is not on PATH: `cargo xtask test` provisions it"
            );
            eprintln!("skipped: {name} is not on PATH (`cargo xtask provision` installs it)");
            None
        }
    }
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("workflow");
    serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_workflows_assume_the_roles_iam_reports_and_pass_the_schema_and_zizmor() {
    let stack = Stack::new();
    let names = stack.names("local");
    let dir = stack.project.dir().join(".github/workflows");

    // Nothing to name before apply: nothing written.
    let early = stack.run(&["github-workflows"]);
    assert_exit(&early, 1);
    assert!(
        stderr(&early).contains(
            "infrastructure_role_arn, ci_role_arn missing: run `infra-terraform apply` first"
        ),
        "{}",
        stderr(&early)
    );
    assert!(!dir.exists());

    assert_exit(&stack.run(&["apply", "--auto-approve"]), 0);
    let written = stack.run(&["github-workflows"]);
    assert_exit(&written, 0);
    let report = stdout(&written);
    assert!(
        report.contains("created    .github/workflows/infrastructure-local.yml  (for acme/infra)"),
        "{report}"
    );
    assert!(
        report.contains("created    .github/workflows/image-local.yml  (for acme/infra)"),
        "{report}"
    );

    let infrastructure = yaml(&dir.join("infrastructure-local.yml"));
    let image = yaml(&dir.join("image-local.yml"));
    for (workflow, job, role) in [
        (
            &infrastructure,
            "apply",
            stack.block_on(stack.role_arn(&names.infrastructure_role())),
        ),
        (
            &image,
            "build",
            stack.block_on(stack.role_arn(&names.ci_role())),
        ),
    ] {
        // On pushes to the trusted branch only, with no permission but the job's own.
        assert_eq!(workflow["on"], json!({"push": {"branches": ["main"]}}));
        assert_eq!(workflow["permissions"], json!({}));
        let job = &workflow["jobs"][job];
        assert_eq!(
            job["permissions"],
            json!({"id-token": "write", "contents": "read"})
        );
        assert_eq!(job["concurrency"]["cancel-in-progress"], json!(false));
        assert!(job.get("environment").is_none());
        let steps = job["steps"].as_array().expect("steps");
        assert_eq!(steps[0]["with"], json!({"persist-credentials": false}));
        assert_eq!(
            steps[1]["with"],
            json!({"role-to-assume": role, "aws-region": REGION})
        );
        for step in steps.iter().filter_map(|step| step["uses"].as_str()) {
            let (_, reference) = step.split_once('@').expect("a pinned action");
            assert!(
                reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                "{step} is not pinned by a full commit SHA"
            );
        }
    }
    let plan = infrastructure["jobs"]["apply"]["steps"][3]["run"]
        .as_str()
        .expect("the plan step");
    assert!(plan.contains("infra-terraform --env local plan --detailed-exitcode"));

    // Regenerating with the same inputs changes nothing.
    let before: Vec<Vec<u8>> = ["infrastructure-local.yml", "image-local.yml"]
        .iter()
        .map(|file| std::fs::read(dir.join(file)).expect("workflow"))
        .collect();
    let again = stack.run(&["github-workflows"]);
    assert_exit(&again, 0);
    assert_eq!(
        stdout(&again)
            .lines()
            .filter(|line| line.starts_with("unchanged  "))
            .count(),
        2,
        "{}",
        stdout(&again)
    );
    let after: Vec<Vec<u8>> = ["infrastructure-local.yml", "image-local.yml"]
        .iter()
        .map(|file| std::fs::read(dir.join(file)).expect("workflow"))
        .collect();
    assert_eq!(before, after);

    if let Some(schema) = checker("check-jsonschema") {
        for file in ["infrastructure-local.yml", "image-local.yml"] {
            let checked = run(Command::new(&schema)
                .args(["--builtin-schema", "vendor.github-workflows"])
                .arg(dir.join(file)));
            assert_exit(&checked, 0);
        }
    }
    if let Some(zizmor) = checker("zizmor") {
        let audited = run(Command::new(&zizmor)
            .args(["--offline", "--persona", "pedantic", "--no-progress"])
            .arg(dir.join("infrastructure-local.yml"))
            .arg(dir.join("image-local.yml")));
        assert_exit(&audited, 0);
        assert!(
            stdout(&audited).contains("No findings to report"),
            "{}",
            stdout(&audited)
        );
        // The audit is live: the same workflow with its checkout pinned by tag is a finding.
        let unpinned = stack.project.dir().join("image-unpinned.yml");
        let text = std::fs::read_to_string(dir.join("image-local.yml")).expect("workflow");
        let tagged = text.replace(
            "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
            "actions/checkout@v7",
        );
        assert_ne!(tagged, text);
        std::fs::write(&unpinned, tagged).expect("write");
        let refused = run(Command::new(&zizmor)
            .args(["--offline", "--persona", "pedantic", "--no-progress"])
            .arg(&unpinned));
        assert_ne!(refused.status.code(), Some(0));
        assert!(
            stdout(&refused).contains("unpinned-uses"),
            "{}",
            stdout(&refused)
        );
    }
}

#[test]
fn an_image_repository_the_ci_role_does_not_trust_is_refused_and_nothing_written() {
    let stack = Stack::new();
    let config = stack.project.config();
    let text = std::fs::read_to_string(&config).expect("shopstack.toml");
    std::fs::write(
        &config,
        format!("{text}\n[codebuild]\nsource_repository = \"acme/elsewhere\"\n"),
    )
    .expect("write");
    let refused = stack.run(&["github-workflows", "--out", "workflows"]);
    assert_exit(&refused, 1);
    assert_eq!(
        stderr(&refused).trim(),
        "error: codebuild.source_repository \"acme/elsewhere\" is not in github.repositories: its image workflow could not assume the CI role"
    );
    assert!(!stack.project.dir().join("workflows").exists());
}
