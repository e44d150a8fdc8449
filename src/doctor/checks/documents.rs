//! `discovery.*` and `jwks.*` fetches: each document GET the way STS makes it (status, time,
//! Content-Type, Cache-Control), and the discovery document's `issuer` and `jwks_uri`.

use super::{MAX_AGE_LIMIT, SLOW_MS, STS_BUDGET_MS};
use crate::doctor::facts::{Answer, Facts, FetchError, Fetched};
use crate::doctor::findings::{sts, Finding};

/// `<doc>.fetch`, `<doc>.content_type`, `<doc>.cache_control` for one GET.
pub(super) fn document_fetch(
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

pub(super) fn discovery_document(facts: &Facts, answer: Option<&Answer>) -> Finding {
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
