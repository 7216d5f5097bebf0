//! `status`: releases from helm and pods from the API server, with exit 1 when anything is not
//! deployed or not ready.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateWaiting, ContainerStatus, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::k8s::MockApi;
use crate::{Workspace, assert_exit, stderr, stdout};

/// `helm list --all --namespace NS --output json`: the observability release deployed, the
/// application's as given in `$APP_RELEASES`.
fn helm(app_releases: &str) -> String {
    format!(
        r#"case "$4" in
  observability) printf '%s\n' '[{{"name":"kube-prometheus-stack","namespace":"observability","revision":"2","updated":"2026-01-01 10:00:00.0 +0000 UTC","status":"deployed","chart":"kube-prometheus-stack-67.8.0","app_version":"v0.79.2"}}]' ;;
  *) printf '%s\n' '{app_releases}' ;;
esac"#
    )
}

fn pod(namespace: &str, name: &str, ready: bool, waiting: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".to_owned(),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some(
                if waiting.is_some() {
                    "Pending"
                } else {
                    "Running"
                }
                .to_owned(),
            ),
            container_statuses: Some(vec![ContainerStatus {
                name: "app".to_owned(),
                ready,
                restart_count: 0,
                image: String::new(),
                image_id: String::new(),
                state: waiting.map(|reason| ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.to_owned()),
                        message: None,
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
    }
}

async fn cluster(workspace: &Workspace, app_pod: Pod) -> MockApi {
    let api = MockApi::start().await;
    workspace.use_cluster(&api.url());
    api.serve_pods(&workspace.namespace(), vec![app_pod]).await;
    api.serve_pods(
        "observability",
        vec![pod("observability", "prometheus-0", true, None)],
    )
    .await;
    api
}

#[tokio::test]
async fn status_passes_when_releases_are_deployed_and_pods_ready() {
    let workspace = Workspace::with_endpoint("http://127.0.0.1:9");
    let project = workspace.project.clone();
    workspace
        .tools
        .add(
            "helm",
            &helm(&format!(
                r#"[{{"name":"{project}","namespace":"{project}","revision":"3","updated":"x","status":"deployed","chart":"shopstack-app-0.1.0","app_version":"0.1.0"}}]"#
            )),
        )
        .expect("helm stand-in");
    let api = cluster(&workspace, pod(&project, "web-1", true, None)).await;

    let output = workspace.run(&["status"]).await;
    assert_exit(&output, 0);
    let table = stdout(&output);
    assert!(
        table.contains(&format!("release  {project}/{project}")),
        "{table}"
    );
    assert!(
        table.contains("deployed             shopstack-app-0.1.0 revision 3"),
        "{table}"
    );
    assert!(table.contains("ready 1/1 restarts 0"), "{table}");
    assert!(
        table.ends_with("every release deployed, every pod ready\n"),
        "{table}"
    );
    assert_eq!(
        workspace.tools.calls_of("helm")[0],
        [
            "list",
            "--all",
            "--namespace",
            &project,
            "--output",
            "json",
            "--kube-context",
            &workspace.kube_context()
        ]
    );
    assert_eq!(api.writes().await, []);
}

#[tokio::test]
async fn a_missing_release_and_a_pod_not_ready_fail_the_status() {
    let workspace = Workspace::with_endpoint("http://127.0.0.1:9");
    let project = workspace.project.clone();
    workspace
        .tools
        .add("helm", &helm("[]"))
        .expect("helm stand-in");
    cluster(
        &workspace,
        pod(&project, "web-1", false, Some("ImagePullBackOff")),
    )
    .await;

    let output = workspace.run(&["status"]).await;
    assert_exit(&output, 1);
    let table = stdout(&output);
    assert!(table.contains(&format!("{project}/{project}")), "{table}");
    assert!(table.contains("missing"), "{table}");
    assert!(table.contains("ImagePullBackOff"), "{table}");
    assert_eq!(
        stderr(&output),
        "error: 2 release(s) or pod(s) not deployed or not ready\n"
    );
}
