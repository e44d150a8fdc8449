//! `cloudfront.*`: an issuer served by a CloudFront distribution in front of a private bucket
//! (PROTOCOL.md §8), judged as STS meets it through the edge: the distribution serves the
//! issuer's host, DNS points the host at it, the custom domain's certificate covers the host,
//! the origin is the bucket's regional REST endpoint, an origin access control signs every
//! request to it, the bucket policy lets the service principal read the documents for exactly
//! this distribution, and the edge does not serve a copy older than its max-age allows. Each
//! problem names the STS error it causes and the command that fixes it. Pure: the resolver's
//! answers and the bucket's copies are facts, `now` is given.

use std::net::IpAddr;

use serde_json::Value;

use super::depends_on;
use crate::doctor::bucket::{anonymous, covers, effect, grants_get_object};
use crate::doctor::facts::{CloudFrontFacts, Facts, Gathered, ObjectCopy, OriginBucket};
use crate::doctor::findings::{sts, Finding};
use crate::doctor::trust::{glob, strings};
use crate::model::cloudfront::{
    Distribution, Origin, ViewerCertificate, CACHING_OPTIMIZED, CERTIFICATE_REGION,
    CLOUDFRONT_HOSTED_ZONE_ID,
};
use crate::model::issuer::dns_suffix;
use crate::model::policy;

/// The `cloudfront.*` checks, in the order they are reported.
pub const CHECKS: [&str; 7] = [
    "cloudfront.distribution",
    "cloudfront.dns",
    "cloudfront.certificate",
    "cloudfront.origin",
    "cloudfront.origin_access_control",
    "cloudfront.bucket_policy",
    "cloudfront.edge_cache",
];

/// The service principal CloudFront reads an OAC origin as.
use crate::model::policy::CLOUDFRONT_SERVICE_PRINCIPAL as SERVICE_PRINCIPAL;

/// What CloudFront keeps an object without `Cache-Control: max-age` under CachingOptimized
/// (its default TTL: one day).
const DEFAULT_TTL: i64 = 86_400;

/// What an S3 origin's domain name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginEndpoint {
    /// `BUCKET.s3.REGION.<suffix>`: what OAC needs.
    Regional { bucket: String, region: String },
    /// `BUCKET.s3.amazonaws.com`: answers a bucket outside us-east-1 with 307 redirects.
    Global { bucket: String },
    /// `BUCKET.s3-website[-.]REGION.amazonaws.com`: a website endpoint, which cannot use OAC.
    Website { bucket: String },
    /// Not an S3 endpoint.
    Other,
}

impl OriginEndpoint {
    pub fn parse(domain: &str) -> OriginEndpoint {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if let Some(at) = domain.rfind(".s3-website") {
            return OriginEndpoint::Website {
                bucket: domain[..at].to_owned(),
            };
        }
        let Some(at) = domain.rfind(".s3.") else {
            return OriginEndpoint::Other;
        };
        let bucket = domain[..at].to_owned();
        let rest = &domain[at + 4..];
        if bucket.is_empty() {
            return OriginEndpoint::Other;
        }
        if rest == "amazonaws.com" {
            return OriginEndpoint::Global { bucket };
        }
        match rest.split_once('.') {
            Some((region, suffix)) if !region.is_empty() && suffix == dns_suffix(region) => {
                OriginEndpoint::Regional {
                    bucket,
                    region: region.to_owned(),
                }
            }
            _ => OriginEndpoint::Other,
        }
    }

    pub fn bucket(&self) -> Option<&str> {
        match self {
            OriginEndpoint::Regional { bucket, .. }
            | OriginEndpoint::Global { bucket }
            | OriginEndpoint::Website { bucket } => Some(bucket),
            OriginEndpoint::Other => None,
        }
    }
}

/// The origin the default cache behaviour sends requests to.
pub fn default_origin(distribution: &Distribution) -> Option<&Origin> {
    distribution
        .config
        .origins
        .iter()
        .find(|o| o.id == distribution.config.target_origin_id)
}

