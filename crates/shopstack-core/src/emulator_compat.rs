//! Compatibility with the local AWS emulator where its answers differ from AWS's wire format.

use aws_sdk_s3::config::Intercept;
use aws_sdk_s3::config::interceptors::FinalizerInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_sdk_s3::types::{BucketVersioningStatus, MfaDeleteStatus};
use aws_smithy_runtime_api::client::interceptors::context::Output;

/// The emulator answers `GetBucketVersioning` with a `<GetBucketVersioningResponse>` root where
/// S3 sends `<VersioningConfiguration>`, which the SDK rejects. This reads the same fields from
/// that body. Installed only on loopback endpoints; AWS's own answers never reach it.
#[derive(Debug)]
pub struct VersioningResponseRoot;

impl Intercept for VersioningResponseRoot {
    fn name(&self) -> &'static str {
        "VersioningResponseRoot"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(context.output_or_error(), Some(Err(_))) {
            return Ok(());
        }
        let Some(body) = context
            .response()
            .and_then(|response| response.body().bytes())
        else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(body);
        if !text.contains("<GetBucketVersioningResponse") {
            return Ok(());
        }
        let output = GetBucketVersioningOutput::builder()
            .set_status(element(&text, "Status").map(BucketVersioningStatus::from))
            .set_mfa_delete(element(&text, "MfaDelete").map(MfaDeleteStatus::from))
            .build();
        if let Some(slot) = context.output_or_error_mut() {
            *slot = Ok(Output::erase(output));
        }
        Ok(())
    }
}

/// The text of the first `<name>…</name>` element, if present and not empty.
fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(&text[start..end]).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_read_by_name() {
        let body = "<GetBucketVersioningResponse><Status>Suspended</Status><MfaDelete></MfaDelete></GetBucketVersioningResponse>";
        assert_eq!(element(body, "Status"), Some("Suspended"));
        assert_eq!(element(body, "MfaDelete"), None);
        assert_eq!(element(body, "Missing"), None);
    }
}
