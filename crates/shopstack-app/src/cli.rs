//! Command-line flags and the `PORT` variable, turned into what to do.

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

/// The variable holding the port to listen on.
pub const PORT_VARIABLE: &str = "PORT";

/// The port used when neither `--listen` nor `PORT` says otherwise (the chart's containerPort).
pub const DEFAULT_PORT: u16 = 8080;

/// Printed by `--help`.
pub const USAGE: &str = "\
Usage: shopstack-app [--listen IP:PORT] [--version] [--help]

Serves /healthz, /readyz, /metrics and / over HTTP on 0.0.0.0:$PORT (default 8080).
  --listen IP:PORT  listen on this address instead
  --version         print the version and exit
  --help            print this help and exit
Environment: PORT, SHOPSTACK_REQUIRED_KEYS (default SESSION_SECRET,GREETING), SHOPSTACK_ENV.
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve HTTP on this address.
    Serve {
        /// The address to listen on.
        listen: SocketAddr,
    },
    /// Print the version.
    Version,
    /// Print the usage.
    Help,
}

/// Errors from reading the command line and `PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A flag this program does not know.
    UnknownFlag(String),
    /// A flag that needs a value came last.
    MissingValue(&'static str),
    /// `--listen` is not an `IP:PORT` address.
    InvalidListen(String),
    /// `PORT` is not a port number from 1 to 65535.
    InvalidPort(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(f, "unknown flag `{flag}` (see --help)"),
            Self::MissingValue(flag) => write!(f, "flag `{flag}` needs a value"),
            Self::InvalidListen(value) => {
                write!(
                    f,
                    "invalid --listen `{value}`: expected IP:PORT, e.g. 0.0.0.0:8080"
                )
            }
            Self::InvalidPort(value) => {
                write!(
                    f,
                    "invalid PORT `{value}`: expected a port number from 1 to 65535"
                )
            }
        }
    }
}

impl std::error::Error for CliError {}

/// Reads the arguments (without the program name) and the value of `PORT`.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    port: Option<OsString>,
) -> Result<Command, CliError> {
    let mut args = args.into_iter();
    let mut listen = None;
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        match arg.as_str() {
            "--version" | "-V" => return Ok(Command::Version),
            "--help" | "-h" => return Ok(Command::Help),
            "--listen" => {
                let value = args.next().ok_or(CliError::MissingValue("--listen"))?;
                listen = Some(parse_listen(&value.to_string_lossy())?);
            }
            _ => match arg.strip_prefix("--listen=") {
                Some(value) => listen = Some(parse_listen(value)?),
                None => return Err(CliError::UnknownFlag(arg)),
            },
        }
    }
    let listen = match listen {
        Some(listen) => listen,
        None => SocketAddr::from((Ipv4Addr::UNSPECIFIED, parse_port(port)?)),
    };
    Ok(Command::Serve { listen })
}

fn parse_listen(value: &str) -> Result<SocketAddr, CliError> {
    value
        .parse()
        .map_err(|_| CliError::InvalidListen(value.to_owned()))
}

fn parse_port(port: Option<OsString>) -> Result<u16, CliError> {
    let Some(port) = port else {
        return Ok(DEFAULT_PORT);
    };
    let port = port.to_string_lossy();
    match port.trim().parse::<u16>() {
        Ok(number) if number != 0 => Ok(number),
        _ => Err(CliError::InvalidPort(port.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str], port: Option<&str>) -> Result<Command, CliError> {
        parse(args.iter().map(OsString::from), port.map(OsString::from))
    }

    fn serve(address: &str) -> Command {
        Command::Serve {
            listen: address.parse().expect("test address"),
        }
    }

    #[test]
    fn no_flags_and_no_port_listen_on_8080_on_all_addresses() {
        assert_eq!(parse_args(&[], None), Ok(serve("0.0.0.0:8080")));
    }

    #[test]
    fn port_variable_sets_the_port() {
        assert_eq!(parse_args(&[], Some("9000")), Ok(serve("0.0.0.0:9000")));
    }

    #[test]
    fn listen_flag_overrides_port_in_both_spellings() {
        assert_eq!(
            parse_args(&["--listen", "127.0.0.1:7000"], Some("9000")),
            Ok(serve("127.0.0.1:7000"))
        );
        assert_eq!(
            parse_args(&["--listen=[::1]:7001"], None),
            Ok(serve("[::1]:7001"))
        );
    }

    #[test]
    fn a_bad_port_is_refused_by_name() {
        for bad in ["http", "0", "70000", "-1", ""] {
            let error = parse_args(&[], Some(bad)).expect_err(bad);
            assert_eq!(error, CliError::InvalidPort(bad.to_owned()));
            assert!(error.to_string().contains("PORT"), "{error}");
        }
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        assert_eq!(
            parse_args(&["--listen", "localhost"], None),
            Err(CliError::InvalidListen("localhost".to_owned()))
        );
        assert_eq!(
            parse_args(&["--listen"], None),
            Err(CliError::MissingValue("--listen"))
        );
    }

    #[test]
    fn an_unknown_flag_is_refused_by_name() {
        let error = parse_args(&["--verbose"], None).expect_err("unknown flag");
        assert_eq!(error, CliError::UnknownFlag("--verbose".to_owned()));
        assert!(error.to_string().contains("--verbose"), "{error}");
    }

    #[test]
    fn version_and_help_win_over_serving() {
        assert_eq!(
            parse_args(&["--version"], Some("bad")),
            Ok(Command::Version)
        );
        assert_eq!(parse_args(&["--help"], None), Ok(Command::Help));
    }
}
