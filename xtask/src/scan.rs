//! `cargo xtask scan`: checkov over what ShopStack makes — the Terraform export of an environment
//! applied on a private AWS emulator, the rendered charts, the generated workflows and the
//! Dockerfile — against the committed baseline of findings accepted with their reasons.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::emulator::{self, Emulator, StopOnDrop};
use crate::scanners;

/// The committed baseline, relative to the repository root.
pub const BASELINE: &str = "security/checkov-baseline.toml";

/// Flags of `cargo xtask scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep what was scanned in this directory (default: a temporary one, removed after).
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// One body of files checkov scans with one framework.
struct Target {
    /// Its name in the report and the baseline.
    name: &'static str,
    /// checkov's framework for it.
    framework: &'static str,
    /// The directory scanned.
    dir: PathBuf,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    target: String,
    check: String,
    resource: String,
    title: String,
}

/// A finding accepted on purpose, with its reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Accepted {
    target: String,
    check: String,
    /// A resource as checkov names it, or `*` for every resource of the target (for a chart
    /// vendored as it is published).
    resource: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Baseline {
    accepted: Vec<Accepted>,
}

impl Accepted {
    fn covers(&self, finding: &Finding) -> bool {
        self.target == finding.target
            && self.check == finding.check
            && (self.resource == "*" || self.resource == finding.resource)
    }
}

/// Reads the baseline, refusing an entry without a reason.
fn baseline(root: &Path) -> anyhow::Result<Vec<Accepted>> {
    let path = root.join(BASELINE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {BASELINE}"))?;
    let baseline: Baseline = toml::from_str(&text)
        .map_err(|error| anyhow::anyhow!("{BASELINE}: {}", error.to_string().replace('\n', " ")))?;
    if let Some(entry) = baseline
        .accepted
        .iter()
        .find(|entry| entry.reason.trim().is_empty())
    {
        bail!(
            "{BASELINE}: {} on {} ({}) has no reason",
            entry.check,
            entry.resource,
            entry.target
        );
    }
    Ok(baseline.accepted)
}

pub fn run(sh: &Shell, args: &Args) -> anyhow::Result<ExitCode> {
    let root = crate::project::root();
    let accepted = baseline(&root)?;
    let checkov = scanners::ensure(sh, scanners::CHECKOV)?;
    let helm = crate::provision::ensure_helm_kubectl(sh)?.join("helm");
    // Not a hidden name (tempfile's default): checkov skips hidden directories.
    let temporary = tempfile::Builder::new()
        .prefix("shopstack-scan-")
        .tempdir()
        .context("create a working directory")?;
    let work = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
            std::fs::canonicalize(dir)?
        }
        None => temporary.path().to_path_buf(),
    };

    let targets = prepare(sh, &root, &work, &helm)?;
    let mut findings = Vec::new();
    for target in &targets {
        let (passed, failed) = scan(&checkov, target)?;
        println!(
            "{:<14} {passed:>3} checks passed, {:>2} failed ({})",
            target.name,
            failed.len(),
            target.framework
        );
        findings.extend(failed);
    }

    let (new, stale) = judge(&findings, &accepted);
    println!(
        "{} findings, {} accepted in {BASELINE}, {} new",
        findings.len(),
        findings.len() - new.len(),
        new.len()
    );
    for finding in &new {
        eprintln!(
            "error: {}: {} on {}: {} (not in {BASELINE}: fix it, or accept it there with its reason)",
            finding.target, finding.check, finding.resource, finding.title
        );
    }
    for entry in &stale {
        eprintln!(
            "error: {BASELINE}: {} on {} ({}) matches no finding any more: remove it",
            entry.check, entry.resource, entry.target
        );
    }
    if let Some(dir) = &args.keep {
        println!("scanned files kept in {}", dir.display());
    }
    Ok(if new.is_empty() && stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The findings no entry accepts, and the entries no finding matches.
fn judge<'a>(
    findings: &'a [Finding],
    accepted: &'a [Accepted],
) -> (Vec<&'a Finding>, Vec<&'a Accepted>) {
    let new = findings
        .iter()
        .filter(|finding| !accepted.iter().any(|entry| entry.covers(finding)))
        .collect();
    let stale = accepted
        .iter()
        .filter(|entry| !findings.iter().any(|finding| entry.covers(finding)))
        .collect();
    (new, stale)
}

