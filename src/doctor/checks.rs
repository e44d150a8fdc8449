//! The checks: a pure function from what was observed ([`Facts`]) and the time to findings,
//! in the order STS walks the chain (PROTOCOL.md §6): the issuer, the discovery document, the
//! JWKS, the keys and a real token, the IAM provider, the S3 store, the role. A check whose
//! input is missing is `skipped` with what to pass; a check that depends on a failed one is
//! skipped with "fix … first", so each problem is reported once, where it starts.

use std::collections::BTreeSet;

use super::bucket;
use super::config::RoleArn;
use super::facts::{Answer, Facts, FetchError, Fetched, Gathered, ProviderFacts};
use super::findings::{sts, Finding, Severity, CATALOGUE};
use super::token::{self, Decoded, SKEW_SECONDS};
use super::trust;
use crate::model::issuer::Issuer;
use crate::model::jwk::{parse_jwks, JwksError, KeySet};
use crate::model::thumbprint::rfc3339;
use crate::model::Jwk;

/// STS gives up on a document fetch past about this long (PROTOCOL.md §2).
pub const STS_BUDGET_MS: u64 = 5_000;
/// Slower than this is reported as a warning: little margin left under STS's budget.
pub const SLOW_MS: u64 = 2_000;
/// A longer `max-age` delays the moment a rotated key becomes visible to STS.
pub const MAX_AGE_LIMIT: u64 = 3_600;

