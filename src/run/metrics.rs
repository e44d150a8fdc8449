//! The daemon's metrics, registered on a registry this module builds (so each test builds its
//! own), and the fixed set of error kinds a failed pass is counted under. The kind comes from an
//! explicit `match` on the error's type and variant, never from its text, so the label values
//! cannot grow. docs/operations.md documents every metric and the alerts built on them.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
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
    /// Anything else while setting the pass up (no region, no Kubernetes credentials...).
    Config,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Source,
        ErrorKind::Input,
        ErrorKind::Retention,
        ErrorKind::Store,
        ErrorKind::Conflict,
        ErrorKind::Iam,
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
            | SyncError::WrongRegion { .. } => ErrorKind::Input,
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

type Labels = [(&'static str, &'static str); 1];

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Registry,
    sync_duration: Histogram,
    sync_errors: Family<Labels, Counter>,
    syncs: Family<Labels, Counter>,
    last_success: Gauge<f64, AtomicU64>,
    published_keys: Gauge,
    next_removal: Family<[(&'static str, String); 1], Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
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
        let sync_errors = Family::<Labels, Counter>::default();
        registry.register(
            "kube_oidc_publisher_sync_errors",
            "Sync passes that failed, by the kind of error that ended them",
            sync_errors.clone(),
        );
        for kind in ErrorKind::ALL {
            let _ = sync_errors.get_or_create(&[("kind", kind.as_str())]);
        }
        let syncs = Family::<Labels, Counter>::default();
        registry.register(
            "kube_oidc_publisher_syncs",
            "Sync passes, by result (success or error)",
            syncs.clone(),
        );
        for result in ["success", "error"] {
            let _ = syncs.get_or_create(&[("result", result)]);
        }
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "kube_oidc_publisher_last_success_timestamp_seconds",
            "Unix time of the end of the last successful sync pass (0: none yet)",
            last_success.clone(),
        );
        let published_keys = Gauge::default();
        registry.register(
            "kube_oidc_publisher_published_keys",
            "Keys in the published JWKS after the last successful pass",
            published_keys.clone(),
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
        Metrics {
            registry,
            sync_duration,
            sync_errors,
            syncs,
            last_success,
            published_keys,
            next_removal,
        }
    }

    /// Records a successful pass that ended at `now`.
    pub fn success(&self, report: &SyncReport, seconds: f64, now: OffsetDateTime) {
        self.sync_duration.observe(seconds);
        self.syncs.get_or_create(&[("result", "success")]).inc();
        self.last_success.set(unix_seconds(now));
        self.published_keys
            .set(i64::try_from(report.kids.len()).unwrap_or(i64::MAX));
        self.next_removal.clear();
        if let Some(next) = report.next_removal() {
            self.next_removal
                .get_or_create(&[("kid", next.kid.clone())])
                .set(unix_seconds(next.removable_at));
        }
    }

    /// Records a failed pass. The gauges keep describing the last success.
    pub fn failure(&self, kind: ErrorKind, seconds: f64) {
        self.sync_duration.observe(seconds);
        self.syncs.get_or_create(&[("result", "error")]).inc();
        self.sync_errors
            .get_or_create(&[("kind", kind.as_str())])
            .inc();
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
        metrics.failure(ErrorKind::Store, 0.5);
        metrics.failure(ErrorKind::Store, 0.5);
        let text = metrics.encode();
        assert!(text.contains("kube_oidc_publisher_sync_errors_total{kind=\"store\"} 2\n"));
        assert!(text.contains("kube_oidc_publisher_sync_errors_total{kind=\"source\"} 0\n"));
        assert!(text.contains("kube_oidc_publisher_syncs_total{result=\"error\"} 2\n"));
        assert!(text.contains("kube_oidc_publisher_sync_duration_seconds_count 2\n"));
        assert!(text.contains("kube_oidc_publisher_last_success_timestamp_seconds 0.0\n"));
    }
}
