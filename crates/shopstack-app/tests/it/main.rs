//! Runs the built `shopstack-app` binary on a free loopback port and checks what it serves.

mod cli;
mod endpoints;
mod exposition;
mod metrics;
mod process;
mod shutdown;
