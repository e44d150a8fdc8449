//! The `cloudfront.*` checks against hand-built facts: the setup `bootstrap --hosting
//! cloudfront --domain` makes (a private bucket behind a distribution with an OAC, on a custom
//! domain) passes every check, and each broken variant produces exactly its finding, with the
//! STS error and a fix that names what to run.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::*;
use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, DistributionConfig, HostedZone, Origin,
    OriginAccessControl, OriginAccessControlConfig, RecordType, ViewerCertificate,
    CACHING_OPTIMIZED, CLOUDFRONT_HOSTED_ZONE_ID,
};

const HOST: &str = "oidc.example.test";
const DOMAIN: &str = "d111111abcdef8.cloudfront.net";
const ID: &str = "E2ABCDEF123456";
const DIST_ARN: &str = "arn:aws:cloudfront::123456789012:distribution/E2ABCDEF123456";
const OAC: &str = "E3OACOAC123456";
const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e";
const BUCKET: &str = "acme-oidc";
const EDGE_IP: &str = "203.0.113.10";

fn distribution() -> Distribution {
    Distribution {
        id: ID.into(),
        arn: DIST_ARN.into(),
        domain_name: DOMAIN.into(),
        status: "Deployed".into(),
        etag: "E1".into(),
        config: DistributionConfig {
            caller_reference: "kop-acme-oidc".into(),
            comment: "kube-oidc-publisher: bucket acme-oidc".into(),
            enabled: true,
            aliases: vec![HOST.into()],
            origins: vec![Origin {
                id: "s3-acme-oidc".into(),
                domain_name: format!("{BUCKET}.s3.eu-west-1.amazonaws.com"),
                origin_path: String::new(),
                origin_access_control_id: Some(OAC.into()),
                s3_origin: true,
            }],
            target_origin_id: "s3-acme-oidc".into(),
            viewer_protocol_policy: "https-only".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cache_policy_id: Some(CACHING_OPTIMIZED.into()),
            viewer_certificate: ViewerCertificate::Acm {
                arn: CERT.into(),
                ssl_support_method: "sni-only".into(),
                minimum_protocol_version: "TLSv1.2_2021".into(),
            },
        },
        tags: BTreeMap::new(),
    }
}

fn policy(source_arn: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "CloudFrontRead", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": [
            "arn:aws:s3:::acme-oidc/cluster-a/.well-known/openid-configuration",
            "arn:aws:s3:::acme-oidc/cluster-a/openid/v1/jwks",
        ],
        "Condition": {"StringEquals": {"AWS:SourceArn": source_arn}},
    }]})
    .to_string()
}

fn copy(body: &[u8], age: i64) -> Gathered<Option<ObjectCopy>> {
    Gathered::Got(Some(ObjectCopy {
        body: body.to_vec(),
        last_modified: NOW - age,
        cache_control: Some("public, max-age=300".into()),
    }))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The working setup of `super::working()`, served through CloudFront on a custom domain.
fn served() -> Facts {
    let mut facts = working();
    // A private bucket: Block Public Access on, no public statement.
    if let Gathered::Got(s3) = &mut facts.s3 {
        s3.bucket_block = Gathered::Got(Some(PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }));
        s3.policy = Gathered::Got(Some(policy(DIST_ARN)));
    }
    facts.cloudfront = Some(CloudFrontFacts {
        found_by: format!("the distribution with alias {HOST}"),
        distribution: Gathered::Got(Some(distribution())),
        origin_access_controls: Gathered::Got(vec![OriginAccessControl {
            id: OAC.into(),
            config: OriginAccessControlConfig {
                name: "kube-oidc-publisher-acme-oidc".into(),
                description: String::new(),
                origin_type: "s3".into(),
                signing_behavior: "always".into(),
                signing_protocol: "sigv4".into(),
            },
        }]),
        certificate: Gathered::Got(Some(Certificate {
            arn: CERT.into(),
            status: "ISSUED".into(),
            domain_name: HOST.into(),
            subject_alternative_names: vec![HOST.into()],
        })),
        bucket: Gathered::Got(OriginBucket {
            bucket: BUCKET.into(),
            region: Gathered::Got("eu-west-1".into()),
            policy: Gathered::Got(Some(policy(DIST_ARN))),
            objects: vec![
                ObjectFacts {
                    url: format!("{ISSUER}/.well-known/openid-configuration"),
                    key: "cluster-a/.well-known/openid-configuration".into(),
                    copy: copy(DISCOVERY, 1_000),
                },
                ObjectFacts {
                    url: format!("{ISSUER}/openid/v1/jwks"),
                    key: "cluster-a/openid/v1/jwks".into(),
                    copy: copy(JWKS, 1_000),
                },
            ],
        }),
        dns: Gathered::Got(DnsFacts {
            host: HOST.into(),
            host_addresses: Ok(vec![ip(EDGE_IP)]),
            distribution_domain: DOMAIN.into(),
            distribution_addresses: Ok(vec![ip("203.0.113.11"), ip(EDGE_IP)]),
        }),
        zone: Gathered::not_given("not read", "pass --hosted-zone-id ID"),
        store_bucket: Some(BUCKET.into()),
    });
    facts
}

