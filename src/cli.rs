//! Every flag, in one clap definition. Each option has a one-line help, a longer `--help`
//! text, and an environment-variable twin `KUBE_OIDC_PUBLISHER_<NAME>`. Turning these into a
//! validated `Config` happens in `config`, without I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::OutputFormat;
use crate::source::{ApiServerEndpoints, SourceKind};
use crate::telemetry::LogFormat;

const ABOUT: &str = "Publish a self-managed Kubernetes cluster's OIDC discovery documents so AWS IAM Roles for Service Accounts work without stored keys";

const LONG_ABOUT: &str = "\
Publish a self-managed Kubernetes cluster's OIDC discovery documents so that AWS STS can verify
its service-account tokens (IAM Roles for Service Accounts, IRSA) on clusters that are not EKS.

The store location is the issuer root: `sync` writes `openid/v1/jwks` and
`.well-known/openid-configuration` under it, exactly what STS fetches.

Exit codes: 0 done or nothing to do, 1 drift found by --check, 2 error.";

#[derive(Debug, Parser)]
#[command(name = "kube-oidc-publisher", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish the JWKS and discovery document and reconcile the IAM provider, once.
    #[command(long_about = SYNC_LONG_ABOUT)]
    Sync(Box<SyncArgs>),
    /// Keep publishing: sync every --interval, serve /healthz, /readyz and /metrics.
    #[command(long_about = RUN_LONG_ABOUT)]
    Run(Box<RunArgs>),
    /// Print the IAM OIDC thumbprint of an HTTPS host, computed from a verified chain.
    #[command(long_about = THUMBPRINT_LONG_ABOUT)]
    Thumbprint(ThumbprintArgs),
    /// Print the IAM role trust policy that lets one ServiceAccount assume a role.
    #[command(long_about = TRUST_POLICY_LONG_ABOUT)]
    TrustPolicy(TrustPolicyArgs),
    /// Signing-key rotation: publish a new key (stage), where each key stands (status), or
    /// remove one at once (revoke).
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// Set up AWS once: bucket, public-read policy, documents, OIDC provider, publisher role.
    #[command(long_about = BOOTSTRAP_LONG_ABOUT)]
    Bootstrap(Box<BootstrapArgs>),
    /// Check the whole IRSA chain the way STS walks it; name each STS error before it happens.
    #[command(long_about = DOCTOR_LONG_ABOUT)]
    Doctor(Box<DoctorArgs>),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    #[command(long_about = COMPLETIONS_LONG_ABOUT)]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(long_about = MAN_LONG_ABOUT)]
    Man(ManArgs),
}

const COMPLETIONS_LONG_ABOUT: &str = "\
Print the shell completion script for SHELL on stdout, generated from this binary's own
definitions of every command and option (so it always matches the installed version).

Examples:
  # bash: for the current shell, or for every new one
  source <(kube-oidc-publisher completions bash)
  kube-oidc-publisher completions bash > ~/.local/share/bash-completion/completions/kube-oidc-publisher

  # zsh: a directory on $fpath
  kube-oidc-publisher completions zsh > ~/.zfunc/_kube-oidc-publisher

  # fish
  kube-oidc-publisher completions fish > ~/.config/fish/completions/kube-oidc-publisher.fish

  # PowerShell: add to $PROFILE
  kube-oidc-publisher completions powershell | Out-String | Invoke-Expression";

/// `completions SHELL`.
#[derive(Clone, Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const MAN_LONG_ABOUT: &str = "\
Print the man page of kube-oidc-publisher (roff) on stdout, generated from this binary's own
definitions of every command and option. With --out-dir, write one page per command instead:
kube-oidc-publisher.1, kube-oidc-publisher-sync.1, kube-oidc-publisher-rotate-stage.1, ...

Examples:
  kube-oidc-publisher man | man -l -
  kube-oidc-publisher man --out-dir ~/.local/share/man/man1 && man kube-oidc-publisher-sync";

