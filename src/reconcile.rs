//! observe → plan → apply, once. `sync_once` reads the keys and the published documents
//! concurrently, renders what should be published, asks the pure `plan` what to change, and
//! applies it unless the mode says not to. A write that loses a race (precondition failed)
//! makes it observe and re-plan once; a second loss is an error. Any error leaves what was
//! published as it was, except that a JWKS already written stays (it is written first, so the
//! published discovery document never points at missing keys).

use serde::Serialize;

use crate::config::Mode;
use crate::model::jwk::KeySetError;
use crate::model::{Issuer, KeySet, DISCOVERY_PATH, JWKS_PATH};
use crate::plan::{self, Change, ObjectMeta, Observed, Plan};
use crate::source::{self, Dropped, KeySource};
use crate::store::{self, ObjectStore};

/// What one sync decided and did.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub issuer: String,
    pub store: String,
    pub source: String,
    pub kids: Vec<String>,
    pub dropped: Vec<Dropped>,
    pub plan: Plan,
    #[serde(skip)]
    pub mode: Mode,
    /// Changes actually written (0 in dry-run and check modes).
    pub writes: usize,
    /// A concurrent publisher changed the store and the plan was made again.
    pub replanned: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error("keys from {source_name}: {error}")]
    KeySet {
        source_name: String,
        error: KeySetError,
    },
    #[error("the API server signs tokens with issuer {api_server:?}, but this run publishes issuer {published:?}; STS compares them byte for byte and would reject every token. Either set on every kube-apiserver (keeping the current issuer as a second --service-account-issuer so that issued tokens stay valid):\n    --service-account-issuer={published}\n    --service-account-issuer={api_server}\n    --service-account-jwks-uri={published}/openid/v1/jwks\nor publish the API server's issuer with --issuer {api_server}, or pass --allow-issuer-mismatch during an issuer migration")]
    IssuerMismatch {
        api_server: String,
        published: String,
    },
    #[error("reading what is published")]
    Observe(#[source] store::Error),
    #[error("publishing: {error}{}", written_note(.written))]
    Apply {
        error: store::Error,
        written: Vec<String>,
    },
    #[error("{location} changed again while re-planning; another publisher is writing to the same store at the same moment. Nothing inconsistent was published; run sync again (a CronJob's next run will)")]
    Conflict { location: String },
}

fn written_note(written: &[String]) -> String {
    if written.is_empty() {
        " (nothing was written)".into()
    } else {
        format!(" ({} was written before the failure and is consistent; the next run completes the rest)", written.join(", "))
    }
}

/// What `sync_once` needs besides its effects.
pub struct Inputs<'a> {
    pub issuer: &'a Issuer,
    pub meta: ObjectMeta,
    pub mode: Mode,
    pub allow_issuer_mismatch: bool,
}

async fn observe_store(store: &dyn ObjectStore) -> Result<Observed, store::Error> {
    let (jwks, discovery) =
        futures::future::try_join(store.get(JWKS_PATH), store.get(DISCOVERY_PATH)).await?;
    let mut observed = Observed::default();
    observed.objects.insert(JWKS_PATH.into(), jwks);
    observed.objects.insert(DISCOVERY_PATH.into(), discovery);
    Ok(observed)
}

/// Writes the plan's changes in order; on failure, says which were written.
async fn apply(plan: &Plan, store: &dyn ObjectStore) -> Result<usize, (store::Error, Vec<String>)> {
    let mut written = Vec::new();
    for change in &plan.changes {
        match change {
            Change::PutObject {
                key,
                body,
                meta,
                precondition,
                ..
            } => {
                if let Err(e) = store.put(key, body, meta, precondition).await {
                    return Err((e, written));
                }
                tracing::debug!(object = %store.location(key), "wrote");
                written.push(key.clone());
            }
        }
    }
    Ok(written.len())
}

