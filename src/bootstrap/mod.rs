//! `bootstrap`: the one-time AWS setup around the publisher, as observe → plan → apply.
//!
//! What it owns: the S3 bucket the documents are served from (created if missing, Object
//! Ownership `BucketOwnerEnforced`, a bucket Public Access Block that allows a public *policy*
//! but no public ACL, and one bucket-policy statement granting anonymous `s3:GetObject` on
//! exactly the two documents), and optionally the IAM role the in-cluster publisher assumes
//! (trust policy for the publisher's own ServiceAccount, a least-privilege inline policy). It
//! refuses to go on when the account-level Block Public Access would hide the documents from
//! STS anyway (PROTOCOL.md §3), when relaxing the bucket's Block Public Access would make
//! another statement of its policy public too, and when a statement carrying our `Sid` is not
//! ours in shape (it is never overwritten). Publishing the documents and the IAM OIDC provider
//! are `sync`'s job: the command runs `commands::sync::publish` between the bucket and the
//! role steps.
//!
//! [`plan`] is pure: it compares [`Desired`] with [`Observed`] and returns plain data, a list
//! of [`BootstrapChange`]s, each one AWS call (`--dry-run` prints them). [`observe`] and
//! [`apply`] talk to AWS only through the narrow [`Effects`] trait (real: [`aws`], in-memory
//! for unit tests: [`memory`]). Every step writes only when what it observed differs, so a
//! second run writes nothing, and a run that failed half-way is completed by the next one.
//! No ACL is ever set.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::model::bucket_statement;
pub use crate::model::policy::check_role_name;
use crate::model::policy::{self, PolicyError};
use crate::plan::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

pub mod aws;
pub mod memory;

/// The Object Ownership setting that disables ACLs (the S3 default since April 2023).
pub const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";

/// Name of the publisher role's inline policy.
pub const ROLE_POLICY_NAME: &str = "kube-oidc-publisher";

/// Default namespace and ServiceAccount of the in-cluster publisher (as in deploy/).
pub const DEFAULT_PUBLISHER_NAMESPACE: &str = "kube-oidc-publisher";
pub const DEFAULT_PUBLISHER_SERVICE_ACCOUNT: &str = "kube-oidc-publisher";

/// What `--dry-run` and errors point at for the permissions bootstrap needs.
pub const OPERATOR_POLICY_FILE: &str = "templates/operator-policy.json";

/// The four S3 Block Public Access flags, of a bucket or of the whole account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What the bucket needs: ACLs stay blocked, a public bucket policy is allowed and honoured.
    pub const PUBLISHABLE: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: false,
        restrict_public_buckets: false,
    };

    /// What S3 gives a new bucket (since April 2023): everything blocked.
    pub const ALL_BLOCKED: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The flags as (name, value), in the order S3 lists them.
    pub fn flags(&self) -> [(&'static str, bool); 4] {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
    }

    /// Each flag that differs between `from` (`None`: no configuration) and `self`, as
    /// `BlockPublicPolicy true -> false` (`not set -> true` without a configuration).
    pub fn flag_changes(&self, from: Option<&PublicAccessBlock>) -> Vec<String> {
        self.flags()
            .into_iter()
            .enumerate()
            .filter_map(|(i, (name, to))| {
                let was = from.map(|f| f.flags()[i].1);
                (was != Some(to)).then(|| {
                    format!(
                        "{name} {} -> {to}",
                        was.map_or("not set".to_owned(), |w| w.to_string())
                    )
                })
            })
            .collect()
    }

    /// The flags that keep a public bucket policy from working and that `to` turns off
    /// (`BlockPublicPolicy`, `RestrictPublicBuckets`), by name.
    pub fn relaxed_by(&self, to: &PublicAccessBlock) -> Vec<&'static str> {
        let mut relaxed = Vec::new();
        if self.block_public_policy && !to.block_public_policy {
            relaxed.push("BlockPublicPolicy");
        }
        if self.restrict_public_buckets && !to.restrict_public_buckets {
            relaxed.push("RestrictPublicBuckets");
        }
        relaxed
    }

    /// Whether a public bucket policy is refused (`BlockPublicPolicy`) or ignored for anonymous
    /// readers (`RestrictPublicBuckets`): either keeps STS from reading the documents.
    pub fn blocks_public_policy(&self) -> bool {
        self.block_public_policy || self.restrict_public_buckets
    }

    /// `BlockPublicAcls=true,IgnorePublicAcls=true,...`, the aws CLI's shorthand syntax.
    pub fn shorthand(&self) -> String {
        format!(
            "BlockPublicAcls={},IgnorePublicAcls={},BlockPublicPolicy={},RestrictPublicBuckets={}",
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets
        )
    }
}

