//! `iam.*`: the IAM OIDC provider for exactly this issuer, its client IDs against the token's
//! audience, and its thumbprints against the chain the public host serves.

use super::{gathered_skip, AudienceFrom, IAM_CHECKS};
use crate::doctor::facts::{Facts, Gathered, ProviderFacts};
use crate::doctor::findings::{sts, Finding};

/// `iam.provider`, `iam.client_ids`, `iam.thumbprint`.
pub(super) fn iam_findings(
    facts: &Facts,
    audiences: &[String],
    from: AudienceFrom,
) -> Vec<Finding> {
    const CHECKS: [&str; 3] = IAM_CHECKS;
    let Some(aws) = facts.aws.got() else {
        return CHECKS
            .iter()
            .map(|c| gathered_skip(c, &facts.aws))
            .collect();
    };
    let provider = match &aws.provider {
        Gathered::Got(provider) => provider.as_ref(),
        other => return CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    };
    let host_path = facts
        .issuer
        .strip_prefix("https://")
        .unwrap_or(&facts.issuer);
    let Some(provider) = provider else {
        let arn = format!(
            "arn:{}:iam::{}:oidc-provider/{host_path}",
            aws.partition, aws.provider_account
        );
        let near: Vec<&String> = aws
            .other_providers
            .iter()
            .filter(|other| similar(other, host_path))
            .collect();
        let near = if near.is_empty() {
            String::new()
        } else {
            format!(
                "; the account has {}, which STS does not match with this issuer",
                near.iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let skip = |check| {
            Finding::skipped(
                check,
                "not checked: the provider does not exist",
                "fix iam.provider first",
            )
        };
        return vec![
            Finding::error(
                "iam.provider",
                Some(sts::no_provider(&facts.issuer)),
                format!("IAM has no OIDC provider {arn} (account {}){near}", aws.provider_account),
                format!(
                    "run sync without --no-iam, or `aws iam create-open-id-connect-provider --url {} --client-id-list {}`",
                    facts.issuer, audiences.join(",")
                ),
            ),
            skip("iam.client_ids"),
            skip("iam.thumbprint"),
        ];
    };
    vec![
        Finding::ok(
            "iam.provider",
            format!("{} exists for exactly this issuer", provider.arn),
        ),
        client_ids(provider, audiences, from),
        thumbprint(facts, provider),
    ]
}

/// Another provider's host/path that a user may have meant: the same but for a trailing
/// slash, letter case or the path.
fn similar(other: &str, host_path: &str) -> bool {
    let host = |hp: &str| {
        hp.split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    other.trim_end_matches('/') == host_path.trim_end_matches('/')
        || other.eq_ignore_ascii_case(host_path)
        || host(other) == host(host_path)
}

fn client_ids(provider: &ProviderFacts, audiences: &[String], from: AudienceFrom) -> Finding {
    const CHECK: &str = "iam.client_ids";
    let which = match from {
        AudienceFrom::Token => format!("the token's audience {audiences:?}"),
        AudienceFrom::Flag => format!(
            "the audience {audiences:?} (--audience; no token was given, pass --token or --service-account to check a real token's)"
        ),
    };
    if audiences.iter().any(|a| provider.client_ids.contains(a)) {
        return Finding::ok(
            CHECK,
            format!("the client IDs {:?} contain {which}", provider.client_ids),
        );
    }
    let audience = audiences
        .first()
        .map_or("sts.amazonaws.com", String::as_str);
    Finding::error(
        CHECK,
        Some(sts::INCORRECT_AUDIENCE.into()),
        format!(
            "the provider's client IDs {:?} do not contain {which}",
            provider.client_ids
        ),
        format!(
            "`aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {} --client-id {audience}` (or sync --audience {audience}); or give the pods tokens for an audience the provider has",
            provider.arn
        ),
    )
}

fn thumbprint(facts: &Facts, provider: &ProviderFacts) -> Finding {
    const CHECK: &str = "iam.thumbprint";
    // The jwks_uri host first: that is the certificate IAM checks (PROTOCOL.md §4).
    let mut hosts = Vec::new();
    for fetched in [facts.public.jwks.as_ref(), facts.public.discovery.as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(tls) = &fetched.tls {
            if !hosts
                .iter()
                .any(|h: &&crate::doctor::facts::TlsFacts| h.host == tls.host)
            {
                hosts.push(tls);
            }
        }
    }
    if hosts.is_empty() {
        return Finding::skipped(
            CHECK,
            "not checked: no TLS handshake with the public host completed",
            "fix discovery.fetch first",
        );
    }
    let mut notes = Vec::new();
    for tls in hosts {
        if tls.publicly_trusted {
            notes.push(format!(
                "{}'s chain leads to a publicly trusted root (judged by this machine's roots): IAM verifies it with its own CA library and uses thumbprints only as a fallback",
                tls.host
            ));
        } else if provider.thumbprints.contains(&tls.last_sha1) {
            notes.push(format!(
                "{}'s chain leads to a private CA, and the provider's thumbprints include {} ({}), the last certificate it serves",
                tls.host, tls.last_sha1, tls.last_subject
            ));
        } else {
            return Finding::error(
                CHECK,
                Some(sts::THUMBPRINT.into()),
                format!(
                    "{}'s chain does not lead to a publicly trusted root, so IAM compares thumbprints: the last certificate it serves ({}) has SHA-1 {}, but the provider has {:?}",
                    tls.host, tls.last_subject, tls.last_sha1, provider.thumbprints
                ),
                format!(
                    "`aws iam update-open-id-connect-provider-thumbprint --open-id-connect-provider-arn {} --thumbprint-list {}` (or sync --thumbprint auto --ca-file PRIVATE-CA.pem)",
                    provider.arn, tls.last_sha1
                ),
            );
        }
    }
    Finding::ok(CHECK, notes.join("; "))
}
