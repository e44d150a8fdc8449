//! The option groups, one per concern, each option defined once (its type, default, help and
//! environment twin) and flattened (`#[command(flatten)]`) into every command that takes it.
//! Where commands use an option differently, its help says how each one does.

use std::path::PathBuf;

use clap::Args;

use crate::output::OutputFormat;
use crate::source::{ApiServerEndpoints, SourceKind};

/// *Public issuer*: `--issuer`, for every command that names the issuer.
#[derive(Clone, Debug, Args)]
pub struct PublicIssuer {
    /// The public issuer URL (https, no port, query, fragment or trailing slash).
    ///
    /// Required for a directory store. For S3 it defaults to the bucket's virtual-hosted URL,
    /// https://BUCKET.s3.REGION.<partition DNS suffix>[/PREFIX]; when given, it takes
    /// precedence over --store. It must equal, byte for byte, the API server's first
    /// --service-account-issuer. doctor takes it as given: a malformed issuer (a trailing
    /// slash, a port) is its first finding, not a usage error. trust-policy takes it more than
    /// once, and there each --issuer and each S3 --store names one cluster to trust.
    #[arg(
        id = "issuer",
        long = "issuer",
        value_name = "URL",
        env = "KUBE_OIDC_PUBLISHER_ISSUER"
    )]
    pub url: Option<String>,
}

/// *Public issuer*: `--store`, where the documents are published. The publishing commands
/// require it (`SyncArgs`); `doctor` and `trust-policy` take it or `--issuer`
/// ([`issuer_or_store`]).
#[derive(Clone, Debug, Args)]
pub struct Store {
    /// Where the documents are published: s3://BUCKET[/PREFIX], a directory, or file://DIR.
    ///
    /// The location is the issuer root: the documents go to <store>/openid/v1/jwks and
    /// <store>/.well-known/openid-configuration. Without --issuer, an S3 store's default issuer
    /// is used: https://BUCKET.s3.REGION.<partition DNS suffix>[/PREFIX]. sync, run and rotate
    /// write there; doctor also checks an S3 bucket's public access (step 6); trust-policy
    /// takes only an S3 store's default issuer, one cluster per --store (repeatable there; a
    /// directory next to --issuer adds nothing).
    #[arg(
        id = "store",
        long = "store",
        value_name = "s3://BUCKET[/PREFIX] | DIR",
        env = "KUBE_OIDC_PUBLISHER_STORE"
    )]
    pub location: Option<String>,
}

/// `doctor` and `trust-policy` need an issuer: `--issuer`, or the default issuer of an S3
/// `--store` (both may be given; `--issuer` wins).
pub fn issuer_or_store() -> clap::ArgGroup {
    clap::ArgGroup::new("issuer_or_store")
        .required(true)
        .multiple(true)
        .args(["issuer", "store"])
}

/// *Public issuer*: the one audience the pods' tokens carry (`doctor`, `trust-policy`). The
/// publishing commands' repeatable `--audience` is the IAM provider's list of client IDs
/// instead ([`IamProvider`]).
#[derive(Clone, Debug, Args)]
pub struct TokenAudience {
    /// The audience the pods' tokens carry (the projected token's `audience`).
    ///
    /// doctor checks that the IAM provider lists it as a client ID; trust-policy makes the role
    /// require it.
    #[arg(
        id = "audience",
        long = "audience",
        value_name = "AUDIENCE",
        default_value = crate::model::policy::DEFAULT_AUDIENCE,
        env = "KUBE_OIDC_PUBLISHER_AUDIENCE"
    )]
    pub value: String,
}

/// *Kube access*: which cluster to talk to, as kubectl finds it.
#[derive(Clone, Debug, Args)]
pub struct KubeAccess {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster account).
    #[arg(long, value_name = "PATH", env = "KUBE_OIDC_PUBLISHER_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_CONTEXT")]
    pub context: Option<String>,
}

