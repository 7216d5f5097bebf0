//! One-line rendering of an error and its causes, for SDK errors whose `Display` says too little.

use std::error::Error;
use std::fmt::Debug;

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

/// `outer: cause: root cause`, skipping causes whose text the previous one already contains.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// An AWS SDK error as one line: `Code: message` for a service error, the cause chain otherwise
/// (timeouts, connection failures).
pub fn aws_error_message<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
    R: Debug + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let error = service.err();
            match (error.code(), error.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => error_chain(error),
            }
        }
        other => error_chain(other),
    }
}

/// The error code AWS answered with, if the call reached AWS.
pub fn aws_error_code<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("dispatch failure")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_causes_on_one_line() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        assert_eq!(error_chain(&error), "dispatch failure: connection refused");
    }
}
