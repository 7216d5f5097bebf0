//! Progress of long waits on stderr: one live line on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running progress indicator; stops (and ends its line) when finished or dropped.
pub struct Progress {
    shared: Arc<Mutex<State>>,
    ticker: Option<JoinHandle<()>>,
    live: bool,
}

struct State {
    message: String,
    detail: String,
    started: Instant,
    done: bool,
}

impl Progress {
    /// Starts showing `message` with the elapsed time. On a terminal the line refreshes every
    /// second; otherwise `message` is printed once and each new detail on its own line.
    pub fn start(message: &str) -> Self {
        let live = std::io::stderr().is_terminal();
        let shared = Arc::new(Mutex::new(State {
            message: message.to_owned(),
            detail: String::new(),
            started: Instant::now(),
            done: false,
        }));
        let ticker = if live {
            // The first frame at once, so that even a short wait shows what it is.
            draw(&shared.lock().unwrap_or_else(PoisonError::into_inner));
            let shared = Arc::clone(&shared);
            Some(std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(500));
                    let state = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    if state.done {
                        break;
                    }
                    draw(&state);
                }
            }))
        } else {
            eprintln!("{message}");
            None
        };
        Self {
            shared,
            ticker,
            live,
        }
    }

    /// Replaces the detail shown after the message (printed as a line when not on a terminal
    /// and it changed).
    pub fn set_detail(&self, detail: &str) {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if state.detail == detail {
            return;
        }
        state.detail = detail.to_owned();
        if !self.live {
            eprintln!(
                "  {} ({}s)",
                state.detail,
                state.started.elapsed().as_secs()
            );
        }
    }

    /// Stops and prints `outcome` with the total time.
    pub fn finish(mut self, outcome: &str) {
        let elapsed = self.stop();
        eprintln!("{outcome} ({:.1}s)", elapsed.as_secs_f64());
    }

    fn stop(&mut self) -> Duration {
        let elapsed = {
            let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            state.done = true;
            state.started.elapsed()
        };
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
            // Clear the live line.
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
        elapsed
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.ticker.is_some() {
            self.stop();
        }
    }
}

fn draw(state: &State) {
    let elapsed = state.started.elapsed().as_secs();
    let separator = if state.detail.is_empty() { "" } else { ": " };
    eprint!(
        "\r\x1b[2K{} {elapsed}s{separator}{}",
        state.message, state.detail
    );
    let _ = std::io::stderr().flush();
}
