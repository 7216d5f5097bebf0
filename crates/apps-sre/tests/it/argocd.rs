//! `argocd render`: Application manifests for the releases `deploy` installs, parsed back.

use serde_json::{Value, json};

use crate::{Workspace, assert_exit, stdout};

fn parse(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

#[tokio::test]
async fn render_writes_one_application_per_release() {
    let workspace = Workspace::on_emulator();
    let uri = workspace.create_repository().await;
    let output = workspace
        .run(&["argocd", "render", "--tag", "v8", "--out", "gitops"])
        .await;
    assert_exit(&output, 0);
    let project = &workspace.project;
    assert_eq!(
        stdout(&output),
        format!("wrote gitops/kube-prometheus-stack.yaml\nwrote gitops/{project}.yaml\n")
    );

    let app = parse(
        &std::fs::read_to_string(workspace.path().join(format!("gitops/{project}.yaml")))
            .expect("app manifest"),
    );
    assert_eq!(
        app,
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": project,
                "namespace": "argocd",
                "labels": {"app.kubernetes.io/managed-by": "shopstack"},
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            },
            "spec": {
                "project": "default",
                "source": {
                    "repoURL": "https://github.com/acme/apps.git",
                    "targetRevision": "main",
                    "path": "deploy/charts/shopstack-app",
                    "helm": {
                        "releaseName": project,
                        "parameters": [
                            {"name": "image.repository", "value": uri},
                            {"name": "image.tag", "value": "v8"},
                            {"name": "environment", "value": "local"},
                        ],
                    },
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": project},
                "syncPolicy": {
                    "automated": {"prune": true, "selfHeal": true},
                    "syncOptions": ["CreateNamespace=true"],
                },
            },
        })
    );

    let observability = parse(
        &std::fs::read_to_string(workspace.path().join("gitops/kube-prometheus-stack.yaml"))
            .expect("observability manifest"),
    );
    assert_eq!(
        observability["spec"]["sources"],
        json!([
            {
                "repoURL": "https://prometheus-community.github.io/helm-charts",
                "chart": "kube-prometheus-stack",
                "targetRevision": "67.8.0",
                "helm": {
                    "releaseName": "kube-prometheus-stack",
                    "valueFiles": ["$values/deploy/observability/values.yaml"],
                },
            },
            {"repoURL": "https://github.com/acme/apps.git", "targetRevision": "main", "ref": "values"},
        ])
    );
    assert_eq!(
        observability["spec"]["destination"]["namespace"],
        "observability"
    );
    assert_eq!(
        observability["spec"]["syncPolicy"]["syncOptions"],
        json!(["CreateNamespace=true", "ServerSideApply=true"])
    );
}

#[tokio::test]
async fn render_without_out_prints_both_documents() {
    let workspace = Workspace::on_emulator();
    workspace.create_repository().await;
    let output = workspace
        .run(&[
            "argocd",
            "render",
            "--tag",
            "v9",
            "--repo-url",
            "https://git.example.com/shop.git",
            "--revision",
            "release-1",
        ])
        .await;
    assert_exit(&output, 0);
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&stdout(&output)).expect("YAML documents");
    let names: Vec<&str> = documents
        .iter()
        .map(|document| document["metadata"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["kube-prometheus-stack", workspace.project.as_str()]);
    assert_eq!(
        documents[1]["spec"]["source"]["repoURL"],
        "https://git.example.com/shop.git"
    );
    assert_eq!(
        documents[1]["spec"]["source"]["targetRevision"],
        "release-1"
    );
}
