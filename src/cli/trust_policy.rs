//! `trust-policy`: the options of the command that prints a role's trust policy.

use clap::Args;

use super::{AwsLocation, Output, PublicIssuer, RequestTimeout, Store, TokenAudience};

pub(super) const TRUST_POLICY_LONG_ABOUT: &str = "\
Print the trust policy of an IAM role that pods running as one Kubernetes ServiceAccount may
assume with their projected service-account token (sts:AssumeRoleWithWebIdentity).

The policy trusts the IAM OIDC provider of the issuer (arn:<partition>:iam::<account>:
oidc-provider/<host/path>) and requires the token's `sub` to be
system:serviceaccount:<namespace>:<name> and its `aud` to be the audience. A `*` or `?` in the
namespace or in the name (not both) matches with StringLike instead, with a warning on stderr.

The account id comes from --account-id, else from STS GetCallerIdentity with the AWS SDK's
credentials; the partition from --partition, else from the region. Nothing is created: pipe the
output to `aws iam create-role --assume-role-policy-document file:///dev/stdin`. See
docs/trust-policy.md for the pod side.

Examples:
  kube-oidc-publisher trust-policy --namespace payments --service-account api \\
      --issuer https://oidc.example.com/c1 --account-id 123456789012

  # the issuer of an S3 store (https://my-oidc-bucket.s3.eu-west-1.amazonaws.com/c1),
  # the account of the current AWS credentials
  kube-oidc-publisher trust-policy --namespace payments --service-account api \\
      --store s3://my-oidc-bucket/c1 --region eu-west-1";

#[derive(Clone, Debug, Args)]
#[command(group(super::issuer_or_store()))]
pub struct TrustPolicyArgs {
    /// The ServiceAccount's namespace (`*` and `?` match with StringLike); required.
    ///
    /// Checked by the command rather than the parser, so that doctor's NAMESPACE/NAME form
    /// given to --service-account is answered with the two flags to pass.
    #[arg(long, value_name = "NAMESPACE", env = "KUBE_OIDC_PUBLISHER_NAMESPACE")]
    pub namespace: Option<String>,

    /// The ServiceAccount's name (`*` and `?` match with StringLike).
    ///
    /// A wildcard in both the namespace and the name is refused.
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_SERVICE_ACCOUNT")]
    pub service_account: String,

    #[command(flatten)]
    pub audience: TokenAudience,

    #[command(flatten)]
    pub issuer: PublicIssuer,

    #[command(flatten)]
    pub store: Store,

    #[command(flatten)]
    pub aws: AwsLocation,

    /// The 12-digit account id that owns the OIDC provider (default: STS GetCallerIdentity).
    #[arg(long, value_name = "ID", env = "KUBE_OIDC_PUBLISHER_ACCOUNT_ID")]
    pub account_id: Option<String>,

    /// The AWS partition of the ARNs: aws, aws-cn, aws-us-gov, ... (default: the region's).
    #[arg(long, value_name = "PARTITION", env = "KUBE_OIDC_PUBLISHER_PARTITION")]
    pub partition: Option<String>,

    #[command(flatten)]
    pub output: Output,

    #[command(flatten)]
    pub timeout: RequestTimeout,
}
