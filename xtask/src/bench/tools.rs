//! The two tools under test, each in its own scratch directory and emulator account, and the
//! command line of each scenario.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use shopstack_testkit::Account;

/// The resources of one environment, as each tool counts them.
const SHOPSTACK_RESOURCES: usize = 8;
const TERRAFORM_RESOURCES: usize = 16;

/// A tool under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `infra-terraform`.
    ShopStack,
    /// `terraform` with `bench/terraform`.
    Terraform,
}

impl Tool {
    /// Both, ShopStack first.
    pub const ALL: [Tool; 2] = [Tool::ShopStack, Tool::Terraform];
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::ShopStack => "ShopStack",
            Tool::Terraform => "Terraform",
        })
    }
}

/// A measured scenario, in the order a round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every resource created in an empty account.
    Apply,
    /// A plan right after the apply: nothing to change.
    Plan,
    /// Every resource removed.
    Destroy,
}

impl Scenario {
    /// All, in round order.
    pub const ALL: [Scenario; 3] = [Scenario::Apply, Scenario::Plan, Scenario::Destroy];
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::Apply => "apply from nothing",
            Scenario::Plan => "no-op plan",
            Scenario::Destroy => "destroy",
        })
    }
}

/// Where and as whom the tools run.
pub struct Tools {
    /// The `infra-terraform` binary.
    pub shopstack_binary: PathBuf,
    /// The AWS endpoint both tools are given (the proxy).
    pub endpoint: String,
    /// The CA both tools trust for it.
    pub ca: PathBuf,
    /// The scratch directory holding `shopstack/` and `terraform/`.
    pub dir: PathBuf,
    /// The emulator account of the ShopStack side.
    pub shopstack_account: Account,
    /// The emulator account of the Terraform side.
    pub terraform_account: Account,
}

