//! The CloudFront test harness itself: that the launcher's moto answers CloudFront, ACM and
//! Route 53 the way AWS does where the hosting code depends on it (tests/moto/launcher.py,
//! `patch_cloudfront`), that its request log and faults isolate tests by access key, and that
//! the test edge (tests/support/edge.rs) serves, refuses, redirects and caches like CloudFront
//! in front of S3. Each test signs with its own access key, so tests share one moto server.
//! These tests use the SDK clients directly; the product's own tests drive the binary.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_cloudfront::error::DisplayErrorContext;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    InvalidationBatch, Method, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins, Paths,
    S3OriginConfig, SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use support::moto::ACCOUNT_ID;
use support::{cloudfront_domain, moto, HostingFault};

/// The managed cache policy CachingOptimized (PROTOCOL.md §8).
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// rustls + ring, as the product and the harness use (no default HTTPS client is compiled in).
fn http_client() -> aws_sdk_cloudfront::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

fn credentials(access_key: &str) -> aws_sdk_cloudfront::config::Credentials {
    aws_sdk_cloudfront::config::Credentials::new(access_key, "secret", None, None, "test")
}

/// A CloudFront client signing with `access_key` (its requests are logged under that key).
fn cloudfront(access_key: &str) -> aws_sdk_cloudfront::Client {
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(credentials(access_key))
        .endpoint_url(moto().endpoint())
        .http_client(http_client())
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

fn acm(access_key: &str, region: &'static str) -> aws_sdk_acm::Client {
    let config = aws_sdk_acm::Config::builder()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .region(aws_sdk_acm::config::Region::new(region))
        .credentials_provider(credentials(access_key))
        .endpoint_url(moto().endpoint())
        .http_client(http_client())
        .build();
    aws_sdk_acm::Client::from_conf(config)
}

fn route53(access_key: &str) -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .credentials_provider(credentials(access_key))
        .endpoint_url(moto().endpoint())
        .http_client(http_client())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

fn oac(client: &aws_sdk_cloudfront::Client, name: &str) -> String {
    let config = OriginAccessControlConfig::builder()
        .name(name)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .expect("OAC config");
    let out = moto()
        .block_on(
            client
                .create_origin_access_control()
                .origin_access_control_config(config)
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateOriginAccessControl: {}", DisplayErrorContext(&e)));
    out.origin_access_control().expect("OAC").id().to_string()
}

/// What bootstrap creates: one S3 origin (`origin_domain`, OAC `oac_id` or none), HTTPS only,
/// GET/HEAD, CachingOptimized; optionally an alias with an ACM certificate.
fn distribution_config(
    reference: &str,
    origin_domain: &str,
    oac_id: Option<&str>,
    alias: Option<(&str, &str)>,
) -> DistributionConfig {
    let origin = Origin::builder()
        .id("s3-origin")
        .domain_name(origin_domain)
        .origin_path("")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .set_origin_access_control_id(oac_id.map(str::to_string))
        .build()
        .expect("origin");
    let methods = AllowedMethods::builder()
        .quantity(2)
        .items(Method::Get)
        .items(Method::Head)
        .build()
        .expect("methods");
    let behaviour = DefaultCacheBehavior::builder()
        .target_origin_id("s3-origin")
        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
        .cache_policy_id(CACHING_OPTIMIZED)
        .allowed_methods(methods)
        .build()
        .expect("behaviour");
    let mut config = DistributionConfig::builder()
        .caller_reference(reference)
        .comment(format!("kop harness {reference}"))
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(behaviour);
    if let Some((name, certificate)) = alias {
        config = config
            .aliases(
                Aliases::builder()
                    .quantity(1)
                    .items(name)
                    .build()
                    .expect("aliases"),
            )
            .viewer_certificate(
                ViewerCertificate::builder()
                    .acm_certificate_arn(certificate)
                    .ssl_support_method(SslSupportMethod::SniOnly)
                    .minimum_protocol_version(
                        aws_sdk_cloudfront::types::MinimumProtocolVersion::TlSv122021,
                    )
                    .build(),
            );
    }
    config.build().expect("distribution config")
}

/// CreateDistributionWithTags; returns (id, domain name, status, ETag).
fn create_distribution(
    client: &aws_sdk_cloudfront::Client,
    config: DistributionConfig,
) -> (String, String, String, String) {
    let tags = Tags::builder()
        .items(
            Tag::builder()
                .key("kube-oidc-publisher/managed-by")
                .value("harness")
                .build()
                .expect("tag"),
        )
        .build();
    let with_tags = DistributionConfigWithTags::builder()
        .distribution_config(config)
        .tags(tags)
        .build();
    let out = moto()
        .block_on(
            client
                .create_distribution_with_tags()
                .distribution_config_with_tags(with_tags)
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateDistributionWithTags: {}", DisplayErrorContext(&e)));
    let dist = out.distribution().expect("distribution");
    (
        dist.id().to_string(),
        dist.domain_name().to_string(),
        dist.status().to_string(),
        out.e_tag().expect("ETag").to_string(),
    )
}

fn status(client: &aws_sdk_cloudfront::Client, id: &str) -> String {
    let out = moto()
        .block_on(client.get_distribution().id(id).send())
        .unwrap_or_else(|e| panic!("GetDistribution: {}", DisplayErrorContext(&e)));
    out.distribution()
        .expect("distribution")
        .status()
        .to_string()
}

/// Polls GetDistribution until Deployed (bounded by the launcher's deploy delay plus slack).
fn wait_deployed(client: &aws_sdk_cloudfront::Client, id: &str) -> Duration {
    let started = Instant::now();
    while status(client, id) != "Deployed" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "distribution {id} still InProgress after {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn regional_origin(bucket: &str) -> String {
    format!("{bucket}.s3.eu-west-1.amazonaws.com")
}

#[test]
fn distribution_is_in_progress_then_deployed_by_the_clock() {
    let key = moto().unique_access_key("deploy");
    moto().set_cloudfront_deploy_seconds(&key, 1.0);
    let client = cloudfront(&key);
    let config = distribution_config("deploy", &regional_origin("deploy-bucket"), None, None);
    let (id, domain, created_status, _) = create_distribution(&client, config);
    assert_eq!(created_status, "InProgress");
    // Several reads do not advance it (moto's own model deploys after N reads).
    for _ in 0..5 {
        assert_eq!(status(&client, &id), "InProgress");
    }
    let waited = wait_deployed(&client, &id);
    assert!(
        waited > Duration::from_millis(200),
        "deployed after only {waited:?}"
    );
    assert_eq!(
        domain,
        cloudfront_domain(&key, 0),
        "the domain is derived from the access key"
    );
    let (_, second, _, _) = create_distribution(
        &client,
        distribution_config("deploy-2", &regional_origin("b2"), None, None),
    );
    assert_eq!(second, cloudfront_domain(&key, 1));
}

#[test]
fn origins_keep_their_origin_access_control_and_the_viewer_settings() {
    let key = moto().unique_access_key("oac");
    let client = cloudfront(&key);
    let oac_id = oac(&client, "kop-oac-kept");
    let certificate = format!("arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/abc");
    let config = distribution_config(
        "oac-kept",
        &regional_origin("oac-bucket"),
        Some(&oac_id),
        Some(("oidc.kop.test", &certificate)),
    );
    let (id, _, _, _) = create_distribution(&client, config);

    let got = moto()
        .block_on(client.get_distribution().id(&id).send())
        .expect("GetDistribution");
    let from_get = got
        .distribution()
        .and_then(|d| d.distribution_config())
        .expect("config")
        .clone();
    let from_config = moto()
        .block_on(client.get_distribution_config().id(&id).send())
        .expect("GetDistributionConfig")
        .distribution_config()
        .expect("config")
        .clone();
    for config in [&from_get, &from_config] {
        let origin = &config.origins().expect("origins").items()[0];
        assert_eq!(origin.origin_access_control_id(), Some(oac_id.as_str()));
        assert_eq!(
            origin
                .s3_origin_config()
                .map(|c| c.origin_access_identity()),
            Some(""),
            "S3OriginConfig present with an empty OriginAccessIdentity"
        );
        assert_eq!(origin.domain_name(), regional_origin("oac-bucket"));
        let viewer = config.viewer_certificate().expect("viewer certificate");
        assert_eq!(viewer.acm_certificate_arn(), Some(certificate.as_str()));
        assert_eq!(
            viewer.ssl_support_method(),
            Some(&SslSupportMethod::SniOnly)
        );
        assert_eq!(
            viewer.minimum_protocol_version().map(|v| v.as_str()),
            Some("TLSv1.2_2021")
        );
        assert_eq!(viewer.cloud_front_default_certificate(), Some(false));
        assert_eq!(
            config.aliases().map(|a| a.items().to_vec()),
            Some(vec!["oidc.kop.test".to_string()])
        );
        let behaviour = config.default_cache_behavior().expect("behaviour");
        assert_eq!(behaviour.cache_policy_id(), Some(CACHING_OPTIMIZED));
        assert_eq!(
            behaviour.viewer_protocol_policy(),
            &ViewerProtocolPolicy::HttpsOnly
        );
        assert_eq!(
            behaviour.allowed_methods().map(|m| m.items().to_vec()),
            Some(vec![Method::Get, Method::Head])
        );
    }

    let listed = moto()
        .block_on(client.list_distributions().send())
        .expect("ListDistributions");
    let summary = listed
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .find(|d| d.id() == id)
        .expect("listed")
        .clone();
    assert_eq!(
        summary.origins().expect("origins").items()[0].origin_access_control_id(),
        Some(oac_id.as_str())
    );
}

#[test]
fn if_match_is_checked_and_the_etag_changes_on_update() {
    use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionError;
    let key = moto().unique_access_key("ifmatch");
    let client = cloudfront(&key);
    let (id, _, _, created_etag) = create_distribution(
        &client,
        distribution_config("ifmatch", &regional_origin("ifm"), None, None),
    );
    let current = moto()
        .block_on(client.get_distribution_config().id(&id).send())
        .expect("GetDistributionConfig");
    assert_eq!(current.e_tag(), Some(created_etag.as_str()));
    let config = current.distribution_config().expect("config").clone();

    let missing = moto()
        .block_on(
            client
                .update_distribution()
                .id(&id)
                .distribution_config(config.clone())
                .send(),
        )
        .expect_err("no IfMatch");
    assert!(
        matches!(
            missing.as_service_error(),
            Some(UpdateDistributionError::InvalidIfMatchVersion(_))
        ),
        "{}",
        DisplayErrorContext(&missing)
    );

    let updated = moto()
        .block_on(
            client
                .update_distribution()
                .id(&id)
                .if_match(&created_etag)
                .distribution_config(config.clone())
                .send(),
        )
        .unwrap_or_else(|e| panic!("UpdateDistribution: {}", DisplayErrorContext(&e)));
    let new_etag = updated.e_tag().expect("ETag").to_string();
    assert_ne!(new_etag, created_etag, "every update gives a new ETag");
    assert_eq!(
        updated.distribution().expect("distribution").status(),
        "InProgress"
    );

    let stale = moto()
        .block_on(
            client
                .update_distribution()
                .id(&id)
                .if_match(&created_etag)
                .distribution_config(config)
                .send(),
        )
        .expect_err("stale IfMatch");
    assert!(
        matches!(
            stale.as_service_error(),
            Some(UpdateDistributionError::PreconditionFailed(_))
        ),
        "{}",
        DisplayErrorContext(&stale)
    );
    assert_eq!(stale.raw_response().map(|r| r.status().as_u16()), Some(412));

    // Delete: refused while enabled (AWS: disable, wait for Deployed, then delete).
    let refused = moto()
        .block_on(
            client
                .delete_distribution()
                .id(&id)
                .if_match(&new_etag)
                .send(),
        )
        .expect_err("enabled distribution");
    assert_eq!(
        refused.as_service_error().and_then(|e| e.meta().code()),
        Some("DistributionNotDisabled")
    );
}

#[test]
fn invalidations_complete_and_a_reused_caller_reference_returns_the_first() {
    let key = moto().unique_access_key("inval");
    let client = cloudfront(&key);
    let (id, _, _, _) = create_distribution(
        &client,
        distribution_config("inval", &regional_origin("inv"), None, None),
    );
    let batch = |reference: &str, paths: &[&str]| {
        let mut builder = Paths::builder().quantity(paths.len() as i32);
        for p in paths {
            builder = builder.items(*p);
        }
        InvalidationBatch::builder()
            .caller_reference(reference)
            .paths(builder.build().expect("paths"))
            .build()
            .expect("batch")
    };
    let first = moto()
        .block_on(
            client
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch("sha-1", &["/c1/keys.json", "/c1/.well-known/*"]))
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateInvalidation: {}", DisplayErrorContext(&e)));
    let first = first.invalidation().expect("invalidation").clone();
    assert_eq!(first.status(), "Completed");

    let again = moto()
        .block_on(
            client
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch("sha-1", &["/c1/.well-known/*", "/c1/keys.json"]))
                .send(),
        )
        .expect("same reference, same paths");
    assert_eq!(again.invalidation().map(|i| i.id()), Some(first.id()));

    let other = moto()
        .block_on(
            client
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch("sha-1", &["/c2/keys.json"]))
                .send(),
        )
        .expect_err("same reference, other paths");
    assert_eq!(
        other.as_service_error().and_then(|e| e.meta().code()),
        Some("InvalidationBatchAlreadyExists")
    );

    let got = moto()
        .block_on(
            client
                .get_invalidation()
                .distribution_id(&id)
                .id(first.id())
                .send(),
        )
        .expect("GetInvalidation");
    assert_eq!(got.invalidation().map(|i| i.status()), Some("Completed"));
    let listed = moto()
        .block_on(client.list_invalidations().distribution_id(&id).send())
        .expect("ListInvalidations");
    let items = listed
        .invalidation_list()
        .map(|l| l.items().to_vec())
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "{items:?}");
}

