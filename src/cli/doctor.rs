//! `doctor`: the options of the read-only check of the whole IRSA chain.

use std::path::PathBuf;

use clap::Args;

use crate::output::OutputFormat;

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
     bucket policy granting anonymous s3:GetObject on both documents
  7. with --role-arn: the trust policy's Federated principal, action, condition keys, sub and
     aud; with --service-account: its eks.amazonaws.com/role-arn annotation

Checks that need what is not given (no cluster, no AWS credentials, no token) are reported as
skipped, with what to pass. Exit codes: 0 nothing found that makes STS reject tokens, 1 STS
would reject them, 2 doctor could not run (bad flags, or a check it was asked for could not
read what it needs). See docs/troubleshooting.md.

Examples:
  kube-oidc-publisher doctor --issuer https://acme-oidc.s3.eu-west-1.amazonaws.com/prod-1
  kube-oidc-publisher doctor --store s3://acme-oidc/prod-1 --region eu-west-1 \\
      --service-account shop/api --role-arn arn:aws:iam::123456789012:role/shop-api
  kube-oidc-publisher doctor --issuer https://oidc.internal.example/c1 --ca-file private-ca.pem \\
      --token pod-token.jwt --output json";

#[derive(Clone, Debug, Args)]
#[command(group(
    clap::ArgGroup::new("doctor_issuer")
        .required(true)
        .multiple(true)
        .args(["issuer", "store"])
))]
pub struct DoctorArgs {
    /// The issuer URL, exactly as the API server's first --service-account-issuer.
    ///
    /// Taken as given, byte for byte: a malformed issuer (a trailing slash, a port) is the
    /// first finding, not a usage error. Takes precedence over --store.
    #[arg(long, value_name = "URL", env = "KUBE_OIDC_PUBLISHER_ISSUER")]
    pub issuer: Option<String>,

    /// The store the documents are published to: s3://BUCKET[/PREFIX] or a directory.
    ///
    /// For S3, its default issuer (https://BUCKET.s3.REGION.<dns suffix>[/PREFIX]) is used
    /// unless --issuer is given, and the bucket's public access is checked (step 6).
    #[arg(
        long,
        value_name = "s3://BUCKET[/PREFIX] | DIR",
        env = "KUBE_OIDC_PUBLISHER_STORE"
    )]
    pub store: Option<String>,

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

    /// The audience the pods' tokens carry (the IAM provider must list it as a client ID).
    #[arg(
        long,
        value_name = "AUDIENCE",
        default_value = "sts.amazonaws.com",
        env = "KUBE_OIDC_PUBLISHER_AUDIENCE"
    )]
    pub audience: String,

    /// An IAM role the pods assume; its trust policy is checked (step 7).
    #[arg(long, value_name = "ARN", env = "KUBE_OIDC_PUBLISHER_ROLE_ARN")]
    pub role_arn: Option<String>,

    /// Extra CA certificates (PEM) for the public host; repeatable.
    ///
    /// For issuers behind a private CA. A chain that verifies only with these is one IAM
    /// checks by thumbprint, so the provider's thumbprint is checked then.
    #[arg(
        long = "ca-file",
        value_name = "PATH",
        env = "KUBE_OIDC_PUBLISHER_CA_FILE",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,

    /// Connect to TO_HOST:TO_PORT when fetching from HOST:PORT (like curl's --connect-to).
    ///
    /// The certificate is still verified for HOST. For checking an endpoint before DNS points
    /// at it.
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TO_HOST:TO_PORT",
        env = "KUBE_OIDC_PUBLISHER_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<String>,

    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster account).
    #[arg(long, value_name = "PATH", env = "KUBE_OIDC_PUBLISHER_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_CONTEXT")]
    pub context: Option<String>,

    /// AWS region (default: the AWS SDK's chain): the bucket's region for an S3 store.
    #[arg(long, value_name = "REGION", env = "KUBE_OIDC_PUBLISHER_REGION")]
    pub region: Option<String>,

    /// Address S3 with path-style requests (for S3-compatible stores such as MinIO).
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// Result format on stdout.
    ///
    /// text: findings grouped by step, each error with the STS error and the fix. json: one
    /// object with status (pass, fail, incomplete), exit_code, issuer, summary and findings
    /// (check, step, severity, sts_error, message, fix, could_not_run).
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub output: OutputFormat,

    /// Seconds allowed for each request to the API server and AWS.
    ///
    /// The anonymous GETs of the documents always get STS's own budget of 5 seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,
}
