//! Key retention: which keys to publish when the source's key set changes, so that no key a
//! live token may still carry disappears before its tokens have expired (PROTOCOL.md §5).
//!
//! The store keeps a small state object beside the documents recording, per `kid`, when the key
//! was first published and, once it has disappeared from the source, since when. A removed key
//! stays published until `removed_since + retention`. The state is pure data rendered
//! canonically, so it changes (and is written) only when the key set changes. Nothing here reads
//! the clock: `now` is passed in.
//!
//! A key published by `rotate stage` before the API server serves it is recorded as *staged*:
//! it stays published although the source lacks it, without a retention clock. It leaves that
//! state in one of two ways: the source starts serving it (it becomes an ordinary key, and the
//! usual retention applies once the source drops it), or `rotate revoke --kid` removes an
//! abandoned stage at once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::jwk::{parse_jwks, Checked, Jwk};

/// Object key of the state, relative to the issuer root. Not covered by the public-read
/// bucket policy, which names only the two documents.
pub const STATE_PATH: &str = ".kube-oidc-publisher/state.json";

/// The default retention of a removed key: a 24 h IRSA token (the pod-identity webhook's
/// default) + 5 min of IAM clock skew + the published max-age (5 min by default, at most 1 h
/// sensibly) + margin for STS's undocumented caching and clock differences = 26 h.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(26 * 3600);

/// What the store remembers about published keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub keys: BTreeMap<String, KeyRecord>,
    /// The documents a CloudFront distribution's edge was last told to drop
    /// (`sync --cloudfront-distribution`, see `plan::plan_invalidation`). Absent in state
    /// objects written before it existed, or by a store never served through CloudFront.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeRecord>,
}

/// The last invalidation of the published documents on a CloudFront distribution: which
/// distribution, and per document key the digest ([`crate::plan::edge_digest`]: body and HTTP
/// metadata) of the version it was invalidated for. Written in the same state write that
/// follows the invalidation, so a run that fails before that write invalidates again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRecord {
    pub distribution: String,
    pub documents: BTreeMap<String, String>,
}

/// One published key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub first_published: OffsetDateTime,
    /// Since when the source no longer has this key (`None`: the source still has it).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub removed_since: Option<OffsetDateTime>,
    /// Published by `rotate stage` and not (yet) served by the source: kept published, never
    /// retired, until the source serves it or `rotate revoke` removes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub staged: bool,
    /// When an anonymous HTTPS GET of the public JWKS first showed this key (`rotate stage`).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub publicly_visible_since: Option<OffsetDateTime>,
    /// The public key, so that a removed key can still be published.
    pub jwk: Jwk,
}

/// Why a state object cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("the state object is not valid JSON of version 1 ({0}); it records when keys were published and removed. Inspect it, then delete it: the next sync rebuilds it from the published JWKS, keeping every published key for the full retention")]
    Malformed(String),
    #[error("key {0:?} is not published; `rotate revoke` removes only published keys (see `rotate status`)")]
    RevokeUnknown(String),
    #[error("key {0:?} is still served by the API server (or given with --key-file): revoking it now would publish it again on the next sync. Remove it from every kube-apiserver's --service-account-key-file first")]
    RevokeInSource(String),
}

/// A key record of the state object that failed the checks every source key passes; it is
/// left out of the state and never published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRecord {
    /// The kid the record is filed under.
    pub kid: String,
    pub reason: String,
}

impl State {
    /// [`State::parse_checked`], without the list of records left out.
    pub fn parse(bytes: &[u8]) -> Result<State, StateError> {
        Ok(State::parse_checked(bytes)?.0)
    }

