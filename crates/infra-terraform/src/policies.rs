//! IAM, bucket and lifecycle policy documents: the desired ones, canonical forms, and audits.

use serde_json::{Value, json};
use shopstack_core::names::{GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST};

use crate::context::Context;

/// Name of the inline policy on each role.
pub const INLINE_POLICY: &str = "shopstack";

/// A JSON policy document in canonical form (object keys sorted, every list sorted, no
/// whitespace), so that documents that differ only in formatting or in an order AWS does not keep
/// compare equal: statements, actions, resources and condition values are sets, ECR lifecycle
/// rules are ordered by their `rulePriority`, not by their place. Text that is not JSON is
/// returned as is.
pub fn canonical(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .map_or_else(|_| text.to_owned(), |value| orderless(value).to_string())
}

/// `value` with every array sorted by its elements' canonical text.
fn orderless(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<(String, Value)> = items
                .into_iter()
                .map(|item| {
                    let item = orderless(item);
                    (item.to_string(), item)
                })
                .collect();
            items.sort_by(|left, right| left.0.cmp(&right.0));
            Value::Array(items.into_iter().map(|(_, item)| item).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, orderless(value)))
                .collect(),
        ),
        other => other,
    }
}

/// Bucket policy refusing every request not made over TLS.
pub fn tls_only_bucket_policy(bucket_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, format!("{bucket_arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// ECR lifecycle: untagged images expire after 14 days; only the newest 30 images are kept.
pub fn ecr_lifecycle_policy() -> Value {
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged images after 14 days",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
                "action": {"type": "expire"}
            },
            {
                "rulePriority": 2,
                "description": "Keep the last 30 images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30},
                "action": {"type": "expire"}
            }
        ]
    })
}

/// CodeBuild may assume its role only on behalf of its own project in this account.
pub fn codebuild_trust_policy(context: &Context) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {
                    "aws:SourceArn": context.codebuild_project_arn(),
                    "aws:SourceAccount": context.account()
                }
            }
        }]
    })
}

/// ECR actions needed to push an image (and pull its layers).
const ECR_PUSH_ACTIONS: [&str; 7] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
];

/// The CodeBuild role: what its buildspec uses, and no more. It logs in to ECR, pushes to its
/// repository and writes its own logs; it reads no secret (nothing the buildspec runs uses one).
pub fn codebuild_permissions(context: &Context) -> Value {
    let log_group = context.codebuild_log_group_arn();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "EcrPush", "Effect": "Allow", "Action": ECR_PUSH_ACTIONS, "Resource": context.ecr_repository_arn()},
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group.clone(), format!("{log_group}:*")]
            },
        ]
    })
}

/// What CodeBuild's `StartBuild` must not override, each key with the Sid of the statement that
/// denies it. CodeBuild's request condition keys ("AWS CodeBuild condition keys" in its user
/// guide; the keys of StartBuild in the Service Authorization Reference): a `Null` check of
/// `false` means the request sets that field. Each key has a statement of its own, because the
/// keys of one `Null` block must all match for it to apply.
pub const BUILD_OVERRIDES: [(&str, &str); 7] = [
    ("NoBuildspecOverride", "codebuild:source.buildspec"),
    ("NoSourceOverride", "codebuild:source.location"),
    ("NoSecondarySources", "codebuild:secondarySources"),
    ("NoImageOverride", "codebuild:environment.image"),
    ("NoPrivilegedMode", "codebuild:environment.privilegedMode"),
    ("NoServiceRoleOverride", "codebuild:serviceRole"),
    (
        "NoRegistryCredential",
        "codebuild:environment.registryCredential",
    ),
];

/// The only environment variables a build may be started with: those `apps-sre build` sets.
pub const BUILD_VARIABLES: [&str; 2] = ["IMAGE_TAG", "IMAGE_REPO_URI"];

