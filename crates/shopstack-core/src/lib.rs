//! Shared ground of the ShopStack crates: configuration, naming, AWS session, plans, exit codes.

pub mod aws_call;
pub mod aws_rules;
pub mod cli;
pub mod command;
pub mod config;
pub mod emulator_compat;
pub mod endpoint;
pub mod error_chain;
pub mod exit;
pub mod location;
pub mod logging;
pub mod names;
pub mod plan;
pub mod secret;
pub mod session;
pub mod tls;

pub use aws_call::{AwsCallError, aws_call};
pub use config::{Config, ConfigError, Environment};
pub use exit::Exit;
pub use names::Names;
pub use secret::SecretValue;
pub use session::AwsSession;
