//! `cargo xtask test`: the whole test suite against a private AWS emulator.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use xshell::{Shell, cmd};

use crate::emulator::{self, Emulator};

/// Flags of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Extra arguments for `cargo test` (e.g. a test name filter, or `-- --nocapture`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<String>,
}

/// Starts moto on a free loopback port, runs `cargo test --workspace` with its endpoint in
/// `SHOPSTACK_TEST_AWS_ENDPOINT`, and stops it whatever the outcome.
pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    emulator::ensure_installed(sh)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, emulator::free_port()?));
    let log = crate::state_dir().join(format!("moto-test-{}.log", address.port()));
    let emulator = Emulator::start(address, &log, false)?;
    let guard = StopOnDrop(emulator);
    eprintln!(
        "AWS emulator answering at {} (log: {})",
        guard.0.url(),
        log.display()
    );

    let cargo_args = &args.cargo_args;
    let result = cmd!(sh, "cargo test --workspace {cargo_args...}")
        .env("SHOPSTACK_TEST_AWS_ENDPOINT", guard.0.url())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SHOPSTACK_ENV")
        .run();
    drop(guard);
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("error: tests failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Stops the emulator when the test run ends, on success, failure or panic alike.
struct StopOnDrop(Emulator);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}
