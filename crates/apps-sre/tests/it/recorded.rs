//! `build` against recorded AWS answers the emulator cannot give: a build that runs, then FAILS in
//! its BUILD phase. A local server answers STS, ECR and CodeBuild with real-shaped responses.

use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{Workspace, assert_exit, stderr, stdout};

const ACCOUNT: &str = "111122223333";
const BUILD_ID: &str = "{project}-local-image-build:5e1c0a3e-8f0b-4c1e-9a57-0d4c2b7f9a10";
const LOGS: &str = "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logEvent:group=/aws/codebuild/{project}-local-image-build;stream=5e1c0a3e";

fn amz_json(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

fn target(operation: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("x-amz-target", operation)
}

fn build(project: &str, status: &str, phase: &str, phases: Value) -> Value {
    json!({
        "id": BUILD_ID.replace("{project}", project),
        "arn": format!("arn:aws:codebuild:eu-west-1:{ACCOUNT}:build/{}", BUILD_ID.replace("{project}", project)),
        "buildNumber": 7,
        "startTime": 1767225600.0,
        "currentPhase": phase,
        "buildStatus": status,
        "projectName": format!("{project}-local-image-build"),
        "phases": phases,
        "logs": {"deepLink": LOGS.replace("{project}", project)},
        "buildComplete": status != "IN_PROGRESS",
    })
}

/// STS, ECR and CodeBuild answers for account 111122223333: the repository exists without the
/// tag, the build starts, is IN_PROGRESS once, then FAILED in BUILD.
async fn recorded_aws(project: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=GetCallerIdentity"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::{ACCOUNT}:user/ci</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
            ),
            "text/xml",
        ))
        .mount(&server)
        .await;
    let repository = format!("{project}-local");
    Mock::given(target(
        "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
    ))
    .respond_with(amz_json(&json!({"repositories": [{
        "repositoryArn": format!("arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{repository}"),
        "registryId": ACCOUNT,
        "repositoryName": repository,
        "repositoryUri": format!("{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{repository}"),
        "imageTagMutability": "IMMUTABLE",
    }]})))
    .mount(&server)
    .await;
    Mock::given(target("AmazonEC2ContainerRegistry_V20150921.DescribeImages"))
        .respond_with(
            ResponseTemplate::new(400).set_body_raw(
                json!({
                    "__type": "ImageNotFoundException",
                    "message": format!("The image with imageId {{imageDigest:'null', imageTag:'v9'}} does not exist within the repository with name '{repository}' in the registry with id '{ACCOUNT}'"),
                })
                .to_string(),
                "application/x-amz-json-1.1",
            ),
        )
        .mount(&server)
        .await;
    let queued = json!([
        {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "durationInSeconds": 0},
        {"phaseType": "QUEUED", "phaseStatus": "SUCCEEDED", "durationInSeconds": 1},
        {"phaseType": "PROVISIONING"},
    ]);
    Mock::given(target("CodeBuild_20161006.StartBuild"))
        .respond_with(amz_json(
            &json!({"build": build(project, "IN_PROGRESS", "QUEUED", queued.clone())}),
        ))
        .mount(&server)
        .await;
    Mock::given(target("CodeBuild_20161006.BatchGetBuilds"))
        .respond_with(amz_json(&json!({
            "builds": [build(project, "IN_PROGRESS", "PROVISIONING", queued)],
            "buildsNotFound": [],
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let failed = json!([
        {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "durationInSeconds": 0},
        {"phaseType": "PROVISIONING", "phaseStatus": "SUCCEEDED", "durationInSeconds": 9},
        {"phaseType": "DOWNLOAD_SOURCE", "phaseStatus": "SUCCEEDED", "durationInSeconds": 2},
        {"phaseType": "PRE_BUILD", "phaseStatus": "SUCCEEDED", "durationInSeconds": 3},
        {"phaseType": "BUILD", "phaseStatus": "FAILED", "durationInSeconds": 41, "contexts": [{
            "statusCode": "COMMAND_EXECUTION_ERROR",
            "message": "Error while executing command: docker build --tag \"$IMAGE_REPO_URI:${IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}\" .. Reason: exit status 1"
        }]},
        {"phaseType": "POST_BUILD", "phaseStatus": "SUCCEEDED", "durationInSeconds": 0},
        {"phaseType": "FINALIZING", "phaseStatus": "SUCCEEDED", "durationInSeconds": 2},
        {"phaseType": "COMPLETED"},
    ]);
    Mock::given(target("CodeBuild_20161006.BatchGetBuilds"))
        .respond_with(amz_json(&json!({
            "builds": [build(project, "FAILED", "COMPLETED", failed)],
            "buildsNotFound": [],
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn bodies_of(requests: &[Request], operation: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|request| {
            request
                .headers
                .get("x-amz-target")
                .and_then(|value| value.to_str().ok())
                == Some(operation)
        })
        .map(|request| serde_json::from_slice(&request.body).expect("JSON body"))
        .collect()
}

#[tokio::test]
async fn a_failed_build_exits_1_naming_the_failed_phase() {
    let workspace = Workspace::with_endpoint("https://127.0.0.1:9");
    let server = recorded_aws(&workspace.project).await;
    workspace.set_endpoint(&server.uri());
    let project = workspace.project.clone();
    let id = BUILD_ID.replace("{project}", &project);

    let output = workspace.run(&["build", "--tag", "v9"]).await;
    assert_exit(&output, 1);
    assert_eq!(
        stdout(&output),
        format!(
            "build {id} started: {ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{project}-local:v9\n"
        )
    );
    let error = stderr(&output)
        .lines()
        .last()
        .expect("an error line")
        .to_owned();
    assert_eq!(
        error,
        format!(
            "error: build {id} FAILED in phase BUILD (COMMAND_EXECUTION_ERROR: Error while executing command: docker build --tag \"$IMAGE_REPO_URI:${{IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}}\" .. Reason: exit status 1); logs: {}",
            LOGS.replace("{project}", &project)
        )
    );
    // The progress lines show the phases seen.
    assert!(
        stderr(&output).contains("  PROVISIONING ("),
        "{}",
        stderr(&output)
    );

    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        bodies_of(&requests, "CodeBuild_20161006.StartBuild"),
        [json!({
            "projectName": format!("{project}-local-image-build"),
            "environmentVariablesOverride": [
                {"name": "IMAGE_TAG", "value": "v9", "type": "PLAINTEXT"},
                {"name": "IMAGE_REPO_URI", "value": format!("{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{project}-local"), "type": "PLAINTEXT"},
            ],
        })]
    );
    assert_eq!(
        bodies_of(&requests, "CodeBuild_20161006.BatchGetBuilds"),
        [json!({"ids": [id.clone()]}), json!({"ids": [id]})]
    );
}
