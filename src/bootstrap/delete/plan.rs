//! The pure part of `bootstrap --delete`: [`plan()`] compares the cluster's [`Target`] with what
//! was [`Observed`] and returns a [`DeletePlan`]: the AWS calls to make ([`DeleteChange`],
//! plain data with the line `--dry-run` prints), what is kept and why ([`Kept`]), and what is
//! already gone ([`Gone`]). No I/O. With `--hosting cloudfront`, [`super::cloudfront`] adds
//! the CloudFront and Route 53 calls to the same plan.

use serde::Serialize;
use serde_json::Value;

use super::{Observed, Target};
use crate::bootstrap::{Error, ROLE_POLICY_NAME};
use crate::model::cloudfront::{AliasRecord, CLOUDFRONT_HOSTED_ZONE_ID};
use crate::model::policy::{self, BucketPolicyRemoval};
use crate::plan::{CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE};

/// One AWS call `bootstrap --delete` makes, in the order they are made.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DeleteChange {
    /// Our statement without this cluster's documents; every other statement kept.
    PutBucketPolicy {
        bucket: String,
        /// The `Sid` of our statement: `KubeOidcPublisherPublicRead`, or
        /// `KubeOidcPublisherCloudFrontRead` with `--hosting cloudfront`.
        statement: String,
        /// The two document ARNs no longer granted.
        removed: Vec<String>,
        /// How many other clusters' documents stay granted.
        clusters_left: usize,
        policy: Value,
    },
    /// Our statement granted only this cluster and was the only statement.
    DeleteBucketPolicy {
        bucket: String,
        statement: String,
        removed: Vec<String>,
    },
    DeleteObject {
        bucket: String,
        key: String,
    },
    DeleteProvider {
        arn: String,
    },
    DeleteRolePolicy {
        role: String,
        policy_name: String,
    },
    DeleteRole {
        role: String,
    },
    /// `--hosting cloudfront`: the edge drops its copies of this cluster's documents.
    CreateInvalidation {
        distribution_id: String,
        caller_reference: String,
        paths: Vec<String>,
    },
    /// `--hosting cloudfront`, the last cluster, `--hosted-zone-id`: the custom domain's alias
    /// records that still point at the distribution being deleted.
    DeleteAliasRecords {
        zone_id: String,
        records: Vec<AliasRecord>,
    },
    /// `--hosting cloudfront`, the last cluster: CloudFront deletes only a disabled
    /// distribution (UpdateDistribution with IfMatch `etag`, Enabled false).
    DisableDistribution {
        id: String,
        etag: String,
        bucket: String,
    },
    /// Once disabled and `Deployed` (the apply waits for it, or stops with `--no-wait`), with
    /// the ETag read then.
    DeleteDistribution {
        id: String,
    },
    /// After the distribution: the origin access control kube-oidc-publisher named for the
    /// bucket.
    DeleteOriginAccessControl {
        id: String,
        name: String,
    },
}

impl DeleteChange {
    /// The IAM action of the call (what a policy must allow).
    pub fn action(&self) -> &'static str {
        match self {
            DeleteChange::PutBucketPolicy { .. } => "s3:PutBucketPolicy",
            DeleteChange::DeleteBucketPolicy { .. } => "s3:DeleteBucketPolicy",
            DeleteChange::DeleteObject { .. } => "s3:DeleteObject",
            DeleteChange::DeleteProvider { .. } => "iam:DeleteOpenIDConnectProvider",
            DeleteChange::DeleteRolePolicy { .. } => "iam:DeleteRolePolicy",
            DeleteChange::DeleteRole { .. } => "iam:DeleteRole",
            DeleteChange::CreateInvalidation { .. } => "cloudfront:CreateInvalidation",
            DeleteChange::DeleteAliasRecords { .. } => "route53:ChangeResourceRecordSets",
            DeleteChange::DisableDistribution { .. } => "cloudfront:UpdateDistribution",
            DeleteChange::DeleteDistribution { .. } => "cloudfront:DeleteDistribution",
            DeleteChange::DeleteOriginAccessControl { .. } => {
                "cloudfront:DeleteOriginAccessControl"
            }
        }
    }

    /// One line for humans: the call, its target, and why.
    pub fn describe(&self) -> String {
        let what = match self {
            DeleteChange::PutBucketPolicy {
                bucket,
                statement,
                clusters_left,
                ..
            } => format!(
                "{bucket}: this cluster's two documents out of statement {statement} ({} still granted; every other statement kept)",
                if *clusters_left == 1 { "1 other cluster".to_owned() } else { format!("{clusters_left} other clusters") }
            ),
            DeleteChange::DeleteBucketPolicy { bucket, statement, .. } => format!(
                "{bucket}: statement {statement} granted only this cluster and was the policy's only statement"
            ),
            DeleteChange::DeleteObject { bucket, key } => format!("s3://{bucket}/{key}"),
            DeleteChange::DeleteProvider { arn } => format!("{arn} (tagged {MANAGED_BY_TAG})"),
            DeleteChange::DeleteRolePolicy { role, policy_name } => {
                format!("{role}: inline policy {policy_name}")
            }
            DeleteChange::DeleteRole { role } => format!("{role} (tagged {MANAGED_BY_TAG})"),
            DeleteChange::CreateInvalidation {
                distribution_id,
                paths,
                ..
            } => format!(
                "{distribution_id}: {} (the edge stops serving this cluster's documents)",
                paths.join(" ")
            ),
            DeleteChange::DeleteAliasRecords { zone_id, records } => format!(
                "zone {zone_id}: DELETE {} alias {} -> {} (zone {CLOUDFRONT_HOSTED_ZONE_ID}; the distribution it points at is deleted)",
                records
                    .iter()
                    .map(|r| r.record_type.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                records.first().map_or("", |r| r.name.as_str()),
                records.first().map_or("", |r| r.target.as_str()),
            ),
            DeleteChange::DisableDistribution { id, bucket, .. } => format!(
                "{id}: Enabled=false (no cluster of bucket {bucket} is left; CloudFront deletes only a disabled distribution)"
            ),
            DeleteChange::DeleteDistribution { id } => format!(
                "{id} (tagged {MANAGED_BY_TAG}; once disabled and Deployed)"
            ),
            DeleteChange::DeleteOriginAccessControl { id, name } => {
                format!("{id} ({name}; no distribution uses it any more)")
            }
        };
        format!("{} {what}", self.action())
    }
}