impl Tools {
    /// Creates the scratch directories: ShopStack's, and Terraform's with the reference
    /// configuration copied in, initialised once from the provider mirror.
    pub fn prepare(
        shopstack_binary: PathBuf,
        endpoint: String,
        ca: PathBuf,
        dir: &Path,
        configuration: &Path,
        mirror: &Path,
        accounts: [Account; 2],
    ) -> anyhow::Result<Self> {
        let [shopstack_account, terraform_account] = accounts;
        let tools = Self {
            shopstack_binary,
            endpoint,
            ca,
            dir: dir.to_path_buf(),
            shopstack_account,
            terraform_account,
        };
        std::fs::create_dir_all(tools.shopstack_dir()).context("create ShopStack's directory")?;
        std::fs::create_dir_all(tools.terraform_dir()).context("create Terraform's directory")?;
        for entry in std::fs::read_dir(configuration)
            .with_context(|| format!("read {}", configuration.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|extension| extension == "tf") {
                let name = path.file_name().unwrap_or_default();
                std::fs::copy(&path, tools.terraform_dir().join(name))
                    .with_context(|| format!("copy {}", path.display()))?;
            }
        }
        std::fs::write(
            dir.join("terraformrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .context("write the Terraform CLI configuration")?;
        let init = tools
            .terraform(None, &["init", "-input=false", "-no-color"])
            .output()
            .context("run terraform init")?;
        if !init.status.success() {
            anyhow::bail!(
                "terraform init failed: {}{}",
                String::from_utf8_lossy(&init.stdout),
                String::from_utf8_lossy(&init.stderr)
            );
        }
        Ok(tools)
    }

    fn shopstack_dir(&self) -> PathBuf {
        self.dir.join("shopstack")
    }

    fn terraform_dir(&self) -> PathBuf {
        self.dir.join("terraform")
    }

    /// The project name `tool` uses in `round`: a fresh one per round, so that every apply starts
    /// from nothing (no secret pending deletion to restore, no leftovers of an earlier round).
    pub fn project(tool: Tool, round: usize) -> String {
        match tool {
            Tool::ShopStack => format!("shopbench-{round}"),
            Tool::Terraform => format!("shopbench-tf-{round}"),
        }
    }

    /// Points ShopStack's configuration at the project of `round` (Terraform takes it per command).
    pub fn start_round(&self, round: usize) -> anyhow::Result<()> {
        std::fs::write(
            self.shopstack_dir().join("shopstack.toml"),
            format!(
                "[project]\nname = \"{}\"\n\n[github]\nrepositories = [\"acme/infra\", \"acme/apps\"]\n\n[environments.local]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\nca_bundle = \"{}\"\n",
                Self::project(Tool::ShopStack, round),
                self.endpoint,
                self.ca.display()
            ),
        )
        .context("write the bench's shopstack.toml")
    }

    /// The command of `scenario` for `tool` in `round`, and what its output says on success.
    pub fn command(&self, tool: Tool, scenario: Scenario, round: usize) -> (Command, String) {
        match tool {
            Tool::ShopStack => {
                let (args, expect): (&[&str], _) = match scenario {
                    Scenario::Apply => (
                        &["apply", "--auto-approve"],
                        format!(
                            "Apply complete! Resources: {SHOPSTACK_RESOURCES} added, 0 changed, 0 destroyed."
                        ),
                    ),
                    Scenario::Plan => (&["plan", "--detailed-exitcode"], "No changes.".to_owned()),
                    Scenario::Destroy => (
                        &["destroy", "--auto-approve"],
                        format!("Destroy complete! Resources: {SHOPSTACK_RESOURCES} destroyed."),
                    ),
                };
                let mut command = Command::new(&self.shopstack_binary);
                command
                    .current_dir(self.shopstack_dir())
                    .envs(self.shopstack_account.environment())
                    .env_remove("AWS_ENDPOINT_URL")
                    .env_remove("AWS_CA_BUNDLE")
                    .env_remove("SHOPSTACK_ENV")
                    .args(args);
                (command, expect)
            }
            Tool::Terraform => {
                let (args, expect): (&[&str], _) = match scenario {
                    Scenario::Apply => (
                        &["apply", "-input=false", "-auto-approve", "-no-color"],
                        format!(
                            "Apply complete! Resources: {TERRAFORM_RESOURCES} added, 0 changed, 0 destroyed."
                        ),
                    ),
                    Scenario::Plan => (
                        &["plan", "-input=false", "-detailed-exitcode", "-no-color"],
                        "No changes.".to_owned(),
                    ),
                    Scenario::Destroy => (
                        &["destroy", "-input=false", "-auto-approve", "-no-color"],
                        format!("Destroy complete! Resources: {TERRAFORM_RESOURCES} destroyed."),
                    ),
                };
                (self.terraform(Some(round), args), expect)
            }
        }
    }

    /// `Terraform v1.x.y with hashicorp/aws v5.x.y`, as `terraform version` reports it.
    pub fn terraform_version(&self) -> Option<String> {
        let output = self.terraform(None, &["version"]).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let terraform = text.lines().next()?.trim().to_owned();
        let provider = text
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("+ provider registry.terraform.io/")
            })
            .map(|provider| format!(" with {provider}"))
            .unwrap_or_default();
        Some(format!("{terraform}{provider}"))
    }

    /// `terraform ARGS` in Terraform's directory, with the variables of `round`.
    fn terraform(&self, round: Option<usize>, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        command
            .current_dir(self.terraform_dir())
            .envs(self.terraform_account.environment())
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env("TF_CLI_CONFIG_FILE", self.dir.join("terraformrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("AWS_CA_BUNDLE", &self.ca)
            .env("TF_VAR_endpoint", &self.endpoint)
            .env("TF_VAR_account_id", &self.terraform_account.id)
            .args(args);
        if let Some(round) = round {
            command.env("TF_VAR_project", Self::project(Tool::Terraform, round));
        }
        command
    }
}
