//! The required configuration keys, which of them are set, and the readiness that follows.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt;

/// The variable naming the required keys, comma-separated.
pub const REQUIRED_KEYS_VARIABLE: &str = "SHOPSTACK_REQUIRED_KEYS";

/// The required keys when `SHOPSTACK_REQUIRED_KEYS` is not set.
pub const DEFAULT_REQUIRED_KEYS: &str = "SESSION_SECRET,GREETING";

/// The variable naming the environment (dev, staging, prod…).
pub const ENVIRONMENT_VARIABLE: &str = "SHOPSTACK_ENV";

/// The environment name when `SHOPSTACK_ENV` is not set.
pub const UNKNOWN_ENVIRONMENT: &str = "unknown";

/// What the application knows of its configuration: key names only, never their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The environment name from `SHOPSTACK_ENV`.
    pub environment: String,
    /// The required keys that are set and non-empty, sorted.
    pub present_keys: Vec<String>,
    /// The required keys that are unset or empty, sorted.
    pub missing_keys: Vec<String>,
}

/// Errors in `SHOPSTACK_REQUIRED_KEYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A listed name cannot be an environment variable name.
    InvalidKeyName(String),
    /// The list is not valid Unicode.
    NotUnicode,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKeyName(name) => write!(
                f,
                "invalid key name `{name}` in {REQUIRED_KEYS_VARIABLE}: use letters, digits, `_`, `-` and `.`"
            ),
            Self::NotUnicode => write!(f, "{REQUIRED_KEYS_VARIABLE} is not valid Unicode"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment once; other variables are only checked for emptiness and
    /// no value is kept.
    pub fn from_process_environment() -> Result<Self, ConfigError> {
        let required_list = match std::env::var_os(REQUIRED_KEYS_VARIABLE) {
            None => DEFAULT_REQUIRED_KEYS.to_owned(),
            Some(list) => list.into_string().map_err(|_| ConfigError::NotUnicode)?,
        };
        let required = parse_required_keys(&required_list)?;
        let environment = std::env::var_os(ENVIRONMENT_VARIABLE)
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| UNKNOWN_ENVIRONMENT.to_owned());
        Ok(Self::evaluate(&required, environment, |key| {
            std::env::var_os(key).is_some_and(|value| !value.is_empty())
        }))
    }

    /// Sorts the required keys into present and missing by asking `is_set` about each name.
    pub fn evaluate(
        required: &BTreeSet<String>,
        environment: String,
        is_set: impl Fn(&OsStr) -> bool,
    ) -> Self {
        let (present_keys, missing_keys) = required
            .iter()
            .cloned()
            .partition(|key| is_set(OsStr::new(key)));
        Self {
            environment,
            present_keys,
            missing_keys,
        }
    }

    /// Ready when no required key is missing.
    pub fn is_ready(&self) -> bool {
        self.missing_keys.is_empty()
    }
}

/// Splits a comma-separated list of key names; blanks between commas are skipped, so an empty
/// list requires nothing.
pub fn parse_required_keys(list: &str) -> Result<BTreeSet<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            if is_valid_key_name(name) {
                Ok(name.to_owned())
            } else {
                Err(ConfigError::InvalidKeyName(name.to_owned()))
            }
        })
        .collect()
}

/// The characters Kubernetes accepts in a Secret key that `envFrom` turns into a variable.
fn is_valid_key_name(name: &str) -> bool {
    name.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &str) -> BTreeSet<String> {
        parse_required_keys(list).expect("valid key list")
    }

    #[test]
    fn the_default_list_names_two_keys() {
        assert_eq!(
            keys(DEFAULT_REQUIRED_KEYS).into_iter().collect::<Vec<_>>(),
            ["GREETING", "SESSION_SECRET"]
        );
    }

    #[test]
    fn blanks_and_duplicates_are_dropped() {
        assert_eq!(
            keys(" A ,, B,A ,").into_iter().collect::<Vec<_>>(),
            ["A", "B"]
        );
        assert!(keys("").is_empty());
        assert!(keys(" , ").is_empty());
    }

    #[test]
    fn a_name_that_is_no_variable_name_is_refused() {
        for bad in ["A=B", "WITH SPACE", "NUL\0"] {
            assert_eq!(
                parse_required_keys(&format!("OK,{bad}")),
                Err(ConfigError::InvalidKeyName(bad.to_owned()))
            );
        }
    }

    #[test]
    fn readiness_needs_every_required_key() {
        let required = keys("SESSION_SECRET,GREETING");
        let config = Config::evaluate(&required, "dev".to_owned(), |key| key == "GREETING");
        assert_eq!(config.present_keys, ["GREETING"]);
        assert_eq!(config.missing_keys, ["SESSION_SECRET"]);
        assert!(!config.is_ready());

        let config = Config::evaluate(&required, "dev".to_owned(), |_| true);
        assert_eq!(config.present_keys, ["GREETING", "SESSION_SECRET"]);
        assert!(config.missing_keys.is_empty());
        assert!(config.is_ready());
    }

    #[test]
    fn nothing_required_is_ready() {
        let config = Config::evaluate(&BTreeSet::new(), "dev".to_owned(), |_| false);
        assert!(config.is_ready());
    }
}
