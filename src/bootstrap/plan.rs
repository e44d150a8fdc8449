//! The pure part of bootstrap: what should be left behind ([`Desired`]), what is true now
//! ([`Observed`]), and [`plan()`], which compares them and returns a [`Plan`] of
//! [`BootstrapChange`]s, or refuses before anything is changed. No I/O.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::bucket_statement;
use crate::model::policy;
use crate::plan::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

use super::error::count;
use super::{
    BootstrapChange, Error, PublicAccessBlock, RoleState, BUCKET_OWNER_ENFORCED, ROLE_POLICY_NAME,
};

/// The publisher role bootstrap should leave behind.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRole {
    pub name: String,
    /// `system:serviceaccount:<namespace>:<name>`, for messages.
    pub subject: String,
    pub trust_policy: Value,
    pub policy: Value,
    pub tags: BTreeMap<String, String>,
    /// Take over a role without our tag (`--adopt`).
    pub adopt: bool,
}

/// How the documents reach STS (`--hosting`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hosting {
    /// The bucket serves them itself: a public-read statement, the bucket's Block Public
    /// Access relaxed for policies (PROTOCOL.md §3).
    #[default]
    S3,
    /// A private bucket (all four Block Public Access flags on) behind a CloudFront
    /// distribution that reads it through an origin access control (PROTOCOL.md §8).
    CloudFront,
}

impl Hosting {
    /// The bucket's Block Public Access in this mode.
    pub fn public_access_block(self) -> PublicAccessBlock {
        match self {
            Hosting::S3 => PublicAccessBlock::PUBLISHABLE,
            Hosting::CloudFront => PublicAccessBlock::ALL_BLOCKED,
        }
    }
}

/// What bootstrap should leave behind on the AWS side (besides what `sync` publishes).
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub bucket: String,
    pub region: String,
    pub hosting: Hosting,
    /// Our bucket-policy statement ([`policy::bucket_policy_statement`], or with CloudFront
    /// [`policy::cloudfront_bucket_statement`]).
    pub statement: Value,
    pub role: Option<DesiredRole>,
}

/// The bucket as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObservedBucket {
    Missing,
    Present {
        ownership: Option<String>,
        public_access_block: Option<PublicAccessBlock>,
        policy: Option<String>,
    },
}

/// The role as observed, with its inline policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRole {
    pub state: RoleState,
    pub policy: Option<String>,
}

/// What is true now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub account_id: String,
    pub account_public_access_block: Option<PublicAccessBlock>,
    pub bucket: ObservedBucket,
    /// `None` when no role is wanted or it does not exist.
    pub role: Option<ObservedRole>,
}

/// The changes, in the order they are applied: the bucket's before the documents are
/// published (by `sync`), the role's after the OIDC provider exists.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub bucket: Vec<BootstrapChange>,
    pub role: Vec<BootstrapChange>,
    /// The role's ARN: observed, or the one it will have (`arn:<partition>:iam::<account>:role/<name>`).
    pub role_arn: Option<String>,
    /// The size of the bucket policy with our grant, as sent to S3 (its limit is
    /// [`policy::BUCKET_POLICY_MAX_BYTES`]); [`plan`] always sets it, also when nothing changes.
    pub bucket_policy_bytes: Option<usize>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.bucket.is_empty() && self.role.is_empty()
    }

    pub fn changes(&self) -> impl Iterator<Item = &BootstrapChange> {
        self.bucket.iter().chain(&self.role)
    }
}

/// `None` in us-east-1 (S3 refuses a LocationConstraint there), else the region.
pub fn location_constraint(region: &str) -> Option<String> {
    (region != "us-east-1").then(|| region.to_owned())
}

