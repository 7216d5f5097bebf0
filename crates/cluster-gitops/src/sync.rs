//! GitOps sync: server-side apply (field manager `shopstack`) of every manifest in a directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{GroupVersion, GroupVersionKind};
use kube::discovery::{self, ApiCapabilities, ApiResource, Scope};
use thiserror::Error;

use crate::FIELD_MANAGER;
use crate::kubeconfig::Connection;

/// Errors from reading or applying manifests.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The directory (or a file in it) could not be read.
    #[error("{}: cannot read", path.display())]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no manifest.
    #[error("{}: no manifests (*.yaml, *.yml, *.json)", dir.display())]
    Empty {
        /// The directory.
        dir: PathBuf,
    },
    /// A file is not YAML or JSON.
    #[error("{}: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// The parser's message, with its line.
        message: String,
    },
    /// A document is not a Kubernetes object.
    #[error("{}: document {document}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based document number in the file.
        document: usize,
        /// What is missing or wrong.
        message: String,
    },
    /// Discovery of a group version failed (not served, or the request failed).
    #[error("{}: document {document}: discover {api_version} at {server}", file.display())]
    Discovery {
        /// The file.
        file: PathBuf,
        /// 1-based document number in the file.
        document: usize,
        /// The group version asked for.
        api_version: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The group version is served but has no such kind.
    #[error("{}: document {document}: {api_version} {kind} is not served by {server}", file.display())]
    UnknownKind {
        /// The file.
        file: PathBuf,
        /// 1-based document number in the file.
        document: usize,
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
        /// The API server.
        server: String,
    },
    /// A CustomResourceDefinition did not become Established in time, or its names were refused.
    #[error("customresourcedefinition {name} on {server}: {message}")]
    CrdNotEstablished {
        /// The CRD's name.
        name: String,
        /// The API server.
        server: String,
        /// What its conditions say.
        message: String,
    },
    /// Reading a CustomResourceDefinition back failed.
    #[error("read customresourcedefinition {name} from {server}")]
    CrdRead {
        /// The CRD's name.
        name: String,
        /// The API server.
        server: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused the apply.
    #[error("{}: document {document}: apply {kind} {name}", file.display())]
    Apply {
        /// The file.
        file: PathBuf,
        /// 1-based document number in the file.
        document: usize,
        /// Its kind.
        kind: String,
        /// `namespace/name` or `name`.
        name: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
}

/// One Kubernetes object read from a file.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it came from.
    pub file: PathBuf,
    /// 1-based document number in the file.
    pub document: usize,
    /// Its group, version and kind.
    pub gvk: GroupVersionKind,
    /// The object as written.
    pub object: DynamicObject,
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Its kind.
    pub kind: String,
    /// `namespace/name` or `name`.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
}

/// Reads every `*.yaml`, `*.yml` and `*.json` under `dir` (recursively, in path order), every
/// document of each, and checks that each is a Kubernetes object. Nothing is sent.
pub fn read_dir(dir: &Path) -> Result<Vec<Manifest>, SyncError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| SyncError::Read {
            path: file.clone(),
            source,
        })?;
        let documents: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(&text, kubectl_yaml()).map_err(|error| {
                SyncError::Parse {
                    file: file.clone(),
                    message: error.without_snippet().to_string().replace('\n', " "),
                }
            })?;
        for (index, document) in documents.into_iter().enumerate() {
            if document.is_null() {
                continue;
            }
            manifests.push(manifest(&file, index + 1, document)?);
        }
    }
    if manifests.is_empty() {
        return Err(SyncError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    // Namespaces and CRDs first, so the objects that live in them can be applied.
    manifests.sort_by_key(|manifest| match manifest.gvk.kind.as_str() {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ => 2,
    });
    Ok(manifests)
}

/// YAML as kubectl reads manifests (go-yaml, YAML 1.1): `0644` is octal, 420.
fn kubectl_yaml() -> serde_saphyr::Options {
    serde_saphyr::options! { legacy_octal_numbers: true }
}

/// The fields the API server sets, which kubectl's exported YAML carries and an apply must not
/// send: a stale `resourceVersion` or `uid` makes the apply conflict, and `managedFields`,
/// `creationTimestamp` and `status` are not the writer's to set.
const SERVER_FIELDS: [&str; 6] = [
    "resourceVersion",
    "uid",
    "managedFields",
    "creationTimestamp",
    "generation",
    "selfLink",
];

fn strip_server_fields(value: &mut serde_json::Value) {
    if let Some(object) = value.as_object_mut() {
        object.remove("status");
        if let Some(metadata) = object
            .get_mut("metadata")
            .and_then(serde_json::Value::as_object_mut)
        {
            for field in SERVER_FIELDS {
                metadata.remove(field);
            }
        }
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), SyncError> {
    let read_error = |source| SyncError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| matches!(extension, "yaml" | "yml" | "json"))
        {
            files.push(path);
        }
    }
    Ok(())
}