/// `man [--out-dir DIR]`.
#[derive(Clone, Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (section 1) into this directory instead of printing one.
    #[arg(long, value_name = "DIR", env = "KUBE_OIDC_PUBLISHER_OUT_DIR")]
    pub out_dir: Option<PathBuf>,
}

const SYNC_LONG_ABOUT: &str = "\
Publish the cluster's signing keys and the discovery document once.

Reads the keys from the API server (`--source cluster`, the default: every API server of an HA
control plane, see --api-server-endpoints) or from PEM key files (`--source files`), keeps keys
staged by `rotate stage`, validates every key, renders the JWKS and the discovery document for the
public issuer, and writes them to the store: the JWKS first, then the discovery document, then
the private retention state (keys that left the source stay published for
--retain-removed-keys). Unless --no-iam, it then creates or updates the IAM OIDC provider for
the issuer (client IDs, thumbprints, tags; only a provider it created or adopted). When nothing
changed, nothing is written. Writes are conditional on what was read, so concurrent publishers
never lose each other's update.

Examples:
  # offline: key files in, documents out to a directory served by any web server
  kube-oidc-publisher sync --source files --key-file sa.pub \\
      --issuer https://oidc.example.com/c1 --store ./public --no-iam

  # from the current kube context to S3 (issuer derived from the bucket)
  kube-oidc-publisher sync --store s3://my-oidc-bucket/c1 --region eu-west-1 --no-iam";

const RUN_LONG_ABOUT: &str = "\
Run sync again and again, as a long-running process (a Deployment), and serve its health and
metrics over HTTP.

Takes every option of `sync`. The first pass starts at once; the next one --interval later
(±10 % jitter, so replicas drift apart). After a failed pass the next one comes sooner and then
backs off: min(--interval, 5 s), doubling with each further failure up to max(--interval, 5 min);
a success returns to --interval. Each pass logs one line (--log-format text or json).

--listen serves GET /healthz (200 while the loop runs; 503 if a pass has run longer than
30 x --timeout), /readyz (503 until the first successful pass, then 200 for good) and /metrics
(OpenMetrics text: kube_oidc_publisher_sync_duration_seconds, ..._sync_errors_total{kind},
..._last_success_timestamp_seconds, ..._published_keys, ..._next_key_removal_timestamp_seconds;
see docs/operations.md). The address it listens on is logged at start.

On SIGTERM or SIGINT no new write starts; a write in progress is allowed to finish (at most 8 s),
then it exits 0. Every write is atomic and they happen in a safe order (JWKS, discovery document,
state), so stopping between two writes leaves the store consistent. Several replicas may run
against one store: writes are conditional. --dry-run and --check are for sync; run refuses them,
and reports through logs and metrics rather than --output json.

Exit codes: 0 stopped by a signal, 2 bad options or the listen address cannot be bound.

Examples:
  # in a Deployment: the in-cluster service account, S3 through IRSA, metrics on :8080
  kube-oidc-publisher run --store s3://my-oidc-bucket/c1 --region eu-west-1

  # locally, every 5 s, to a directory, metrics on loopback only
  kube-oidc-publisher --log-format json run --store ./public --no-iam \\
      --issuer https://oidc.example.com/c1 --interval 5s --listen 127.0.0.1:9090";

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Time between passes (e.g. 60s, 5m); each delay is jittered by ±10 %.
    ///
    /// A new key at the API server is published within one interval (plus the time a pass
    /// takes). At least 1s.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        env = "KUBE_OIDC_PUBLISHER_INTERVAL"
    )]
    pub interval: String,

    /// Address to serve /healthz, /readyz and /metrics on (port 0: any free port, logged).
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "0.0.0.0:8080",
        env = "KUBE_OIDC_PUBLISHER_LISTEN"
    )]
    pub listen: std::net::SocketAddr,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Clone, Debug, Args)]