/// An existing IAM role, as GetRole returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleState {
    pub arn: String,
    /// The trust policy, URL-decoded (IAM returns it RFC 3986-encoded).
    pub trust_policy: String,
    pub tags: BTreeMap<String, String>,
}

/// Whether the bucket exists, as HeadBucket answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketHead {
    Missing,
    /// Exists and is readable by the caller; the region S3 reported, when it did.
    Present {
        region: Option<String>,
    },
}

/// What went wrong, by meaning. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("access denied: {action} on {resource}; grant it to the credentials in use (see `aws sts get-caller-identity`): {OPERATOR_POLICY_FILE} lists everything bootstrap needs")]
    AccessDenied {
        action: &'static str,
        resource: String,
    },
    #[error("no AWS credentials could be found or used ({detail}); configure them as for the aws CLI (AWS_PROFILE, environment variables, SSO), with the permissions in {OPERATOR_POLICY_FILE}")]
    Credentials { detail: String },
    #[error("bucket {bucket:?} already exists and belongs to another AWS account (bucket names are global across all accounts); pick another --bucket name")]
    BucketOwnedByAnother { bucket: String },
    #[error("bucket {bucket:?} exists but HeadBucket was refused (403): either it belongs to another AWS account (bucket names are global; pick another --bucket name), or the credentials in use lack s3:ListBucket on it ({OPERATOR_POLICY_FILE})")]
    BucketForbidden { bucket: String },
    #[error("bucket {bucket:?} is in region {actual}, not {expected}; pass --region {actual} (the default issuer names the bucket's region)")]
    WrongRegion {
        bucket: String,
        expected: String,
        actual: String,
    },
    #[error("account {account} has S3 Block Public Access on at the account level ({}), which overrides every bucket's own setting: STS could not read the documents anonymously and would reject every token (\"Couldn't retrieve verification key from your identity provider\"). Nothing was changed. If this account may serve these two public documents, allow public bucket policies at the account level while keeping ACLs blocked:\n    aws s3control put-public-access-block --account-id {account} --public-access-block-configuration {}\nthen run bootstrap again. Otherwise serve the documents from another account, or from a private bucket behind CloudFront (Origin Access Control) with sync --issuer. An organization-level policy, if any, must allow it too", .current.shorthand(), PublicAccessBlock::PUBLISHABLE.shorthand())]
    AccountBlocksPublicPolicy {
        account: String,
        current: PublicAccessBlock,
    },
    #[error("IAM role {name} ({arn}) exists but is not managed by kube-oidc-publisher (it has no {MANAGED_BY_TAG} tag; another tool may own it). Nothing about it was changed. Pick another --publisher-role name, or pass --adopt to let bootstrap tag it and set its trust policy and its {ROLE_POLICY_NAME} inline policy")]
    UnmanagedRole { name: String, arn: String },
    #[error("IAM role {name} was created by someone else while this run was creating it; run bootstrap again to reconcile it")]
    RoleCreatedMeanwhile { name: String },
    #[error("the bucket policy of {bucket}: {error}")]
    BucketPolicy { bucket: String, error: PolicyError },
    #[error("{}", other_public_statements_message(.bucket, .statements, .relaxed))]
    OtherPublicStatements {
        bucket: String,
        /// `Sid "X" (Allow s3:GetObject on … to *)`, one per statement.
        statements: Vec<String>,
        /// The Block Public Access flags bootstrap would turn off.
        relaxed: Vec<&'static str>,
    },
    #[error("{action} on {resource} was rejected: {detail}")]
    Invalid {
        action: &'static str,
        resource: String,
        detail: String,
    },
    #[error(
        "{action} on {resource} failed: {detail}; run bootstrap again (every step is repeatable)"
    )]
    Service {
        action: &'static str,
        resource: String,
        detail: String,
    },
}

/// `1 statement`, `2 statements`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn other_public_statements_message(
    bucket: &str,
    statements: &[String],
    relaxed: &[&'static str],
) -> String {
    let them = if statements.len() == 1 { "it" } else { "them" };
    let flags = relaxed.join(" and ");
    format!(
        "the bucket policy of {bucket} already grants public access in {} other than \
         kube-oidc-publisher's: {}. The bucket's Block Public Access ({flags} on) keeps {them} \
         dormant today; bootstrap would have to turn {flags} off to serve the documents, and \
         that would make {them} public too. Nothing was changed. Remove {them} or restrict \
         {them} to fixed values of a condition key such as aws:SourceVpce, aws:SourceArn or \
         aws:PrincipalOrgID (see docs/bootstrap.md), or serve the documents from a bucket of \
         their own (another --bucket); then run bootstrap again",
        count(statements.len(), "statement"),
        statements.join("; "),
    )
}