/// Deny statements keeping `StartBuild` to the project as defined: no other buildspec, source,
/// image, privileges or role, and no environment variables but [`BUILD_VARIABLES`].
fn build_override_denies(project_arn: &str) -> Vec<Value> {
    let mut denies: Vec<Value> = BUILD_OVERRIDES
        .iter()
        .map(|(sid, key)| {
            json!({
                "Sid": sid,
                "Effect": "Deny",
                "Action": "codebuild:StartBuild",
                "Resource": project_arn,
                "Condition": {"Null": {*key: "false"}}
            })
        })
        .collect();
    denies.push(json!({
        "Sid": "OnlyImageVariables",
        "Effect": "Deny",
        "Action": "codebuild:StartBuild",
        "Resource": project_arn,
        "Condition": {
            "ForAnyValue:StringNotEquals": {
                "codebuild:environment.environmentVariables.name": BUILD_VARIABLES
            }
        }
    }));
    denies
}

/// GitHub Actions may assume a role through the account's OIDC provider only with these subjects.
fn github_trust_policy(context: &Context, subjects: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": context.oidc_provider_arn()},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{GITHUB_OIDC_HOST}:aud"): GITHUB_OIDC_AUDIENCE,
                    format!("{GITHUB_OIDC_HOST}:sub"): subjects
                }
            }
        }]
    })
}

/// GitHub Actions may assume the CI role only from the listed repositories, on the one branch.
pub fn ci_trust_policy(context: &Context) -> Value {
    github_trust_policy(context, &context.config.github.subjects())
}

/// Only the infrastructure repository's branch may assume the infrastructure role.
pub fn infrastructure_trust_policy(context: &Context) -> Value {
    github_trust_policy(context, &[context.config.github.infrastructure_subject()])
}

/// What `infra-terraform plan` and `apply` call, per resource of the environment, each on that
/// resource alone: reads, creates and settings. No delete (destroy stays with an administrator),
/// no secret value, nothing of another environment. It may rewrite the environment's roles, this
/// one included, so whoever can push to the infrastructure branch controls them: protect it.
pub fn infrastructure_permissions(context: &Context) -> Value {
    let roles: Vec<String> = [
        context.names.codebuild_role(),
        context.names.ci_role(),
        context.names.infrastructure_role(),
    ]
    .iter()
    .map(|role| context.role_arn(role))
    .collect();
    let lockfile = format!(
        "{}/{}.tflock",
        context.state_bucket_arn(),
        context.names.infra_lock_path()
    );
    let mut policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InfraLockfile",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": lockfile
            },
            {
                "Sid": "StateBucket",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket", "s3:ListBucket",
                    "s3:GetBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                    "s3:GetBucketPolicy", "s3:PutBucketPolicy",
                    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                    "s3:GetBucketTagging", "s3:PutBucketTagging",
                    "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"
                ],
                "Resource": context.state_bucket_arn()
            },
            {
                "Sid": "LockTable",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
                    "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
                    "dynamodb:ListTagsOfResource", "dynamodb:TagResource",
                    "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"
                ],
                "Resource": context.lock_table_arn()
            },
            {
                "Sid": "AppSecret",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
                    "secretsmanager:RestoreSecret", "secretsmanager:TagResource",
                    "secretsmanager:UpdateSecret"
                ],
                "Resource": context.app_secret_arn_pattern()
            },
            {
                "Sid": "ImageRepository",
                "Effect": "Allow",
                "Action": [
                    "ecr:CreateRepository", "ecr:DescribeRepositories",
                    "ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy",
                    "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability",
                    "ecr:ListTagsForResource", "ecr:TagResource"
                ],
                "Resource": context.ecr_repository_arn()
            },
            {
                "Sid": "GitHubOidcProvider",
                "Effect": "Allow",
                "Action": [
                    "iam:AddClientIDToOpenIDConnectProvider",
                    "iam:CreateOpenIDConnectProvider",
                    "iam:GetOpenIDConnectProvider",
                    "iam:TagOpenIDConnectProvider"
                ],
                "Resource": context.oidc_provider_arn()
            },
            {
                "Sid": "Roles",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateRole", "iam:GetRole", "iam:TagRole", "iam:UpdateAssumeRolePolicy",
                    "iam:GetRolePolicy", "iam:PutRolePolicy"
                ],
                "Resource": roles
            },
            {
                "Sid": "PassCodeBuildRole",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": context.role_arn(&context.names.codebuild_role()),
                "Condition": {"StringEquals": {"iam:PassedToService": "codebuild.amazonaws.com"}}
            },
            {
                "Sid": "ImageBuildProject",
                "Effect": "Allow",
                "Action": ["codebuild:BatchGetProjects", "codebuild:CreateProject", "codebuild:UpdateProject"],
                "Resource": context.codebuild_project_arn()
            }
        ]
    });
    // The environment's key: the bucket, table, secret and repository are created and re-keyed
    // with it, and DynamoDB, ECR and Secrets Manager hold it through grants, which the role may
    // create for those services only.
    if let (Some(key), Some(statements)) =
        (context.kms_key_arn(), policy["Statement"].as_array_mut())
    {
        statements.push(json!({
            "Sid": "EnvironmentKey",
            "Effect": "Allow",
            "Action": [
                "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant"
            ],
            "Resource": key
        }));
        statements.push(json!({
            "Sid": "EnvironmentKeyGrants",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant"],
            "Resource": key,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}
        }));
    }
    policy
}

