//! `doctor`: the options of the read-only check of the whole IRSA chain.

use std::path::PathBuf;

use clap::Args;

use super::{
    AwsLocation, CloudFrontDistribution, KubeAccess, Output, PublicIssuer, PublicTls,
    RequestTimeout, S3Addressing, Store, TokenAudience, TokenLifetime,
};

pub(super) const DOCTOR_LONG_ABOUT: &str = "\
Check the whole chain STS walks for a pod's AssumeRoleWithWebIdentity, in STS's order, and say
for each problem the exact STS error it will cause and the fix. Nothing is written anywhere.

  1. the issuer: https, no port, query, fragment or trailing slash; equal to the API server's
  2. GET <issuer>/.well-known/openid-configuration anonymously, as STS does: no redirect
     followed, a 5-second budget, status, Content-Type, Cache-Control, issuer, jwks_uri
  3. GET <jwks_uri> the same way; every key usable by STS
  4. the API server's keys are all public; a real token (--token FILE, or --service-account
     to mint one) verifies against the public JWKS, with iss and exp checked as STS does
  5. the IAM OIDC provider exists for exactly this URL, its client IDs hold the audience, and
     its thumbprint matches when the host's chain ends in a private CA
  6. with --store s3://...: Block Public Access (bucket and account), Object Ownership, and a
     bucket policy granting anonymous s3:GetObject on both documents. For an issuer served by
     CloudFront (a *.cloudfront.net host, --cloudfront-distribution, or an alias of one of the
     account's distributions): the distribution serves the host, DNS points the host at it,
     the custom domain's ACM certificate covers it, the origin is the bucket's regional
     endpoint, an origin access control signs for it, the bucket policy lets the distribution
     read, and the edge does not serve a copy older than its max-age
  7. with --role-arn: the trust policy's Federated principal, action, condition keys, sub and
     aud; with --service-account: its eks.amazonaws.com/role-arn annotation

During a move to another issuer (`issuer prepare` recorded it in --store's state object), a
token of either issuer is judged against its own issuer's documents and provider, and the
other issuer's documents (jwks.migration), provider (iam.migration) and the role's trust in it
(role.migration) are checked too: an error when pods need that side now, a warning when they
will at a later step (--token-lifetime says when the old issuer's tokens expire).

Checks that need what is not given (no cluster, no AWS credentials, no token) are reported as
skipped, with what to pass. Exit codes: 0 nothing found that makes STS reject tokens, 1 STS
would reject them, 2 doctor could not run (bad flags, or a check it was asked for could not
read what it needs). See docs/troubleshooting.md.

Examples:
  kube-oidc-publisher doctor --issuer https://acme-oidc.s3.eu-west-1.amazonaws.com/prod-1
  kube-oidc-publisher doctor --store s3://acme-oidc/prod-1 --region eu-west-1 \\
      --service-account shop/api --role-arn arn:aws:iam::123456789012:role/shop-api
  kube-oidc-publisher doctor --issuer https://oidc.internal.example/c1 --ca-file private-ca.pem \\
      --token pod-token.jwt --output json
  kube-oidc-publisher doctor --issuer https://oidc.acme.com/prod-1 \\
      --cloudfront-distribution E2ABCDEF123456 --hosted-zone-id Z0123456789ABC";

#[derive(Clone, Debug, Args)]
#[command(group(super::issuer_or_store()))]
pub struct DoctorArgs {
    #[command(flatten)]
    pub issuer: PublicIssuer,

    #[command(flatten)]
    pub store: Store,

    /// A service-account token to verify as STS would (a pod's projected token).
    ///
    /// Its kid must be in the public JWKS, its signature must verify with that key, its iss
    /// must be the issuer and its exp not more than 5 minutes past. The token is never printed.
    #[arg(long, value_name = "FILE", env = "KUBE_OIDC_PUBLISHER_TOKEN")]
    pub token: Option<PathBuf>,

    /// The ServiceAccount the pods run as, NAMESPACE/NAME.
    ///
    /// Without --token, a short-lived token for --audience is minted with TokenRequest (needs
    /// `create` on serviceaccounts/token). Its subject is compared with the role's `sub`
    /// condition, and its eks.amazonaws.com/role-arn annotation with --role-arn.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        env = "KUBE_OIDC_PUBLISHER_SERVICE_ACCOUNT"
    )]
    pub service_account: Option<String>,

    #[command(flatten)]
    pub audience: TokenAudience,

    /// An IAM role the pods assume; its trust policy is checked (step 7).
    #[arg(long, value_name = "ARN", env = "KUBE_OIDC_PUBLISHER_ROLE_ARN")]
    pub role_arn: Option<String>,

    #[command(flatten)]
    pub cloudfront: CloudFrontDistribution,

    /// The Route 53 hosted zone of the issuer's custom domain (for CloudFront).
    ///
    /// Its alias records of the issuer host are read, and when DNS does not point the host at
    /// the distribution, the exact `aws route53 change-resource-record-sets` command is named.
    #[arg(long, value_name = "ID", env = "KUBE_OIDC_PUBLISHER_HOSTED_ZONE_ID")]
    pub hosted_zone_id: Option<String>,

    #[command(flatten)]
    pub tls: PublicTls,

    #[command(flatten)]
    pub kube: KubeAccess,

    #[command(flatten)]
    pub aws: AwsLocation,

    #[command(flatten)]
    pub s3: S3Addressing,

    #[command(flatten)]
    pub output: Output,

    #[command(flatten)]
    pub timeout: RequestTimeout,

    #[command(flatten)]
    pub lifetime: TokenLifetime,
}
