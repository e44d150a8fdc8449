//! `bootstrap --hosting cloudfront` through the real binary against moto (S3, S3 Control, IAM,
//! STS, CloudFront, ACM, Route 53, made to behave like AWS by tests/moto/launcher.py) and the
//! test edge (tests/support/edge.rs), which plays CloudFront's data plane: it reads the bucket
//! as the CloudFront service principal, so the documents are served only if the bucket policy
//! lets the distribution read them. Each test signs with its own access key (its requests,
//! faults and account-level Block Public Access are its own), so they run in parallel.

mod support;

use serde_json::Value;
use support::bootstrap::*;
use support::edge::Edge;
use support::hosting::{aliases, create_zone, import_certificate, Alias};
use support::moto::AccountPublicAccessBlock;
use support::moto::ACCOUNT_ID;
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
    let zone = create_zone(&w.access_key, "kop.test");
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

/// A custom domain for this world: unique (CloudFront refuses an alias another distribution of
/// the shared moto account has), under `kop.test`, covered by a `*.kop.test` certificate.
fn custom_domain(w: &World) -> String {
    format!("{}.kop.test", w.bucket)
}

/// The id of the distribution with `domain` (read with the harness's client).
fn distribution_id(domain: &str) -> String {
    let listed = moto()
        .block_on(
            moto()
                .cloudfront_client()
                .list_distributions()
                .max_items(1000)
                .send(),
        )
        .expect("ListDistributions");
    listed
        .distribution_list()
        .and_then(|l| l.items().iter().find(|d| d.domain_name() == domain))
        .unwrap_or_else(|| panic!("no distribution {domain}"))
        .id()
        .to_owned()
}

fn iam_writes(w: &World, action: &str) -> usize {
    w.iam_requests().count(action)
}

#[test]
fn a_custom_domain_with_a_hosted_zone_gets_its_alias_records_and_a_rerun_leaves_route53_alone() {
    let w = world("cf-zone");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 0.5);
    let domain = custom_domain(&w);
    let edge = Edge::start_with_names(&[&domain]);
    let arn = import_certificate(&w.access_key, &["*.kop.test"]);
    let zone = create_zone(&w.access_key, "kop.test");
    let args = [
        "--domain",
        &domain,
        "--certificate-arn",
        &arn,
        "--hosted-zone-id",
        &zone,
        "--publisher-role",
        &w.role,
        "--output",
        "json",
    ];

    let summary = json_of(&cloudfront(&w, &edge, &args).assert_success());
    assert_eq!(summary["status"], "applied", "{summary}");
    let issuer = format!("https://{domain}/{PREFIX}");
    assert_eq!(summary["issuer"], issuer, "{summary}");
    let distribution = summary["cloudfront"]["distribution"]["domain_name"]
        .as_str()
        .expect("the distribution's domain")
        .to_owned();
    assert_eq!(
        summary["cloudfront"]["dns_records_to_create"],
        Value::Array(vec![]),
        "the zone holds the records, none to create by hand: {summary}"
    );

    // Route 53 holds A and AAAA aliases of the name to the distribution (CloudFront's zone).
    let want = |record_type: &str| Alias {
        record_type: record_type.to_owned(),
        target: distribution.clone(),
        target_zone: "Z2FDTNDATAQYW2".to_owned(),
    };
    assert_eq!(
        aliases(&w.access_key, &zone, &domain),
        vec![want("A"), want("AAAA")]
    );

    // bootstrap itself read both documents on the custom domain through the edge (as STS does)
    // before it created the provider, and so can anyone now.
    let discovery = format!("/{PREFIX}/.well-known/openid-configuration");
    let read_by_bootstrap: Vec<_> = edge
        .requests_for(&discovery)
        .into_iter()
        .filter(|r| r.host == domain && r.status == 200)
        .collect();
    assert!(!read_by_bootstrap.is_empty(), "{:?}", edge.requests());
    let answer = edge.get(&domain, &discovery);
    assert_eq!(answer.status, 200, "{answer:?}");
    let document: Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(document["issuer"], issuer);
    assert!(
        moto()
            .get_provider(&support::moto::provider_arn(&issuer))
            .is_some(),
        "the provider is for the custom domain's issuer"
    );

    // Re-run: nothing to write, Route 53 included.
    let route53_before = moto()
        .hosting_requests(&w.access_key)
        .service("route53")
        .writes();
    let again = json_of(&cloudfront(&w, &edge, &args).assert_success());
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(again["status"], "in_sync", "{again}");
    let route53 = moto().hosting_requests(&w.access_key).service("route53");
    assert_eq!(
        route53.writes(),
        route53_before,
        "{:?}",
        route53.write_actions()
    );
    assert!(
        route53.count("ListResourceRecordSets") >= 2,
        "the re-run read the records before deciding: {:?}",
        route53.counts()
    );
}