pub struct SyncArgs {
    /// Where to publish: s3://BUCKET[/PREFIX], a directory, or file://DIR.
    ///
    /// The location is the issuer root: the documents go to <store>/openid/v1/jwks and
    /// <store>/.well-known/openid-configuration.
    #[arg(
        long,
        value_name = "s3://BUCKET[/PREFIX] | DIR",
        env = "KUBE_OIDC_PUBLISHER_STORE"
    )]
    pub store: String,

    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Every option of `sync` but `--store`; `bootstrap` and `run` take them too.
#[derive(Clone, Debug, Args)]
pub struct PublishArgs {
    /// The public issuer URL (https, no port, query, fragment or trailing slash).
    ///
    /// Required for a directory store. For S3 it defaults to the bucket's virtual-hosted URL,
    /// https://BUCKET.s3.REGION.<partition DNS suffix>[/PREFIX]. It must equal, byte for byte,
    /// the API server's first --service-account-issuer.
    #[arg(long, value_name = "URL", env = "KUBE_OIDC_PUBLISHER_ISSUER")]
    pub issuer: Option<String>,

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

    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster account).
    #[arg(long, value_name = "PATH", env = "KUBE_OIDC_PUBLISHER_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME", env = "KUBE_OIDC_PUBLISHER_CONTEXT")]
    pub context: Option<String>,

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
    /// reports how it differs and exits 2 if it does.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_ADOPT")]
    pub adopt: bool,

    /// Extra CA certificates (PEM) to verify the public host with; repeatable.
    ///
    /// For issuers behind a private CA. Added to the system roots.
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
    /// at it.
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TO_HOST:TO_PORT",
        env = "KUBE_OIDC_PUBLISHER_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<String>,

    /// AWS region (default: the AWS SDK's chain, e.g. AWS_REGION or the profile's region).
    ///
    /// Without --issuer the issuer is derived from it, so the bucket must be in this Region:
    /// checked with one HeadBucket per run, and a mismatch is refused.
    #[arg(long, value_name = "REGION", env = "KUBE_OIDC_PUBLISHER_REGION")]
    pub region: Option<String>,

    /// Address S3 with path-style requests (for S3-compatible stores such as MinIO).
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// max-age of the published Cache-Control header, in seconds.
    ///
    /// STS honours it: 0 or no-cache has led to throttling failures, and a long max-age delays
    /// the moment a new key is visible. Between 1 and 86400.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300,
        env = "KUBE_OIDC_PUBLISHER_CACHE_MAX_AGE"
    )]
    pub cache_max_age: u32,

    /// How long a key that left the source stays published (e.g. 26h, 90m, 2d).
    ///
    /// Tokens signed with a key remain valid until they expire, so the key must stay in the
    /// JWKS that long: the default 26h covers a 24 h IRSA token + 5 min of IAM clock skew + the
    /// published max-age + margin. Raise it if the cluster issues longer-lived tokens.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "26h",
        env = "KUBE_OIDC_PUBLISHER_RETAIN_REMOVED_KEYS"
    )]
    pub retain_removed_keys: String,

    /// Print the plan and write nothing; exit 0.
    #[arg(long, conflicts_with = "check", env = "KUBE_OIDC_PUBLISHER_DRY_RUN")]
    pub dry_run: bool,

    /// Write nothing; exit 1 if changes are pending, 0 if everything is current.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_CHECK")]
    pub check: bool,

    /// Publish even though the API server signs tokens with a different issuer.
    ///
    /// For issuer migrations only: until the API server's first --service-account-issuer is
    /// this issuer, STS rejects its tokens for this provider.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_ALLOW_ISSUER_MISMATCH")]
    pub allow_issuer_mismatch: bool,

    /// Replace the issuer the store already publishes with --issuer.
    ///
    /// Without it, a store whose discovery document names another issuer is refused (exit 2):
    /// every token whose iss is the published issuer stops verifying once it moves. Pass it
    /// only knowing that consequence; a guided issuer migration is planned.
    #[arg(long, env = "KUBE_OIDC_PUBLISHER_ALLOW_ISSUER_CHANGE")]
    pub allow_issuer_change: bool,

    /// Seconds allowed for each request to the API server and the store.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,

    /// Result format on stdout.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub output: OutputFormat,
}

