//! Unit tests of `sync_once` against the in-memory store and providers: idempotence, races,
//! retention, the issuer checks and the IAM side.

use super::*;
use crate::iam;
use crate::iam::memory::MemoryProviders;
use crate::model::jwk::KeySetError;
use crate::model::state;
use crate::model::state::State;
use crate::model::{DISCOVERY_PATH, JWKS_PATH};
use crate::plan::Change;
use crate::plan::ObservedProvider;
use crate::source;
use crate::source::SourceKeys;
use crate::store::memory::{Fault, MemoryStore, Operation};
use crate::tls::{self, Thumbprints};
use async_trait::async_trait;

const JWKS_RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
const JWKS_ROTATION: &[u8] =
    include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
/// The start of the rotation fixture's two keys in canonical (kid) order.
const JWKS_ROTATION_SORTED: &str =
    r#"{"keys":[{"use":"sig","kty":"RSA","kid":"biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM""#;
const DISCOVERY: &[u8] =
    include_bytes!("../../tests/fixtures/kube-apiserver/openid-configuration.json");
const ISSUER: &str = "https://oidc.example.test/cluster-a";

struct FakeSource {
    jwks: &'static [u8],
    issuer: Option<&'static str>,
}

#[async_trait]
impl KeySource for FakeSource {
    fn describe(&self) -> String {
        "fake".into()
    }
    async fn fetch(&self) -> Result<SourceKeys, source::Error> {
        let parsed = crate::model::jwk::parse_jwks(self.jwks).unwrap();
        Ok(SourceKeys {
            keys: parsed.keys,
            dropped: vec![],
            issuer: self.issuer.map(Into::into),
            ..SourceKeys::default()
        })
    }
}

fn meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/json".into(),
        cache_control: "public, max-age=300".into(),
    }
}

async fn run(
    source: &FakeSource,
    store: &MemoryStore,
    mode: Mode,
) -> Result<SyncReport, SyncError> {
    let issuer = Issuer::parse(ISSUER).unwrap();
    let inputs = Inputs {
        issuer: &issuer,
        meta: meta(),
        mode,
        allow_issuer_mismatch: false,
        allow_issuer_change: false,
        issuer_region: None,
        provider: None,
        now: OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
        retention: state::DEFAULT_RETENTION,
        requests: Requests::default(),
        edge: None,
    };
    sync_once(inputs, source, store).await
}

