//! `trust-policy`: the options of the command that prints a role's trust policy.

use clap::{Arg, ArgAction, Args, Command};

use super::{AwsLocation, Output, PublicIssuer, RequestTimeout, Store, TokenAudience};

pub(super) const TRUST_POLICY_LONG_ABOUT: &str = "\
Print the trust policy of an IAM role that pods running as one Kubernetes ServiceAccount may
assume with their projected service-account token (sts:AssumeRoleWithWebIdentity).

The policy trusts the IAM OIDC provider of the issuer (arn:<partition>:iam::<account>:
oidc-provider/<host/path>) and requires the token's `sub` to be
system:serviceaccount:<namespace>:<name> and its `aud` to be the audience. A `*` or `?` in the
namespace or in the name (not both) matches with StringLike instead, with a warning on stderr.

Several clusters: give --issuer and --store as often as needed (mixed), one per cluster the
workload runs in. The policy then has one statement per provider, each with its own `sub` and
`aud` conditions (never one condition across issuers): every --issuer, then every --store's
issuer, in order; a provider named twice gets one statement. All share --region, --partition
and the account. A directory --store next to an --issuer adds nothing.

IAM limits a role's trust policy to 2048 characters (whitespace not counted), 4096 with a raised
\"Role trust policy length\" quota (Service Quotas, code L-C07B4B0D). Past 2048 the policy is
printed with a warning on stderr giving its length; past 4096 it is refused (exit 2, no policy
printed): split the clusters over several roles.

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
      --store s3://my-oidc-bucket/c1 --region eu-west-1

  # one role for a workload running in three clusters
  kube-oidc-publisher trust-policy --namespace payments --service-account api \\
      --store s3://my-oidc-bucket/c1 --store s3://my-oidc-bucket/c2 \\
      --issuer https://oidc.example.com/c3 --region eu-west-1";

#[derive(Clone, Debug, Args)]
#[command(group(super::issuer_or_store()), mut_args(repeatable_issuer_and_store))]
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

    // `--issuer` and `--store`, repeatable here alone: each names one cluster's provider. Their
    // definitions (help, value name, environment twin) are the shared ones of `PublicIssuer`
    // and `Store`, put in place by `repeatable_issuer_and_store`; these plain comments are not
    // help text.
    #[arg(id = "issuer", long = "issuer")]
    pub issuers: Vec<String>,

    #[arg(id = "store", long = "store")]
    pub stores: Vec<String>,

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

/// `--issuer` and `--store` exactly as every other command defines them (`PublicIssuer`,
/// `Store`: one definition of their help and environment twin), made repeatable for
/// trust-policy alone. The environment twin stays one value (no comma splitting): the variable
/// is shared with the commands that take one issuer, and a URL or a path may hold a comma.
/// Replaced in place (`mut_args`), keeping the field's place in `--help` and completions.
fn repeatable_issuer_and_store(arg: Arg) -> Arg {
    let shared = match arg.get_id().as_str() {
        "issuer" => shared_definition::<PublicIssuer>("issuer"),
        "store" => shared_definition::<Store>("store"),
        _ => return arg,
    };
    shared
        .action(ArgAction::Append)
        .display_order(arg.get_display_order())
}

fn shared_definition<Group: Args>(id: &str) -> Arg {
    Group::augment_args(Command::new("shared"))
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .cloned()
        .expect("the option group defines the option")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct TrustPolicy {
        #[command(flatten)]
        args: TrustPolicyArgs,
    }

    fn parse(args: &[&str]) -> TrustPolicyArgs {
        let base = [
            "trust-policy",
            "--namespace",
            "ns",
            "--service-account",
            "sa",
        ];
        TrustPolicy::try_parse_from(base.iter().chain(args))
            .unwrap()
            .args
    }

    #[test]
    fn issuer_and_store_repeat_and_mix() {
        let args = parse(&[
            "--issuer",
            "https://a.example.test",
            "--store",
            "s3://b/c1",
            "--issuer",
            "https://c.example.test/x",
            "--store",
            "s3://b/c2",
        ]);
        assert_eq!(
            args.issuers,
            ["https://a.example.test", "https://c.example.test/x"]
        );
        assert_eq!(args.stores, ["s3://b/c1", "s3://b/c2"]);
        // A comma is part of the value, not a separator.
        assert_eq!(parse(&["--store", "./a,b"]).stores, ["./a,b"]);
    }

    #[test]
    fn issuer_and_store_keep_the_shared_definition() {
        let mut command = <TrustPolicy as clap::CommandFactory>::command();
        command.build();
        for (id, group) in [
            ("issuer", shared_definition::<PublicIssuer>("issuer")),
            ("store", shared_definition::<Store>("store")),
        ] {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap();
            assert_eq!(arg.get_long(), group.get_long(), "{id}");
            assert_eq!(arg.get_env(), group.get_env(), "{id}");
            assert_eq!(
                arg.get_help().map(ToString::to_string),
                group.get_help().map(ToString::to_string),
                "{id}"
            );
            assert_eq!(
                arg.get_long_help().map(ToString::to_string),
                group.get_long_help().map(ToString::to_string),
                "{id}"
            );
            assert!(matches!(arg.get_action(), ArgAction::Append), "{id}");
        }
        // In `--help`, where the fields are: after --audience, before --region.
        let order = |id: &str| {
            command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap()
                .get_display_order()
        };
        assert!(order("audience") < order("issuer"));
        assert!(order("issuer") < order("store"));
        assert!(order("store") < order("region"));
    }
}