/// A self-signed certificate for `names` (SANs; the first is also the CN, which ACM reports as
/// DomainName), PEM certificate and key.
fn certificate_for(names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    // ACM's DomainName of an imported certificate is its subject CN.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

#[test]
fn acm_imports_are_issued_and_regional() {
    use aws_sdk_acm::primitives::Blob;
    let key = moto().unique_access_key("acm");
    let (cert, private_key) = certificate_for(&["oidc.kop.test", "alt.kop.test"]);
    let import = |region| {
        moto()
            .block_on(
                acm(&key, region)
                    .import_certificate()
                    .certificate(Blob::new(cert.clone()))
                    .private_key(Blob::new(private_key.clone()))
                    .send(),
            )
            .unwrap_or_else(|e| panic!("ImportCertificate: {}", DisplayErrorContext(&e)))
            .certificate_arn()
            .expect("ARN")
            .to_string()
    };
    let us = import("us-east-1");
    let eu = import("eu-west-1");
    assert!(us.starts_with("arn:aws:acm:us-east-1:"), "{us}");

    let described = moto()
        .block_on(
            acm(&key, "us-east-1")
                .describe_certificate()
                .certificate_arn(&us)
                .send(),
        )
        .expect("DescribeCertificate");
    let detail = described.certificate().expect("detail");
    assert_eq!(detail.domain_name(), Some("oidc.kop.test"));
    assert_eq!(
        detail.subject_alternative_names().to_vec(),
        vec!["oidc.kop.test".to_string(), "alt.kop.test".to_string()]
    );
    assert_eq!(
        detail.status(),
        Some(&aws_sdk_acm::types::CertificateStatus::Issued)
    );

    let elsewhere = moto()
        .block_on(
            acm(&key, "us-east-1")
                .describe_certificate()
                .certificate_arn(&eu)
                .send(),
        )
        .expect_err("an eu-west-1 certificate is not in us-east-1");
    assert_eq!(
        elsewhere.as_service_error().and_then(|e| e.meta().code()),
        Some("ResourceNotFoundException")
    );
    let log = moto().hosting_requests(&key).service("acm");
    assert_eq!(log.count("ImportCertificate"), 2, "{:?}", log.counts());
    assert_eq!(
        log.writes(),
        2,
        "DescribeCertificate is a read: {:?}",
        log.counts()
    );
}

#[test]
fn route53_keeps_alias_records_to_the_distribution() {
    use aws_sdk_route53::types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
    };
    let key = moto().unique_access_key("r53");
    let client = route53(&key);
    let zone = moto()
        .block_on(
            client
                .create_hosted_zone()
                .name("kop.test")
                .caller_reference(&key)
                .send(),
        )
        .expect("CreateHostedZone")
        .hosted_zone()
        .expect("zone")
        .id()
        .to_string();
    let target = cloudfront_domain(&key, 0);
    let mut batch = ChangeBatch::builder();
    for kind in [RrType::A, RrType::Aaaa] {
        let record = ResourceRecordSet::builder()
            .name("oidc.kop.test")
            .r#type(kind)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id("Z2FDTNDATAQYW2")
                    .dns_name(&target)
                    .evaluate_target_health(false)
                    .build()
                    .expect("alias"),
            )
            .build()
            .expect("record");
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record)
                .build()
                .expect("change"),
        );
    }
    moto()
        .block_on(
            client
                .change_resource_record_sets()
                .hosted_zone_id(&zone)
                .change_batch(batch.build().expect("batch"))
                .send(),
        )
        .unwrap_or_else(|e| panic!("ChangeResourceRecordSets: {}", DisplayErrorContext(&e)));
    let listed = moto()
        .block_on(
            client
                .list_resource_record_sets()
                .hosted_zone_id(&zone)
                .send(),
        )
        .expect("ListResourceRecordSets");
    let aliases: Vec<(String, String, String)> = listed
        .resource_record_sets()
        .iter()
        .filter_map(|r| {
            r.alias_target().map(|a| {
                (
                    r.r#type().as_str().to_string(),
                    a.hosted_zone_id().to_string(),
                    a.dns_name().trim_end_matches('.').to_string(),
                )
            })
        })
        .collect();
    assert_eq!(
        aliases,
        vec![
            (
                "A".to_string(),
                "Z2FDTNDATAQYW2".to_string(),
                target.clone()
            ),
            ("AAAA".to_string(), "Z2FDTNDATAQYW2".to_string(), target),
        ]
    );
    let log = moto().hosting_requests(&key).service("route53");
    assert_eq!(
        log.write_actions(),
        vec![
            "route53:CreateHostedZone".to_string(),
            "route53:ChangeResourceRecordSets".to_string()
        ]
    );
    assert_eq!(log.count("ListResourceRecordSets"), 1);
}

