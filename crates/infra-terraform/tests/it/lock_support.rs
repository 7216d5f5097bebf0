//! Support of the locking and Terraform tests: a lock holder at its prompt on a terminal, lock
//! items as read back, and the real `terraform` with its provider mirror.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use shopstack_testkit::Account;

use crate::support::Stack;

/// The LockID `apply` and `destroy` lock: `<bucket>/<project>/<env>/infra`.
pub fn infra_lock_id(stack: &Stack) -> String {
    let names = stack.names("local");
    format!("{}/{}", names.state_bucket(), names.infra_lock_path())
}

/// The `Info` JSON of the lock item `lock_id`, if there is one (consistent read).
pub fn lock_item(stack: &Stack, lock_id: &str) -> Option<serde_json::Value> {
    let table = stack.names("local").lock_table();
    let output = stack
        .block_on(
            stack
                .dynamodb()
                .get_item()
                .table_name(table)
                .key("LockID", AttributeValue::S(lock_id.to_owned()))
                .consistent_read(true)
                .send(),
        )
        .expect("GetItem");
    let item = output.item?;
    let Some(AttributeValue::S(info)) = item.get("Info") else {
        return None;
    };
    Some(serde_json::from_str(info).expect("Info is JSON"))
}

/// Writes a lock item as another Terraform user would.
pub fn put_foreign_lock(stack: &Stack, lock_id: &str, id: &str, who: &str) {
    let info = serde_json::json!({
        "ID": id, "Operation": "OperationTypeApply", "Info": "", "Who": who,
        "Version": "1.11.4", "Created": "2026-01-02T03:04:05.123456789Z", "Path": lock_id,
    });
    stack
        .block_on(
            stack
                .dynamodb()
                .put_item()
                .table_name(stack.names("local").lock_table())
                .item("LockID", AttributeValue::S(lock_id.to_owned()))
                .item("Info", AttributeValue::S(info.to_string()))
                .send(),
        )
        .expect("PutItem");
}

/// Polls `condition` every 100 ms for up to `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the ECR lifecycle policy, so that the next apply has a change to make (and asks).
pub fn drift(stack: &Stack) {
    stack
        .block_on(
            stack
                .ecr()
                .delete_lifecycle_policy()
                .repository_name(stack.names("local").ecr_repository())
                .send(),
        )
        .expect("DeleteLifecyclePolicy");
}

/// `infra-terraform apply` on a terminal (through `script`), so it shows its plan and waits at
/// its prompt, holding the lock.
pub struct PromptingApply {
    script: Child,
    /// The infra-terraform process itself.
    pub pid: u32,
}

impl PromptingApply {
    /// Starts the apply and waits until it holds the lock (its item exists).
    pub fn start(stack: &Stack) -> Self {
        let binary = env!("CARGO_BIN_EXE_infra-terraform");
        let mut command = Command::new("script");
        command
            .args(["--quiet", "--return", "--command"])
            .arg(format!("exec '{binary}' apply"))
            .arg("/dev/null")
            .current_dir(stack.project.dir())
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("SHOPSTACK_ENV")
            .env_remove("AWS_PROFILE")
            .envs(stack.account.environment())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let script = command.spawn().expect("start script(1)");
        let pid = child_of(script.id());
        let lock_id = infra_lock_id(stack);
        wait_for(
            Duration::from_secs(60),
            "the prompting apply's lock",
            || lock_item(stack, &lock_id).is_some(),
        );
        Self { script, pid }
    }

    /// Sends `signal` (e.g. `INT`, `KILL`) to the infra-terraform process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.pid);
    }

    /// Answers its prompt with `line`, then waits for the end (see [`finish`](Self::finish)).
    pub fn answer(mut self, line: &str) -> Output {
        use std::io::Write;
        let stdin = self.script.stdin.as_mut().expect("script's stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("answer the prompt");
        stdin.flush().expect("answer the prompt");
        self.finish()
    }

    /// Waits for the end; its exit code (as `script --return` passes it on) and output.
    pub fn finish(mut self) -> Output {
        drop(self.script.stdin.take());
        self.script.wait_with_output().expect("wait for script(1)")
    }
}

