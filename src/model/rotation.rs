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
    /// Whether the API server signs new tokens with it (`None`: unknown, see
    /// [`RotationStatus::signing_unknown`]).
    pub signing: Option<bool>,
    pub published: bool,
    /// Published by `rotate stage`, not served by the API server yet.
    pub staged: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_since: Option<OffsetDateTime>,
    /// When an anonymous GET of the public JWKS first showed it (`rotate stage`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub publicly_visible_since: Option<OffsetDateTime>,
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
    /// The kid of a freshly minted token's header, when known.
    pub signing_kid: Option<String>,
    /// Why the signing key is not known, and what to pass.
    pub signing_unknown: Option<String>,
    pub next_step: String,
}

/// What is known about the key the API server signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signing {
    /// The kid of a fresh token (whose signature verified with the API server's key).
    Known(String),
    /// Not known, and why (no TokenRequest configured, refused, ...).
    Unknown(String),
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
    signing: &Signing,
    now: OffsetDateTime,
    cache_max_age: Duration,
    retention: Duration,
) -> RotationStatus {
    let signing_kid = match signing {
        Signing::Known(kid) => Some(kid.as_str()),
        Signing::Unknown(_) => None,
    };
    let signs = |kid: &str| signing_kid.map(|s| s == kid);
    let mut keys: Vec<KeyStatus> = state
        .keys
        .iter()
        .map(|(kid, record)| {
            // A cache may have fetched a JWKS without the key until it was publicly visible.
            let shown = record
                .publicly_visible_since
                .map_or(record.first_published, |v| v.max(record.first_published));
            KeyStatus {
                kid: kid.clone(),
                at_api_server: api_server_kids.contains(kid),
                signing: signs(kid),
                published: true,
                staged: record.staged,
                published_since: Some(record.first_published),
                publicly_visible_since: record.publicly_visible_since,
                visible_everywhere_at: Some(shown + cache_max_age + CACHE_MARGIN),
                removed_since: record.removed_since,
                removable_at: record.removed_since.map(|since| since + retention),
            }
        })
        .collect();
    let mut unlisted: Vec<&String> = api_server_kids
        .iter()
        .filter(|kid| !state.keys.contains_key(*kid))
        .collect();
    if let Some(kid) = signing_kid
        .filter(|kid| !state.keys.contains_key(*kid) && !api_server_kids.iter().any(|k| k == kid))
    {
        keys.push(KeyStatus {
            kid: kid.to_owned(),
            at_api_server: false,
            signing: Some(true),
            published: false,
            staged: false,
            published_since: None,
            publicly_visible_since: None,
            visible_everywhere_at: None,
            removed_since: None,
            removable_at: None,
        });
    }
    unlisted.dedup();
    for kid in unlisted {
        keys.push(KeyStatus {
            kid: kid.clone(),
            at_api_server: true,
            signing: signs(kid),
            published: false,
            staged: false,
            published_since: None,
            publicly_visible_since: None,
            visible_everywhere_at: None,
            removed_since: None,
            removable_at: None,
        });
    }
    let next_step = next_step(&keys, signing_kid, now, retention);
    RotationStatus {
        keys,
        signing_kid: signing_kid.map(str::to_owned),
        signing_unknown: match signing {
            Signing::Unknown(why) => Some(why.clone()),
            Signing::Known(_) => None,
        },
        next_step,
    }
}