/// A policy document in a form where equal meaning compares equal: object keys are sorted
/// (serde_json's map), a one-element list is its element (`"Action": ["a"]` = `"Action": "a"`),
/// and lists are sorted (statement, action and resource order mean nothing to IAM or S3).
pub fn canonical_policy(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical_policy).collect();
            if items.len() == 1 {
                return items.pop().expect("one item");
            }
            items.sort_by_cached_key(|item| item.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical_policy(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether the policy text `observed` means the same as `desired`. Text that is not JSON
/// never does.
pub fn same_policy(observed: &str, desired: &Value) -> bool {
    serde_json::from_str::<Value>(observed)
        .is_ok_and(|observed| canonical_policy(&observed) == canonical_policy(desired))
}

/// Decides what to change. Pure: no I/O.
///
/// Refuses, before anything is changed, when the account-level Block Public Access would hide
/// the documents from STS, when the existing bucket policy cannot be edited safely (not JSON,
/// or a statement with our `Sid` that is not ours), when turning off the bucket's
/// `BlockPublicPolicy`/`RestrictPublicBuckets` would make another statement public, and when
/// the role exists without our tag (unless adopting).
///
/// With [`Hosting::CloudFront`] the account-level Block Public Access does not matter (nothing
/// is public), the bucket gets all four flags on, and a bucket policy that grants public
/// access in any statement (our own S3-hosting statement included) is refused: with
/// `BlockPublicPolicy` on, S3 would refuse to write it back, and with `RestrictPublicBuckets`
/// on, whoever reads it anonymously today would be cut off.
pub fn plan(desired: &Desired, observed: &Observed) -> Result<Plan, Error> {
    if let (Hosting::S3, Some(account_pab)) =
        (desired.hosting, observed.account_public_access_block)
    {
        if account_pab.blocks_public_policy() {
            return Err(Error::AccountBlocksPublicPolicy {
                account: observed.account_id.clone(),
                current: account_pab,
            });
        }
    }
    let mut plan = Plan::default();
    let bucket = &desired.bucket;
    let (ownership, public_access_block, existing_policy) = match &observed.bucket {
        ObservedBucket::Missing => {
            plan.bucket.push(BootstrapChange::CreateBucket {
                bucket: bucket.clone(),
                location_constraint: location_constraint(&desired.region),
                object_ownership: BUCKET_OWNER_ENFORCED,
            });
            // Created with BucketOwnerEnforced; S3 gives a new bucket a Public Access Block
            // with all four flags on and no policy. A private bucket does not rely on that
            // default: its flags are set explicitly (an S3-compatible endpoint may not have it).
            (
                Some(BUCKET_OWNER_ENFORCED.to_owned()),
                match desired.hosting {
                    Hosting::S3 => Some(PublicAccessBlock::ALL_BLOCKED),
                    Hosting::CloudFront => None,
                },
                None,
            )
        }
        ObservedBucket::Present {
            ownership,
            public_access_block,
            policy,
        } => (ownership.clone(), *public_access_block, policy.clone()),
    };
    if ownership.as_deref() != Some(BUCKET_OWNER_ENFORCED) {
        plan.bucket
            .push(BootstrapChange::PutBucketOwnershipControls {
                bucket: bucket.clone(),
                from: ownership,
                to: BUCKET_OWNER_ENFORCED,
            });
    }
    // Refuses a statement with our Sid that is not ours, before anything else is decided.
    let (policy_change, policy_bytes) =
        plan_bucket_policy(bucket, existing_policy.as_deref(), &desired.statement)?;
    plan.bucket_policy_bytes = Some(policy_bytes);
    if desired.hosting == Hosting::CloudFront {
        refuse_public_statements(bucket, existing_policy.as_deref())?;
    }
    // Before the policy: S3 refuses a public policy while BlockPublicPolicy is on.
    let to = desired.hosting.public_access_block();
    if public_access_block != Some(to) {
        let relaxed = public_access_block.map_or_else(Vec::new, |from| from.relaxed_by(&to));
        let why_safe = if relaxed.is_empty() {
            None
        } else {
            Some(relaxing_is_safe(
                bucket,
                existing_policy.as_deref(),
                &desired.statement,
                relaxed,
            )?)
        };
        plan.bucket
            .push(BootstrapChange::PutBucketPublicAccessBlock {
                bucket: bucket.clone(),
                from: public_access_block,
                to,
                why_safe,
            });
    }
    plan.bucket.extend(policy_change);

    if let Some(role) = &desired.role {
        plan_role(&mut plan, role, observed)?;
    }
    Ok(plan)
}

/// A private bucket behind CloudFront serves nothing publicly: refuses a policy in which any
/// statement grants public access (as S3 defines it), naming each.
fn refuse_public_statements(bucket: &str, existing: Option<&str>) -> Result<(), Error> {
    let Some(existing) = existing
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
    else {
        return Ok(());
    };
    // No Sid is skipped: our own public-read statement (S3 hosting) counts too.
    let public = bucket_statement::public_statements(&existing, "");
    if public.is_empty() {
        return Ok(());
    }
    Err(Error::PublicStatementsWithCloudFront {
        bucket: bucket.to_owned(),
        statements: public.iter().map(ToString::to_string).collect(),
    })
}

/// Turning off `BlockPublicPolicy` or `RestrictPublicBuckets` makes every public statement of
/// the bucket policy live, not only ours: refuses when another statement is public (as S3
/// defines it, [`bucket_statement::grants_public_access`]), else says why relaxing is safe.
fn relaxing_is_safe(
    bucket: &str,
    existing: Option<&str>,
    statement: &Value,
    relaxed: Vec<&'static str>,
) -> Result<String, Error> {
    let our_sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .unwrap_or(policy::BUCKET_POLICY_SID);
    // plan_bucket_policy has already parsed it: text that is not JSON was refused there.
    let existing: Option<Value> = existing
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .and_then(|text| serde_json::from_str(text).ok());
    let Some(existing) = existing else {
        return Ok("the bucket has no policy yet; only kube-oidc-publisher's statement will grant public access".to_owned());
    };
    let public = bucket_statement::public_statements(&existing, our_sid);
    if !public.is_empty() {
        return Err(Error::OtherPublicStatements {
            bucket: bucket.to_owned(),
            statements: public.iter().map(ToString::to_string).collect(),
            relaxed,
        });
    }
    let others = bucket_statement::statements(&existing)
        .into_iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(our_sid))
        .count();
    Ok(format!(
        "no other statement grants public access ({} checked)",
        count(others, "other statement")
    ))
}

fn plan_bucket_policy(
    bucket: &str,
    existing: Option<&str>,
    statement: &Value,
) -> Result<(Option<BootstrapChange>, usize), Error> {
    let policy_error = |error| Error::BucketPolicy {
        bucket: bucket.to_owned(),
        error,
    };
    let (merged, changed) =
        policy::merge_bucket_policy(existing, statement.clone(), bucket).map_err(policy_error)?;
    let bytes = policy::policy_bytes(&merged);
    // merge_bucket_policy compares our statement byte for byte; S3 may hand a policy back
    // reformatted, so write only if the meaning differs.
    if !changed || existing.is_some_and(|text| same_policy(text, &merged)) {
        return Ok((None, bytes));
    }
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .unwrap_or(policy::BUCKET_POLICY_SID)
        .to_owned();
    let statements: Vec<&Value> = match merged.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single) => vec![single],
        None => vec![],
    };
    let is_ours = |s: &&Value| s.get("Sid").and_then(Value::as_str) == Some(sid.as_str());
    let kept = statements.iter().filter(|s| !is_ours(s)).count();
    let replaces = existing
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .is_some_and(|old| {
            let list = match old.get("Statement") {
                Some(Value::Array(list)) => list.clone(),
                Some(single) => vec![single.clone()],
                None => vec![],
            };
            list.iter().any(|s| is_ours(&s))
        });
    let change = BootstrapChange::PutBucketPolicy {
        bucket: bucket.to_owned(),
        sid,
        replaces,
        kept,
        policy: merged,
    };
    Ok((Some(change), bytes))
}