fn manifest(
    file: &Path,
    document: usize,
    mut value: serde_json::Value,
) -> Result<Manifest, SyncError> {
    let invalid = |message: String| SyncError::Invalid {
        file: file.to_path_buf(),
        document,
        message,
    };
    if !value.is_object() {
        return Err(invalid("is not a mapping".to_owned()));
    }
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let api_version =
        text("/apiVersion").ok_or_else(|| invalid("missing apiVersion".to_owned()))?;
    let kind = text("/kind").ok_or_else(|| invalid("missing kind".to_owned()))?;
    if text("/metadata/name").is_none() {
        return Err(invalid(format!("{kind}: missing metadata.name")));
    }
    if kind.ends_with("List") {
        return Err(invalid(format!(
            "{kind}: lists are not applied: write one object per document"
        )));
    }
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version.as_str()),
    };
    let gvk = GroupVersionKind::gvk(group, version, &kind);
    strip_server_fields(&mut value);
    let object: DynamicObject =
        serde_json::from_value(value).map_err(|error| invalid(format!("{kind}: {error}")))?;
    Ok(Manifest {
        file: file.to_path_buf(),
        document,
        gvk,
        object,
    })
}

/// How long a CustomResourceDefinition may take to become Established.
const CRD_ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long discovery may take to serve a group whose CRDs this sync just applied.
const CRD_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an aggregated API that answers 503 (not available yet) is asked again.
const UNAVAILABLE_RETRY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between reads while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Applies every manifest in order, resolving each kind once through discovery, and pushes each
/// applied object onto `applied` as it goes (what was applied before a failure stays there);
/// stops at the first refusal. CRDs are waited for until Established before any object after
/// them, so that their custom resources apply in the same sync.
pub async fn apply(
    connection: &Connection,
    manifests: &[Manifest],
    applied: &mut Vec<Applied>,
) -> Result<(), SyncError> {
    let mut discovery = Discovery::default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    // CRDs applied and not yet seen Established; the groups they define.
    let mut pending_crds: Vec<String> = Vec::new();
    let mut crd_groups: BTreeSet<String> = BTreeSet::new();
    for manifest in manifests {
        let is_crd = is_crd(&manifest.gvk);
        if !is_crd && !pending_crds.is_empty() {
            for name in pending_crds.drain(..) {
                wait_established(connection, &name).await?;
            }
        }
        let patience = if crd_groups.contains(&manifest.gvk.group) {
            CRD_DISCOVERY_TIMEOUT
        } else {
            Duration::ZERO
        };
        let (resource, scope) = discovery.resolve(connection, manifest, patience).await?;
        let name = manifest.object.metadata.name.clone().unwrap_or_default();
        let (api, shown): (Api<DynamicObject>, String) = match scope {
            Scope::Namespaced => {
                let namespace = manifest
                    .object
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| connection.client.default_namespace().to_owned());
                (
                    Api::namespaced_with(connection.client.clone(), &namespace, &resource),
                    format!("{namespace}/{name}"),
                )
            }
            Scope::Cluster => (
                Api::all_with(connection.client.clone(), &resource),
                name.clone(),
            ),
        };
        api.patch(&name, &params, &Patch::Apply(&manifest.object))
            .await
            .map_err(|source| SyncError::Apply {
                file: manifest.file.clone(),
                document: manifest.document,
                kind: manifest.gvk.kind.clone(),
                name: shown.clone(),
                source: Box::new(source),
            })?;
        if is_crd {
            pending_crds.push(name);
            if let Some(group) = manifest.object.data["spec"]["group"].as_str() {
                crd_groups.insert(group.to_owned());
            }
        }
        applied.push(Applied {
            kind: manifest.gvk.kind.clone(),
            name: shown,
            file: manifest.file.clone(),
        });
    }
    for name in pending_crds {
        wait_established(connection, &name).await?;
    }
    Ok(())
}

fn is_crd(gvk: &GroupVersionKind) -> bool {
    gvk.group == "apiextensions.k8s.io" && gvk.kind == "CustomResourceDefinition"
}

