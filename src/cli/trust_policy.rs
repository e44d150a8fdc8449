//! `trust-policy`: the options of the command that prints a role's trust policy.

use clap::Args;

use crate::output::OutputFormat;

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
#[command(group(
    clap::ArgGroup::new("issuer_source")
        .required(true)
        .multiple(true)
        .args(["issuer", "store"])
))]
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

    /// The token audience the role requires (the projected token's `audience`).
    #[arg(
        long,
        value_name = "AUDIENCE",
        default_value = crate::model::policy::DEFAULT_AUDIENCE,
        env = "KUBE_OIDC_PUBLISHER_AUDIENCE"
    )]
    pub audience: String,

    /// The issuer URL, exactly as the API server's first --service-account-issuer.
    ///
    /// Takes precedence over --store.
    #[arg(long, value_name = "URL", env = "KUBE_OIDC_PUBLISHER_ISSUER")]
    pub issuer: Option<String>,

    /// The S3 store the documents are published to; its default issuer is used.
    ///
    /// https://BUCKET.s3.REGION.<partition DNS suffix>[/PREFIX], as `sync` derives it.
    #[arg(
        long,
        value_name = "s3://BUCKET[/PREFIX]",
        env = "KUBE_OIDC_PUBLISHER_STORE"
    )]
    pub store: Option<String>,

    /// AWS region: picks the store's issuer and the partition.
    ///
    /// Default: AWS_REGION or the profile's region; when STS is asked for the account, the
    /// whole AWS SDK chain (instance metadata included).
    #[arg(long, value_name = "REGION", env = "KUBE_OIDC_PUBLISHER_REGION")]
    pub region: Option<String>,

    /// The 12-digit account id that owns the OIDC provider (default: STS GetCallerIdentity).
    #[arg(long, value_name = "ID", env = "KUBE_OIDC_PUBLISHER_ACCOUNT_ID")]
    pub account_id: Option<String>,

    /// The AWS partition of the ARNs: aws, aws-cn, aws-us-gov, ... (default: the region's).
    #[arg(long, value_name = "PARTITION", env = "KUBE_OIDC_PUBLISHER_PARTITION")]
    pub partition: Option<String>,

    /// Result format on stdout.
    ///
    /// text: the policy document alone, pretty-printed, ready to pass to IAM. json: one object
    /// with trust_policy, provider_arn, issuer, subject, audience and warning (null or text).
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub output: OutputFormat,

    /// Seconds allowed for each AWS request (STS, region lookup).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,
}
