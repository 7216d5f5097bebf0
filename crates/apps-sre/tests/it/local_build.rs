//! `build --local --context-dir DIR`: docker build, login with the ECR token on stdin, push; argv
//! recorded by a stand-in docker that keeps what it read on stdin.

use crate::ecr::emulator_login;
use crate::{Workspace, assert_exit, stderr, stdout};

/// docker's answers; `login` keeps its stdin in `$STATE/login-stdin`.
const DOCKER: &str = r#"case "$1" in
  build) printf 'Successfully tagged %s\n' "$3" ;;
  login) read -r password; printf '%s' "$password" > "$STATE/login-stdin"; printf 'Login Succeeded\n' ;;
  push) printf 'The push refers to repository [%s]\n' "$2" ;;
  *) printf 'docker: unknown command "%s"\n' "$1" >&2; exit 1 ;;
esac"#;

/// docker's answer to a refused login.
const DOCKER_LOGIN_REFUSED: &str = r#"case "$1" in
  login) read -r password; printf 'Error response from daemon: Get "https://%s/v2/": unauthorized: authentication required\n' "$5" >&2; exit 1 ;;
  *) exit 0 ;;
esac"#;

async fn workspace_with(docker: &str) -> (Workspace, String) {
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    std::fs::write(workspace.path().join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
    workspace
        .tools
        .add("docker", docker)
        .expect("docker stand-in");
    (workspace, uri)
}

#[tokio::test]
async fn local_build_logs_in_with_the_password_on_stdin_only() {
    let (workspace, uri) = workspace_with(DOCKER).await;
    let (registry, password, _) = emulator_login(&workspace).await;

    let output = workspace
        .run(&["build", "--local", "--tag", "v7", "--context-dir", "."])
        .await;
    assert_exit(&output, 0);
    let image = format!("{uri}:v7");
    assert_eq!(
        workspace.tools.calls_of("docker"),
        [
            vec!["build", "--tag", &image, "."],
            vec!["login", "--username", "AWS", "--password-stdin", &registry],
            vec!["push", &image],
        ]
    );
    assert_eq!(
        std::fs::read_to_string(workspace.tools.state().join("login-stdin")).expect("stdin"),
        password
    );
    for call in workspace.tools.calls() {
        assert!(!call.iter().any(|arg| arg.contains(&password)), "{call:?}");
    }
    for text in [stdout(&output), stderr(&output)] {
        assert!(!text.contains(&password), "{text}");
    }
    assert!(stdout(&output).ends_with(&format!("image {image} built and pushed\n")));
}

#[tokio::test]
async fn a_refused_login_stops_before_the_push() {
    let (workspace, uri) = workspace_with(DOCKER_LOGIN_REFUSED).await;
    let (registry, password, _) = emulator_login(&workspace).await;

    let output = workspace
        .run(&["build", "--local", "--tag", "v8", "--context-dir", "."])
        .await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        format!(
            "error: `docker login --username AWS --password-stdin {registry}` failed: Error response from daemon: Get \"https://{registry}/v2/\": unauthorized: authentication required\n"
        )
    );
    let commands: Vec<String> = workspace
        .tools
        .calls_of("docker")
        .into_iter()
        .map(|call| call[0].clone())
        .collect();
    assert_eq!(commands, ["build", "login"]);
    assert!(!stderr(&output).contains(&password));
    assert!(!stdout(&output).contains(&format!("{uri}:v8 built")));
}

#[tokio::test]
async fn a_context_without_dockerfile_is_refused_before_anything_runs() {
    let counter = shopstack_testkit::ConnectionCounter::start().expect("counter");
    let workspace = Workspace::with_endpoint(&counter.url());
    workspace
        .tools
        .add("docker", DOCKER)
        .expect("docker stand-in");
    let output = workspace
        .run(&["build", "--local", "--tag", "v1", "--context-dir", "app"])
        .await;
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "error: app: no Dockerfile in the build context\n"
    );
    assert!(workspace.tools.calls().is_empty());
    assert_eq!(counter.connections(), 0);
}