fn cf(facts: &mut Facts) -> &mut CloudFrontFacts {
    facts.cloudfront.as_mut().unwrap()
}

fn dist(facts: &mut Facts) -> &mut Distribution {
    match &mut cf(facts).distribution {
        Gathered::Got(Some(d)) => d,
        _ => unreachable!(),
    }
}

fn bucket(facts: &mut Facts) -> &mut OriginBucket {
    match &mut cf(facts).bucket {
        Gathered::Got(b) => b,
        _ => unreachable!(),
    }
}

/// Exactly one error, `check`, naming the key-retrieval STS error; returns it.
fn only_error(facts: &Facts, check: &str) -> Finding {
    let report = run(facts);
    assert_errors(&report, &[(check, Some(sts::NO_KEY))]);
    finding(&report, check).clone()
}

#[test]
fn a_private_bucket_behind_cloudfront_passes_every_check() {
    let report = run(&served());
    let ids: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    // No migration recorded: no *.migration check.
    let catalogue: Vec<&str> = CATALOGUE
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !id.ends_with(".migration"))
        .collect();
    assert_eq!(ids, catalogue);
    for f in &report.findings {
        assert_eq!(f.severity, Severity::Ok, "{f:#?}");
    }
    // Block Public Access on is right for a bucket behind CloudFront.
    assert!(finding(&report, "s3.public_access_block")
        .message
        .contains("does not matter"));
    assert!(report
        .to_text()
        .contains("6. hosting (S3 store, CloudFront)"));
    // Without CloudFront the same private bucket is an error: the checks did change.
    let mut facts = served();
    facts.cloudfront = None;
    assert_eq!(
        finding(&run(&facts), "s3.public_access_block").severity,
        Severity::Error
    );
}

#[test]
fn a_global_or_wrong_region_origin_names_the_regional_endpoint() {
    let mut facts = served();
    dist(&mut facts).config.origins[0].domain_name = "acme-oidc.s3.amazonaws.com".into();
    let f = only_error(&facts, "cloudfront.origin");
    assert!(f.message.contains("307"), "{}", f.message);
    let fix = f.fix.unwrap();
    assert!(
        fix.contains("acme-oidc.s3.eu-west-1.amazonaws.com"),
        "{fix}"
    );
    assert!(
        fix.contains("update-distribution --id E2ABCDEF123456"),
        "{fix}"
    );

    let mut facts = served();
    dist(&mut facts).config.origins[0].domain_name = "acme-oidc.s3.us-west-2.amazonaws.com".into();
    let f = only_error(&facts, "cloudfront.origin");
    assert!(f.message.contains("PermanentRedirect"), "{}", f.message);
    assert!(f
        .fix
        .unwrap()
        .contains("acme-oidc.s3.eu-west-1.amazonaws.com"));

    // The global name of a us-east-1 bucket works: a warning only.
    let mut facts = served();
    dist(&mut facts).config.origins[0].domain_name = "acme-oidc.s3.amazonaws.com".into();
    bucket(&mut facts).region = Gathered::Got("us-east-1".into());
    let report = run(&facts);
    assert_eq!(
        finding(&report, "cloudfront.origin").severity,
        Severity::Warning
    );

    // The distribution reads another bucket than sync publishes to.
    let mut facts = served();
    cf(&mut facts).store_bucket = Some("other-bucket".into());
    let f = only_error(&facts, "cloudfront.origin");
    assert!(f.message.contains("other-bucket"), "{}", f.message);
}

