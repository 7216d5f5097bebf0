//! Running one bootstrap step with a live progress line on a terminal, plain lines elsewhere.

use std::io::{IsTerminal, Write};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Runs `command` with its output captured, showing `label` and the elapsed time while it runs.
pub fn run(label: &str, command: &mut Command) -> std::io::Result<(Output, Duration)> {
    let started = Instant::now();
    let live = std::io::stderr().is_terminal();
    if !live {
        eprintln!("--> {label}");
    }
    let done = Arc::new(AtomicBool::new(false));
    let ticker = live.then(|| {
        let done = Arc::clone(&done);
        let label = label.to_owned();
        thread::spawn(move || {
            let mut frame = 0;
            while !done.load(Ordering::SeqCst) {
                eprint!(
                    "\r\x1b[2K{} {label} ({:.1}s)",
                    SPINNER[frame % SPINNER.len()],
                    started.elapsed().as_secs_f64()
                );
                let _ = std::io::stderr().flush();
                frame += 1;
                thread::sleep(Duration::from_millis(100));
            }
        })
    });
    let output = command.output();
    done.store(true, Ordering::SeqCst);
    if let Some(ticker) = ticker {
        let _ = ticker.join();
        eprint!("\r\x1b[2K");
    }
    let elapsed = started.elapsed();
    let output = output?;
    let mark = if output.status.success() {
        "ok"
    } else {
        "FAILED"
    };
    eprintln!("{mark:>6}  {label} ({:.1}s)", elapsed.as_secs_f64());
    Ok((output, elapsed))
}