/// The effect trait: the S3, S3 Control, IAM and STS calls bootstrap makes.
///
/// Semantics callers rely on:
/// - every getter returns `Ok(None)` only for "not there" (no such configuration, policy or
///   role), never for a refusal;
/// - `head_bucket` maps 404 to [`BucketHead::Missing`], a 403 to
///   [`Error::BucketForbidden`] and a 301 to [`Error::WrongRegion`];
/// - `create_bucket` succeeds for a bucket the caller already owns, and fails with
///   [`Error::BucketOwnedByAnother`] for a name taken elsewhere; the bucket is created with
///   Object Ownership `BucketOwnerEnforced` (ACLs disabled from the first moment);
/// - writers replace the whole configuration or document they set.
#[async_trait]
pub trait Effects: Send + Sync {
    /// STS GetCallerIdentity: the 12-digit account id.
    async fn account_id(&self) -> Result<String, Error>;

    /// S3 Control GetPublicAccessBlock of the account; `None`: none configured.
    async fn account_public_access_block(
        &self,
        account: &str,
    ) -> Result<Option<PublicAccessBlock>, Error>;

    async fn head_bucket(&self, bucket: &str) -> Result<BucketHead, Error>;

    /// `location_constraint` is `None` in us-east-1, where S3 refuses one.
    async fn create_bucket(
        &self,
        bucket: &str,
        location_constraint: Option<&str>,
    ) -> Result<(), Error>;

    /// The bucket's Object Ownership rule; `None`: no ownership controls.
    async fn ownership(&self, bucket: &str) -> Result<Option<String>, Error>;

    async fn put_ownership(&self, bucket: &str, ownership: &str) -> Result<(), Error>;

    /// The bucket's Public Access Block; `None`: none configured.
    async fn bucket_public_access_block(
        &self,
        bucket: &str,
    ) -> Result<Option<PublicAccessBlock>, Error>;

    async fn put_bucket_public_access_block(
        &self,
        bucket: &str,
        config: &PublicAccessBlock,
    ) -> Result<(), Error>;

    /// The bucket policy's JSON text; `None`: the bucket has no policy.
    async fn bucket_policy(&self, bucket: &str) -> Result<Option<String>, Error>;

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<(), Error>;

    async fn role(&self, name: &str) -> Result<Option<RoleState>, Error>;

    /// An inline policy of a role, URL-decoded; `None`: no such policy.
    async fn role_policy(&self, role: &str, policy_name: &str) -> Result<Option<String>, Error>;

    /// Creates the role; returns its ARN.
    async fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error>;

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), Error>;

    async fn update_assume_role_policy(&self, name: &str, policy: &str) -> Result<(), Error>;

    async fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), Error>;
}

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

/// What bootstrap should leave behind on the AWS side (besides what `sync` publishes).
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub bucket: String,
    pub region: String,
    /// Our bucket-policy statement ([`policy::bucket_policy_statement`]).
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

/// One AWS call bootstrap makes to reach the desired state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BootstrapChange {
    CreateBucket {
        bucket: String,
        /// `None` in us-east-1.
        location_constraint: Option<String>,
        object_ownership: &'static str,
    },
    PutBucketOwnershipControls {
        bucket: String,
        from: Option<String>,
        to: &'static str,
    },
    PutBucketPublicAccessBlock {
        bucket: String,
        from: Option<PublicAccessBlock>,
        to: PublicAccessBlock,
        /// Set when the change turns off `BlockPublicPolicy` or `RestrictPublicBuckets`: why
        /// that exposes nothing but the two documents.
        why_safe: Option<String>,
    },
    PutBucketPolicy {
        bucket: String,
        sid: String,
        /// Whether our statement was already there (and is extended with this cluster's
        /// documents, every other cluster's kept).
        replaces: bool,
        /// How many other statements are kept as they were.
        kept: usize,
        policy: Value,
    },
    CreateRole {
        name: String,
        subject: String,
        trust_policy: Value,
        tags: BTreeMap<String, String>,
    },
    TagRole {
        name: String,
        tags: BTreeMap<String, String>,
    },
    UpdateAssumeRolePolicy {
        name: String,
        subject: String,
        trust_policy: Value,
    },
    PutRolePolicy {
        role: String,
        policy_name: String,
        /// Whether the role had a policy of this name (which is replaced).
        replaces: bool,
        policy: Value,
    },
}