/// The object key an origin maps a viewer path to (origin path + path, without the leading
/// slash).
pub fn object_key(origin_path: &str, url_path: &str) -> String {
    let origin_path = origin_path.trim_matches('/');
    let url_path = url_path.trim_start_matches('/');
    if origin_path.is_empty() {
        url_path.to_owned()
    } else {
        format!("{origin_path}/{url_path}")
    }
}

/// Whether a certificate name (`oidc.acme.com`, `*.acme.com`) covers `host`: a wildcard stands
/// for exactly one label.
pub fn name_covers(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// The `cloudfront.*` findings; none when the issuer is not served by CloudFront.
pub(super) fn cloudfront_findings(facts: &Facts, now: i64) -> Vec<Finding> {
    let Some(cf) = &facts.cloudfront else {
        return Vec::new();
    };
    let host = url::Url::parse(&facts.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let distribution = match &cf.distribution {
        Gathered::Got(Some(d)) => d,
        Gathered::Got(None) => {
            let mut out = vec![Finding::error(
                CHECKS[0],
                Some(sts::NO_KEY.into()),
                format!(
                    "{}: no such distribution in this account",
                    cf.found_by
                ),
                "pass --cloudfront-distribution with the id of the distribution serving the issuer (`aws cloudfront list-distributions --query 'DistributionList.Items[].[Id,DomainName,Aliases.Items]'`), or run doctor with credentials of the account that owns it",
            )];
            out.extend(CHECKS[1..].iter().map(|c| depends_on(c, CHECKS[0])));
            return out;
        }
        other => {
            let mut out = vec![super::gathered_skip(CHECKS[0], other)];
            out.extend(CHECKS[1..].iter().map(|c| depends_on(c, CHECKS[0])));
            return out;
        }
    };
    let serves = distribution.serves_host(&host);
    let alias = !distribution.domain_name.eq_ignore_ascii_case(&host);
    vec![
        distribution_finding(cf, distribution, &host),
        if serves {
            dns_finding(cf, distribution, &host, alias)
        } else {
            depends_on(CHECKS[1], CHECKS[0])
        },
        if serves {
            certificate_finding(cf, distribution, &host, alias)
        } else {
            depends_on(CHECKS[2], CHECKS[0])
        },
        origin_finding(cf, distribution),
        oac_finding(cf, distribution),
        bucket_policy_finding(cf, distribution, &facts.issuer),
        edge_cache_finding(facts, cf, distribution, now),
    ]
}

fn distribution_finding(cf: &CloudFrontFacts, d: &Distribution, host: &str) -> Finding {
    const CHECK: &str = "cloudfront.distribution";
    if !d.serves_host(host) {
        let aliases = if d.config.aliases.is_empty() {
            "no aliases".to_owned()
        } else {
            format!("aliases {}", d.config.aliases.join(", "))
        };
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "distribution {} ({}) serves {} and {aliases}, not {host}: CloudFront refuses requests for any other host name",
                d.id, cf.found_by, d.domain_name
            ),
            format!("add {host} to the distribution's alternate domain names (with an ACM certificate in us-east-1 covering it), or pass --cloudfront-distribution with the distribution that serves it"),
        );
    }
    if !d.config.enabled {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "distribution {} is disabled: it answers no request",
                d.id
            ),
            format!("enable it: `aws cloudfront get-distribution-config --id {0} > dist.json`, set DistributionConfig.Enabled to true, then `aws cloudfront update-distribution --id {0} --if-match <ETag> --distribution-config file://config.json` (the DistributionConfig part)", d.id),
        );
    }
    if !d.is_deployed() {
        return Finding::warning(
            CHECK,
            format!(
                "distribution {} is {}: some edge locations still serve its previous configuration",
                d.id, d.status
            ),
            format!("wait until `aws cloudfront get-distribution --id {} --query Distribution.Status` says Deployed (usually a few minutes), then run doctor again", d.id),
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "distribution {} ({}) serves {host}; Deployed",
            d.id, cf.found_by
        ),
    )
}

