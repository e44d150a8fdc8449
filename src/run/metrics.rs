//! The daemon's metrics, registered on a registry this module builds (so each test builds its
//! own): for one cluster (`run`, no `cluster` label) or for a fleet (`run --fleet`, every
//! per-cluster series labelled `cluster`, each cluster's series added and removed with it); and
//! the fixed set of error kinds a failed pass is counted under. The kind comes from an
//! explicit `match` on the error's type and variant, never from its text, so the label values
//! cannot grow. docs/operations.md documents every metric and the alerts built on them.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeMetric;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::TypedMetric;
use prometheus_client::registry::{Metric, Registry};
use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::reconcile::{SyncError, SyncReport};
use crate::{iam, source, store};

/// Why a pass failed, as a metric label: a fixed set, every value present from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The API server or the key files could not be read, or refused (401, 403, 5xx, timeout).
    Source,
    /// The keys cannot be published: an empty or invalid key set, an issuer mismatch.
    Input,
    /// Refused by the retention rules (a key still in retention would be dropped).
    Retention,
    /// Reading or writing the store failed (S3 or the directory), AccessDenied included.
    Store,
    /// A concurrent publisher won the conditional write twice in a row.
    Conflict,
    /// The IAM OIDC provider could not be read or changed, or an unmanaged one differs.
    Iam,
    /// The CloudFront invalidation after a write failed (`--cloudfront-distribution`).
    Invalidation,
    /// Anything else while setting the pass up (no region, no Kubernetes credentials, the
    /// CloudFront distribution unreadable...).
    Config,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Source,
        ErrorKind::Input,
        ErrorKind::Retention,
        ErrorKind::Store,
        ErrorKind::Conflict,
        ErrorKind::Iam,
        ErrorKind::Invalidation,
        ErrorKind::Config,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Source => "source",
            ErrorKind::Input => "input",
            ErrorKind::Retention => "retention",
            ErrorKind::Store => "store",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Iam => "iam",
            ErrorKind::Invalidation => "invalidation",
            ErrorKind::Config => "config",
        }
    }

    /// The kind of the error that ended a pass (`publish::publish` wraps the typed
    /// errors in `anyhow`; the first typed one in the chain decides).
    pub fn of(error: &anyhow::Error) -> ErrorKind {
        for cause in error.chain() {
            if let Some(e) = cause.downcast_ref::<SyncError>() {
                return ErrorKind::of_sync(e);
            }
            if let Some(e) = cause.downcast_ref::<source::Error>() {
                return ErrorKind::of_source(e);
            }
            if cause.downcast_ref::<store::Error>().is_some() {
                return ErrorKind::Store;
            }
            if cause.downcast_ref::<iam::Error>().is_some() {
                return ErrorKind::Iam;
            }
            if cause.downcast_ref::<ConfigError>().is_some() {
                return ErrorKind::Config;
            }
        }
        ErrorKind::Config
    }

    pub fn of_sync(error: &SyncError) -> ErrorKind {
        match error {
            SyncError::Source(e) => ErrorKind::of_source(e),
            SyncError::KeySet { .. }
            | SyncError::IssuerMismatch { .. }
            | SyncError::IssuerChange { .. }
            | SyncError::WrongRegion { .. }
            | SyncError::EdgeMismatch { .. } => ErrorKind::Input,
            SyncError::Distribution { .. } | SyncError::NoDistribution { .. } => ErrorKind::Config,
            SyncError::Invalidate { .. } => ErrorKind::Invalidation,
            SyncError::Retention(_) => ErrorKind::Retention,
            SyncError::Observe(_) | SyncError::Region(_) | SyncError::Apply { .. } => {
                ErrorKind::Store
            }
            SyncError::Conflict { .. } => ErrorKind::Conflict,
            SyncError::Provider { .. } | SyncError::UnmanagedProvider { .. } => ErrorKind::Iam,
        }
    }

    fn of_source(error: &source::Error) -> ErrorKind {
        match error {
            // Missing credentials are a set-up problem, not the API server's.
            source::Error::NoKubeconfig { .. } | source::Error::UnusableKubeconfig { .. } => {
                ErrorKind::Config
            }
            source::Error::Unreachable { .. }
            | source::Error::Timeout { .. }
            | source::Error::Unauthorized { .. }
            | source::Error::Forbidden { .. }
            | source::Error::NotServed { .. }
            | source::Error::Status { .. }
            | source::Error::KeyFileRead { .. } => ErrorKind::Source,
            // It answered, but with keys that cannot be published.
            source::Error::Malformed { .. }
            | source::Error::BadKey { .. }
            | source::Error::KeyFile { .. }
            | source::Error::IssuerDisagreement { .. }
            | source::Error::KeyDisagreement { .. } => ErrorKind::Input,
        }
    }
}

