//! `doctor` through the real binary for an issuer served by CloudFront: each broken state is
//! set up directly in moto (the harness's launcher makes its CloudFront behave like AWS) and
//! read through the test edge (tests/support/edge.rs, CloudFront's data plane), the binary
//! reaching it with `--connect-to` and `--ca-file`. One healthy setup reports every
//! `cloudfront.*` check ok, so a doctor that always complains fails too.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_cloudfront::error::DisplayErrorContext;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, DefaultCacheBehavior, DistributionConfig, Method,
    MinimumProtocolVersion, Origin, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins,
    S3OriginConfig, SslSupportMethod, ViewerCertificate, ViewerProtocolPolicy,
};
use serde_json::Value;
use support::edge::{Cache, Edge};
use support::hosting::import_certificate;
use support::moto;
use support::moto::ACCOUNT_ID;

const NO_KEY: &str =
    "InvalidIdentityToken: Couldn't retrieve verification key from your identity provider";
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const REGION: &str = "eu-west-1";

fn cloudfront(access_key: &str) -> aws_sdk_cloudfront::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(moto().endpoint())
        .http_client(http)
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// How a test breaks the setup bootstrap makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Break {
    Nothing,
    /// The origin has no origin access control.
    NoOac,
    /// The origin is the global `BUCKET.s3.amazonaws.com`.
    GlobalOrigin,
    /// The bucket policy names another distribution's ARN.
    OtherSourceArn,
}

/// A private bucket in eu-west-1 holding the documents of `https://DOMAIN/c1`, behind a
/// deployed distribution; returns the issuer.
fn hosted(name: &str, broken: Break) -> String {
    hosted_on(name, broken, None).issuer
}

/// What [`hosted_on`] set up.
struct Hosted {
    /// `https://HOST/c1`: HOST is the alias when there is one.
    issuer: String,
    id: String,
    /// The distribution's own `*.cloudfront.net` name.
    domain: String,
    bucket: String,
}

