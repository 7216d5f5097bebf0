//! Diagnostics on stderr by verbosity: `-v` for ShopStack's own steps, `-vv` for the AWS SDK's too.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose events `-v` shows.
const OWN_CRATES: [&str; 4] = [
    "shopstack_core",
    "infra_terraform",
    "cluster_gitops",
    "apps_sre",
];
/// SDK crates whose events `-vv` adds (request dispatch and retries; bodies stay redacted).
const SDK_CRATES: [&str; 3] = ["aws_smithy_runtime", "aws_config", "aws_sigv4"];

/// Installs the stderr subscriber for `verbosity` (the count of `-v`). Without `-v` only warnings
/// and errors of ShopStack's own crates are shown.
pub fn init(verbosity: u8) {
    let own = match verbosity {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let mut targets = Targets::new().with_default(LevelFilter::OFF);
    for target in OWN_CRATES {
        targets = targets.with_target(target, own);
    }
    if verbosity >= 2 {
        for target in SDK_CRATES {
            targets = targets.with_target(target, LevelFilter::DEBUG);
        }
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true)
        .without_time();
    // A second call (tests running several commands in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init();
}