/// Waits until CRD `name` is `Established` with its names accepted; a refusal of its names (a
/// conflict with another CRD's) fails at once with the API server's message.
async fn wait_established(connection: &Connection, name: &str) -> Result<(), SyncError> {
    let api: Api<CustomResourceDefinition> = Api::all(connection.client.clone());
    let deadline = tokio::time::Instant::now() + CRD_ESTABLISH_TIMEOUT;
    loop {
        let crd = api.get(name).await.map_err(|source| SyncError::CrdRead {
            name: name.to_owned(),
            server: connection.server.clone(),
            source: Box::new(source),
        })?;
        let conditions = crd
            .status
            .and_then(|status| status.conditions)
            .unwrap_or_default();
        let condition = |kind: &str| conditions.iter().find(|condition| condition.type_ == kind);
        let is_true =
            |kind: &str| condition(kind).is_some_and(|condition| condition.status == "True");
        let not_established = |message: String| SyncError::CrdNotEstablished {
            name: name.to_owned(),
            server: connection.server.clone(),
            message,
        };
        if let Some(refused) = condition("NamesAccepted").filter(|c| c.status == "False") {
            return Err(not_established(format!(
                "names not accepted: {}",
                refused.message.as_deref().unwrap_or("no reason given")
            )));
        }
        if is_true("Established") && is_true("NamesAccepted") {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let shown: Vec<String> = conditions
                .iter()
                .map(|condition| format!("{}={}", condition.type_, condition.status))
                .collect();
            return Err(not_established(format!(
                "not Established after {}s (conditions: {})",
                CRD_ESTABLISH_TIMEOUT.as_secs(),
                if shown.is_empty() {
                    "none".to_owned()
                } else {
                    shown.join(", ")
                }
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Discovery once per group version: the resources each serves, with their scope.
#[derive(Default)]
struct Discovery {
    served: BTreeMap<String, Vec<(ApiResource, ApiCapabilities)>>,
}

impl Discovery {
    /// The resource and scope of `manifest`'s kind. A group version not served yet (404) or a
    /// kind missing from it is asked again for up to `patience` (the group of a CRD just
    /// applied); an aggregated API still starting (503) for a few seconds.
    async fn resolve(
        &mut self,
        connection: &Connection,
        manifest: &Manifest,
        patience: Duration,
    ) -> Result<(ApiResource, Scope), SyncError> {
        let api_version = manifest.gvk.api_version();
        let deadline = tokio::time::Instant::now() + patience;
        let unavailable_deadline = tokio::time::Instant::now() + UNAVAILABLE_RETRY_TIMEOUT;
        loop {
            let now = tokio::time::Instant::now();
            if !self.served.contains_key(&api_version) {
                let group_version = GroupVersion::gv(&manifest.gvk.group, &manifest.gvk.version);
                match discovery::pinned_group(&connection.client, &group_version).await {
                    Ok(group) => {
                        self.served.insert(
                            api_version.clone(),
                            group.versioned_resources(&manifest.gvk.version),
                        );
                    }
                    Err(kube::Error::Api(status))
                        if (status.code == 404 && now < deadline)
                            || (status.code == 503 && now < unavailable_deadline) =>
                    {
                        tokio::time::sleep(POLL_INTERVAL).await;
                        continue;
                    }
                    Err(source) => {
                        return Err(SyncError::Discovery {
                            file: manifest.file.clone(),
                            document: manifest.document,
                            api_version,
                            server: connection.server.clone(),
                            source: Box::new(source),
                        });
                    }
                }
            }
            let found = self.served.get(&api_version).and_then(|resources| {
                resources
                    .iter()
                    .find(|(resource, _)| resource.kind == manifest.gvk.kind)
            });
            if let Some((resource, capabilities)) = found {
                return Ok((resource.clone(), capabilities.scope.clone()));
            }
            if now >= deadline {
                return Err(SyncError::UnknownKind {
                    file: manifest.file.clone(),
                    document: manifest.document,
                    api_version,
                    kind: manifest.gvk.kind.clone(),
                    server: connection.server.clone(),
                });
            }
            // Served, but without this kind yet: discover the group version again.
            self.served.remove(&api_version);
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn every_document_of_every_manifest_file_is_read_namespaces_first() {
        let dir = dir_with(&[
            (
                "app.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
            ),
            (
                "base/ns.yml",
                "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
            ),
            ("notes.txt", "not a manifest"),
        ]);
        let manifests = read_dir(dir.path()).unwrap();
        let seen: Vec<(String, String, usize)> = manifests
            .iter()
            .map(|m| (m.gvk.api_version(), m.gvk.kind.clone(), m.document))
            .collect();
        assert_eq!(
            seen,
            [
                ("v1".to_owned(), "Namespace".to_owned(), 1),
                ("apps/v1".to_owned(), "Deployment".to_owned(), 1),
                ("v1".to_owned(), "Service".to_owned(), 2),
            ]
        );
    }

    #[test]
    fn a_document_without_a_name_is_named_by_file_and_number() {
        let dir = dir_with(&[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
        )]);
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: document 2: ConfigMap: missing metadata.name",
                dir.path().join("cm.yaml").display()
            )
        );
    }

    #[test]
    fn an_empty_directory_is_an_error() {
        let dir = dir_with(&[("readme.md", "# nothing")]);
        assert!(matches!(read_dir(dir.path()), Err(SyncError::Empty { .. })));
    }
}
