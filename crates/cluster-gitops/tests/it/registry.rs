//! The local registry of the shipped configuration, for real: the registry program in its
//! container on 127.0.0.1:5001, the announcing ConfigMap as the API server stores it, an image
//! pushed there and run by a kubelet that pulled it from there, `status` and `delete`. One test:
//! the registry is one per machine, on a fixed port.

use std::process::Command;
use std::time::{Duration, Instant};

use cluster_gitops::registry;
use shopstack_testkit::cluster::{self, components};

use crate::{CONTEXT, Workspace, shipped_with_registry, stderr, stdout, tools};

/// The image the test pushes and runs.
const PROBE: &str = "localhost:5001/shop-registry-probe:1";

fn docker_ok(docker: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(docker)
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn create_runs_the_local_registry_the_kubelet_pulls_from_and_delete_removes_it() {
    let workspace = Workspace::new();
    std::fs::write(
        workspace.path().join("kind-config.yaml"),
        shipped_with_registry(),
    )
    .expect("write kind-config.yaml");
    let Some(_clusters) = tools::install_real(&workspace, "") else {
        return;
    };
    let docker = components::on_path("docker").expect("docker");
    // The real docker in place of the stand-in: the registry is a real container.
    workspace
        .tools
        .add("docker", &format!("exec '{}' \"$@\"", docker.display()))
        .expect("docker");
    // The configured image, built here because none can be pulled (see build_registry_image).
    let _registry = cluster::LocalRegistry::fresh(registry::CONTAINER, registry::IMAGE)
        .expect("the registry image");

    let created = workspace.run(&["create"]).await;
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    assert!(
        stderr(&created).contains(
            "local registry kind-registry: created on 127.0.0.1:5001 (images: localhost:5001/NAME:TAG)"
        ),
        "{}",
        stderr(&created)
    );
    assert!(registry::answers(), "GET http://127.0.0.1:5001/v2/");
    let published = docker_ok(
        &docker,
        &[
            "inspect",
            "--format",
            "{{json .HostConfig.PortBindings}}",
            registry::CONTAINER,
        ],
    );
    assert!(
        published.contains(r#""HostIp":"127.0.0.1","HostPort":"5001""#),
        "loopback only: {published}"
    );
    let hosting = cluster::stored_object(
        &workspace.kubeconfig(),
        registry::HOSTING_NAMESPACE,
        "configmap",
        registry::HOSTING_NAME,
    );
    assert_eq!(
        hosting["data"][registry::HOSTING_KEY],
        "host: \"localhost:5001\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
    );

    // An image pushed to the registry, then run: the kubelet's engine pulls it from there.
    cluster::build_app_stand_in(PROBE, true).expect("the probe image");
    docker_ok(&docker, &["push", PROBE]);
    let mut kubectl = cluster::kubectl_command(&workspace.kubeconfig());
    let run = kubectl
        .args([
            "--context",
            CONTEXT,
            "run",
            "registry-probe",
            "--restart=Never",
        ])
        .arg(format!("--image={PROBE}"))
        .output()
        .expect("kubectl run");
    assert!(run.status.success(), "{run:?}");
    let started = Instant::now();
    let pod = loop {
        let pod =
            cluster::stored_object(&workspace.kubeconfig(), "default", "pod", "registry-probe");
        if pod["status"]["phase"] == "Running" {
            break pod;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the probe pod is not running: {}",
            pod["status"]
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let image_id = pod["status"]["containerStatuses"][0]["imageID"]
        .as_str()
        .unwrap_or_default();
    assert!(
        image_id.contains("localhost:5001/shop-registry-probe@sha256:"),
        "pulled from the registry: {image_id}"
    );

    let status = workspace.run(&["status"]).await;
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
    assert!(
        stdout(&status).contains(
            "local registry: kind-registry on 127.0.0.1:5001 answers; announced in kube-public/local-registry-hosting"
        ),
        "{}",
        stdout(&status)
    );

    let deleted = workspace.run(&["delete"]).await;
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    assert!(
        stdout(&deleted).contains("local registry kind-registry removed"),
        "{}",
        stdout(&deleted)
    );
    let inspect = Command::new(&docker)
        .args(["inspect", registry::CONTAINER])
        .output()
        .expect("docker inspect");
    assert!(!inspect.status.success(), "the registry container is gone");
    assert!(!registry::answers());
}
