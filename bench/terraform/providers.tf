# The Terraform side of `cargo xtask bench`: the resources `infra-terraform apply` creates, with
# the same settings, declared for Terraform to create from nothing (no import blocks). The
# emulator's endpoint, the account and the project name are variables, so the configuration works
# with any emulator port and account.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

# The same provider settings `infra-terraform export-terraform` writes for a local endpoint.
provider "aws" {
  region                      = var.region
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
    codebuild      = var.endpoint
    dynamodb       = var.endpoint
    ecr            = var.endpoint
    iam            = var.endpoint
    s3             = var.endpoint
    secretsmanager = var.endpoint
    sts            = var.endpoint
  }
}