/// [`hosted`], optionally on a custom domain: `alias` = (name, ACM certificate ARN), set as
/// the distribution's alternate domain name and viewer certificate, and the issuer's host.
fn hosted_on(name: &str, broken: Break, alias: Option<(&str, &str)>) -> Hosted {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let key = moto().unique_access_key(name);
    moto().set_cloudfront_deploy_seconds(&key, 0.2);
    let bucket = moto().unique_bucket(name);
    moto()
        .block_on(
            moto()
                .client()
                .create_bucket()
                .bucket(&bucket)
                .create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(REGION))
                        .build(),
                )
                .send(),
        )
        .unwrap_or_else(|e| panic!("create bucket: {}", DisplayErrorContext(&e)));
    let client = cloudfront(&key);
    let oac_id = (broken != Break::NoOac).then(|| {
        let config = OriginAccessControlConfig::builder()
            .name(format!("{name}-oac"))
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build()
            .expect("OAC config");
        moto()
            .block_on(
                client
                    .create_origin_access_control()
                    .origin_access_control_config(config)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("CreateOriginAccessControl: {}", DisplayErrorContext(&e)))
            .origin_access_control()
            .expect("OAC")
            .id()
            .to_string()
    });
    let origin_domain = match broken {
        Break::GlobalOrigin => format!("{bucket}.s3.amazonaws.com"),
        _ => format!("{bucket}.s3.{REGION}.amazonaws.com"),
    };
    let origin = Origin::builder()
        .id("s3-origin")
        .domain_name(&origin_domain)
        .origin_path("")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .set_origin_access_control_id(oac_id)
        .build()
        .expect("origin");
    let behaviour = DefaultCacheBehavior::builder()
        .target_origin_id("s3-origin")
        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
        .cache_policy_id(CACHING_OPTIMIZED)
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .build()
                .expect("methods"),
        )
        .build()
        .expect("behaviour");
    let mut config = DistributionConfig::builder();
    if let Some((alias, certificate)) = alias {
        config = config
            .aliases(
                Aliases::builder()
                    .quantity(1)
                    .items(alias)
                    .build()
                    .expect("aliases"),
            )
            .viewer_certificate(
                ViewerCertificate::builder()
                    .acm_certificate_arn(certificate)
                    .ssl_support_method(SslSupportMethod::SniOnly)
                    .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
                    .build(),
            );
    }
    let config = config
        .caller_reference(name)
        .comment(format!("doctor test {name}"))
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(behaviour)
        .build()
        .expect("distribution config");
    let out = moto()
        .block_on(
            client
                .create_distribution()
                .distribution_config(config)
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateDistribution: {}", DisplayErrorContext(&e)));
    let dist = out.distribution().expect("distribution");
    let (id, domain) = (dist.id().to_string(), dist.domain_name().to_string());
    let issuer = format!("https://{}/c1", alias.map_or(domain.as_str(), |(a, _)| a));
    let discovery = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    for (path, body) in [
        (".well-known/openid-configuration", discovery.to_string()),
        ("openid/v1/jwks", r#"{"keys":[]}"#.to_owned()),
    ] {
        moto().put_object(
            &bucket,
            &format!("c1/{path}"),
            body.as_bytes(),
            Some("application/json"),
            Some("public, max-age=300"),
        );
    }
    let source_arn = match broken {
        Break::OtherSourceArn => {
            format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/EOTHER0000000")
        }
        _ => format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{id}"),
    };
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "CloudFrontRead", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/c1/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": source_arn}},
    }]});
    moto()
        .block_on(
            moto()
                .client()
                .put_bucket_policy()
                .bucket(&bucket)
                .policy(policy.to_string())
                .send(),
        )
        .unwrap_or_else(|e| panic!("put bucket policy: {}", DisplayErrorContext(&e)));
    let started = Instant::now();
    loop {
        let status = moto()
            .block_on(client.get_distribution().id(&id).send())
            .unwrap_or_else(|e| panic!("GetDistribution: {}", DisplayErrorContext(&e)))
            .distribution()
            .expect("distribution")
            .status()
            .to_string();
        if status == "Deployed" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{id} still {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Hosted {
        issuer,
        id,
        domain,
        bucket,
    }
}

/// `doctor --issuer ISSUER --output json` through the edge.
fn doctor(edge: &Edge, issuer: &str) -> Value {
    doctor_with(edge, issuer, &[])
}

/// [`doctor`] plus `extra` arguments (more `--connect-to`, which doctor's resolver also reads
/// as DNS; one for the issuer's host replaces the edge's).
fn doctor_with(edge: &Edge, issuer: &str, extra: &[String]) -> Value {
    let host = issuer
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (_dir, mut cmd) = support::setup("doctor-cloudfront");
    cmd.moto(moto())
        .arg("doctor")
        .arg("--issuer")
        .arg(issuer)
        .arg("--region")
        .arg(REGION)
        .arg("--s3-path-style")
        .arg("--ca-file")
        .arg(edge.ca_file())
        // Before the issuer host's own: the first --connect-to for a name wins.
        .args(extra)
        .arg("--connect-to")
        .arg(edge.connect_to(&host))
        .arg("--output")
        .arg("json");
    let output = cmd.run();
    let stdout = support::stdout_str(&output);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}",
            support::command::describe(&cmd.command_line(), &output)
        )
    })
}

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report:#}"))
}

/// The only `cloudfront.*` error is `check`, naming the key-retrieval STS error.
fn assert_cloudfront_error(report: &Value, check: &str) -> String {
    let errors: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| f["check"].as_str())
        .filter(|c| c.starts_with("cloudfront."))
        .collect();
    assert_eq!(errors, [check], "{report:#}");
    let f = finding(report, check);
    assert_eq!(f["sts_error"], NO_KEY, "{f:#}");
    f["fix"].as_str().unwrap().to_owned()
}

#[test]
fn a_private_bucket_behind_cloudfront_as_bootstrap_makes_it_is_clean() {
    let edge = Edge::start();
    let issuer = hosted("doc-cf-clean", Break::Nothing);
    let report = doctor(&edge, &issuer);
    for check in [
        "cloudfront.distribution",
        "cloudfront.dns",
        "cloudfront.certificate",
        "cloudfront.origin",
        "cloudfront.origin_access_control",
        "cloudfront.bucket_policy",
        "cloudfront.edge_cache",
    ] {
        assert_eq!(finding(&report, check)["severity"], "ok", "{report:#}");
    }
    // The edge served both documents anonymously.
    assert_eq!(
        finding(&report, "discovery.fetch")["severity"],
        "ok",
        "{report:#}"
    );
}

