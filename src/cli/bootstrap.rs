//! `bootstrap`: the AWS set-up's own options; it takes every publishing option too.

use clap::Args;

use super::PublishArgs;

pub(super) const BOOTSTRAP_LONG_ABOUT: &str = "\
Set up everything on the AWS side once, from a workstation with admin credentials, and print the
kube-apiserver flags to set. Idempotent: it observes first and changes only what differs, so a
second run makes no S3, CloudFront, Route 53 or IAM write; --dry-run prints every AWS call it
would make.

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

With --hosting cloudfront (where public buckets are not allowed) the bucket stays private:
  1. check --certificate-arn first (ACM us-east-1, ISSUED, covers --domain); a refusal
     creates nothing;
  2. create the bucket if missing, turn all four Block Public Access flags on, and add this
     cluster's two documents to one statement that lets only CloudFront (AWS:SourceArn = the
     distribution) read them; a bucket policy with a public statement is refused;
  3. create one origin access control and one distribution per bucket (origin: the bucket's
     regional endpoint, HTTPS only, GET/HEAD, cache policy CachingOptimized, tagged), found
     again by its tag and origin; --domain becomes its alias (SNI, TLS 1.2+);
  4. with --hosted-zone-id, create the A and AAAA alias records; without it, print the
     record and wait for the name to resolve;
  5. publish the documents, wait until the distribution is Deployed (--wait-timeout; with
     --no-wait stop and say what to run), read both documents anonymously through the issuer
     URL as STS does, and only then create the IAM OIDC provider;
  6. the role's policy also allows cloudfront:CreateInvalidation on that distribution; the
     sync options (--cloudfront-distribution ID) are printed.

The store is s3://BUCKET[/PREFIX]; every sync option applies (key source, --audience,
--thumbprint, --ca-file, --adopt, --dry-run, --output json, ...). The permissions needed are in
templates/operator-policy.json. Exit codes: 0 done (or nothing to do, or --dry-run), 1 changes
pending with --check, 2 error.

Removing a cluster from a bucket (others keep theirs): bootstrap --delete with the same
--bucket, --prefix and --publisher-role, --dry-run first. It removes this cluster's public
grant, documents and state object, and its provider and role only if kube-oidc-publisher
created them; it refuses while the API server still signs tokens for the issuer (--force for
a cluster that is gone). A second --delete makes no write (docs/bootstrap.md). With --hosting
cloudfront (and the same --domain and --hosted-zone-id) it takes the cluster's documents out
of the CloudFront statement and invalidates them at the edge; for the bucket's last cluster it
also deletes the alias records that point at the distribution, disables the distribution,
waits until that is deployed (--wait-timeout; --no-wait stops there and says what finishes),
deletes it and its origin access control. A distribution without kube-oidc-publisher's tag is
never touched.

Example:
  kube-oidc-publisher bootstrap --bucket acme-oidc --region eu-west-1 --prefix prod-1 \\
      --cluster-name prod-1 --publisher-role kube-oidc-publisher-prod-1 --dry-run
  kube-oidc-publisher bootstrap --bucket acme-oidc --region eu-west-1 --prefix prod-1 \\
      --hosting cloudfront --domain oidc.acme.com \\
      --certificate-arn arn:aws:acm:us-east-1:123456789012:certificate/ID --hosted-zone-id Z0123";

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
    /// --publisher-role as for bootstrap; --dry-run first. With --hosting cloudfront (and the
    /// same --domain, --certificate-arn, --hosted-zone-id): the documents leave the CloudFront
    /// statement and are invalidated at the edge; when no other cluster is left in the bucket,
    /// the alias records pointing at the distribution, the distribution (disabled, waited for,
    /// deleted) and its origin access control go too, each only if kube-oidc-publisher made it.
    #[arg(long, conflicts_with = "adopt", env = "KUBE_OIDC_PUBLISHER_DELETE")]
    pub delete: bool,

    /// With --delete: skip the check that the API server no longer signs for the issuer.
    ///
    /// For a cluster that is gone (or whose API server is unreachable from here). Removing
    /// an issuer that is still in use makes its pods' IAM roles fail with InvalidIdentityToken.
    #[arg(long, requires = "delete", env = "KUBE_OIDC_PUBLISHER_FORCE")]
    pub force: bool,

    /// How STS reaches the documents: s3 (the bucket serves them publicly) or cloudfront.
    ///
    /// cloudfront: the bucket stays private (all four Block Public Access flags on, so it works
    /// where account-level Block Public Access is on) and one CloudFront distribution per
    /// bucket reads it through an origin access control; the issuer is
    /// https://<distribution domain or --domain>/<prefix>.
    #[arg(
        long,
        value_name = "MODE",
        default_value = "s3",
        value_parser = ["s3", "cloudfront"],
        env = "KUBE_OIDC_PUBLISHER_HOSTING"
    )]
    pub hosting: String,

    /// With --hosting cloudfront: serve the issuer on this name (for example oidc.acme.com).
    ///
    /// Set as the distribution's alias with --certificate-arn; the issuer becomes
    /// https://NAME/<prefix>, independent of the bucket.
    #[arg(
        long,
        value_name = "NAME",
        requires = "certificate_arn",
        env = "KUBE_OIDC_PUBLISHER_DOMAIN"
    )]
    pub domain: Option<String>,

    /// The ACM certificate (in us-east-1) for --domain; checked before anything is created.
    ///
    /// It must be ISSUED and name the domain, or a wildcard one label above it
    /// (*.acme.com covers oidc.acme.com).
    #[arg(
        long,
        value_name = "ARN",
        requires = "domain",
        env = "KUBE_OIDC_PUBLISHER_CERTIFICATE_ARN"
    )]
    pub certificate_arn: Option<String>,

    /// The public Route 53 zone of --domain: bootstrap creates its A and AAAA alias records.
    ///
    /// Without it, bootstrap prints the record to create and waits until the name resolves.
    /// With --delete, for the bucket's last cluster, the records that still point at the
    /// distribution are deleted with it.
    #[arg(
        long,
        value_name = "ID",
        requires = "domain",
        env = "KUBE_OIDC_PUBLISHER_HOSTED_ZONE_ID"
    )]
    pub hosted_zone_id: Option<String>,

    /// With --hosting cloudfront: how long to wait for the distribution to deploy (and for
    /// --domain to resolve; with --delete, for the disabled distribution to deploy).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30m",
        env = "KUBE_OIDC_PUBLISHER_WAIT_TIMEOUT"
    )]
    pub wait_timeout: String,

    /// With --hosting cloudfront: do not wait for the distribution to deploy.
    ///
    /// Stops after setting up the bucket and distribution (and DNS) and says which command
    /// finishes the job: the same bootstrap again, which publishes the documents, checks them
    /// through the issuer URL and creates the IAM OIDC provider. With --delete: stops after
    /// disabling the distribution; the same --delete again deletes it once it is deployed.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_NO_WAIT")]
    pub no_wait: bool,

    #[command(flatten)]
    pub publish: PublishArgs,
}
