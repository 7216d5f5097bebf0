//! The moto AWS emulator: installing it; starting and stopping it is the testkit's.

use anyhow::{Context, bail};
pub use shopstack_testkit::emulator::{Emulator, StopOnDrop, answers};
use xshell::{Shell, cmd};

/// Installs `moto[server]` with pip when the server module cannot be imported.
pub fn ensure_installed(sh: &Shell) -> anyhow::Result<()> {
    let probe = "import moto.server";
    if cmd!(sh, "python3 -c {probe}")
        .quiet()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(());
    }
    eprintln!("moto[server] is missing: installing it with pip");
    let package = "moto[server]";
    let installed = cmd!(sh, "python3 -m pip install --quiet {package}")
        .run()
        .is_ok()
        || cmd!(
            sh,
            "python3 -m pip install --quiet --break-system-packages {package}"
        )
        .run()
        .is_ok();
    if !installed {
        bail!("install the AWS emulator: `python3 -m pip install 'moto[server]'` failed");
    }
    Ok(())
}

/// A free TCP port on loopback.
pub fn free_port() -> anyhow::Result<u16> {
    shopstack_testkit::emulator::free_port().context("find a free loopback port")
}
