//! Secret values that cannot leak through `Debug`, `Display` or logs by accident.

use std::fmt;

/// What a secret shows instead of its value.
pub const REDACTED: &str = "<redacted>";

/// The keys of the application secret the sample application needs: the app chart's
/// `requiredKeys`, and what `infra-terraform secret seed` generates on the local environment.
pub const SAMPLE_APP_KEYS: [&str; 2] = ["SESSION_SECRET", "GREETING"];

/// A secret value. Its `Debug` and `Display` never show it; read it with [`SecretValue::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: call only where it is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the value in `text` (an error message echoing a request, say).
    pub fn redact_in(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, REDACTED)
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({REDACTED})")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-7d1f0c-hunter2";

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretValue::new(CANARY);
        let shown = format!("{secret} {secret:?} {secret:#?} {:?}", Some(&secret));
        assert!(!shown.contains(CANARY), "{shown}");
        assert!(shown.contains(REDACTED));
        assert_eq!(secret.expose(), CANARY);
    }

    #[test]
    fn redact_in_removes_every_occurrence() {
        let secret = SecretValue::new(CANARY);
        let message = format!("rejected {CANARY} because {CANARY} is too long");
        assert_eq!(
            secret.redact_in(&message),
            "rejected <redacted> because <redacted> is too long"
        );
    }
}