impl BootstrapChange {
    /// The IAM action of the call (what a policy must allow).
    pub fn action(&self) -> &'static str {
        match self {
            BootstrapChange::CreateBucket { .. } => "s3:CreateBucket",
            BootstrapChange::PutBucketOwnershipControls { .. } => "s3:PutBucketOwnershipControls",
            BootstrapChange::PutBucketPublicAccessBlock { .. } => "s3:PutBucketPublicAccessBlock",
            BootstrapChange::PutBucketPolicy { .. } => "s3:PutBucketPolicy",
            BootstrapChange::CreateRole { .. } => "iam:CreateRole",
            BootstrapChange::TagRole { .. } => "iam:TagRole",
            BootstrapChange::UpdateAssumeRolePolicy { .. } => "iam:UpdateAssumeRolePolicy",
            BootstrapChange::PutRolePolicy { .. } => "iam:PutRolePolicy",
        }
    }

    /// One line for humans: the call, its target, and why.
    pub fn describe(&self) -> String {
        let what = match self {
            BootstrapChange::CreateBucket {
                bucket,
                location_constraint,
                object_ownership,
            } => {
                let location = match location_constraint {
                    Some(region) => format!("LocationConstraint {region}"),
                    None => "us-east-1, no LocationConstraint".to_owned(),
                };
                format!("{bucket} ({location}; ObjectOwnership {object_ownership}: ACLs disabled)")
            }
            BootstrapChange::PutBucketOwnershipControls { bucket, from, to } => format!(
                "{bucket}: {to}, ACLs disabled (was {})",
                from.as_deref().unwrap_or("not set")
            ),
            BootstrapChange::PutBucketPublicAccessBlock {
                bucket,
                from,
                to,
                why_safe,
            } => format!(
                "{bucket}: {} (was {}){}",
                to.flag_changes(from.as_ref()).join(", "),
                from.map_or("not set".to_owned(), |f| f.shorthand()),
                why_safe
                    .as_deref()
                    .map_or(String::new(), |why| format!("; safe: {why}"))
            ),
            BootstrapChange::PutBucketPolicy {
                bucket,
                sid,
                replaces,
                kept,
                ..
            } => format!(
                "{bucket}: {} statement {sid} (anonymous s3:GetObject on each cluster's two documents only); {kept} other statement{} kept",
                if *replaces { "update" } else { "add" },
                if *kept == 1 { "" } else { "s" }
            ),
            BootstrapChange::CreateRole {
                name,
                subject,
                tags,
                ..
            } => format!(
                "{name}: assumable by {subject} with a web-identity token; tagged {}",
                tags_text(tags)
            ),
            BootstrapChange::TagRole { name, tags } => format!("{name}: {}", tags_text(tags)),
            BootstrapChange::UpdateAssumeRolePolicy { name, subject, .. } => {
                format!("{name}: trust {subject} (the trust policy differs)")
            }
            BootstrapChange::PutRolePolicy {
                role,
                policy_name,
                replaces,
                ..
            } => format!(
                "{role}: {} inline policy {policy_name} (read and write the two documents, manage the one OIDC provider)",
                if *replaces { "update" } else { "create" }
            ),
        };
        format!("{} {what}", self.action())
    }
}