/// The CI role: the state object and its lock, ECR push, and image builds as `apps-sre build`
/// starts them (the repository's URI and its tags looked up first).
pub fn ci_permissions(context: &Context) -> Value {
    let bucket = context.state_bucket_arn();
    let state = format!("{bucket}/{}", context.names.state_key());
    let mut policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "StateList", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket},
            {
                "Sid": "StateObject",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": [state.clone(), format!("{state}.tflock")]
            },
            {
                "Sid": "StateLock",
                "Effect": "Allow",
                "Action": ["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": context.lock_table_arn()
            },
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "EcrPush", "Effect": "Allow", "Action": ECR_PUSH_ACTIONS, "Resource": context.ecr_repository_arn()},
            {
                "Sid": "EcrLookup",
                "Effect": "Allow",
                "Action": ["ecr:DescribeImages", "ecr:DescribeRepositories"],
                "Resource": context.ecr_repository_arn()
            },
            {
                "Sid": "ImageBuild",
                "Effect": "Allow",
                "Action": ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                "Resource": context.codebuild_project_arn()
            }
        ]
    });
    if let Some(statements) = policy["Statement"].as_array_mut() {
        // The state objects of a bucket encrypted with the environment's key: Terraform's S3
        // backend with `kms_key_id` needs these three on it (its documentation).
        if let Some(key) = context.kms_key_arn() {
            statements.push(json!({
                "Sid": "StateKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": key
            }));
        }
        statements.extend(build_override_denies(&context.codebuild_project_arn()));
    }
    policy
}

/// Actions AWS only grants on `*`.
const RESOURCE_STAR_ONLY: [&str; 1] = ["ecr:GetAuthorizationToken"];

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

fn label(statement: &Value, index: usize) -> String {
    statement.get("Sid").and_then(Value::as_str).map_or_else(
        || format!("statement {index}"),
        |sid| format!("statement {sid}"),
    )
}

/// Least-privilege findings in a permissions policy: wildcard actions, `*` resources where the
/// actions allow a narrower one.
pub fn permission_findings(document: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for (index, statement) in statements(document).into_iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = label(statement, index);
        let actions = strings(statement.get("Action"));
        for action in actions.iter().filter(|action| action.contains('*')) {
            findings.push(format!("{name}: action \"{action}\" is a wildcard"));
        }
        if statement.get("NotAction").is_some() {
            findings.push(format!(
                "{name}: NotAction in an Allow grants everything else"
            ));
        }
        let star_resource = strings(statement.get("Resource"))
            .iter()
            .any(|resource| resource == "*");
        let star_only = actions
            .iter()
            .all(|action| RESOURCE_STAR_ONLY.contains(&action.as_str()));
        if star_resource && !star_only {
            findings.push(format!("{name}: Resource \"*\" for {}", actions.join(", ")));
        }
    }
    findings
}

