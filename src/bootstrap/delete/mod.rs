//! `bootstrap --delete`: removing one cluster from a bucket that other clusters may share, as
//! observe → plan → apply. What is this cluster's: its two documents in our bucket-policy
//! statement (every other cluster's stay granted, every other statement is kept as it was),
//! its three objects (discovery document, JWKS, state object: only those keys), the IAM OIDC
//! provider of its issuer and the publisher role, each of these two only if it carries our
//! managed-by tag. It never deletes the bucket and never touches its Public Access Block or
//! Object Ownership: the bucket is the owner's, and other clusters may be served from it.
//!
//! [`observe`] and [`apply`] talk to AWS only through the bootstrap [`Effects`] trait;
//! [`plan()`](plan::plan) is pure and says, for each item, removed, kept (and why) or already
//! gone, so a second run plans nothing. [`check_api_server`] decides, before anything is read
//! from AWS, whether the cluster may be removed at all: not while its API server still signs
//! tokens for the issuer (the command asks the API server).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{BucketHead, Effects, Error, ObservedRole, ROLE_POLICY_NAME};
use crate::bootstrap::apply::record;
use crate::bootstrap::ApplyError;

mod plan;

pub use plan::{check_api_server, plan, ApiServerCheck, DeleteChange, DeletePlan, Gone, Kept};

/// What belongs to the cluster being removed.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub bucket: String,
    /// This cluster's statement as bootstrap renders it: its resources are the two documents
    /// taken out of the public grant.
    pub statement: Value,
    /// The keys of the cluster's objects: discovery document, JWKS, state object.
    pub keys: Vec<String>,
    pub provider_arn: String,
    /// `false` with `--no-iam`: the provider is neither read nor removed.
    pub provider: bool,
    /// `--publisher-role`.
    pub role: Option<String>,
    /// The name the role's cluster tag carries when bootstrap created it for this cluster.
    pub cluster_name: String,
}

/// What is true now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub bucket_exists: bool,
    /// The bucket policy's text; `None`: no policy (or no bucket).
    pub policy: Option<String>,
    /// Which of [`Target::keys`] exist.
    pub objects: Vec<String>,
    /// The provider's tags; `None`: no provider for this issuer.
    pub provider: Option<BTreeMap<String, String>>,
    /// `None` when no role is named or it does not exist.
    pub role: Option<ObservedRole>,
}

/// Reads everything [`plan()`] needs; nothing of a bucket that does not exist.
pub async fn observe(effects: &dyn Effects, target: &Target) -> Result<Observed, Error> {
    let bucket = &target.bucket;
    let bucket_state = async {
        match effects.head_bucket(bucket).await? {
            BucketHead::Missing => Ok((false, None, Vec::new())),
            BucketHead::Present { .. } => {
                let objects = futures::future::try_join_all(
                    target
                        .keys
                        .iter()
                        .map(|key| effects.object_exists(bucket, key)),
                );
                let (policy, exists) =
                    futures::future::try_join(effects.bucket_policy(bucket), objects).await?;
                let objects = target
                    .keys
                    .iter()
                    .zip(exists)
                    .filter(|(_, exists)| *exists)
                    .map(|(key, _)| key.clone())
                    .collect();
                Ok::<_, Error>((true, policy, objects))
            }
        }
    };
    let role = async {
        let Some(name) = target.role.as_deref() else {
            return Ok(None);
        };
        let Some(state) = effects.role(name).await? else {
            return Ok(None);
        };
        let policy = effects.role_policy(name, ROLE_POLICY_NAME).await?;
        Ok::<_, Error>(Some(ObservedRole { state, policy }))
    };
    let provider = async {
        if target.provider {
            effects.provider_tags(&target.provider_arn).await
        } else {
            Ok(None)
        }
    };
    let ((bucket_exists, policy, objects), provider, role) =
        futures::future::try_join3(bucket_state, provider, role).await?;
    Ok(Observed {
        bucket_exists,
        policy,
        objects,
        provider,
        role,
    })
}

/// Makes the changes in order; stops at the first failure, saying what was already done (it
/// stays done; a re-run observes it and carries on). Returns the number of calls made.
pub async fn apply(changes: &[DeleteChange], effects: &dyn Effects) -> Result<usize, ApplyError> {
    let mut applied = Vec::new();
    for change in changes {
        let result = match change {
            DeleteChange::PutBucketPolicy { bucket, policy, .. } => {
                effects.put_bucket_policy(bucket, &policy.to_string()).await
            }
            DeleteChange::DeleteBucketPolicy { bucket, .. } => {
                effects.delete_bucket_policy(bucket).await
            }
            DeleteChange::DeleteObject { bucket, key } => effects.delete_object(bucket, key).await,
            DeleteChange::DeleteProvider { arn } => effects.delete_provider(arn).await,
            DeleteChange::DeleteRolePolicy { role, policy_name } => {
                effects.delete_role_policy(role, policy_name).await
            }
            DeleteChange::DeleteRole { role } => effects.delete_role(role).await,
        };
        record(result, change.action(), &mut applied, "bootstrap --delete")?;
    }
    Ok(applied.len())
}

#[cfg(test)]
mod tests;
