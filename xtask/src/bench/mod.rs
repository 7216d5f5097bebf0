//! `cargo xtask bench`: ShopStack and Terraform on the same resources, same emulator, same run.

mod observe;
mod report;
mod tools;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail};
use shopstack_testkit::{Account, Behaviour, Proxy};
use xshell::Shell;

use crate::emulator::{self, Emulator, StopOnDrop};
use observe::observe;
use report::{Pass, Report};
use tools::{Scenario, Tool, Tools};

/// Flags of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured runs of each scenario per tool and delay (after one warm-up round).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Delay the proxy adds to every request in the second pass, imitating a region's round trip
    /// (0: no second pass).
    #[arg(long, default_value_t = 50)]
    delay_ms: u64,
}

/// How the two tools are measured, for `bench/results.md`.
const METHOD: &str = "Both tools run against one private AWS emulator, through the same loopback proxy, which counts the requests and adds the delay. Each tool has its own emulator account (the GitHub OIDC provider is one per account, so two projects in one account would share it), and each round uses a fresh project name per tool (`shopbench-N` and `shopbench-tf-N`), so every apply starts from nothing: no secret pending deletion restored, nothing left by an earlier round. A round is, per tool, apply from nothing, a no-op plan, destroy; the tools alternate which goes first in each scenario from one round to the next, after one unmeasured warm-up round. Times are wall times of the whole command, process start included. Terraform uses the configuration in `bench/terraform` (18 Terraform resources for ShopStack's 9), initialised once, with its state in a local file. Round trips are counted from the arrival of each request at the proxy; the figure in parentheses is ShopStack's estimate (delayed median − undelayed median) / delay (Terraform's wall time varies by more than its round trips add, so its estimate would be noise).";

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let mirror = crate::test::find_provider_mirror()
        .context("the Terraform provider mirror (a directory holding registry.terraform.io/hashicorp/aws) was not found")?;
    emulator::ensure_installed(sh)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, emulator::free_port()?));
    let log = crate::project::state_dir().join(format!("moto-bench-{}.log", address.port()));
    let tls_dir = crate::project::state_dir().join(format!("moto-bench-{}-tls", address.port()));
    let emulator = StopOnDrop(Emulator::start(address, &log, &tls_dir, false)?);
    let result = measure(sh, args, &emulator, &mirror);
    drop(emulator);
    let _ = std::fs::remove_dir_all(&tls_dir);
    result
}

fn measure(
    sh: &Shell,
    args: &Args,
    emulator: &Emulator,
    mirror: &Path,
) -> anyhow::Result<ExitCode> {
    let endpoint = &emulator.url();
    let ca = emulator.tls.ca();
    let proxy = Proxy::start_with(endpoint, Some(&emulator.tls), Behaviour::default())
        .context("start the counting proxy")?;
    let accounts = [
        Account::isolated_on(endpoint, Some(&ca)).context("an emulator account for ShopStack")?,
        Account::isolated_on(endpoint, Some(&ca)).context("an emulator account for Terraform")?,
    ];
    let binary = crate::bootstrap::binaries(sh)?.join("infra-terraform");
    let work = tempfile::tempdir().context("create a scratch directory")?;
    eprintln!("--> terraform init (not measured)");
    let tools = Tools::prepare(
        binary,
        proxy.url(),
        ca,
        work.path(),
        &crate::project::root().join("bench").join("terraform"),
        mirror,
        accounts,
    )?;

    let mut round = 0;
    eprintln!("--> warm-up round (not measured)");
    run_round(&tools, &proxy, round, Tool::ShopStack)?;
    let mut delays = vec![Duration::ZERO];
    if args.delay_ms > 0 {
        delays.push(Duration::from_millis(args.delay_ms));
    }
    let mut passes = Vec::new();
    for delay in delays {
        proxy.set_behaviour(Behaviour {
            delay,
            ..Behaviour::default()
        });
        let mut pass = Pass::new(delay);
        for run in 1..=args.runs {
            round += 1;
            eprintln!(
                "--> {} ms per request, run {run}/{}",
                delay.as_millis(),
                args.runs
            );
            let first = if run % 2 == 1 {
                Tool::ShopStack
            } else {
                Tool::Terraform
            };
            for (scenario, tool, observation) in run_round(&tools, &proxy, round, first)? {
                pass.add(scenario, tool, observation);
            }
        }
        passes.push(pass);
    }

    let report = Report {
        runs: args.runs,
        setting: format!("{}. {METHOD}", setting(&tools)),
        passes,
    };
    println!("{}\n{}", report.table(), report.goals());
    let path = crate::project::root().join("bench").join("results.md");
    std::fs::write(&path, report.markdown())
        .with_context(|| format!("write {}", path.display()))?;
    eprintln!("results written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// One round: every scenario, both tools, `first` first.
fn run_round(
    tools: &Tools,
    proxy: &Proxy,
    round: usize,
    first: Tool,
) -> anyhow::Result<Vec<(Scenario, Tool, observe::Observation)>> {
    tools.start_round(round)?;
    let order = match first {
        Tool::ShopStack => [Tool::ShopStack, Tool::Terraform],
        Tool::Terraform => [Tool::Terraform, Tool::ShopStack],
    };
    let mut observed = Vec::new();
    for scenario in Scenario::ALL {
        for tool in order {
            let (mut command, expect) = tools.command(tool, scenario, round);
            let what = format!("{tool} {scenario} ({})", Tools::project(tool, round));
            let observation = observe(proxy, &mut command, &what, &expect)?;
            eprintln!(
                "    {what}: {:.2} s, {} requests",
                observation.seconds,
                observation.request_count()
            );
            observed.push((scenario, tool, observation));
        }
    }
    Ok(observed)
}

/// Date, machine and versions.
fn setting(tools: &Tools) -> String {
    let first_line = |command: &mut Command| {
        command.output().ok().and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(|line| line.trim().to_owned())
        })
    };
    let date = first_line(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
        .unwrap_or_else(|| "unknown date".to_owned());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|model| model.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
        |_| "unknown kernel".to_owned(),
        |release| format!("Linux {}", release.trim()),
    );
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let terraform = tools
        .terraform_version()
        .unwrap_or_else(|| "Terraform (unknown version)".to_owned());
    let moto =
        first_line(Command::new("python3").args(["-c", "import moto; print(moto.__version__)"]))
            .unwrap_or_else(|| "unknown".to_owned());
    format!("{date}, {cpus} × {cpu}, {kernel}; {terraform}; moto {moto}")
}