/// Something of the cluster's that exists and is left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub item: String,
    pub reason: String,
}

/// Something of the cluster's that is not there (nothing to do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gone {
    pub item: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeletePlan {
    pub changes: Vec<DeleteChange>,
    pub kept: Vec<Kept>,
    pub gone: Vec<Gone>,
    /// The size of the bucket policy once the changes are made, as S3 holds it (0: none).
    pub bucket_policy_bytes: usize,
    /// How many other clusters our statement still grants once the changes are made (0: this
    /// was the bucket's last cluster, or there is no bucket).
    #[serde(skip)]
    pub clusters_left: usize,
}

/// Decides what to remove. Pure: no I/O. Refuses (changing nothing) a bucket policy it cannot
/// edit safely: text that is not JSON, or a statement with our `Sid` that is not ours.
pub fn plan(target: &Target, observed: &Observed) -> Result<DeletePlan, Error> {
    let mut plan = DeletePlan::default();
    let bucket = &target.bucket;
    let gone = |item: String| Gone { item };
    if !observed.bucket_exists {
        plan.gone.push(gone(format!(
            "bucket {bucket} (so no grant and no object of this cluster)"
        )));
    } else {
        plan_bucket_policy(&mut plan, target, observed.policy.as_deref())?;
        for key in &target.keys {
            if observed.objects.contains(key) {
                plan.changes.push(DeleteChange::DeleteObject {
                    bucket: bucket.clone(),
                    key: key.clone(),
                });
            } else {
                plan.gone.push(gone(format!("s3://{bucket}/{key}")));
            }
        }
    }

    let provider = format!("IAM OIDC provider {}", target.provider_arn);
    match &observed.provider {
        None if target.skip_provider.is_some() => plan.kept.push(Kept {
            item: provider,
            reason: target.skip_provider.clone().unwrap_or_default(),
        }),
        None => plan.gone.push(gone(provider)),
        Some(tags) if managed(tags) => plan.changes.push(DeleteChange::DeleteProvider {
            arn: target.provider_arn.clone(),
        }),
        Some(_) => plan.kept.push(Kept {
            item: provider,
            reason: format!("not created by kube-oidc-publisher (it has no {MANAGED_BY_TAG} tag); delete it yourself if nothing else uses it: aws iam delete-open-id-connect-provider --open-id-connect-provider-arn {}", target.provider_arn),
        }),
    }

    if let Some(name) = &target.role {
        let item = format!("IAM role {name}");
        match &observed.role {
            None => plan.gone.push(gone(item)),
            Some(role) => match role_not_ours_because(target, &role.state) {
                Some(reason) => plan.kept.push(Kept { item, reason }),
                None => {
                    if role.policy.is_some() {
                        plan.changes.push(DeleteChange::DeleteRolePolicy {
                            role: name.clone(),
                            policy_name: ROLE_POLICY_NAME.to_owned(),
                        });
                    }
                    plan.changes
                        .push(DeleteChange::DeleteRole { role: name.clone() });
                }
            },
        }
    }
    Ok(plan)
}

