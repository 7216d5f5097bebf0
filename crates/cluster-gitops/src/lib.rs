//! The local Kind cluster of ShopStack: lifecycle, readiness validation, repeatability, GitOps sync.

pub mod cli;
