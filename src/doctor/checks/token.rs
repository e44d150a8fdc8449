//! `token.*`: a real token judged as STS judges it: its `kid` among the public keys, its
//! signature, its `iss`, its expiry. During a migration, a token of the other issuer is judged
//! against that issuer's public keys. Decoding and verifying are [`crate::doctor::token`]'s.

use super::gathered_skip;
use crate::doctor::facts::{Facts, Gathered};
use crate::doctor::findings::{sts, Finding};
use crate::doctor::token::{self, Decoded, SKEW_SECONDS};
use crate::model::migration::Which;
use crate::model::thumbprint::rfc3339;
use crate::model::Jwk;

/// The other issuer of a recorded migration: a token carrying its `iss` is judged against its
/// keys (`jwks.migration`) instead of the issuer given.
pub(super) struct OtherIssuer<'a> {
    pub issuer: &'a str,
    pub which: Which,
    /// "the migration recorded in STORE (OLD → NEW)".
    pub described: String,
    /// Its public JWKS's usable keys, when it could be read.
    pub keys: Option<&'a [Jwk]>,
}

/// `token.kid`, `token.signature`, `token.issuer`, `token.expiry`.
pub(super) fn token_findings(
    facts: &Facts,
    decoded: Option<&Result<Decoded, token::DecodeError>>,
    keys: Option<&[Jwk]>,
    other: Option<&OtherIssuer<'_>>,
    now: i64,
) -> Vec<Finding> {
    const CHECKS: [&str; 4] = [
        "token.kid",
        "token.signature",
        "token.issuer",
        "token.expiry",
    ];
    let origin = match &facts.token {
        Gathered::Got(t) => t.origin.clone(),
        other => return CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    };
    let token = match decoded.expect("decoded when a token was read") {
        Ok(token) => token,
        Err(e) => {
            return CHECKS
                .iter()
                .map(|c| {
                    Finding::could_not_run(
                        c,
                        format!("the token from {origin} cannot be read: {e}"),
                    )
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    // A token of the migration's other issuer: its kid and signature against that issuer's JWKS.
    let on_other = other.filter(|o| token.iss() == Some(o.issuer));
    let (keys, jwks_check) = match on_other {
        Some(o) => (o.keys, "jwks.migration"),
        None => (keys, "jwks.keys"),
    };
    let whose = on_other.map_or("the public JWKS".to_owned(), |o| {
        format!("{}'s public JWKS", o.issuer)
    });
    let key = match (keys, &token.kid) {
        (None, _) => {
            out.push(Finding::skipped(
                "token.kid",
                match on_other {
                    Some(o) => format!(
                        "not checked: the public JWKS of {} could not be read",
                        o.issuer
                    ),
                    None => "not checked: the public JWKS could not be read".to_owned(),
                },
                format!("fix {jwks_check} first"),
            ));
            None
        }
        (Some(_), None) => {
            out.push(Finding::error(
                "token.kid",
                Some(sts::NO_KEY.into()),
                format!("the token from {origin} has no kid, so STS cannot pick its key"),
                "use a token issued by kube-apiserver (it always sets kid)",
            ));
            None
        }
        (Some(keys), Some(kid)) => match keys.iter().find(|k| &k.kid == kid) {
            Some(key) => {
                out.push(Finding::ok(
                    "token.kid",
                    format!("the token from {origin} names kid {kid}, which {whose} holds"),
                ));
                Some(key)
            }
            None => {
                out.push(Finding::error(
                    "token.kid",
                    Some(sts::NO_KEY.into()),
                    format!(
                        "the token from {origin} was signed by key {kid}, which {whose} does not hold (it has {})",
                        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    "publish that key before the API server signs with it: sync (or sync --key-file NEW.pub during a rotation)",
                ));
                None
            }
        },
    };
    out.push(match key {
        Some(key) => match token::verify(token, key) {
            Ok(()) => Finding::ok("token.signature", format!("the signature verifies with the public key {}", key.kid)),
            Err(detail) => Finding::error(
                "token.signature",
                None,
                detail,
                "publish the API server's actual public keys (sync), and check which key --service-account-signing-key-file holds",
            ),
        },
        None => Finding::skipped("token.signature", "not checked: the token's key is not available", "fix token.kid first"),
    });
    out.push(match token.iss() {
        Some(iss) if iss == facts.issuer => match other {
            Some(o) => Finding::ok(
                "token.issuer",
                format!(
                    "iss equals the issuer, the {} side of {}",
                    o.which.other().as_str(),
                    o.described
                ),
            ),
            None => Finding::ok("token.issuer", "iss equals the issuer"),
        },
        Some(iss) if on_other.is_some() => {
            let o = on_other.expect("matched");
            Finding::ok(
                "token.issuer",
                format!(
                    "iss is {iss}, the {} side of {}: its kid and signature are checked against that issuer's public JWKS (jwks.migration), its provider in iam.migration",
                    o.which.as_str(),
                    o.described
                ),
            )
        }
        Some(iss) => Finding::error(
            "token.issuer",
            Some(sts::no_provider(iss)),
            format!(
                "the token's iss is {iss:?}, not {:?}{}: STS looks the provider up by iss",
                facts.issuer,
                other.map_or(String::new(), |o| format!(
                    " nor {:?}, the other issuer of {}",
                    o.issuer, o.described
                ))
            ),
            format!(
                "set the API server's first --service-account-issuer to {}",
                facts.issuer
            ),
        ),
        None => Finding::error(
            "token.issuer",
            None,
            "the token has no iss",
            "use a token issued by kube-apiserver",
        ),
    });
    out.push(expiry(token, now));
    out
}

fn expiry(token: &Decoded, now: i64) -> Finding {
    const CHECK: &str = "token.expiry";
    let Some(exp) = token.exp() else {
        return Finding::error(
            CHECK,
            None,
            "the token has no exp",
            "use a token issued by kube-apiserver",
        );
    };
    let fresh = "use a fresh token: kubelet refreshes projected tokens at 80 % of their life; for a file from `kubectl create token`, create a new one";
    if exp + SKEW_SECONDS < now {
        return Finding::error(
            CHECK,
            Some(sts::EXPIRED.into()),
            format!(
                "the token expired at {} ({} ago), past the 5 minutes of clock skew STS allows",
                rfc3339(exp),
                ago(now - exp)
            ),
            fresh,
        );
    }
    if exp < now {
        return Finding::warning_risk(
            CHECK,
            sts::EXPIRED,
            format!(
                "the token expired at {} ({} ago); STS still accepts it for 5 minutes after exp",
                rfc3339(exp),
                ago(now - exp)
            ),
            fresh,
        );
    }
    if let Some(nbf) = token.nbf().filter(|nbf| *nbf > now + SKEW_SECONDS) {
        return Finding::warning(
            CHECK,
            format!("the token is not valid before {}: check this machine's and the API server's clocks", rfc3339(nbf)),
            "synchronise the clocks (NTP)",
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "the token expires at {} (in {})",
            rfc3339(exp),
            ago(exp - now)
        ),
    )
}

fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}
