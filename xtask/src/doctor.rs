//! `cargo xtask doctor`: which tools are here, their versions, the AWS identity and kube context.

use std::process::{Command, ExitCode};

use xshell::{Shell, cmd};

use crate::project::WithoutCargoRunVariables;

/// Flags of `cargo xtask doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment whose AWS identity to check.
    #[arg(
        short = 'e',
        long = "env",
        env = "SHOPSTACK_ENV",
        default_value = "local"
    )]
    pub environment: String,
}

/// One external tool ShopStack drives.
pub struct Tool {
    /// Name shown in the table.
    pub name: &'static str,
    /// Command that prints its version (and fails when it is missing or unusable).
    pub probe: &'static [&'static str],
    /// What cannot run without it.
    pub needed_for: &'static str,
    /// How to get it.
    pub install: &'static str,
}

/// Every tool the bootstrap sequence may call.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "docker",
        probe: &["docker", "--version"],
        needed_for: "cluster create, build --local",
        install: "install Docker Engine (docs.docker.com/engine/install)",
    },
    Tool {
        name: "docker engine",
        probe: &["docker", "info", "--format", "{{.ServerVersion}}"],
        needed_for: "cluster create, repeat-test, build --local",
        install: "start the Docker daemon (systemctl start docker) and check `docker info`",
    },
    Tool {
        name: "kind",
        probe: &["kind", "version"],
        needed_for: "cluster create, repeat-test",
        install: "go install sigs.k8s.io/kind@latest, or a release binary from kind.sigs.k8s.io",
    },
    Tool {
        name: "kubectl",
        probe: &["kubectl", "version", "--client"],
        needed_for: "manual inspection only (ShopStack talks to the API itself)",
        install: "kubernetes.io/docs/tasks/tools",
    },
    Tool {
        name: "helm",
        probe: &["helm", "version", "--short"],
        needed_for: "deploy app, deploy observability",
        install: "helm.sh/docs/intro/install",
    },
    Tool {
        name: "terraform",
        probe: &["terraform", "version"],
        needed_for: "terraform interop (backend-config users, export-terraform), bench",
        install: "developer.hashicorp.com/terraform/install",
    },
    Tool {
        name: "moto",
        probe: &[
            "python3",
            "-c",
            "import moto, moto.server; print('moto', moto.__version__)",
        ],
        needed_for: "the local environment and the test suite",
        install: "python3 -m pip install 'moto[server]' (cargo xtask test installs it)",
    },
];

/// What a probe found.
pub struct Finding {
    /// The tool.
    pub tool: &'static Tool,
    /// Its version line, or why it is unusable.
    pub result: Result<String, String>,
}

/// Probes every tool concurrently.
pub fn probe_tools() -> Vec<Finding> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = TOOLS
            .iter()
            .map(|tool| {
                scope.spawn(move || Finding {
                    tool,
                    result: probe(tool.probe),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(TOOLS)
            .map(|(handle, tool)| {
                handle.join().unwrap_or(Finding {
                    tool,
                    result: Err("probe panicked".to_owned()),
                })
            })
            .collect()
    })
}

/// Runs a probe command: its first output line, or why the tool is unusable.
pub fn probe(argv: &[&str]) -> Result<String, String> {
    let output = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => "not found on PATH".to_owned(),
            _ => error.to_string(),
        })?;
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or_default()
            .to_owned()
    };
    if output.status.success() {
        Ok(first_line(&output.stdout))
    } else {
        let reason = first_line(&output.stderr);
        Err(if reason.is_empty() {
            format!("exited with {}", output.status)
        } else {
            reason
        })
    }
}

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    let findings = probe_tools();
    let mut healthy = true;
    row("check", "status", "detail");
    for finding in &findings {
        match &finding.result {
            Ok(version) => row(finding.tool.name, "ok", version),
            Err(reason) => {
                healthy = false;
                println!("{:<14} {:<8} {reason}", finding.tool.name, "missing");
                println!(
                    "{:<14} {:<8} blocks: {}; get it: {}",
                    "", "", finding.tool.needed_for, finding.tool.install
                );
            }
        }
    }

    let environment = &args.environment;
    match cmd!(
        sh,
        "cargo run --quiet --package infra-terraform -- --env {environment} whoami"
    )
    .without_cargo_run_variables()
    .ignore_status()
    .output()
    {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name).map(str::trim))
                    .unwrap_or("?")
                    .to_owned()
            };
            let detail = format!(
                "env {environment}: account {} as {} at {}",
                field("account"),
                field("caller"),
                field("endpoint")
            );
            row("aws identity", "ok", &detail);
        }
        Ok(output) => {
            healthy = false;
            let reason = String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned();
            println!(
                "{:<14} {:<8} env {environment}: {reason}",
                "aws identity", "failed"
            );
            if environment == "local" {
                println!(
                    "{:<14} {:<8} start the emulator: cargo xtask local-aws start",
                    "", ""
                );
            }
        }
        Err(error) => {
            healthy = false;
            row("aws identity", "failed", &error.to_string());
        }
    }

    let (status, detail) = local_registry();
    row("local registry", status, &detail);

    let context = probe(&["kubectl", "config", "current-context"]);
    match context {
        Ok(context) => row("kube context", "ok", &context),
        Err(reason) => row("kube context", "none", &reason),
    }
    // What the tests run a real cluster with; the bootstrap does not need it.
    match shopstack_testkit::cluster::Components::locate() {
        Ok(components) => row(
            "test cluster",
            "ok",
            &format!(
                "Kubernetes {} ({}), {}, {}",
                shopstack_testkit::cluster::KUBERNETES_VERSION,
                components
                    .apiserver
                    .parent()
                    .unwrap_or(&components.apiserver)
                    .display(),
                components.etcd.display(),
                components.dockerd.display()
            ),
        ),
        Err(error) => row(
            "test cluster",
            "missing",
            &format!("{error} (only the tests need it: cargo xtask provision)"),
        ),
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The local registry of the `local` environment (`cluster-gitops create` runs it, as kind
/// documents): its container's state, else whether its image is here to start it from.
fn local_registry() -> (&'static str, String) {
    const CONTAINER: &str = "kind-registry";
    const IMAGE: &str = "registry:2";
    match probe(&[
        "docker",
        "inspect",
        "--format",
        "{{.State.Running}}",
        CONTAINER,
    ]) {
        Ok(running) if running == "true" => (
            "ok",
            format!("{CONTAINER} running on 127.0.0.1:5001 (images: localhost:5001/NAME:TAG)"),
        ),
        Ok(_) => (
            "stopped",
            format!("{CONTAINER}: cluster-gitops create starts it"),
        ),
        Err(_) => match probe(&["docker", "image", "inspect", "--format", "{{.Id}}", IMAGE]) {
            Ok(_) => (
                "none",
                format!("image {IMAGE} is here: cluster-gitops create starts it"),
            ),
            Err(_) => (
                "none",
                format!(
                    "image {IMAGE} is not here: cluster-gitops create pulls it (docker pull {IMAGE})"
                ),
            ),
        },
    }
}

/// One line of the doctor's table.
fn row(check: &str, status: &str, detail: &str) {
    println!("{check:<14} {status:<8} {detail}");
}
