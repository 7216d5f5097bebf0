variable "endpoint" {
  description = "The AWS endpoint of every service (the emulator, or the bench's proxy in front of it)"
  type        = string
}

variable "account_id" {
  description = "The AWS account the resources live in (part of the state bucket's name and of the policies)"
  type        = string
}

variable "project" {
  description = "Project name, as `[project] name` in shopstack.toml"
  type        = string
}

variable "environment" {
  description = "Environment name, as in shopstack.toml"
  type        = string
  default     = "local"
}

variable "region" {
  description = "AWS region of the environment"
  type        = string
  default     = "eu-west-1"
}

variable "github_repositories" {
  description = "Repositories whose main branch may assume the GitHub Actions role"
  type        = list(string)
  default     = ["acme/infra", "acme/apps"]
}

locals {
  name         = "${var.project}-${var.environment}"
  state_bucket = "${local.name}-tfstate-${var.account_id}"
  image_build  = "${local.name}-image-build"
  # The StartBuild overrides the CI role is denied, as ShopStack's policies say (policies.rs).
  image_build_arn = "arn:aws:codebuild:${var.region}:${var.account_id}:project/${local.name}-image-build"
  build_overrides = {
    NoBuildspecOverride   = "codebuild:source.buildspec"
    NoSourceOverride      = "codebuild:source.location"
    NoSecondarySources    = "codebuild:secondarySources"
    NoImageOverride       = "codebuild:environment.image"
    NoPrivilegedMode      = "codebuild:environment.privilegedMode"
    NoServiceRoleOverride = "codebuild:serviceRole"
    NoRegistryCredential  = "codebuild:environment.registryCredential"
  }
  repository = "arn:aws:ecr:${var.region}:${var.account_id}:repository/${local.name}"
  oidc_host  = "token.actions.githubusercontent.com"
  tags = {
    "Environment" = var.environment
    "ManagedBy"   = "shopstack"
    "Project"     = var.project
  }
}