    /// Parses the state and checks every recorded key exactly as a key from the source
    /// ([`Jwk::check`]), so that a record changed outside this tool (a key member that does not
    /// belong to its type, a private member, a broken key, a record filed under another kid) is
    /// never published. Such records are left out and returned: their kid, if the published
    /// JWKS still holds a valid copy, is then kept from that copy for the full retention
    /// ([`plan_keys`]), so no key disappears early.
    pub fn parse_checked(bytes: &[u8]) -> Result<(State, Vec<InvalidRecord>), StateError> {
        let mut state: State =
            serde_json::from_slice(bytes).map_err(|e| StateError::Malformed(e.to_string()))?;
        if state.version != 1 {
            return Err(StateError::Malformed(format!(
                "unknown version {}",
                state.version
            )));
        }
        // Parsed once more as plain JSON: the typed record drops members it does not know
        // (`d`, `p`…), which the checks must see.
        let raw: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| StateError::Malformed(e.to_string()))?;
        let mut invalid = Vec::new();
        state.keys.retain(|kid, record| {
            match check_record(kid, &raw["keys"][kid.as_str()]["jwk"], &record.jwk) {
                Ok(()) => true,
                Err(reason) => {
                    invalid.push(InvalidRecord {
                        kid: kid.clone(),
                        reason,
                    });
                    false
                }
            }
        });
        Ok((state, invalid))
    }

    /// Canonical bytes: pretty JSON (people read it when a rotation goes wrong), sorted keys.
    pub fn render(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a state always serialises");
        bytes.push(b'\n');
        bytes
    }
}

/// Why a recorded key must not be published, or `Ok` when it is exactly the key that checking
/// it as a source key gives (this tool records nothing else).
fn check_record(kid: &str, raw: &serde_json::Value, recorded: &Jwk) -> Result<(), String> {
    let checked = match Jwk::check(raw, 0) {
        Ok(Checked::Usable(jwk)) => jwk,
        Ok(Checked::Unsupported { reason, .. }) => return Err(reason),
        Err(error) => return Err(error.to_string()),
    };
    if checked.kid != kid {
        return Err(format!(
            "it is filed under kid {kid:?} but its key says kid {:?}",
            checked.kid
        ));
    }
    if checked == *recorded {
        return Ok(());
    }
    let members = |jwk: &Jwk| match serde_json::to_value(jwk) {
        Ok(serde_json::Value::Object(members)) => members,
        _ => serde_json::Map::new(),
    };
    let (canonical, recorded) = (members(&checked), members(recorded));
    let foreign: Vec<String> = recorded
        .keys()
        .filter(|name| !canonical.contains_key(*name))
        .map(|name| format!("{name:?}"))
        .collect();
    let altered: Vec<String> = recorded
        .iter()
        .filter(|(name, value)| canonical.get(*name).is_some_and(|c| c != *value))
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    let mut parts = Vec::new();
    if !foreign.is_empty() {
        parts.push(format!(
            "members that are not part of an {} public key: {}",
            checked.kty,
            foreign.join(", ")
        ));
    }
    if !altered.is_empty() {
        parts.push(format!(
            "members not in canonical form: {}",
            altered.join(", ")
        ));
    }
    Err(format!("it carries {}", parts.join("; and ")))
}

/// A key kept although the source no longer has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retained {
    pub kid: String,
    #[serde(with = "time::serde::rfc3339")]
    pub removed_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub removable_at: OffsetDateTime,
}

/// What a command asks of a key plan beyond following the source (`sync` asks nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    /// Keys to remove at once (`rotate revoke`).
    pub revoke: Vec<String>,
    /// Keys to publish as staged beside the source's (`rotate stage`).
    pub stage: Vec<Jwk>,
    /// Keys an anonymous GET of the public JWKS showed, and when; an earlier time is kept.
    pub seen_publicly: Vec<(String, OffsetDateTime)>,
    /// Some API server could not be read, so a key whose retention ended may still be served
    /// (and signed with) there: retire nothing this time. Bounded: a key is held at most one
    /// more retention period after its own ended (see [`plan_keys`]).
    pub hold_retirement: bool,
}

