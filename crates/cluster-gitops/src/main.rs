//! The `cluster-gitops` binary: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    shopstack_core::cli::main(cluster_gitops::cli::run)
}
