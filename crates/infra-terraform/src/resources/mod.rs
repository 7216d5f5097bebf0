//! Every resource kind of the AWS foundation, one module each.

pub mod app_secret;
pub mod codebuild_project;
pub mod ecr_repository;
pub mod github_oidc;
pub mod iam_role;
pub mod lock_table;
pub mod state_bucket;

use std::sync::Arc;

use crate::context::Context;
use crate::resource::Resource;

/// Every resource of an environment, in the order plans show them.
pub fn all(context: &Arc<Context>) -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(state_bucket::StateBucket::new(Arc::clone(context))),
        Arc::new(lock_table::LockTable::new(Arc::clone(context))),
        Arc::new(app_secret::AppSecret::new(Arc::clone(context))),
        Arc::new(ecr_repository::EcrRepository::new(Arc::clone(context))),
        Arc::new(github_oidc::GitHubOidcProvider::new(Arc::clone(context))),
        Arc::new(iam_role::IamRole::new(
            Arc::clone(context),
            iam_role::RoleKind::CodeBuild,
        )),
        Arc::new(iam_role::IamRole::new(
            Arc::clone(context),
            iam_role::RoleKind::GitHubActions,
        )),
        Arc::new(iam_role::IamRole::new(
            Arc::clone(context),
            iam_role::RoleKind::Infrastructure,
        )),
        Arc::new(codebuild_project::CodeBuildProject::new(Arc::clone(
            context,
        ))),
    ]
}
