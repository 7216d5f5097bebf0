//! Test support shared by the ShopStack crates: the emulator endpoint, unique names, probes,
//! a real test cluster, stand-in executables, Kubernetes objects for the remaining mock-API tests.

pub mod account;
pub mod aws_answers;
pub mod cluster;
pub mod cluster_tools;
pub mod emulator;
pub mod helm_argv;
#[cfg(feature = "kube-api")]
pub mod kube_api;
pub mod listener;
pub mod project;
pub mod proxy;
pub mod sdk;
pub mod secure_transport;
pub mod standin;
pub mod tls;

pub use account::Account;
pub use aws_answers::{AwsAnswer, real_aws};
pub use emulator::Emulator;
pub use listener::ConnectionCounter;
pub use listener::SilentServer;
pub use project::{TestProject, unique_project_name};
pub use proxy::{Behaviour, Fault, Hold, Lift, Proxy, Request};
pub use standin::StandIns;
pub use tls::EmulatorTls;

/// Environment variable through which `cargo xtask test` hands the tests its emulator.
pub const EMULATOR_VARIABLE: &str = "SHOPSTACK_TEST_AWS_ENDPOINT";

/// The AWS emulator the test run started. Tests that need AWS fail loudly without it rather than
/// skip: run them with `cargo xtask test`.
pub fn emulator_endpoint() -> String {
    match std::env::var(EMULATOR_VARIABLE) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{EMULATOR_VARIABLE} is not set: run the tests with `cargo xtask test`, which starts the AWS emulator"
        ),
    }
}
