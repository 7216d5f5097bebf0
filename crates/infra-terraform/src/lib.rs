//! The AWS foundation of a ShopStack environment: state backend, secret, ECR, CodeBuild, GitHub OIDC.

pub mod cli;
