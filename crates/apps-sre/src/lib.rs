//! Applications and observability on the ShopStack cluster: images, secrets, Helm releases, Argo CD.

pub mod app_image;
pub mod app_secret;
pub mod argocd;
pub mod build;
pub mod cli;
mod commands;
pub mod docker;
pub mod ecr_login;
pub mod exposure;
pub mod git;
pub mod grafana;
pub mod helm;
pub mod image;
pub mod pull_secret;
pub mod releases;
pub mod secret_apply;
pub mod secret_sync;
pub mod status;

/// Field manager of every server-side apply ShopStack makes.
pub const FIELD_MANAGER: &str = "shopstack";
