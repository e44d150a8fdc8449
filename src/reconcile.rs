//! observe → plan → apply, once. `sync_once` reads the keys, the published documents and (with
//! IAM) the OIDC provider and the public host's certificate chain, all concurrently; renders
//! what should be published; asks the pure `plan` what to change; and applies it unless the mode
//! says not to. A document write that loses a race (precondition failed) makes it observe and
//! re-plan once; a second loss is an error.
//!
//! Order of effects: documents first (the JWKS before the discovery document, so the published
//! discovery document never points at missing keys), then the provider, so IAM never trusts an
//! issuer whose keys are not public yet. Any error leaves what was published as it was, except
//! that a JWKS already written stays (it is consistent). A failure on the IAM side does not stop
//! the documents from being published: keys that pods need must not wait for IAM permissions.

use serde::Serialize;

use crate::config::Mode;
use crate::iam::{self, OidcProviders};
use crate::model::jwk::KeySetError;
use std::time::Duration;

use time::OffsetDateTime;

use crate::model::issuer::unfetchable_by_sts;
use crate::model::state::{self, published_keys, KeyPlan, Requests, Retained, State, STATE_PATH};
use crate::model::{Issuer, KeySet, DISCOVERY_PATH, JWKS_PATH};
use crate::plan::{
    self, Change, DesiredProvider, ObjectMeta, Observed, ObservedProvider, Plan, ProviderPlan,
};
use crate::source::{self, Dropped, KeySource};
use crate::store::{self, ObjectStore};
use crate::tls::{self, Thumbprints};

/// What one sync decided and did.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub issuer: String,
    pub store: String,
    pub source: String,
    pub kids: Vec<String>,
    pub dropped: Vec<Dropped>,
    /// Keys the source no longer has, still published until their retention ends.
    pub retained: Vec<Retained>,
    /// Keys whose retention ended, no longer published.
    pub retired: Vec<String>,
    /// Keys removed at once (`rotate revoke`).
    pub revoked: Vec<String>,
    /// Keys published by `rotate stage` that the source does not serve (yet).
    pub staged: Vec<String>,
    /// The issuer the API server signs tokens with (`--source cluster`).
    pub api_server_issuer: Option<String>,
    /// The document changes.
    pub plan: Plan,
    /// The IAM OIDC provider, when managed (`None` with `--no-iam`).
    pub provider: Option<ProviderPlan>,
    #[serde(skip)]
    pub mode: Mode,
    /// Changes actually written, documents and provider (0 in dry-run and check modes).
    pub writes: usize,
    /// A concurrent publisher changed the store and the plan was made again.
    pub replanned: bool,
    pub warnings: Vec<String>,
}

impl SyncReport {
    /// Something would change (or differs on a provider we do not own).
    pub fn drift(&self) -> bool {
        !self.plan.is_empty()
            || self
                .provider
                .as_ref()
                .is_some_and(|p| !p.changes.is_empty() || !p.unmanaged_drift.is_empty())
    }

    /// The retained key that leaves the JWKS first, if any (the daemon's removal metric).
    pub fn next_removal(&self) -> Option<&Retained> {
        self.retained.iter().min_by_key(|r| r.removable_at)
    }
}

