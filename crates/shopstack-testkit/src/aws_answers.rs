//! AWS's own error answers, given by the test proxy at the moment real AWS gives them: what moto,
//! answering at once and never conflicting, does not reproduce.

use std::fmt::Write;

/// Requests of one service and operation, as [`crate::Request`] names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `s3`, `iam`, `dynamodb`, `codebuild`, …
    pub service: String,
    /// The operation as the proxy classifies it (`DeleteRole`, `PUT ?versioning`, `PUT bucket`).
    pub operation: String,
}

impl Operation {
    /// `operation` on `service`.
    pub fn new(service: &str, operation: &str) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
        }
    }

    /// Whether a request of `service` and `operation` is this one.
    pub fn matches(&self, service: &str, operation: &str) -> bool {
        self.service == service && self.operation == operation
    }
}

/// An error answered instead of forwarding: the `times` requests matching `at` that follow the
/// first `skip` ones, counted only once a request matching `after` has been forwarded (from the
/// start when there is none). Each such request is answered once; a request after them is
/// forwarded, as AWS answers once it is consistent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAnswer {
    /// Which requests.
    pub at: Operation,
    /// Counting starts once a request of this operation has been forwarded.
    pub after: Option<Operation>,
    /// Matching requests forwarded before the first answered one.
    pub skip: usize,
    /// How many are answered.
    pub times: usize,
    /// HTTP status code.
    pub status: u16,
    /// AWS's error code.
    pub code: String,
    /// AWS's message.
    pub message: String,
    /// Headers sent with it (S3's `x-amz-bucket-region`, say).
    pub headers: Vec<(String, String)>,
}

impl AwsAnswer {
    /// Answers the first request of `operation` on `service` with `status` and AWS error `code`.
    pub fn error(service: &str, operation: &str, status: u16, code: &str, message: &str) -> Self {
        Self {
            at: Operation::new(service, operation),
            after: None,
            skip: 0,
            times: 1,
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            headers: Vec::new(),
        }
    }

    /// Sends header `name: value` with the answer.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers `times` requests in a row.
    #[must_use]
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Lets `skip` matching requests through first (e.g. 1: the second of two writes).
    #[must_use]
    pub fn skip(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Counts only once `operation` on `service` has been forwarded (e.g. after the create).
    #[must_use]
    pub fn after(mut self, service: &str, operation: &str) -> Self {
        self.after = Some(Operation::new(service, operation));
        self
    }
}

/// Where one [`AwsAnswer`] stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnswerState {
    after_seen: bool,
    matched: usize,
}

impl AnswerState {
    /// Whether `answer` answers this request instead of forwarding it; counts it either way.
    pub(crate) fn takes(&mut self, answer: &AwsAnswer, service: &str, operation: &str) -> bool {
        if answer.after.is_some() && !self.after_seen {
            return false;
        }
        if !answer.at.matches(service, operation) {
            return false;
        }
        self.matched += 1;
        self.matched > answer.skip && self.matched <= answer.skip + answer.times
    }

    /// Notes a forwarded request, which may be the one the answer waits to see go by.
    pub(crate) fn forwarded(&mut self, answer: &AwsAnswer, service: &str, operation: &str) {
        if answer
            .after
            .as_ref()
            .is_some_and(|after| after.matches(service, operation))
        {
            self.after_seen = true;
        }
    }
}

/// AWS's documented answers to the calls ShopStack makes, at the moment AWS gives them. Each
/// names where AWS or the Terraform AWS provider (which retries it) says so.
pub fn real_aws() -> Vec<AwsAnswer> {
    vec![
        // DynamoDB: a table just ACTIVE is not ready for point-in-time recovery yet; the
        // provider's `updatePITR` (internal/service/dynamodb/table.go) retries it.
        AwsAnswer::error(
            "dynamodb",
            "UpdateContinuousBackups",
            400,
            "ContinuousBackupsUnavailableException",
            "Backups are being enabled for the table. Please retry later",
        )
        .after("dynamodb", "CreateTable")
        .times(2),
        // S3: a bucket just created is not visible to every endpoint yet; the provider retries
        // `NoSuchBucket` for `bucketPropagationTimeout` (internal/service/s3/bucket.go).
        AwsAnswer::error(
            "s3",
            "PUT ?tagging",
            404,
            "NoSuchBucket",
            "The specified bucket does not exist",
        )
        .after("s3", "PUT bucket"),
        // S3: two configuration writes on one bucket at once; the second is refused (S3's
        // error reference, `OperationAborted`).
        AwsAnswer::error(
            "s3",
            "PUT ?lifecycle",
            409,
            "OperationAborted",
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        ),
        AwsAnswer::error(
            "s3",
            "PUT ?policy",
            409,
            "OperationAborted",
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        ),
        // S3: a bucket name deleted moments ago is not free yet (the provider's
        // `resourceBucketCreate` retries `OperationAborted`).
        AwsAnswer::error(
            "s3",
            "PUT bucket",
            409,
            "OperationAborted",
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        )
        .after("s3", "DELETE bucket"),
        // IAM: the removal of a role's policies propagates after DeleteRolePolicy answers (the
        // provider's `deleteRole`, internal/service/iam/role.go, retries `DeleteConflict`).
        AwsAnswer::error(
            "iam",
            "DeleteRole",
            409,
            "DeleteConflict",
            "Cannot delete entity, must delete policies first.",
        ),
        // IAM: another change of the same role in flight.
        AwsAnswer::error(
            "iam",
            "PutRolePolicy",
            409,
            "ConcurrentModification",
            "Cannot perform the operation on the entity because of a concurrent modification.",
        ),
        // CodeBuild: the service role created moments ago is not assumable by CodeBuild yet;
        // the provider retries for `propagationTimeout` (internal/service/codebuild/project.go).
        AwsAnswer::error(
            "codebuild",
            "CreateProject",
            400,
            "InvalidInputException",
            "CodeBuild is not authorized to perform: sts:AssumeRole on the service role",
        )
        .times(2),
        AwsAnswer::error(
            "codebuild",
            "UpdateProject",
            400,
            "InvalidInputException",
            "CodeBuild is not authorized to perform: sts:AssumeRole on the service role",
        ),
    ]
}

/// The error answer in the service's protocol: S3's REST-XML, IAM's and STS's query XML, or the
/// JSON protocols of DynamoDB, ECR, Secrets Manager and CodeBuild.
pub(crate) fn error_response(
    service: &str,
    status: u16,
    code: &str,
    message: &str,
    headers: &[(String, String)],
) -> String {
    let reason = match status {
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let (content_type, mut extra, body) = match service {
        "s3" => (
            "application/xml",
            String::new(),
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        ),
        "iam" | "sts" => (
            "text/xml",
            String::new(),
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error></ErrorResponse>"
            ),
        ),
        _ => (
            "application/x-amz-json-1.1",
            format!("x-amzn-ErrorType: {code}\r\n"),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    for (name, value) in headers {
        let _ = write!(extra, "{name}: {value}\r\n");
    }
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
