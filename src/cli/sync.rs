//! `sync` and `run`, and `PublishArgs`: the options of `sync` that every publishing command
//! (`run`, `rotate`, `bootstrap`) takes too.

use clap::Args;

use super::{
    AwsLocation, CloudFrontDistribution, IamProvider, KeySource, Output, PublicIssuer, PublicTls,
    S3Addressing, Store,
};

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
  kube-oidc-publisher sync --store s3://my-oidc-bucket/c1 --region eu-west-1 --no-iam

Many clusters (--fleet FILE, --fleet-from cluster-api): each cluster is published exactly as
above, with its own options from the fleet file (docs/cli.md, \"Fleet file\"), at most
--concurrency at a time; one cluster's failure never stops another's. One line per cluster as
it finishes, then a summary (--output json: one JSON object per line, with `cluster`); the exit
code is the worst cluster's.

  # every cluster of a file, plus every Cluster API cluster of namespace capi
  kube-oidc-publisher sync --fleet fleet.yaml --fleet-from cluster-api=capi \\
      --store-template 's3://acme-oidc/{namespace}/{cluster}'";

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

With --fleet or --fleet-from, one such loop per cluster (each with its own schedule and backoff,
at most --concurrency passes at a time), logs carrying the cluster's name, every metric but the
duration histogram labelled `cluster`, and /readyz ready once every cluster has succeeded once.
With --fleet-from, the clusters are listed again every --interval.

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
#[command(mut_args(store_required))]
pub struct SyncArgs {
    // Required here (`store_required`), unless a fleet names the stores: a publishing command
    // needs somewhere to write.
    #[command(flatten)]
    pub store: Store,

    #[command(flatten)]
    pub publish: PublishArgs,

    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// `--store` is optional in its group (`doctor` and `trust-policy` take it or `--issuer`); the
/// publishing commands require it, unless `--fleet` or `--fleet-from` gives each cluster its
/// own. Changed in place (`mut_args`, not `mut_arg`, which moves the option to the end), so
/// completions keep the options in their order.
fn store_required(arg: clap::Arg) -> clap::Arg {
    if arg.get_id() == "store" {
        arg.required_unless_present_any(["fleet", "fleet_from"])
    } else {
        arg
    }
}

impl SyncArgs {
    /// `--store`, which clap requires of a publishing command without a fleet.
    pub fn store(&self) -> &str {
        self.store
            .location
            .as_deref()
            .expect("clap requires --store unless --fleet or --fleet-from is given")
    }
}

/// `sync` and `run` for many clusters at once (docs/cli.md, "Fleet file").
#[derive(Clone, Debug, Args)]
pub struct FleetArgs {
    /// Publish for every cluster of this fleet file (YAML) instead of one cluster.
    ///
    /// `defaults:` holds any option of this command by its long name; `clusters:` lists each
    /// cluster with its `name`, `store`, `kubeconfig` or `kubeconfig-secret` and any option
    /// that differs. Options given here apply to every cluster and override the file; the ones
    /// that name one cluster (--store, --issuer, --kubeconfig, --context, --cluster-name) belong
    /// in the file.
    #[arg(long, value_name = "FILE", env = "KUBE_OIDC_PUBLISHER_FLEET")]
    pub fleet: Option<std::path::PathBuf>,

    /// Also publish every Cluster API cluster found through its `<cluster>-kubeconfig` Secret
    /// in NAMESPACE (every namespace without one) of the cluster this runs in.
    ///
    /// Needs --store-template. A cluster is added on the pass after its Secret appears and is
    /// no longer published once it is gone (its documents stay: remove them with `bootstrap
    /// --delete`).
    #[arg(
        long,
        value_name = "cluster-api[=NAMESPACE]",
        requires = "store_template",
        env = "KUBE_OIDC_PUBLISHER_FLEET_FROM"
    )]
    pub fleet_from: Option<String>,

    /// Each discovered cluster's store, from its `{namespace}` and `{cluster}` (e.g.
    /// s3://acme-oidc/{namespace}/{cluster}).
    #[arg(
        long,
        value_name = "TEMPLATE",
        requires = "fleet_from",
        env = "KUBE_OIDC_PUBLISHER_STORE_TEMPLATE"
    )]
    pub store_template: Option<String>,

    /// Each discovered cluster's issuer, from its `{namespace}` and `{cluster}` (default: as
    /// for --store, the bucket's URL).
    #[arg(
        long,
        value_name = "TEMPLATE",
        requires = "fleet_from",
        env = "KUBE_OIDC_PUBLISHER_ISSUER_TEMPLATE"
    )]
    pub issuer_template: Option<String>,

    /// Clusters published at the same time (1 to 256).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..=256),
        env = "KUBE_OIDC_PUBLISHER_CONCURRENCY"
    )]
    pub concurrency: u16,
}

impl FleetArgs {
    /// Whether a fleet, rather than one cluster, is published.
    pub fn is_fleet(&self) -> bool {
        self.fleet.is_some() || self.fleet_from.is_some()
    }
}

/// Every option of `sync` but `--store`; `bootstrap` and `run` take them too.
#[derive(Clone, Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub issuer: PublicIssuer,

    #[command(flatten)]
    pub keys: KeySource,

    #[command(flatten)]
    pub iam: IamProvider,

    #[command(flatten)]
    pub tls: PublicTls,

    #[command(flatten)]
    pub aws: AwsLocation,

    #[command(flatten)]
    pub s3: S3Addressing,

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

    #[command(flatten)]
    pub cloudfront: CloudFrontDistribution,

    /// Seconds allowed for each request to the API server and the store.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        env = "KUBE_OIDC_PUBLISHER_TIMEOUT"
    )]
    pub timeout: u64,

    #[command(flatten)]
    pub output: Output,
}