/// Why the IAM side could not be observed or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Iam(#[from] iam::Error),
    #[error("computing the thumbprint of {host}: {error}. Or pass --thumbprint none to let IAM fetch it, or --thumbprint HEX to pin it")]
    Thumbprint {
        host: String,
        error: Box<tls::Error>,
    },
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
    #[error("the API server signs tokens with issuer {api_server:?}, but this run publishes issuer {published:?}; STS compares them byte for byte and would reject every token. Either set on every kube-apiserver (the published issuer first; the current one kept second so that issued tokens stay valid; --api-audiences keeps accepting the audience in-cluster tokens carry today, so keep any values it already has):\n    {}\n{way_out}, or pass --allow-issuer-mismatch during an issuer migration", .flags.join("\n    "))]
    IssuerMismatch {
        api_server: String,
        published: String,
        /// The kube-apiserver flags, as bootstrap prints them.
        flags: Vec<String>,
        /// The other way out, or why there is none.
        way_out: String,
    },
    #[error("{store} already publishes issuer {published:?}; this run asks for {requested:?}. Nothing was written. Moving a published issuer breaks every token whose iss is {published:?}: STS fetches that issuer's discovery document, finds another issuer in it and rejects the token, so every pod holding one loses its AWS access until the API server signs with the new issuer and the old tokens have expired. Keep the published issuer (pass --issuer {published}, or check --store: it may be another cluster's location), or, knowing that consequence, pass --allow-issuer-change (a guided issuer migration is planned)")]
    IssuerChange {
        store: String,
        published: String,
        requested: String,
    },
    #[error("{store} is in region {actual}, not {expected}: the issuer derived from the bucket would name https://BUCKET.s3.{expected}…, a URL where STS finds no documents, and every token would be rejected. Nothing was written; pass --region {actual}")]
    WrongRegion {
        store: String,
        expected: String,
        actual: String,
    },
    #[error("checking the bucket's region")]
    Region(#[source] store::Error),
    #[error(transparent)]
    Retention(state::StateError),
    #[error("reading what is published")]
    Observe(#[source] store::Error),
    #[error("publishing: {error}{}", written_note(.written))]
    Apply {
        error: store::Error,
        written: Vec<String>,
    },
    #[error("{location} changed again while re-planning; another publisher is writing to the same store at the same moment. Nothing inconsistent was published; run sync again (a CronJob's next run will)")]
    Conflict { location: String },
    #[error("IAM OIDC provider: {error} ({documents})")]
    Provider {
        error: ProviderError,
        documents: String,
    },
    #[error("the IAM OIDC provider {arn} exists but is not managed by kube-oidc-publisher (it has no kube-oidc-publisher/managed-by tag; Terraform or eksctl may own it), and it differs from what this cluster needs: {}. Fix it where it is managed, or pass --adopt to let this tool tag and manage it ({documents})", .drift.join("; "))]
    UnmanagedProvider {
        arn: String,
        drift: Vec<String>,
        documents: String,
    },
}

fn written_note(written: &[String]) -> String {
    if written.is_empty() {
        " (nothing was written)".into()
    } else {
        format!(" ({} was written before the failure and is consistent; the next run completes the rest)", written.join(", "))
    }
}

/// How the provider's thumbprints are chosen (`--thumbprint`).
pub enum ThumbprintSource<'a> {
    /// Computed from the verified chain of the public host(s).
    Auto(&'a dyn Thumbprints),
    /// Given by the user (validated).
    Pinned(Vec<String>),
    /// Left to IAM, which fetches its own.
    None,
}

/// What the IAM side needs.
pub struct ProviderInputs<'a> {
    pub providers: &'a dyn OidcProviders,
    pub thumbprints: ThumbprintSource<'a>,
    pub client_ids: Vec<String>,
    /// `--cluster-name`; `None` keeps the provider's cluster tag.
    pub cluster_name: Option<String>,
    pub adopt: bool,
}

/// What `sync_once` needs besides its effects.
pub struct Inputs<'a> {
    pub issuer: &'a Issuer,
    pub meta: ObjectMeta,
    pub mode: Mode,
    pub allow_issuer_mismatch: bool,
    /// `--allow-issuer-change`: replace the issuer the store already publishes.
    pub allow_issuer_change: bool,
    /// The Region an issuer derived from the bucket names (`None` for an explicit `--issuer`):
    /// the store must be in it, checked with one request per run.
    pub issuer_region: Option<String>,
    /// `None` with `--no-iam`.
    pub provider: Option<ProviderInputs<'a>>,
    /// The time decisions are made at (the plan never reads the clock).
    pub now: OffsetDateTime,
    /// How long a key removed from the source stays published.
    pub retention: Duration,
    /// What `rotate` asks beyond following the source (revoke, stage); empty for `sync`.
    pub requests: Requests,
}

async fn observe_store(store: &dyn ObjectStore) -> Result<Observed, store::Error> {
    let (jwks, discovery, state) = futures::future::try_join3(
        store.get(JWKS_PATH),
        store.get(DISCOVERY_PATH),
        store.get(STATE_PATH),
    )
    .await?;
    let mut observed = Observed::default();
    observed.objects.insert(JWKS_PATH.into(), jwks);
    observed.objects.insert(DISCOVERY_PATH.into(), discovery);
    observed.objects.insert(STATE_PATH.into(), state);
    Ok(observed)
}

