//! The Python scanners the tests and `cargo xtask scan` run — zizmor, check-jsonschema, checkov —
//! each installed from PyPI into a virtual environment of its own in the tool cache, keyed by
//! version, and linked into one directory that goes on PATH (the environments' own `python`
//! stays off it).

use std::path::{Path, PathBuf};

use anyhow::Context;
use shopstack_testkit::cluster::components::cache_dir;
use xshell::{Shell, cmd};

/// One scanner: its PyPI package and version, and the program it installs.
#[derive(Debug, Clone, Copy)]
pub struct Scanner {
    /// The PyPI package.
    pub package: &'static str,
    /// The version installed.
    pub version: &'static str,
    /// The program it installs.
    pub program: &'static str,
}

/// GitHub Actions workflow auditor.
pub const ZIZMOR: Scanner = Scanner {
    package: "zizmor",
    version: "1.33.1",
    program: "zizmor",
};
/// JSON Schema checker carrying SchemaStore's GitHub workflow schema.
pub const CHECK_JSONSCHEMA: Scanner = Scanner {
    package: "check-jsonschema",
    version: "0.39.0",
    program: "check-jsonschema",
};
/// Static analysis of Terraform, Kubernetes manifests, Dockerfiles and workflows.
pub const CHECKOV: Scanner = Scanner {
    package: "checkov",
    version: "3.3.30",
    program: "checkov",
};

/// Every scanner, in the order they are installed.
pub const ALL: [Scanner; 3] = [ZIZMOR, CHECK_JSONSCHEMA, CHECKOV];

/// The directory linking every installed scanner's program.
pub fn bin_dir() -> PathBuf {
    cache_dir().join("scanners").join("bin")
}

fn environment_dir(scanner: Scanner) -> PathBuf {
    cache_dir()
        .join("scanners")
        .join(format!("{}-{}", scanner.package, scanner.version))
}

/// The scanner's program, installed when missing, and linked into [`bin_dir`].
pub fn ensure(sh: &Shell, scanner: Scanner) -> anyhow::Result<PathBuf> {
    let environment = environment_dir(scanner);
    let program = environment.join("bin").join(scanner.program);
    if !program.is_file() {
        install(sh, scanner, &environment)?;
    }
    let link = bin_dir().join(scanner.program);
    if std::fs::read_link(&link).ok().as_deref() != Some(program.as_path()) {
        std::fs::create_dir_all(bin_dir()).context("create the scanners' directory")?;
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&program, &link)
            .with_context(|| format!("link {}", link.display()))?;
    }
    Ok(program)
}

fn install(sh: &Shell, scanner: Scanner, environment: &Path) -> anyhow::Result<()> {
    let Scanner {
        package, version, ..
    } = scanner;
    eprintln!("installing {package} {version} from PyPI");
    // A half-made environment from an interrupted install is made again.
    let _ = std::fs::remove_dir_all(environment);
    cmd!(sh, "python3 -m venv {environment}")
        .quiet()
        .run()
        .with_context(|| format!("create a virtual environment for {package}"))?;
    let pip = environment.join("bin").join("pip");
    let requirement = format!("{package}=={version}");
    cmd!(
        sh,
        "{pip} install --quiet --disable-pip-version-check {requirement}"
    )
    .quiet()
    .run()
    .with_context(|| format!("pip install {requirement}"))?;
    Ok(())
}

/// Every scanner installed and linked: the directory to put on PATH.
pub fn ensure_all(sh: &Shell) -> anyhow::Result<PathBuf> {
    for scanner in ALL {
        ensure(sh, scanner)?;
    }
    Ok(bin_dir())
}

/// `package version` of each scanner, for a run's header.
pub fn versions() -> Vec<String> {
    ALL.iter()
        .map(|scanner| format!("{} {}", scanner.package, scanner.version))
        .collect()
}
