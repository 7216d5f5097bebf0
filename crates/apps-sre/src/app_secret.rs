//! The application secret in Secrets Manager: one JSON object of string values, read and checked.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use shopstack_core::SecretValue;
use shopstack_core::error_chain::aws_error_message;
use thiserror::Error;

/// Key of the Grafana admin password in the application secret. It is kept out of the
/// application's own Kubernetes Secret: the application has no use for it.
pub const GRAFANA_ADMIN_PASSWORD: &str = "GRAFANA_ADMIN_PASSWORD";

/// Longest key a Kubernetes Secret accepts.
const MAX_KEY_LENGTH: usize = 253;

/// Errors from reading the application secret. None of them carries a value.
#[derive(Debug, Error)]
pub enum AppSecretError {
    /// The secret does not exist.
    #[error("secret {secret} does not exist: create it with `infra-terraform apply`")]
    NotFound {
        /// The secret name.
        secret: String,
    },
    /// The secret exists but has no value yet.
    #[error(
        "secret {secret} has no value yet: put a JSON object with `infra-terraform secret put --from-file F`"
    )]
    NoValue {
        /// The secret name.
        secret: String,
    },
    /// Secrets Manager refused or did not answer.
    #[error("read secret {secret}: {message}")]
    Read {
        /// The secret name.
        secret: String,
        /// The SDK's error on one line.
        message: String,
    },
    /// The value is not JSON.
    #[error("secret {secret}: the value is not JSON (line {line}, column {column})")]
    NotJson {
        /// The secret name.
        secret: String,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// The value is JSON but not an object.
    #[error("secret {secret}: the value must be a JSON object of strings, found {found}")]
    NotObject {
        /// The secret name.
        secret: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// A key cannot be a Kubernetes Secret key.
    #[error(
        "secret {secret}: key \"{key}\" is not a valid Kubernetes Secret key (1 to 253 letters, digits, '-', '_' or '.', not starting with '..')"
    )]
    InvalidKey {
        /// The secret name.
        secret: String,
        /// The key.
        key: String,
    },
    /// A value is not a string, number or boolean.
    #[error(
        "secret {secret}: key \"{key}\" holds {found}: values must be strings, numbers or booleans"
    )]
    InvalidValue {
        /// The secret name.
        secret: String,
        /// The key.
        key: String,
        /// The JSON type found.
        found: &'static str,
    },
}

/// The application configuration: key → secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// The Secrets Manager secret it was read from.
    pub secret_id: String,
    entries: BTreeMap<String, SecretValue>,
}

impl AppConfig {
    /// Every entry, keys sorted.
    pub fn entries(&self) -> &BTreeMap<String, SecretValue> {
        &self.entries
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&SecretValue> {
        self.entries.get(key)
    }

    /// The entries the application receives: all but [`GRAFANA_ADMIN_PASSWORD`].
    pub fn application_entries(&self) -> impl Iterator<Item = (&String, &SecretValue)> {
        self.entries
            .iter()
            .filter(|(key, _)| key.as_str() != GRAFANA_ADMIN_PASSWORD)
    }
}

/// Reads and parses the secret `secret_id`.
pub async fn read(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<AppConfig, AppSecretError> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|error| read_error(secret_id, &error))?;
    let text = match (output.secret_string, output.secret_binary) {
        (Some(text), _) => text,
        (None, Some(binary)) => {
            String::from_utf8(binary.into_inner()).map_err(|_| AppSecretError::NotJson {
                secret: secret_id.to_owned(),
                line: 1,
                column: 1,
            })?
        }
        (None, None) => {
            return Err(AppSecretError::NoValue {
                secret: secret_id.to_owned(),
            });
        }
    };
    parse(secret_id, &SecretValue::new(text))
}

fn read_error<R: std::fmt::Debug + 'static>(
    secret_id: &str,
    error: &SdkError<GetSecretValueError, R>,
) -> AppSecretError {
    if let SdkError::ServiceError(service) = error
        && let GetSecretValueError::ResourceNotFoundException(_) = service.err()
    {
        // Secrets Manager says "not found" both for a missing secret and for one without a
        // value; the message tells which.
        let message = aws_error_message(error);
        return if message.contains("current version") || message.contains("AWSCURRENT") {
            AppSecretError::NoValue {
                secret: secret_id.to_owned(),
            }
        } else {
            AppSecretError::NotFound {
                secret: secret_id.to_owned(),
            }
        };
    }
    AppSecretError::Read {
        secret: secret_id.to_owned(),
        message: aws_error_message(error),
    }
}