#[test]
fn an_origin_without_oac_is_named_with_the_command_that_attaches_one() {
    let edge = Edge::start();
    let issuer = hosted("doc-cf-nooac", Break::NoOac);
    let report = doctor(&edge, &issuer);
    let fix = assert_cloudfront_error(&report, "cloudfront.origin_access_control");
    assert!(fix.contains("create-origin-access-control"), "{fix}");
    // STS's GET through the edge is refused, too.
    assert_eq!(finding(&report, "discovery.fetch")["severity"], "error");
}

#[test]
fn a_global_origin_is_named_with_the_regional_endpoint() {
    let edge = Edge::start();
    let issuer = hosted("doc-cf-global", Break::GlobalOrigin);
    let report = doctor(&edge, &issuer);
    let fix = assert_cloudfront_error(&report, "cloudfront.origin");
    assert!(
        fix.contains(&format!(".s3.{REGION}.amazonaws.com")),
        "{fix}"
    );
    let message = finding(&report, "cloudfront.origin")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("307"), "{message}");
}

#[test]
fn a_bucket_policy_for_another_distribution_is_named() {
    let edge = Edge::start();
    let issuer = hosted("doc-cf-arn", Break::OtherSourceArn);
    let report = doctor(&edge, &issuer);
    let fix = assert_cloudfront_error(&report, "cloudfront.bucket_policy");
    // bootstrap's own statement, for this distribution and the issuer's two documents.
    let statement: Value = serde_json::from_str(
        fix.strip_prefix("add the statement ")
            .and_then(|rest| rest.split_once(" to the policy of bucket "))
            .map(|(json, _)| json)
            .unwrap_or_else(|| panic!("no statement in {fix}")),
    )
    .expect("the statement is JSON");
    assert_eq!(statement["Sid"], "KubeOidcPublisherCloudFrontRead", "{fix}");
    let arn = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        arn.starts_with(&format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/"))
            && !arn.ends_with("EOTHER0000000"),
        "{fix}"
    );
    let resources = statement["Resource"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{fix}");
    assert!(
        resources
            .iter()
            .all(|r| r.as_str().unwrap().contains("/c1/")),
        "{fix}"
    );
    let message = finding(&report, "cloudfront.bucket_policy")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("EOTHER0000000"), "{message}");
}

#[test]
fn an_edge_serving_a_copy_older_than_its_max_age_is_named_with_the_invalidation() {
    let edge = Edge::start();
    let site = hosted_on("doc-cf-stale", Break::Nothing, None);
    let jwks = "/c1/openid/v1/jwks";
    // The edge caches the JWKS for its max-age (300 s)...
    assert_eq!(edge.get(&site.domain, jwks).status, 200);
    // ...then a new key lands in the bucket, with a max-age of 1 s and no invalidation: once
    // that second has passed, a viewer should get the new copy, but this edge keeps the old.
    moto().put_object(
        &site.bucket,
        "c1/openid/v1/jwks",
        br#"{"keys":[{"kty":"RSA","kid":"new","n":"AQAB","e":"AQAB"}]}"#,
        Some("application/json"),
        Some("public, max-age=1"),
    );
    std::thread::sleep(Duration::from_millis(2100));
    edge.clear_log();
    let report = doctor(&edge, &site.issuer);
    let served: Vec<_> = edge.requests_for(jwks);
    assert!(
        served
            .iter()
            .any(|r| r.cache == Cache::Hit && r.status == 200),
        "doctor read the edge's cached copy: {served:?}"
    );
    let fix = assert_cloudfront_error(&report, "cloudfront.edge_cache");
    assert_eq!(
        fix,
        format!(
            "invalidate the edge's copies: aws cloudfront create-invalidation --distribution-id {} --paths {jwks}",
            site.id
        )
    );
    let message = finding(&report, "cloudfront.edge_cache")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains(&format!("{jwks} (max-age 1 s)")) && message.contains(&site.bucket),
        "{message}"
    );
}