#[test]
fn an_origin_without_a_signing_oac_is_an_error() {
    let mut facts = served();
    dist(&mut facts).config.origins[0].origin_access_control_id = None;
    let f = only_error(&facts, "cloudfront.origin_access_control");
    assert!(
        f.message.contains("no origin access control"),
        "{}",
        f.message
    );
    let fix = f.fix.unwrap();
    assert!(fix.contains("create-origin-access-control"), "{fix}");
    assert!(
        fix.contains("SigningBehavior=always,SigningProtocol=sigv4"),
        "{fix}"
    );

    let mut facts = served();
    cf(&mut facts).origin_access_controls = Gathered::Got(vec![]);
    let f = only_error(&facts, "cloudfront.origin_access_control");
    assert!(f.message.contains("does not exist"), "{}", f.message);

    let mut facts = served();
    if let Gathered::Got(list) = &mut cf(&mut facts).origin_access_controls {
        list[0].config.signing_behavior = "never".into();
    }
    let f = only_error(&facts, "cloudfront.origin_access_control");
    assert!(f.message.contains("unsigned"), "{}", f.message);

    let mut facts = served();
    if let Gathered::Got(list) = &mut cf(&mut facts).origin_access_controls {
        list[0].config.signing_behavior = "no-override".into();
    }
    assert_eq!(
        finding(&run(&facts), "cloudfront.origin_access_control").severity,
        Severity::Warning
    );

    let mut facts = served();
    dist(&mut facts).config.origins[0].s3_origin = false;
    only_error(&facts, "cloudfront.origin_access_control");
}

#[test]
fn a_bucket_policy_without_the_distributions_source_arn_is_an_error() {
    let other = "arn:aws:cloudfront::123456789012:distribution/EOTHER00000000";
    let mut facts = served();
    bucket(&mut facts).policy = Gathered::Got(Some(policy(other)));
    let f = only_error(&facts, "cloudfront.bucket_policy");
    assert!(f.message.contains(other), "{}", f.message);
    let fix = f.fix.unwrap();
    assert!(
        fix.contains(&format!("\"AWS:SourceArn\":\"{DIST_ARN}\"")),
        "{fix}"
    );
    assert!(
        fix.contains("arn:aws:s3:::acme-oidc/cluster-a/openid/v1/jwks"),
        "{fix}"
    );

    let mut facts = served();
    bucket(&mut facts).policy = Gathered::Got(None);
    only_error(&facts, "cloudfront.bucket_policy");

    // Case-insensitive condition key, wildcard resource: fine.
    let mut facts = served();
    bucket(&mut facts).policy = Gathered::Got(Some(
        serde_json::json!({"Statement": [{"Effect": "Allow",
            "Principal": {"Service": ["cloudfront.amazonaws.com"]}, "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::acme-oidc/*",
            "Condition": {"StringEquals": {"aws:sourcearn": DIST_ARN}}}]})
        .to_string(),
    ));
    assert_eq!(
        finding(&run(&facts), "cloudfront.bucket_policy").severity,
        Severity::Ok
    );

    // A Deny for the service principal wins.
    let mut facts = served();
    let mut doc: serde_json::Value = serde_json::from_str(&policy(DIST_ARN)).unwrap();
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"Effect": "Deny",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:*",
        "Resource": "arn:aws:s3:::acme-oidc/*"}));
    bucket(&mut facts).policy = Gathered::Got(Some(doc.to_string()));
    let f = only_error(&facts, "cloudfront.bucket_policy");
    assert!(f.message.contains("denies"), "{}", f.message);
}