/// The pid of `parent`'s first child process.
fn child_of(parent: u32) -> u32 {
    let mut found = None;
    wait_for(Duration::from_secs(10), "the child of script(1)", || {
        found = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .ok()
            .and_then(|children| children.split_whitespace().next()?.parse().ok());
        found.is_some()
    });
    found.unwrap_or_default()
}

/// Environment variable through which `cargo xtask test` names the provider mirror.
const MIRROR_VARIABLE: &str = "SHOPSTACK_TF_PROVIDER_MIRROR";

/// The real `terraform`, set up to install the AWS provider from the local mirror only.
pub struct Terraform {
    config: tempfile::TempDir,
}

impl Terraform {
    /// `terraform` on PATH with the provider mirror. In CI (`CI=true`) their absence fails the
    /// test; elsewhere the test is skipped (`None`) with a note.
    pub fn find() -> Option<Self> {
        let version = Command::new("terraform").arg("version").output();
        let found = version.is_ok_and(|output| output.status.success());
        let mirror = std::env::var_os(MIRROR_VARIABLE)
            .map(PathBuf::from)
            .filter(|mirror| mirror.join("registry.terraform.io/hashicorp/aws").is_dir());
        let missing = match (found, &mirror) {
            (true, Some(_)) => None,
            (false, _) => Some("terraform is not on PATH"),
            (true, None) => Some(
                "no provider mirror: run the tests with `cargo xtask test`, which finds it and sets SHOPSTACK_TF_PROVIDER_MIRROR",
            ),
        };
        if let Some(missing) = missing {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{missing}: the Terraform tests must run in CI"
            );
            eprintln!("skipped: {missing}");
            return None;
        }
        let config = tempfile::tempdir().expect("temporary directory");
        let mirror = mirror.unwrap_or_default();
        std::fs::write(
            config.path().join("terraformrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .expect("write the Terraform CLI configuration");
        Some(Self { config })
    }

    /// `terraform ARGS` in `dir` with the stack's credentials.
    pub fn command(&self, stack: &Stack, dir: &Path, args: &[&str]) -> Command {
        self.command_as(&stack.account, dir, args)
    }

    /// `terraform ARGS` in `dir` with `principal`'s credentials.
    pub fn command_as(&self, principal: &Account, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        command
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", self.config.path().join("terraformrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            // The emulator's CA reaches Terraform only through the files ShopStack writes
            // (`custom_ca_bundle`), as it would for a user in a new shell.
            .env_remove("AWS_CA_BUNDLE")
            .envs(principal.environment())
            .stdin(Stdio::null());
        command
    }

    /// Runs `terraform ARGS` to completion.
    pub fn run(&self, stack: &Stack, dir: &Path, args: &[&str]) -> Output {
        crate::run(&mut self.command(stack, dir, args))
    }
}

/// A process whose standard output is read line by line in the background.
pub struct Watched {
    /// The process.
    pub child: Child,
    /// Its standard input.
    pub stdin: Option<ChildStdin>,
    chunks: mpsc::Receiver<String>,
    seen: String,
}

impl Watched {
    /// Spawns `command` with piped standard input and output.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("start {command:?}: {error}"));
        let mut stdout = child.stdout.take().expect("stdout");
        let (sender, chunks) = mpsc::channel();
        // Chunks, not lines: a prompt does not end its line.
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0
                    || sender
                        .send(String::from_utf8_lossy(&buffer[..read]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            chunks,
            seen: String::new(),
        }
    }

    /// Waits until its output contains `text`.
    pub fn wait_for_output(&mut self, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.seen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!(
                    "no line with {text:?} within {timeout:?}; output:\n{}",
                    self.seen
                ),
            }
        }
    }

    /// Answers on its standard input.
    pub fn answer(&mut self, text: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(text.as_bytes());
            let _ = stdin.flush();
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