/// The keys to publish and the state to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPlan {
    pub publish: Vec<Jwk>,
    pub state: State,
    /// Removed from the source, still published until their retention ends.
    pub retained: Vec<Retained>,
    /// Retention over: no longer published.
    pub retired: Vec<String>,
    /// Removed at once by `rotate revoke`.
    pub revoked: Vec<String>,
    /// Published by `rotate stage`, not served by the source.
    pub staged: Vec<String>,
    /// Retention over, but kept because [`Requests::hold_retirement`].
    pub held: Vec<String>,
}

/// Decides which keys to publish. `source` is what the API server (and key files) give now;
/// `published` the keys of the JWKS in the store; `state` what the store recorded. A published
/// key the state does not know (a state lost, or written by an older version) counts as removed
/// `now`, so it is kept for the full retention: losing the state never drops a key early.
pub fn plan_keys(
    source: &[Jwk],
    published: &[Jwk],
    state: &State,
    now: OffsetDateTime,
    retention: Duration,
    requests: &Requests,
) -> Result<KeyPlan, StateError> {
    let revoke = &requests.revoke;
    for kid in revoke {
        if source.iter().any(|k| &k.kid == kid) {
            return Err(StateError::RevokeInSource(kid.clone()));
        }
        if !state.keys.contains_key(kid) && !published.iter().any(|k| &k.kid == kid) {
            return Err(StateError::RevokeUnknown(kid.clone()));
        }
    }
    let mut next = State {
        version: 1,
        keys: BTreeMap::new(),
        // Kept as it is; only a sync with --cloudfront-distribution changes it.
        edge: state.edge.clone(),
    };
    for key in source {
        let known = state.keys.get(&key.kid);
        next.keys.insert(
            key.kid.clone(),
            KeyRecord {
                first_published: known.map_or(now, |r| r.first_published),
                removed_since: None,
                staged: false,
                publicly_visible_since: known.and_then(|r| r.publicly_visible_since),
                jwk: key.clone(),
            },
        );
    }
    // Staged now: kept without a retention clock (a key the source serves is simply ordinary).
    for key in &requests.stage {
        if next.keys.contains_key(&key.kid) {
            continue;
        }
        let known = state.keys.get(&key.kid);
        next.keys.insert(
            key.kid.clone(),
            KeyRecord {
                first_published: known.map_or(now, |r| r.first_published),
                removed_since: None,
                staged: true,
                publicly_visible_since: known.and_then(|r| r.publicly_visible_since),
                jwk: key.clone(),
            },
        );
    }
    // Keys that left the source: from the state, then any published key the state lacks.
    let mut gone: Vec<KeyRecord> = state
        .keys
        .values()
        .filter(|r| !next.keys.contains_key(&r.jwk.kid))
        .cloned()
        .collect();
    for key in published {
        if !next.keys.contains_key(&key.kid) && !state.keys.contains_key(&key.kid) {
            gone.push(KeyRecord {
                first_published: now,
                removed_since: None,
                staged: false,
                publicly_visible_since: None,
                jwk: key.clone(),
            });
        }
    }
    let (mut retained, mut retired, mut revoked) = (Vec::new(), Vec::new(), Vec::new());
    let mut held = Vec::new();
    for mut record in gone {
        let kid = record.jwk.kid.clone();
        if revoke.contains(&kid) {
            revoked.push(kid);
            continue;
        }
        if record.staged {
            next.keys.insert(kid, record);
            continue;
        }
        let removed_since = *record.removed_since.get_or_insert(now);
        let removable_at = removed_since + retention;
        // The hold is bounded: an endpoint that stays unreadable for a whole further retention
        // period is gone or broken (or listed by mistake), and holding forever would let it
        // keep a removed, perhaps compromised, key published. docs/rotation.md says so.
        let held_until = removable_at + retention;
        if now >= removable_at && !(requests.hold_retirement && now < held_until) {
            retired.push(kid);
            continue;
        }
        if now >= removable_at {
            held.push(kid.clone());
        }
        retained.push(Retained {
            kid: kid.clone(),
            removed_since,
            removable_at,
        });
        next.keys.insert(kid, record);
    }
    for (kid, seen) in &requests.seen_publicly {
        if let Some(record) = next.keys.get_mut(kid) {
            record.publicly_visible_since.get_or_insert(*seen);
        }
    }
    let publish = next.keys.values().map(|r| r.jwk.clone()).collect();
    let staged = next
        .keys
        .values()
        .filter(|r| r.staged)
        .map(|r| r.jwk.kid.clone())
        .collect();
    Ok(KeyPlan {
        publish,
        state: next,
        retained,
        retired,
        revoked,
        staged,
        held,
    })
}