const THUMBPRINT_LONG_ABOUT: &str = "\
Print the thumbprint IAM needs for an OIDC identity provider: the SHA-1 of the last certificate
the host serves (what `openssl s_client -showcerts` shows last), as 40 lowercase hex digits on
the first line, followed by a summary of the served chain.

The chain is verified first, against the system roots plus any --ca-file, for the host name in
the URL: a chain that does not verify is an error, never a thumbprint (a TLS-intercepting proxy
would otherwise hand you the proxy's thumbprint). Since 2023 IAM trusts public CAs by itself and
uses the thumbprint only for hosts whose certificate is not from a trusted CA; see
docs/thumbprint.md.

Examples:
  kube-oidc-publisher thumbprint https://oidc.example.com
  kube-oidc-publisher thumbprint https://oidc.internal:8443 --ca-file private-ca.pem --output json
  # a new host before DNS points at it; the certificate is still verified for oidc.example.com
  kube-oidc-publisher thumbprint https://oidc.example.com --connect-to oidc.example.com:443:10.0.0.7:443";

#[derive(Clone, Debug, Args)]
pub struct ThumbprintArgs {
    /// The https:// URL of the host that serves the JWKS (its path is ignored).
    ///
    /// The port is 443 unless the URL names another one. The thumbprint belongs to the host:
    /// if the discovery document and the JWKS are served by different hosts, IAM needs both.
    #[arg(value_name = "URL")]
    pub url: String,

    /// A PEM file of CA certificates to trust besides the system roots; repeatable.
    ///
    /// For hosts whose certificate comes from a private CA. A file may hold several
    /// certificates. In the environment variable, separate several paths with commas.
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
    /// at it.
    #[arg(
        long = "connect-to",
        value_name = "HOST:PORT:TO_HOST:TO_PORT",
        env = "KUBE_OIDC_PUBLISHER_CONNECT_TO",
        value_delimiter = ','
    )]
    pub connect_to: Vec<String>,

    /// Result format on stdout.
    ///
    /// text: the thumbprint alone on the first line, then a summary of the chain. json: one
    /// object with thumbprint, host, port and, for every served certificate, subject, issuer,
    /// not_after (RFC 3339), self_signed and sha1.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "KUBE_OIDC_PUBLISHER_OUTPUT"
    )]
    pub output: OutputFormat,

    /// Seconds allowed to resolve, connect and complete the TLS handshake.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,
}

const TRUST_POLICY_LONG_ABOUT: &str = "\
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

const BOOTSTRAP_LONG_ABOUT: &str = "\
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
  4. add one bucket-policy statement: anonymous s3:GetObject on exactly the two documents
     (every other statement is kept; no ACL is ever set); a statement that has its Sid but
     is not its shape (the owner's Deny, for example) is refused, never replaced;
  5. publish the documents and create or update the IAM OIDC provider, as sync does (a
     different issuer on the API server is expected here: its keys are published for the new
     issuer);
  6. with --publisher-role: create or update the IAM role the in-cluster publisher assumes,
     trusted by its ServiceAccount only, with a least-privilege inline policy.

The store is s3://BUCKET[/PREFIX]; every sync option applies (key source, --audience,
--thumbprint, --ca-file, --adopt, --dry-run, --output json, ...). The permissions needed are in
templates/operator-policy.json. Exit codes: 0 done (or nothing to do, or --dry-run), 1 changes
pending with --check, 2 error.

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

    #[command(flatten)]
    pub publish: PublishArgs,
}

const DOCTOR_LONG_ABOUT: &str = "\
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

const STAGE_LONG_ABOUT: &str = "\
Publish a new public key beside the current ones, before any API server signs with it (step 2
of docs/rotation.md), then check that STS can see it.

The --key-file keys are published with the API server's keys and recorded in the store's state
as staged: every later sync keeps them published although the API server does not serve them
yet. A staged key becomes an ordinary key once the API server serves it; to abandon a stage,
`rotate revoke --kid KID` removes it. Then the public JWKS URL is fetched anonymously over
verified HTTPS, as STS fetches it (--ca-file and --connect-to apply), until every staged kid is
in it or --wait has passed; the first time it is seen is recorded in the state.

