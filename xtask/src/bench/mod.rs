//! `cargo xtask bench`: ShopStack and Terraform on the same resources, same emulator, same run.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shopstack_testkit::{Account, Behaviour, Proxy};
use xshell::Shell;

use crate::emulator::{self, Emulator};

/// Flags of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured runs per tool (after one warm-up each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// Timings of one tool in one scenario.
struct Measured {
    seconds: Vec<f64>,
    requests: usize,
}

impl Measured {
    fn median(&self) -> f64 {
        let mut sorted = self.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn min(&self) -> f64 {
        self.seconds.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.seconds.iter().copied().fold(0.0, f64::max)
    }
}

fn run_quiet(command: &mut Command, what: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {what}"))?;
    let elapsed = started.elapsed();
    // `plan -detailed-exitcode` exits 0 with no changes: anything else means the scenario is wrong.
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(elapsed)
}

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    let mirror = crate::test::find_provider_mirror()
        .context("the Terraform provider mirror (a directory holding registry.terraform.io/hashicorp/aws) was not found")?;
    emulator::ensure_installed(sh)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, emulator::free_port()?));
    let log = crate::state_dir().join(format!("moto-bench-{}.log", address.port()));
    let mut emulator = Emulator::start(address, &log, false)?;
    let result = measure(sh, args, &emulator.url(), &mirror);
    let _ = emulator.child.kill();
    let _ = emulator.child.wait();
    result
}

fn measure(sh: &Shell, args: &Args, endpoint: &str, mirror: &Path) -> anyhow::Result<ExitCode> {
    let proxy = Proxy::start(endpoint, Behaviour::default()).context("start the counting proxy")?;
    let account = Account::isolated(endpoint).context("an emulator account for the bench")?;
    let bin = crate::bootstrap::binaries(sh)?;
    let work = tempfile::tempdir().context("create a scratch directory")?;
    let dir = work.path();
    std::fs::write(
        dir.join("shopstack.toml"),
        format!(
            "[project]\nname = \"shopbench\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\n\n[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
            proxy.url()
        ),
    )?;
    std::fs::write(
        dir.join("terraformrc"),
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            mirror.display()
        ),
    )?;
    let shopstack = |args: &[&str]| {
        let mut command = Command::new(bin.join("infra-terraform"));
        command
            .current_dir(dir)
            .envs(account.environment())
            .env_remove("AWS_ENDPOINT_URL")
            .args(args);
        command
    };
    let terraform = |args: &[&str]| {
        let mut command = Command::new("terraform");
        command
            .current_dir(dir.join("terraform"))
            .envs(account.environment())
            .env("TF_CLI_CONFIG_FILE", dir.join("terraformrc"))
            .env("TF_IN_AUTOMATION", "1")
            .args(args);
        command
    };

    eprintln!("--> preparing: apply with ShopStack, export, import into Terraform");
    run_quiet(
        &mut shopstack(&["apply", "--auto-approve"]),
        "infra-terraform apply",
    )?;
    run_quiet(
        &mut shopstack(&["export-terraform", "--out", "terraform"]),
        "infra-terraform export-terraform",
    )?;
    run_quiet(&mut terraform(&["init", "-input=false"]), "terraform init")?;
    run_quiet(
        &mut terraform(&["apply", "-input=false", "-auto-approve"]),
        "terraform apply (imports)",
    )?;

    let shopstack_plan = ["plan", "--detailed-exitcode"];
    let terraform_plan = ["plan", "-input=false", "-detailed-exitcode"];
    // Warm-up, then A/B alternated so that drift in the machine's load hits both alike.
    run_quiet(&mut shopstack(&shopstack_plan), "infra-terraform plan")?;
    run_quiet(&mut terraform(&terraform_plan), "terraform plan")?;
    let mut ours = Measured {
        seconds: Vec::new(),
        requests: 0,
    };
    let mut theirs = Measured {
        seconds: Vec::new(),
        requests: 0,
    };
    for run in 1..=args.runs {
        eprintln!("--> no-op plan, run {run}/{}", args.runs);
        proxy.clear();
        ours.seconds.push(
            run_quiet(&mut shopstack(&shopstack_plan), "infra-terraform plan")?.as_secs_f64(),
        );
        ours.requests = proxy.requests().len();
        proxy.clear();
        theirs
            .seconds
            .push(run_quiet(&mut terraform(&terraform_plan), "terraform plan")?.as_secs_f64());
        theirs.requests = proxy.requests().len();
    }

    let table = format!(
        "| scenario | tool | median s | min s | max s | AWS requests |\n|---|---|---:|---:|---:|---:|\n| no-op plan | ShopStack | {:.3} | {:.3} | {:.3} | {} |\n| no-op plan | Terraform | {:.3} | {:.3} | {:.3} | {} |\n\nShopStack is {:.0}x faster than Terraform on a no-op plan, with {} AWS requests against Terraform's {}.\n",
        ours.median(),
        ours.min(),
        ours.max(),
        ours.requests,
        theirs.median(),
        theirs.min(),
        theirs.max(),
        theirs.requests,
        theirs.median() / ours.median(),
        ours.requests,
        theirs.requests
    );
    println!("{table}");
    let machine = format!(
        "{} CPUs, {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(
            |_| "unknown kernel".to_owned(),
            |release| format!("Linux {}", release.trim())
        )
    );
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map_or_else(
            |_| "unknown date".to_owned(),
            |output| String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        );
    let results = format!(
        "# Benchmark results\n\n`cargo xtask bench --runs {}` on {date}, {machine}; both tools against the same local AWS emulator, through the same counting proxy, {} measured runs each after a warm-up, alternated.\n\n{table}",
        args.runs, args.runs
    );
    let path = crate::project_root().join("bench").join("results.md");
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("bench")))?;
    std::fs::write(&path, results).with_context(|| format!("write {}", path.display()))?;
    eprintln!("results written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
