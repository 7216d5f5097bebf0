//! SDK configurations for tests: an emulator account's credentials, the test run's endpoint, and its CA trusted.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::{Account, EmulatorTls, emulator_endpoint};

/// The SDK configuration of `account` in `region`, on the test run's emulator, trusting only its
/// CA.
pub async fn sdk_config(account: &Account, region: &str) -> SdkConfig {
    sdk_config_on(account, region, &emulator_endpoint()).await
}

/// As [`sdk_config`], on the emulator at `endpoint` (served with the test run's certificate).
pub async fn sdk_config_on(account: &Account, region: &str, endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new(
        &account.access_key_id,
        &account.secret_access_key,
        Some(account.session_token.clone()),
        None,
        "test",
    );
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials);
    if endpoint.starts_with("https://") {
        let ca = std::fs::read(EmulatorTls::of_test_run().ca()).expect("the emulator's CA");
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(ca))
            .build()
            .expect("a TLS context trusting the emulator's CA");
        loader = loader.http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context)
                .build_https(),
        );
    }
    loader.load().await
}
