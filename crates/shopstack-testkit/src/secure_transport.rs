//! AWS's `aws:SecureTransport` rule, which the emulator does not evaluate: an S3 request over plain HTTP to a bucket whose policy denies `"Bool": {"aws:SecureTransport": "false"}` is refused with 403 AccessDenied.
//!
//! AWS documents the key in "AWS global condition context keys" (IAM User Guide,
//! `aws:SecureTransport`: "false" when the request was sent over plain HTTP) and its use in the
//! S3 User Guide's "Security best practices for Amazon S3" ("Enforce encryption of data in
//! transit"). Only what the TLS-only policy needs is evaluated: Deny statements for every
//! principal (`"*"`) whose actions include every S3 action (`s3:*` or `*`) and whose resources
//! match the bucket or the object.

use serde_json::Value;

use crate::aws_answers::AwsAnswer;

/// The answer AWS gives to the plain-HTTP request `head` (its request line and headers), or
/// `None` when the bucket's policy (`policy()`, `None` when it has none) does not deny it.
pub fn denial(head: &str, policy: &mut dyn FnMut() -> Option<String>) -> Option<AwsAnswer> {
    let (bucket, key) = target(head)?;
    let policy: Value = serde_json::from_str(&policy()?).ok()?;
    let resource = match key {
        Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
        None => format!("arn:aws:s3:::{bucket}"),
    };
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => return None,
    };
    statements
        .iter()
        .any(|statement| denies_plain_http(statement, &resource))
        .then(|| AwsAnswer::error("s3", "", 403, "AccessDenied", "Access Denied"))
}

/// A GetBucketPolicy request for the bucket `head` addresses, with its credentials, or `None`
/// for a request to no bucket.
pub fn policy_request(head: &str) -> Option<String> {
    let (bucket, _) = target(head)?;
    let mut request = format!("GET /{bucket}?policy HTTP/1.1\r\n");
    for line in head.lines().skip(1) {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if [
            "host",
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
        ]
        .contains(&name.as_str())
        {
            request.push_str(line.trim_end());
            request.push_str("\r\n");
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    Some(request)
}

/// The bucket and object key a path-style request addresses.
fn target(head: &str) -> Option<(String, Option<String>)> {
    let path = head.lines().next()?.split_whitespace().nth(1)?;
    let path = path.split('?').next()?.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (bucket, Some(key.to_owned())),
        Some((bucket, _)) => (bucket, None),
        None => (path, None),
    };
    (!bucket.is_empty()).then(|| (bucket.to_owned(), key))
}

fn denies_plain_http(statement: &Value, resource: &str) -> bool {
    let every_principal = match &statement["Principal"] {
        Value::String(principal) => principal == "*",
        Value::Object(principals) => principals.get("AWS").is_some_and(|aws| aws == "*"),
        _ => false,
    };
    let secure_transport = statement["Condition"]["Bool"]
        .as_object()
        .and_then(|keys| {
            keys.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("aws:SecureTransport"))
        })
        .is_some_and(|(_, value)| {
            strings(value)
                .iter()
                .any(|value| value.eq_ignore_ascii_case("false"))
        });
    statement["Effect"] == "Deny"
        && every_principal
        && secure_transport
        && strings(&statement["Action"])
            .iter()
            .any(|action| action == "*" || action.eq_ignore_ascii_case("s3:*"))
        && strings(&statement["Resource"])
            .iter()
            .any(|pattern| matches(pattern, resource))
}

/// A policy value's strings: one string, a list of them, or a boolean as its text.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Bool(flag) => vec![flag.to_string()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcard match: `*` is any run of characters, `?` any one.
fn matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(position) = star {
            p = position + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::state","arn:aws:s3:::state/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

    fn head(target: &str) -> String {
        format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: AWS4 x\r\nUser-Agent: t\r\n\r\n"
        )
    }

    #[test]
    fn plain_http_to_a_tls_only_bucket_is_denied_and_nothing_else() {
        let denied = |target: &str, policy: Option<&str>| {
            denial(&head(target), &mut || policy.map(str::to_owned))
                .map(|answer| (answer.status, answer.code))
        };
        let access_denied = Some((403, "AccessDenied".to_owned()));
        assert_eq!(
            denied("/state/envs/dev/terraform.tfstate", Some(TLS_ONLY)),
            access_denied
        );
        assert_eq!(denied("/state?versioning", Some(TLS_ONLY)), access_denied);
        assert_eq!(
            denied(
                "/other/key",
                Some(&TLS_ONLY.replace("arn:aws:s3:::state", "arn:aws:s3:::x"))
            ),
            None
        );
        assert_eq!(denied("/state/key", None), None, "no policy");
        assert_eq!(denied("/", Some(TLS_ONLY)), None, "no bucket");
        let allowing = TLS_ONLY.replace("Deny", "Allow");
        assert_eq!(denied("/state/key", Some(&allowing)), None);
        let secure_only = TLS_ONLY.replace("\"false\"", "\"true\"");
        assert_eq!(denied("/state/key", Some(&secure_only)), None);
        let one_action = TLS_ONLY.replace("s3:*", "s3:GetObject");
        assert_eq!(
            denied("/state/key", Some(&one_action)),
            None,
            "beyond what is evaluated"
        );
    }

    #[test]
    fn the_policy_is_asked_for_with_the_requests_credentials() {
        let request = policy_request(&head("/state/envs/dev/terraform.tfstate?x-id=GetObject"))
            .expect("a bucket");
        assert_eq!(
            request,
            "GET /state?policy HTTP/1.1\r\nHost: 127.0.0.1:1\r\nAuthorization: AWS4 x\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(policy_request(&head("/")), None);
    }

    #[test]
    fn wildcards_match_as_iam_matches_them() {
        assert!(matches("arn:aws:s3:::state/*", "arn:aws:s3:::state/a/b"));
        assert!(matches("arn:aws:s3:::st?te", "arn:aws:s3:::state"));
        assert!(!matches("arn:aws:s3:::state/*", "arn:aws:s3:::state"));
        assert!(matches("*", "anything"));
    }
}
