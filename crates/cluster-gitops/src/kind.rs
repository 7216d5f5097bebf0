//! The `kind` and `docker` command-line tools: presence checks and the calls ShopStack makes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use shopstack_core::command::{self, CommandError, last_meaningful_line};
use thiserror::Error;
use xshell::{Shell, cmd};

/// How to get docker, shown when it is missing.
pub const INSTALL_DOCKER: &str = "install Docker Engine (docs.docker.com/engine/install)";
/// How to get kind, shown when it is missing.
pub const INSTALL_KIND: &str =
    "install kind (go install sigs.k8s.io/kind@latest, or a release binary from kind.sigs.k8s.io)";

/// Errors from running `kind` or `docker`.
#[derive(Debug, Error)]
pub enum KindError {
    /// The docker command-line tool is not on PATH.
    #[error("docker is not installed (not found on PATH): {INSTALL_DOCKER}")]
    DockerMissing,
    /// The docker command-line tool is there, but no engine answers it.
    #[error(
        "the docker engine is not running ({detail}): start it (systemctl start docker, or Docker Desktop) and check `docker info`"
    )]
    DockerEngineDown {
        /// What docker (or kind) said.
        detail: String,
    },
    /// The kind command-line tool is not on PATH.
    #[error("kind is not installed (not found on PATH): {INSTALL_KIND}")]
    KindMissing,
    /// `kind create cluster` found nodes of a cluster with that name.
    #[error(
        "kind cluster \"{name}\" already exists: delete it first (cluster-gitops delete) or run create with --recreate"
    )]
    AlreadyExists {
        /// The cluster.
        name: String,
    },
    /// kind refused the configuration file.
    #[error("kind refused {}: {detail}", config.display())]
    ConfigRejected {
        /// The configuration file.
        config: PathBuf,
        /// kind's message.
        detail: String,
    },
    /// A command could not run, or ran and failed for another reason.
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Whether an executable called `name` is on `PATH`.
pub fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Checks that docker is installed and its engine answers, and that kind is installed.
pub fn check_tools(sh: &Shell) -> Result<(), KindError> {
    if !on_path("docker") {
        return Err(KindError::DockerMissing);
    }
    let format = "{{.ServerVersion}}";
    let info = command::capture(cmd!(sh, "docker info --format {format}"), "docker info")?;
    if !info.status.success() || info.stdout.trim().is_empty() {
        let detail = last_meaningful_line(&info.stderr)
            .or_else(|| last_meaningful_line(&info.stdout))
            .unwrap_or_else(|| format!("docker info exited with {}", info.status));
        return Err(KindError::DockerEngineDown { detail });
    }
    if !on_path("kind") {
        return Err(KindError::KindMissing);
    }
    Ok(())
}