/// Which keys to publish given what the store holds: the source's keys plus removed keys still
/// in retention (`model::state`). A state that cannot be read is rebuilt from the published
/// JWKS, which keeps every published key for the full retention.
fn plan_keys(
    inputs: &Inputs<'_>,
    source_keys: &KeySet,
    partial: bool,
    observed: &Observed,
    state_location: &str,
    warnings: &mut Vec<String>,
) -> Result<(KeySet, KeyPlan), SyncError> {
    let body = |key: &str| {
        observed
            .objects
            .get(key)
            .and_then(Option::as_ref)
            .map(|o| o.body.as_slice())
    };
    let state = match body(STATE_PATH).map(State::parse_checked) {
        None => State::default(),
        Some(Ok((state, invalid))) => {
            for record in invalid {
                warnings.push(format!(
                    "not publishing key {:?} recorded in the state object {state_location}: {}. The state was changed outside this tool: check who can write to the store. A valid copy of the key in the published JWKS, if any, stays published for the full retention",
                    record.kid, record.reason
                ));
            }
            state
        }
        Some(Err(e)) => {
            warnings.push(format!("{e}; rebuilding it"));
            State::default()
        }
    };
    let published = published_keys(body(JWKS_PATH));
    let mut requests = inputs.requests.clone();
    requests.hold_retirement |= partial;
    let key_plan = state::plan_keys(
        source_keys.keys(),
        &published,
        &state,
        inputs.now,
        inputs.retention,
        &requests,
    )
    .map_err(SyncError::Retention)?;
    for kid in &key_plan.held {
        warnings.push(format!("not retiring key {kid} although its retention has ended: an API server could not be read and may still serve it; the next sync that reads every API server retires it"));
    }
    let key_set = KeySet::new(key_plan.publish.clone()).map_err(|error| SyncError::KeySet {
        source_name: "the store's retained keys".into(),
        error,
    })?;
    Ok((key_set, key_plan))
}

/// The public hosts whose certificates IAM may check: the `jwks_uri` host and, when it differs,
/// the issuer host (PROTOCOL.md §4). This tool renders `jwks_uri` under the issuer, so one.
fn public_hosts(issuer: &Issuer) -> Vec<String> {
    let jwks_uri = issuer.jwks_uri();
    let jwks_host = jwks_uri["https://".len()..]
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut hosts = vec![jwks_host];
    if hosts[0] != issuer.host() {
        hosts.push(issuer.host().to_owned());
    }
    hosts
}

/// Reads the provider and computes the desired state (thumbprints included), concurrently.
async fn observe_provider(
    issuer: &Issuer,
    inputs: &ProviderInputs<'_>,
) -> Result<(DesiredProvider, String, Option<ObservedProvider>), ProviderError> {
    let thumbprints = async {
        match &inputs.thumbprints {
            ThumbprintSource::None => Ok::<_, ProviderError>(None),
            ThumbprintSource::Pinned(pinned) => Ok(Some(pinned.clone())),
            ThumbprintSource::Auto(fetcher) => {
                let hosts = public_hosts(issuer);
                let results =
                    futures::future::join_all(hosts.iter().map(|h| fetcher.thumbprint(h))).await;
                let mut thumbprints = Vec::new();
                for (host, result) in hosts.iter().zip(results) {
                    let thumbprint = result.map_err(|error| ProviderError::Thumbprint {
                        host: host.clone(),
                        error: Box::new(error),
                    })?;
                    if !thumbprints.contains(&thumbprint) {
                        thumbprints.push(thumbprint);
                    }
                }
                Ok(Some(thumbprints))
            }
        }
    };
    let observed = async {
        let account = inputs.providers.account().await?;
        let arn = account.provider_arn(issuer.provider_url());
        let provider = inputs.providers.get(&arn).await?;
        Ok::<_, ProviderError>((arn, provider))
    };
    let (thumbprints, observed) = tokio::join!(thumbprints, observed);
    let (arn, provider) = observed?;
    let desired = DesiredProvider {
        url: issuer.provider_url().to_owned(),
        client_ids: inputs.client_ids.clone(),
        thumbprints: thumbprints?,
        cluster_name: inputs.cluster_name.clone(),
        adopt: inputs.adopt,
    };
    Ok((desired, arn, provider))
}

/// Writes the document changes in order; on failure, says which were written.
async fn apply_documents(
    plan: &Plan,
    store: &dyn ObjectStore,
) -> Result<usize, (store::Error, Vec<String>)> {
    let mut written = Vec::new();
    for change in &plan.changes {
        if let Change::PutObject {
            key,
            body,
            meta,
            precondition,
            ..
        } = change
        {
            if let Err(e) = store.put(key, body, meta, precondition).await {
                return Err((e, written));
            }
            tracing::debug!(object = %store.location(key), "wrote");
            written.push(key.clone());
        }
    }
    Ok(written.len())
}

