//! SIGINT and SIGTERM while a command holds the state lock: stop the work, so the lock is
//! released before the process exits (130 for Ctrl-C, 143 for SIGTERM).

use std::future::Future;

use shopstack_core::Exit;
use thiserror::Error;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Errors of installing the handlers.
#[derive(Debug, Error)]
#[error("install the SIGINT/SIGTERM handler")]
pub struct SignalError(#[source] std::io::Error);

/// SIGINT and SIGTERM, caught from the moment this is created (so neither kills the process
/// while a lock is held).
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> Result<Self, SignalError> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(SignalError)?,
            terminate: signal(SignalKind::terminate()).map_err(SignalError)?,
        })
    }

    /// Runs `work` to its end, or until a signal arrives: then `work` is dropped (its requests
    /// abandoned) and the signal's exit code is returned as `Err`.
    pub async fn run<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Exit> {
        tokio::select! {
            result = work => Ok(result),
            _ = self.interrupt.recv() => Err(Exit::Interrupted),
            _ = self.terminate.recv() => Err(Exit::Terminated),
        }
    }
}