/// The kind clusters that exist (`kind get clusters`).
pub fn clusters(sh: &Shell) -> Result<Vec<String>, KindError> {
    let output = run(sh, &["get", "clusters"])?;
    Ok(output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Whether the kind cluster `name` exists.
pub fn exists(sh: &Shell, name: &str) -> Result<bool, KindError> {
    Ok(clusters(sh)?.iter().any(|cluster| cluster == name))
}

/// `kind create cluster --name NAME --config FILE`; kind writes the kubeconfig entry itself.
pub fn create(sh: &Shell, name: &str, config: &Path) -> Result<(), KindError> {
    let args: [&OsStr; 6] = [
        "create".as_ref(),
        "cluster".as_ref(),
        "--name".as_ref(),
        name.as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ];
    match run(sh, &args) {
        Ok(_) => Ok(()),
        Err(KindError::Command(CommandError::Failed { detail, .. }))
            if detail.contains("node(s) already exist for a cluster with the name") =>
        {
            Err(KindError::AlreadyExists {
                name: name.to_owned(),
            })
        }
        Err(KindError::Command(CommandError::Failed { detail, .. }))
            if detail.contains("unable to decode config")
                || detail.contains("unknown apiVersion")
                || detail.contains("invalid configuration")
                || detail.contains("error reading file") =>
        {
            Err(KindError::ConfigRejected {
                config: config.to_path_buf(),
                detail: strip_kind_prefix(&detail),
            })
        }
        Err(error) => Err(error),
    }
}

/// `kind delete cluster --name NAME` (kind succeeds when there is nothing to delete).
pub fn delete(sh: &Shell, name: &str) -> Result<(), KindError> {
    run(sh, &["delete", "cluster", "--name", name]).map(drop)
}

/// `kind get kubeconfig --name NAME`: the cluster's kubeconfig as text.
pub fn kubeconfig(sh: &Shell, name: &str) -> Result<String, KindError> {
    run(sh, &["get", "kubeconfig", "--name", name])
}

/// `kind export kubeconfig --name NAME`: merges the cluster's entry into the default kubeconfig.
pub fn export_kubeconfig(sh: &Shell, name: &str) -> Result<(), KindError> {
    run(sh, &["export", "kubeconfig", "--name", name]).map(drop)
}

/// `kind export logs DIR --name NAME`: node logs for a post-mortem.
pub fn export_logs(sh: &Shell, name: &str, dir: &Path) -> Result<(), KindError> {
    let args: [&OsStr; 5] = [
        "export".as_ref(),
        "logs".as_ref(),
        dir.as_os_str(),
        "--name".as_ref(),
        name.as_ref(),
    ];
    run(sh, &args).map(drop)
}

/// Runs `kind ARGS`, returning its standard output; a failure carries kind's `ERROR:` line, and the
/// docker engine being down is recognised whatever the command.
fn run<A: AsRef<OsStr>>(sh: &Shell, args: &[A]) -> Result<String, KindError> {
    let command = format!(
        "kind {}",
        args.iter()
            .map(|arg| arg.as_ref().to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !on_path("kind") {
        return Err(KindError::KindMissing);
    }
    let captured = command::capture(cmd!(sh, "kind {args...}"), &command)?;
    if captured.status.success() {
        return Ok(captured.stdout);
    }
    let stderr = &captured.stderr;
    if let Some(line) = stderr
        .lines()
        .find(|line| line.contains("Cannot connect to the Docker daemon"))
    {
        return Err(KindError::DockerEngineDown {
            detail: line.trim().to_owned(),
        });
    }
    let detail = stderr
        .lines()
        .find(|line| line.starts_with("ERROR:"))
        .map(|line| {
            // kind prints its wrapped error on one line, indented details (e.g. the YAML
            // decoder's "line 7: field x not found") after it, then the failing command's output.
            let mut detail = line.trim().to_owned();
            for continuation in stderr
                .lines()
                .skip_while(|other| *other != line)
                .skip(1)
                .take_while(|other| other.starts_with(char::is_whitespace))
            {
                detail.push(' ');
                detail.push_str(continuation.trim());
            }
            if let Some(output) = stderr
                .lines()
                .skip_while(|other| *other != line)
                .find(|other| other.starts_with("Command Output:"))
            {
                detail.push_str(" (");
                detail.push_str(output.trim());
                detail.push(')');
            }
            detail
        });
    Ok(captured.or_failed(&command, detail)?)
}

fn strip_kind_prefix(detail: &str) -> String {
    detail
        .trim_start_matches("ERROR: ")
        .trim_start_matches("failed to create cluster: ")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_prefixes_are_dropped_from_config_errors() {
        assert_eq!(
            strip_kind_prefix(
                "ERROR: failed to create cluster: unable to decode config: yaml: line 3"
            ),
            "unable to decode config: yaml: line 3"
        );
    }

    #[test]
    fn the_last_non_blank_line_is_the_detail() {
        assert_eq!(
            last_meaningful_line("Server:\nERROR: down\n\n").as_deref(),
            Some("ERROR: down")
        );
        assert_eq!(last_meaningful_line("\n \n"), None);
    }
}
