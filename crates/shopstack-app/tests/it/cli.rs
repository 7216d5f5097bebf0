//! Flags, `PORT` and the exit codes they lead to.

use std::process::Command;

use crate::process::BINARY;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BINARY)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run shopstack-app");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_version() {
    assert_eq!(
        run(&["--version"], &[]),
        (
            0,
            format!("shopstack-app {}\n", env!("CARGO_PKG_VERSION")),
            String::new()
        )
    );
}

#[test]
fn an_unknown_flag_exits_1_naming_it() {
    assert_eq!(
        run(&["--verbose"], &[]),
        (
            1,
            String::new(),
            "shopstack-app: unknown flag `--verbose` (see --help)\n".to_owned()
        )
    );
}

#[test]
fn a_bad_port_exits_1_naming_it() {
    let (code, stdout, stderr) = run(&[], &[("PORT", "eighty")]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "shopstack-app: invalid PORT `eighty`: expected a port number from 1 to 65535\n"
    );
}

#[test]
fn a_bad_listen_address_exits_1_naming_it() {
    let (code, _, stderr) = run(&["--listen", "nowhere"], &[]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--listen `nowhere`"), "{stderr}");
}

#[test]
fn a_bad_required_key_name_exits_1_naming_it() {
    let (code, _, stderr) = run(
        &["--listen", "127.0.0.1:0"],
        &[("SHOPSTACK_REQUIRED_KEYS", "GOOD,BAD=NAME")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("`BAD=NAME`"), "{stderr}");
    assert!(stderr.contains("SHOPSTACK_REQUIRED_KEYS"), "{stderr}");
}

#[test]
fn a_port_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let (code, _, stderr) = run(&["--listen", &address], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with(&format!("shopstack-app: cannot listen on {address}: ")),
        "{stderr}"
    );
}
