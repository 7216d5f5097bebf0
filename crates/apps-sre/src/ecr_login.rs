//! ECR registry credentials: the authorization token decoded into user, password and expiry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::jiff::Timestamp;
use shopstack_core::SecretValue;
use shopstack_core::error_chain::aws_error_message;
use thiserror::Error;

/// Errors from getting or decoding an ECR authorization token. None of them carries the token.
#[derive(Debug, Error)]
pub enum EcrLoginError {
    /// ECR refused or did not answer `GetAuthorizationToken`.
    #[error("get an ECR authorization token: {message}")]
    Request {
        /// The SDK's error on one line.
        message: String,
    },
    /// The answer has no authorization data.
    #[error("the ECR authorization answer has no {missing}")]
    Incomplete {
        /// The missing field.
        missing: &'static str,
    },
    /// The token is not base64 of `user:password`.
    #[error("the ECR authorization token is not base64 of `user:password`")]
    Malformed,
}

/// Credentials for one ECR registry.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    /// Registry host, e.g. `111122223333.dkr.ecr.eu-west-1.amazonaws.com`.
    pub registry: String,
    /// User name (always `AWS` for ECR).
    pub username: String,
    /// The password: valid until `expires_at`.
    pub password: SecretValue,
    /// When the token expires (ECR tokens live 12 hours), if ECR said.
    pub expires_at: Option<Timestamp>,
}

/// Asks ECR for a token for the caller's registry and decodes it.
pub async fn fetch(client: &aws_sdk_ecr::Client) -> Result<RegistryLogin, EcrLoginError> {
    let output = client
        .get_authorization_token()
        .send()
        .await
        .map_err(|error| EcrLoginError::Request {
            message: aws_error_message(&error),
        })?;
    let data = output
        .authorization_data()
        .first()
        .ok_or(EcrLoginError::Incomplete {
            missing: "authorization data",
        })?;
    let token = data
        .authorization_token()
        .ok_or(EcrLoginError::Incomplete {
            missing: "authorization token",
        })?;
    let endpoint = data.proxy_endpoint().ok_or(EcrLoginError::Incomplete {
        missing: "proxy endpoint",
    })?;
    let expires_at = data
        .expires_at()
        .and_then(|time| Timestamp::from_second(time.secs()).ok());
    decode(&SecretValue::new(token), endpoint, expires_at)
}

/// Decodes `token` (base64 of `user:password`) for the registry at `proxy_endpoint`
/// (`https://HOST`).
pub fn decode(
    token: &SecretValue,
    proxy_endpoint: &str,
    expires_at: Option<Timestamp>,
) -> Result<RegistryLogin, EcrLoginError> {
    let bytes = STANDARD
        .decode(token.expose().trim())
        .map_err(|_| EcrLoginError::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| EcrLoginError::Malformed)?;
    let (username, password) = text.split_once(':').ok_or(EcrLoginError::Malformed)?;
    if username.is_empty() || password.is_empty() {
        return Err(EcrLoginError::Malformed);
    }
    Ok(RegistryLogin {
        registry: registry_host(proxy_endpoint).to_owned(),
        username: username.to_owned(),
        password: SecretValue::new(password),
        expires_at,
    })
}

/// The host of a registry URL or image reference: `https://HOST/` and `HOST/repo` give `HOST`.
pub fn registry_host(reference: &str) -> &str {
    let rest = reference
        .strip_prefix("https://")
        .or_else(|| reference.strip_prefix("http://"))
        .unwrap_or(reference);
    rest.split('/').next().unwrap_or(rest)
}

impl RegistryLogin {
    /// The `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret for this registry.
    pub fn docker_config_json(&self) -> SecretValue {
        let auth = STANDARD.encode(format!("{}:{}", self.username, self.password.expose()));
        let config = serde_json::json!({
            "auths": {
                self.registry.as_str(): {
                    "username": self.username,
                    "password": self.password.expose(),
                    "auth": auth,
                }
            }
        });
        SecretValue::new(config.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-ecr-8c1b";

    fn token(text: &str) -> SecretValue {
        SecretValue::new(STANDARD.encode(text))
    }

    #[test]
    fn a_token_decodes_into_user_and_password_for_the_host() {
        let login = decode(
            &token(&format!("AWS:{CANARY}")),
            "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
            None,
        )
        .unwrap();
        assert_eq!(
            login.registry,
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(login.username, "AWS");
        assert_eq!(login.password.expose(), CANARY);
        assert!(!format!("{login:?}").contains(CANARY));
    }

    #[test]
    fn a_password_may_hold_colons() {
        let login = decode(&token("AWS:a:b"), "https://r", None).unwrap();
        assert_eq!(login.password.expose(), "a:b");
    }

    #[test]
    fn garbage_is_refused_without_echoing_it() {
        for bad in [
            SecretValue::new(format!("!!{CANARY}")),
            token(CANARY),
            token(":only-password"),
        ] {
            let error = decode(&bad, "https://r", None).unwrap_err().to_string();
            assert_eq!(
                error,
                "the ECR authorization token is not base64 of `user:password`"
            );
        }
    }

    #[test]
    fn the_docker_config_holds_the_registry_and_base64_auth() {
        let login = decode(&token("AWS:pw"), "https://reg.example", None).unwrap();
        let config: serde_json::Value =
            serde_json::from_str(login.docker_config_json().expose()).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"auths": {"reg.example": {
                "username": "AWS", "password": "pw", "auth": STANDARD.encode("AWS:pw")
            }}})
        );
    }

    #[test]
    fn hosts_are_taken_from_urls_and_image_references() {
        assert_eq!(registry_host("https://h.example/"), "h.example");
        assert_eq!(registry_host("h.example/repo"), "h.example");
        assert_eq!(registry_host("h.example"), "h.example");
    }
}