fn next_step(
    keys: &[KeyStatus],
    signing: Option<&str>,
    now: OffsetDateTime,
    retention: Duration,
) -> String {
    if let Some(k) = keys.iter().find(|k| !k.published) {
        if k.at_api_server {
            return format!("key {} is at the API server but not published: run sync now (STS rejects tokens it signs until then)", k.kid);
        }
        return format!("the API server signs with key {}, which it does not serve and which is not published: STS rejects every new token. Add its public key to every kube-apiserver's --service-account-key-file (or publish it with `rotate stage --key-file`) now", k.kid);
    }
    let signing_key = signing.and_then(|s| keys.iter().find(|k| k.kid == s));
    if let Some(key) = signing_key {
        // A JWKS without it was published before, and caches may still serve that one.
        let earlier = keys
            .iter()
            .any(|k| k.kid != key.kid && k.published_since < key.published_since);
        if let Some(t) = key.visible_everywhere_at.filter(|t| *t > now && earlier) {
            return format!(
                "the API server already signs with key {}, published only since {}: caches may serve a JWKS without it until {} ({} minutes), and tokens it signs can fail STS until then. Keep the key published and wait",
                key.kid,
                key.published_since.map(at).unwrap_or_default(),
                at(t),
                minutes_until(now, t)
            );
        }
    }
    if let Some(k) = keys
        .iter()
        .find(|k| k.staged && k.publicly_visible_since.is_none())
    {
        return format!(
            "key {} is staged but was not yet seen at the public JWKS URL: run `rotate stage --key-file …` again to check (do not switch the API server to it before)",
            k.kid
        );
    }
    // Waiting matters while the API server still has another key to sign with; once it serves
    // only the new key, the switch has happened and the retention of the old one is what counts.
    let at_api = keys.iter().filter(|k| k.at_api_server).count();
    let pending = keys
        .iter()
        .filter(|k| k.removed_since.is_none() && !(k.at_api_server && at_api == 1))
        .filter(|k| k.signing != Some(true))
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
    if let (Some(signer), true) = (signing_key, current.len() > 1) {
        let newest = current
            .iter()
            .max_by_key(|k| (k.published_since, k.kid.as_str()))
            .expect("more than one current key");
        if newest.kid == signer.kid {
            let old: Vec<&str> = current
                .iter()
                .filter(|k| k.kid != signer.kid && k.at_api_server)
                .map(|k| k.kid.as_str())
                .collect();
            if !old.is_empty() {
                return format!(
                    "the API server signs with the new key {}: once every API server does, remove the old key {} from every kube-apiserver's --service-account-key-file; sync then keeps it published for the retention, so it is removable at {} at the earliest",
                    signer.kid,
                    old.join(", "),
                    at(now + retention)
                );
            }
        } else {
            return format!(
                "safe to switch the API server's signing key from {} to {} now: it is visible everywhere; keep the old public key in --service-account-key-file until its tokens expire",
                signer.kid, newest.kid
            );
        }
    }
    if let Some(old) = retained.iter().min_by_key(|k| k.removable_at) {
        let signer = signing_key
            .map(|k| format!("the API server signs with {}; ", k.kid))
            .unwrap_or_default();
        return format!(
            "{signer}old key {} removable at {}: sync retires it then (tokens it signed expire by that time)",
            old.kid,
            old.removable_at.map(at).unwrap_or_default()
        );
    }
    if current.len() > 1 {
        return "safe to switch the API server's signing key now: every published key is visible everywhere; keep the old public key in --service-account-key-file until its tokens expire".into();
    }
    "nothing to do: one key, published and visible; to rotate, publish the new public key first (`rotate stage --key-file new.pub`)".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::jwk::parse_jwks;
    use crate::model::state::{plan_keys, Requests, DEFAULT_RETENTION};

    const ROTATION: &[u8] =
        include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rotation-two-keys.json");
    const RSA: &[u8] = include_bytes!("../../tests/fixtures/kube-apiserver/jwks-rsa.json");
    const OLD: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
    const NEW: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";
    const MAX_AGE: Duration = Duration::from_secs(300);

    fn unknown() -> Signing {
        Signing::Unknown("not asked".into())
    }

    fn t(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000 + minutes * 60).unwrap()
    }

    /// [`status`] with the test's max-age and the default retention.
    fn status_at(
        state: &State,
        api_server_kids: &[String],
        signing: &Signing,
        now: OffsetDateTime,
    ) -> RotationStatus {
        status(
            state,
            api_server_kids,
            signing,
            now,
            MAX_AGE,
            DEFAULT_RETENTION,
        )
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
                &Requests::default(),
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
        let s = status_at(&staged, &kids, &unknown(), t(62));
        assert!(s.next_step.starts_with("wait 8 minutes"), "{}", s.next_step);
        assert!(s.next_step.contains(NEW));
        let s = status_at(&staged, &kids, &unknown(), t(70));
        assert!(s.next_step.starts_with("safe to switch"), "{}", s.next_step);
        let new = s.keys.iter().find(|k| k.kid == NEW).unwrap();
        assert!(!new.at_api_server && new.published);
    }

    #[test]
    fn after_the_switch_the_old_key_is_removable_after_the_retention() {
        let state = state_after(&[(RSA, 0), (ROTATION, 60)]);
        let mut switched = state.clone();
        switched.keys.get_mut(OLD).unwrap().removed_since = Some(t(120));
        let s = status_at(&switched, &[NEW.to_owned()], &unknown(), t(130));
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
        let s = status_at(&state, &[OLD.to_owned(), NEW.to_owned()], &unknown(), t(10));
        assert!(
            s.next_step.contains("not published: run sync"),
            "{}",
            s.next_step
        );
        let s = status_at(&state, &[OLD.to_owned()], &unknown(), t(10));
        assert!(s.next_step.starts_with("nothing to do"), "{}", s.next_step);
    }

    fn known(kid: &str) -> Signing {
        Signing::Known(kid.to_owned())
    }

    #[test]
    fn with_the_signing_key_known_the_next_step_names_the_switch_and_the_removal() {
        let state = state_after(&[(RSA, 0), (ROTATION, 60)]);
        let both = vec![OLD.to_owned(), NEW.to_owned()];
        // Before the switch: the old key signs; wait, then switch to the new one by name.
        let s = status_at(&state, &both, &known(OLD), t(62));
        assert!(s.next_step.starts_with("wait 8 minutes"), "{}", s.next_step);
        let signing: Vec<Option<bool>> = s.keys.iter().map(|k| k.signing).collect();
        assert_eq!(signing, [Some(true), Some(false)]);
        let s = status_at(&state, &both, &known(OLD), t(70));
        assert_eq!(
            s.next_step,
            format!("safe to switch the API server's signing key from {OLD} to {NEW} now: it is visible everywhere; keep the old public key in --service-account-key-file until its tokens expire")
        );
        // Switched: the old key may leave the key files; removable a retention later.
        let s = status_at(&state, &both, &known(NEW), t(80));
        assert!(
            s.next_step.starts_with(&format!("the API server signs with the new key {NEW}: once every API server does, remove the old key {OLD}"))
                && s.next_step.contains(&at(t(80) + DEFAULT_RETENTION)),
            "{}",
            s.next_step
        );
        // Switched too early: said plainly.
        let s = status_at(&state, &both, &known(NEW), t(61));
        assert!(
            s.next_step
                .starts_with(&format!("the API server already signs with key {NEW}")),
            "{}",
            s.next_step
        );
        // Signing with a key nobody publishes.
        let s = status_at(&state, &both, &known("other"), t(80));
        assert!(
            s.next_step
                .contains("which it does not serve and which is not published"),
            "{}",
            s.next_step
        );
    }

    #[test]
    fn a_staged_key_not_yet_seen_publicly_must_be_checked_before_the_switch() {
        let mut state = state_after(&[(RSA, 0), (ROTATION, 60)]);
        state.keys.get_mut(NEW).unwrap().staged = true;
        let s = status_at(&state, &[OLD.to_owned()], &known(OLD), t(80));
        assert!(
            s.next_step.contains("is staged but was not yet seen"),
            "{}",
            s.next_step
        );
        // Seen late (a slow cache): the wait counts from then, not from the write.
        state.keys.get_mut(NEW).unwrap().publicly_visible_since = Some(t(75));
        let s = status_at(&state, &[OLD.to_owned()], &known(OLD), t(80));
        assert!(s.next_step.starts_with("wait 5 minutes"), "{}", s.next_step);
    }
}