fn managed(tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

/// A role is this cluster's publisher role when it carries our managed-by tag and was made
/// for this cluster: its cluster tag names it, or its trust policy names this cluster's
/// provider (the tag depends on `--cluster-name`, the trust policy does not).
fn role_not_ours_because(target: &Target, role: &crate::bootstrap::RoleState) -> Option<String> {
    if !managed(&role.tags) {
        return Some(format!(
            "not created by kube-oidc-publisher (it has no {MANAGED_BY_TAG} tag)"
        ));
    }
    let for_this_cluster = role.tags.get(CLUSTER_TAG) == Some(&target.cluster_name)
        || role.trust_policy.contains(&target.provider_arn);
    (!for_this_cluster).then(|| {
        format!(
            "it is another cluster's publisher role (tagged {CLUSTER_TAG}={}, and its trust policy does not name {}); check --publisher-role",
            role.tags.get(CLUSTER_TAG).map_or("nothing", String::as_str),
            target.provider_arn
        )
    })
}

fn plan_bucket_policy(
    plan: &mut DeletePlan,
    target: &Target,
    existing: Option<&str>,
) -> Result<(), Error> {
    let bucket = &target.bucket;
    let removal = policy::remove_from_bucket_policy(existing, &target.statement, bucket).map_err(
        |error| Error::BucketPolicy {
            bucket: bucket.clone(),
            error,
        },
    )?;
    let removed: Vec<String> = match target.statement.get("Resource") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => vec![],
    };
    let sid = target
        .statement
        .get("Sid")
        .and_then(Value::as_str)
        .unwrap_or(policy::BUCKET_POLICY_SID)
        .to_owned();
    let grant = format!("this cluster's grant in the bucket policy of {bucket} (statement {sid})");
    match removal {
        BucketPolicyRemoval::Unchanged => {
            let parsed = existing.and_then(|text| serde_json::from_str::<Value>(text).ok());
            plan.bucket_policy_bytes = match (&parsed, existing) {
                (Some(v), _) => policy::policy_bytes(v),
                (None, Some(text)) => text.len(),
                (None, None) => 0,
            };
            plan.clusters_left = parsed.as_ref().map_or(0, |p| clusters_granted(p, &sid));
            plan.gone.push(Gone { item: grant });
        }
        BucketPolicyRemoval::Delete => plan.changes.push(DeleteChange::DeleteBucketPolicy {
            bucket: bucket.clone(),
            statement: sid,
            removed,
        }),
        BucketPolicyRemoval::Put(policy) => {
            plan.bucket_policy_bytes = policy::policy_bytes(&policy);
            let clusters_left = clusters_granted(&policy, &sid);
            plan.clusters_left = clusters_left;
            plan.changes.push(DeleteChange::PutBucketPolicy {
                bucket: bucket.clone(),
                statement: sid,
                removed,
                clusters_left,
                policy,
            });
        }
    }
    Ok(())
}

/// How many clusters the statements `sid` of `policy` grant: one JWKS each.
fn clusters_granted(policy: &Value, sid: &str) -> usize {
    crate::model::bucket_statement::statements(policy)
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
        .flat_map(|s| match s.get("Resource") {
            Some(Value::Array(list)) => list.clone(),
            Some(one) => vec![one.clone()],
            None => vec![],
        })
        .filter(|r| r.as_str().is_some_and(|r| r.ends_with("openid/v1/jwks")))
        .count()
}

/// What the API server answered about the issuer it signs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ApiServerCheck {
    /// It signs with another issuer: this one can go.
    Passed { api_server_issuer: String },
    /// `--force`: not asked.
    Skipped,
    /// `--hosting cloudfront`, no distribution of the bucket left and no `--domain` or
    /// `--issuer`: no URL serves the issuer any more, so no token of it can be verified
    /// whatever the API server signs with.
    NotNeeded { reason: String },
}

/// Whether the cluster may be removed, from what the API server answered: its discovery
/// document's issuer, or why it could not be read. Refuses while it signs with `issuer`, and
/// when it cannot tell; `--force` (`force`) skips the question. Pure.
pub fn check_api_server(
    issuer: &str,
    answer: Option<Result<Option<String>, String>>,
    force: bool,
) -> Result<ApiServerCheck, Error> {
    if force {
        return Ok(ApiServerCheck::Skipped);
    }
    let cannot_tell = |reason: String| Error::CannotTellIfSigning {
        issuer: issuer.to_owned(),
        reason,
    };
    match answer {
        None => Err(cannot_tell("--source files reads no API server".to_owned())),
        Some(Err(reason)) => Err(cannot_tell(format!(
            "the API server could not be read: {reason}"
        ))),
        Some(Ok(None)) => Err(cannot_tell(
            "the API server's discovery document names no issuer".to_owned(),
        )),
        // An issuer is a URL: a trailing slash names the same one.
        Some(Ok(Some(signing)))
            if signing.trim_end_matches('/') == issuer.trim_end_matches('/') =>
        {
            Err(Error::StillSigning {
                issuer: issuer.to_owned(),
            })
        }
        Some(Ok(Some(signing))) => Ok(ApiServerCheck::Passed {
            api_server_issuer: signing,
        }),
    }
}
