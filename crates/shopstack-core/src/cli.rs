//! Command-line pieces every ShopStack binary shares: global flags and argument parsing.

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::config::{Config, ConfigError, DEFAULT_ENVIRONMENT, Environment};
use crate::exit::{Exit, finish};

/// Flags every binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Project configuration file.
    #[arg(
        short = 'c',
        long,
        global = true,
        default_value = "shopstack.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// Environment to act on.
    #[arg(short = 'e', long = "env", global = true, env = "SHOPSTACK_ENV", default_value = DEFAULT_ENVIRONMENT, value_name = "NAME")]
    pub environment: String,

    /// AWS endpoint, overriding AWS_ENDPOINT_URL and the configuration (e.g. a local emulator).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// More detail on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl GlobalArgs {
    /// Loads and validates the whole configuration, then selects the environment. Nothing is sent
    /// anywhere before this succeeds.
    pub fn load(&self) -> Result<(Config, Environment), ConfigError> {
        let config = Config::load(&self.config)?;
        let environment = config.environment(&self.environment)?.clone();
        Ok((config, environment))
    }
}

/// Parses the command line. `--help` and `--version` print and exit 0; a missing subcommand
/// prints the help and exits 1; any other usage error is one line (clap's first) and exits 1
/// (2 is reserved for "changes present").
pub fn parse<T: Parser>() -> Result<T, ExitCode> {
    T::try_parse().map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::FAILURE
        }
        _ => {
            let rendered = error.render().to_string();
            eprintln!(
                "{}",
                rendered
                    .lines()
                    .next()
                    .unwrap_or("error: invalid arguments")
            );
            ExitCode::FAILURE
        }
    })
}

/// The whole of a binary's `main`: parse the command line, run `command` on a Tokio runtime, and
/// turn its result into the exit code (errors as one line on stderr).
pub fn main<T, F, E>(command: impl FnOnce(T) -> F) -> ExitCode
where
    T: Parser,
    F: Future<Output = Result<Exit, E>>,
    E: Display,
{
    let cli = match parse::<T>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let result = runtime.block_on(command(cli));
            // A command stopped by a signal may leave a blocking read of standard input (a
            // prompt) behind: do not wait for it.
            runtime.shutdown_background();
            finish(result)
        }
        Err(error) => finish::<String>(Err(format!("start the async runtime: {error}"))),
    }
}
