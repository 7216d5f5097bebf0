//! `argocd render`: Argo CD `Application` manifests for the releases `deploy` installs, the GitOps
//! way to run the same charts with the same values.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use thiserror::Error;

use crate::releases::{Chart, Release};
use crate::secret_apply::MANAGED_BY_LABEL;

/// Namespace Argo CD runs in and reads Applications from.
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// The in-cluster API server, as Argo CD names it.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";
/// Finalizer that makes deleting an Application delete its resources.
pub const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Errors from rendering or writing the manifests.
#[derive(Debug, Error)]
pub enum ArgocdError {
    /// The YAML serializer failed.
    #[error("render Application {name}: {message}")]
    Render {
        /// The Application.
        name: String,
        /// The serializer's message.
        message: String,
    },
    /// A manifest could not be written.
    #[error("{}: cannot write", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The git repository Argo CD reads the chart and values from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// Its clone URL.
    pub repo_url: String,
    /// The branch, tag or commit to follow.
    pub revision: String,
}

/// One rendered manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The file name to write it to: `NAME.yaml`.
    pub file_name: String,
    /// The YAML document.
    pub yaml: String,
}

/// The `Application` for `release`: chart and values from `git` (a chart repository for a
/// repository chart, with the values file from `git`), synced automatically with pruning.
pub fn application(release: &Release, git: &GitSource) -> Value {
    let parameters: Vec<Value> = release
        .set
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let mut helm = json!({"releaseName": release.name});
    if !parameters.is_empty() {
        helm["parameters"] = Value::Array(parameters);
    }
    let mut sync_options = vec!["CreateNamespace=true"];
    let sources = match &release.chart {
        Chart::Local { path } => {
            if !release.values_files.is_empty() {
                helm["valueFiles"] = json!(
                    release
                        .values_files
                        .iter()
                        .map(|file| relative_to(file, path))
                        .collect::<Vec<_>>()
                );
            }
            json!({"source": {
                "repoURL": git.repo_url,
                "targetRevision": git.revision,
                "path": path.display().to_string(),
                "helm": helm,
            }})
        }
        Chart::Repository {
            repo_url,
            chart,
            version,
            ..
        } => {
            // The CRDs of a repository chart like kube-prometheus-stack exceed the annotation
            // limit of client-side apply.
            sync_options.push("ServerSideApply=true");
            if !release.values_files.is_empty() {
                helm["valueFiles"] = json!(
                    release
                        .values_files
                        .iter()
                        .map(|file| format!("$values/{}", file.display()))
                        .collect::<Vec<_>>()
                );
            }
            json!({"sources": [
                {
                    "repoURL": repo_url,
                    "chart": chart,
                    "targetRevision": version,
                    "helm": helm,
                },
                {
                    "repoURL": git.repo_url,
                    "targetRevision": git.revision,
                    "ref": "values",
                },
            ]})
        }
    };
    let mut spec = json!({
        "project": "default",
        "destination": {"server": IN_CLUSTER, "namespace": release.namespace},
        "syncPolicy": {
            "automated": {"prune": true, "selfHeal": true},
            "syncOptions": sync_options,
        },
    });
    if let (Some(spec), Value::Object(sources)) = (spec.as_object_mut(), sources) {
        spec.extend(sources);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": release.name,
            "namespace": ARGOCD_NAMESPACE,
            "labels": {MANAGED_BY_LABEL: crate::FIELD_MANAGER},
            "finalizers": [RESOURCES_FINALIZER],
        },
        "spec": spec,
    })
}

/// A values file's path as Argo CD wants it for a chart at `chart`: relative to the chart.
fn relative_to(file: &Path, chart: &Path) -> String {
    match file.strip_prefix(chart) {
        Ok(inside) => inside.display().to_string(),
        Err(_) => {
            let depth = chart.components().count();
            format!("{}{}", "../".repeat(depth), file.display())
        }
    }
}

/// One YAML manifest per release.
pub fn render(releases: &[Release], git: &GitSource) -> Result<Vec<Rendered>, ArgocdError> {
    releases
        .iter()
        .map(|release| {
            let yaml = serde_saphyr::to_string(&application(release, git)).map_err(|error| {
                ArgocdError::Render {
                    name: release.name.clone(),
                    message: error.to_string(),
                }
            })?;
            Ok(Rendered {
                file_name: format!("{}.yaml", release.name),
                yaml,
            })
        })
        .collect()
}

/// Writes each manifest to `dir/NAME.yaml` (the directory created); returns the paths.
pub fn write(dir: &Path, rendered: &[Rendered]) -> Result<Vec<PathBuf>, ArgocdError> {
    std::fs::create_dir_all(dir).map_err(|source| ArgocdError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    rendered
        .iter()
        .map(|manifest| {
            let path = dir.join(&manifest.file_name);
            std::fs::write(&path, &manifest.yaml).map_err(|source| ArgocdError::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_files_are_relative_to_a_local_chart() {
        let chart = Path::new("deploy/charts/app");
        assert_eq!(
            relative_to(Path::new("deploy/charts/app/values-kind.yaml"), chart),
            "values-kind.yaml"
        );
        assert_eq!(
            relative_to(Path::new("deploy/values.yaml"), chart),
            "../../../deploy/values.yaml"
        );
    }
}
