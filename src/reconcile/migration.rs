//! A sync during a move to another issuer (`issuer prepare`, docs/issuer-migration.md): the
//! store's state records the migration, so the API server may sign with either of its two
//! issuers without the issuer-mismatch refusal, and `model::state` records the switch the first
//! time the API server signs with the new one. Publishing the other issuer's store too is
//! `publish`'s (it builds that store).

use crate::model::state::{State, STATE_PATH};
use crate::plan::Observed;

/// Whether the store's recorded migration accepts `api_issuer` as the API server's issuer.
pub(super) fn accepts(observed: &Observed, api_issuer: &str) -> bool {
    observed
        .objects
        .get(STATE_PATH)
        .and_then(Option::as_ref)
        .and_then(|object| State::parse(&object.body).ok())
        .and_then(|state| state.migration)
        .is_some_and(|m| m.accepts_api_issuer(api_issuer))
}