/// *Kube access*: where the publishing commands read the signing keys.
#[derive(Clone, Debug, Args)]
pub struct KeySource {
    /// Where the keys come from.
    #[arg(
        long,
        value_enum,
        default_value = "cluster",
        env = "KUBE_OIDC_PUBLISHER_SOURCE"
    )]
    pub source: SourceKind,

    /// A PEM file of public (or private: only the public half is used) keys; repeatable.
    ///
    /// Accepts what kube-apiserver's --service-account-key-file accepts: PUBLIC KEY, RSA or EC
    /// private keys (PKCS#1, SEC1, PKCS#8) and certificates, several blocks per file. With
    /// --source cluster these keys are published beside the API server's, which is how a new
    /// key is published before the API server signs with it. In the environment variable,
    /// separate several paths with commas.
    #[arg(
        long = "key-file",
        value_name = "PATH",
        env = "KUBE_OIDC_PUBLISHER_KEY_FILE",
        value_delimiter = ','
    )]
    pub key_files: Vec<PathBuf>,

    #[command(flatten)]
    pub kube: KubeAccess,

    /// Read the keys from every API server (all) or through the server address only (service).
    ///
    /// In an HA control plane the API servers can serve different key sets mid-rotation, and
    /// a request to the server address reaches only one of them. With `all` (the default),
    /// the ready endpoints of the `kubernetes` Service are listed from its EndpointSlices
    /// (needs `list` on endpointslices.discovery.k8s.io in namespace default), each is read
    /// with the server address's TLS name, and the union of their keys is published (they
    /// must agree on the issuer and on every kid's key). With one endpoint, or when listing
    /// fails, the server address is read instead; an endpoint that cannot be read is skipped
    /// with a warning, and no key is retired during that run. See docs/rotation.md.
    #[arg(
        long,
        value_enum,
        value_name = "all|service",
        default_value = "all",
        env = "KUBE_OIDC_PUBLISHER_API_SERVER_ENDPOINTS"
    )]
    pub api_server_endpoints: ApiServerEndpoints,
}

/// *IAM provider*: how the publishing commands keep the IAM OIDC identity provider.
#[derive(Clone, Debug, Args)]
pub struct IamProvider {
    /// Do not manage the IAM OIDC identity provider; publish only the documents.
    ///
    /// Without it, sync also creates the provider for the issuer and keeps its client IDs,
    /// thumbprints and tags in sync (it changes only providers it created or adopted).
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_NO_IAM")]
    pub no_iam: bool,

    /// Client ID (token audience) the IAM provider accepts; repeatable.
    ///
    /// The provider's client IDs are set to exactly these. Pods' tokens must carry one of them
    /// as `aud`. In the environment variable, separate several with commas.
    #[arg(
        long = "audience",
        value_name = "AUDIENCE",
        default_value = "sts.amazonaws.com",
        env = "KUBE_OIDC_PUBLISHER_AUDIENCE",
        value_delimiter = ','
    )]
    pub audiences: Vec<String>,

    /// Value of the provider's kube-oidc-publisher/cluster tag.
    ///
    /// Without it, the tag the provider already has is kept; a new provider (or one that has no
    /// such tag) is tagged with the issuer's host/path.
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_CLUSTER_NAME")]
    pub cluster_name: Option<String>,

    /// The provider's thumbprints: auto, none, or a 40-hex SHA-1 (repeatable, at most 5).
    ///
    /// auto (the default) computes the SHA-1 of the last certificate the public host serves,
    /// from a chain verified against the system roots and --ca-file. none lets IAM fetch its
    /// own (IAM verifies publicly trusted hosts against its CA library anyway). HEX pins values.
    #[arg(
        long = "thumbprint",
        value_name = "auto|none|HEX",
        default_value = "auto",
        env = "KUBE_OIDC_PUBLISHER_THUMBPRINT",
        value_delimiter = ','
    )]
    pub thumbprints: Vec<String>,

    /// Take over an IAM provider for this issuer that lacks kube-oidc-publisher's tags.
    ///
    /// Without it, such a provider (perhaps Terraform's or eksctl's) is never changed: sync
    /// reports how it differs and exits 2 if it does. With `bootstrap --hosting cloudfront` it
    /// also takes over the bucket's CloudFront distribution that lacks our tag, and tags it, so
    /// later runs find it without --adopt.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_ADOPT")]
    pub adopt: bool,
}

/// *Public issuer*: how to reach and verify the public host that serves the documents.
#[derive(Clone, Debug, Args)]
pub struct PublicTls {
    /// Extra CA certificates (PEM) to verify the public host with; repeatable.
    ///
    /// For hosts whose certificate comes from a private CA; added to the system roots. A file
    /// may hold several certificates. A chain that verifies only with these is one IAM checks
    /// by thumbprint, so doctor then checks the provider's thumbprint. In the environment
    /// variable, separate several paths with commas.
    #[arg(
        long = "ca-file",
        value_name = "PATH",
        env = "KUBE_OIDC_PUBLISHER_CA_FILE",
        value_delimiter = ','
    )]
    pub ca_files: Vec<PathBuf>,

    /// Connect to TO_HOST:TO_PORT when opening TLS to HOST:PORT (like curl's --connect-to).
    ///
    /// The certificate is still verified for HOST. For checking an endpoint before DNS points
    /// at it. As in curl, an empty HOST or PORT means any (`::127.0.0.1:8443`).
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TO_HOST:TO_PORT",
        env = "KUBE_OIDC_PUBLISHER_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<String>,
}