/// A series' labels. One type for both modes, so `run`'s exposition is what it always was
/// (`{result="success"}`) and a fleet's puts `cluster` first (`{cluster="prod-1",result="success"}`).
type LabelSet = Vec<(&'static str, String)>;

/// The series' labels: `cluster` first when there is one, then `key`.
fn labels(cluster: Option<&str>, key: &'static str, value: &str) -> LabelSet {
    let mut set = Vec::with_capacity(2);
    if let Some(cluster) = cluster {
        set.push(("cluster", cluster.to_owned()));
    }
    set.push((key, value.to_owned()));
    set
}

/// A gauge with one value per cluster: unlabelled for `run` (its exposition has always been
/// `kube_oidc_publisher_published_keys 2`), one series labelled `cluster` per cluster in a fleet.
#[derive(Debug)]
enum PerCluster<G> {
    One(G),
    Each(Family<LabelSet, G>),
}

impl<G> PerCluster<G>
where
    G: Metric + EncodeMetric + TypedMetric + Clone + Default,
{
    fn new(fleet: bool) -> PerCluster<G> {
        if fleet {
            PerCluster::Each(Family::default())
        } else {
            PerCluster::One(G::default())
        }
    }

    fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        match self {
            PerCluster::One(gauge) => registry.register(name, help, gauge.clone()),
            PerCluster::Each(family) => registry.register(name, help, family.clone()),
        }
    }

    /// The cluster's gauge (a handle onto the registered one), created at zero if new.
    fn of(&self, cluster: Option<&str>) -> G {
        match (self, cluster) {
            (PerCluster::Each(family), Some(cluster)) => {
                family.get_or_create_owned(&vec![("cluster", cluster.to_owned())])
            }
            (PerCluster::One(gauge), _) => gauge.clone(),
            (PerCluster::Each(_), None) => {
                unreachable!("a fleet's gauges are always asked for a named cluster")
            }
        }
    }

    fn remove(&self, cluster: &str) {
        if let PerCluster::Each(family) = self {
            family.remove(&vec![("cluster", cluster.to_owned())]);
        }
    }
}

/// Which clusters the registry describes.
enum Clusters {
    /// `run`: one cluster, no `cluster` label; the kid of its `next_key_removal` sample, if any.
    One(Mutex<Option<String>>),
    /// `run --fleet`: the clusters in the fleet now, each with the kid of its
    /// `next_key_removal` sample, and the gauge that counts them.
    Fleet {
        members: Mutex<HashMap<String, Option<String>>>,
        size: Gauge,
    },
}

/// Every metric the daemon exports.
///
/// `run` builds it with [`Metrics::new`] and passes `cluster: None`; `run --fleet` builds it with
/// [`Metrics::for_fleet`], names each cluster in [`Metrics::add_cluster`] before its first pass,
/// and passes `Some(name)`. A pass recorded for a cluster the registry does not hold (one
/// removed while its pass ran, or a name given to `run`'s registry) changes nothing, so a late
/// pass cannot bring back the series of a cluster that left the fleet.
pub struct Metrics {
    registry: Registry,
    /// Unlabelled in both modes: 15 series per cluster would make 15 000 for a fleet of 1000,
    /// more than the rest of the exposition together, for a figure read across clusters anyway
    /// (a slow cluster shows in its `last_success`).
    sync_duration: Histogram,
    sync_errors: Family<LabelSet, Counter>,
    syncs: Family<LabelSet, Counter>,
    last_success: PerCluster<Gauge<f64, AtomicU64>>,
    published_keys: PerCluster<Gauge>,
    invalidations: PerCluster<Counter>,
    invalidation_failures: PerCluster<Counter>,
    next_removal: Family<LabelSet, Gauge<f64, AtomicU64>>,
    clusters: Clusters,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// `run`'s registry: one cluster, no `cluster` label.
    pub fn new() -> Metrics {
        let metrics = Metrics::build(false);
        metrics.create_series(None);
        metrics
    }