fn tags_text(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
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
pub fn plan(desired: &Desired, observed: &Observed) -> Result<Plan, Error> {
    if let Some(account_pab) = observed.account_public_access_block {
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
            // with all four flags on and no policy.
            (
                Some(BUCKET_OWNER_ENFORCED.to_owned()),
                Some(PublicAccessBlock::ALL_BLOCKED),
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
    // Before the policy: S3 refuses a public policy while BlockPublicPolicy is on.
    let to = PublicAccessBlock::PUBLISHABLE;
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

/// Reads everything [`plan`] needs, concurrently where the calls are independent. Stops at
/// the account-level Block Public Access check's error, and reads nothing of a bucket that
/// does not exist.
pub async fn observe(
    effects: &dyn Effects,
    desired: &Desired,
    account_id: &str,
) -> Result<Observed, Error> {
    let bucket = &desired.bucket;
    let role_name = desired.role.as_ref().map(|r| r.name.as_str());
    let role = async {
        let Some(name) = role_name else {
            return Ok(None);
        };
        let Some(state) = effects.role(name).await? else {
            return Ok(None);
        };
        let policy = effects.role_policy(name, ROLE_POLICY_NAME).await?;
        Ok::<_, Error>(Some(ObservedRole { state, policy }))
    };
    let bucket_state = async {
        match effects.head_bucket(bucket).await? {
            BucketHead::Missing => Ok(ObservedBucket::Missing),
            BucketHead::Present { region } => {
                if let Some(actual) = region.filter(|r| *r != desired.region) {
                    return Err(Error::WrongRegion {
                        bucket: bucket.clone(),
                        expected: desired.region.clone(),
                        actual,
                    });
                }
                let (ownership, public_access_block, policy) = futures::future::try_join3(
                    effects.ownership(bucket),
                    effects.bucket_public_access_block(bucket),
                    effects.bucket_policy(bucket),
                )
                .await?;
                Ok(ObservedBucket::Present {
                    ownership,
                    public_access_block,
                    policy,
                })
            }
        }
    };
    // The account check comes first: when it refuses, nothing else matters.
    let account_public_access_block = effects.account_public_access_block(account_id).await?;
    if account_public_access_block.is_some_and(|p| p.blocks_public_policy()) {
        return Ok(Observed {
            account_id: account_id.to_owned(),
            account_public_access_block,
            bucket: ObservedBucket::Missing,
            role: None,
        });
    }
    let (bucket, role) = futures::future::try_join(bucket_state, role).await?;
    Ok(Observed {
        account_id: account_id.to_owned(),
        account_public_access_block,
        bucket,
        role,
    })
}

/// A failed apply: the error, and which changes were made before it (they stay; the next run
/// observes them and carries on).
#[derive(Debug, thiserror::Error)]
#[error("{error}{}", applied_note(.applied))]
pub struct ApplyError {
    pub error: Error,
    pub applied: Vec<String>,
}

fn applied_note(applied: &[String]) -> String {
    if applied.is_empty() {
        String::new()
    } else {
        format!(
            " (already done, and kept: {}; run bootstrap again to finish)",
            applied.join(", ")
        )
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
        match result {
            Ok(()) => applied.push(change.action().to_owned()),
            Err(error) => return Err(ApplyError { error, applied }),
        }
    }
    Ok((applied.len(), created_arn))
}

/// `arn:<partition>:iam::<account>:role/<name>`: the ARN a role created without a path gets.
pub fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role/{name}")
}

/// Where the flags go, per distribution (the long form, with snippets, is docs/bootstrap.md).
pub const FLAG_LOCATIONS: [(&str, &str); 5] = [
    (
        "kubeadm",
        "/etc/kubernetes/manifests/kube-apiserver.yaml (the command: list, on every control-plane node), or ClusterConfiguration.apiServer.extraArgs",
    ),
    (
        "kind",
        "kubeadmConfigPatches: a ClusterConfiguration patch with apiServer.extraArgs (applies when the cluster is created)",
    ),
    ("k3s", "kube-apiserver-arg: list in /etc/rancher/k3s/config.yaml"),
    ("rke2", "kube-apiserver-arg: list in /etc/rancher/rke2/config.yaml"),
    ("talos", "cluster.apiServer.extraArgs in the control-plane machine config"),
];

/// What to do after bootstrap, in order.
pub fn next_steps(issuer: &str, role_arn: Option<&str>, audience: &str) -> Vec<String> {
    let mut steps = vec![
        "Set the flags above on every kube-apiserver and restart them one at a time".to_owned(),
        format!("kube-oidc-publisher doctor --issuer {issuer}"),
    ];
    match role_arn {
        Some(arn) => steps.push(format!(
            "Set AWS_ROLE_ARN={arn} (and the store and region) in deploy/config/config.env, then kubectl apply -k deploy/cronjob (or deploy/daemon), so sync keeps the documents current from inside the cluster with no stored AWS keys (deploy/README.md)"
        )),
        None => steps.push(
            "Set AWS_ROLE_ARN in deploy/config/config.env to the ARN of a publisher role (bootstrap creates one with --publisher-role NAME), then kubectl apply -k deploy/cronjob (or deploy/daemon)"
                .to_owned(),
        ),
    }
    steps.push(format!(
        "For each application: kube-oidc-publisher trust-policy --issuer {issuer} --namespace NS --service-account SA{} gives the trust policy of its role; annotate its ServiceAccount with the role ARN",
        if audience == policy::DEFAULT_AUDIENCE {
            String::new()
        } else {
            format!(" --audience {audience}")
        }
    ));
    steps
}

#[cfg(test)]
mod tests;
