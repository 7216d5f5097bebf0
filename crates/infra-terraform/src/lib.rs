//! The AWS foundation of a ShopStack environment: state backend, secret, ECR, CodeBuild, GitHub OIDC.

pub mod cli;
pub mod commands;
pub mod context;
pub mod engine;
pub mod policies;
pub mod prompt;
pub mod resource;
pub mod resources;
pub mod secret_value;
