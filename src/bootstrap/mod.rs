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
//! are `sync`'s job: the command runs `publish::publish` between the bucket and the role
//! steps.
//!
//! [`plan()`] is pure: it compares [`Desired`] with [`Observed`] and returns plain data, a list
//! of [`BootstrapChange`]s, each one AWS call (`--dry-run` prints them). [`observe`] and
//! [`apply()`] talk to AWS only through the narrow [`Effects`] trait (real: [`aws`], in-memory
//! for unit tests: [`memory`]). Every step writes only when what it observed differs, so a
//! second run writes nothing, and a run that failed half-way is completed by the next one.
//! No ACL is ever set.
//!
//! Where things are: this file holds the names, the [`Effects`] trait, [`observe`] and the
//! next steps printed at the end; `plan` the desired and observed state and the planning;
//! `change` the changes; `apply` applying them; `public_access` the Block Public Access flags;
//! `error` the errors and their messages; `delete` removing one cluster (`bootstrap --delete`).

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::model::policy;
pub use crate::model::policy::check_role_name;

mod apply;
pub mod aws;
mod change;
pub mod cloudfront;
mod cloudfront_apply;
pub mod delete;
mod error;
pub mod memory;
mod plan;
mod public_access;

pub use apply::{apply, ApplyError};
pub use change::BootstrapChange;
pub use cloudfront_apply::{
    apply_distribution, apply_records, next_poll_delay, observe_cloudfront, observe_records,
    progress_line, short_duration, wait_deployed, CloudFrontEffects, Deployed,
};
pub use error::Error;
pub use plan::{
    canonical_policy, location_constraint, plan, same_policy, Desired, DesiredRole, Hosting,
    Observed, ObservedBucket, ObservedRole, Plan,
};
pub use public_access::PublicAccessBlock;

/// The Object Ownership setting that disables ACLs (the S3 default since April 2023).
pub const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";

/// Name of the publisher role's inline policy.
pub const ROLE_POLICY_NAME: &str = "kube-oidc-publisher";

/// Default namespace and ServiceAccount of the in-cluster publisher (as in deploy/).
pub const DEFAULT_PUBLISHER_NAMESPACE: &str = "kube-oidc-publisher";
pub const DEFAULT_PUBLISHER_SERVICE_ACCOUNT: &str = "kube-oidc-publisher";

/// What `--dry-run` and errors point at for the permissions bootstrap needs.
pub const OPERATOR_POLICY_FILE: &str = "templates/operator-policy.json";

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

    // What `bootstrap --delete` adds ([`delete`]).

    /// HeadObject: whether the object exists (with s3:ListBucket a missing key is a 404,
    /// not a 403).
    async fn object_exists(&self, bucket: &str, key: &str) -> Result<bool, Error>;

    /// Deletes one object; succeeds for a key that is not there (as S3 does).
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error>;

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<(), Error>;

    /// The tags of the IAM OIDC provider `arn`; `None`: no such provider.
    async fn provider_tags(&self, arn: &str) -> Result<Option<BTreeMap<String, String>>, Error>;

    async fn delete_provider(&self, arn: &str) -> Result<(), Error>;

    async fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), Error>;

    /// Fails with [`Error::RoleDeleteConflict`] while the role still has a policy attached,
    /// an inline policy, or an instance profile.
    async fn delete_role(&self, name: &str) -> Result<(), Error>;
}

/// Reads everything [`plan()`] needs, concurrently where the calls are independent. Stops at
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
    // A private bucket behind CloudFront does not care (that is its point).
    if desired.hosting == Hosting::S3
        && account_public_access_block.is_some_and(|p| p.blocks_public_policy())
    {
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