#[test]
fn without_a_hosted_zone_no_wait_prints_the_record_and_stops_before_the_provider() {
    let w = world("cf-nowait");
    let domain = custom_domain(&w);
    let edge = Edge::start_with_names(&[&domain]);
    let arn = import_certificate(&w.access_key, &["*.kop.test"]);
    let out = cloudfront(
        &w,
        &edge,
        &[
            "--domain",
            &domain,
            "--certificate-arn",
            &arn,
            "--publisher-role",
            &w.role,
            "--no-wait",
        ],
    )
    .assert_exit(0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let distribution = cloudfront_domain(&w.access_key, 0);
    for line in [
        format!("DNS records to create for {domain} (no --hosted-zone-id):"),
        format!("{domain}. A ALIAS {distribution}. (hosted zone Z2FDTNDATAQYW2)"),
        format!("{domain}. AAAA ALIAS {distribution}. (hosted zone Z2FDTNDATAQYW2)"),
        format!("(outside Route 53: {domain}. CNAME {distribution}.)"),
        "Finish: run the same bootstrap command again".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line:?} missing:\n{stdout}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("waiting for"),
        "--no-wait waits for nothing: {stderr}"
    );
    // The documents are published, the IAM side is left for the run that finishes.
    assert!(moto()
        .get_object(&w.bucket, &w.key("openid/v1/jwks"))
        .is_some());
    assert_eq!(iam_writes(&w, "CreateOpenIDConnectProvider"), 0);
    assert_eq!(iam_writes(&w, "CreateRole"), 0);
    assert!(moto()
        .get_provider(&support::moto::provider_arn(&format!(
            "https://{domain}/{PREFIX}"
        )))
        .is_none());
}

#[test]
fn without_a_hosted_zone_bootstrap_waits_for_the_name_to_resolve_and_a_rerun_once_it_does_finishes()
{
    let w = world("cf-dnswait");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 0.2);
    let domain = custom_domain(&w);
    let edge = Edge::start_with_names(&[&domain]);
    let arn = import_certificate(&w.access_key, &["*.kop.test"]);
    let base = [
        "--domain",
        domain.as_str(),
        "--certificate-arn",
        arn.as_str(),
        "--publisher-role",
        w.role.as_str(),
    ];
    // The distribution's names reach the edge; the custom domain is in no DNS (nobody created
    // its record yet): bootstrap's resolver reads --connect-to as DNS, the system's otherwise.
    let mut first: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    first.extend(["--wait-timeout".into(), "4s".into()]);
    for n in 0..4 {
        first.extend([
            "--connect-to".into(),
            edge.connect_to(&cloudfront_domain(&w.access_key, n)),
        ]);
    }
    let mut cmd = w.bootstrap(&[
        "--hosting",
        "cloudfront",
        "--ca-file",
        &edge.ca_file().display().to_string(),
    ]);
    cmd.args(&first);
    let out = cmd.assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let distribution = cloudfront_domain(&w.access_key, 0);
    assert!(
        stderr.contains(&format!(
            "waiting for {domain} to resolve (create: {domain}. A ALIAS {distribution}."
        )),
        "a progress line per poll, naming the record: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{domain} does not resolve after"))
            && stderr.contains("run the same bootstrap command again"),
        "{stderr}"
    );
    assert_eq!(iam_writes(&w, "CreateOpenIDConnectProvider"), 0);
    assert_eq!(iam_writes(&w, "CreateRole"), 0);

    // The record exists now (the test's DNS: --connect-to for the name): the same command
    // finishes the job without touching CloudFront again.
    let cloudfront_before = moto()
        .hosting_requests(&w.access_key)
        .service("cloudfront")
        .writes();
    let summary = json_of(
        &cloudfront(&w, &edge, &[&base[..], &["--output", "json"]].concat()).assert_success(),
    );
    assert_eq!(summary["issuer"], format!("https://{domain}/{PREFIX}"));
    assert_eq!(iam_writes(&w, "CreateOpenIDConnectProvider"), 1);
    assert_eq!(iam_writes(&w, "CreateRole"), 1);
    let cloudfront = moto().hosting_requests(&w.access_key).service("cloudfront");
    assert_eq!(
        cloudfront.writes(),
        cloudfront_before,
        "{:?}",
        cloudfront.write_actions()
    );
}