/// The keys of a published JWKS, for [`plan_keys`]; an unreadable one counts as empty (it will
/// be replaced), which is safe because the state still names every key it published.
pub fn published_keys(jwks: Option<&[u8]>) -> Vec<Jwk> {
    jwks.and_then(|bytes| parse_jwks(bytes).ok())
        .map(|parsed| parsed.keys)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::parse_jwks;

    fn keys(fixture: &[u8]) -> Vec<Jwk> {
        parse_jwks(fixture).unwrap().keys
    }

    const ROTATION: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const OLD: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
    const NEW: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";

    fn t(hours: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + hours * 3600).unwrap()
    }

    /// One plan with the default retention and no requests.
    fn step(source: &[Jwk], published: &[Jwk], state: &State, now: OffsetDateTime) -> KeyPlan {
        plan_keys(
            source,
            published,
            state,
            now,
            DEFAULT_RETENTION,
            &Requests::default(),
        )
        .unwrap()
    }

    /// The plan that follows `previous`, with the default retention and `requests`.
    fn next(
        source: &[Jwk],
        previous: &KeyPlan,
        now: OffsetDateTime,
        requests: &Requests,
    ) -> Result<KeyPlan, StateError> {
        plan_keys(
            source,
            &previous.publish,
            &previous.state,
            now,
            DEFAULT_RETENTION,
            requests,
        )
    }

    fn revoke(kid: String) -> Requests {
        Requests {
            revoke: vec![kid],
            ..Requests::default()
        }
    }

    fn only_new() -> Vec<Jwk> {
        keys(ROTATION)
            .into_iter()
            .filter(|k| k.kid == NEW)
            .collect()
    }

    // Regression (issue #14): a retained key's record was published as the state held it.
    #[test]
    fn recorded_keys_are_checked_like_source_keys_and_bad_records_left_out() {
        let plan = step(&keys(ROTATION), &[], &State::default(), t(0));
        let good = plan.state.render();
        let (state, invalid) = State::parse_checked(&good).unwrap();
        assert_eq!((state, invalid), (plan.state.clone(), vec![]));
        let tamper = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut value: serde_json::Value = serde_json::from_slice(&good).unwrap();
            edit(&mut value["keys"][NEW]);
            let (state, invalid) =
                State::parse_checked(&serde_json::to_vec(&value).unwrap()).unwrap();
            assert!(!state.keys.contains_key(NEW) && state.keys.contains_key(OLD));
            assert_eq!(invalid.len(), 1);
            assert_eq!(invalid[0].kid, NEW);
            invalid[0].reason.clone()
        };
        let reason = tamper(&|r| r["jwk"]["x"] = "AAAA".into());
        assert!(
            reason.contains("not part of an RSA public key: \"x\""),
            "{reason}"
        );
        let reason = tamper(&|r| r["jwk"]["d"] = "AAAA".into());
        assert!(reason.contains("private member \"d\""), "{reason}");
        let reason = tamper(&|r| r["jwk"]["kid"] = OLD.into());
        assert!(reason.contains("filed under kid"), "{reason}");
        let reason = tamper(&|r| r["jwk"]["n"] = "AQAB".into());
        assert!(reason.contains("bits"), "{reason}");
        let reason = tamper(&|r| r["jwk"]["alg"] = "PS256".into());
        assert!(reason.contains("PS256"), "{reason}");
        // A member the key type does not know and that is never published is harmless.
        let mut value: serde_json::Value = serde_json::from_slice(&good).unwrap();
        value["keys"][NEW]["jwk"]["note"] = "hi".into();
        let (state, invalid) = State::parse_checked(&serde_json::to_vec(&value).unwrap()).unwrap();
        assert!(invalid.is_empty() && state == plan.state);
    }

    #[test]
    fn first_publish_records_every_key_and_a_second_plan_changes_nothing() {
        let plan = step(&keys(ROTATION), &[], &State::default(), t(0));
        assert_eq!(plan.publish.len(), 2);
        assert!(plan
            .state
            .keys
            .values()
            .all(|r| r.first_published == t(0) && r.removed_since.is_none()));
        let again = step(&keys(ROTATION), &plan.publish, &plan.state, t(5));
        assert_eq!(
            again.state.render(),
            plan.state.render(),
            "a no-op keeps the state byte for byte"
        );
    }

    #[test]
    fn a_key_removed_from_the_source_stays_published_for_the_retention() {
        let start = step(&keys(ROTATION), &[], &State::default(), t(0));
        let removed = step(&only_new(), &start.publish, &start.state, t(1));
        assert_eq!(removed.publish.len(), 2, "the old key is still published");
        assert_eq!(
            removed.retained,
            [Retained {
                kid: OLD.into(),
                removed_since: t(1),
                removable_at: t(27)
            }]
        );
        let later = step(&only_new(), &removed.publish, &removed.state, t(26));
        assert_eq!(
            later.state, removed.state,
            "nothing changes until the retention ends"
        );
        let due = step(&only_new(), &later.publish, &later.state, t(27));
        assert_eq!(due.retired, [OLD]);
        assert_eq!(due.publish.len(), 1);
        assert!(!due.state.keys.contains_key(OLD));
    }

    #[test]
    fn losing_the_state_never_drops_a_published_key_early() {
        let plan = step(&only_new(), &keys(ROTATION), &State::default(), t(3));
        assert_eq!(plan.publish.len(), 2);
        assert_eq!(plan.retained[0].kid, OLD);
        assert_eq!(plan.retained[0].removable_at, t(29));
    }

    #[test]
    fn a_key_that_comes_back_is_no_longer_removed_and_keeps_its_first_publication() {
        let start = step(&keys(RSA), &[], &State::default(), t(0));
        let gone = step(&only_new(), &start.publish, &start.state, t(1));
        let back = step(&keys(ROTATION), &gone.publish, &gone.state, t(2));
        assert_eq!(back.state.keys[OLD].removed_since, None);
        assert_eq!(back.state.keys[OLD].first_published, t(0));
        assert_eq!(back.state.keys[NEW].first_published, t(1));
    }

    #[test]
    fn revoke_removes_at_once_only_a_published_key_the_source_no_longer_has() {
        let start = step(&keys(ROTATION), &[], &State::default(), t(0));
        let err = next(&keys(ROTATION), &start, t(1), &revoke(OLD.into()));
        assert_eq!(err.unwrap_err(), StateError::RevokeInSource(OLD.into()));
        let err = next(&only_new(), &start, t(1), &revoke("nope".into()));
        assert_eq!(err.unwrap_err(), StateError::RevokeUnknown("nope".into()));
        let revoked = next(&only_new(), &start, t(1), &revoke(OLD.into())).unwrap();
        assert_eq!(revoked.revoked, [OLD]);
        assert_eq!(revoked.publish.len(), 1);
    }

    #[test]
    fn a_staged_key_stays_without_a_retention_clock_until_the_source_serves_it() {
        let start = step(&keys(RSA), &[], &State::default(), t(0));
        let stage = Requests {
            stage: only_new(),
            ..Requests::default()
        };
        let staged = next(&keys(RSA), &start, t(1), &stage).unwrap();
        assert_eq!(staged.staged, [NEW]);
        assert_eq!(staged.publish.len(), 2);
        // Later syncs ask nothing, long past any retention: the staged key stays, unchanged.
        let later = step(&keys(RSA), &staged.publish, &staged.state, t(100));
        assert_eq!(later.state, staged.state);
        assert!(later.retained.is_empty() && later.retired.is_empty());
        // Seen publicly: recorded once, an earlier time kept.
        let seen = |at| Requests {
            stage: only_new(),
            seen_publicly: vec![(NEW.to_owned(), at)],
            ..Requests::default()
        };
        let recorded = next(&keys(RSA), &later, t(2), &seen(t(2))).unwrap();
        assert_eq!(recorded.state.keys[NEW].publicly_visible_since, Some(t(2)));
        let again = next(&keys(RSA), &recorded, t(3), &seen(t(3))).unwrap();
        assert_eq!(again.state, recorded.state, "staging again changes nothing");
        // The API server serves it: ordinary, its history kept.
        let served = step(&keys(ROTATION), &again.publish, &again.state, t(4));
        let record = &served.state.keys[NEW];
        assert!(!record.staged);
        assert_eq!(record.first_published, t(1));
        assert_eq!(record.publicly_visible_since, Some(t(2)));
        // An abandoned stage goes with revoke.
        let revoked = next(&keys(RSA), &again, t(5), &revoke(NEW.into())).unwrap();
        assert_eq!(revoked.revoked, [NEW]);
        assert_eq!(revoked.publish.len(), 1);
    }

    #[test]
    fn nothing_is_retired_while_an_api_server_could_not_be_read() {
        let start = step(&keys(ROTATION), &[], &State::default(), t(0));
        let removed = step(&only_new(), &start.publish, &start.state, t(1));
        let partial = Requests {
            hold_retirement: true,
            ..Requests::default()
        };
        let held = next(&only_new(), &removed, t(30), &partial).unwrap();
        assert_eq!(held.held, [OLD]);
        assert!(held.retired.is_empty());
        assert_eq!(held.publish.len(), 2);
        assert_eq!(held.state, removed.state);
    }

    #[test]
    fn an_unreadable_api_server_holds_retirement_for_one_more_retention_only() {
        let start = step(&keys(ROTATION), &[], &State::default(), t(0));
        let removed = step(&only_new(), &start.publish, &start.state, t(1));
        let partial = Requests {
            hold_retirement: true,
            ..Requests::default()
        };
        let at = |now| next(&only_new(), &removed, now, &partial).unwrap();
        let removed_at = t(1);
        let bound = removed_at + DEFAULT_RETENTION + DEFAULT_RETENTION;
        let still_held = at(bound - Duration::from_secs(1));
        assert_eq!(still_held.held, [OLD]);
        let over = at(bound);
        assert!(over.held.is_empty());
        assert_eq!(over.retired, [OLD]);
        assert_eq!(over.publish.len(), 1);
    }

    #[test]
    fn state_round_trips_and_rejects_garbage() {
        let plan = step(&keys(ROTATION), &[], &State::default(), t(0));
        assert_eq!(State::parse(&plan.state.render()).unwrap(), plan.state);
        let text = String::from_utf8(plan.state.render()).unwrap();
        assert!(text.contains("\"first_published\": \"2026-"), "{text}");
        assert!(matches!(State::parse(b"{"), Err(StateError::Malformed(_))));
        assert!(matches!(
            State::parse(br#"{"version":2,"keys":{}}"#),
            Err(StateError::Malformed(_))
        ));
    }
}
