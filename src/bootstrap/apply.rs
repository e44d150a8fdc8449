//! Applying a bootstrap [`Plan`](super::Plan)'s changes through the [`Effects`] trait, in order,
//! stopping at the first failure and saying what was already done.

use super::{BootstrapChange, Effects, Error};

/// A failed apply: the error, and which changes were made before it (they stay; the next run
/// observes them and carries on).
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", applied_note(.applied, .rerun))]
pub struct ApplyError {
    pub error: Error,
    pub applied: Vec<String>,
    /// The command that finishes the job (`bootstrap`, `bootstrap --delete`).
    pub rerun: &'static str,
}

fn applied_note(applied: &[String], rerun: &str) -> String {
    if applied.is_empty() {
        String::new()
    } else {
        format!(
            " (already done, and kept: {}; run {rerun} again to finish)",
            applied.join(", ")
        )
    }
}

/// Adds a call that was made to `applied`, or turns its failure into an [`ApplyError`] that
/// names the calls made before it and the command (`rerun`) that finishes the job.
pub(super) fn record(
    result: Result<(), Error>,
    action: &str,
    applied: &mut Vec<String>,
    rerun: &'static str,
) -> Result<(), ApplyError> {
    match result {
        Ok(()) => {
            applied.push(action.to_owned());
            Ok(())
        }
        Err(error) => Err(ApplyError {
            error,
            applied: std::mem::take(applied),
            rerun,
        }),
    }
}

/// Makes the changes in order; stops at the first failure. Returns the number of calls made
/// and the ARN of a role it created.
pub async fn apply(
    changes: &[BootstrapChange],
    effects: &dyn Effects,
) -> Result<(usize, Option<String>), ApplyError> {
    let mut applied = Vec::new();
    let mut created_arn = None;
    for change in changes {
        let result = match change {
            BootstrapChange::CreateBucket {
                bucket,
                location_constraint,
                ..
            } => {
                effects
                    .create_bucket(bucket, location_constraint.as_deref())
                    .await
            }
            BootstrapChange::PutBucketOwnershipControls { bucket, to, .. } => {
                effects.put_ownership(bucket, to).await
            }
            BootstrapChange::PutBucketPublicAccessBlock { bucket, to, .. } => {
                effects.put_bucket_public_access_block(bucket, to).await
            }
            BootstrapChange::PutBucketPolicy { bucket, policy, .. } => {
                effects.put_bucket_policy(bucket, &policy.to_string()).await
            }
            BootstrapChange::CreateRole {
                name,
                trust_policy,
                tags,
                ..
            } => effects
                .create_role(name, &trust_policy.to_string(), tags)
                .await
                .map(|arn| created_arn = Some(arn)),
            BootstrapChange::TagRole { name, tags } => effects.tag_role(name, tags).await,
            BootstrapChange::UpdateAssumeRolePolicy {
                name, trust_policy, ..
            } => {
                effects
                    .update_assume_role_policy(name, &trust_policy.to_string())
                    .await
            }
            BootstrapChange::PutRolePolicy {
                role,
                policy_name,
                policy,
                ..
            } => {
                effects
                    .put_role_policy(role, policy_name, &policy.to_string())
                    .await
            }
        };
        record(result, change.action(), &mut applied, "bootstrap")?;
    }
    Ok((applied.len(), created_arn))
}
