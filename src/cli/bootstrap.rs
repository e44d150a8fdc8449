//! `bootstrap`: the AWS set-up's own options; it takes every publishing option too.

use clap::Args;

use super::PublishArgs;

pub(super) const BOOTSTRAP_LONG_ABOUT: &str = "\
Set up everything on the AWS side once, from a workstation with admin credentials, and print the
kube-apiserver flags to set. Idempotent: it observes first and changes only what differs, so a
second run makes no S3 or IAM write; --dry-run prints every AWS call it would make.

In order:
  1. refuse (changing nothing) if the account-level S3 Block Public Access would hide the
     documents from STS, with the command that fixes it;
  2. create the bucket if missing (ACLs disabled: Object Ownership BucketOwnerEnforced);
  3. set the bucket's Public Access Block to block ACLs but allow a public bucket policy;
     refuse (changing nothing) if that would make another statement of the bucket policy
     public (an Allow to * without a condition on fixed values), listing them;
  4. add this cluster's two documents to one bucket-policy statement that grants anonymous
     s3:GetObject on exactly the documents of each cluster sharing the bucket (every other
     cluster's grant and every other statement are kept; no ACL is ever set; a policy over
     S3's 20 KB is refused); a statement that has its Sid but is not its shape (the owner's
     Deny, for example) is refused, never replaced;
  5. publish the documents and create or update the IAM OIDC provider, as sync does (a
     different issuer on the API server is expected here: its keys are published for the new
     issuer);
  6. with --publisher-role: create or update the IAM role the in-cluster publisher assumes,
     trusted by its ServiceAccount only, with a least-privilege inline policy.

The store is s3://BUCKET[/PREFIX]; every sync option applies (key source, --audience,
--thumbprint, --ca-file, --adopt, --dry-run, --output json, ...). The permissions needed are in
templates/operator-policy.json. Exit codes: 0 done (or nothing to do, or --dry-run), 1 changes
pending with --check, 2 error.

Removing a cluster from a bucket (others keep theirs): bootstrap --delete with the same
--bucket, --prefix and --publisher-role, --dry-run first. It removes this cluster's public
grant, documents and state object, and its provider and role only if kube-oidc-publisher
created them; it refuses while the API server still signs tokens for the issuer (--force for
a cluster that is gone). A second --delete makes no write (docs/bootstrap.md).

Example:
  kube-oidc-publisher bootstrap --bucket acme-oidc --region eu-west-1 --prefix prod-1 \\
      --cluster-name prod-1 --publisher-role kube-oidc-publisher-prod-1 --dry-run";

#[derive(Clone, Debug, Args)]
pub struct BootstrapArgs {
    /// The S3 bucket to serve the documents from (created if missing).
    ///
    /// Its virtual-hosted URL is the default issuer, so a name with dots needs --issuer (S3's
    /// wildcard certificate does not cover dotted names).
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_BUCKET")]
    pub bucket: String,

    /// Key prefix inside the bucket: the issuer's path (for example the cluster's name).
    #[arg(long, value_name = "PREFIX", env = "KUBE_OIDC_PUBLISHER_PREFIX")]
    pub prefix: Option<String>,

    /// Create (or update) the IAM role the in-cluster publisher assumes, with this name.
    ///
    /// Its trust policy lets only the publisher's ServiceAccount assume it (through this
    /// cluster's OIDC provider); its inline policy allows exactly what sync needs. A role of
    /// that name that kube-oidc-publisher did not create is left alone unless --adopt.
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_PUBLISHER_ROLE")]
    pub publisher_role: Option<String>,

    /// Namespace of the publisher's ServiceAccount [default: kube-oidc-publisher].
    #[arg(
        long,
        value_name = "NAMESPACE",
        requires = "publisher_role",
        env = "KUBE_OIDC_PUBLISHER_PUBLISHER_NAMESPACE"
    )]
    pub publisher_namespace: Option<String>,

    /// Name of the publisher's ServiceAccount [default: kube-oidc-publisher].
    #[arg(
        long,
        value_name = "NAME",
        requires = "publisher_role",
        env = "KUBE_OIDC_PUBLISHER_PUBLISHER_SERVICE_ACCOUNT"
    )]
    pub publisher_service_account: Option<String>,

    /// Remove this cluster instead: its grant, its documents, its provider and role if ours.
    ///
    /// Takes this cluster's two documents out of the public-read statement (every other
    /// cluster's stay, every other statement is kept as it was; the policy is deleted when
    /// nothing is left of it), deletes its discovery document, JWKS and state object (only
    /// those keys), and the IAM OIDC provider of its issuer and the --publisher-role role,
    /// each only if it carries kube-oidc-publisher's tag (otherwise kept, and reported). Never
    /// deletes the bucket or changes its Block Public Access or ownership. Refuses while the
    /// API server still signs tokens for the issuer, or when it cannot tell (unreachable,
    /// --source files), unless --force. Use the same --bucket, --prefix, --issuer, --region and
    /// --publisher-role as for bootstrap; --dry-run first.
    #[arg(long, conflicts_with = "adopt", env = "KUBE_OIDC_PUBLISHER_DELETE")]
    pub delete: bool,

    /// With --delete: skip the check that the API server no longer signs for the issuer.
    ///
    /// For a cluster that is gone (or whose API server is unreachable from here). Removing
    /// an issuer that is still in use makes its pods' IAM roles fail with InvalidIdentityToken.
    #[arg(long, requires = "delete", env = "KUBE_OIDC_PUBLISHER_FORCE")]
    pub force: bool,

    #[command(flatten)]
    pub publish: PublishArgs,
}