#[test]
fn the_request_log_and_faults_are_per_access_key() {
    let mine = moto().unique_access_key("logmine");
    let theirs = moto().unique_access_key("logtheirs");
    let (id, _, _, _) = create_distribution(
        &cloudfront(&mine),
        distribution_config("log-mine", &regional_origin("logb"), None, None),
    );
    let _ = status(&cloudfront(&theirs), &id);

    moto().inject_hosting_fault(&HostingFault::cloudfront_access_denied(
        &mine,
        "CreateInvalidation",
    ));
    let batch = InvalidationBatch::builder()
        .caller_reference("fault-1")
        .paths(
            Paths::builder()
                .quantity(1)
                .items("/x")
                .build()
                .expect("paths"),
        )
        .build()
        .expect("batch");
    // Another key's invalidation is not faulted.
    moto()
        .block_on(
            cloudfront(&theirs)
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch.clone())
                .send(),
        )
        .expect("other key not faulted");
    let denied = moto()
        .block_on(
            cloudfront(&mine)
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch.clone())
                .send(),
        )
        .expect_err("faulted once");
    assert_eq!(
        denied.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied")
    );
    assert_eq!(
        denied.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
    moto()
        .block_on(
            cloudfront(&mine)
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch)
                .send(),
        )
        .expect("the fault fired once");

    let log = moto().hosting_requests(&mine);
    assert_eq!(
        log.write_actions(),
        vec![
            "cloudfront:CreateDistributionWithTags".to_string(),
            "cloudfront:CreateInvalidation".to_string(),
            "cloudfront:CreateInvalidation".to_string(),
        ]
    );
    assert_eq!(log.faults(), 1);
    assert!(log.entries.iter().all(|r| r.access_key == mine));
    let theirs_log = moto().hosting_requests(&theirs);
    assert_eq!(
        theirs_log.counts().into_iter().collect::<Vec<_>>(),
        vec![
            ("cloudfront:CreateInvalidation".to_string(), 1),
            ("cloudfront:GetDistribution".to_string(), 1)
        ]
    );
    moto().reset_hosting_requests(&mine);
    assert_eq!(moto().hosting_requests(&mine).total(), 0);
    assert_eq!(moto().hosting_requests(&theirs).total(), 2);
}