fn alias_fix(zone: Option<&str>, host: &str, domain: &str) -> String {
    let record = |kind: &str| {
        format!(
            r#"{{"Action":"UPSERT","ResourceRecordSet":{{"Name":"{host}","Type":"{kind}","AliasTarget":{{"HostedZoneId":"{CLOUDFRONT_HOSTED_ZONE_ID}","DNSName":"{domain}","EvaluateTargetHealth":false}}}}}}"#
        )
    };
    match zone {
        Some(zone) => format!(
            "create the alias records in zone {zone}: aws route53 change-resource-record-sets --hosted-zone-id {zone} --change-batch '{{\"Changes\":[{},{}]}}'",
            record("A"),
            record("AAAA")
        ),
        None => format!(
            "point {host} at {domain}: in Route 53, alias records A and AAAA to {domain} (hosted zone {CLOUDFRONT_HOSTED_ZONE_ID}; pass --hosted-zone-id to have doctor name the exact command), elsewhere a CNAME {host} → {domain}"
        ),
    }
}

fn dns_finding(cf: &CloudFrontFacts, d: &Distribution, host: &str, alias: bool) -> Finding {
    const CHECK: &str = "cloudfront.dns";
    if !alias {
        return Finding::ok(
            CHECK,
            format!("{host} is the distribution's own name: CloudFront's DNS serves it"),
        );
    }
    let dns = match &cf.dns {
        Gathered::Got(dns) => dns,
        other => return super::gathered_skip(CHECK, other),
    };
    let zone = cf.zone.got();
    let zone_id = zone.map(|z| z.zone_id.as_str());
    let records = zone
        .map(|z| {
            let wrong: Vec<String> = z
                .records
                .iter()
                .filter(|r| !r.target.eq_ignore_ascii_case(&d.domain_name))
                .map(|r| format!("{} alias → {}", r.record_type.as_str(), r.target))
                .collect();
            if z.zone.is_none() {
                format!(" (hosted zone {} does not exist)", z.zone_id)
            } else if z.records.is_empty() {
                format!(" (hosted zone {} has no alias record for it)", z.zone_id)
            } else if !wrong.is_empty() {
                format!(" (hosted zone {} has {})", z.zone_id, wrong.join(", "))
            } else {
                String::new()
            }
        })
        .unwrap_or_default();
    let fix = alias_fix(
        zone_id.filter(|_| zone.is_some_and(|z| z.zone.is_some())),
        host,
        &d.domain_name,
    );
    let host_addresses = match &dns.host_addresses {
        Ok(addresses) if !addresses.is_empty() => addresses,
        Ok(_) | Err(_) => {
            let why = match &dns.host_addresses {
                Err(e) => format!(": {e}"),
                Ok(_) => String::new(),
            };
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("{host} does not resolve{why}{records}"),
                fix,
            );
        }
    };
    let distribution_addresses = match &dns.distribution_addresses {
        Ok(addresses) if !addresses.is_empty() => addresses,
        Ok(_) => {
            return Finding::could_not_run(
                CHECK,
                format!("{} resolved to no address", dns.distribution_domain),
            )
        }
        Err(e) => {
            return Finding::could_not_run(
                CHECK,
                format!(
                    "{} does not resolve here ({e}), so the addresses of {host} cannot be compared with it",
                    dns.distribution_domain
                ),
            )
        }
    };
    if host_addresses
        .iter()
        .any(|a| distribution_addresses.contains(a))
    {
        return Finding::ok(
            CHECK,
            format!(
                "{host} resolves to addresses of {}",
                dns.distribution_domain
            ),
        );
    }
    Finding::error(
        CHECK,
        Some(sts::NO_KEY.into()),
        format!(
            "{host} resolves to {}, none of which is an address of {} ({}): DNS does not point it at the distribution{records}",
            list(host_addresses),
            dns.distribution_domain,
            list(distribution_addresses)
        ),
        fix,
    )
}