/// Every finding, in catalogue order.
pub fn check(facts: &Facts, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    out.push(issuer_format(facts));
    out.push(issuer_api_server(facts));

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

    out.push(keys_api_server(facts, keys.as_deref()));
    let decoded = match &facts.token {
        Gathered::Got(t) => Some(token::decode(&t.jwt)),
        _ => None,
    };
    out.extend(token_findings(
        facts,
        decoded.as_ref(),
        keys.as_deref(),
        now,
    ));

    let token = decoded.as_ref().and_then(|d| d.as_ref().ok());
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
    out.extend(s3_findings(facts));
    out.extend(
        role_findings(facts, token, &audiences)
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
            }),
    );
    out.push(annotation(facts));
    debug_assert_eq!(
        out.iter().map(|f| f.check).collect::<Vec<_>>(),
        CATALOGUE.iter().map(|(id, _)| *id).collect::<Vec<_>>()
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

fn issuer_format(facts: &Facts) -> Finding {
    const CHECK: &str = "issuer.format";
    match Issuer::parse(&facts.issuer) {
        Ok(_) => Finding::ok(
            CHECK,
            format!("{} is https, without port, query, fragment or trailing slash", facts.issuer),
        ),
        Err(e) => Finding::error(
            CHECK,
            Some(sts::no_provider(&facts.issuer)),
            e.to_string(),
            "use one canonical https URL, byte for byte the same, as the API server's first --service-account-issuer, in the published documents and as the IAM provider URL",
        ),
    }
}

fn issuer_api_server(facts: &Facts) -> Finding {
    const CHECK: &str = "issuer.api_server";
    let Some(cluster) = facts.cluster.got() else {
        return gathered_skip(CHECK, &facts.cluster);
    };
    if cluster.issuer == facts.issuer {
        return Finding::ok(
            CHECK,
            format!(
                "the API server at {} signs tokens with this issuer",
                cluster.server
            ),
        );
    }
    Finding::error(
        CHECK,
        Some(sts::no_provider(&cluster.issuer)),
        format!(
            "the API server at {} signs tokens with issuer {:?}, not {:?}: its tokens name an issuer this setup does not serve",
            cluster.server, cluster.issuer, facts.issuer
        ),
        format!(
            "on every kube-apiserver set --service-account-issuer={} first (keep --service-account-issuer={} second while old tokens live) and --service-account-jwks-uri={}/openid/v1/jwks",
            facts.issuer, cluster.issuer, facts.issuer
        ),
    )
}

/// `<doc>.fetch`, `<doc>.content_type`, `<doc>.cache_control` for one GET.
fn document_fetch(
    doc: &'static str,
    fetched: Option<&Fetched>,
    missing: Option<(&str, &str)>,
) -> Vec<Finding> {
    let (fetch, content_type, cache_control) = match doc {
        "discovery" => (
            "discovery.fetch",
            "discovery.content_type",
            "discovery.cache_control",
        ),
        _ => ("jwks.fetch", "jwks.content_type", "jwks.cache_control"),
    };
    let Some(fetched) = fetched else {
        let (why, pass) = match missing {
            Some((why, pass)) => (format!("not fetched: {why}"), pass),
            None => (
                "not fetched: the issuer is not an https URL STS would fetch".to_owned(),
                "fix issuer.format first",
            ),
        };
        return vec![
            Finding::skipped(fetch, why.clone(), pass),
            Finding::skipped(content_type, why.clone(), pass),
            Finding::skipped(cache_control, why, pass),
        ];
    };
    let url = &fetched.url;
    let not_public_fix = "make it anonymously readable at exactly this URL (S3: Block Public Access allowing a public policy and a bucket policy granting s3:GetObject to \"*\"; see step 6)";
    let fetch_finding = match &fetched.result {
        Err(FetchError::Timeout { budget_ms }) => Finding::error(
            fetch,
            Some(sts::NO_KEY.into()),
            format!("GET {url}: no complete answer within {} s, and STS gives up after about 5 s", budget_ms / 1000),
            "serve the documents from a static, fast host (S3, CloudFront, a plain web server); check the host's latency from the internet",
        ),
        Err(FetchError::UnknownIssuer { detail }) => Finding {
            fix: Some("pass the private CA's certificate with --ca-file PATH; STS accepts a host whose chain IAM does not trust only through the provider's thumbprint, which step 5 then checks".into()),
            ..Finding::could_not_run(
                fetch,
                format!("GET {url}: {detail}. Doctor cannot read the document without trusting the chain"),
            )
        },
        Err(FetchError::Tls { detail }) => Finding::error(
            fetch,
            Some(sts::NO_KEY.into()),
            format!("GET {url}: {detail}"),
            "serve a complete certificate chain valid for this host name; a private CA needs the IAM provider's thumbprint (step 5) and --ca-file here",
        ),
        Err(FetchError::Transport { detail }) => Finding::error(
            fetch,
            Some(sts::NO_KEY.into()),
            format!("GET {url}: {detail}"),
            "make the host reachable from the internet on port 443 (STS fetches from AWS's network)",
        ),
        Err(FetchError::TooLarge { limit }) => Finding::error(
            fetch,
            Some(sts::NO_KEY.into()),
            format!("GET {url}: the body is larger than {limit} bytes"),
            "publish the documents sync renders (a few kilobytes)",
        ),
        Ok(answer) => status_finding(fetch, url, answer, not_public_fix),
    };
    let answered = fetched.result.as_ref().ok().filter(|a| a.status == 200);
    let Some(answer) = answered else {
        let why = format!("not checked: {fetch} failed");
        let pass = format!("fix {fetch} first");
        return vec![
            fetch_finding,
            Finding::skipped(content_type, why.clone(), pass.clone()),
            Finding::skipped(cache_control, why, pass),
        ];
    };
    vec![
        fetch_finding,
        content_type_finding(content_type, answer, doc == "jwks"),
        cache_control_finding(cache_control, answer),
    ]
}

fn status_finding(
    check: &'static str,
    url: &str,
    answer: &Answer,
    not_public_fix: &str,
) -> Finding {
    let ms = answer.elapsed_ms;
    match answer.status {
        200 if ms > STS_BUDGET_MS => Finding::error(
            check,
            Some(sts::NO_KEY.into()),
            format!("GET {url} answered 200 but took {ms} ms; STS gives up after about 5 s"),
            "serve the documents from a static, fast host (S3, CloudFront)",
        ),
        200 if ms > SLOW_MS => Finding::warning_risk(
            check,
            sts::NO_KEY,
            format!("GET {url} answered 200 in {ms} ms: close to the ~5 s after which STS gives up"),
            "serve the documents from a static, fast host (S3, CloudFront)",
        ),
        200 => Finding::ok(check, format!("GET {url} answered 200 in {ms} ms, anonymously")),
        status @ 300..=399 => Finding::error(
            check,
            Some(sts::NO_KEY.into()),
            format!(
                "GET {url} answered {status} redirecting to {}; STS is not documented to follow redirects, so do not rely on it",
                answer.header("location").unwrap_or("(no Location header)")
            ),
            "serve the document at exactly this URL; for S3 use the regional virtual-hosted URL https://BUCKET.s3.REGION.amazonaws.com as the issuer",
        ),
        403 | 401 => Finding::error(
            check,
            Some(sts::NO_KEY.into()),
            format!("GET {url} answered {} in {ms} ms: the document is not public", answer.status),
            not_public_fix,
        ),
        404 => Finding::error(
            check,
            Some(sts::NO_KEY.into()),
            format!("GET {url} answered 404: nothing is published at this URL"),
            "run sync to publish the documents under the issuer (the store location is the issuer root)",
        ),
        status => Finding::error(
            check,
            Some(sts::NO_KEY.into()),
            format!("GET {url} answered {status} in {ms} ms"),
            "make the host answer 200 with the document",
        ),
    }
}

fn content_type_finding(check: &'static str, answer: &Answer, jwks: bool) -> Finding {
    let value = answer.header("content-type");
    let media = value
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let fine = match media.as_deref() {
        Some("application/json") => true,
        Some("application/jwk-set+json") => jwks,
        _ => false,
    };
    if fine {
        Finding::ok(
            check,
            format!("Content-Type: {}", value.unwrap_or_default()),
        )
    } else {
        Finding::warning(
            check,
            format!(
                "Content-Type is {}, not application/json",
                value.map_or("missing".to_owned(), |v| format!("{v:?}"))
            ),
            "serve the documents with Content-Type: application/json (sync sets it on S3 objects)",
        )
    }
}

fn cache_control_finding(check: &'static str, answer: &Answer) -> Finding {
    let Some(value) = answer.header("cache-control") else {
        return Finding::ok(check, "no Cache-Control: STS caches by its own rules");
    };
    let directives: Vec<String> = value
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let max_age = directives
        .iter()
        .find_map(|d| d.strip_prefix("max-age="))
        .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
    let fix = "serve Cache-Control: public, max-age=300 (sync --cache-max-age; 60 to 3600 s)";
    if directives
        .iter()
        .any(|d| d == "no-cache" || d == "no-store")
        || max_age == Some(0)
    {
        return Finding::warning_risk(
            check,
            sts::NO_KEY,
            format!("Cache-Control: {value}: STS refetches on every call and gets throttled (\"Couldn't retrieve verification key\" under load)"),
            fix,
        );
    }
    if let Some(age) = max_age.filter(|age| *age > MAX_AGE_LIMIT) {
        return Finding::warning_risk(
            check,
            sts::NO_KEY,
            format!("Cache-Control: {value}: STS may keep stale keys for {age} s after a rotation"),
            fix,
        );
    }
    Finding::ok(check, format!("Cache-Control: {value}"))
}

fn discovery_document(facts: &Facts, answer: Option<&Answer>) -> Finding {
    const CHECK: &str = "discovery.document";
    let Some(answer) = answer else {
        return Finding::skipped(
            CHECK,
            "not checked: discovery.fetch failed",
            "fix discovery.fetch first",
        );
    };
    let doc: serde_json::Value = match serde_json::from_slice(&answer.body) {
        Ok(doc @ serde_json::Value::Object(_)) => doc,
        _ => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                "the discovery document is not a JSON object",
                "publish the document sync renders",
            )
        }
    };
    let mut problems = Vec::new();
    let mut sts_error = None;
    match doc.get("issuer").and_then(|v| v.as_str()) {
        Some(issuer) if issuer == facts.issuer => {}
        Some(issuer) => problems.push(format!(
            "its issuer is {issuer:?}, not {:?} (OIDC requires them to be equal byte for byte; STS's answer to this is not documented)",
            facts.issuer
        )),
        None => problems.push("it has no \"issuer\"".to_owned()),
    }
    match doc.get("jwks_uri").and_then(|v| v.as_str()) {
        Some(uri) if uri.starts_with("https://") && url::Url::parse(uri).is_ok() => {}
        Some(uri) => {
            sts_error = Some(sts::NO_KEY.to_owned());
            problems.push(format!(
                "its jwks_uri {uri:?} is not an https URL STS can fetch (an API server's own discovery document points at the API server: it is not publishable as is)"
            ));
        }
        None => {
            sts_error = Some(sts::NO_KEY.to_owned());
            problems.push("it has no \"jwks_uri\"".to_owned());
        }
    }
    if problems.is_empty() {
        return Finding::ok(
            CHECK,
            format!(
                "issuer matches; jwks_uri {}",
                doc["jwks_uri"].as_str().unwrap_or_default()
            ),
        );
    }
    Finding::error(
        CHECK,
        sts_error,
        format!("the discovery document is wrong: {}", problems.join("; ")),
        format!(
            "publish the document sync renders for issuer {} (issuer equal to it, jwks_uri {}/openid/v1/jwks)",
            facts.issuer,
            facts.issuer.trim_end_matches('/')
        ),
    )
}