struct FixedThumbprint(&'static str);

#[async_trait]
impl Thumbprints for FixedThumbprint {
    async fn thumbprint(&self, _host: &str) -> Result<String, tls::Error> {
        Ok(self.0.repeat(40))
    }
}

async fn run_with_iam(
    store: &MemoryStore,
    providers: &MemoryProviders,
    thumbprints: &dyn Thumbprints,
    mode: Mode,
    adopt: bool,
) -> Result<SyncReport, SyncError> {
    let issuer = Issuer::parse(ISSUER).unwrap();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    let inputs = Inputs {
        issuer: &issuer,
        meta: meta(),
        mode,
        allow_issuer_mismatch: false,
        allow_issuer_change: false,
        issuer_region: None,
        provider: Some(ProviderInputs {
            providers,
            account: &Default::default(),
            thumbprints: ThumbprintSource::Auto(thumbprints),
            client_ids: vec!["sts.amazonaws.com".into()],
            cluster_name: Some("cluster-a".into()),
            adopt,
        }),
        now: OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
        retention: state::DEFAULT_RETENTION,
        requests: Requests::default(),
        edge: None,
    };
    sync_once(inputs, &source, store).await
}

const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example.test/cluster-a";

#[tokio::test]
async fn idempotency_second_sync_makes_no_iam_write_either() {
    let (store, providers) = (MemoryStore::new(), MemoryProviders::new());
    let first = run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("a"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap();
    assert_eq!(first.writes, 4, "two documents, the state and the provider");
    let created = providers.provider(ARN).unwrap();
    assert_eq!(created.thumbprints, ["a".repeat(40)]);
    assert_eq!(created.client_ids, ["sts.amazonaws.com"]);
    assert!(created.is_managed());
    let writes = providers.writes();
    let second = run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("a"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap();
    assert!(!second.drift());
    assert_eq!(second.writes, 0);
    assert_eq!(providers.writes(), writes);
    assert_eq!(store.count(Operation::Put), 3);
}

#[tokio::test]
async fn a_renewed_certificate_updates_the_thumbprints_and_check_reports_it_first() {
    let (store, providers) = (MemoryStore::new(), MemoryProviders::new());
    run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("a"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap();
    let check = run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("b"),
        Mode::Check,
        false,
    )
    .await
    .unwrap();
    assert!(check.drift());
    assert_eq!(
        providers.calls("set_thumbprints"),
        0,
        "--check writes nothing"
    );
    run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("b"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        providers.provider(ARN).unwrap().thumbprints,
        ["b".repeat(40)]
    );
}

#[tokio::test]
async fn an_unowned_provider_that_differs_is_an_error_and_stays_untouched() {
    let (store, providers) = (MemoryStore::new(), MemoryProviders::new());
    providers.insert(ObservedProvider {
        arn: ARN.into(),
        url: "oidc.example.test/cluster-a".into(),
        client_ids: vec!["other".into()],
        thumbprints: vec!["a".repeat(40)],
        tags: Default::default(),
    });
    let err = run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("a"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("--adopt") && text.contains("add client ID sts.amazonaws.com"),
        "{text}"
    );
    assert!(text.contains("the documents were published"), "{text}");
    assert_eq!(providers.writes(), 0);
    let adopted = run_with_iam(&store, &providers, &FixedThumbprint("a"), Mode::Apply, true)
        .await
        .unwrap();
    assert!(adopted.writes >= 3, "{adopted:?}");
    let provider = providers.provider(ARN).unwrap();
    assert!(provider.is_managed());
    assert_eq!(provider.client_ids, ["sts.amazonaws.com"]);
}

#[tokio::test]
async fn an_iam_failure_still_publishes_the_documents() {
    let (store, providers) = (MemoryStore::new(), MemoryProviders::new());
    providers.fail("get", || iam::Error::AccessDenied {
        action: "iam:GetOpenIDConnectProvider",
        resource: ARN.into(),
    });
    let err = run_with_iam(
        &store,
        &providers,
        &FixedThumbprint("a"),
        Mode::Apply,
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("iam:GetOpenIDConnectProvider")
            && text.contains("the documents were published: 3 writes"),
        "{text}"
    );
    assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
}

/// A fetch of the public host's chain that is still waiting on the network after the documents'
/// side has run; it notes how many document writes the store had by the time it finished.
struct SlowThumbprint<'a> {
    store: &'a MemoryStore,
    puts_seen: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Thumbprints for SlowThumbprint<'_> {
    async fn thumbprint(&self, _host: &str) -> Result<String, tls::Error> {
        tokio::task::yield_now().await;
        let puts = self.store.count(Operation::Put);
        self.puts_seen
            .store(puts, std::sync::atomic::Ordering::SeqCst);
        Ok("a".repeat(40))
    }
}

#[tokio::test]
async fn the_documents_do_not_wait_for_the_iam_side() {
    // The IAM side (STS, then IAM, and the TLS chain) is the longest chain of a run; the
    // documents are planned and written meanwhile, and the provider still changes after them.
    let (store, providers) = (MemoryStore::new(), MemoryProviders::new());
    let slow = SlowThumbprint {
        store: &store,
        puts_seen: Default::default(),
    };
    let report = run_with_iam(&store, &providers, &slow, Mode::Apply, false)
        .await
        .unwrap();
    assert_eq!(slow.puts_seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(report.writes, 4, "{report:?}");
    assert_eq!(providers.calls("create"), 1);
    assert_eq!(providers.calls("account"), 1);
}

#[tokio::test]
async fn idempotency_second_sync_makes_zero_puts() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    let first = run(&source, &store, Mode::Apply).await.unwrap();
    assert_eq!(first.writes, 3, "JWKS, discovery document, state");
    assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
    assert_eq!(store.body(DISCOVERY_PATH).unwrap(), DISCOVERY);
    let second = run(&source, &store, Mode::Apply).await.unwrap();
    assert!(second.plan.is_empty());
    assert_eq!(second.writes, 0);
    assert_eq!(store.count(Operation::Put), 3);
    assert_eq!(store.count(Operation::Get), 6);
}

#[tokio::test]
async fn a_key_the_api_server_dropped_stays_published_until_its_retention_ends() {
    let store = &MemoryStore::new();
    let issuer = &Issuer::parse(ISSUER).unwrap();
    let at =
        |hours: i64| OffsetDateTime::from_unix_timestamp(1_795_000_000 + hours * 3600).unwrap();
    let sync_at = |jwks: &'static [u8], hours: i64| {
        let inputs = Inputs {
            issuer,
            meta: meta(),
            mode: Mode::Apply,
            allow_issuer_mismatch: false,
            allow_issuer_change: false,
            issuer_region: None,
            provider: None,
            now: at(hours),
            retention: state::DEFAULT_RETENTION,
            requests: Requests::default(),
            edge: None,
        };
        let source = FakeSource {
            jwks,
            issuer: Some(ISSUER),
        };
        async move { sync_once(inputs, &source, store).await }
    };
    sync_at(JWKS_ROTATION, 0).await.unwrap();
    // The API server now serves only the old key: the new one must stay published.
    let report = sync_at(JWKS_RSA, 1).await.unwrap();
    assert_eq!(report.kids.len(), 2);
    assert_eq!(report.retained.len(), 1);
    assert_eq!(report.retained[0].removable_at, at(27));
    assert_eq!(report.next_removal(), Some(&report.retained[0]));
    let published = String::from_utf8(store.body(JWKS_PATH).unwrap()).unwrap();
    assert!(
        published.starts_with(JWKS_ROTATION_SORTED)
            && published.contains("ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc"),
        "{published}"
    );
    let puts = store.count(Operation::Put);
    let quiet = sync_at(JWKS_RSA, 10).await.unwrap();
    assert_eq!(quiet.writes, 0, "nothing changes while the key is retained");
    assert_eq!(store.count(Operation::Put), puts);
    let retired = sync_at(JWKS_RSA, 27).await.unwrap();
    assert_eq!(retired.retired.len(), 1);
    assert_eq!(retired.next_removal(), None);
    assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
}

#[tokio::test]
async fn dry_run_and_check_never_write() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    for mode in [Mode::DryRun, Mode::Check] {
        let report = run(&source, &store, mode).await.unwrap();
        assert_eq!(report.plan.changes.len(), 3);
        assert_eq!(report.writes, 0);
    }
    assert_eq!(store.count(Operation::Put), 0);
}