// --- The test edge -----------------------------------------------------------------------------

use support::edge::{evaluate, glob, invalidates, ttl, Cache, Caller, Decision, Edge};

/// A bucket in `region` holding `c1/keys.json` (max-age 300), behind a distribution created
/// with a fresh access key (InProgress for `deploy_seconds`), its origin `origin(bucket, region)`, with an OAC when
/// `with_oac`, and the bucket policy `policy(bucket, distribution ARN)`. Returns (access key,
/// bucket, distribution id, domain) once the distribution is Deployed.
fn hosted(
    prefix: &str,
    region: &str,
    origin: impl Fn(&str, &str) -> String,
    with_oac: bool,
    policy: impl Fn(&str, &str) -> Option<String>,
    deploy_seconds: f64,
) -> (String, String, String, String) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let max_age = 300;
    let key = moto().unique_access_key(prefix);
    moto().set_cloudfront_deploy_seconds(&key, deploy_seconds);
    let bucket = moto().unique_bucket(prefix);
    let mut create = moto().client().create_bucket().bucket(&bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    moto()
        .block_on(create.send())
        .unwrap_or_else(|e| panic!("create bucket: {}", DisplayErrorContext(&e)));
    moto().put_object(
        &bucket,
        "c1/keys.json",
        br#"{"keys":["v1"]}"#,
        Some("application/json"),
        Some(&format!("max-age={max_age}")),
    );
    let client = cloudfront(&key);
    let oac_id = with_oac.then(|| oac(&client, &format!("{prefix}-oac")));
    let (id, domain, _, _) = create_distribution(
        &client,
        distribution_config(prefix, &origin(&bucket, region), oac_id.as_deref(), None),
    );
    let arn = format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{id}");
    if let Some(policy) = policy(&bucket, &arn) {
        moto()
            .block_on(
                moto()
                    .client()
                    .put_bucket_policy()
                    .bucket(&bucket)
                    .policy(policy)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("put bucket policy: {}", DisplayErrorContext(&e)));
    }
    (key, bucket, id, domain)
}

