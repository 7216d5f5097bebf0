//! `export-terraform`: Terraform configuration with an `import {}` block for every live resource
//! of an environment, written from what AWS reports, so that `terraform plan` there shows only
//! imports: the way out to Terraform, and a proof that both tools see the same resources.
//!
//! It reads AWS only as a plan does (the engine's `observe`): each resource gives its own
//! Terraform form from what its read observed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::context::Context;
use crate::engine::{self, EngineError, Observed};
use crate::hcl::Block;
use crate::resources;

/// Errors of exporting.
#[derive(Debug, Error)]
pub enum ExportError {
    /// Reading the live resources failed.
    #[error(transparent)]
    Read(#[from] EngineError),
    /// Writing a file failed.
    #[error("write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The configuration to write.
pub struct Export {
    /// File name → content.
    pub files: Vec<(&'static str, String)>,
    /// Resources with an import block.
    pub imported: usize,
    /// Resources of the environment that do not exist, so are not exported.
    pub missing: Vec<String>,
}

/// Reads every resource of the environment and writes its configuration.
pub async fn export(context: &Arc<Context>) -> Result<Export, ExportError> {
    let observed = engine::observe(resources::all(context)).await?;
    Ok(assemble(context, &observed))
}

/// The configuration of what was observed: each live resource's Terraform form, in plan order.
fn assemble(context: &Context, observed: &[Observed]) -> Export {
    let mut text = format!(
        "# The live resources of the ShopStack environment \"{}\" (account {}, {}), with an import\n# block each: `terraform plan` here shows only imports. Written by `infra-terraform export-terraform`.\n",
        context.names.environment(),
        context.account(),
        context.region()
    );
    let mut imported = 0;
    let mut missing = Vec::new();
    for Observed { resource, live } in observed {
        let importables = live
            .as_ref()
            .map(|live| resource.terraform(live))
            .unwrap_or_default();
        if importables.is_empty() {
            missing.push(format!("{} {}", resource.terraform_type(), resource.id()));
        }
        for importable in importables {
            text.push('\n');
            text.push_str(&importable.render());
            imported += 1;
        }
    }
    Export {
        files: vec![("providers.tf", providers(context)), ("main.tf", text)],
        imported,
        missing,
    }
}

/// Writes the files into `dir`, creating it.
pub fn write(dir: &Path, export: &Export) -> Result<(), ExportError> {
    let error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(error(dir))?;
    for (name, text) in &export.files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(error(&path))?;
    }
    Ok(())
}

/// `terraform { required_providers }` and the AWS provider of the environment; on a custom
/// endpoint every service goes there, and on a local emulator nothing real is checked.
fn providers(context: &Context) -> String {
    let required =
        Block::new("terraform", &[]).block(Block::new("required_providers", &[]).attribute(
            "aws",
            "{\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }",
        ));
    let mut provider = Block::new("provider", &["aws"]).string("region", context.region());
    if let Some((endpoint, _)) = context.session.endpoint() {
        if endpoint.is_loopback() {
            for flag in [
                "skip_credentials_validation",
                "skip_metadata_api_check",
                "skip_region_validation",
                "skip_requesting_account_id",
            ] {
                provider = provider.attribute(flag, "true");
            }
        }
        provider = provider.attribute("s3_use_path_style", "true");
        let mut endpoints = Block::new("endpoints", &[]);
        for service in [
            "codebuild",
            "dynamodb",
            "ecr",
            "iam",
            "s3",
            "secretsmanager",
            "sts",
        ] {
            endpoints = endpoints.string(service, endpoint.url());
        }
        provider = provider.block(endpoints);
    }
    if let Some(bundle) = context.ca_bundle() {
        provider = provider.string("custom_ca_bundle", &bundle);
    }
    format!("{}\n{}", required.render(0), provider.render(0))
}