fn list(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn certificate_finding(cf: &CloudFrontFacts, d: &Distribution, host: &str, alias: bool) -> Finding {
    const CHECK: &str = "cloudfront.certificate";
    if !alias {
        return Finding::ok(
            CHECK,
            format!("{host} is served with CloudFront's own *.cloudfront.net certificate"),
        );
    }
    let request = format!("request one in us-east-1 (`aws acm request-certificate --region us-east-1 --domain-name {host} --validation-method DNS`), validate it, and set it as the distribution's viewer certificate (SSLSupportMethod sni-only, TLSv1.2_2021)");
    let arn = match &d.config.viewer_certificate {
        ViewerCertificate::CloudFrontDefault => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("distribution {} serves its alias {host} with CloudFront's *.cloudfront.net certificate, which does not cover the name: the TLS handshake fails", d.id),
                format!("an ACM certificate covering {host}: {request}"),
            )
        }
        ViewerCertificate::Acm { arn, .. } => arn,
    };
    let region = arn.split(':').nth(3).unwrap_or_default();
    if region != CERTIFICATE_REGION {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("the viewer certificate {arn} is in {region}, but CloudFront uses certificates from {CERTIFICATE_REGION} only"),
            format!("an ACM certificate covering {host} in us-east-1: {request}"),
        );
    }
    let certificate = match &cf.certificate {
        Gathered::Got(Some(c)) => c,
        Gathered::Got(None) => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("the viewer certificate {arn} does not exist in ACM (us-east-1)"),
                format!("an ACM certificate covering {host}: {request}"),
            )
        }
        other => return super::gathered_skip(CHECK, other),
    };
    let names: Vec<&str> = std::iter::once(certificate.domain_name.as_str())
        .chain(
            certificate
                .subject_alternative_names
                .iter()
                .map(String::as_str),
        )
        .collect();
    if !names.iter().any(|n| name_covers(n, host)) {
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the viewer certificate {arn} covers {}, not {host}: the TLS handshake for the issuer fails",
                unique.join(", ")
            ),
            format!("a certificate covering {host}: {request}"),
        );
    }
    if certificate.status != "ISSUED" {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the viewer certificate {arn} is {}, not ISSUED",
                certificate.status
            ),
            format!("complete its validation or renew it (`aws acm describe-certificate --region us-east-1 --certificate-arn {arn}`), or {request}"),
        );
    }
    Finding::ok(
        CHECK,
        format!("the viewer certificate {arn} is ISSUED in us-east-1 and covers {host}"),
    )
}

fn update_fix(d: &Distribution, what: &str) -> String {
    format!("`aws cloudfront get-distribution-config --id {0} > dist.json`, {what} in its DistributionConfig, then `aws cloudfront update-distribution --id {0} --if-match <its ETag> --distribution-config file://config.json`", d.id)
}

fn origin_finding(cf: &CloudFrontFacts, d: &Distribution) -> Finding {
    const CHECK: &str = "cloudfront.origin";
    let Some(origin) = default_origin(d) else {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the default cache behaviour names origin {:?}, which the distribution does not have",
                d.config.target_origin_id
            ),
            update_fix(d, "set DefaultCacheBehavior.TargetOriginId to the bucket's origin"),
        );
    };
    let endpoint = OriginEndpoint::parse(&origin.domain_name);
    let bucket = match &cf.bucket {
        Gathered::Got(b) => Some(b),
        _ => None,
    };
    let actual_region = bucket.and_then(|b| b.region.got());
    let domain = &origin.domain_name;
    let set_domain = |region: &str, bucket: &str| {
        format!(
            "set the origin's domain to the regional endpoint {}: {}; then invalidate what the edge cached (`aws cloudfront create-invalidation --distribution-id {} --paths '/*'`)",
            crate::model::cloudfront::regional_origin(bucket, region),
            update_fix(d, "set Origins.Items[].DomainName"),
            d.id
        )
    };
    let finding = match &endpoint {
        OriginEndpoint::Other => Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("origin {domain} is not an S3 bucket's REST endpoint (BUCKET.s3.REGION.amazonaws.com)"),
            "point the origin at the bucket the documents are published to, by its regional endpoint (bootstrap --hosting cloudfront does this)".to_owned(),
        ),
        OriginEndpoint::Website { bucket } => Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("origin {domain} is the S3 website endpoint of bucket {bucket}, which cannot use an origin access control: the private bucket refuses CloudFront"),
            set_domain(actual_region.map_or("REGION", String::as_str), bucket),
        ),
        OriginEndpoint::Global { bucket } => match actual_region.map(String::as_str) {
            Some("us-east-1") => Finding::warning(
                CHECK,
                format!("origin {domain} is the global S3 endpoint; it works for a bucket in us-east-1, but the regional one is what OAC expects"),
                set_domain("us-east-1", bucket),
            ),
            region => Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!(
                    "origin {domain} is the global S3 endpoint: for a bucket outside us-east-1 (this one is in {}) S3 answers it with a 307 redirect, which CloudFront caches and STS does not follow",
                    region.unwrap_or("a region doctor could not read")
                ),
                set_domain(region.unwrap_or("REGION"), bucket),
            ),
        },
        OriginEndpoint::Regional { bucket, region } => match actual_region {
            Some(actual) if actual != region => Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("origin {domain} names region {region}, but bucket {bucket} is in {actual}: S3 answers PermanentRedirect, which the edge passes on to STS"),
                set_domain(actual, bucket),
            ),
            _ => Finding::ok(
                CHECK,
                format!("origin {domain} is the regional endpoint of bucket {bucket}"),
            ),
        },
    };
    // sync publishes to --store: the edge must read the same bucket.
    match (endpoint.bucket(), &cf.store_bucket) {
        (Some(origin_bucket), Some(store)) if finding.severity == crate::doctor::Severity::Ok && !origin_bucket.eq_ignore_ascii_case(store) => Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("the distribution reads bucket {origin_bucket}, but --store publishes to bucket {store}: STS gets what {origin_bucket} holds"),
            format!("publish to the origin's bucket (--store s3://{origin_bucket}/…), or point the origin at {store}"),
        ),
        _ => finding,
    }
}

