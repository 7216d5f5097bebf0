//! The AWS SDK configuration of an environment: region, endpoint, retries, and the account pin.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use aws_sdk_sts::error::SdkError;
use thiserror::Error;

use crate::config::{DEFAULT_ENVIRONMENT, Environment};
use crate::endpoint::{self, Endpoint, EndpointSource};
use crate::error_chain::error_chain;
use crate::tls::{CaBundle, TlsError};

/// Attempts per AWS call (the first one included), with the SDK's standard backoff and jitter.
pub const MAX_ATTEMPTS: u32 = 6;
/// Upper bound of the first retry's random delay; it doubles per attempt.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Attempts for the identity probe: an endpoint that refuses connections should fail fast.
const IDENTITY_ATTEMPTS: u32 = 3;

/// The retry policy of every call: standard mode (throttling, 5xx, connection errors) with jitter.
pub fn retry_config(max_attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(Duration::from_secs(5))
}

/// Errors from setting up an AWS session.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The `--endpoint-url` flag or `AWS_ENDPOINT_URL` is not a usable endpoint.
    #[error("{0}")]
    Endpoint(String),
    /// The CA bundle to trust cannot be used.
    #[error(transparent)]
    CaBundle(#[from] TlsError),
    /// STS `GetCallerIdentity` failed: no credentials, or the endpoint does not answer.
    #[error("cannot get the caller identity from STS ({endpoint}): {message}")]
    Identity {
        /// The endpoint asked, or the region's default.
        endpoint: String,
        /// The SDK's error, with its causes.
        message: String,
    },
    /// Nothing answers at a loopback endpoint: an emulator that is not running.
    #[error("nothing answers at {endpoint} ({reason}): {hint}")]
    NotAnswering {
        /// The endpoint.
        endpoint: String,
        /// `connection refused`, `timed out`.
        reason: String,
        /// What starts it.
        hint: String,
    },
    /// The credentials belong to another account than the environment is pinned to.
    #[error(
        "environment \"{environment}\" is pinned to account {expected}, but the credentials are for account {actual} ({arn}): refusing to touch it"
    )]
    AccountMismatch {
        /// The environment.
        environment: String,
        /// `account_id` from `shopstack.toml`.
        expected: String,
        /// The account STS reported.
        actual: String,
        /// The caller ARN STS reported.
        arn: String,
    },
}

/// Who the credentials are, as STS reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallerIdentity {
    /// The AWS account id.
    pub account_id: String,
    /// The caller's ARN.
    pub arn: String,
}

/// A verified AWS session for one environment: every client of the tool is built from it.
#[derive(Debug, Clone)]
pub struct AwsSession {
    sdk: SdkConfig,
    environment: Environment,
    endpoint: Option<(Endpoint, EndpointSource)>,
    ca_bundle: Option<CaBundle>,
    identity: CallerIdentity,
}

impl AwsSession {
    /// Resolves the endpoint (flag > `AWS_ENDPOINT_URL` > config), loads the standard credential
    /// chain, asks STS who the caller is, and refuses an account other than the pinned one. This
    /// is the first request any command makes.
    pub async fn connect(
        environment: &Environment,
        endpoint_flag: Option<&str>,
    ) -> Result<Self, SessionError> {
        let variable = std::env::var("AWS_ENDPOINT_URL").ok();
        let endpoint = endpoint::resolve(
            endpoint_flag,
            variable.as_deref(),
            environment.endpoint.as_ref(),
        )
        .map_err(SessionError::Endpoint)?;
        if let Some((endpoint, source)) = &endpoint
            && endpoint.is_plain_http()
            && !environment.plain_http
        {
            return Err(SessionError::Endpoint(format!(
                "{source}: \"{endpoint}\" is plain http, which environment \"{}\" does not allow: use https, or set plain_http = true in [environments.{}]",
                environment.name, environment.name
            )));
        }
        let ca_bundle = CaBundle::for_environment(environment)?;
        let sdk = sdk_config(
            environment,
            endpoint.as_ref().map(|(endpoint, _)| endpoint),
            ca_bundle.as_ref(),
        )
        .await?;
        let identity = caller_identity(
            &sdk,
            environment,
            endpoint.as_ref().map(|(endpoint, _)| endpoint),
        )
        .await?;
        tracing::debug!(account = %identity.account_id, arn = %identity.arn, "caller identity");
        if let Some(expected) = &environment.account_id
            && *expected != identity.account_id
        {
            return Err(SessionError::AccountMismatch {
                environment: environment.name.clone(),
                expected: expected.clone(),
                actual: identity.account_id,
                arn: identity.arn,
            });
        }
        Ok(Self {
            sdk,
            environment: environment.clone(),
            endpoint,
            ca_bundle,
            identity,
        })
    }

