//! `shopstack-app`: the small HTTP service that the ShopStack chart deploys.
//!
//! Endpoints (GET or HEAD; any other method gets 405 with `Allow: GET, HEAD`, unknown paths 404):
//! - `/healthz`: 200 `ok` while the process serves (liveness).
//! - `/readyz`: 200 when every required configuration key is set and non-empty, else 503 with a
//!   one-line body naming the missing keys (readiness).
//! - `/metrics`: Prometheus text exposition 0.0.4: request counter, request duration histogram,
//!   build info and readiness gauges.
//! - `/`: JSON with the app name, version, environment, the required keys that are present and
//!   missing, and readiness.
//!
//! Key names are shown, never their values.
//!
//! Environment:
//! - `SHOPSTACK_REQUIRED_KEYS`: comma-separated names of the required configuration keys
//!   (default `SESSION_SECRET,GREETING`); the configuration itself arrives as environment
//!   variables from the Kubernetes Secret `app-config` (`envFrom`).
//! - `SHOPSTACK_ENV`: the environment name shown in `/` and `shopstack_app_build_info`
//!   (default `unknown`).
//! - `PORT`: the port to listen on, on all addresses (default 8080).
//!
//! Flags: `--listen ADDR` (an `IP:PORT` that overrides `PORT`), `--version`, `--help`.
//! Exit codes: 0 after a clean stop (SIGTERM or SIGINT), 1 for bad flags, a bad `PORT` or
//! `SHOPSTACK_REQUIRED_KEYS`, or a listener that cannot be opened.
//!
//! It logs one line per request to stdout (method, route, status code, duration) and writes no
//! files, so it runs as a non-root user on a read-only root filesystem.

mod cli;
mod config;
mod http;
mod json;
mod metrics;
mod routes;
mod server;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::Command;
use crate::config::Config;
use crate::routes::App;

/// The version reported by `--version`, `/` and `shopstack_app_build_info`.
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("shopstack-app: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let command = cli::parse(
        std::env::args_os().skip(1),
        std::env::var_os(cli::PORT_VARIABLE),
    )
    .map_err(|error| error.to_string())?;
    let listen = match command {
        Command::Version => {
            println!("shopstack-app {VERSION}");
            return Ok(());
        }
        Command::Help => {
            print!("{}", cli::USAGE);
            return Ok(());
        }
        Command::Serve { listen } => listen,
    };
    let config = Config::from_process_environment().map_err(|error| error.to_string())?;

    let stop = Arc::new(AtomicBool::new(false));
    for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
        // The shutdown action goes first so that it only fires on a second signal: the first one
        // sets `stop` and starts a graceful stop, a second one ends a stop that hangs.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|error| format!("cannot handle {name}: {error}"))?;
    }

    let listener =
        TcpListener::bind(listen).map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let app = App::new(config, VERSION);
    server::serve(listener, app, &stop).map_err(|error| error.to_string())
}
