//! The AWS session: identity first, the account pin, path-style S3 on a custom endpoint.

use std::path::Path;

use shopstack_core::session::SessionError;
use shopstack_core::{AwsSession, Config, Environment};
use shopstack_testkit::{emulator_endpoint, unique_project_name};

fn environment(extra: &str) -> Environment {
    let text = format!(
        "[project]\nname = \"shop\"\n[github]\nrepositories = [\"acme/infra\"]\n[environments.dev]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n{extra}",
        emulator_endpoint()
    );
    let config = Config::parse(Path::new("shopstack.toml"), &text).expect("valid configuration");
    config.environment("dev").expect("dev").clone()
}

#[tokio::test]
async fn a_mismatched_account_pin_is_refused_with_both_accounts() {
    let error = AwsSession::connect(&environment("account_id = \"999988887777\"\n"), None)
        .await
        .expect_err("must refuse");
    match error {
        SessionError::AccountMismatch {
            environment,
            expected,
            actual,
            ..
        } => {
            assert_eq!(environment, "dev");
            assert_eq!(expected, "999988887777");
            assert_eq!(actual, "123456789012");
        }
        other => panic!("expected an account mismatch, got {other}"),
    }
}

#[tokio::test]
async fn the_session_carries_region_and_verified_account() {
    let session = AwsSession::connect(&environment(""), None)
        .await
        .expect("session");
    assert_eq!(session.region(), "eu-west-1");
    assert_eq!(session.account_id(), "123456789012");
    assert_eq!(
        session
            .sdk_config()
            .region()
            .map(ToString::to_string)
            .as_deref(),
        Some("eu-west-1")
    );
}

#[tokio::test]
async fn s3_uses_path_style_addressing_on_a_custom_endpoint() {
    // Virtual-hosted addressing would send `BUCKET.127.0.0.1`, which does not resolve: only
    // path-style requests reach the emulator.
    let session = AwsSession::connect(&environment(""), None)
        .await
        .expect("session");
    let s3 = session.s3();
    let bucket = format!("{}-path-style", unique_project_name());
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    s3.put_object()
        .bucket(&bucket)
        .key("probe")
        .body(b"path-style".to_vec().into())
        .send()
        .await
        .expect("put object");
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("probe")
        .send()
        .await
        .expect("get object");
    let body = object.body.collect().await.expect("read body").into_bytes();
    assert_eq!(&body[..], b"path-style");
}

#[tokio::test]
async fn bucket_versioning_reads_back_from_the_emulator() {
    let session = AwsSession::connect(&environment(""), None)
        .await
        .expect("session");
    let s3 = session.s3();
    let bucket = format!("{}-versioning", unique_project_name());
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    let before = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .expect("read versioning");
    assert_eq!(before.status(), None);
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("suspend versioning");
    let after = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .expect("read versioning");
    assert_eq!(
        after.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Suspended)
    );
}
