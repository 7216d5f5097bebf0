//! `cargo xtask test`: the whole test suite against a private AWS emulator, with Terraform's
//! provider mirror located for the interoperability tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
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

    let mirror = std::env::var_os(MIRROR_VARIABLE)
        .map(PathBuf::from)
        .or_else(find_provider_mirror);
    match &mirror {
        Some(mirror) => eprintln!("Terraform provider mirror: {}", mirror.display()),
        None => eprintln!(
            "no Terraform provider mirror found (a directory holding registry.terraform.io/hashicorp/aws): the Terraform tests fail in CI and are skipped elsewhere"
        ),
    }

    let cargo_args = &args.cargo_args;
    let mut command = cmd!(sh, "cargo test --workspace {cargo_args...}");
    if let Some(mirror) = &mirror {
        command = command.env(MIRROR_VARIABLE, mirror);
    }
    let result = command
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

/// Environment variable naming the Terraform provider mirror for the tests.
const MIRROR_VARIABLE: &str = "SHOPSTACK_TF_PROVIDER_MIRROR";
/// How deep below each root the mirror is looked for.
const MIRROR_DEPTH: usize = 4;

/// A filesystem mirror of Terraform providers holding the AWS provider: the directory that
/// contains `registry.terraform.io/hashicorp/aws`, found within a few levels of the usual roots.
pub fn find_provider_mirror() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let roots = [
        Some(PathBuf::from("/opt")),
        Some(PathBuf::from("/usr/local")),
        Some(PathBuf::from("/usr/share")),
        home,
        Some(PathBuf::from("/")),
    ];
    roots
        .into_iter()
        .flatten()
        .find_map(|root| search(&root, MIRROR_DEPTH))
}

fn search(dir: &Path, depth: usize) -> Option<PathBuf> {
    let registry = dir.join("registry.terraform.io");
    if registry.join("hashicorp").join("aws").is_dir() {
        return Some(dir.to_path_buf());
    }
    if depth == 0 || dir.starts_with("/proc") || dir.starts_with("/sys") {
        return None;
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .collect();
    children.sort();
    children.iter().find_map(|child| search(child, depth - 1))
}
