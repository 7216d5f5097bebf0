//! `outputs`: what CI and the other tools need of the environment, read live from AWS (as
//! `terraform output` prints a configuration's outputs).

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::context::Context;

/// One output: its name, and its value or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// `state_bucket`, `ci_role_arn`, …
    pub name: &'static str,
    /// The value, `None` when the resource does not exist (yet).
    pub value: Option<String>,
}

/// Every output, in a fixed order. Reads run concurrently, each once.
pub async fn read(context: &Context) -> Result<Vec<Output>, String> {
    let names = &context.names;
    let (bucket, table, repository, project, roles, secret) = futures::join!(
        bucket(context),
        table(context),
        repository_uri(context),
        project(context),
        futures::future::join3(
            role_arn(context, names.ci_role()),
            role_arn(context, names.infrastructure_role()),
            role_arn(context, names.codebuild_role()),
        ),
        secret_arn(context),
    );
    let (ci_role, infrastructure_role, codebuild_role) = roles;
    let bucket = bucket?;
    let backend_key = bucket.as_ref().map(|_| names.state_key());
    Ok(vec![
        output("state_bucket", bucket),
        output("lock_table", table?),
        output("backend_key", backend_key),
        output("ecr_repository_uri", repository?),
        output("codebuild_project", project?),
        output("ci_role_arn", ci_role?),
        output("infrastructure_role_arn", infrastructure_role?),
        output("codebuild_role_arn", codebuild_role?),
        output("app_secret_arn", secret?),
        output("region", Some(context.region().to_owned())),
        output("account_id", Some(context.account().to_owned())),
    ])
}

fn output(name: &'static str, value: Option<String>) -> Output {
    Output { name, value }
}

/// `None` for a missing resource, else the error on one line.
fn missing_or<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
>(
    what: &str,
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
    missing: &[&str],
) -> Result<Option<String>, String> {
    let code = error.code().unwrap_or_default().to_owned();
    if missing.contains(&code.as_str()) {
        return Ok(None);
    }
    Err(format!(
        "{what}: {}",
        shopstack_core::error_chain::aws_error_message(&error)
    ))
}

async fn bucket(context: &Context) -> Result<Option<String>, String> {
    let name = context.names.state_bucket();
    match context.s3.head_bucket().bucket(&name).send().await {
        Ok(_) => Ok(Some(name)),
        Err(error) => missing_or(
            &format!("S3 HeadBucket on {name}"),
            error,
            &["NotFound", "NoSuchBucket"],
        ),
    }
}

async fn table(context: &Context) -> Result<Option<String>, String> {
    let name = context.names.lock_table();
    match context
        .dynamodb
        .describe_table()
        .table_name(&name)
        .send()
        .await
    {
        Ok(_) => Ok(Some(name)),
        Err(error) => missing_or(
            &format!("DynamoDB DescribeTable on {name}"),
            error,
            &["ResourceNotFoundException"],
        ),
    }
}

async fn repository_uri(context: &Context) -> Result<Option<String>, String> {
    let name = context.names.ecr_repository();
    match context
        .ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
    {
        Ok(output) => Ok(output
            .repositories()
            .iter()
            .find(|repository| repository.repository_name() == Some(name.as_str()))
            .and_then(|repository| repository.repository_uri())
            .map(str::to_owned)),
        Err(error) => missing_or(
            &format!("ECR DescribeRepositories on {name}"),
            error,
            &["RepositoryNotFoundException"],
        ),
    }
}

async fn project(context: &Context) -> Result<Option<String>, String> {
    let name = context.names.codebuild_project();
    match context
        .codebuild
        .batch_get_projects()
        .names(&name)
        .send()
        .await
    {
        Ok(output) => Ok(output
            .projects()
            .iter()
            .find(|project| project.name() == Some(name.as_str()))
            .map(|_| name.clone())),
        Err(error) => missing_or(&format!("CodeBuild BatchGetProjects on {name}"), error, &[]),
    }
}

/// The ARN of role `name`, `None` when it does not exist.
pub async fn role_arn(context: &Context, name: String) -> Result<Option<String>, String> {
    match context.iam.get_role().role_name(&name).send().await {
        Ok(output) => Ok(output.role().map(|role| role.arn().to_owned())),
        Err(error) => missing_or(&format!("IAM GetRole on {name}"), error, &["NoSuchEntity"]),
    }
}

async fn secret_arn(context: &Context) -> Result<Option<String>, String> {
    let name = context.names.app_secret();
    match context
        .secrets
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
    {
        // A secret scheduled for deletion is no output.
        Ok(output) if output.deleted_date().is_some() => Ok(None),
        Ok(output) => Ok(output.arn().map(str::to_owned)),
        Err(error) => missing_or(
            &format!("SecretsManager DescribeSecret on {name}"),
            error,
            &["ResourceNotFoundException"],
        ),
    }
}