    /// `run --fleet`'s registry: the same metrics, each per-cluster series labelled `cluster`
    /// (`sync_duration_seconds` excepted, see the field), plus `fleet_clusters`. It holds no
    /// cluster until [`Metrics::add_cluster`].
    pub fn for_fleet() -> Metrics {
        Metrics::build(true)
    }

    fn build(fleet: bool) -> Metrics {
        let mut registry = Registry::default();
        // A pass is a handful of requests: tens of milliseconds on a LAN, seconds when a
        // dependency is slow, up to the timeouts when it hangs.
        let sync_duration = Histogram::new([
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ]);
        registry.register(
            "kube_oidc_publisher_sync_duration_seconds",
            "Duration of each sync pass, successful or not",
            sync_duration.clone(),
        );
        let sync_errors = Family::<LabelSet, Counter>::default();
        registry.register(
            "kube_oidc_publisher_sync_errors",
            "Sync passes that failed, by the kind of error that ended them",
            sync_errors.clone(),
        );
        let syncs = Family::<LabelSet, Counter>::default();
        registry.register(
            "kube_oidc_publisher_syncs",
            "Sync passes, by result (success or error)",
            syncs.clone(),
        );
        let last_success = PerCluster::new(fleet);
        last_success.register(
            &mut registry,
            "kube_oidc_publisher_last_success_timestamp_seconds",
            "Unix time of the end of the last successful sync pass (0: none yet)",
        );
        let published_keys = PerCluster::new(fleet);
        published_keys.register(
            &mut registry,
            "kube_oidc_publisher_published_keys",
            "Keys in the published JWKS after the last successful pass",
        );
        // Counters get `_total` appended in the exposition.
        let invalidations = PerCluster::new(fleet);
        invalidations.register(
            &mut registry,
            "kube_oidc_publisher_invalidations",
            "CloudFront invalidations made after writing documents (--cloudfront-distribution)",
        );
        let invalidation_failures = PerCluster::new(fleet);
        invalidation_failures.register(
            &mut registry,
            "kube_oidc_publisher_invalidation_failures",
            "CloudFront invalidations that failed after documents were written; the next pass retries them",
        );
        let next_removal = Family::default();
        registry.register(
            "kube_oidc_publisher_next_key_removal_timestamp_seconds",
            "Unix time at which the next retained key (label kid) leaves the JWKS; no sample when no removal is scheduled",
            Family::clone(&next_removal),
        );
        registry.register(
            "kube_oidc_publisher_build",
            "The running version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        let clusters = if fleet {
            let size = Gauge::default();
            registry.register(
                "kube_oidc_publisher_fleet_clusters",
                "Clusters in the fleet now",
                size.clone(),
            );
            Clusters::Fleet {
                members: Mutex::default(),
                size,
            }
        } else {
            Clusters::One(Mutex::default())
        };
        Metrics {
            registry,
            sync_duration,
            sync_errors,
            syncs,
            last_success,
            published_keys,
            invalidations,
            invalidation_failures,
            next_removal,
            clusters,
        }
    }

