# Every resource of one ShopStack environment, as `infra-terraform apply` creates it on a plain-http
# endpoint (where the state bucket's TLS-only policy is skipped, as ShopStack skips it there).

resource "aws_s3_bucket" "state" {
  bucket = local.state_bucket
  tags   = local.tags
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id
  rule {
    id     = "expire-noncurrent-lock-versions-0"
    status = "Enabled"
    filter {
      prefix = "envs/${var.environment}/terraform.tfstate.tflock"
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    expiration {
      expired_object_delete_marker = true
    }
  }
  rule {
    id     = "expire-noncurrent-lock-versions-1"
    status = "Enabled"
    filter {
      prefix = "${var.project}/${var.environment}/infra.tflock"
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    expiration {
      expired_object_delete_marker = true
    }
  }
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_dynamodb_table" "lock" {
  name         = "${local.name}-tflock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"
  attribute {
    name = "LockID"
    type = "S"
  }
  server_side_encryption {
    enabled = true
  }
  point_in_time_recovery {
    enabled = true
  }
  tags = local.tags
}

resource "aws_secretsmanager_secret" "app_config" {
  name        = "${var.project}/${var.environment}/app-config"
  description = "ShopStack application configuration of ${var.environment} (a JSON object; set with `infra-terraform secret put`)"
  tags        = local.tags
}

resource "aws_ecr_repository" "app" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "AES256"
  }
  tags = local.tags
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    "rules" = [
      {
        "action" = {
          "type" = "expire"
        }
        "description"  = "Expire untagged images after 14 days"
        "rulePriority" = 1
        "selection" = {
          "countNumber" = 14
          "countType"   = "sinceImagePushed"
          "countUnit"   = "days"
          "tagStatus"   = "untagged"
        }
      },
      {
        "action" = {
          "type" = "expire"
        }
        "description"  = "Keep the last 30 images"
        "rulePriority" = 2
        "selection" = {
          "countNumber" = 30
          "countType"   = "imageCountMoreThan"
          "tagStatus"   = "any"
        }
      },
    ]
  })
}

resource "aws_iam_openid_connect_provider" "github" {
  url             = "https://${local.oidc_host}"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
  tags = {
    "ManagedBy" = "shopstack"
  }
}

