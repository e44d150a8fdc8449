//! `rotate status`: where each key stands in a signing-key rotation, and the one next step.
//! Pure: it reads the retention state, the kids the API server serves, and `now`.
//!
//! The timing follows PROTOCOL.md §5: a new key must be publicly visible, and every cache that
//! may hold the old JWKS expired (the published max-age plus 5 minutes of margin), before the
//! API server signs with it; an old key stays published until every token it signed has expired
//! (`removed_since + retention`, which `sync` enforces).

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::state::State;

/// One key's position in the rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub kid: String,
    pub at_api_server: bool,
    pub published: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_since: Option<OffsetDateTime>,
    /// When caches that held a JWKS without this key have expired.
    #[serde(with = "time::serde::rfc3339::option")]
    pub visible_everywhere_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub removed_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub removable_at: Option<OffsetDateTime>,
}

/// The rotation's state and the one thing to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RotationStatus {
    pub keys: Vec<KeyStatus>,
    pub next_step: String,
}

/// Margin on top of the max-age before a newly published key counts as visible everywhere.
pub const CACHE_MARGIN: Duration = Duration::from_secs(300);

fn at(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn minutes_until(now: OffsetDateTime, then: OffsetDateTime) -> i64 {
    ((then - now).whole_seconds() + 59) / 60
}

pub fn status(
    state: &State,
    api_server_kids: &[String],
    now: OffsetDateTime,
    cache_max_age: Duration,
    retention: Duration,
) -> RotationStatus {
    let mut keys: Vec<KeyStatus> = state
        .keys
        .iter()
        .map(|(kid, record)| KeyStatus {
            kid: kid.clone(),
            at_api_server: api_server_kids.contains(kid),
            published: true,
            published_since: Some(record.first_published),
            visible_everywhere_at: Some(record.first_published + cache_max_age + CACHE_MARGIN),
            removed_since: record.removed_since,
            removable_at: record.removed_since.map(|since| since + retention),
        })
        .collect();
    for kid in api_server_kids {
        if !state.keys.contains_key(kid) {
            keys.push(KeyStatus {
                kid: kid.clone(),
                at_api_server: true,
                published: false,
                published_since: None,
                visible_everywhere_at: None,
                removed_since: None,
                removable_at: None,
            });
        }
    }
    let next_step = next_step(&keys, now);
    RotationStatus { keys, next_step }
}

fn next_step(keys: &[KeyStatus], now: OffsetDateTime) -> String {
    if let Some(k) = keys.iter().find(|k| !k.published) {
        return format!("key {} is at the API server but not published: run sync now (STS rejects tokens it signs until then)", k.kid);
    }
    // Waiting matters while the API server still has another key to sign with; once it serves
    // only the new key, the switch has happened and the retention of the old one is what counts.
    let at_api = keys.iter().filter(|k| k.at_api_server).count();
    let pending = keys
        .iter()
        .filter(|k| k.removed_since.is_none() && !(k.at_api_server && at_api == 1))
        .filter_map(|k| k.visible_everywhere_at.map(|t| (k, t)))
        .filter(|(_, t)| *t > now)
        .max_by_key(|(_, t)| *t);
    if let Some((key, t)) = pending {
        return format!(
            "wait {} minutes until caches have expired: key {} is published since {}, safe to sign with it from {}",
            minutes_until(now, t),
            key.kid,
            key.published_since.map(at).unwrap_or_default(),
            at(t)
        );
    }
    let current: Vec<&KeyStatus> = keys.iter().filter(|k| k.removed_since.is_none()).collect();
    let retained: Vec<&KeyStatus> = keys.iter().filter(|k| k.removed_since.is_some()).collect();
    if let Some(old) = retained.iter().min_by_key(|k| k.removable_at) {
        return format!(
            "old key {} removable at {}: sync retires it then (tokens it signed expire by that time)",
            old.kid,
            old.removable_at.map(at).unwrap_or_default()
        );
    }
    if current.len() > 1 {
        return "safe to switch the API server's signing key now: every published key is visible everywhere; keep the old public key in --service-account-key-file until its tokens expire".into();
    }
    "nothing to do: one key, published and visible; to rotate, publish the new public key first (`rotate stage --key-file new.pub` or sync --key-file)".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::parse_jwks;
    use crate::model::state::{plan_keys, DEFAULT_RETENTION};

    const ROTATION: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const OLD: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
    const NEW: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";
    const MAX_AGE: Duration = Duration::from_secs(300);

    fn t(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + minutes * 60).unwrap()
    }

    fn state_after(steps: &[(&[u8], i64)]) -> State {
        let mut state = State::default();
        let mut published = vec![];
        for (jwks, minute) in steps {
            let plan = plan_keys(
                &parse_jwks(jwks).unwrap().keys,
                &published,
                &state,
                t(*minute),
                DEFAULT_RETENTION,
                &[],
            )
            .unwrap();
            state = plan.state;
            published = plan.publish;
        }
        state
    }

    #[test]
    fn a_staged_key_is_safe_to_sign_with_once_caches_expired() {
        let staged = state_after(&[(RSA, 0), (ROTATION, 60)]);
        let kids = vec![OLD.to_owned()];
        let s = status(&staged, &kids, t(62), MAX_AGE, DEFAULT_RETENTION);
        assert!(s.next_step.starts_with("wait 8 minutes"), "{}", s.next_step);
        assert!(s.next_step.contains(NEW));
        let s = status(&staged, &kids, t(70), MAX_AGE, DEFAULT_RETENTION);
        assert!(s.next_step.starts_with("safe to switch"), "{}", s.next_step);
        let new = s.keys.iter().find(|k| k.kid == NEW).unwrap();
        assert!(!new.at_api_server && new.published);
    }

    #[test]
    fn after_the_switch_the_old_key_is_removable_after_the_retention() {
        let state = state_after(&[(RSA, 0), (ROTATION, 60)]);
        let mut switched = state.clone();
        switched.keys.get_mut(OLD).unwrap().removed_since = Some(t(120));
        let s = status(
            &switched,
            &[NEW.to_owned()],
            t(130),
            MAX_AGE,
            DEFAULT_RETENTION,
        );
        assert!(
            s.next_step
                .starts_with(&format!("old key {OLD} removable at")),
            "{}",
            s.next_step
        );
        let old = s.keys.iter().find(|k| k.kid == OLD).unwrap();
        assert_eq!(old.removable_at, Some(t(120) + DEFAULT_RETENTION));
    }

    #[test]
    fn an_unpublished_key_at_the_api_server_comes_first() {
        let state = state_after(&[(RSA, 0)]);
        let s = status(
            &state,
            &[OLD.to_owned(), NEW.to_owned()],
            t(10),
            MAX_AGE,
            DEFAULT_RETENTION,
        );
        assert!(
            s.next_step.contains("not published: run sync"),
            "{}",
            s.next_step
        );
        let s = status(&state, &[OLD.to_owned()], t(10), MAX_AGE, DEFAULT_RETENTION);
        assert!(s.next_step.starts_with("nothing to do"), "{}", s.next_step);
    }
}