#[tokio::test]
async fn issuer_mismatch_stops_before_anything_is_written() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some("https://kubernetes.default.svc.cluster.local"),
    };
    let err = run(&source, &store, Mode::Apply).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("--service-account-issuer=https://oidc.example.test/cluster-a"),
        "{text}"
    );
    assert!(
        text.contains("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            && text.contains("--api-audiences=https://kubernetes.default.svc.cluster.local"),
        "{text}"
    );
    // Never suggested as the issuer to publish: STS cannot fetch it.
    assert!(
        !text.contains("--issuer https://kubernetes.default.svc"),
        "{text}"
    );
    assert_eq!(store.count(Operation::Put), 0);
}

#[tokio::test]
async fn a_failed_put_leaves_the_published_documents_and_the_next_run_repairs() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    run(&source, &store, Mode::Apply).await.unwrap();
    // Rotation: the JWKS changes; the discovery document would not. Fail the first put.
    let rotated = FakeSource {
        jwks: JWKS_ROTATION,
        issuer: Some(ISSUER),
    };
    store.fail_nth(
        Operation::Put,
        4,
        Fault::Fail(|key| store::Error::Service {
            operation: "writing",
            location: key.into(),
            detail: "503 SlowDown".into(),
        }),
    );
    let err = run(&rotated, &store, Mode::Apply).await.unwrap_err();
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
    let repaired = run(&rotated, &store, Mode::Apply).await.unwrap();
    assert_eq!(repaired.writes, 2, "the JWKS and the state");
    assert_eq!(repaired.kids.len(), 2);
}