/// Findings in the CI role's permissions: every `StartBuild` override of [`BUILD_OVERRIDES`]
/// must be denied, and environment variables limited to [`BUILD_VARIABLES`]; otherwise a
/// workflow could run its own commands with the CodeBuild role's permissions.
pub fn build_override_findings(document: &Value) -> Vec<String> {
    let denies: Vec<&Value> = statements(document)
        .into_iter()
        .filter(|statement| statement.get("Effect").and_then(Value::as_str) == Some("Deny"))
        .filter(|statement| {
            strings(statement.get("Action"))
                .iter()
                .any(|action| action == "codebuild:StartBuild" || action == "codebuild:*")
        })
        .collect();
    let mut findings: Vec<String> = BUILD_OVERRIDES
        .iter()
        .filter(|(_, key)| {
            !denies.iter().any(|statement| {
                statement
                    .get("Condition")
                    .and_then(|condition| condition.get("Null"))
                    .and_then(Value::as_object)
                    .is_some_and(|null| {
                        null.len() == 1 && null.get(*key).and_then(Value::as_str) == Some("false")
                    })
            })
        })
        .map(|(_, key)| {
            format!("StartBuild may set {key}: a workflow could run other commands as the CodeBuild role")
        })
        .collect();
    let variables_limited = denies.iter().any(|statement| {
        let mut names = strings(
            statement
                .get("Condition")
                .and_then(|condition| condition.get("ForAnyValue:StringNotEquals"))
                .and_then(|not_equals| {
                    not_equals.get("codebuild:environment.environmentVariables.name")
                }),
        );
        names.sort();
        let mut wanted: Vec<String> = BUILD_VARIABLES
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        wanted.sort();
        !names.is_empty() && names.iter().all(|name| wanted.contains(name))
    });
    if !variables_limited {
        findings.push(format!(
            "StartBuild may set environment variables other than {}",
            BUILD_VARIABLES.join(", ")
        ));
    }
    findings
}

/// Whether the CodeBuild role's buildspec uses `action`: the ECR login and push of
/// [`codebuild_permissions`], and writing its own logs.
fn buildspec_uses(action: &str) -> bool {
    action == "ecr:GetAuthorizationToken"
        || ECR_PUSH_ACTIONS.contains(&action)
        || action.starts_with("logs:")
}

/// Findings in the CodeBuild role's permissions: actions its buildspec does not use.
pub fn codebuild_permission_findings(document: &Value) -> Vec<String> {
    let mut findings = Vec::new();
    for (index, statement) in statements(document).into_iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = label(statement, index);
        for action in strings(statement.get("Action"))
            .iter()
            .filter(|action| !buildspec_uses(action))
        {
            findings.push(format!("{name}: {action} is not used by the buildspec"));
        }
    }
    findings
}

/// Findings in the CI role's trust policy: every Allow must pin the audience and exact subjects
/// with `StringEquals`, with no wildcard and no `ForAllValues:` operator.
pub fn ci_trust_findings(document: &Value) -> Vec<String> {
    let audience_key = format!("{GITHUB_OIDC_HOST}:aud");
    let subject_key = format!("{GITHUB_OIDC_HOST}:sub");
    let mut findings = Vec::new();
    for (index, statement) in statements(document).into_iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = label(statement, index);
        let conditions = statement.get("Condition").and_then(Value::as_object);
        let Some(conditions) = conditions else {
            findings.push(format!(
                "{name}: no condition: any GitHub repository may assume the role"
            ));
            continue;
        };
        for operator in conditions.keys() {
            if operator.starts_with("ForAllValues:") {
                findings.push(format!(
                    "{name}: {operator} in an Allow matches an empty set"
                ));
            }
            if operator.contains("Like") {
                findings.push(format!("{name}: {operator} allows wildcard subjects"));
            }
        }
        let equals = conditions.get("StringEquals");
        let audiences = strings(equals.and_then(|equals| equals.get(&audience_key)));
        if audiences != [GITHUB_OIDC_AUDIENCE] {
            findings.push(format!(
                "{name}: {audience_key} is not pinned to {GITHUB_OIDC_AUDIENCE} with StringEquals"
            ));
        }
        let subjects = strings(equals.and_then(|equals| equals.get(&subject_key)));
        if subjects.is_empty() {
            findings.push(format!(
                "{name}: {subject_key} is not pinned with StringEquals"
            ));
        }
        for subject in subjects
            .iter()
            .filter(|subject| subject.contains(['*', '?']))
        {
            findings.push(format!("{name}: subject \"{subject}\" is a wildcard"));
        }
    }
    findings
}