fn oac_finding(cf: &CloudFrontFacts, d: &Distribution) -> Finding {
    const CHECK: &str = "cloudfront.origin_access_control";
    let Some(origin) = default_origin(d) else {
        return depends_on(CHECK, "cloudfront.origin");
    };
    let create = format!(
        "create one (`aws cloudfront create-origin-access-control --origin-access-control-config Name=kube-oidc-publisher-{0},OriginAccessControlOriginType=s3,SigningBehavior=always,SigningProtocol=sigv4`) and attach it: {1}",
        d.id,
        update_fix(d, "set Origins.Items[].OriginAccessControlId to its id (and S3OriginConfig.OriginAccessIdentity to \"\")")
    );
    let Some(id) = origin
        .origin_access_control_id
        .as_deref()
        .filter(|id| !id.is_empty())
    else {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("origin {} has no origin access control: CloudFront reads the private bucket anonymously and gets 403", origin.domain_name),
            create,
        );
    };
    if !origin.s3_origin {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!("origin {} is configured as a custom origin, not an S3 origin, so its origin access control {id} does not sign for S3", origin.domain_name),
            update_fix(d, "replace the origin's CustomOriginConfig with S3OriginConfig {\"OriginAccessIdentity\": \"\"}"),
        );
    }
    let controls = match &cf.origin_access_controls {
        Gathered::Got(controls) => controls,
        other => return super::gathered_skip(CHECK, other),
    };
    let Some(oac) = controls.iter().find(|c| c.id == id) else {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "origin {} names origin access control {id}, which does not exist",
                origin.domain_name
            ),
            create,
        );
    };
    let c = &oac.config;
    let mut wrong = Vec::new();
    if !c.origin_type.eq_ignore_ascii_case("s3") {
        wrong.push(format!("origin type {} (not s3)", c.origin_type));
    }
    if !c.signing_protocol.eq_ignore_ascii_case("sigv4") {
        wrong.push(format!(
            "signing protocol {} (not sigv4)",
            c.signing_protocol
        ));
    }
    if c.signing_behavior.eq_ignore_ascii_case("never") {
        wrong.push("signing behaviour never: requests reach the bucket unsigned".to_owned());
    }
    let fix = format!("`aws cloudfront get-origin-access-control-config --id {id}`, then `aws cloudfront update-origin-access-control --id {id} --if-match <its ETag> --origin-access-control-config Name={},OriginAccessControlOriginType=s3,SigningBehavior=always,SigningProtocol=sigv4`", c.name);
    if !wrong.is_empty() {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "origin access control {id} ({}) has {}: the private bucket refuses CloudFront",
                c.name,
                wrong.join(", ")
            ),
            fix,
        );
    }
    if !c.signing_behavior.eq_ignore_ascii_case("always") {
        return Finding::warning(
            CHECK,
            format!("origin access control {id} ({}) signs with behaviour {}: a viewer's own Authorization header would go to the bucket unsigned", c.name, c.signing_behavior),
            fix,
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "origin access control {id} ({}) signs every request to {} with SigV4",
            c.name, origin.domain_name
        ),
    )
}

