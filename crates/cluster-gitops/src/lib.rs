//! The local Kind cluster of ShopStack: lifecycle, readiness validation, repeatability, GitOps sync.

pub mod cli;
pub mod cluster;
pub mod kind;
pub mod kind_config;
pub mod kubeconfig;
pub mod proxy;
pub mod registry;
pub mod repeat;
pub mod spec;
pub mod sync;
pub mod validate;

/// Field manager of every server-side apply ShopStack makes.
pub const FIELD_MANAGER: &str = "shopstack";
