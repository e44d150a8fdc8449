//! One AWS call bootstrap makes ([`BootstrapChange`]): plain data, with the IAM action a policy
//! must allow and the line `--dry-run` prints.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::PublicAccessBlock;

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