    /// The shared SDK configuration (region, endpoint, credentials, retries).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The environment this session is for.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.environment.region
    }

    /// The custom endpoint in use and where it came from, if any.
    pub fn endpoint(&self) -> Option<&(Endpoint, EndpointSource)> {
        self.endpoint.as_ref()
    }

    /// The CA bundle trusted instead of the system's roots, if any.
    pub fn ca_bundle(&self) -> Option<&CaBundle> {
        self.ca_bundle.as_ref()
    }

    /// The verified caller.
    pub fn identity(&self) -> &CallerIdentity {
        &self.identity
    }

    /// The verified account id.
    pub fn account_id(&self) -> &str {
        &self.identity.account_id
    }

    /// An S3 client; path-style addressing on a custom endpoint, which has no per-bucket DNS.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut config =
            aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(self.endpoint.is_some());
        if self
            .endpoint
            .as_ref()
            .is_some_and(|(endpoint, _)| endpoint.is_loopback())
        {
            config = config.interceptor(crate::emulator_compat::VersioningResponseRoot);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    }
}

/// The SDK configuration for `environment` talking to `endpoint`, trusting `ca_bundle` when
/// given. On a loopback endpoint with no credentials in the environment, fixed emulator
/// credentials spare the credential chain's instance-metadata probes.
pub async fn sdk_config(
    environment: &Environment,
    endpoint: Option<&Endpoint>,
    ca_bundle: Option<&CaBundle>,
) -> Result<SdkConfig, TlsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(environment.region.clone()))
        .retry_config(retry_config(MAX_ATTEMPTS));
    if let Some(bundle) = ca_bundle {
        loader = loader.http_client(bundle.http_client()?);
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint.url());
        let no_credentials = ["AWS_ACCESS_KEY_ID", "AWS_PROFILE"]
            .iter()
            .all(|name| std::env::var_os(name).is_none());
        if endpoint.is_loopback() && no_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "shopstack-local",
                "shopstack-local",
                None,
                None,
                "shopstack-local-emulator",
            ));
        }
    }
    Ok(loader.load().await)
}

async fn caller_identity(
    sdk: &SdkConfig,
    environment: &Environment,
    endpoint: Option<&Endpoint>,
) -> Result<CallerIdentity, SessionError> {
    let identity_error = |message: String| SessionError::Identity {
        endpoint: endpoint.map_or_else(
            || "the region's default endpoint".to_owned(),
            |e| e.url().to_owned(),
        ),
        message,
    };
    let output = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .customize()
        .config_override(
            aws_sdk_sts::config::Builder::default().retry_config(retry_config(IDENTITY_ATTEMPTS)),
        )
        .send()
        .await
        .map_err(|error| match (&error, endpoint) {
            // Only a refused or unanswered connection: a TLS failure is an I/O error too.
            (SdkError::DispatchFailure(failure), Some(endpoint))
                if endpoint.is_loopback()
                    && (failure.is_timeout()
                        || (failure.is_io()
                            && error_chain(&error)
                                .to_ascii_lowercase()
                                .contains("connection refused"))) =>
            {
                SessionError::NotAnswering {
                    endpoint: endpoint.url().to_owned(),
                    reason: if failure.is_timeout() {
                        "timed out"
                    } else {
                        "connection refused"
                    }
                    .to_owned(),
                    hint: if environment.name == DEFAULT_ENVIRONMENT {
                        "start the local environment's AWS emulator with `cargo xtask local-aws start`".to_owned()
                    } else {
                        format!(
                            "start the emulator environment \"{}\" points at",
                            environment.name
                        )
                    },
                }
            }
            _ => identity_error(error_chain(&error)),
        })?;
    match (output.account, output.arn) {
        (Some(account_id), Some(arn)) => Ok(CallerIdentity { account_id, arn }),
        _ => Err(identity_error(
            "the answer has no account or ARN".to_owned(),
        )),
    }
}