#[tokio::test]
async fn a_lost_race_is_replanned_once() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    // Another publisher writes the same JWKS just before our first put.
    store.fail_nth(Operation::Put, 1, Fault::Race(JWKS_RSA.to_vec()));
    let report = run(&source, &store, Mode::Apply).await.unwrap();
    assert!(report.replanned);
    assert_eq!(
        report.writes, 2,
        "only the discovery document and the state are left to write"
    );
    assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
}

#[tokio::test]
async fn losing_the_race_twice_is_an_error() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: JWKS_RSA,
        issuer: Some(ISSUER),
    };
    store.fail_nth(Operation::Put, 1, Fault::Race(b"{\"keys\":[]}".to_vec()));
    store.fail_nth(Operation::Put, 2, Fault::Race(b"other".to_vec()));
    let err = run(&source, &store, Mode::Apply).await.unwrap_err();
    assert!(matches!(err, SyncError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn an_empty_key_set_is_never_published() {
    let store = MemoryStore::new();
    let source = FakeSource {
        jwks: b"{\"keys\":[]}",
        issuer: Some(ISSUER),
    };
    let err = run(&source, &store, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::KeySet {
                error: KeySetError::Empty,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.count(Operation::Put), 0);
}

// --- A CloudFront distribution in front of the store (`--cloudfront-distribution`).

/// The id [`crate::hosting::memory::MemoryDistributions`] gives its first distribution.
const DISTRIBUTION: &str = "E0000000000001";

async fn run_behind_edge(
    source: &FakeSource,
    store: &MemoryStore,
    edge: &crate::hosting::memory::MemoryDistributions,
    mode: Mode,
) -> Result<SyncReport, SyncError> {
    let issuer = Issuer::parse(ISSUER).unwrap();
    let inputs = Inputs {
        issuer: &issuer,
        meta: meta(),
        mode,
        allow_issuer_mismatch: false,
        allow_issuer_change: false,
        issuer_region: None,
        provider: None,
        now: OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
        retention: state::DEFAULT_RETENTION,
        requests: Requests::default(),
        edge: Some(EdgeInputs {
            distributions: edge,
            distribution: DISTRIBUTION.into(),
        }),
    };
    sync_once(inputs, source, store).await
}

fn edge_with_distribution() -> crate::hosting::memory::MemoryDistributions {
    use crate::model::cloudfront::{DistributionConfig, ViewerCertificate};
    let edge = crate::hosting::memory::MemoryDistributions::new();
    let d = edge.insert(DistributionConfig {
        caller_reference: "r".into(),
        comment: String::new(),
        enabled: true,
        aliases: vec![],
        origins: vec![],
        target_origin_id: String::new(),
        viewer_protocol_policy: "https-only".into(),
        allowed_methods: vec![],
        cache_policy_id: None,
        viewer_certificate: ViewerCertificate::CloudFrontDefault,
    });
    assert_eq!(d.id, DISTRIBUTION);
    edge
}

const SOURCE: FakeSource = FakeSource {
    jwks: JWKS_RSA,
    issuer: Some(ISSUER),
};

#[tokio::test]
async fn a_write_invalidates_the_changed_documents_once_and_a_rerun_nothing() {
    let (store, edge) = (MemoryStore::new(), edge_with_distribution());
    let first = run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(first.writes, 3);
    let made = edge.invalidations(DISTRIBUTION);
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].paths,
        [
            "/cluster-a/openid/v1/jwks",
            "/cluster-a/.well-known/openid-configuration"
        ]
    );
    assert_eq!(first.invalidation.as_ref(), Some(&made[0]));
    // The state records it.
    let state = State::parse(&store.body(STATE_PATH).unwrap()).unwrap();
    assert_eq!(state.edge.unwrap().distribution, DISTRIBUTION);

    let second = run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    assert!(second.plan.is_empty(), "{:?}", second.plan);
    assert_eq!(second.writes, 0);
    assert_eq!(edge.count("create_invalidation"), 1);

    // A key change invalidates exactly the documents that changed (both, here), once more.
    let rotated = FakeSource {
        jwks: JWKS_ROTATION,
        issuer: Some(ISSUER),
    };
    run_behind_edge(&rotated, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(edge.invalidations(DISTRIBUTION).len(), 2);
}

#[tokio::test]
async fn dry_run_and_check_list_the_invalidation_and_make_none() {
    let (store, edge) = (MemoryStore::new(), edge_with_distribution());
    for mode in [Mode::DryRun, Mode::Check] {
        let report = run_behind_edge(&SOURCE, &store, &edge, mode).await.unwrap();
        let lines: Vec<String> = report.plan.changes.iter().map(Change::describe).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            lines[2],
            format!("invalidate /cluster-a/openid/v1/jwks, /cluster-a/.well-known/openid-configuration on CloudFront distribution {DISTRIBUTION}")
        );
        assert!(report.drift());
    }
    assert_eq!(edge.count("create_invalidation"), 0);
    assert_eq!(store.count(Operation::Put), 0);
}

#[tokio::test]
async fn a_run_that_wrote_but_failed_to_invalidate_invalidates_next_time_with_the_same_reference() {
    let (store, edge) = (MemoryStore::new(), edge_with_distribution());
    edge.fail(Some(("create_invalidation", || {
        crate::hosting::Error::Service {
            action: "cloudfront:CreateInvalidation",
            detail: "ServiceUnavailable".into(),
        }
    })));
    let err = run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Invalidate { ref written, .. } if written.len() == 2));
    // The documents are out, the state (which would record the invalidation) is not.
    assert!(store.body(JWKS_PATH).is_some());
    assert!(store.body(STATE_PATH).is_none());
    edge.fail(None);
    let retried = run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    // Nothing to write but the state, and the invalidation made now.
    assert_eq!(retried.writes, 1);
    assert_eq!(edge.invalidations(DISTRIBUTION).len(), 1);
    let again = run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(again.writes, 0);
    // The failed call and the retry's; none by the no-op run.
    assert_eq!(edge.count("create_invalidation"), 2);
}

