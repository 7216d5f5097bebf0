//! `cargo xtask test`: the whole test suite against a private AWS emulator, with Terraform's
//! provider mirror located for the interoperability tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xshell::{Shell, cmd};

use shopstack_testkit::cluster::components::KUBERNETES_VARIABLE;

use crate::emulator::{self, Emulator, StopOnDrop};
use crate::project::WithoutCargoRunVariables;
use crate::provision::{self, RealComponents};

/// Flags of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not install or build missing real components (docker engine, Kubernetes, helm,
    /// kubectl): their tests are then skipped, outside CI.
    #[arg(long)]
    no_provision: bool,
    /// Extra arguments for `cargo test` (e.g. a test name filter, or `-- --nocapture`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<String>,
}

/// Starts moto on a free loopback port, runs `cargo test --workspace` (or the packages named
/// with `-p`) with its endpoint in
/// `SHOPSTACK_TEST_AWS_ENDPOINT`, and stops it whatever the outcome.
pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    emulator::ensure_installed(sh)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, emulator::free_port()?));
    let log = crate::project::state_dir().join(format!("moto-test-{}.log", address.port()));
    let tls_dir = crate::project::state_dir().join(format!("moto-test-{}-tls", address.port()));
    let emulator = Emulator::start(address, &log, &tls_dir, false)?;
    let guard = StopOnDrop(emulator);
    eprintln!(
        "AWS emulator answering at {} over TLS (CA: {}, log: {})",
        guard.0.url(),
        guard.0.tls.ca().display(),
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

    let real = real_components(sh, args.no_provision)?;
    remove_stale_clusters(sh);

    let cargo_args = &args.cargo_args;
    // `-p NAME` among the extra arguments narrows the run to that package.
    let packages = cargo_args
        .iter()
        .take_while(|arg| *arg != "--")
        .any(|arg| arg == "-p" || arg.starts_with("--package"));
    let workspace = (!packages).then_some("--workspace");
    let mut command =
        cmd!(sh, "cargo test {workspace...} {cargo_args...}").without_cargo_run_variables();
    if let Some(mirror) = &mirror {
        command = command.env(MIRROR_VARIABLE, mirror);
    }
    if let Some(real) = &real {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            [real.tools_dir.clone(), real.scanners_dir.clone()]
                .into_iter()
                .chain(std::env::split_paths(&path)),
        )?;
        command = command
            .env("PATH", path)
            .env(KUBERNETES_VARIABLE, &real.kubernetes_dir);
    }
    let result = command
        .env(shopstack_testkit::EMULATOR_VARIABLE, guard.0.url())
        .env(shopstack_testkit::tls::CA_BUNDLE_VARIABLE, guard.0.tls.ca())
        .env(shopstack_testkit::tls::TLS_DIR_VARIABLE, &tls_dir)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SHOPSTACK_ENV")
        .run();
    drop(guard);
    let _ = std::fs::remove_dir_all(&tls_dir);
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("error: tests failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The real components, provisioned; `None` (with a note) when they cannot be had outside CI.
fn real_components(sh: &Shell, no_provision: bool) -> anyhow::Result<Option<RealComponents>> {
    if no_provision {
        eprintln!(
            "real components not provisioned (--no-provision): the tests that need them are skipped; `cargo xtask provision` installs them"
        );
        return Ok(None);
    }
    match provision::provision(sh) {
        Ok(real) => {
            eprintln!("real components:");
            for version in &real.versions {
                eprintln!("  {version}");
            }
            Ok(Some(real))
        }
        Err(error) if !shopstack_testkit::cluster::required() => {
            eprintln!(
                "real components unavailable ({error:#}): the tests that need them are skipped; `cargo xtask provision` installs them (as root)"
            );
            Ok(None)
        }
        Err(error) => Err(error.context("provision the real components (required in CI)")),
    }
}

/// Tears down the test clusters an earlier run left behind (its supervisor killed before it
/// could): a cluster directory whose supervisor no longer runs.
fn remove_stale_clusters(sh: &Shell) {
    use shopstack_testkit::cluster::{clusters_root, daemons};
    let Ok(entries) = std::fs::read_dir(clusters_root()) else {
        return;
    };
    let supervisor = crate::project::target_dir()
        .join("debug")
        .join("shopstack-test-cluster");
    for entry in entries.filter_map(Result::ok) {
        let dir = entry.path();
        let alive = std::fs::read_to_string(dir.join("supervisor.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(daemons::alive);
        if !alive && supervisor.is_file() {
            eprintln!(
                "removing a test cluster an earlier run left: {}",
                dir.display()
            );
            let dir_arg = format!("--dir={}", dir.display());
            let _ = cmd!(sh, "{supervisor} down {dir_arg}").quiet().run();
        }
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