/// The documents' object ARNs in the origin bucket.
fn object_arns(d: &Distribution, bucket: &OriginBucket) -> Vec<String> {
    let partition = d.arn.split(':').nth(1).unwrap_or("aws");
    bucket
        .objects
        .iter()
        .map(|o| format!("arn:{partition}:s3:::{}/{}", bucket.bucket, o.key))
        .collect()
}

/// The fix for a bucket policy that does not let `d` read the documents: bootstrap's own
/// statement (`model::policy::cloudfront_bucket_statement`, one definition), for the documents
/// under the issuer's path behind the origin's path.
fn statement_fix(d: &Distribution, bucket: &str, issuer: &str) -> String {
    let partition = d.arn.split(':').nth(1).unwrap_or("aws");
    let issuer_path = url::Url::parse(issuer)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let prefix = object_key(
        default_origin(d).map_or("", |o| o.origin_path.as_str()),
        &issuer_path,
    );
    match policy::cloudfront_bucket_statement(partition, bucket, &prefix, &d.arn) {
        Ok(statement) => format!(
            "add the statement {statement} to the policy of bucket {bucket} (bootstrap --hosting cloudfront does this)"
        ),
        // A prefix the statement cannot name (bootstrap would refuse it too): in words.
        Err(_) => format!(
            "add a statement letting {SERVICE_PRINCIPAL} s3:GetObject the two documents on condition StringEquals AWS:SourceArn {} to the policy of bucket {bucket}",
            d.arn
        ),
    }
}

fn bucket_policy_finding(cf: &CloudFrontFacts, d: &Distribution, issuer: &str) -> Finding {
    const CHECK: &str = "cloudfront.bucket_policy";
    let bucket = match &cf.bucket {
        Gathered::Got(b) => b,
        other => return super::gathered_skip(CHECK, other),
    };
    let arns = object_arns(d, bucket);
    let fix = statement_fix(d, &bucket.bucket, issuer);
    let policy = match &bucket.policy {
        Gathered::Got(Some(policy)) => policy,
        Gathered::Got(None) => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!(
                    "bucket {} has no bucket policy, so it refuses CloudFront's reads (403)",
                    bucket.bucket
                ),
                fix,
            )
        }
        other => return super::gathered_skip(CHECK, other),
    };
    let doc: Value = match serde_json::from_str(policy) {
        Ok(doc) => doc,
        Err(e) => {
            return Finding::error(
                CHECK,
                Some(sts::NO_KEY.into()),
                format!("the policy of bucket {} is not JSON ({e})", bucket.bucket),
                fix,
            )
        }
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    let mut missing = Vec::new();
    let mut denied = Vec::new();
    let mut other_distributions = Vec::new();
    for arn in &arns {
        let reads = |s: &&Value| for_cloudfront(s) && grants_get_object(s) && covers(s, arn);
        if statements.iter().filter(|s| effect(s) == "Deny").any(|s| {
            reads(s)
                || (anonymous(s)
                    && grants_get_object(s)
                    && covers(s, arn)
                    && s.get("Condition").is_none())
        }) {
            denied.push(arn.clone());
            continue;
        }
        let allows: Vec<&&Value> = statements
            .iter()
            .filter(|s| effect(s) == "Allow" && reads(s))
            .collect();
        if allows
            .iter()
            .any(|s| source_arns(s).iter().any(|a| glob(a, &d.arn)))
        {
            continue;
        }
        missing.push(arn.clone());
        for s in allows {
            other_distributions.extend(source_arns(s));
        }
    }
    if !denied.is_empty() {
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the policy of bucket {} denies s3:GetObject on {}",
                bucket.bucket,
                denied.join(" and ")
            ),
            "remove that Deny for the documents".to_owned(),
        );
    }
    if missing.is_empty() {
        return Finding::ok(
            CHECK,
            format!("the policy of bucket {} lets {SERVICE_PRINCIPAL} s3:GetObject the documents for AWS:SourceArn {}", bucket.bucket, d.arn),
        );
    }
    other_distributions.sort();
    other_distributions.dedup();
    let why = if other_distributions.is_empty() {
        format!(
            "no statement lets {SERVICE_PRINCIPAL} s3:GetObject with AWS:SourceArn {}",
            d.arn
        )
    } else {
        format!(
            "its statement for {SERVICE_PRINCIPAL} is conditioned on AWS:SourceArn {}, not this distribution's {}",
            other_distributions.join(", "),
            d.arn
        )
    };
    Finding::error(
        CHECK,
        Some(sts::NO_KEY.into()),
        format!(
            "the policy of bucket {} does not let the distribution read {}: {why}; the bucket answers CloudFront 403",
            bucket.bucket,
            missing.join(" and ")
        ),
        fix,
    )
}

