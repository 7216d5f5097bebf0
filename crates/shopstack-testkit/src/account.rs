//! A fresh AWS account on the emulator per test, so account-wide resources do not collide.

/// Credentials of an emulator account no other test uses.
#[derive(Debug, Clone)]
pub struct Account {
    /// The 12-digit account id.
    pub id: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: String,
}

impl Account {
    /// Assumes a role in a new random account through the emulator's STS, which (as its
    /// documentation describes) switches accounts when the role ARN names another one.
    pub fn isolated(endpoint: &str) -> std::io::Result<Self> {
        let ca = endpoint
            .starts_with("https://")
            .then(|| crate::EmulatorTls::of_test_run().ca());
        Self::isolated_on(endpoint, ca.as_deref())
    }

    /// As [`isolated`](Self::isolated), trusting the CA `ca` rather than the test run's.
    pub fn isolated_on(endpoint: &str, ca: Option<&std::path::Path>) -> std::io::Result<Self> {
        let id = random_account_id();
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleSessionName=shopstack-test&RoleArn=arn%3Aaws%3Aiam%3A%3A{id}%3Arole%2Fshopstack-test"
        );
        Self::assumed(endpoint, ca, &body, id)
    }

    /// Credentials of role `role` of account `id` as GitHub Actions gets them: from
    /// `AssumeRoleWithWebIdentity` (the emulator does not check the token).
    pub fn web_identity_on(
        endpoint: &str,
        ca: Option<&std::path::Path>,
        id: &str,
        role: &str,
    ) -> std::io::Result<Self> {
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=github-actions&WebIdentityToken=test-token&RoleArn=arn%3Aaws%3Aiam%3A%3A{id}%3Arole%2F{role}"
        );
        Self::assumed(endpoint, ca, &body, id.to_owned())
    }

    fn assumed(
        endpoint: &str,
        ca: Option<&std::path::Path>,
        body: &str,
        id: String,
    ) -> std::io::Result<Self> {
        let answer = post(endpoint, ca, body)?;
        let field = |name: &str| {
            let start = answer
                .find(&format!("<{name}>"))
                .map(|index| index + name.len() + 2);
            let end = answer.find(&format!("</{name}>"));
            match (start, end) {
                (Some(start), Some(end)) if start <= end => Ok(answer[start..end].to_owned()),
                _ => Err(std::io::Error::other(format!(
                    "AssumeRole answer has no {name}: {answer}"
                ))),
            }
        };
        Ok(Self {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: field("SessionToken")?,
            id,
        })
    }

    /// The credentials as environment variables for a child process.
    pub fn environment(&self) -> [(&'static str, &str); 3] {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.as_str()),
            ("AWS_SESSION_TOKEN", self.session_token.as_str()),
        ]
    }
}

fn random_account_id() -> String {
    let name = crate::unique_project_name();
    let mut value: u64 = name.bytes().fold(1469598103934665603, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(1099511628211)
    });
    let mut digits = String::with_capacity(12);
    for _ in 0..12 {
        digits.push(char::from(b'0' + u8::try_from(value % 10).unwrap_or(0)));
        value /= 10;
    }
    // Never the emulator's default account.
    digits.replace_range(0..1, "9");
    digits
}

/// A form-encoded STS query to the emulator (which routes by the credential scope's service).
fn post(endpoint: &str, ca: Option<&std::path::Path>, body: &str) -> std::io::Result<String> {
    let authority = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=shopstack-test/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    crate::tls::exchange(endpoint, ca, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits_and_not_the_default() {
        for _ in 0..100 {
            let id = random_account_id();
            assert_eq!(id.len(), 12);
            assert!(id.chars().all(|c| c.is_ascii_digit()));
            assert_ne!(id, "123456789012");
        }
    }
}