#[test]
fn the_edge_serving_a_stale_document_is_an_error_only_after_max_age() {
    let newer = br#"{"keys":[]}"#;
    // The bucket's copy changed 1000 s ago, max-age 300: the edge should have refreshed.
    let mut facts = served();
    bucket(&mut facts).objects[1].copy = copy(newer, 1_000);
    let f = only_error(&facts, "cloudfront.edge_cache");
    assert!(
        f.message.contains("/cluster-a/openid/v1/jwks"),
        "{}",
        f.message
    );
    assert_eq!(
        f.fix.as_deref(),
        Some("invalidate the edge's copies: aws cloudfront create-invalidation --distribution-id E2ABCDEF123456 --paths /cluster-a/openid/v1/jwks")
    );

    // Changed 100 s ago: expected, and fresh 200 s from now at the latest.
    let mut facts = served();
    bucket(&mut facts).objects[1].copy = copy(newer, 100);
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Pass, "{}", report.to_text());
    let f = finding(&report, "cloudfront.edge_cache");
    assert_eq!(f.severity, Severity::Warning);
    let fresh_by = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs((NOW + 200) as u64),
    )
    .to_string();
    assert!(f.message.contains(&fresh_by), "{} vs {fresh_by}", f.message);

    // Without max-age, CachingOptimized keeps it a day.
    let mut facts = served();
    bucket(&mut facts).objects[1].copy = Gathered::Got(Some(ObjectCopy {
        body: newer.to_vec(),
        last_modified: NOW - 1_000,
        cache_control: None,
    }));
    assert_eq!(
        finding(&run(&facts), "cloudfront.edge_cache").severity,
        Severity::Warning
    );

    // The bucket no longer holds a document the edge serves.
    let mut facts = served();
    bucket(&mut facts).objects[0].copy = Gathered::Got(None);
    let f = only_error(&facts, "cloudfront.edge_cache");
    assert!(f
        .message
        .contains("cluster-a/.well-known/openid-configuration"));
}

#[test]
fn a_certificate_that_does_not_cover_the_custom_domain_is_an_error() {
    let mut facts = served();
    cf(&mut facts).certificate = Gathered::Got(Some(Certificate {
        arn: CERT.into(),
        status: "ISSUED".into(),
        domain_name: "*.other.test".into(),
        subject_alternative_names: vec!["*.other.test".into(), "example.test".into()],
    }));
    let f = only_error(&facts, "cloudfront.certificate");
    assert!(
        f.message.contains("*.other.test, example.test"),
        "{}",
        f.message
    );
    assert!(f.fix.unwrap().contains("--domain-name oidc.example.test"));

    // A wildcard one label up covers it.
    let mut facts = served();
    if let Gathered::Got(Some(c)) = &mut cf(&mut facts).certificate {
        c.subject_alternative_names = vec!["*.example.test".into()];
        c.domain_name = "*.example.test".into();
    }
    assert_eq!(
        finding(&run(&facts), "cloudfront.certificate").severity,
        Severity::Ok
    );

    let mut facts = served();
    if let Gathered::Got(Some(c)) = &mut cf(&mut facts).certificate {
        c.status = "PENDING_VALIDATION".into();
    }
    let f = only_error(&facts, "cloudfront.certificate");
    assert!(f.message.contains("PENDING_VALIDATION"));

    let mut facts = served();
    dist(&mut facts).config.viewer_certificate = ViewerCertificate::Acm {
        arn: CERT.replace("us-east-1", "eu-west-1"),
        ssl_support_method: "sni-only".into(),
        minimum_protocol_version: "TLSv1.2_2021".into(),
    };
    let f = only_error(&facts, "cloudfront.certificate");
    assert!(f.message.contains("eu-west-1"), "{}", f.message);

    let mut facts = served();
    dist(&mut facts).config.viewer_certificate = ViewerCertificate::CloudFrontDefault;
    only_error(&facts, "cloudfront.certificate");

    // On the distribution's own name, no certificate of ours is involved.
    let mut facts = served();
    facts.issuer = format!("https://{DOMAIN}/cluster-a");
    dist(&mut facts).config.viewer_certificate = ViewerCertificate::CloudFrontDefault;
    let report = run(&facts);
    assert_eq!(
        finding(&report, "cloudfront.certificate").severity,
        Severity::Ok
    );
    assert_eq!(finding(&report, "cloudfront.dns").severity, Severity::Ok);
}