/// Findings in the CodeBuild role's trust policy: only CodeBuild, only for its own project.
pub fn codebuild_trust_findings(document: &Value, project_arn: &str) -> Vec<String> {
    let mut findings = Vec::new();
    for (index, statement) in statements(document).into_iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let name = label(statement, index);
        let services = strings(
            statement
                .get("Principal")
                .and_then(|principal| principal.get("Service")),
        );
        if services != ["codebuild.amazonaws.com"] {
            findings.push(format!(
                "{name}: principal is not only codebuild.amazonaws.com"
            ));
        }
        let source = statement
            .get("Condition")
            .and_then(|condition| condition.get("StringEquals"))
            .and_then(|equals| equals.get("aws:SourceArn"));
        if strings(source) != [project_arn] {
            findings.push(format!(
                "{name}: aws:SourceArn is not pinned to {project_arn}"
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ignores_formatting_and_key_order() {
        assert_eq!(
            canonical("{ \"b\": 1,\n \"a\": [2, 3] }"),
            "{\"a\":[2,3],\"b\":1}"
        );
        assert_eq!(canonical("not json"), "not json");
    }

    #[test]
    fn wildcard_actions_and_resources_are_findings() {
        let document = json!({"Statement": [
            {"Sid": "Bad", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "Login", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "Deny", "Effect": "Deny", "Action": "*", "Resource": "*"}
        ]});
        assert_eq!(
            permission_findings(&document),
            [
                "statement Bad: action \"s3:*\" is a wildcard",
                "statement Bad: Resource \"*\" for s3:*"
            ]
        );
    }

    fn trust(condition: Value) -> Value {
        json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]})
    }

    #[test]
    fn an_exact_ci_trust_has_no_findings() {
        let document = trust(json!({"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": ["repo:acme/infra:ref:refs/heads/main"]
        }}));
        assert_eq!(ci_trust_findings(&document), Vec::<String>::new());
    }

    #[test]
    fn widened_ci_trust_is_reported() {
        let document = trust(json!({
            "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
            "ForAllValues:StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
        }));
        assert_eq!(
            ci_trust_findings(&document),
            [
                "statement 0: ForAllValues:StringEquals in an Allow matches an empty set",
                "statement 0: StringLike allows wildcard subjects",
                "statement 0: token.actions.githubusercontent.com:aud is not pinned to sts.amazonaws.com with StringEquals",
                "statement 0: token.actions.githubusercontent.com:sub is not pinned with StringEquals"
            ]
        );
    }

    #[test]
    fn start_build_overrides_must_each_be_denied() {
        let project = "arn:aws:codebuild:eu-west-1:111122223333:project/shop-dev-image-build";
        let policy = json!({"Statement": build_override_denies(project)});
        assert_eq!(build_override_findings(&policy), Vec::<String>::new());
        // One Null block holding every key only applies when all of them are set.
        let anded = json!({"Statement": [{
            "Effect": "Deny",
            "Action": "codebuild:StartBuild",
            "Resource": project,
            "Condition": {"Null": BUILD_OVERRIDES.iter().map(|(_, key)| (key.to_string(), json!("false"))).collect::<serde_json::Map<_, _>>()}
        }]});
        let findings = build_override_findings(&anded);
        assert_eq!(findings.len(), BUILD_OVERRIDES.len() + 1, "{findings:?}");
        assert!(
            findings[0].starts_with("StartBuild may set codebuild:source.buildspec"),
            "{findings:?}"
        );
    }

    #[test]
    fn a_codebuild_role_reading_secrets_is_a_finding() {
        let policy = json!({"Statement": [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "AppSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ]});
        assert_eq!(
            codebuild_permission_findings(&policy),
            ["statement AppSecret: secretsmanager:GetSecretValue is not used by the buildspec"]
        );
    }

    #[test]
    fn codebuild_trust_must_name_its_project() {
        let document = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert_eq!(
            codebuild_trust_findings(&document, "arn:aws:codebuild:eu-west-1:1:project/p"),
            ["statement 0: aws:SourceArn is not pinned to arn:aws:codebuild:eu-west-1:1:project/p"]
        );
    }
}