#[test]
fn a_deployment_longer_than_wait_timeout_stops_before_iam_and_a_rerun_once_deployed_finishes() {
    let w = world("cf-timeout");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 6.0);
    let edge = Edge::start();
    let mut cmd = w.bootstrap(&[
        "--hosting",
        "cloudfront",
        "--wait-timeout",
        "2s",
        "--publisher-role",
        &w.role,
        "--ca-file",
        &edge.ca_file().display().to_string(),
    ]);
    cmd.args(edge.connect_to_any(&w.access_key));
    let out = cmd.assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let id = distribution_id(&cloudfront_domain(&w.access_key, 0));
    assert!(
        stderr.contains(&format!(
            "distribution {id} is still InProgress after 2s (--wait-timeout); everything is set up and kept"
        )) && stderr.contains("run the same bootstrap command again")
            && stderr.contains("or pass a longer --wait-timeout"),
        "{stderr}"
    );
    assert_eq!(iam_writes(&w, "CreateOpenIDConnectProvider"), 0);
    assert_eq!(iam_writes(&w, "CreateRole"), 0);
    // What comes before the wait is there: the bucket's documents.
    assert!(moto()
        .get_object(&w.bucket, &w.key("openid/v1/jwks"))
        .is_some());

    // Once CloudFront says Deployed, the same command finishes without waiting.
    let started = std::time::Instant::now();
    while !moto().cloudfront_deployed_once(&id) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{id} never deployed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let cloudfront_before = moto()
        .hosting_requests(&w.access_key)
        .service("cloudfront")
        .writes();
    let mut cmd = w.bootstrap(&[
        "--hosting",
        "cloudfront",
        "--wait-timeout",
        "2s",
        "--publisher-role",
        &w.role,
        "--ca-file",
        &edge.ca_file().display().to_string(),
        "--output",
        "json",
    ]);
    cmd.args(edge.connect_to_any(&w.access_key));
    let out = cmd.assert_success();
    let summary = json_of(&out);
    assert_eq!(summary["cloudfront"]["distribution"]["id"], id.as_str());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("waiting for distribution"), "{stderr}");
    assert_eq!(iam_writes(&w, "CreateOpenIDConnectProvider"), 1);
    assert_eq!(iam_writes(&w, "CreateRole"), 1);
    let cloudfront = moto().hosting_requests(&w.access_key).service("cloudfront");
    assert_eq!(
        cloudfront.writes(),
        cloudfront_before,
        "{:?}",
        cloudfront.write_actions()
    );
}

/// A distribution someone else made for the world's bucket (us-east-1): its regional origin
/// without an origin access control, viewers on HTTP too, no tags. Returns its id.
fn foreign_distribution(w: &World) -> String {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig,
        ViewerProtocolPolicy,
    };
    let origin = Origin::builder()
        .id("their-origin")
        .domain_name(format!("{}.s3.us-east-1.amazonaws.com", w.bucket))
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .expect("origin");
    let config = DistributionConfig::builder()
        .caller_reference(format!("theirs-{}", w.bucket))
        .comment("made by hand")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .expect("origins"),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("their-origin")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .build()
                .expect("behaviour"),
        )
        .build()
        .expect("config");
    moto()
        .block_on(
            support::hosting::cloudfront(&w.access_key)
                .create_distribution()
                .distribution_config(config)
                .send(),
        )
        .expect("CreateDistribution")
        .distribution()
        .expect("a distribution")
        .id()
        .to_owned()
}

fn tags_of(id: &str) -> std::collections::BTreeMap<String, String> {
    let arn = format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{id}");
    moto()
        .block_on(
            moto()
                .cloudfront_client()
                .list_tags_for_resource()
                .resource(arn)
                .send(),
        )
        .expect("ListTagsForResource")
        .tags()
        .map(|t| t.items().to_vec())
        .unwrap_or_default()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect()
}

#[test]
fn adopt_tags_the_distribution_it_adopts_so_a_rerun_without_adopt_finds_it() {
    let w = world("cf-adopt");
    moto().set_cloudfront_deploy_seconds(&w.access_key, 0.3);
    let edge = Edge::start();
    let id = foreign_distribution(&w);

    // Not ours: refused, naming --adopt.
    let out = cloudfront(&w, &edge, &[]).assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("distribution {id} with origin"))
            && stderr.contains("Pass --adopt"),
        "{stderr}"
    );

    // --dry-run lists the tagging among the calls, and makes none.
    let writes_before = moto().hosting_requests(&w.access_key).writes();
    let out = cloudfront(&w, &edge, &["--adopt", "--dry-run"]).assert_success();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "cloudfront:TagResource {id}: tags kube-oidc-publisher/bucket={}, kube-oidc-publisher/managed-by=kube-oidc-publisher",
            w.bucket
        )),
        "{stdout}"
    );
    assert_eq!(
        moto().hosting_requests(&w.access_key).writes(),
        writes_before
    );
    assert!(tags_of(&id).is_empty());

    // --adopt: tagged as ours, set up, serving.
    let summary =
        json_of(&cloudfront(&w, &edge, &["--adopt", "--output", "json"]).assert_success());
    assert_eq!(
        summary["cloudfront"]["distribution"]["id"],
        id.as_str(),
        "{summary}"
    );
    let tags = tags_of(&id);
    assert_eq!(
        tags.get("kube-oidc-publisher/managed-by")
            .map(String::as_str),
        Some("kube-oidc-publisher"),
        "{tags:?}"
    );
    assert_eq!(
        tags.get("kube-oidc-publisher/bucket"),
        Some(&w.bucket),
        "{tags:?}"
    );
    let hosting = moto().hosting_requests(&w.access_key);
    assert_eq!(hosting.count("TagResource"), 1, "{:?}", hosting.counts());

    // A re-run without --adopt finds it by the tag and has nothing to do.
    let again = json_of(&cloudfront(&w, &edge, &["--output", "json"]).assert_success());
    assert_eq!(
        again["cloudfront"]["distribution"]["id"],
        id.as_str(),
        "{again}"
    );
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(
        moto().hosting_requests(&w.access_key).count("TagResource"),
        1
    );
}
