//! A failed AWS call, named by service, operation and target, with AWS's code and message.

use std::error::Error;
use std::fmt::{self, Debug, Display};

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use crate::error_chain::error_chain;

/// An AWS call that failed (after the SDK's retries), as the libraries report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCallError {
    /// e.g. `S3`.
    pub service: &'static str,
    /// e.g. `PutBucketVersioning`.
    pub operation: &'static str,
    /// The resource, item or object the call was about.
    pub target: String,
    /// The error code AWS answered with; `None` when the call did not reach AWS (a timeout, a
    /// refused connection) or AWS named no code.
    pub code: Option<String>,
    /// AWS's message, or the transport error's causes on one line.
    pub message: String,
}

impl AwsCallError {
    /// A failure that is not an SDK error (a response body cut off, say), on `target`.
    pub fn other(
        service: &'static str,
        operation: &'static str,
        target: impl Into<String>,
        error: &(dyn Error + 'static),
    ) -> Self {
        Self {
            service,
            operation,
            target: target.into(),
            code: None,
            message: error_chain(error),
        }
    }
}

impl Display for AwsCallError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            service,
            operation,
            target,
            code,
            message,
        } = self;
        write!(formatter, "{service} {operation} on {target}: ")?;
        match code {
            Some(code) if message.is_empty() => write!(formatter, "{code}"),
            Some(code) => write!(formatter, "{code}: {message}"),
            None => write!(formatter, "{message}"),
        }
    }
}

impl Error for AwsCallError {}

/// The one mapper of SDK errors: `.map_err(aws_call("S3", "GetBucketPolicy", &bucket))`.
pub fn aws_call<E, R>(
    service: &'static str,
    operation: &'static str,
    target: &str,
) -> impl FnOnce(SdkError<E, R>) -> AwsCallError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: Debug + 'static,
{
    let target = target.to_owned();
    move |error| {
        let answered = match &error {
            SdkError::ServiceError(service) => service
                .err()
                .code()
                .map(|code| (code.to_owned(), service.err().message().unwrap_or_default())),
            _ => None,
        };
        let (code, message) = match answered {
            Some((code, message)) => (Some(code), message.to_owned()),
            None => (None, error_chain(&error)),
        };
        AwsCallError {
            service,
            operation,
            target,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: Option<&str>, message: &str) -> AwsCallError {
        AwsCallError {
            service: "S3",
            operation: "GetBucketPolicy",
            target: "shop-dev-tfstate".to_owned(),
            code: code.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn reads_as_the_call_then_code_and_message() {
        assert_eq!(
            failed(Some("AccessDenied"), "Access Denied").to_string(),
            "S3 GetBucketPolicy on shop-dev-tfstate: AccessDenied: Access Denied"
        );
        assert_eq!(
            failed(Some("AccessDenied"), "").to_string(),
            "S3 GetBucketPolicy on shop-dev-tfstate: AccessDenied"
        );
        assert_eq!(
            failed(None, "dispatch failure: connection refused").to_string(),
            "S3 GetBucketPolicy on shop-dev-tfstate: dispatch failure: connection refused"
        );
    }
}