#[tokio::test]
async fn a_retry_after_the_state_write_failed_reuses_the_caller_reference() {
    let (store, edge) = (MemoryStore::new(), edge_with_distribution());
    // The third put (the state) fails after the invalidation was made.
    store.fail_nth(
        Operation::Put,
        3,
        Fault::Fail(|key| store::Error::Unavailable {
            operation: "PutObject",
            location: key.into(),
            answer: "503".into(),
        }),
    );
    assert!(run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .is_err());
    assert_eq!(edge.invalidations(DISTRIBUTION).len(), 1);
    run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    // Asked twice, with one caller reference: CloudFront made one invalidation.
    assert_eq!(edge.count("create_invalidation"), 2);
    assert_eq!(edge.invalidations(DISTRIBUTION).len(), 1);
}

#[tokio::test]
async fn without_the_distribution_the_edge_record_is_kept_as_it_is() {
    let (store, edge) = (MemoryStore::new(), edge_with_distribution());
    run_behind_edge(&SOURCE, &store, &edge, Mode::Apply)
        .await
        .unwrap();
    let plain = run(&SOURCE, &store, Mode::Apply).await.unwrap();
    assert_eq!(plain.writes, 0);
    let state = State::parse(&store.body(STATE_PATH).unwrap()).unwrap();
    assert!(state.edge.is_some());
}
