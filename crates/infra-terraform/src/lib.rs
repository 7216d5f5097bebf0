//! The AWS foundation of a ShopStack environment: state backend, secret, ECR, CodeBuild, GitHub OIDC.

pub mod backend_config;
pub mod cli;
pub mod commands;
pub mod context;
pub mod engine;
pub mod export;
pub mod hcl;
pub mod lock;
pub mod outputs;
pub mod policies;
pub mod prompt;
pub mod resource;
pub mod resources;
pub mod retry;
pub mod secret_value;
pub mod signals;
pub mod terraform_form;
pub mod workflows;
