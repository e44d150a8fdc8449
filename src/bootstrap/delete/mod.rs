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
//!
//! With `--hosting cloudfront`, [`cloudfront`] plans the distribution's side (an invalidation
//! of the cluster's paths; for the bucket's last cluster the alias records, the distribution
//! and its origin access control) into the same plan, and [`apply_with_hosting`] makes those
//! calls too, waiting for a disabled distribution to deploy before deleting it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::{BucketHead, Effects, Error, ObservedRole, ROLE_POLICY_NAME};
use crate::bootstrap::apply::record;
use crate::bootstrap::{short_duration, wait_deployed, ApplyError, Deployed};
use crate::hosting::{Distributions, DnsRecords};
use crate::model::cloudfront::Distribution;

pub mod cloudfront;
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
    /// Why the provider is neither read nor removed (`--no-iam`, an issuer that cannot be
    /// named); `None`: it is looked up.
    pub skip_provider: Option<String>,
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
        if target.skip_provider.is_none() {
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
    Ok(apply_with_hosting(changes, effects, None).await?.writes)
}

/// CloudFront and Route 53 for the `--hosting cloudfront` changes, and how to wait.
pub struct HostingEffects<'a> {
    pub distributions: &'a dyn Distributions,
    pub dns: &'a dyn DnsRecords,
    /// How long to wait for a disabled distribution to deploy; `None` (`--no-wait`): stop
    /// before deleting one that is not deployed yet.
    pub wait: Option<Duration>,
    /// The cap of the pause between two polls.
    pub poll_cap: Duration,
}

/// What [`apply_with_hosting`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Calls made.
    pub writes: usize,
    /// How many of the changes are done (made, or found done already); the rest are left
    /// for the next run.
    pub done: usize,
    /// `--no-wait` stopped before deleting this distribution: disabled, not deployed yet.
    pub waiting: Option<Distribution>,
}

/// [`apply`], with the CloudFront and Route 53 changes made through `hosting`. Before
/// [`DeleteChange::DeleteDistribution`] it reads the distribution: already gone, nothing to do;
/// not deployed yet, it waits (a progress line per poll) or, with `--no-wait`, stops there.
pub async fn apply_with_hosting(
    changes: &[DeleteChange],
    effects: &dyn Effects,
    hosting: Option<&HostingEffects<'_>>,
) -> Result<Applied, ApplyError> {
    let mut applied = Vec::new();
    let mut done = 0;
    let hosted = |change: &DeleteChange| {
        hosting.ok_or_else(|| ApplyError {
            error: Error::Invalid {
                action: change.action(),
                resource: "CloudFront".to_owned(),
                detail: "a CloudFront change without the CloudFront effects (a bug)".to_owned(),
            },
            applied: Vec::new(),
            rerun: "bootstrap --delete",
        })
    };
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
            DeleteChange::CreateInvalidation {
                distribution_id,
                caller_reference,
                paths,
            } => hosted(change)?
                .distributions
                .create_invalidation(distribution_id, caller_reference, paths)
                .await
                .map(|_| ())
                .map_err(Error::from),
            DeleteChange::DeleteAliasRecords { zone_id, records } => hosted(change)?
                .dns
                .delete_aliases(zone_id, records)
                .await
                .map_err(Error::from),
            DeleteChange::DisableDistribution { id, etag, .. } => hosted(change)?
                .distributions
                .disable(id, etag)
                .await
                .map(|_| ())
                .map_err(Error::from),
            DeleteChange::DeleteDistribution { id } => {
                let hosting = hosted(change)?;
                match deployed(hosting, id).await {
                    Ok(Ready::Gone) => {
                        done += 1;
                        continue;
                    }
                    Ok(Ready::Waiting(d)) => {
                        return Ok(Applied {
                            writes: applied.len(),
                            done,
                            waiting: Some(d),
                        })
                    }
                    Ok(Ready::Deployed(d)) => hosting
                        .distributions
                        .delete(id, &d.etag)
                        .await
                        .map_err(Error::from),
                    Err(error) => Err(error),
                }
            }
            DeleteChange::DeleteOriginAccessControl { id, .. } => hosted(change)?
                .distributions
                .delete_origin_access_control(id)
                .await
                .map_err(Error::from),
        };
        record(result, change.action(), &mut applied, "bootstrap --delete")?;
        done += 1;
    }
    Ok(Applied {
        writes: applied.len(),
        done,
        waiting: None,
    })
}

/// Where a distribution to delete stands.
enum Ready {
    Gone,
    /// Disabled and deployed: its ETag is the one DeleteDistribution needs.
    Deployed(Distribution),
    /// Not deployed yet, and `--no-wait`.
    Waiting(Distribution),
}

async fn deployed(hosting: &HostingEffects<'_>, id: &str) -> Result<Ready, Error> {
    let Some(d) = hosting.distributions.get(id).await? else {
        return Ok(Ready::Gone);
    };
    if d.is_deployed() {
        return Ok(Ready::Deployed(d));
    }
    let Some(timeout) = hosting.wait else {
        return Ok(Ready::Waiting(d));
    };
    match wait_deployed(hosting.distributions, id, timeout, hosting.poll_cap).await? {
        Deployed::Yes(d) => Ok(Ready::Deployed(d)),
        Deployed::TimedOut(d) => Err(Error::StillDeploying {
            id: d.id,
            status: d.status,
            waited: short_duration(timeout),
        }),
    }
}

#[cfg(test)]
mod tests;
