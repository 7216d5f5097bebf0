//! The `apps-sre` binary: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    shopstack_core::cli::main(apps_sre::cli::run)
}
