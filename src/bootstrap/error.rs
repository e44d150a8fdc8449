//! What can go wrong in bootstrap, by meaning ([`Error`]); every message says what to do next.

use crate::model::policy::PolicyError;
use crate::plan::MANAGED_BY_TAG;

use super::{PublicAccessBlock, OPERATOR_POLICY_FILE, ROLE_POLICY_NAME};

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
    #[error("account {account} has S3 Block Public Access on at the account level ({}), which overrides every bucket's own setting: STS could not read the documents anonymously and would reject every token (\"Couldn't retrieve verification key from your identity provider\"). Nothing was changed. If this account may serve these two public documents, allow public bucket policies at the account level while keeping ACLs blocked:\n    aws s3control put-public-access-block --account-id {account} --public-access-block-configuration {}\nthen run bootstrap again. An organization-level policy, if any, must allow it too. Where public buckets are not allowed, run the same bootstrap with --hosting cloudfront instead: a private bucket (every Block Public Access flag on) behind a CloudFront distribution, optionally on your own --domain", .current.shorthand(), PublicAccessBlock::PUBLISHABLE.shorthand())]
    AccountBlocksPublicPolicy {
        account: String,
        current: PublicAccessBlock,
    },
    #[error("IAM role {name} ({arn}) exists but is not managed by kube-oidc-publisher (it has no {MANAGED_BY_TAG} tag; another tool may own it). Nothing about it was changed. Pick another --publisher-role name, or pass --adopt to let bootstrap tag it and set its trust policy and its {ROLE_POLICY_NAME} inline policy")]
    UnmanagedRole { name: String, arn: String },
    #[error("IAM role {name} was created by someone else while this run was creating it; run bootstrap again to reconcile it")]
    RoleCreatedMeanwhile { name: String },
    #[error("IAM role {name} cannot be deleted: it still has a managed policy attached, another inline policy, or an instance profile (DeleteConflict). Detach them (`aws iam list-attached-role-policies --role-name {name}`, `aws iam list-role-policies --role-name {name}`, `aws iam list-instance-profiles-for-role --role-name {name}`), then run bootstrap --delete again to delete the role")]
    RoleDeleteConflict { name: String },
    #[error("the API server still signs service-account tokens for issuer {issuer} (its discovery document names it): with that issuer's documents and IAM OIDC provider removed, every pod of that cluster using an IAM role would get InvalidIdentityToken from STS. Nothing was changed. Give the cluster another --service-account-issuer first (or shut it down), then run bootstrap --delete again; or pass --force to remove it anyway")]
    StillSigning { issuer: String },
    #[error("cannot tell whether the API server still signs service-account tokens for issuer {issuer} ({reason}), so nothing was changed: removing an issuer in use makes every pod of that cluster using an IAM role get InvalidIdentityToken from STS. Pass the cluster's kube access flags (--kubeconfig, --context) so bootstrap --delete can check, or, for a cluster that is gone, pass --force to skip the check")]
    CannotTellIfSigning { issuer: String, reason: String },
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
    #[error("the bucket policy of {bucket} grants public access in {}: {}. With --hosting cloudfront the bucket is private (every Block Public Access flag on), so S3 would refuse to keep {} and anyone reading the bucket anonymously today (clusters bootstrapped with --hosting s3, for example) would be cut off. Nothing was changed. Serve the CloudFront issuers from a bucket of their own (another --bucket), or first move every cluster off public S3 hosting (bootstrap --delete for each, which takes its documents out of KubeOidcPublisherPublicRead) and remove the other public statements; then run bootstrap again", count(.statements.len(), "statement"), .statements.join("; "), if .statements.len() == 1 { "it" } else { "them" })]
    PublicStatementsWithCloudFront {
        bucket: String,
        statements: Vec<String>,
    },
    #[error("the issuer host {host} is not served by distribution {distribution} (it serves {}), the bucket's distribution that kube-oidc-publisher created. Nothing was changed. Pass the --domain (or --issuer) this cluster was bootstrapped with: one of those names", .names.join(", "))]
    IssuerNotServed {
        host: String,
        distribution: String,
        names: Vec<String>,
    },
    #[error("distribution {distribution} serves {domain_name} and the aliases {}: bootstrap --delete cannot tell which one this cluster's issuer uses. Nothing was changed. Pass the --domain (with --certificate-arn, and --hosted-zone-id if bootstrap created the DNS records) this cluster was bootstrapped with, or --issuer https://{domain_name}/PREFIX if it was bootstrapped without --domain", .aliases.join(", "))]
    IssuerNeedsDomain {
        distribution: String,
        domain_name: String,
        aliases: Vec<String>,
    },
    #[error("distribution {id} is still {status} after {waited} (--wait-timeout): it is disabled and kept, with everything else already removed. CloudFront deployments usually take a few minutes: run the same bootstrap --delete again (it waits, then deletes the distribution and its origin access control), or pass a longer --wait-timeout")]
    StillDeploying {
        id: String,
        status: String,
        waited: String,
    },
    /// Boxed, as the next one: the error travels in every `Result` of bootstrap.
    #[error("{0}")]
    CloudFront(Box<super::cloudfront::CloudFrontError>),
    #[error("{0}")]
    Hosting(Box<crate::hosting::Error>),
    #[error("{action} on {resource} was rejected: {detail}")]
    Invalid {
        action: &'static str,
        resource: String,
        detail: String,
    },
    #[error(
        "{action} on {resource} failed: {detail}; run the same bootstrap (or bootstrap --delete) command again (every step is repeatable)"
    )]
    Service {
        action: &'static str,
        resource: String,
        detail: String,
    },
}

impl From<super::cloudfront::CloudFrontError> for Error {
    fn from(error: super::cloudfront::CloudFrontError) -> Error {
        Error::CloudFront(Box::new(error))
    }
}

impl From<crate::hosting::Error> for Error {
    fn from(error: crate::hosting::Error) -> Error {
        Error::Hosting(Box::new(error))
    }
}

/// `1 statement`, `2 statements`.
pub(super) fn count(n: usize, noun: &str) -> String {
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