resource "aws_iam_role" "codebuild" {
  name        = "${local.name}-codebuild"
  description = "ShopStack ${var.environment}: CodeBuild image builds"
  assume_role_policy = jsonencode({
    "Statement" = [
      {
        "Action" = "sts:AssumeRole"
        "Condition" = {
          "StringEquals" = {
            "aws:SourceAccount" = "${var.account_id}"
            "aws:SourceArn"     = "arn:aws:codebuild:${var.region}:${var.account_id}:project/${local.image_build}"
          }
        }
        "Effect" = "Allow"
        "Principal" = {
          "Service" = "codebuild.amazonaws.com"
        }
      },
    ]
    "Version" = "2012-10-17"
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "codebuild" {
  name = "shopstack"
  role = aws_iam_role.codebuild.id
  policy = jsonencode({
    "Statement" = [
      {
        "Action" = [
          "ecr:GetAuthorizationToken",
        ]
        "Effect"   = "Allow"
        "Resource" = "*"
        "Sid"      = "EcrLogin"
      },
      {
        "Action" = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:GetDownloadUrlForLayer",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ]
        "Effect"   = "Allow"
        "Resource" = local.repository
        "Sid"      = "EcrPush"
      },
      {
        "Action" = [
          "logs:CreateLogGroup",
          "logs:CreateLogStream",
          "logs:PutLogEvents",
        ]
        "Effect" = "Allow"
        "Resource" = [
          "arn:aws:logs:${var.region}:${var.account_id}:log-group:/aws/codebuild/${local.image_build}",
          "arn:aws:logs:${var.region}:${var.account_id}:log-group:/aws/codebuild/${local.image_build}:*",
        ]
        "Sid" = "Logs"
      },
    ]
    "Version" = "2012-10-17"
  })
}

resource "aws_iam_role" "github_actions" {
  name        = "${local.name}-github-actions"
  description = "ShopStack ${var.environment}: GitHub Actions through OIDC"
  assume_role_policy = jsonencode({
    "Statement" = [
      {
        "Action" = "sts:AssumeRoleWithWebIdentity"
        "Condition" = {
          "StringEquals" = {
            "${local.oidc_host}:aud" = "sts.amazonaws.com"
            "${local.oidc_host}:sub" = [
              for repository in var.github_repositories : "repo:${repository}:ref:refs/heads/main"
            ]
          }
        }
        "Effect" = "Allow"
        "Principal" = {
          "Federated" = aws_iam_openid_connect_provider.github.arn
        }
      },
    ]
    "Version" = "2012-10-17"
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "github_actions" {
  name = "shopstack"
  role = aws_iam_role.github_actions.id
  policy = jsonencode({
    "Statement" = concat([
      {
        "Action" = [
          "s3:ListBucket",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:s3:::${local.state_bucket}"
        "Sid"      = "StateList"
      },
      {
        "Action" = [
          "s3:DeleteObject",
          "s3:GetObject",
          "s3:PutObject",
        ]
        "Effect" = "Allow"
        "Resource" = [
          "arn:aws:s3:::${local.state_bucket}/envs/${var.environment}/terraform.tfstate",
          "arn:aws:s3:::${local.state_bucket}/envs/${var.environment}/terraform.tfstate.tflock",
        ]
        "Sid" = "StateObject"
      },
      {
        "Action" = [
          "dynamodb:DeleteItem",
          "dynamodb:DescribeTable",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:dynamodb:${var.region}:${var.account_id}:table/${local.name}-tflock"
        "Sid"      = "StateLock"
      },
      {
        "Action" = [
          "ecr:GetAuthorizationToken",
        ]
        "Effect"   = "Allow"
        "Resource" = "*"
        "Sid"      = "EcrLogin"
      },
      {
        "Action" = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:GetDownloadUrlForLayer",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ]
        "Effect"   = "Allow"
        "Resource" = local.repository
        "Sid"      = "EcrPush"
      },
      {
        "Action" = [
          "ecr:DescribeImages",
          "ecr:DescribeRepositories",
        ]
        "Effect"   = "Allow"
        "Resource" = local.repository
        "Sid"      = "EcrLookup"
      },
      {
        "Action" = [
          "codebuild:BatchGetBuilds",
          "codebuild:StartBuild",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:codebuild:${var.region}:${var.account_id}:project/${local.image_build}"
        "Sid"      = "ImageBuild"
      },
      ], [for sid, key in local.build_overrides : {
        "Action"    = "codebuild:StartBuild"
        "Condition" = { "Null" = { (key) = "false" } }
        "Effect"    = "Deny"
        "Resource"  = local.image_build_arn
        "Sid"       = sid
        }], [{
        "Action" = "codebuild:StartBuild"
        "Condition" = {
          "ForAnyValue:StringNotEquals" = {
            "codebuild:environment.environmentVariables.name" = ["IMAGE_TAG", "IMAGE_REPO_URI"]
          }
        }
        "Effect"   = "Deny"
        "Resource" = local.image_build_arn
        "Sid"      = "OnlyImageVariables"
    }])
    "Version" = "2012-10-17"
  })
}

resource "aws_iam_role" "github_infra" {
  name        = "${local.name}-github-infra"
  description = "ShopStack ${var.environment}: infrastructure workflow through OIDC"
  assume_role_policy = jsonencode({
    "Statement" = [
      {
        "Action" = "sts:AssumeRoleWithWebIdentity"
        "Condition" = {
          "StringEquals" = {
            "${local.oidc_host}:aud" = "sts.amazonaws.com"
            "${local.oidc_host}:sub" = ["repo:${var.github_repositories[0]}:ref:refs/heads/main"]
          }
        }
        "Effect" = "Allow"
        "Principal" = {
          "Federated" = aws_iam_openid_connect_provider.github.arn
        }
      },
    ]
    "Version" = "2012-10-17"
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "github_infra" {
  name = "shopstack"
  role = aws_iam_role.github_infra.id
  policy = jsonencode({
    "Statement" = [
      {
        "Action" = [
          "s3:DeleteObject",
          "s3:GetObject",
          "s3:PutObject",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:s3:::${local.state_bucket}/${var.project}/${var.environment}/infra.tflock"
        "Sid"      = "InfraLockfile"
      },
      {
        "Action" = [
          "s3:CreateBucket",
          "s3:ListBucket",
          "s3:GetBucketOwnershipControls",
          "s3:PutBucketOwnershipControls",
          "s3:GetBucketPolicy",
          "s3:PutBucketPolicy",
          "s3:GetBucketPublicAccessBlock",
          "s3:PutBucketPublicAccessBlock",
          "s3:GetBucketTagging",
          "s3:PutBucketTagging",
          "s3:GetBucketVersioning",
          "s3:PutBucketVersioning",
          "s3:GetEncryptionConfiguration",
          "s3:PutEncryptionConfiguration",
          "s3:GetLifecycleConfiguration",
          "s3:PutLifecycleConfiguration",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:s3:::${local.state_bucket}"
        "Sid"      = "StateBucket"
      },
      {
        "Action" = [
          "dynamodb:CreateTable",
          "dynamodb:DescribeTable",
          "dynamodb:UpdateTable",
          "dynamodb:DescribeContinuousBackups",
          "dynamodb:UpdateContinuousBackups",
          "dynamodb:ListTagsOfResource",
          "dynamodb:TagResource",
          "dynamodb:DeleteItem",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:dynamodb:${var.region}:${var.account_id}:table/${local.name}-tflock"
        "Sid"      = "LockTable"
      },
      {
        "Action" = [
          "secretsmanager:CreateSecret",
          "secretsmanager:DescribeSecret",
          "secretsmanager:RestoreSecret",
          "secretsmanager:TagResource",
          "secretsmanager:UpdateSecret",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:${var.project}/${var.environment}/app-config-??????"
        "Sid"      = "AppSecret"
      },
      {
        "Action" = [
          "ecr:CreateRepository",
          "ecr:DescribeRepositories",
          "ecr:GetLifecyclePolicy",
          "ecr:PutLifecyclePolicy",
          "ecr:PutImageScanningConfiguration",
          "ecr:PutImageTagMutability",
          "ecr:ListTagsForResource",
          "ecr:TagResource",
        ]
        "Effect"   = "Allow"
        "Resource" = local.repository
        "Sid"      = "ImageRepository"
      },
      {
        "Action" = [
          "iam:AddClientIDToOpenIDConnectProvider",
          "iam:CreateOpenIDConnectProvider",
          "iam:GetOpenIDConnectProvider",
          "iam:TagOpenIDConnectProvider",
        ]
        "Effect"   = "Allow"
        "Resource" = "arn:aws:iam::${var.account_id}:oidc-provider/${local.oidc_host}"
        "Sid"      = "GitHubOidcProvider"
      },
      {
        "Action" = [
          "iam:CreateRole",
          "iam:GetRole",
          "iam:TagRole",
          "iam:UpdateAssumeRolePolicy",
          "iam:GetRolePolicy",
          "iam:PutRolePolicy",
        ]
        "Effect" = "Allow"
        "Resource" = [
          "arn:aws:iam::${var.account_id}:role/${local.name}-codebuild",
          "arn:aws:iam::${var.account_id}:role/${local.name}-github-actions",
          "arn:aws:iam::${var.account_id}:role/${local.name}-github-infra",
        ]
        "Sid" = "Roles"
      },
      {
        "Action" = [
          "iam:PassRole",
        ]
        "Condition" = {
          "StringEquals" = {
            "iam:PassedToService" = "codebuild.amazonaws.com"
          }
        }
        "Effect"   = "Allow"
        "Resource" = "arn:aws:iam::${var.account_id}:role/${local.name}-codebuild"
        "Sid"      = "PassCodeBuildRole"
      },
      {
        "Action" = [
          "codebuild:BatchGetProjects",
          "codebuild:CreateProject",
          "codebuild:UpdateProject",
        ]
        "Effect"   = "Allow"
        "Resource" = local.image_build_arn
        "Sid"      = "ImageBuildProject"
      },
    ]
    "Version" = "2012-10-17"
  })
}

resource "aws_codebuild_project" "image_build" {
  name           = local.image_build
  description    = "ShopStack ${var.environment}: application image builds"
  service_role   = aws_iam_role.codebuild.arn
  build_timeout  = 30
  queued_timeout = 480
  artifacts {
    type = "NO_ARTIFACTS"
  }
  environment {
    type                        = "LINUX_CONTAINER"
    image                       = "aws/codebuild/standard:7.0"
    compute_type                = "BUILD_GENERAL1_SMALL"
    privileged_mode             = true
    image_pull_credentials_type = "CODEBUILD"
    environment_variable {
      name  = "IMAGE_REPO_URI"
      value = "${var.account_id}.dkr.ecr.${var.region}.amazonaws.com/${local.name}"
      type  = "PLAINTEXT"
    }
  }
  source {
    type      = "GITHUB"
    location  = "https://github.com/acme/infra.git"
    buildspec = "version: 0.2\nphases:\n  install:\n    commands:\n      - command -v cargo || curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal\n  pre_build:\n    commands:\n      - aws ecr get-login-password --region \"$AWS_REGION\" | docker login --username AWS --password-stdin \"$${IMAGE_REPO_URI%%/*}\"\n  build:\n    commands:\n      - PATH=\"$HOME/.cargo/bin:$PATH\" RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --package shopstack-app --target x86_64-unknown-linux-gnu\n      - docker build --file deploy/app/Dockerfile --tag \"$IMAGE_REPO_URI:$${IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}\" .\n  post_build:\n    commands:\n      - docker push \"$IMAGE_REPO_URI:$${IMAGE_TAG:-$CODEBUILD_RESOLVED_SOURCE_VERSION}\"\n"
  }
  logs_config {
    cloudwatch_logs {
      status     = "ENABLED"
      group_name = "/aws/codebuild/${local.image_build}"
    }
    s3_logs {
      status = "DISABLED"
    }
  }
  tags = local.tags
}