    /// A fleet's new cluster: every series of it at zero (both results, every error kind,
    /// `last_success` 0), so alerts see it before its first pass ends. Adding a cluster the
    /// fleet holds already changes nothing; `run`'s registry ignores it.
    pub fn add_cluster(&self, name: &str) {
        let Clusters::Fleet { members, size } = &self.clusters else {
            return;
        };
        let mut members = members.lock().unwrap();
        if members.contains_key(name) {
            return;
        }
        members.insert(name.to_owned(), None);
        size.set(i64::try_from(members.len()).unwrap_or(i64::MAX));
        self.create_series(Some(name));
    }

    /// A cluster that left the fleet: every series of it goes.
    pub fn remove_cluster(&self, name: &str) {
        let Clusters::Fleet { members, size } = &self.clusters else {
            return;
        };
        let mut members = members.lock().unwrap();
        let Some(scheduled) = members.remove(name) else {
            return;
        };
        size.set(i64::try_from(members.len()).unwrap_or(i64::MAX));
        let cluster = Some(name);
        for kind in ErrorKind::ALL {
            self.sync_errors
                .remove(&labels(cluster, "kind", kind.as_str()));
        }
        for result in ["success", "error"] {
            self.syncs.remove(&labels(cluster, "result", result));
        }
        self.last_success.remove(name);
        self.published_keys.remove(name);
        self.invalidations.remove(name);
        self.invalidation_failures.remove(name);
        if let Some(kid) = scheduled {
            self.next_removal.remove(&labels(cluster, "kid", &kid));
        }
    }

    fn create_series(&self, cluster: Option<&str>) {
        for kind in ErrorKind::ALL {
            let _ = self
                .sync_errors
                .get_or_create(&labels(cluster, "kind", kind.as_str()));
        }
        for result in ["success", "error"] {
            let _ = self.syncs.get_or_create(&labels(cluster, "result", result));
        }
        let _ = self.last_success.of(cluster);
        let _ = self.published_keys.of(cluster);
        let _ = self.invalidations.of(cluster);
        let _ = self.invalidation_failures.of(cluster);
    }

    /// Runs `record` with the cluster's scheduled kid, under the lock that orders it with
    /// [`Metrics::remove_cluster`]; does nothing for a cluster the registry does not hold.
    fn cluster(&self, cluster: Option<&str>, record: impl FnOnce(&mut Option<String>)) {
        match (&self.clusters, cluster) {
            (Clusters::One(scheduled), None) => record(&mut scheduled.lock().unwrap()),
            (Clusters::Fleet { members, .. }, Some(name)) => {
                if let Some(scheduled) = members.lock().unwrap().get_mut(name) {
                    record(scheduled);
                }
            }
            _ => {}
        }
    }

    /// Records a successful pass of `cluster` (`None` for `run`) that ended at `now`.
    pub fn success(
        &self,
        cluster: Option<&str>,
        report: &SyncReport,
        seconds: f64,
        now: OffsetDateTime,
    ) {
        self.cluster(cluster, |scheduled| {
            self.sync_duration.observe(seconds);
            self.syncs
                .get_or_create(&labels(cluster, "result", "success"))
                .inc();
            self.last_success.of(cluster).set(unix_seconds(now));
            self.published_keys
                .of(cluster)
                .set(i64::try_from(report.kids.len()).unwrap_or(i64::MAX));
            if report.invalidation.is_some() {
                self.invalidations.of(cluster).inc();
            }
            if let Some(kid) = scheduled.take() {
                self.next_removal.remove(&labels(cluster, "kid", &kid));
            }
            if let Some(next) = report.next_removal() {
                self.next_removal
                    .get_or_create(&labels(cluster, "kid", &next.kid))
                    .set(unix_seconds(next.removable_at));
                *scheduled = Some(next.kid.clone());
            }
        });
    }

    /// Records a failed pass of `cluster` (`None` for `run`). The gauges keep describing its
    /// last success.
    pub fn failure(&self, cluster: Option<&str>, kind: ErrorKind, seconds: f64) {
        self.cluster(cluster, |_| {
            self.sync_duration.observe(seconds);
            self.syncs
                .get_or_create(&labels(cluster, "result", "error"))
                .inc();
            self.sync_errors
                .get_or_create(&labels(cluster, "kind", kind.as_str()))
                .inc();
            if kind == ErrorKind::Invalidation {
                self.invalidation_failures.of(cluster).inc();
            }
        });
    }

