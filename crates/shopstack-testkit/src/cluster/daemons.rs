//! The long-running processes of a cluster: started with their output in a log file and their pid
//! in a file (so another process can stop them), stopped gently, then for good.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ClusterError;

/// One started process.
#[derive(Debug)]
pub struct Daemon {
    /// What it is (`etcd`, `kubelet-shop-worker`, …): its log is `logs/NAME.log`.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// The handle, when this process started it (and so must reap it).
    child: Option<Child>,
}

/// Starts `command` as `name`, its standard output and error appended to `logs/NAME.log` under
/// `dir`, its pid written to `pids/NAME.pid`, in a process group of its own so that a terminal's
/// Ctrl-C reaches only the test, whose exit then tears the cluster down.
pub fn start(dir: &Path, name: &str, command: &mut Command) -> Result<Daemon, ClusterError> {
    use std::os::unix::process::CommandExt;
    let logs = dir.join("logs");
    let pids = dir.join("pids");
    for made in [&logs, &pids] {
        std::fs::create_dir_all(made).map_err(|error| ClusterError::io(made, error))?;
    }
    let log_path = logs.join(format!("{name}.log"));
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| ClusterError::io(&log_path, error))?;
    let err = log
        .try_clone()
        .map_err(|error| ClusterError::io(&log_path, error))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|error| ClusterError::Spawn {
            program: name.to_owned(),
            source: error,
        })?;
    let pid = child.id();
    let pid_path = pids.join(format!("{name}.pid"));
    std::fs::write(&pid_path, pid.to_string())
        .map_err(|error| ClusterError::io(&pid_path, error))?;
    Ok(Daemon {
        name: name.to_owned(),
        pid,
        child: Some(child),
    })
}

/// The processes another process started in `dir`, from their pid files (for a teardown after
/// the supervisor itself died).
pub fn recorded(dir: &Path) -> Vec<Daemon> {
    let Ok(entries) = std::fs::read_dir(dir.join("pids")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.path().file_stem()?.to_string_lossy().into_owned();
            let pid = std::fs::read_to_string(entry.path())
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some(Daemon {
                name,
                pid,
                child: None,
            })
        })
        .collect()
}

impl Daemon {
    /// Whether the process still runs (a zombie counts as gone).
    pub fn running(&mut self) -> bool {
        if let Some(child) = &mut self.child {
            return matches!(child.try_wait(), Ok(None));
        }
        alive(self.pid)
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL; reaped when this process started it.
    pub fn stop(&mut self, grace: Duration) {
        if self.running() {
            signal(self.pid, "TERM");
            let deadline = Instant::now() + grace;
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.running() {
                signal(self.pid, "KILL");
            }
        }
        if let Some(child) = &mut self.child {
            let _ = child.wait();
        } else {
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(self.pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The path of its log under the cluster directory `dir`.
    pub fn log(dir: &Path, name: &str) -> PathBuf {
        dir.join("logs").join(format!("{name}.log"))
    }
}

/// Stops `daemons` together: SIGTERM to all, up to `grace` for all of them to exit, then SIGKILL
/// to those left; each reaped when this process started it.
pub fn stop_all<'a>(daemons: impl IntoIterator<Item = &'a mut Daemon>, grace: Duration) {
    let mut daemons: Vec<&mut Daemon> = daemons.into_iter().collect();
    for daemon in &mut daemons {
        if daemon.running() {
            signal(daemon.pid, "TERM");
        }
    }
    let deadline = Instant::now() + grace;
    while daemons.iter_mut().any(|daemon| daemon.running()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for daemon in daemons {
        daemon.stop(Duration::ZERO);
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `SIG<name>` to `pid` with kill(1): this crate forbids the unsafe code libc would need.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
