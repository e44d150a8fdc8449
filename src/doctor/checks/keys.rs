//! `jwks.keys` and `keys.api_server`: the keys of the public JWKS that STS can use, and
//! whether every key the API server signs with is among them.

use std::collections::BTreeSet;

use super::gathered_skip;
use crate::doctor::facts::{Facts, Fetched};
use crate::doctor::findings::{sts, Finding};
use crate::model::jwk::{parse_jwks, JwksError, KeySet};
use crate::model::Jwk;

/// `jwks.keys`, and the usable keys when the JWKS could be read.
pub(super) fn jwks_keys(fetched: Option<&Fetched>) -> (Finding, Option<Vec<Jwk>>) {
    const CHECK: &str = "jwks.keys";
    let Some(answer) = fetched
        .and_then(|f| f.result.as_ref().ok())
        .filter(|a| a.status == 200)
    else {
        return (
            Finding::skipped(
                CHECK,
                "not checked: no JWKS was fetched",
                "fix jwks.fetch first",
            ),
            None,
        );
    };
    let fix =
        "publish the key set sync renders (it validates every key and drops those STS cannot use)";
    let parsed = match parse_jwks(&answer.body) {
        Ok(parsed) => parsed,
        Err(JwksError::Json(detail)) => {
            return (
                Finding::error(
                    CHECK,
                    Some(sts::NO_KEY.into()),
                    format!("the JWKS is not valid: {detail}"),
                    fix,
                ),
                None,
            )
        }
        Err(JwksError::Key(e)) => {
            return (
                Finding::error(CHECK, None, format!("the JWKS holds a bad key: {e}"), fix),
                None,
            )
        }
    };
    let dropped: Vec<String> = parsed
        .dropped
        .iter()
        .map(|(kid, reason)| format!("{kid:?} ({reason})"))
        .collect();
    let keys = parsed.keys;
    let finding = match KeySet::new(keys.iter().cloned()) {
        Err(e) => Finding::error(CHECK, Some(sts::NO_KEY.into()), e.to_string(), fix),
        Ok(set) if dropped.is_empty() => Finding::ok(
            CHECK,
            format!(
                "{} key{} STS can use: {}",
                keys.len(),
                if keys.len() == 1 { "" } else { "s" },
                set.kids().collect::<Vec<_>>().join(", ")
            ),
        ),
        Ok(set) => Finding::warning(
            CHECK,
            format!(
                "keys STS can use: {}; keys it cannot: {}",
                set.kids().collect::<Vec<_>>().join(", "),
                dropped.join(", ")
            ),
            "tokens signed by the keys STS cannot use are rejected: sign with RSA (RS256) or EC P-256/384/521",
        ),
    };
    (finding, Some(keys))
}

pub(super) fn keys_api_server(facts: &Facts, keys: Option<&[Jwk]>) -> Finding {
    const CHECK: &str = "keys.api_server";
    let Some(cluster) = facts.cluster.got() else {
        return gathered_skip(CHECK, &facts.cluster);
    };
    let Some(keys) = keys else {
        return Finding::skipped(
            CHECK,
            "not checked: the public JWKS could not be read",
            "fix jwks.keys first",
        );
    };
    let public: BTreeSet<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    let missing: Vec<&str> = cluster
        .kids
        .iter()
        .map(String::as_str)
        .filter(|kid| !public.contains(kid))
        .collect();
    if missing.is_empty() {
        return Finding::ok(
            CHECK,
            format!(
                "every key the API server publishes ({}) is in the public JWKS",
                cluster.kids.join(", ")
            ),
        );
    }
    Finding::error(
        CHECK,
        Some(sts::NO_KEY.into()),
        format!(
            "the API server publishes {} that the public JWKS lacks: tokens signed with {} are rejected",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ),
        "run sync: it publishes every key the API server has",
    )
}
