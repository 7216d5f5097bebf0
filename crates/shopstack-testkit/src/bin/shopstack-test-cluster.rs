//! `shopstack-test-cluster`: runs a real test cluster until its standard input closes (or, with
//! `--detach`, until `shopstack-test-cluster down --dir=D`), then tears it down.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use shopstack_testkit::cluster::components::Components;
use shopstack_testkit::cluster::supervisor::{self, Spec};
use shopstack_testkit::cluster::{daemons, new_cluster_dir};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .find_map(|arg| arg.strip_prefix(&format!("--{name}=")).map(str::to_owned))
    };
    match args.first().map(String::as_str) {
        Some("run") => {
            let dir = match flag("dir") {
                Some(dir) => PathBuf::from(dir),
                None => match new_cluster_dir() {
                    Ok(dir) => dir,
                    Err(error) => return fail(&error.to_string()),
                },
            };
            let spec = Spec {
                name: flag("name").unwrap_or_else(|| "kind".to_owned()),
                workers: flag("workers").and_then(|n| n.parse().ok()).unwrap_or(0),
                kubeconfig: flag("kubeconfig")
                    .map_or_else(|| dir.join("kubeconfig"), PathBuf::from),
                dir,
            };
            if args.iter().any(|arg| arg == "--detach") {
                detach(&args, &spec)
            } else {
                run(&spec, args.iter().any(|arg| arg == "--until-stopped"))
            }
        }
        Some("down") => match flag("dir") {
            Some(dir) => {
                down(&PathBuf::from(dir));
                ExitCode::SUCCESS
            }
            None => fail("down needs --dir=DIR"),
        },
        _ => fail(
            "usage: shopstack-test-cluster run [--dir=D] [--name=N] [--workers=K] [--kubeconfig=F] [--detach] | down --dir=D",
        ),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// Starts a supervisor of its own that outlives this process (standard input closed, its own
/// process group), waits until it says `ready`, and says it too: what a `kind create cluster`
/// stand-in runs. `down` stops it.
fn detach(args: &[String], spec: &Spec) -> ExitCode {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let _ = std::fs::create_dir_all(&spec.dir);
    let log_path = spec.dir.join("supervisor.log");
    let Ok(log) = std::fs::File::create(&log_path) else {
        return fail(&format!("cannot write {}", log_path.display()));
    };
    let Ok(program) = std::env::current_exe() else {
        return fail("cannot find this program");
    };
    let mut child_args: Vec<String> = args
        .iter()
        .filter(|arg| *arg != "--detach" && !arg.starts_with("--dir="))
        .cloned()
        .collect();
    child_args.push(format!("--dir={}", spec.dir.display()));
    child_args.push("--until-stopped".to_owned());
    let child = std::process::Command::new(program)
        .args(&child_args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn();
    let Ok(mut child) = child else {
        return fail("cannot start the supervisor");
    };
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    }
    if line.trim() == "ready" {
        println!("ready {}", spec.dir.display());
        ExitCode::SUCCESS
    } else {
        let _ = child.wait();
        fail(
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .trim(),
        )
    }
}

/// Starts the cluster, says `ready` on standard output, and keeps it until standard input closes
/// (unless `until_stopped`) or `down` asks (a `stop` file in its directory); then tears it down.
fn run(spec: &Spec, until_stopped: bool) -> ExitCode {
    let detach = until_stopped;
    let components = match Components::locate() {
        Ok(components) => components,
        Err(error) => return fail(&error.to_string()),
    };
    let _ = std::fs::create_dir_all(&spec.dir);
    let _ = std::fs::write(
        spec.dir.join("supervisor.pid"),
        std::process::id().to_string(),
    );
    let mut running = match supervisor::start(spec, &components) {
        Ok(running) => running,
        Err(error) => return fail(&error.to_string()),
    };
    println!("ready");
    let (closed_tx, closed) = std::sync::mpsc::channel::<()>();
    if !detach {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            let _ = closed_tx.send(());
        });
    }
    let stop = spec.dir.join("stop");
    loop {
        if closed.recv_timeout(Duration::from_millis(200)).is_ok() || stop.exists() {
            break;
        }
    }
    running.teardown();
    ExitCode::SUCCESS
}

/// Asks the supervisor of `dir` to tear its cluster down and waits for it; tears down what its
/// pid files name when the supervisor is gone.
fn down(dir: &std::path::Path) {
    let supervisor = std::fs::read_to_string(dir.join("supervisor.pid"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok());
    if let Some(pid) = supervisor.filter(|pid| daemons::alive(*pid)) {
        let _ = std::fs::write(dir.join("stop"), "");
        let deadline = Instant::now() + Duration::from_secs(120);
        while daemons::alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if dir.exists() {
        let mut recorded = daemons::recorded(dir);
        supervisor::teardown(dir, &mut recorded);
    }
}
