//! The `helm upgrade --install` argv the tests expect `apps-sre deploy` to run, in one place.

/// The chart of the observability stack, as vendored.
const OBSERVABILITY_CHART: &str = "deploy/observability/kube-prometheus-stack-67.8.0.tgz";

/// `upgrade --install RELEASE CHART --namespace NAMESPACE --create-namespace`, then `--values`
/// where given, one `--set` for each of `sets`, and the atomic wait on `context`.
fn upgrade(
    release: &str,
    chart: &str,
    namespace: &str,
    values: Option<&str>,
    sets: &[String],
    context: &str,
) -> Vec<String> {
    let mut argv: Vec<String> = [
        "upgrade",
        "--install",
        release,
        chart,
        "--namespace",
        namespace,
        "--create-namespace",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(values) = values {
        argv.extend(["--values".to_owned(), values.to_owned()]);
    }
    for set in sets {
        argv.extend(["--set".to_owned(), set.clone()]);
    }
    argv.extend(
        [
            "--atomic",
            "--wait",
            "--timeout",
            "600s",
            "--kube-context",
            context,
        ]
        .map(str::to_owned),
    );
    argv
}

/// The observability stack's upgrade; Grafana on `node_port` where given.
pub fn observability_upgrade(node_port: Option<u16>, context: &str) -> Vec<String> {
    let sets: Vec<String> = node_port
        .map(|port| {
            vec![
                "grafana.service.type=NodePort".to_owned(),
                format!("grafana.service.nodePort={port}"),
            ]
        })
        .unwrap_or_default();
    upgrade(
        "kube-prometheus-stack",
        OBSERVABILITY_CHART,
        "observability",
        Some("deploy/observability/values.yaml"),
        &sets,
        context,
    )
}

/// The app release as `deploy app` installs it on the `local` environment.
pub struct AppRelease<'a> {
    /// Release and namespace: the project's name.
    pub project: &'a str,
    /// The image repository.
    pub repository: &'a str,
    /// The image tag.
    pub tag: &'a str,
    /// The synced `app-config` Secret's resource version.
    pub config_version: &'a str,
    /// Whether the image comes from the local registry (no pull secret).
    pub local_registry: bool,
    /// The app's service on this node port, where given.
    pub node_port: Option<u16>,
}

impl AppRelease<'_> {
    /// Its upgrade on `context`.
    pub fn upgrade(&self, context: &str) -> Vec<String> {
        let mut sets = vec![
            format!("image.repository={}", self.repository),
            format!("image.tag={}", self.tag),
            "environment=local".to_owned(),
        ];
        if self.local_registry {
            sets.push("imagePullSecrets=null".to_owned());
        }
        sets.push(format!("configVersion={}", self.config_version));
        if let Some(port) = self.node_port {
            sets.push("service.type=NodePort".to_owned());
            sets.push(format!("service.nodePort={port}"));
        }
        upgrade(
            self.project,
            "deploy/charts/shopstack-app",
            self.project,
            None,
            &sets,
            context,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_stand_between_the_values_and_the_wait() {
        assert_eq!(
            observability_upgrade(Some(30300), "kind-x").join(" "),
            format!(
                "upgrade --install kube-prometheus-stack {OBSERVABILITY_CHART} --namespace observability --create-namespace --values deploy/observability/values.yaml --set grafana.service.type=NodePort --set grafana.service.nodePort=30300 --atomic --wait --timeout 600s --kube-context kind-x"
            )
        );
    }
}
