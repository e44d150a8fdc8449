//! `sync` and `run`, and `PublishArgs`: the options of `sync` that every publishing command
//! (`run`, `rotate`, `bootstrap`) takes too.

use std::path::PathBuf;

use clap::Args;

use crate::output::OutputFormat;
use crate::source::{ApiServerEndpoints, SourceKind};

pub(super) const SYNC_LONG_ABOUT: &str = "\
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

pub(super) const RUN_LONG_ABOUT: &str = "\
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
