//! `backend-config`: the Terraform S3 backend block that points plain `terraform init` at an
//! environment's state bucket, key and lock, including a local emulator's endpoints.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::context::Context;
use crate::hcl;

/// Where Terraform keeps its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStorage {
    /// An item in the environment's DynamoDB lock table (`dynamodb_table`).
    Dynamodb,
    /// A `.tflock` object beside the state (`use_lockfile = true`).
    Lockfile,
}

/// Errors of writing the backend configuration.
#[derive(Debug, Error)]
#[error("write {}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The default file: `envs/<env>/backend.tf` beside `shopstack.toml`.
pub fn default_path(context: &Context) -> PathBuf {
    context
        .config
        .path
        .parent()
        .unwrap_or(Path::new(""))
        .join("envs")
        .join(context.names.environment())
        .join("backend.tf")
}

/// The `terraform { backend "s3" { … } }` block of the environment.
pub fn render(context: &Context, storage: LockStorage) -> String {
    let names = &context.names;
    let mut settings = vec![
        ("bucket", hcl::string(&names.state_bucket())),
        ("key", hcl::string(&names.state_key())),
        ("region", hcl::string(context.region())),
        ("encrypt", "true".to_owned()),
    ];
    // With `encrypt` and no key, the backend asks S3 for AES256 on each object, not the bucket's
    // SSE-KMS: the environment's key is named so that the state is encrypted with it.
    if let Some(key) = context.kms_key_arn() {
        settings.push(("kms_key_id", hcl::string(key)));
    }
    match storage {
        LockStorage::Dynamodb => {
            settings.push(("dynamodb_table", hcl::string(&names.lock_table())))
        }
        LockStorage::Lockfile => settings.push(("use_lockfile", "true".to_owned())),
    }
    let mut text = format!(
        "# Terraform state of the ShopStack environment \"{}\" (account {}), written by\n# `infra-terraform backend-config`.\nterraform {{\n  backend \"s3\" {{\n",
        names.environment(),
        context.account()
    );
    text.push_str(&hcl::attributes(&settings, 4));
    if let Some((endpoint, _)) = context.session.endpoint() {
        let url = hcl::string(endpoint.url());
        text.push_str(&format!(
            "\n    # The custom endpoint {}: every service there, and path-style S3 (no per-bucket DNS).\n    endpoints = {{\n",
            endpoint.url()
        ));
        let services: Vec<(&str, String)> = ["dynamodb", "iam", "s3", "sts"]
            .into_iter()
            .map(|service| (service, url.clone()))
            .collect();
        text.push_str(&hcl::attributes(&services, 6));
        text.push_str("    }\n");
        let mut flags = vec![("use_path_style", "true".to_owned())];
        if endpoint.is_loopback() {
            // An emulator: no real credentials, account or instance metadata to check.
            flags.extend(
                [
                    "skip_credentials_validation",
                    "skip_metadata_api_check",
                    "skip_region_validation",
                    "skip_requesting_account_id",
                ]
                .map(|flag| (flag, "true".to_owned())),
            );
        }
        text.push_str(&hcl::attributes(&flags, 4));
    }
    if let Some(bundle) = context.ca_bundle() {
        text.push_str("\n    # The CA that signs the endpoint's certificate.\n");
        text.push_str(&hcl::attributes(
            &[("custom_ca_bundle", hcl::string(&bundle))],
            4,
        ));
    }
    text.push_str("  }\n}\n");
    text
}

/// Writes `text` to `path`, creating its directory.
pub fn write(path: &Path, text: &str) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::fs::write(path, text).map_err(error)
}