Idempotent: staging a key already staged writes nothing and only checks again. Exit codes: 0
published and publicly visible, 1 changes pending with --check, 2 error, including `published
but not visible within --wait` (the key stays published; run the command again later).

Example:
  kube-oidc-publisher rotate stage --key-file sa-new.pub --store s3://acme-oidc/prod-1 \\
      --region eu-west-1 --no-iam";

#[derive(Clone, Debug, Args)]
pub struct StageArgs {
    /// How long to keep checking that the public JWKS shows the new key (e.g. 2m, 30s).
    ///
    /// S3 is strongly consistent, but a CDN or cache in front of it serves the old JWKS until
    /// its max-age has passed.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "2m",
        env = "KUBE_OIDC_PUBLISHER_WAIT"
    )]
    pub wait: String,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    /// The ServiceAccount to mint a short-lived token for, to learn the signing key: NS/NAME.
    ///
    /// A bare NAME takes the namespace of the pod this runs in. The token (audience
    /// kube-oidc-publisher-rotate-status, 10 minutes) is never printed; only its header's kid
    /// is read, and its signature checked with the API server's key. Needs `create` on
    /// serviceaccounts/token. Without it, or when refused, the signing key is shown as unknown.
    #[arg(
        long,
        value_name = "[NAMESPACE/]NAME",
        env = "KUBE_OIDC_PUBLISHER_TOKEN_REQUEST"
    )]
    pub token_request: Option<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

/// `rotate` subcommands.
#[derive(Debug, Subcommand)]
pub enum RotateCommand {
    /// Publish a new public key beside the current ones and check that STS can see it.
    #[command(long_about = STAGE_LONG_ABOUT)]
    Stage(Box<StageArgs>),
    /// Per key: at the API server, signing, published since, removable at; the next step.
    ///
    /// Reads the API server's keys (or --key-file), the store's retention state and, with
    /// --token-request, the kid of a freshly minted token; writes nothing. Takes the same
    /// options as sync.
    Status(Box<StatusArgs>),
    /// Remove a key from the published JWKS at once, without waiting for its retention.
    ///
    /// For a compromised key only: pods whose tokens it signed fail STS ("Couldn't retrieve
    /// verification key") until kubelet refreshes their tokens. The key must already be gone
    /// from every kube-apiserver's --service-account-key-file, or the next sync publishes it
    /// again. Takes the same options as sync (--dry-run shows the plan first).
    Revoke(Box<RevokeArgs>),
}

#[derive(Clone, Debug, Args)]
pub struct RevokeArgs {
    /// The kid to remove (repeatable); see `rotate status`.
    ///
    /// In the environment variable, separate several kids with commas.
    #[arg(
        long = "kid",
        value_name = "KID",
        required = true,
        env = "KUBE_OIDC_PUBLISHER_KID",
        value_delimiter = ','
    )]
    pub kids: Vec<String>,

    #[command(flatten)]
    pub sync: SyncArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// docs/cli.md promises every option an environment twin named after it: walk every
    /// command of the clap tree and hold each option to that rule.
    #[test]
    fn every_option_has_the_environment_twin_named_after_it() {
        fn walk(command: &clap::Command, path: &str, wrong: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if arg.is_positional() || long == "help" || long == "version" {
                    continue;
                }
                let expected = format!(
                    "KUBE_OIDC_PUBLISHER_{}",
                    long.to_uppercase().replace('-', "_")
                );
                let actual = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                if actual.as_deref() != Some(expected.as_str()) {
                    wrong.push(format!("{path} --{long}: {actual:?}, expected {expected}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), wrong);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut wrong = Vec::new();
        walk(&command, "kube-oidc-publisher", &mut wrong);
        assert!(
            wrong.is_empty(),
            "options without their twin:\n{}",
            wrong.join("\n")
        );
    }
}