fn for_cloudfront(statement: &Value) -> bool {
    match statement.get("Principal") {
        Some(Value::Object(p)) => strings(p.get("Service"))
            .iter()
            .any(|s| s.eq_ignore_ascii_case(SERVICE_PRINCIPAL)),
        Some(Value::String(s)) => s == "*",
        _ => false,
    }
}

/// The `AWS:SourceArn` values a statement's condition requires (StringEquals, StringLike,
/// ArnEquals, ArnLike; condition keys are case-insensitive).
fn source_arns(statement: &Value) -> Vec<String> {
    let Some(Value::Object(condition)) = statement.get("Condition") else {
        return Vec::new();
    };
    condition
        .iter()
        .filter(|(op, _)| {
            matches!(
                op.as_str(),
                "StringEquals" | "StringLike" | "ArnEquals" | "ArnLike"
            )
        })
        .filter_map(|(_, keys)| keys.as_object())
        .flat_map(|keys| {
            keys.iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case("aws:SourceArn"))
                .flat_map(|(_, value)| strings(Some(value)))
        })
        .collect()
}

/// The `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<i64> {
    cache_control
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .find_map(|d| {
            d.strip_prefix("max-age=")
                .and_then(|v| v.trim_matches('"').parse().ok())
        })
}

fn rfc3339(secs: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

fn edge_cache_finding(facts: &Facts, cf: &CloudFrontFacts, d: &Distribution, now: i64) -> Finding {
    const CHECK: &str = "cloudfront.edge_cache";
    let bucket = match &cf.bucket {
        Gathered::Got(b) => b,
        other => return super::gathered_skip(CHECK, other),
    };
    let edge = [facts.public.discovery.as_ref(), facts.public.jwks.as_ref()];
    let edge_body = |url: &str| {
        edge.iter()
            .flatten()
            .find(|f| f.url == url)
            .and_then(|f| f.result.as_ref().ok())
            .filter(|a| a.status == 200)
            .map(|a| a.body.as_slice())
    };
    // CachingDisabled (or any policy other than CachingOptimized) is read as "max-age rules".
    let honours_max_age = d.config.cache_policy_id.as_deref() == Some(CACHING_OPTIMIZED)
        || d.config.cache_policy_id.is_none();
    let mut stale = Vec::new();
    let mut refreshing = Vec::new();
    let mut missing = Vec::new();
    let mut compared = 0;
    for object in &bucket.objects {
        let Some(served) = edge_body(&object.url) else {
            continue;
        };
        let copy: &ObjectCopy = match &object.copy {
            Gathered::Got(Some(copy)) => copy,
            Gathered::Got(None) => {
                missing.push(object);
                continue;
            }
            other => return super::gathered_skip(CHECK, other),
        };
        compared += 1;
        if served == copy.body.as_slice() {
            continue;
        }
        let ttl = copy
            .cache_control
            .as_deref()
            .and_then(max_age)
            .unwrap_or(if honours_max_age { DEFAULT_TTL } else { 0 });
        let fresh_by = copy.last_modified + ttl;
        if now > fresh_by {
            stale.push((object, ttl));
        } else {
            refreshing.push((object, fresh_by));
        }
    }
    let path = |url: &str| {
        url::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|_| url.to_owned())
    };
    let invalidate = |objects: &[&crate::doctor::facts::ObjectFacts]| {
        format!(
            "aws cloudfront create-invalidation --distribution-id {} --paths {}",
            d.id,
            objects
                .iter()
                .map(|o| path(&o.url))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    if !missing.is_empty() {
        let keys: Vec<String> = missing
            .iter()
            .map(|o| format!("{} (served at {})", o.key, o.url))
            .collect();
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "bucket {} has no object {}: the edge serves a copy the bucket no longer holds, or the origin path maps the issuer elsewhere",
                bucket.bucket,
                keys.join(" and ")
            ),
            format!("publish the documents to those keys (sync with --store s3://{}/<the issuer's path>), then invalidate the edge's copies: {}", bucket.bucket, invalidate(&missing)),
        );
    }
    if !stale.is_empty() {
        let what: Vec<String> = stale
            .iter()
            .map(|(o, ttl)| format!("{} (max-age {ttl} s)", path(&o.url)))
            .collect();
        let objects: Vec<_> = stale.iter().map(|(o, _)| *o).collect();
        return Finding::error(
            CHECK,
            Some(sts::NO_KEY.into()),
            format!(
                "the edge serves {} different from bucket {}'s copy, though the copy is older than its max-age, so the edge should have refreshed it: a token signed by a newer key fails",
                what.join(" and "),
                bucket.bucket
            ),
            format!("invalidate the edge's copies: {}", invalidate(&objects)),
        );
    }
    if !refreshing.is_empty() {
        let latest = refreshing.iter().map(|(_, at)| *at).max().unwrap_or(now);
        let objects: Vec<_> = refreshing.iter().map(|(o, _)| *o).collect();
        let what: Vec<String> = objects.iter().map(|o| path(&o.url)).collect();
        return Finding::warning_risk(
            CHECK,
            sts::NO_KEY,
            format!(
                "the edge still serves the previous {}, as expected within max-age of the bucket's update: fresh by {} at the latest",
                what.join(" and "),
                rfc3339(latest)
            ),
            format!("wait until then, or invalidate now: {}", invalidate(&objects)),
        );
    }
    if compared == 0 {
        return Finding::skipped(
            CHECK,
            "not checked: the issuer URL served no document to compare with the bucket's",
            "fix discovery.fetch and jwks.fetch first",
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "the edge serves the bucket's copy of {compared} document{}",
            if compared == 1 { "" } else { "s" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_domains_are_read_as_s3_endpoints() {
        assert_eq!(
            OriginEndpoint::parse("acme-oidc.s3.eu-west-1.amazonaws.com"),
            OriginEndpoint::Regional {
                bucket: "acme-oidc".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(
            OriginEndpoint::parse("a.b.s3.cn-north-1.amazonaws.com.cn"),
            OriginEndpoint::Regional {
                bucket: "a.b".into(),
                region: "cn-north-1".into()
            }
        );
        assert_eq!(
            OriginEndpoint::parse("acme-oidc.s3.amazonaws.com"),
            OriginEndpoint::Global {
                bucket: "acme-oidc".into()
            }
        );
        assert_eq!(
            OriginEndpoint::parse("acme-oidc.s3-website-eu-west-1.amazonaws.com"),
            OriginEndpoint::Website {
                bucket: "acme-oidc".into()
            }
        );
        assert_eq!(OriginEndpoint::parse("example.com"), OriginEndpoint::Other);
        assert_eq!(
            OriginEndpoint::parse("acme.s3.eu-west-1.example.com"),
            OriginEndpoint::Other
        );
    }

    #[test]
    fn certificate_names_cover_one_label_per_wildcard() {
        assert!(name_covers("oidc.acme.com", "OIDC.acme.com"));
        assert!(name_covers("*.acme.com", "oidc.acme.com"));
        assert!(!name_covers("*.acme.com", "a.oidc.acme.com"));
        assert!(!name_covers("*.acme.com", "acme.com"));
        assert!(!name_covers("acme.com", "oidc.acme.com"));
    }

    #[test]
    fn object_keys_join_the_origin_path_and_the_url_path() {
        assert_eq!(object_key("", "/c1/openid/v1/jwks"), "c1/openid/v1/jwks");
        assert_eq!(object_key("/base", "/c1/x"), "base/c1/x");
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=300"), Some(300));
        assert_eq!(max_age("no-cache"), None);
    }
}