fn plan_role(plan: &mut Plan, role: &DesiredRole, observed: &Observed) -> Result<(), Error> {
    let Some(existing) = &observed.role else {
        plan.role.push(BootstrapChange::CreateRole {
            name: role.name.clone(),
            subject: role.subject.clone(),
            trust_policy: role.trust_policy.clone(),
            tags: role.tags.clone(),
        });
        plan.role.push(BootstrapChange::PutRolePolicy {
            role: role.name.clone(),
            policy_name: ROLE_POLICY_NAME.to_owned(),
            replaces: false,
            policy: role.policy.clone(),
        });
        return Ok(());
    };
    plan.role_arn = Some(existing.state.arn.clone());
    let managed =
        existing.state.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE);
    if !managed && !role.adopt {
        return Err(Error::UnmanagedRole {
            name: role.name.clone(),
            arn: existing.state.arn.clone(),
        });
    }
    let tags_current = role
        .tags
        .iter()
        .all(|(k, v)| existing.state.tags.get(k) == Some(v));
    if !tags_current {
        plan.role.push(BootstrapChange::TagRole {
            name: role.name.clone(),
            tags: role.tags.clone(),
        });
    }
    if !same_policy(&existing.state.trust_policy, &role.trust_policy) {
        plan.role.push(BootstrapChange::UpdateAssumeRolePolicy {
            name: role.name.clone(),
            subject: role.subject.clone(),
            trust_policy: role.trust_policy.clone(),
        });
    }
    if !existing
        .policy
        .as_deref()
        .is_some_and(|text| same_policy(text, &role.policy))
    {
        plan.role.push(BootstrapChange::PutRolePolicy {
            role: role.name.clone(),
            policy_name: ROLE_POLICY_NAME.to_owned(),
            replaces: existing.policy.is_some(),
            policy: role.policy.clone(),
        });
    }
    Ok(())
}