#[test]
fn a_viewer_certificate_that_does_not_cover_the_custom_domain_is_named() {
    let alias = format!("{}.kop.test", moto().unique_bucket("doc-cf-cert"));
    let edge = Edge::start_with_names(&[&alias]);
    let certificate = import_certificate(
        &moto().unique_access_key("doc-cf-cert-acm"),
        &["*.other.kop.test"],
    );
    let site = hosted_on("doc-cf-cert", Break::Nothing, Some((&alias, &certificate)));
    let report = doctor_with(
        &edge,
        &site.issuer,
        &["--connect-to".to_owned(), edge.connect_to(&site.domain)],
    );
    let fix = assert_cloudfront_error(&report, "cloudfront.certificate");
    assert!(
        fix.contains(&format!(
            "aws acm request-certificate --region us-east-1 --domain-name {alias}"
        )),
        "{fix}"
    );
    let message = finding(&report, "cloudfront.certificate")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        format!("the viewer certificate {certificate} covers *.other.kop.test, not {alias}: the TLS handshake for the issuer fails")
    );
    // Found by its alias, and DNS points the name at it: only the certificate is wrong.
    assert_eq!(finding(&report, "cloudfront.dns")["severity"], "ok");
    assert!(
        finding(&report, "cloudfront.distribution")["message"]
            .as_str()
            .unwrap()
            .contains(&format!("the distribution with alias {alias}")),
        "{report:#}"
    );
}

#[test]
fn a_custom_domain_resolving_elsewhere_is_named_with_the_alias_records_to_create() {
    let alias = format!("{}.kop.test", moto().unique_bucket("doc-cf-dns"));
    let edge = Edge::start_with_names(&[&alias]);
    let certificate =
        import_certificate(&moto().unique_access_key("doc-cf-dns-acm"), &["*.kop.test"]);
    let site = hosted_on("doc-cf-dns", Break::Nothing, Some((&alias, &certificate)));
    // The test's DNS (--connect-to, which doctor reads as the resolver): the distribution's
    // name at the edge, the custom domain at another address, where nothing serves it.
    let report = doctor_with(
        &edge,
        &site.issuer,
        &[
            "--connect-to".to_owned(),
            edge.connect_to(&site.domain),
            "--connect-to".to_owned(),
            format!("{alias}:443:127.0.0.2:{}", edge.port()),
        ],
    );
    let fix = assert_cloudfront_error(&report, "cloudfront.dns");
    assert!(
        fix.contains(&format!("point {alias} at {}", site.domain))
            && fix.contains("Z2FDTNDATAQYW2"),
        "{fix}"
    );
    let message = finding(&report, "cloudfront.dns")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with(&format!(
            "{alias} resolves to 127.0.0.2, none of which is an address of {} (127.0.0.1)",
            site.domain
        )),
        "{message}"
    );
    // The certificate is right; what STS would meet is a host that does not answer.
    assert_eq!(finding(&report, "cloudfront.certificate")["severity"], "ok");
    assert_eq!(finding(&report, "discovery.fetch")["severity"], "error");
}

#[test]
fn an_s3_issuer_is_not_looked_for_among_distributions() {
    // An S3 endpoint cannot be a distribution's alias: doctor does not list the account's
    // distributions for it (nor reports any cloudfront.* check).
    let edge = Edge::start();
    let key = moto().unique_access_key("doc-cf-s3host");
    let bucket = moto().unique_bucket("doc-cf-s3host");
    let host = format!("{bucket}.s3.{REGION}.amazonaws.com");
    let (_dir, mut cmd) = support::setup("doctor-cloudfront-s3host");
    cmd.moto(moto())
        .env("AWS_ACCESS_KEY_ID", &key)
        .args(["doctor", "--issuer", &format!("https://{host}/c1")])
        .args(["--region", REGION, "--s3-path-style", "--output", "json"])
        .arg("--ca-file")
        .arg(edge.ca_file())
        .arg("--connect-to")
        .arg(edge.connect_to(&host));
    let output = cmd.run();
    let report: Value = serde_json::from_str(&support::stdout_str(&output)).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}",
            support::command::describe(&cmd.command_line(), &output)
        )
    });
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["check"].as_str().unwrap().starts_with("cloudfront.")),
        "{report:#}"
    );
    let hosting = moto().hosting_requests(&key);
    assert_eq!(
        hosting.service("cloudfront").total(),
        0,
        "{:?}",
        hosting.counts()
    );
    // The same doctor for a CloudFront name does look (the check above is not vacuous).
    let site = hosted_on("doc-cf-s3host-cf", Break::Nothing, None);
    let report = doctor(&edge, &site.issuer);
    assert_eq!(
        finding(&report, "cloudfront.distribution")["severity"],
        "ok"
    );
}
