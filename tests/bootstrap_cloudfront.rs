//! `bootstrap --hosting cloudfront` through the real binary against moto (S3, S3 Control, IAM,
//! STS, CloudFront, ACM, Route 53, made to behave like AWS by tests/moto/launcher.py) and the
//! test edge (tests/support/edge.rs), which plays CloudFront's data plane: it reads the bucket
//! as the CloudFront service principal, so the documents are served only if the bucket policy
//! lets the distribution read them. Each test signs with its own access key (its requests,
//! faults and account-level Block Public Access are its own), so they run in parallel.

mod support;

use aws_sdk_acm::primitives::Blob;
use serde_json::Value;
use support::bootstrap::*;
use support::edge::Edge;
use support::moto::AccountPublicAccessBlock;
use support::*;

const ALL_BLOCKED: AccountPublicAccessBlock = AccountPublicAccessBlock {
    block_public_acls: true,
    ignore_public_acls: true,
    block_public_policy: true,
    restrict_public_buckets: true,
};

/// `bootstrap --hosting cloudfront` reaching the edge for every name the world's key can create.
fn cloudfront(w: &World, edge: &Edge, extra: &[&str]) -> TestCommand {
    let mut args: Vec<String> = vec![
        "--hosting".into(),
        "cloudfront".into(),
        "--wait-timeout".into(),
        "2m".into(),
        "--ca-file".into(),
        edge.ca_file().display().to_string(),
    ];
    args.extend(edge.connect_to_any(&w.access_key));
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.bootstrap(&args)
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

#[test]
fn account_block_public_access_on_a_private_bucket_serves_through_the_edge_and_a_rerun_writes_nothing(
) {
    let w = world("cf-bpa");
    moto().set_account_public_access_block(&w.access_key, Some(ALL_BLOCKED));
    let edge = Edge::start();

    let out = cloudfront(&w, &edge, &["--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(summary["status"], "applied", "{summary}");
    let distribution = &summary["cloudfront"]["distribution"];
    let id = distribution["id"].as_str().expect("a distribution id");
    let domain = distribution["domain_name"].as_str().expect("its domain");
    assert!(
        distribution["arn"].as_str().unwrap().ends_with(id),
        "{summary}"
    );
    assert_eq!(
        summary["issuer"],
        format!("https://{domain}/{PREFIX}"),
        "{summary}"
    );
    assert!(
        summary["cloudfront"]["sync_options"]
            .as_array()
            .unwrap()
            .contains(&Value::from(format!("--cloudfront-distribution {id}"))),
        "{summary}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "waiting for distribution {id} to deploy (InProgress"
        )),
        "a progress line per poll: {stderr}"
    );

    // The documents through the edge, read as the service principal.
    for path in [
        format!("/{PREFIX}/.well-known/openid-configuration"),
        format!("/{PREFIX}/openid/v1/jwks"),
    ] {
        let answer = edge.get(domain, &path);
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
    }
    // The bucket: no public statement, only ours for the distribution.
    let policy = bucket_policy(&w.bucket).expect("a bucket policy");
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy}");
    assert_eq!(statements[0]["Sid"], "KubeOidcPublisherCloudFrontRead");
    assert_eq!(
        statements[0]["Principal"]["Service"],
        "cloudfront.amazonaws.com"
    );
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["AWS:SourceArn"], distribution["arn"],
        "{policy}"
    );
    assert!(
        !policy.to_string().contains("\"Principal\":\"*\""),
        "{policy}"
    );

    // Re-run: 0 writes in S3, CloudFront, ACM, Route 53 and IAM.
    moto().reset_requests(&w.bucket);
    let hosting_before = moto().hosting_requests(&w.access_key).writes();
    let iam_before = w.iam_requests().writes();
    let out = cloudfront(&w, &edge, &["--output", "json"]).assert_success();
    let summary = json_of(&out);
    assert_eq!(summary["writes"], 0, "{summary}");
    assert_eq!(summary["status"], "in_sync", "{summary}");
    let s3 = moto().requests(&w.bucket);
    assert_eq!(s3.writes(), 0, "{:?}", s3.counts());
    let hosting = moto().hosting_requests(&w.access_key);
    assert_eq!(
        hosting.writes(),
        hosting_before,
        "{:?}",
        hosting.write_actions()
    );
    assert_eq!(w.iam_requests().writes(), iam_before);

    // rotate status reports the edge's copy: what the issuer URL serves, read as STS does.
    let mut status = w.cmd.clone();
    status
        .args(["rotate", "status", "--store"])
        .arg(format!("s3://{}/{PREFIX}", w.bucket))
        .args(["--issuer", &format!("https://{domain}/{PREFIX}")])
        .args([
            "--cloudfront-distribution",
            id,
            "--no-iam",
            "--s3-path-style",
        ])
        .args(["--output", "json", "--kubeconfig"])
        .arg(&w.kubeconfig)
        .arg("--ca-file")
        .arg(edge.ca_file())
        .args(edge.connect_to_any(&w.access_key));
    let report = json_of(&status.assert_success());
    let mut published: Vec<&str> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(!published.is_empty(), "{report}");
    assert_eq!(
        report["edge"]["jwks_uri"],
        format!("https://{domain}/{PREFIX}/openid/v1/jwks"),
        "{report}"
    );
    let mut at_edge: Vec<&str> = report["edge"]["kids"]
        .as_array()
        .unwrap_or_else(|| panic!("the edge's copy was read: {report}"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    published.sort_unstable();
    at_edge.sort_unstable();
    assert_eq!(at_edge, published, "{report}");
}

/// A self-signed certificate for `names` (the first is the CN, ACM's DomainName).
fn certificate_for(names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

/// Imports a certificate for `names` into moto's ACM in us-east-1; returns its ARN.
fn import_certificate(access_key: &str, names: &[&str]) -> String {
    let (cert, key) = certificate_for(names);
    let config = aws_sdk_acm::Config::builder()
        .behavior_version(aws_sdk_acm::config::BehaviorVersion::latest())
        .region(aws_sdk_acm::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_acm::config::Credentials::new(
            access_key, "secret", None, None, "test",
        ))
        .endpoint_url(moto().endpoint())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    moto()
        .block_on(
            aws_sdk_acm::Client::from_conf(config)
                .import_certificate()
                .certificate(Blob::new(cert))
                .private_key(Blob::new(key))
                .send(),
        )
        .expect("ImportCertificate")
        .certificate_arn()
        .expect("an ARN")
        .to_owned()
}

#[test]
fn a_certificate_that_does_not_cover_the_domain_is_refused_and_nothing_is_created() {
    let w = world("cf-cert");
    let edge = Edge::start();
    // *.other.kop.test covers a.other.kop.test, not oidc.kop.test.
    let arn = import_certificate(&w.access_key, &["*.other.kop.test", "kop.test"]);
    let before = moto().hosting_requests(&w.access_key).writes();
    let out = cloudfront(
        &w,
        &edge,
        &["--domain", "oidc.kop.test", "--certificate-arn", &arn],
    )
    .assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("certificate {arn} does not cover oidc.kop.test"))
            && stderr.contains("Nothing was created"),
        "{stderr}"
    );
    let hosting = moto().hosting_requests(&w.access_key);
    assert_eq!(hosting.writes(), before, "{:?}", hosting.write_actions());
    assert_eq!(moto().requests(&w.bucket).writes(), 0);
    assert!(!bucket_exists(&w.bucket));
}

#[test]
fn dry_run_lists_the_cloudfront_and_route53_calls_and_changes_nothing() {
    let w = world("cf-dry");
    let edge = Edge::start();
    let arn = import_certificate(&w.access_key, &["*.kop.test"]);
    let zone = moto()
        .block_on(async {
            let config = aws_sdk_route53::Config::builder()
                .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
                .region(aws_sdk_route53::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_route53::config::Credentials::new(
                    &w.access_key,
                    "secret",
                    None,
                    None,
                    "test",
                ))
                .endpoint_url(moto().endpoint())
                .http_client(
                    aws_smithy_http_client::Builder::new()
                        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                        ))
                        .build_https(),
                )
                .build();
            aws_sdk_route53::Client::from_conf(config)
                .create_hosted_zone()
                .name("kop.test")
                .caller_reference(&w.access_key)
                .send()
                .await
        })
        .expect("CreateHostedZone")
        .hosted_zone()
        .expect("a zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let hosting_before = moto().hosting_requests(&w.access_key).writes();
    let out = cloudfront(
        &w,
        &edge,
        &[
            "--domain",
            "oidc.kop.test",
            "--certificate-arn",
            &arn,
            "--hosted-zone-id",
            &zone,
            "--dry-run",
        ],
    )
    .assert_success();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for call in [
        "cloudfront:CreateOriginAccessControl",
        "cloudfront:CreateDistribution",
        "route53:ChangeResourceRecordSets",
        "s3:CreateBucket",
        "s3:PutBucketPolicy",
        "iam:CreateOpenIDConnectProvider",
    ] {
        assert!(stdout.contains(call), "{call} missing:\n{stdout}");
    }
    assert!(
        stdout.contains(&format!("issuer:   https://oidc.kop.test/{PREFIX}")),
        "{stdout}"
    );
    let hosting = moto().hosting_requests(&w.access_key);
    assert_eq!(
        hosting.writes(),
        hosting_before,
        "{:?}",
        hosting.write_actions()
    );
    assert!(!bucket_exists(&w.bucket));
}