#[test]
fn dns_not_pointing_at_the_distribution_names_the_alias_to_create() {
    let mut facts = served();
    if let Gathered::Got(dns) = &mut cf(&mut facts).dns {
        dns.host_addresses = Err("failed to lookup address information".into());
    }
    let f = only_error(&facts, "cloudfront.dns");
    assert!(f.message.contains("does not resolve"), "{}", f.message);
    assert!(f.fix.unwrap().contains("--hosted-zone-id"));

    let mut facts = served();
    if let Gathered::Got(dns) = &mut cf(&mut facts).dns {
        dns.host_addresses = Ok(vec![ip("198.51.100.7")]);
    }
    cf(&mut facts).zone = Gathered::Got(ZoneFacts {
        zone_id: "Z0123456789ABC".into(),
        zone: Some(HostedZone {
            id: "Z0123456789ABC".into(),
            name: "example.test".into(),
            private: false,
        }),
        records: vec![AliasRecord {
            name: HOST.into(),
            record_type: RecordType::A,
            target: "dold000000000.cloudfront.net".into(),
            target_zone: CLOUDFRONT_HOSTED_ZONE_ID.into(),
        }],
    });
    let f = only_error(&facts, "cloudfront.dns");
    assert!(f.message.contains("198.51.100.7"), "{}", f.message);
    assert!(
        f.message.contains("A alias → dold000000000.cloudfront.net"),
        "{}",
        f.message
    );
    let fix = f.fix.unwrap();
    assert!(
        fix.contains("aws route53 change-resource-record-sets --hosted-zone-id Z0123456789ABC"),
        "{fix}"
    );
    assert!(fix.contains(&format!("\"DNSName\":\"{DOMAIN}\"")), "{fix}");
    assert!(fix.contains("\"Type\":\"AAAA\""), "{fix}");
}

#[test]
fn a_distribution_that_does_not_serve_the_host_is_reported_once() {
    let mut facts = served();
    dist(&mut facts).config.aliases = vec!["other.example.test".into()];
    let report = run(&facts);
    let f = finding(&report, "cloudfront.distribution");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("other.example.test"), "{}", f.message);
    for check in ["cloudfront.dns", "cloudfront.certificate"] {
        assert_eq!(
            finding(&report, check).fix.as_deref(),
            Some("fix cloudfront.distribution first")
        );
    }

    let mut facts = served();
    cf(&mut facts).found_by = "--cloudfront-distribution E2NOPE".into();
    cf(&mut facts).distribution = Gathered::Got(None);
    let report = run(&facts);
    assert_errors(&report, &[("cloudfront.distribution", Some(sts::NO_KEY))]);
    assert!(finding(&report, "cloudfront.distribution")
        .message
        .contains("--cloudfront-distribution E2NOPE"));
    assert_eq!(
        finding(&report, "cloudfront.edge_cache").severity,
        Severity::Skipped
    );

    let mut facts = served();
    cf(&mut facts).distribution = Gathered::failed("access denied: cloudfront:GetDistribution");
    let report = run(&facts);
    assert_eq!(report.verdict(), Verdict::Incomplete);

    let mut facts = served();
    dist(&mut facts).status = "InProgress".into();
    assert_eq!(
        finding(&run(&facts), "cloudfront.distribution").severity,
        Severity::Warning
    );
}
