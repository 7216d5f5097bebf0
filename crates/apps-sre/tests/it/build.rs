//! `build` on the emulator's CodeBuild: the build it starts and follows is the one the emulator
//! reports, with the commit to build; bad starts are refused before a build exists.

use crate::{Workspace, assert_exit, stderr, stdout};

/// The ids of the project's builds, as the emulator reports them.
async fn builds_of(workspace: &Workspace) -> Vec<String> {
    aws_sdk_codebuild::Client::new(&workspace.sdk().await)
        .list_builds_for_project()
        .project_name(workspace.names().codebuild_project())
        .send()
        .await
        .expect("ListBuildsForProject")
        .ids()
        .to_vec()
}

async fn ready_workspace() -> (Workspace, String) {
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    workspace.create_codebuild_project(&uri).await;
    (workspace, uri)
}

/// The build id in `build ID started: …`.
fn started_id(output: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix("build ")?.split_once(" started: "))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no start line in {output}"))
}

#[tokio::test]
async fn build_starts_the_project_build_and_follows_it_to_success() {
    let (workspace, uri) = ready_workspace().await;
    let output = workspace.run(&["build", "--tag", "v1.2.0"]).await;
    assert_exit(&output, 0);

    let id = started_id(&stdout(&output));
    assert_eq!(builds_of(&workspace).await, std::slice::from_ref(&id));
    assert!(id.starts_with(&format!("{}:", workspace.names().codebuild_project())));
    assert_eq!(
        stdout(&output),
        format!("build {id} started: {uri}:v1.2.0\nimage {uri}:v1.2.0 built and pushed\n")
    );
    // Plain progress lines off a terminal: the start, the phase seen, the outcome.
    let progress = stderr(&output);
    assert!(
        progress.starts_with(&format!("build {id}\n  COMPLETED (")),
        "{progress}"
    );
    assert!(
        progress.contains(&format!("build {id} SUCCEEDED (")),
        "{progress}"
    );
}

#[tokio::test]
async fn the_default_tag_is_the_git_short_sha_and_the_commit_is_built() {
    let (mut workspace, uri) = ready_workspace().await;
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(workspace.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    git(&["init", "--quiet"]);
    git(&["add", "shopstack.toml"]);
    git(&["commit", "--quiet", "-m", "init"]);
    let sha = git(&["rev-parse", "HEAD"]);
    let short = git(&["rev-parse", "--short", "HEAD"]);
    let git_dir = which("git");
    workspace.also_on_path(&git_dir);

    let output = workspace.run(&["build"]).await;
    assert_exit(&output, 0);
    let id = started_id(&stdout(&output));
    assert!(
        stdout(&output).contains(&format!("started: {uri}:{short}\n")),
        "{}",
        stdout(&output)
    );
    let builds = aws_sdk_codebuild::Client::new(&workspace.sdk().await)
        .batch_get_builds()
        .ids(&id)
        .send()
        .await
        .expect("BatchGetBuilds");
    assert_eq!(builds.builds()[0].source_version(), Some(sha.as_str()));
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))
        .find(|dir| dir.join(program).is_file())
        .unwrap_or_else(|| panic!("{program} is not installed"))
}

#[tokio::test]
async fn no_wait_returns_once_the_build_is_started() {
    let (workspace, uri) = ready_workspace().await;
    let output = workspace.run(&["build", "--tag", "v2", "--no-wait"]).await;
    assert_exit(&output, 0);
    let id = started_id(&stdout(&output));
    assert_eq!(stdout(&output), format!("build {id} started: {uri}:v2\n"));
    assert_eq!(builds_of(&workspace).await, [id]);
    assert_eq!(stderr(&output), "");
}

#[tokio::test]
async fn a_tag_already_in_ecr_is_refused_before_building() {
    let (workspace, uri) = ready_workspace().await;
    workspace.put_image("v1").await;
    let output = workspace.run(&["build", "--tag", "v1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: image {uri}:v1 already exists and ECR tags are immutable: build another commit or pass another --tag\n"
        )
    );
    assert!(builds_of(&workspace).await.is_empty());
}

#[tokio::test]
async fn a_missing_project_says_how_to_create_it() {
    let workspace = Workspace::on_emulator();
    workspace.create_repository().await;
    let output = workspace.run(&["build", "--tag", "v1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: CodeBuild project {} does not exist: create it with `infra-terraform apply`\n",
            workspace.names().codebuild_project()
        )
    );
}

#[tokio::test]
async fn a_missing_repository_says_how_to_create_it() {
    let workspace = Workspace::on_emulator();
    let output = workspace.run(&["build", "--tag", "v1"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: ECR repository {} does not exist: create it with `infra-terraform apply`\n",
            workspace.names().ecr_repository()
        )
    );
}
