//! `kubeconfig`: the cluster's credentials written with mode 0600, loose kubeconfigs warned about.

use crate::tools;
use crate::{Workspace, mode, stderr, stdout};

#[tokio::test]
async fn kubeconfig_out_writes_kinds_kubeconfig_with_mode_0600() {
    // What kind prints is all this needs: no cluster is asked anything.
    let server = "https://127.0.0.1:6443";
    let workspace = Workspace::new();
    tools::install(&workspace, server, "");
    let output = workspace
        .run(&["kubeconfig", "--out", "shop.kubeconfig"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = workspace.path().join("shop.kubeconfig");
    assert_eq!(mode(&written), 0o600);
    assert_eq!(
        std::fs::read_to_string(&written).expect("read"),
        crate::api::kubeconfig_text(&[(crate::CONTEXT, server)])
    );
    assert_eq!(
        workspace.tools.calls_of("kind"),
        [vec!["get", "kubeconfig", "--name", "shop"]]
    );
}

#[tokio::test]
async fn kubeconfig_exports_into_the_default_one_and_sets_0600() {
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", "");
    let output = workspace.run(&["kubeconfig"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(mode(&workspace.kubeconfig()), 0o600);
    assert_eq!(
        workspace.tools.calls_of("kind"),
        [vec!["export", "kubeconfig", "--name", "shop"]]
    );
    assert!(stdout(&output).contains("exported context kind-shop"));
}

#[tokio::test]
async fn a_group_readable_kubeconfig_in_use_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let workspace = Workspace::new();
    tools::install(&workspace, "http://127.0.0.1:9", "");
    let other = workspace.path().join("other.kubeconfig");
    std::fs::write(&other, "apiVersion: v1\nkind: Config\n").expect("write");
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let list = std::env::join_paths([workspace.kubeconfig(), other.clone()]).expect("join");
    let output = workspace
        .command()
        .env("KUBECONFIG", list)
        .args(["kubeconfig"])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "warning: {} has mode 0644: group or others can read cluster credentials (chmod 600 it)",
            other.display()
        )),
        "{}",
        stderr(&output)
    );
    // The warning changes nothing; the file ShopStack wrote is private.
    assert_eq!(mode(&other), 0o644);
    assert_eq!(mode(&workspace.kubeconfig()), 0o600);
}

#[tokio::test]
async fn the_kubeconfig_of_a_real_cluster_reaches_it_and_is_private() {
    let workspace = Workspace::new();
    let Some(_clusters) = tools::install_real(&workspace, "") else {
        return;
    };
    let created = workspace.run(&["create"]).await;
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    std::fs::remove_file(workspace.kubeconfig()).expect("forget the merged context");

    let output = workspace
        .run(&["kubeconfig", "--out", "shop.kubeconfig"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(mode(&workspace.path().join("shop.kubeconfig")), 0o600);
    let validated = workspace
        .run(&["validate", "--kubeconfig", "shop.kubeconfig"])
        .await;
    assert_eq!(validated.status.code(), Some(0), "{}", stderr(&validated));
    assert!(
        stdout(&validated).contains("nodes 2/2 ready"),
        "{}",
        stdout(&validated)
    );

    // Exported into the default kubeconfig: private, and the context works from there.
    let output = workspace.run(&["kubeconfig"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(mode(&workspace.kubeconfig()), 0o600);
    let validated = workspace.run(&["validate"]).await;
    assert_eq!(validated.status.code(), Some(0), "{}", stderr(&validated));
}