pub async fn sync_once(
    inputs: Inputs<'_>,
    source: &dyn KeySource,
    store: &dyn ObjectStore,
) -> Result<SyncReport, SyncError> {
    let (keys, observed) = tokio::join!(source.fetch(), observe_store(store));
    let keys = keys?;
    let mut observed = observed.map_err(SyncError::Observe)?;
    let mut warnings = Vec::new();

    if let Some(api_issuer) = &keys.issuer {
        if api_issuer != inputs.issuer.as_str() {
            if !inputs.allow_issuer_mismatch {
                return Err(SyncError::IssuerMismatch {
                    api_server: api_issuer.clone(),
                    published: inputs.issuer.to_string(),
                });
            }
            warnings.push(format!(
                "publishing issuer {} while the API server signs with {api_issuer:?} (--allow-issuer-mismatch): STS rejects its tokens for this issuer until its first --service-account-issuer is {}",
                inputs.issuer, inputs.issuer
            ));
        }
    }
    for d in &keys.dropped {
        warnings.push(format!(
            "not publishing key {:?} from {}: {}",
            d.kid, d.source, d.reason
        ));
    }
    let key_set = KeySet::new(keys.keys).map_err(|error| SyncError::KeySet {
        source_name: source.describe(),
        error,
    })?;
    let desired = plan::desired(inputs.issuer, &key_set, &inputs.meta);

    let mut replanned = false;
    loop {
        let plan = plan::plan(&desired, &observed);
        let report = |plan: Plan, writes: usize, warnings: Vec<String>| SyncReport {
            issuer: inputs.issuer.to_string(),
            store: store.describe(),
            source: source.describe(),
            kids: key_set.kids().map(str::to_owned).collect(),
            dropped: keys.dropped.clone(),
            plan,
            mode: inputs.mode,
            writes,
            replanned,
            warnings,
        };
        if inputs.mode != Mode::Apply || plan.is_empty() {
            return Ok(report(plan, 0, warnings));
        }
        match apply(&plan, store).await {
            Ok(writes) => return Ok(report(plan, writes, warnings)),
            Err((store::Error::PreconditionFailed { location }, written)) => {
                if replanned {
                    return Err(SyncError::Conflict { location });
                }
                tracing::warn!(%location, ?written, "another publisher changed the store; reading it again and re-planning");
                warnings.push(format!(
                    "{location} changed during this run; re-planned once"
                ));
                observed = observe_store(store).await.map_err(SyncError::Observe)?;
                replanned = true;
            }
            Err((error, written)) => return Err(SyncError::Apply { error, written }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceKeys;
    use crate::store::memory::{Fault, MemoryStore, Operation};
    use async_trait::async_trait;

    const JWKS_RSA: &[u8] = include_bytes!("../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const JWKS_ROTATION: &[u8] =
        include_bytes!("../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const DISCOVERY: &[u8] =
        include_bytes!("../tests/fixtures/kube-apiserver/openid-configuration.json");
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
        };
        sync_once(inputs, source, store).await
    }

    #[tokio::test]
    async fn idempotency_second_sync_makes_zero_puts() {
        let store = MemoryStore::new();
        let source = FakeSource {
            jwks: JWKS_RSA,
            issuer: Some(ISSUER),
        };
        let first = run(&source, &store, Mode::Apply).await.unwrap();
        assert_eq!(first.writes, 2);
        assert_eq!(store.body(JWKS_PATH).unwrap(), JWKS_RSA);
        assert_eq!(store.body(DISCOVERY_PATH).unwrap(), DISCOVERY);
        let second = run(&source, &store, Mode::Apply).await.unwrap();
        assert!(second.plan.is_empty());
        assert_eq!(second.writes, 0);
        assert_eq!(store.count(Operation::Put), 2);
        assert_eq!(store.count(Operation::Get), 4);
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
            assert_eq!(report.plan.changes.len(), 2);
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
            text.contains("https://kubernetes.default.svc.cluster.local"),
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
            3,
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
        assert_eq!(repaired.writes, 1);
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
            report.writes, 1,
            "only the discovery document is left to write"
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
}