/// `jwks.keys`, and the usable keys when the JWKS could be read.
fn jwks_keys(fetched: Option<&Fetched>) -> (Finding, Option<Vec<Jwk>>) {
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

fn keys_api_server(facts: &Facts, keys: Option<&[Jwk]>) -> Finding {
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

/// `token.kid`, `token.signature`, `token.issuer`, `token.expiry`.
fn token_findings(
    facts: &Facts,
    decoded: Option<&Result<Decoded, token::DecodeError>>,
    keys: Option<&[Jwk]>,
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
    let key = match (keys, &token.kid) {
        (None, _) => {
            out.push(Finding::skipped(
                "token.kid",
                "not checked: the public JWKS could not be read",
                "fix jwks.keys first",
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
                    format!("the token from {origin} names kid {kid}, which is published"),
                ));
                Some(key)
            }
            None => {
                out.push(Finding::error(
                    "token.kid",
                    Some(sts::NO_KEY.into()),
                    format!(
                        "the token from {origin} was signed by key {kid}, which the public JWKS does not hold (it has {})",
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
        Some(iss) if iss == facts.issuer => Finding::ok("token.issuer", "iss equals the issuer"),
        Some(iss) => Finding::error(
            "token.issuer",
            Some(sts::no_provider(iss)),
            format!(
                "the token's iss is {iss:?}, not {:?}: STS looks the provider up by iss",
                facts.issuer
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

/// `iam.provider`, `iam.client_ids`, `iam.thumbprint`.
fn iam_findings(facts: &Facts, audiences: &[String], from: AudienceFrom) -> Vec<Finding> {
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
                .any(|h: &&super::facts::TlsFacts| h.host == tls.host)
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

fn s3_findings(facts: &Facts) -> Vec<Finding> {
    const CHECKS: [&str; 4] = [
        "s3.public_access_block",
        "s3.account_public_access_block",
        "s3.object_ownership",
        "s3.bucket_policy",
    ];
    match &facts.s3 {
        Gathered::Got(s3) => bucket::check(s3),
        other => CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    }
}

/// `role.exists` and the trust-policy findings.
fn role_findings(facts: &Facts, token: Option<&Decoded>, audiences: &[String]) -> Vec<Finding> {
    const CHECKS: [&str; 6] = [
        "role.exists",
        "role.principal",
        "role.action",
        "role.condition_keys",
        "role.sub",
        "role.aud",
    ];
    let role = match &facts.role {
        Gathered::Got(role) => role,
        other => return CHECKS.iter().map(|c| gathered_skip(c, other)).collect(),
    };
    let Some(policy) = &role.trust_policy else {
        let mut out = vec![Finding::error(
            "role.exists",
            Some(sts::ACCESS_DENIED.into()),
            format!("the role {} does not exist", role.arn),
            "create it with the trust policy `kube-oidc-publisher trust-policy` prints, or fix --role-arn",
        )];
        out.extend(CHECKS[1..].iter().map(|c| {
            Finding::skipped(
                c,
                "not checked: the role does not exist",
                "fix role.exists first",
            )
        }));
        return out;
    };
    let arn = RoleArn::parse(&role.arn).expect("validated with the flags");
    let host_path = facts
        .issuer
        .strip_prefix("https://")
        .unwrap_or(&facts.issuer);
    let provider_arn = format!(
        "arn:{}:iam::{}:oidc-provider/{host_path}",
        arn.partition, arn.account
    );
    let subject = facts
        .service_account
        .as_ref()
        .map(|sa| sa.subject())
        .or_else(|| {
            token
                .and_then(Decoded::sub)
                .filter(|s| s.starts_with("system:serviceaccount:"))
                .map(str::to_owned)
        });
    let mut out = vec![Finding::ok("role.exists", format!("{} exists", role.arn))];
    out.extend(trust::analyse(
        policy,
        &trust::Expected {
            provider_arn: &provider_arn,
            host_path,
            subject: subject.as_deref(),
            audiences,
        },
    ));
    out
}

fn annotation(facts: &Facts) -> Finding {
    const CHECK: &str = "serviceaccount.annotation";
    const KEY: &str = "eks.amazonaws.com/role-arn";
    let Some(sa) = &facts.service_account else {
        return Finding::skipped(
            CHECK,
            "not checked: no ServiceAccount given",
            "pass --service-account NS/NAME (with a reachable cluster)",
        );
    };
    let annotation = match &facts.annotation {
        Gathered::Got(annotation) => annotation,
        other => return gathered_skip(CHECK, other),
    };
    let annotate = |arn: &str| {
        format!(
            "kubectl annotate serviceaccount -n {} {} {KEY}={arn} --overwrite",
            sa.namespace, sa.name
        )
    };
    match (annotation, &facts.role_arn) {
        (Some(value), Some(role)) if value == role => {
            Finding::ok(CHECK, format!("{sa} is annotated {KEY}={value}"))
        }
        (Some(value), Some(role)) => Finding::error(
            CHECK,
            None,
            format!("{sa} is annotated {KEY}={value}, not {role}: its pods assume that role instead"),
            annotate(role),
        ),
        (Some(value), None) => Finding::ok(
            CHECK,
            format!("{sa} is annotated {KEY}={value} (pass --role-arn to check that role)"),
        ),
        (None, role) => Finding::warning(
            CHECK,
            format!("{sa} has no {KEY} annotation: the pod identity webhook injects no token or AWS_ROLE_ARN into its pods (fine only if the pod spec sets them itself)"),
            annotate(role.as_deref().unwrap_or("arn:aws:iam::ACCOUNT:role/NAME")),
        ),
    }
}