fn regional(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.amazonaws.com")
}

/// The one statement bootstrap writes: CloudFront, s3:GetObject, the distribution's ARN.
fn oac_policy(bucket: &str, source_arn: &str) -> Option<String> {
    Some(
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "CloudFrontReadsTheDocuments",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{bucket}/c1/*"),
                "Condition": {"StringEquals": {"AWS:SourceArn": source_arn}},
            }],
        })
        .to_string(),
    )
}

#[test]
fn the_edge_serves_through_oac_and_caches_within_max_age() {
    let edge = Edge::start();
    let (_, _, id, domain) = hosted("edge-ok", "eu-west-1", regional, true, oac_policy, 1.5);
    let early = edge.get(&domain, "/c1/keys.json");
    assert_eq!(early.status, 503, "not Deployed yet: {early:?}");
    wait_deployed(moto().cloudfront_client(), &id);

    let first = edge.get(&domain, "/c1/keys.json");
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.body, br#"{"keys":["v1"]}"#);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("cache-control"), Some("max-age=300"));
    assert_eq!(first.header("x-cache"), Some("Miss from cloudfront"));
    let second = edge.get(&domain, "/c1/keys.json");
    assert_eq!(second.status, 200);
    assert_eq!(second.header("x-cache"), Some("Hit from cloudfront"));
    assert_eq!(edge.origin_fetches("/c1/keys.json"), 1);
    let caches: Vec<Cache> = edge
        .requests_for("/c1/keys.json")
        .iter()
        .map(|r| r.cache)
        .collect();
    assert_eq!(caches, vec![Cache::Error, Cache::Miss, Cache::Hit]);
    assert!(edge
        .requests()
        .iter()
        .all(|r| r.distribution.as_deref() == Some(id.as_str())));

    let unknown = edge.get("dunknown0000000.cloudfront.net", "/c1/keys.json");
    assert_eq!(unknown.status, 403);
    assert!(edge
        .connect_to(&domain)
        .ends_with(&format!(":443:127.0.0.1:{}", edge.port())));
}

#[test]
fn the_edge_refetches_after_an_invalidation() {
    let edge = Edge::start();
    let (key, bucket, id, domain) =
        hosted("edge-inv", "eu-west-1", regional, true, oac_policy, 0.3);
    wait_deployed(moto().cloudfront_client(), &id);
    assert_eq!(
        edge.get(&domain, "/c1/keys.json").body,
        br#"{"keys":["v1"]}"#
    );
    moto().put_object(
        &bucket,
        "c1/keys.json",
        br#"{"keys":["v2"]}"#,
        Some("application/json"),
        Some("max-age=300"),
    );
    let stale = edge.get(&domain, "/c1/keys.json");
    assert_eq!(stale.body, br#"{"keys":["v1"]}"#, "cached within max-age");

    let batch = InvalidationBatch::builder()
        .caller_reference("v2")
        .paths(
            Paths::builder()
                .quantity(1)
                .items("/c1/*")
                .build()
                .expect("paths"),
        )
        .build()
        .expect("batch");
    moto()
        .block_on(
            cloudfront(&key)
                .create_invalidation()
                .distribution_id(&id)
                .invalidation_batch(batch)
                .send(),
        )
        .expect("CreateInvalidation");
    let fresh = edge.get(&domain, "/c1/keys.json");
    assert_eq!(
        fresh.body, br#"{"keys":["v2"]}"#,
        "dropped by the invalidation"
    );
    assert_eq!(fresh.header("x-cache"), Some("Miss from cloudfront"));
    assert_eq!(edge.origin_fetches("/c1/keys.json"), 2);
}

#[test]
fn the_edge_refuses_without_the_distribution_statement() {
    let edge = Edge::start();
    // Another distribution's ARN in the condition: S3 refuses CloudFront's request.
    let other = |bucket: &str, _: &str| {
        oac_policy(
            bucket,
            &format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/EOTHER0000000"),
        )
    };
    let (_, _, id, domain) = hosted("edge-deny", "eu-west-1", regional, true, other, 0.3);
    wait_deployed(moto().cloudfront_client(), &id);
    let denied = edge.get(&domain, "/c1/keys.json");
    assert_eq!(denied.status, 403);
    assert!(String::from_utf8_lossy(&denied.body).contains("<Code>AccessDenied</Code>"));
    assert_eq!(edge.origin_fetches("/c1/keys.json"), 0);

    // The right statement but no OAC on the origin: the request reaches S3 anonymously.
    let (_, _, id, domain) = hosted("edge-nooac", "eu-west-1", regional, false, oac_policy, 0.3);
    wait_deployed(moto().cloudfront_client(), &id);
    assert_eq!(edge.get(&domain, "/c1/keys.json").status, 403);
}

#[test]
fn the_edge_gives_a_global_origin_the_307_of_a_new_bucket() {
    let edge = Edge::start();
    let global = |bucket: &str, _: &str| format!("{bucket}.s3.amazonaws.com");
    let (_, bucket, id, domain) = hosted("edge-307", "eu-west-1", global, true, oac_policy, 0.3);
    wait_deployed(moto().cloudfront_client(), &id);
    let redirected = edge.get(&domain, "/c1/keys.json");
    assert_eq!(redirected.status, 307);
    assert_eq!(
        redirected.header("location"),
        Some(format!("https://{bucket}.s3.eu-west-1.amazonaws.com/c1/keys.json").as_str())
    );
    assert_eq!(
        edge.get(&domain, "/c1/keys.json").header("x-cache"),
        Some("Hit from cloudfront"),
        "CloudFront caches the redirect"
    );

    let wrong = |bucket: &str, _: &str| format!("{bucket}.s3.us-west-2.amazonaws.com");
    let (_, _, id, domain) = hosted("edge-301", "eu-west-1", wrong, true, oac_policy, 0.3);
    wait_deployed(moto().cloudfront_client(), &id);
    let moved = edge.get(&domain, "/c1/keys.json");
    assert_eq!(moved.status, 301);
    assert!(String::from_utf8_lossy(&moved.body).contains("PermanentRedirect"));
}

#[test]
fn the_edge_serves_a_registered_custom_domain() {
    // A name no other test uses: the edge routes to the first distribution listing an alias.
    let alias = "oidc-alias-test.kop.test";
    let edge = Edge::start_with_names(&[alias]);
    let key = moto().unique_access_key("alias");
    moto().set_cloudfront_deploy_seconds(&key, 0.3);
    let bucket = moto().new_bucket("edge-alias");
    moto().put_object(
        &bucket,
        "c1/keys.json",
        b"{}",
        Some("application/json"),
        Some("max-age=60"),
    );
    let client = cloudfront(&key);
    let oac_id = oac(&client, "edge-alias-oac");
    let certificate = format!("arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/alias");
    let (id, domain, _, _) = create_distribution(
        &client,
        distribution_config(
            "edge-alias",
            &regional(&bucket, "us-east-1"),
            Some(&oac_id),
            Some((alias, &certificate)),
        ),
    );
    let arn = format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{id}");
    moto()
        .block_on(
            moto()
                .client()
                .put_bucket_policy()
                .bucket(&bucket)
                .policy(oac_policy(&bucket, &arn).expect("policy"))
                .send(),
        )
        .expect("put bucket policy");
    wait_deployed(moto().cloudfront_client(), &id);

    let through_alias = edge.get(alias, "/c1/keys.json");
    assert_eq!(through_alias.status, 200, "{through_alias:?}");
    assert_eq!(edge.get(&domain, "/c1/keys.json").status, 200);
    let hosts: Vec<String> = edge.requests().iter().map(|r| r.host.clone()).collect();
    assert_eq!(hosts, vec![alias.to_string(), domain.clone()]);

    let args = edge.connect_to_any(&key);
    assert!(args.contains(&edge.connect_to(&domain)));
    assert!(args.contains(&edge.connect_to(alias)));
    assert_eq!(args.iter().filter(|a| *a == "--connect-to").count(), 5);
    assert!(std::fs::read_to_string(edge.ca_file())
        .expect("CA file")
        .contains("BEGIN CERTIFICATE"));
}

#[test]
fn bucket_policies_are_evaluated_like_s3() {
    let arn = format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/E1");
    let cloudfront = Caller::CloudFront {
        source_arn: arn.clone(),
    };
    let policy: serde_json::Value =
        serde_json::from_str(&oac_policy("b", &arn).expect("policy")).expect("json");
    assert_eq!(
        evaluate(
            Some(&policy),
            &cloudfront,
            "s3:GetObject",
            "arn:aws:s3:::b/c1/keys.json"
        ),
        Decision::Allow
    );
    assert_eq!(
        evaluate(
            Some(&policy),
            &Caller::Anonymous,
            "s3:GetObject",
            "arn:aws:s3:::b/c1/keys.json"
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(
            Some(&policy),
            &cloudfront,
            "s3:GetObject",
            "arn:aws:s3:::b/c2/keys.json"
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(
            Some(&policy),
            &cloudfront,
            "s3:PutObject",
            "arn:aws:s3:::b/c1/keys.json"
        ),
        Decision::ImplicitDeny
    );
    let mut with_deny = policy.clone();
    with_deny["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(serde_json::json!({
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*",
        }));
    assert_eq!(
        evaluate(
            Some(&with_deny),
            &cloudfront,
            "s3:GetObject",
            "arn:aws:s3:::b/c1/keys.json"
        ),
        Decision::ExplicitDeny
    );
    assert_eq!(
        evaluate(None, &cloudfront, "s3:GetObject", "x"),
        Decision::ImplicitDeny
    );
    assert!(glob(
        "arn:aws:s3:::b/*/keys.json",
        "arn:aws:s3:::b/c1/keys.json"
    ));
    assert!(!glob(
        "arn:aws:s3:::b/c?/keys.json",
        "arn:aws:s3:::b/c10/keys.json"
    ));
    assert!(invalidates("/c1/*", "/c1/.well-known/openid-configuration"));
    assert!(invalidates("/c1/keys.json", "/c1/keys.json"));
    assert!(!invalidates("/c1/keys.json", "/c1/keys.json2"));
}

