//! The checks: a pure function from what was observed ([`Facts`]) and the time to findings,
//! in the order STS walks the chain (PROTOCOL.md §6): the issuer, the discovery document, the
//! JWKS, the keys and a real token, the IAM provider, the S3 store, the role. A check whose
//! input is missing is `skipped` with what to pass; a check that depends on a failed one is
//! skipped with "fix … first", so each problem is reported once, where it starts.
//!
//! One file per step of that chain: [`issuer`], [`documents`] (the two GETs and the discovery
//! document), [`keys`] (the public JWKS against the API server's), [`token`], [`iam`] (the OIDC
//! provider); the S3 checks are [`super::bucket`], the checks of an issuer served by CloudFront
//! [`cloudfront`] (reported only for such an issuer), and [`role`] hands the trust policy to
//! [`super::trust`]; [`migration`] judges the other issuer of a recorded migration (reported
//! only during one). This module runs them in order and holds what they share.

mod cloudfront;
mod documents;
mod iam;
mod issuer;
mod keys;
mod migration;
mod role;
mod token;

pub use cloudfront::{
    default_origin, name_covers, object_key, OriginEndpoint, CHECKS as CLOUDFRONT_CHECKS,
};
use documents::{discovery_document, document_fetch};
use iam::iam_findings;
use issuer::{issuer_api_server, issuer_format};
use keys::{jwks_keys, keys_api_server};
use migration::{iam_migration, issuer_migration, jwks_migration, role_migration, View};
pub use migration::{reported as migration_reported, CHECKS as MIGRATION_CHECKS};
use role::{annotation, role_findings};
use token::token_findings;

use super::bucket;
use super::facts::{Facts, Gathered};
use super::findings::{Finding, Severity, CATALOGUE};
use super::token::Decoded;
use crate::model::issuer::Issuer;

/// STS gives up on a document fetch past about this long (PROTOCOL.md §2).
pub const STS_BUDGET_MS: u64 = 5_000;
/// Slower than this is reported as a warning: little margin left under STS's budget.
pub const SLOW_MS: u64 = 2_000;
/// A longer `max-age` delays the moment a rotated key becomes visible to STS.
pub const MAX_AGE_LIMIT: u64 = 3_600;

/// Every finding, in catalogue order.
pub fn check(facts: &Facts, now: i64) -> Vec<Finding> {
    let decoded = match &facts.token {
        Gathered::Got(t) => Some(super::token::decode(&t.jwt)),
        _ => None,
    };
    let token = decoded.as_ref().and_then(|d| d.as_ref().ok());
    let view = View::new(facts, now, token.and_then(Decoded::iss));
    let view = view.as_ref();
    let reported = |id: &str| migration::reported(facts, id);

    let mut out = Vec::new();
    out.push(issuer_format(facts));
    out.push(issuer_api_server(facts, view));
    if reported("issuer.migration") {
        out.push(issuer_migration(facts, view));
    }

    let discovery = facts.public.discovery.as_ref();
    out.extend(document_fetch("discovery", discovery, None));
    let discovery_answer = discovery
        .and_then(|d| d.result.as_ref().ok())
        .filter(|a| a.status == 200);
    out.push(discovery_document(facts, discovery_answer));

    let jwks_fetch = facts.public.jwks.as_ref();
    let missing = if discovery_answer.is_none() {
        ("discovery.fetch failed", "fix discovery.fetch first")
    } else {
        (
            "the discovery document names no https jwks_uri",
            "fix discovery.document first",
        )
    };
    out.extend(document_fetch("jwks", jwks_fetch, Some(missing)));
    let (keys_finding, keys) = jwks_keys(jwks_fetch);
    out.push(keys_finding);
    let mut other_keys = None;
    if reported("jwks.migration") {
        let (finding, keys) = jwks_migration(facts, view);
        out.push(finding);
        other_keys = keys;
    }

    out.push(keys_api_server(facts, keys.as_deref()));
    // A token of the migration's other issuer is judged against that issuer's keys.
    let other_issuer = view.map(|v| token::OtherIssuer {
        issuer: v.issuer(v.other.which),
        which: v.other.which,
        described: v.described(),
        keys: other_keys.as_deref(),
    });
    out.extend(token_findings(
        facts,
        decoded.as_ref(),
        keys.as_deref(),
        other_issuer.as_ref(),
        now,
    ));

    let (audiences, audience_from) = match token.map(Decoded::aud) {
        Some(aud) if !aud.is_empty() => (aud, AudienceFrom::Token),
        _ => (vec![facts.audience.clone()], AudienceFrom::Flag),
    };
    // The provider URL and the role's condition keys are made from the issuer: with a
    // malformed one, their checks would look up (and suggest creating) what IAM refuses.
    let issuer_ok = Issuer::parse(&facts.issuer).is_ok();
    if issuer_ok {
        out.extend(iam_findings(facts, &audiences, audience_from));
    } else {
        out.extend(IAM_CHECKS.iter().map(|c| depends_on(c, "issuer.format")));
    }
    if reported("iam.migration") {
        out.push(iam_migration(facts, view, &audiences));
    }
    out.extend(s3_findings(facts));
    out.extend(cloudfront::cloudfront_findings(facts, now));
    let role = role_findings(facts, token, &audiences)
        .into_iter()
        .map(|f| match f.check {
            // Not a skip for a missing input, which says what to pass.
            "role.principal" | "role.condition_keys"
                if !issuer_ok
                    && (f.severity != Severity::Skipped
                        || f.fix.as_deref() == Some("fix role.principal first")) =>
            {
                depends_on(f.check, "issuer.format")
            }
            _ => f,
        })
        .collect::<Vec<_>>();
    out.extend(role.iter().cloned());
    if reported("role.migration") {
        let subject = role::subject(facts, token);
        out.push(role_migration(
            facts,
            view,
            &role,
            subject.as_deref(),
            &audiences,
        ));
    }
    out.push(annotation(facts));
    debug_assert_eq!(
        out.iter().map(|f| f.check).collect::<Vec<_>>(),
        CATALOGUE
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| facts.cloudfront.is_some() || !id.starts_with("cloudfront."))
            .filter(|id| !id.ends_with(".migration") || reported(id))
            .collect::<Vec<_>>()
    );
    out
}

/// Where the audience the IAM and role checks compare comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AudienceFrom {
    /// The `aud` of the token given or minted.
    Token,
    /// `--audience` (its default), because no token was given.
    Flag,
}

const IAM_CHECKS: [&str; 3] = ["iam.provider", "iam.client_ids", "iam.thumbprint"];

/// A check not run because `on`, which it builds on, failed: reported once, where it starts.
fn depends_on(check: &'static str, on: &str) -> Finding {
    Finding::skipped(
        check,
        format!("skipped: depends on {on}, which failed"),
        format!("fix {on} first"),
    )
}

fn gathered_skip<T>(check: &'static str, gathered: &Gathered<T>) -> Finding {
    match gathered {
        Gathered::NotGiven { why, pass } => Finding::skipped(check, why.clone(), pass.clone()),
        Gathered::Failed { error } => Finding::could_not_run(check, error.clone()),
        Gathered::Got(_) => unreachable!("only for values that were not read"),
    }
}

fn s3_findings(facts: &Facts) -> Vec<Finding> {
    const CHECKS: [&str; 4] = [
        "s3.public_access_block",
        "s3.account_public_access_block",
        "s3.object_ownership",
        "s3.bucket_policy",
    ];
    match &facts.s3 {
        Gathered::Got(s3) => bucket::check(s3, facts.cloudfront.is_some()),
        other => CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    }
}
