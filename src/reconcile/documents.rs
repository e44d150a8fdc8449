//! The documents' side of a sync: reading what the store publishes, choosing the keys to publish
//! (the source's plus those still in retention), and writing the document changes in order.

use std::time::Duration;

use crate::model::state::{self, published_keys, KeyPlan, State, STATE_PATH};
use crate::model::{KeySet, DISCOVERY_PATH, JWKS_PATH};
use crate::plan::Mode;
use crate::plan::{Change, Observed, Plan};
use crate::store::{self, ObjectStore};

use super::{EdgeInputs, Inputs, SyncError};
use crate::hosting;
use crate::model::cloudfront::Invalidation;

pub(super) async fn observe_store(store: &dyn ObjectStore) -> Result<Observed, store::Error> {
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
pub(super) fn plan_keys(
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

/// Why writing the documents stopped.
pub(super) enum ApplyFailure {
    Store(store::Error),
    /// The invalidation after the documents (the state recording it was not written).
    Edge(hosting::Error),
}

/// Writes the document changes in order, and makes the invalidation planned between them and
/// the state; on failure, says which were written. Returns the writes and the invalidation.
pub(super) async fn apply_documents(
    plan: &Plan,
    store: &dyn ObjectStore,
    edge: Option<&EdgeInputs<'_>>,
) -> Result<(usize, Option<Invalidation>), (ApplyFailure, Vec<String>)> {
    let mut written = Vec::new();
    let mut invalidation = None;
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
                    return Err((ApplyFailure::Store(e), written));
                }
                tracing::debug!(object = %store.location(key), "wrote");
                written.push(key.clone());
            }
            Change::Invalidate {
                distribution,
                caller_reference,
                paths,
            } => {
                let edge = edge.expect("an invalidation is planned only with a distribution");
                match edge
                    .distributions
                    .create_invalidation(distribution, caller_reference, paths)
                    .await
                {
                    Ok(made) => {
                        tracing::info!(distribution, invalidation = %made.id, paths = ?paths, "invalidated");
                        invalidation = Some(made);
                    }
                    Err(e) => return Err((ApplyFailure::Edge(e), written)),
                }
            }
            _ => {}
        }
    }
    Ok((written.len(), invalidation))
}

/// 200 to 600 ms, jittered so that two racing publishers do not look again in lockstep.
pub(super) fn race_backoff() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    Duration::from_millis(200 + u64::from(nanos % 400))
}

pub(super) fn documents_note(mode: Mode, plan: &Plan, writes: usize) -> String {
    match (mode, plan.is_empty()) {
        (_, true) => "the documents are current".into(),
        (Mode::Apply, false) => format!("the documents were published: {writes} writes"),
        _ => "nothing was written".into(),
    }
}