/// Parses the secret's text: a JSON object whose keys are valid Secret keys and whose values are
/// strings (numbers and booleans are kept as their JSON text).
pub fn parse(secret_id: &str, text: &SecretValue) -> Result<AppConfig, AppSecretError> {
    let value: serde_json::Value =
        serde_json::from_str(text.expose()).map_err(|error| AppSecretError::NotJson {
            secret: secret_id.to_owned(),
            line: error.line(),
            column: error.column(),
        })?;
    let serde_json::Value::Object(object) = value else {
        return Err(AppSecretError::NotObject {
            secret: secret_id.to_owned(),
            found: json_type(&value),
        });
    };
    let mut entries = BTreeMap::new();
    for (key, value) in object {
        if !valid_key(&key) {
            return Err(AppSecretError::InvalidKey {
                secret: secret_id.to_owned(),
                key,
            });
        }
        let text = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            other => {
                return Err(AppSecretError::InvalidValue {
                    secret: secret_id.to_owned(),
                    key,
                    found: json_type(&other),
                });
            }
        };
        entries.insert(key, SecretValue::new(text));
    }
    Ok(AppConfig {
        secret_id: secret_id.to_owned(),
        entries,
    })
}

/// Kubernetes' rule for Secret and ConfigMap keys (`IsConfigMapKey` in apimachinery's
/// validation): at most 253 of `[-._a-zA-Z0-9]`, neither `.` nor starting with `..`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_LENGTH
        && key != "."
        && !key.starts_with("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "shop/dev/app-config";
    const CANARY: &str = "canary-5f2e-value";

    fn parsed(text: &str) -> Result<AppConfig, AppSecretError> {
        parse(SECRET, &SecretValue::new(text))
    }

    #[test]
    fn an_object_of_strings_numbers_and_booleans_is_read() {
        let config = parsed(r#"{"DB_URL":"postgres://x","PORT":8080,"DEBUG":false}"#).unwrap();
        let entries: Vec<(&str, &str)> = config
            .entries()
            .iter()
            .map(|(key, value)| (key.as_str(), value.expose()))
            .collect();
        assert_eq!(
            entries,
            [
                ("DB_URL", "postgres://x"),
                ("DEBUG", "false"),
                ("PORT", "8080")
            ]
        );
    }

    #[test]
    fn the_grafana_password_is_kept_from_the_application() {
        let config = parsed(r#"{"A":"1","GRAFANA_ADMIN_PASSWORD":"p"}"#).unwrap();
        let keys: Vec<&String> = config.application_entries().map(|(key, _)| key).collect();
        assert_eq!(keys, ["A"]);
        assert_eq!(config.get(GRAFANA_ADMIN_PASSWORD).unwrap().expose(), "p");
    }

    #[test]
    fn a_non_object_is_one_line_without_the_value() {
        let error = parsed(&format!(r#"["{CANARY}"]"#)).unwrap_err().to_string();
        assert_eq!(
            error,
            "secret shop/dev/app-config: the value must be a JSON object of strings, found an array"
        );
    }

    #[test]
    fn invalid_json_names_line_and_column_without_the_value() {
        let error = parsed(&format!("{{\"A\": \"{CANARY}\",\n oops}}"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "secret shop/dev/app-config: the value is not JSON (line 2, column 2)"
        );
    }

    #[test]
    fn an_invalid_key_is_named() {
        let error = parsed(&format!(r#"{{"bad key":"{CANARY}"}}"#))
            .unwrap_err()
            .to_string();
        assert!(error.contains("key \"bad key\" is not a valid Kubernetes Secret key"));
        assert!(!error.contains(CANARY));
    }

    #[test]
    fn a_nested_value_is_named_by_key() {
        let error = parsed(r#"{"NESTED":{"a":1}}"#).unwrap_err().to_string();
        assert_eq!(
            error,
            "secret shop/dev/app-config: key \"NESTED\" holds an object: values must be strings, numbers or booleans"
        );
    }

    #[test]
    fn keys_follow_the_kubernetes_rule() {
        for key in ["A", "a.b-c_d", "tls.crt", "x".repeat(253).as_str()] {
            assert!(valid_key(key), "{key}");
        }
        for key in [
            "",
            ".",
            "..",
            "..data",
            "a/b",
            "a b",
            "ü",
            "x".repeat(254).as_str(),
        ] {
            assert!(!valid_key(key), "{key}");
        }
    }
}