/// *AWS location*: the Region, for every command that talks to AWS or derives an S3 issuer.
#[derive(Clone, Debug, Args)]
pub struct AwsLocation {
    /// AWS region (default: the AWS SDK's chain, e.g. AWS_REGION or the profile's region).
    ///
    /// The bucket's Region for an S3 store: without --issuer the issuer is derived from it
    /// (trust-policy takes the partition from it too). The publishing commands check that the
    /// bucket is in this Region, with one HeadBucket per run, and refuse a mismatch.
    /// trust-policy with --account-id reads only AWS_REGION or the profile's region; asking
    /// STS for the account uses the whole AWS SDK chain (instance metadata included).
    #[arg(long, value_name = "REGION", env = "KUBE_OIDC_PUBLISHER_REGION")]
    pub region: Option<String>,
}

/// *AWS location*: how to address an S3 store (`trust-policy` never reads it).
#[derive(Clone, Debug, Args)]
pub struct S3Addressing {
    /// Address S3 with path-style requests (for S3-compatible stores such as MinIO).
    #[arg(
        id = "s3_path_style",
        long = "s3-path-style",
        env = "KUBE_OIDC_PUBLISHER_S3_PATH_STYLE"
    )]
    pub path_style: bool,
}

/// *Output*: `--output`, for every command that prints a result on stdout.
#[derive(Clone, Debug, Args)]
pub struct Output {
    /// Result format on stdout.
    ///
    /// text for people, json (one object) for scripts. doctor: text groups the findings by
    /// step, each error with the STS error and the fix; json has status (pass, fail,
    /// incomplete), exit_code, issuer, summary and findings (check, step, severity, sts_error,
    /// message, fix, could_not_run). thumbprint: text is the thumbprint alone on the first
    /// line, then a summary of the chain; json has thumbprint, host, port and, for every served
    /// certificate, subject, issuer, not_after (RFC 3339), self_signed and sha1. trust-policy:
    /// text is the policy document alone, pretty-printed, ready to pass to IAM; json has
    /// trust_policy, provider_arn, issuer, subject, audience and warning (null or text), and
    /// with several issuers null provider_arn and issuer and a providers list (issuer,
    /// provider_arn).
    #[arg(
        id = "output",
        long = "output",
        value_name = "OUTPUT",
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub format: OutputFormat,
}

/// The per-request budget of the commands that only read (`doctor`, `thumbprint`,
/// `trust-policy`). The publishing commands' `--timeout` stays their own: it accepts any
/// number and `config` refuses 0 with its own message.
#[derive(Clone, Debug, Args)]
pub struct RequestTimeout {
    /// Seconds allowed for each request (1 to 3600).
    ///
    /// doctor: each request to the API server and AWS; the anonymous GETs of the documents
    /// always get STS's own budget of 5 seconds. thumbprint: to resolve, connect and complete
    /// the TLS handshake. trust-policy: each AWS request (STS, region lookup).
    #[arg(
        id = "timeout",
        long = "timeout",
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub seconds: u64,
}

/// *Public issuer*: `--cloudfront-distribution`, the distribution that serves the issuer from a
/// private bucket (`bootstrap --hosting cloudfront` creates it and prints its ID).
#[derive(Clone, Debug, Args)]
pub struct CloudFrontDistribution {
    /// The CloudFront distribution serving the issuer (an ID such as E2ABCDEF123456).
    ///
    /// sync, run and rotate (S3 stores only): checked once per run to serve the issuer's host
    /// from the store's bucket and prefix (exit 2 otherwise), and after any document is
    /// written, one invalidation of exactly the changed documents' paths. doctor: its
    /// configuration, origin access control, the origin bucket's policy and copy of the
    /// documents, the custom domain's certificate and DNS are checked (step 6, the
    /// cloudfront.* checks); without it, doctor finds a *.cloudfront.net issuer host by its
    /// domain and any other host among the account's distributions' aliases.
    #[arg(
        id = "cloudfront_distribution",
        long = "cloudfront-distribution",
        value_name = "ID",
        env = "KUBE_OIDC_PUBLISHER_CLOUDFRONT_DISTRIBUTION"
    )]
    pub id: Option<String>,
}
