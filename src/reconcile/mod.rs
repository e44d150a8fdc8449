//! observe → plan → apply, once. `sync_once` reads the keys, the published documents and (with
//! IAM) the OIDC provider and the public host's certificate chain, all concurrently (the IAM
//! side, which depends on nothing else, keeps going while the documents are planned and
//! written); renders what should be published; asks the pure `plan` what to change; and applies
//! it unless the mode says not to. A document write that loses a race (precondition failed)
//! makes it observe and re-plan once; a second loss is an error.
//!
//! Order of effects: documents first (the JWKS before the discovery document, so the published
//! discovery document never points at missing keys), then the provider, so IAM never trusts an
//! issuer whose keys are not public yet. Any error leaves what was published as it was, except
//! that a JWKS already written stays (it is consistent). A failure on the IAM side does not stop
//! the documents from being published: keys that pods need must not wait for IAM permissions.

//!
//! With a CloudFront distribution in front of the store (`--cloudfront-distribution`), the
//! documents' plan is `plan::plan_behind_edge`'s: one invalidation of exactly the documents
//! whose edge copy is stale, applied after they are written and before the state object that
//! records it. Why the record lives in the state object (and not, say, in a lookup of past
//! invalidations): CloudFront cannot list invalidations by caller reference, and the state is
//! already written after the documents in the same conditional sequence, so "written but not
//! invalidated" survives a crash with no extra write: the next run finds the old record and
//! invalidates again, with the same caller reference, so CloudFront does not do it twice.
//!
//! What each part owns: [`documents`] the store's side (observe, choose the keys, write in
//! order); [`provider`] the IAM side (observe with the thumbprints, apply); [`report`] what a
//! sync reports and its errors. This file holds the inputs and the sequence.

use std::time::Duration;

use time::OffsetDateTime;

use crate::hosting::Distributions;
use crate::model::cloudfront::Invalidation;
use crate::model::issuer::unfetchable_by_sts;
use crate::model::state::{KeyPlan, Requests, STATE_PATH};
use crate::model::{Issuer, KeySet};
use crate::plan::Mode;
use crate::plan::{self, ObjectMeta};
use crate::source::{Dropped, KeySource};
use crate::store::{self, ObjectStore};

mod documents;
mod provider;
mod report;

use documents::{
    apply_documents, documents_note, observe_store, plan_keys, race_backoff, ApplyFailure,
};
use provider::{apply_provider, observe_provider};
pub use provider::{ProviderInputs, ThumbprintSource};
pub use report::{ProviderError, SyncError, SyncReport};

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
    /// The CloudFront distribution serving the store (`--cloudfront-distribution`), already
    /// checked to serve this issuer from this store (`publish`).
    pub edge: Option<EdgeInputs<'a>>,
}

/// A CloudFront distribution in front of the store.
pub struct EdgeInputs<'a> {
    pub distributions: &'a dyn Distributions,
    pub distribution: String,
}

pub async fn sync_once(
    inputs: Inputs<'_>,
    source: &dyn KeySource,
    store: &dyn ObjectStore,
) -> Result<SyncReport, SyncError> {
    // The IAM side is observed while the documents are read, planned and written, since it
    // depends on none of them: its two round trips in a row (STS for the account, then IAM for
    // the provider) are the longest chain of a no-op run, so it is polled first (its first
    // request leaves first) and the documents' planning no longer waits for its answer. The
    // documents' errors still come first, as they did when everything was observed at once.
    let provider_side = async {
        match &inputs.provider {
            Some(p) => Some(observe_provider(inputs.issuer, p).await),
            None => None,
        }
    };
    let (provider_side, documents) =
        tokio::join!(provider_side, publish_documents(&inputs, source, store));
    let Documents {
        plan,
        key_set,
        key_plan,
        mut writes,
        replanned,
        dropped,
        api_server_issuer,
        mut warnings,
        invalidation,
    } = documents?;
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
        dropped,
        api_server_issuer,
        plan,
        provider,
        mode: inputs.mode,
        writes,
        replanned,
        warnings,
        invalidation,
    })
}

/// Checks that CloudFront distribution `id` serves `issuer`'s documents from the S3 store
/// `bucket`/`prefix` in `region` (`plan::check_distribution`); one GetDistribution.
pub async fn check_edge(
    distributions: &dyn Distributions,
    id: &str,
    issuer: &Issuer,
    bucket: &str,
    region: &str,
    prefix: &str,
) -> Result<(), SyncError> {
    let distribution = distributions
        .get(id)
        .await
        .map_err(|error| SyncError::Distribution {
            distribution: id.to_owned(),
            error,
        })?
        .ok_or_else(|| SyncError::NoDistribution {
            distribution: id.to_owned(),
        })?;
    plan::check_distribution(&distribution, issuer, bucket, region, prefix).map_err(|mismatch| {
        SyncError::EdgeMismatch {
            distribution: id.to_owned(),
            mismatch,
        }
    })
}

/// What the documents' half of a run decided and did.
struct Documents {
    plan: plan::Plan,
    key_set: KeySet,
    key_plan: KeyPlan,
    writes: usize,
    replanned: bool,
    dropped: Vec<Dropped>,
    api_server_issuer: Option<String>,
    warnings: Vec<String>,
    invalidation: Option<Invalidation>,
}

/// The documents' half: read the keys and the store, check the issuer, plan, and write unless
/// the mode says not to (re-planning once after a lost race).
async fn publish_documents(
    inputs: &Inputs<'_>,
    source: &dyn KeySource,
    store: &dyn ObjectStore,
) -> Result<Documents, SyncError> {
    let store_region = async {
        match &inputs.issuer_region {
            Some(_) => store.region().await,
            None => Ok(None),
        }
    };
    let (keys, observed, store_region) =
        tokio::join!(source.fetch(), observe_store(store), store_region);
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
    let (plan, key_set, key_plan, (writes, invalidation)) = loop {
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
            inputs,
            &source_keys,
            keys.partial,
            &observed,
            &store.location(STATE_PATH),
            &mut warnings,
        )?;
        let desired = plan::desired(inputs.issuer, &key_set, &inputs.meta, &key_plan.state);
        let plan = match &inputs.edge {
            None => plan::plan(&desired, &observed),
            Some(edge) => plan::plan_behind_edge(
                inputs.issuer,
                &desired,
                &key_plan.state,
                &observed,
                &edge.distribution,
            ),
        };
        if inputs.mode != Mode::Apply || plan.is_empty() {
            break (plan, key_set, key_plan, (0, None));
        }
        match apply_documents(&plan, store, inputs.edge.as_ref()).await {
            Ok(applied) => break (plan, key_set, key_plan, applied),
            Err((ApplyFailure::Edge(error), written)) => {
                return Err(SyncError::Invalidate { error, written })
            }
            Err((ApplyFailure::Store(store::Error::PreconditionFailed { location }), written)) => {
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
            Err((ApplyFailure::Store(error), written)) => {
                return Err(SyncError::Apply { error, written })
            }
        }
    };
    if let Some(change) = &issuer_change {
        warnings.push(format!(
            "moving the published issuer from {} to {} (--allow-issuer-change): every token whose iss is {} stops verifying; update the API server's --service-account-issuer and the IAM OIDC provider for the new issuer",
            change.published, change.requested, change.published
        ));
    }
    Ok(Documents {
        plan,
        key_set,
        key_plan,
        writes,
        replanned,
        dropped: keys.dropped,
        api_server_issuer: keys.issuer,
        warnings,
        invalidation,
    })
}

#[cfg(test)]
mod tests;