/// Applies the provider changes in order.
async fn apply_provider(
    changes: &[Change],
    providers: &dyn OidcProviders,
) -> Result<usize, iam::Error> {
    for change in changes {
        match change {
            Change::CreateProvider {
                url,
                client_ids,
                thumbprints,
                tags,
            } => {
                providers.create(url, client_ids, thumbprints, tags).await?;
            }
            Change::SetThumbprints { arn, to, .. } => providers.set_thumbprints(arn, to).await?,
            Change::AddClientId { arn, client_id } => {
                providers.add_client_id(arn, client_id).await?
            }
            Change::RemoveClientId { arn, client_id } => {
                providers.remove_client_id(arn, client_id).await?
            }
            Change::TagProvider { arn, tags } => providers.tag(arn, tags).await?,
            Change::PutObject { .. } => {
                unreachable!("document changes are applied by apply_documents")
            }
        }
        tracing::debug!(change = %change.describe(), "applied");
    }
    Ok(changes.len())
}

/// 200 to 600 ms, jittered so that two racing publishers do not look again in lockstep.
fn race_backoff() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    Duration::from_millis(200 + u64::from(nanos % 400))
}

fn documents_note(mode: Mode, plan: &Plan, writes: usize) -> String {
    match (mode, plan.is_empty()) {
        (_, true) => "the documents are current".into(),
        (Mode::Apply, false) => format!("the documents were published: {writes} writes"),
        _ => "nothing was written".into(),
    }
}