#[test]
fn cache_lifetimes_follow_caching_optimized() {
    let optimized = CACHING_OPTIMIZED;
    assert_eq!(
        ttl(optimized, Some("max-age=300")),
        Duration::from_secs(300)
    );
    assert_eq!(
        ttl(optimized, Some("public, max-age=0")),
        Duration::from_secs(1)
    );
    assert_eq!(
        ttl(optimized, Some("max-age=99999999")),
        Duration::from_secs(31_536_000)
    );
    assert_eq!(
        ttl(optimized, Some("max-age=60, s-maxage=10")),
        Duration::from_secs(10)
    );
    assert_eq!(ttl(optimized, None), Duration::from_secs(86_400));
    assert_eq!(ttl(optimized, Some("no-store")), Duration::from_secs(1));
    assert_eq!(
        ttl(support::edge::CACHING_DISABLED, Some("max-age=300")),
        Duration::ZERO
    );
}

#[test]
fn the_binary_reaches_the_edge_with_connect_to_and_ca_file() {
    let edge = Edge::start();
    let key = moto().unique_access_key("binary");
    // The name the first distribution of this key will have: known before it exists.
    let domain = cloudfront_domain(&key, 0);
    let (_dir, mut cmd) = support::setup("edge-thumbprint");
    cmd.arg("thumbprint")
        .arg(format!("https://{domain}/c1"))
        .arg("--ca-file")
        .arg(edge.ca_file())
        .args(edge.connect_to_any(&key));
    let output = cmd.assert_success();
    let stdout = support::stdout_str(&output);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.len() == 40 && first.chars().all(|c| c.is_ascii_hexdigit()),
        "a thumbprint of the edge's certificate for {domain}: {stdout}"
    );
}
