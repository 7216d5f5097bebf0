//! `secret put` and `secret seed`: store a value of the application secret, read from a file or
//! stdin, or generated for the sample application of the local environment.

use std::io::Read;
use std::path::Path;

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
use shopstack_core::SecretValue;
use thiserror::Error;

/// Errors of `secret put`.
#[derive(Debug, Error)]
pub enum SecretValueError {
    /// The value could not be read.
    #[error("{path}: cannot read the secret value")]
    Read {
        /// The file (`-` for stdin).
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The value is not a JSON object (the message never quotes the value).
    #[error("{path}: the secret value must be a JSON object of configuration keys: {reason}")]
    NotAnObject {
        /// The file.
        path: String,
        /// Where the JSON is wrong, or what it is instead.
        reason: String,
    },
    /// The secret does not exist (or is scheduled for deletion).
    #[error("secret {name} {state}: run `infra-terraform apply` first")]
    Missing {
        /// The secret.
        name: String,
        /// `does not exist` or `is scheduled for deletion`.
        state: &'static str,
    },
    /// Secrets Manager refused the value.
    #[error("SecretsManager PutSecretValue on {name}: {message}")]
    Put {
        /// The secret.
        name: String,
        /// The error, with the value redacted.
        message: String,
    },
}

/// Reads and checks the value before anything is sent: a JSON object, since `secrets sync` turns
/// its keys into the Kubernetes Secret's keys.
pub fn read_value(path: &Path) -> Result<SecretValue, SecretValueError> {
    let shown = path.display().to_string();
    let mut text = String::new();
    let read = if shown == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut text))
    };
    read.map_err(|source| SecretValueError::Read {
        path: shown.clone(),
        source,
    })?;
    let value = SecretValue::new(text);
    match serde_json::from_str::<serde_json::Value>(value.expose()) {
        Ok(serde_json::Value::Object(entries)) => {
            // Each key becomes one Kubernetes Secret key: its value must be flat. Only the key
            // is named, never a value.
            match entries
                .iter()
                .find(|(_, entry)| entry.is_object() || entry.is_array())
            {
                Some((key, entry)) => Err(SecretValueError::NotAnObject {
                    path: shown,
                    reason: format!(
                        "key \"{key}\" holds a JSON {}: values must be strings, numbers or booleans",
                        json_kind(entry)
                    ),
                }),
                None => Ok(value),
            }
        }
        Ok(other) => Err(SecretValueError::NotAnObject {
            path: shown,
            reason: format!("found a JSON {}", json_kind(&other)),
        }),
        // serde_json's message names line and column, never the content.
        Err(error) => Err(SecretValueError::NotAnObject {
            path: shown,
            reason: error.to_string(),
        }),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Stores `value` as the secret's new current version; returns the version id.
pub async fn put(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &SecretValue,
) -> Result<String, SecretValueError> {
    let described = client.describe_secret().secret_id(name).send().await;
    match described {
        Ok(output) if output.deleted_date().is_some() => {
            return Err(SecretValueError::Missing {
                name: name.to_owned(),
                state: "is scheduled for deletion",
            });
        }
        Ok(_) => {}
        Err(error) => {
            let missing = matches!(
                &error,
                SdkError::ServiceError(service) if service.err().is_resource_not_found_exception()
            );
            if missing {
                return Err(SecretValueError::Missing {
                    name: name.to_owned(),
                    state: "does not exist",
                });
            }
            return Err(SecretValueError::Put {
                name: name.to_owned(),
                message: value.redact_in(&shopstack_core::error_chain::aws_error_message(&error)),
            });
        }
    }
    let output = client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value.expose())
        .send()
        .await
        .map_err(
            |error: SdkError<PutSecretValueError, _>| SecretValueError::Put {
                name: name.to_owned(),
                message: value.redact_in(&shopstack_core::error_chain::aws_error_message(&error)),
            },
        )?;
    Ok(output.version_id().unwrap_or("unknown").to_owned())
}

pub use shopstack_core::secret::SAMPLE_APP_KEYS as SAMPLE_KEYS;

/// The environment whose secret `secret seed` may fill: the local one, on the emulator.
pub const SEED_ENVIRONMENT: &str = shopstack_core::config::DEFAULT_ENVIRONMENT;

/// Generated values for [`SAMPLE_KEYS`]: a random session secret (two v4 UUIDs, 244 random
/// bits) and a greeting naming the environment.
pub fn sample_value(environment: &str) -> SecretValue {
    let session = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let [session_key, greeting_key] = SAMPLE_KEYS;
    let mut value = serde_json::Map::new();
    value.insert(session_key.to_owned(), session.into());
    value.insert(
        greeting_key.to_owned(),
        format!("Hello from ShopStack ({environment})").into(),
    );
    SecretValue::new(serde_json::Value::Object(value).to_string())
}

/// Whether the secret has a current value (`false`: created by `apply`, never given one).
pub async fn has_value(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<bool, SecretValueError> {
    match client.get_secret_value().secret_id(name).send().await {
        Ok(output) => Ok(output.secret_string().is_some() || output.secret_binary().is_some()),
        Err(SdkError::ServiceError(service)) if service.err().is_resource_not_found_exception() => {
            // No AWSCURRENT version yet; a secret that does not exist at all is named by `put`.
            Ok(false)
        }
        Err(error) => Err(SecretValueError::Put {
            name: name.to_owned(),
            // GetSecretValue's error carries no value.
            message: format!(
                "GetSecretValue: {}",
                shopstack_core::error_chain::aws_error_message(&error)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-51f3-do-not-print";

    fn read(text: &str) -> Result<SecretValue, String> {
        let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
        let path = dir.path().join("value.json");
        std::fs::write(&path, text).map_err(|error| error.to_string())?;
        read_value(&path).map_err(|error| {
            error
                .to_string()
                .replace(&path.display().to_string(), "FILE")
        })
    }

    #[test]
    fn a_json_object_is_accepted() {
        let value = read(&format!("{{\"API_KEY\": \"{CANARY}\"}}")).expect("valid");
        assert!(value.expose().contains(CANARY));
    }

    #[test]
    fn nested_values_are_refused_naming_only_the_key() {
        let error =
            read(&format!("{{\"DB\": {{\"password\": \"{CANARY}\"}}}}")).expect_err("nested");
        assert_eq!(
            error,
            "FILE: the secret value must be a JSON object of configuration keys: key \"DB\" holds a JSON object: values must be strings, numbers or booleans"
        );
    }

    #[test]
    fn a_non_object_is_refused_without_quoting_the_value() {
        let error = read(&format!("\"{CANARY}\"")).expect_err("a string is not an object");
        assert_eq!(
            error,
            "FILE: the secret value must be a JSON object of configuration keys: found a JSON string"
        );
        let error = read(&format!("API_KEY={CANARY}")).expect_err("not JSON");
        assert!(!error.contains(CANARY), "{error}");
        assert!(error.starts_with("FILE: the secret value must be a JSON object of configuration keys: expected value at line 1 column 1"), "{error}");
    }
}
