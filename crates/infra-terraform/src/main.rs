//! The `infra-terraform` binary: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    shopstack_core::cli::main(infra_terraform::cli::run)
}