/// Writes every target into `work`: an environment applied on a private emulator, exported and
/// given its workflows; both charts rendered as `apps-sre deploy` installs them; the Dockerfile.
fn prepare(sh: &Shell, root: &Path, work: &Path, helm: &Path) -> anyhow::Result<Vec<Target>> {
    let bin = crate::bootstrap::binaries(sh)?;
    emulator::ensure_installed(sh)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, emulator::free_port()?));
    let emulator = StopOnDrop(Emulator::start(
        address,
        &work.join("moto.log"),
        &work.join("tls"),
        false,
    )?);
    let project = work.join("project");
    std::fs::create_dir_all(&project)?;
    std::fs::write(
        project.join("shopstack.toml"),
        format!(
            "[project]\nname = \"shopstack\"\n\n[github]\nrepositories = [\"acme/infra-terraform\", \"acme/apps-sre\"]\n\n[codebuild]\nsource_repository = \"acme/apps-sre\"\n\n[environments.local]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\nca_bundle = \"{}\"\n",
            emulator.0.url(),
            emulator.0.tls.ca().display()
        ),
    )?;
    let terraform = work.join("terraform");
    let workflows = work.join("workflows");
    let workflow_dir = workflows.join(".github").join("workflows");
    for arguments in [
        vec!["apply".into(), "--auto-approve".into()],
        vec![
            "export-terraform".into(),
            "--out".into(),
            terraform.clone().into_os_string(),
        ],
        vec![
            "github-workflows".into(),
            "--out".into(),
            workflow_dir.into_os_string(),
        ],
    ] {
        let output = Command::new(bin.join("infra-terraform"))
            .args(&arguments)
            .current_dir(&project)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("SHOPSTACK_ENV")
            .output()
            .context("run infra-terraform")?;
        if !output.status.success() {
            bail!(
                "infra-terraform {}: {}",
                arguments[0].to_string_lossy(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    drop(emulator);

    let app = work.join("charts").join("app");
    let observability = work.join("charts").join("observability");
    let chart = root.join("deploy/charts/shopstack-app");
    // As `apps-sre deploy app` sets them, with a fixed tag: the tag is in a pod's name for
    // checkov, so a changing one would change what the baseline names.
    let app_manifests = cmd!(
        sh,
        "{helm} template shopstack {chart} --namespace shopstack --set image.repository=123456789012.dkr.ecr.us-east-1.amazonaws.com/shopstack-local --set image.tag=scan --set environment=local --set configVersion=1 --api-versions monitoring.coreos.com/v1/ServiceMonitor"
    )
    .quiet()
    .read()
    .context("render the app chart")?;
    let archive = root.join("deploy/observability/kube-prometheus-stack-67.8.0.tgz");
    let values = root.join("deploy/observability/values.yaml");
    // Grafana's test pod is left out: `helm upgrade --install` never creates it.
    let observability_manifests = cmd!(
        sh,
        "{helm} template kube-prometheus-stack {archive} --namespace observability --values {values} --skip-tests"
    )
    .quiet()
    .read()
    .context("render the observability chart")?;
    for (dir, file, text) in [
        (&app, "shopstack-app.yaml", app_manifests),
        (
            &observability,
            "kube-prometheus-stack.yaml",
            observability_manifests,
        ),
    ] {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(file), text)?;
    }
    let dockerfile = work.join("dockerfile");
    std::fs::create_dir_all(&dockerfile)?;
    std::fs::copy(
        root.join("deploy/app/Dockerfile"),
        dockerfile.join("Dockerfile"),
    )
    .context("copy the Dockerfile")?;

    Ok(vec![
        Target {
            name: "terraform",
            framework: "terraform",
            dir: terraform,
        },
        Target {
            name: "app-chart",
            framework: "kubernetes",
            dir: app,
        },
        Target {
            name: "observability",
            framework: "kubernetes",
            dir: observability,
        },
        Target {
            name: "workflows",
            framework: "github_actions",
            dir: workflows,
        },
        Target {
            name: "dockerfile",
            framework: "dockerfile",
            dir: dockerfile,
        },
    ])
}

/// checkov on one target, offline: how many checks passed, and what failed.
fn scan(checkov: &Path, target: &Target) -> anyhow::Result<(u64, Vec<Finding>)> {
    let output = Command::new(checkov)
        .args([
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ])
        .args(["--framework", target.framework, "--directory"])
        .arg(&target.dir)
        // No guidelines download, no version check: nothing leaves the machine.
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .current_dir(&target.dir)
        .output()
        .context("run checkov")?;
    // 0: no failed check; 1: some; anything else: checkov itself failed.
    if !matches!(output.status.code(), Some(0 | 1)) {
        bail!(
            "checkov on {}: {}",
            target.name,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let report: Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("read checkov's report on {}", target.name))?;
    // Checks run, not resources: checkov counts no resource in a workflow.
    let passed = report["summary"]["passed"].as_u64().unwrap_or(0);
    let failed_count = report["summary"]["failed"].as_u64().unwrap_or(0);
    if passed + failed_count == 0 {
        bail!(
            "checkov found nothing to scan in {} ({})",
            target.name,
            target.dir.display()
        );
    }
    let failed = report["results"]["failed_checks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let findings: BTreeSet<Finding> = failed
        .iter()
        .map(|check| Finding {
            target: target.name.to_owned(),
            check: check["check_id"].as_str().unwrap_or_default().to_owned(),
            resource: check["resource"].as_str().unwrap_or_default().to_owned(),
            title: check["check_name"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    Ok((passed, findings.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(resource: &str) -> Finding {
        Finding {
            target: "observability".into(),
            check: "CKV_K8S_43".into(),
            resource: resource.into(),
            title: "Image should use digest".into(),
        }
    }

    #[test]
    fn an_entry_covers_its_target_check_and_resource_or_every_resource() {
        let exact = Accepted {
            target: "observability".into(),
            check: "CKV_K8S_43".into(),
            resource: "Deployment.observability.grafana".into(),
            reason: "pinned chart".into(),
        };
        assert!(exact.covers(&finding("Deployment.observability.grafana")));
        assert!(!exact.covers(&finding("Deployment.observability.other")));
        let every = Accepted {
            resource: "*".into(),
            ..exact
        };
        assert!(every.covers(&finding("Deployment.observability.other")));
        let mut elsewhere = finding("Deployment.observability.other");
        elsewhere.target = "app-chart".into();
        assert!(!every.covers(&elsewhere));
    }

    #[test]
    fn a_finding_outside_the_baseline_and_an_entry_matching_nothing_both_fail() {
        let accepted = vec![
            Accepted {
                target: "observability".into(),
                check: "CKV_K8S_43".into(),
                resource: "Deployment.observability.grafana".into(),
                reason: "pinned chart".into(),
            },
            Accepted {
                target: "terraform".into(),
                check: "CKV_AWS_18".into(),
                resource: "aws_s3_bucket.state".into(),
                reason: "fixed since".into(),
            },
        ];
        let findings = vec![
            finding("Deployment.observability.grafana"),
            finding("Deployment.observability.operator"),
        ];
        let (new, stale) = judge(&findings, &accepted);
        assert_eq!(new, [&findings[1]]);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].check, "CKV_AWS_18");
    }

    #[test]
    fn the_committed_baseline_gives_every_entry_a_reason() {
        let accepted = baseline(&crate::project::root()).expect("the baseline reads");
        assert!(!accepted.is_empty());
    }
}
