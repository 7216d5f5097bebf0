//! Retrying AWS's eventual-consistency and conflict answers, as the Terraform AWS provider does.
//!
//! A retry costs a round trip only when AWS actually answers with one of the errors a
//! [`Settle`] names; any other answer, success or error, returns at once.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

/// Which answers mean "not yet" rather than "no", and for how long to wait them out.
#[derive(Debug, Clone, Copy)]
pub struct Settle {
    /// Error codes that pass with time.
    pub codes: &'static [&'static str],
    /// When set, only errors whose message contains this text pass with time.
    pub message: Option<&'static str>,
    /// When set, errors whose message contains this text do not pass with time (they need the
    /// caller to act first).
    pub unless: Option<&'static str>,
    /// How long to keep trying.
    pub timeout: Duration,
}

/// The provider's `propagationTimeout` (internal/service/iam/wait.go) and the S3 bucket's
/// `bucketPropagationTimeout` (internal/service/s3/bucket.go): two minutes.
pub const PROPAGATION: Duration = Duration::from_secs(120);

/// First pause between tries; it doubles up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(500);
/// Longest pause between tries.
const MAX_DELAY: Duration = Duration::from_secs(8);

/// S3 right after a bucket's creation, or while another configuration write on it is in flight:
/// `NoSuchBucket` until the bucket has propagated, `409 OperationAborted` ("A conflicting
/// conditional operation is currently in progress against this resource"). The provider retries
/// both on every configuration write (internal/service/s3/bucket*.go).
pub const S3_BUCKET_SETTLING: Settle = Settle {
    codes: &["NoSuchBucket", "OperationAborted"],
    message: None,
    unless: None,
    timeout: PROPAGATION,
};

/// `CreateBucket` of a name deleted moments ago: `409 OperationAborted` until S3 has let the
/// name go (the provider's `resourceBucketCreate`).
pub const S3_NAME_RELEASING: Settle = Settle {
    codes: &["OperationAborted"],
    message: None,
    unless: None,
    timeout: PROPAGATION,
};

/// `UpdateContinuousBackups` on a table that just became ACTIVE: "Backups are being enabled for
/// the table" (the provider's `updatePITR` in internal/service/dynamodb/table.go).
pub const DYNAMODB_BACKUPS_ENABLING: Settle = Settle {
    codes: &["ContinuousBackupsUnavailableException"],
    message: None,
    unless: None,
    timeout: PROPAGATION,
};

/// IAM while another change of the same entity propagates: `ConcurrentModification` on policy
/// calls, `DeleteConflict` on `DeleteRole` while the removal of its policies propagates (the
/// provider's `deleteRole` in internal/service/iam/role.go).
pub const IAM_CONCURRENT: Settle = Settle {
    codes: &["ConcurrentModification", "DeleteConflict"],
    message: None,
    // A role still in an instance profile conflicts until it is taken out: no waiting helps.
    unless: Some("instance profile"),
    timeout: PROPAGATION,
};

/// IAM checking a trust policy that names an OIDC provider created moments ago:
/// `MalformedPolicyDocument` until the provider has propagated.
pub const OIDC_PROVIDER_PROPAGATING: Settle = Settle {
    codes: &["MalformedPolicyDocument"],
    message: None,
    unless: None,
    timeout: PROPAGATION,
};

/// No answer passes with time: the call is made once.
pub const NOTHING: Settle = Settle {
    codes: &[],
    message: None,
    unless: None,
    timeout: Duration::ZERO,
};

/// CodeBuild given a role IAM has not propagated to it yet: `InvalidInputException` "CodeBuild is
/// not authorized to perform: sts:AssumeRole", on create and on update (the provider's
/// `resourceProjectCreate`/`resourceProjectUpdate` in internal/service/codebuild/project.go).
pub const CODEBUILD_ROLE_PROPAGATING: Settle = Settle {
    codes: &["InvalidInputException"],
    message: Some("sts:AssumeRole"),
    unless: None,
    timeout: PROPAGATION,
};

impl Settle {
    /// Whether `error` is one that passes with time.
    pub fn covers<E, R>(&self, error: &SdkError<E, R>) -> bool
    where
        E: ProvideErrorMetadata,
    {
        let SdkError::ServiceError(service) = error else {
            return false;
        };
        let error = service.err();
        let says = |text: &str| {
            error
                .message()
                .is_some_and(|message| message.contains(text))
        };
        error.code().is_some_and(|code| self.codes.contains(&code))
            && self.message.is_none_or(says)
            && !self.unless.is_some_and(says)
    }
}

/// Calls `call` until it answers with anything but an error `settle` covers, or `settle`'s time
/// is up (then its last error is the answer), pausing 0.5 s, 1 s, 2 s … up to 8 s in between.
pub async fn eventually<T, E, R, F, Fut>(settle: &Settle, mut call: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        match call().await {
            Err(error) if settle.covers(&error) && started.elapsed() + delay < settle.timeout => {
                tracing::debug!(
                    code = ProvideErrorMetadata::code(&error).unwrap_or_default(),
                    "AWS is not consistent yet; retrying in {delay:?}"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            answer => return answer,
        }
    }
}
