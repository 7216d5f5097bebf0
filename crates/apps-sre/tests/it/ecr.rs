//! ECR authorization tokens from the emulator, decoded by the library.

use apps_sre::ecr_login;
use base64::Engine;
use k8s_openapi::jiff::Timestamp;

use crate::Workspace;

/// The emulator's login for the workspace's account, decoded here independently of the tool:
/// (registry host, password, expiry as RFC 3339).
pub async fn emulator_login(workspace: &Workspace) -> (String, String, String) {
    let output = aws_sdk_ecr::Client::new(&workspace.sdk().await)
        .get_authorization_token()
        .send()
        .await
        .expect("GetAuthorizationToken");
    let data = output
        .authorization_data()
        .first()
        .expect("authorization data");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.authorization_token().expect("token"))
        .expect("base64");
    let text = String::from_utf8(decoded).expect("UTF-8");
    let password = text.strip_prefix("AWS:").expect("AWS user").to_owned();
    let registry = data
        .proxy_endpoint()
        .expect("proxy endpoint")
        .trim_start_matches("https://")
        .to_owned();
    let expires = Timestamp::from_second(data.expires_at().expect("expiry").secs())
        .expect("time")
        .to_string();
    (registry, password, expires)
}

#[tokio::test]
async fn the_emulator_token_decodes_into_the_account_registry_login() {
    let workspace = Workspace::on_emulator();
    let (registry, password, expires) = emulator_login(&workspace).await;
    let client = aws_sdk_ecr::Client::new(&workspace.sdk().await);

    let login = ecr_login::fetch(&client).await.expect("fetch");
    assert_eq!(login.username, "AWS");
    assert_eq!(login.password.expose(), password);
    assert_eq!(login.registry, registry);
    assert_eq!(
        login.registry,
        format!(
            "{}.dkr.ecr.{}.amazonaws.com",
            workspace.account().id,
            crate::REGION
        )
    );
    assert_eq!(login.expires_at.map(|time| time.to_string()), Some(expires));
    assert!(!format!("{login:?}").contains(&password));
}
