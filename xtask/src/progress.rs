//! Running one bootstrap step under the shared progress line.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use shopstack_progress::Progress;

/// Runs `command` with its output captured, showing `label` and the elapsed time while it runs.
pub fn run(label: &str, command: &mut Command) -> std::io::Result<(Output, Duration)> {
    let started = Instant::now();
    let progress = Progress::start(&format!("--> {label}"));
    let output = command.output();
    let mark = match &output {
        Ok(output) if output.status.success() => "ok",
        _ => "FAILED",
    };
    progress.finish(&format!("{mark:>6}  {label}"));
    Ok((output?, started.elapsed()))
}