pub async fn sync_once(
    inputs: Inputs<'_>,
    source: &dyn KeySource,
    store: &dyn ObjectStore,
) -> Result<SyncReport, SyncError> {
    let provider_side = async {
        match &inputs.provider {
            Some(p) => Some(observe_provider(inputs.issuer, p).await),
            None => None,
        }
    };
    let store_region = async {
        match &inputs.issuer_region {
            Some(_) => store.region().await,
            None => Ok(None),
        }
    };
    let (keys, observed, provider_side, store_region) = tokio::join!(
        source.fetch(),
        observe_store(store),
        provider_side,
        store_region
    );
    // The Region first: in the wrong one, the issuer itself is wrong, whatever else happened.
    if let Some(expected) = &inputs.issuer_region {
        let reported = store_region.map_err(SyncError::Region)?;
        plan::check_region(expected, reported.as_deref()).map_err(|mismatch| {
            SyncError::WrongRegion {
                store: store.describe(),
                expected: mismatch.expected,
                actual: mismatch.actual,
            }
        })?;
    }
    let keys = keys?;
    let mut observed = observed.map_err(SyncError::Observe)?;
    let mut warnings = keys.warnings.clone();

    if let Some(api_issuer) = &keys.issuer {
        if api_issuer != inputs.issuer.as_str() {
            if !inputs.allow_issuer_mismatch {
                let audiences = inputs
                    .provider
                    .as_ref()
                    .map(|p| p.client_ids.clone())
                    .unwrap_or_default();
                // Never suggest publishing an issuer STS cannot fetch (kubernetes.default.svc…).
                let way_out = match unfetchable_by_sts(api_issuer) {
                    None => format!("or publish the API server's issuer with --issuer {api_issuer}"),
                    Some(reason) => format!("(the API server's own issuer cannot be published instead: {reason}, so STS cannot fetch documents there and cannot verify its tokens)"),
                };
                return Err(SyncError::IssuerMismatch {
                    api_server: api_issuer.clone(),
                    published: inputs.issuer.to_string(),
                    flags: crate::model::apiserver_flags::api_server_flags(
                        inputs.issuer.as_str(),
                        Some(api_issuer),
                        &audiences,
                    ),
                    way_out,
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
    // The source alone must be a publishable set: an empty or broken one is never published,
    // even while retained keys would fill the JWKS.
    let source_keys = KeySet::new(keys.keys).map_err(|error| SyncError::KeySet {
        source_name: source.describe(),
        error,
    })?;

    // Documents: plan, apply, and re-plan once after a lost race.
    let mut replanned = false;
    let mut issuer_change;
    let (plan, key_set, key_plan, mut writes) = loop {
        // Decided on what the store holds now (again after a lost race): a published issuer
        // moves only when asked to.
        issuer_change =
            plan::check_issuer_change(inputs.issuer, &observed, inputs.allow_issuer_change)
                .map_err(|change| SyncError::IssuerChange {
                    store: store.describe(),
                    published: change.published,
                    requested: change.requested,
                })?;
        let (key_set, key_plan) = plan_keys(
            &inputs,
            &source_keys,
            keys.partial,
            &observed,
            &store.location(STATE_PATH),
            &mut warnings,
        )?;
        let desired = plan::desired(inputs.issuer, &key_set, &inputs.meta, &key_plan.state);
        let plan = plan::plan(&desired, &observed);
        if inputs.mode != Mode::Apply || plan.is_empty() {
            break (plan, key_set, key_plan, 0);
        }
        match apply_documents(&plan, store).await {
            Ok(writes) => break (plan, key_set, key_plan, writes),
            Err((store::Error::PreconditionFailed { location }, written)) => {
                if replanned {
                    return Err(SyncError::Conflict { location });
                }
                tracing::warn!(%location, ?written, "another publisher changed the store; reading it again and re-planning");
                warnings.push(format!(
                    "{location} changed during this run; re-planned once"
                ));
                // Let the other publisher finish its remaining writes before looking again, so the
                // second plan sees its complete result rather than another moment mid-way.
                tokio::time::sleep(race_backoff()).await;
                observed = observe_store(store).await.map_err(SyncError::Observe)?;
                replanned = true;
            }
            Err((error, written)) => return Err(SyncError::Apply { error, written }),
        }
    };
    if let Some(change) = &issuer_change {
        warnings.push(format!(
            "moving the published issuer from {} to {} (--allow-issuer-change): every token whose iss is {} stops verifying; update the API server's --service-account-issuer and the IAM OIDC provider for the new issuer",
            change.published, change.requested, change.published
        ));
    }
    let documents = documents_note(inputs.mode, &plan, writes);

    // The provider, after the documents.
    let provider = match (provider_side, &inputs.provider) {
        (Some(Err(error)), _) => return Err(SyncError::Provider { error, documents }),
        (Some(Ok((desired_provider, arn, observed_provider))), Some(p)) => {
            let provider_plan =
                plan::plan_provider(&desired_provider, &arn, observed_provider.as_ref());
            if !provider_plan.unmanaged_drift.is_empty() && inputs.mode == Mode::Apply {
                return Err(SyncError::UnmanagedProvider {
                    arn,
                    drift: provider_plan.unmanaged_drift,
                    documents,
                });
            }
            if provider_plan.exists
                && !provider_plan.managed
                && !desired_provider.adopt
                && provider_plan.unmanaged_drift.is_empty()
            {
                warnings.push(format!("the IAM OIDC provider {arn} is not managed by kube-oidc-publisher (no kube-oidc-publisher/managed-by tag); it matches, so it is left alone (--adopt would manage it)"));
            }
            if inputs.mode == Mode::Apply {
                writes += apply_provider(&provider_plan.changes, p.providers)
                    .await
                    .map_err(|e| SyncError::Provider {
                        error: e.into(),
                        documents: documents.clone(),
                    })?;
            }
            Some(provider_plan)
        }
        _ => None,
    };

    Ok(SyncReport {
        issuer: inputs.issuer.to_string(),
        store: store.describe(),
        source: source.describe(),
        kids: key_set.kids().map(str::to_owned).collect(),
        retained: key_plan.retained,
        retired: key_plan.retired,
        revoked: key_plan.revoked,
        staged: key_plan.staged,
        dropped: keys.dropped,
        api_server_issuer: keys.issuer,
        plan,
        provider,
        mode: inputs.mode,
        writes,
        replanned,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::memory::MemoryProviders;
    use crate::source::SourceKeys;
    use crate::store::memory::{Fault, MemoryStore, Operation};
    use async_trait::async_trait;

    const JWKS_RSA: &[u8] = include_bytes!("../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const JWKS_ROTATION: &[u8] =
        include_bytes!("../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    /// The start of the rotation fixture's two keys in canonical (kid) order.
    const JWKS_ROTATION_SORTED: &str =
        r#"{"keys":[{"use":"sig","kty":"RSA","kid":"biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM""#;
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
                thumbprints: ThumbprintSource::Auto(thumbprints),
                client_ids: vec!["sts.amazonaws.com".into()],
                cluster_name: Some("cluster-a".into()),
                adopt,
            }),
            now: OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
            retention: state::DEFAULT_RETENTION,
            requests: Requests::default(),
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
}