    /// The OpenMetrics text exposition, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

fn unix_seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::KeySetError;
    use crate::model::state::StateError;

    #[test]
    fn sync_errors_map_to_a_fixed_kind() {
        let source_status = || source::Error::Status {
            server: "https://10.0.0.1:6443".into(),
            path: "/openid/v1/jwks",
            status: 500,
            body: String::new(),
        };
        let store_error = || store::Error::AccessDenied {
            action: "s3:PutObject",
            location: "s3://b/openid/v1/jwks".into(),
        };
        let cases: Vec<(SyncError, ErrorKind)> = vec![
            (SyncError::Source(source_status()), ErrorKind::Source),
            (
                SyncError::Source(source::Error::NoKubeconfig {
                    detail: "none".into(),
                }),
                ErrorKind::Config,
            ),
            (
                SyncError::Source(source::Error::Malformed {
                    server: "s".into(),
                    path: "/openid/v1/jwks",
                    detail: "eof".into(),
                }),
                ErrorKind::Input,
            ),
            (
                SyncError::KeySet {
                    source_name: "s".into(),
                    error: KeySetError::Empty,
                },
                ErrorKind::Input,
            ),
            (
                SyncError::IssuerMismatch {
                    api_server: "a".into(),
                    published: "b".into(),
                    flags: vec![],
                    way_out: String::new(),
                },
                ErrorKind::Input,
            ),
            (
                SyncError::Retention(StateError::RevokeUnknown("k".into())),
                ErrorKind::Retention,
            ),
            (SyncError::Observe(store_error()), ErrorKind::Store),
            (
                SyncError::Apply {
                    error: store_error(),
                    written: vec![],
                },
                ErrorKind::Store,
            ),
            (
                SyncError::Conflict {
                    location: "l".into(),
                },
                ErrorKind::Conflict,
            ),
            (
                SyncError::Provider {
                    error: iam::Error::LimitExceeded.into(),
                    documents: String::new(),
                },
                ErrorKind::Iam,
            ),
            (
                SyncError::UnmanagedProvider {
                    arn: "a".into(),
                    drift: vec![],
                    documents: String::new(),
                },
                ErrorKind::Iam,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            // As the loop sees it: through anyhow, with context on top.
            let wrapped = anyhow::Error::new(error).context("a pass");
            assert_eq!(ErrorKind::of(&wrapped), kind, "{text}");
        }
    }

    #[test]
    fn set_up_errors_map_to_source_store_or_config() {
        let source = anyhow::Error::new(source::Error::Unreachable {
            server: "s".into(),
            detail: "refused".into(),
        });
        assert_eq!(ErrorKind::of(&source), ErrorKind::Source);
        assert_eq!(
            ErrorKind::of(&anyhow::anyhow!("no AWS region is configured")),
            ErrorKind::Config
        );
        assert_eq!(
            ErrorKind::of(&anyhow::Error::new(ConfigError::Timeout)),
            ErrorKind::Config
        );
    }

    #[test]
    fn every_metric_and_every_error_kind_is_exported_from_the_start() {
        let text = Metrics::new().encode();
        for kind in ErrorKind::ALL {
            let line = format!(
                "kube_oidc_publisher_sync_errors_total{{kind=\"{}\"}} 0\n",
                kind.as_str()
            );
            assert!(text.contains(&line), "{line} missing in\n{text}");
        }
        for line in [
            "# TYPE kube_oidc_publisher_sync_duration_seconds histogram\n",
            "kube_oidc_publisher_sync_duration_seconds_count 0\n",
            "kube_oidc_publisher_syncs_total{result=\"success\"} 0\n",
            "kube_oidc_publisher_syncs_total{result=\"error\"} 0\n",
            "kube_oidc_publisher_last_success_timestamp_seconds 0.0\n",
            "kube_oidc_publisher_published_keys 0\n",
            "kube_oidc_publisher_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(
            !text.contains("next_key_removal"),
            "no removal scheduled, no sample: {text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn a_failure_counts_its_kind_and_keeps_the_last_success() {
        let metrics = Metrics::new();
        metrics.failure(None, ErrorKind::Store, 0.5);
        metrics.failure(None, ErrorKind::Store, 0.5);
        let text = metrics.encode();
        assert!(text.contains("kube_oidc_publisher_sync_errors_total{kind=\"store\"} 2\n"));
        assert!(text.contains("kube_oidc_publisher_sync_errors_total{kind=\"source\"} 0\n"));
        assert!(text.contains("kube_oidc_publisher_syncs_total{result=\"error\"} 2\n"));
        assert!(text.contains("kube_oidc_publisher_sync_duration_seconds_count 2\n"));
        assert!(text.contains("kube_oidc_publisher_last_success_timestamp_seconds 0.0\n"));
    }

    /// A pass's report with `kids` published and, when given, one key in retention.
    fn report(kids: &[&str], retained: Option<(&str, OffsetDateTime)>) -> SyncReport {
        use crate::model::state::Retained;
        SyncReport {
            issuer: "https://oidc.example.com/c".into(),
            store: "s3://b/c".into(),
            source: "cluster".into(),
            kids: kids.iter().map(|k| (*k).to_owned()).collect(),
            dropped: vec![],
            retained: retained
                .map(|(kid, at)| Retained {
                    kid: kid.into(),
                    removed_since: at - time::Duration::days(1),
                    removable_at: at,
                })
                .into_iter()
                .collect(),
            retired: vec![],
            revoked: vec![],
            staged: vec![],
            api_server_issuer: None,
            plan: crate::plan::Plan { changes: vec![] },
            provider: None,
            mode: crate::plan::Mode::Apply,
            writes: 0,
            replanned: false,
            warnings: vec![],
            invalidation: None,
        }
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    /// Every one of `lines` is in the exposition `text`.
    fn assert_has<L: AsRef<str>>(text: &str, lines: impl IntoIterator<Item = L>) {
        for line in lines {
            let line = line.as_ref();
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }

    /// The sample lines (not `#` lines), sorted: a family's series come in no fixed order.
    fn samples(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn run_exposition_is_unchanged_by_the_fleet_form() {
        // `run`'s exposition as it was before fleets, the version line aside: no `cluster`
        // label, no `fleet_clusters`.
        let metrics = Metrics::new();
        metrics.success(
            None,
            &report(&["a", "b"], Some(("old", at(1_700_000_000)))),
            0.2,
            at(1_600_000_000),
        );
        metrics.failure(None, ErrorKind::Iam, 0.02);
        let text = metrics.encode();
        let version = format!(
            "kube_oidc_publisher_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        let mut expected = vec![
            "kube_oidc_publisher_sync_duration_seconds_sum 0.22",
            "kube_oidc_publisher_sync_duration_seconds_count 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.01\"} 0",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.025\"} 1",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.05\"} 1",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.1\"} 1",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.25\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"0.5\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"1.0\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"2.5\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"5.0\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"10.0\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"30.0\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"60.0\"} 2",
            "kube_oidc_publisher_sync_duration_seconds_bucket{le=\"+Inf\"} 2",
            "kube_oidc_publisher_sync_errors_total{kind=\"source\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"input\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"retention\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"store\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"conflict\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"iam\"} 1",
            "kube_oidc_publisher_sync_errors_total{kind=\"invalidation\"} 0",
            "kube_oidc_publisher_sync_errors_total{kind=\"config\"} 0",
            "kube_oidc_publisher_syncs_total{result=\"success\"} 1",
            "kube_oidc_publisher_syncs_total{result=\"error\"} 1",
            "kube_oidc_publisher_last_success_timestamp_seconds 1600000000.0",
            "kube_oidc_publisher_published_keys 2",
            "kube_oidc_publisher_invalidations_total 0",
            "kube_oidc_publisher_invalidation_failures_total 0",
            "kube_oidc_publisher_next_key_removal_timestamp_seconds{kid=\"old\"} 1700000000.0",
            &version,
        ];
        expected.sort_unstable();
        assert_eq!(samples(&text), expected, "{text}");
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(
            types,
            [
                "# TYPE kube_oidc_publisher_sync_duration_seconds histogram",
                "# TYPE kube_oidc_publisher_sync_errors counter",
                "# TYPE kube_oidc_publisher_syncs counter",
                "# TYPE kube_oidc_publisher_last_success_timestamp_seconds gauge",
                "# TYPE kube_oidc_publisher_published_keys gauge",
                "# TYPE kube_oidc_publisher_invalidations counter",
                "# TYPE kube_oidc_publisher_invalidation_failures counter",
                "# TYPE kube_oidc_publisher_next_key_removal_timestamp_seconds gauge",
                "# TYPE kube_oidc_publisher_build info",
            ]
        );
    }

    #[test]
    fn a_fleet_labels_every_series_with_its_cluster_but_the_histogram() {
        let metrics = Metrics::for_fleet();
        assert!(
            metrics
                .encode()
                .contains("kube_oidc_publisher_fleet_clusters 0\n"),
            "{}",
            metrics.encode()
        );
        metrics.add_cluster("prod-1");
        metrics.add_cluster("prod-2");
        metrics.add_cluster("prod-1");
        metrics.success(
            Some("prod-1"),
            &report(&["a"], Some(("old", at(1_700_000_000)))),
            0.2,
            at(1_600_000_000),
        );
        let text = metrics.encode();
        let mut lines = vec![];
        for cluster in ["prod-1", "prod-2"] {
            for kind in ErrorKind::ALL {
                let kind = kind.as_str();
                lines.push(format!(
                    "kube_oidc_publisher_sync_errors_total{{cluster=\"{cluster}\",kind=\"{kind}\"}} 0\n"
                ));
            }
            lines.push(format!(
                "kube_oidc_publisher_syncs_total{{cluster=\"{cluster}\",result=\"error\"}} 0\n"
            ));
        }
        assert_has(&text, lines);
        assert_has(
            &text,
            [
                "kube_oidc_publisher_fleet_clusters 2\n",
                "kube_oidc_publisher_syncs_total{cluster=\"prod-1\",result=\"success\"} 1\n",
                "kube_oidc_publisher_syncs_total{cluster=\"prod-2\",result=\"success\"} 0\n",
                "kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"prod-1\"} 1600000000.0\n",
                "kube_oidc_publisher_published_keys{cluster=\"prod-1\"} 1\n",
                "kube_oidc_publisher_published_keys{cluster=\"prod-2\"} 0\n",
                "kube_oidc_publisher_next_key_removal_timestamp_seconds{cluster=\"prod-1\",kid=\"old\"} 1700000000.0\n",
                "kube_oidc_publisher_sync_duration_seconds_count 1\n",
            ],
        );
        for line in samples(&text) {
            let whole_process = ["sync_duration_seconds", "fleet_clusters", "build_info"]
                .iter()
                .any(|name| line.starts_with(&format!("kube_oidc_publisher_{name}")));
            assert_eq!(
                line.contains("{cluster=\""),
                !whole_process,
                "{line}: only the per-cluster series carry a cluster label"
            );
        }
    }

    #[test]
    fn a_failing_cluster_keeps_last_success_at_zero_beside_a_succeeding_one() {
        let metrics = Metrics::for_fleet();
        metrics.add_cluster("ok");
        metrics.add_cluster("broken");
        metrics.success(Some("ok"), &report(&["a"], None), 0.1, at(1_600_000_000));
        metrics.failure(Some("broken"), ErrorKind::Source, 5.0);
        metrics.failure(Some("broken"), ErrorKind::Source, 5.0);
        assert_has(
            &metrics.encode(),
            [
                "kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"ok\"} 1600000000.0\n",
                "kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"broken\"} 0.0\n",
                "kube_oidc_publisher_sync_errors_total{cluster=\"broken\",kind=\"source\"} 2\n",
                "kube_oidc_publisher_sync_errors_total{cluster=\"ok\",kind=\"source\"} 0\n",
                "kube_oidc_publisher_syncs_total{cluster=\"broken\",result=\"error\"} 2\n",
                "kube_oidc_publisher_syncs_total{cluster=\"ok\",result=\"error\"} 0\n",
                "kube_oidc_publisher_sync_duration_seconds_count 3\n",
            ],
        );
    }

    #[test]
    fn invalidations_and_their_failures_are_counted() {
        let metrics = Metrics::new();
        let mut made = report(&["a"], None);
        made.invalidation = Some(crate::model::cloudfront::Invalidation {
            id: "I1".into(),
            status: "InProgress".into(),
            caller_reference: "r".into(),
            paths: vec!["/c1/openid/v1/jwks".into()],
        });
        metrics.success(None, &made, 0.1, at(1_600_000_000));
        metrics.success(None, &report(&["a"], None), 0.1, at(1_600_000_060));
        metrics.failure(None, ErrorKind::Invalidation, 0.1);
        metrics.failure(None, ErrorKind::Store, 0.1);
        let text = metrics.encode();
        assert!(
            text.contains("kube_oidc_publisher_invalidations_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("kube_oidc_publisher_invalidation_failures_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("kube_oidc_publisher_sync_errors_total{kind=\"invalidation\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_removed_cluster_loses_every_series_and_a_late_pass_does_not_bring_them_back() {
        let metrics = Metrics::for_fleet();
        metrics.add_cluster("gone");
        metrics.add_cluster("kept");
        for cluster in ["gone", "kept"] {
            let retained = Some(("old", at(1_700_000_000)));
            metrics.success(
                Some(cluster),
                &report(&["a"], retained),
                0.1,
                at(1_600_000_000),
            );
            metrics.failure(Some(cluster), ErrorKind::Store, 0.1);
        }
        metrics.remove_cluster("gone");
        // The pass that was running when the cluster left the fleet ends.
        metrics.success(Some("gone"), &report(&["a"], None), 0.1, at(1_600_000_060));
        metrics.failure(Some("gone"), ErrorKind::Store, 0.1);
        let text = metrics.encode();
        assert!(!text.contains("cluster=\"gone\""), "{text}");
        assert!(
            text.contains("kube_oidc_publisher_fleet_clusters 1\n"),
            "{text}"
        );
        let kept = samples(&text)
            .into_iter()
            .filter(|l| l.contains("{cluster=\"kept\""))
            .count();
        // 8 error kinds, 2 results, last_success, published_keys, invalidations and their
        // failures, next_key_removal.
        assert_eq!(kept, 15, "{text}");
        metrics.remove_cluster("kept");
        metrics.remove_cluster("never-added");
        let text = metrics.encode();
        assert!(!text.contains("{cluster="), "{text}");
        assert!(
            text.contains("kube_oidc_publisher_fleet_clusters 0\n"),
            "{text}"
        );
    }

    #[test]
    fn the_next_removal_sample_follows_each_clusters_own_retention() {
        let metrics = Metrics::for_fleet();
        metrics.add_cluster("c1");
        metrics.add_cluster("c2");
        for (cluster, kid, removable_at) in
            [("c1", "k1", 1_700_000_000), ("c2", "k2", 1_700_000_100)]
        {
            let retained = Some((kid, at(removable_at)));
            metrics.success(
                Some(cluster),
                &report(&["a"], retained),
                0.1,
                at(1_600_000_000),
            );
        }
        // c1's retained key is retired; c2 keeps its own.
        metrics.success(Some("c1"), &report(&["a"], None), 0.1, at(1_600_000_060));
        let text = metrics.encode();
        let removals: Vec<&str> = samples(&text)
            .into_iter()
            .filter(|l| l.contains("next_key_removal"))
            .collect();
        assert_eq!(
            removals,
            ["kube_oidc_publisher_next_key_removal_timestamp_seconds{cluster=\"c2\",kid=\"k2\"} 1700000100.0"]
        );
    }
}
