//! `sync --cloudfront-distribution` through the real binary against moto (the harness's
//! launcher makes its CloudFront behave like AWS: caller references reused, statuses as AWS
//! spells them). The distribution is created with the harness's own client (not logged); the
//! binary signs with a key of its own, so moto's request log holds exactly its calls: a key
//! change invalidates exactly once, a re-run invalidates nothing, a distribution that does not
//! serve the issuer's host is refused (exit 2), and --dry-run lists the invalidation and makes
//! none.

mod support;

use std::path::PathBuf;

use aws_sdk_cloudfront::error::DisplayErrorContext;
use aws_sdk_cloudfront::types::{
    AllowedMethods, DefaultCacheBehavior, DistributionConfig, Method, Origin, Origins,
    S3OriginConfig, ViewerProtocolPolicy,
};
use support::*;

const REGION: &str = "us-east-1";

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A distribution in front of `bucket` (its regional endpoint), made by the harness; returns
/// its id and domain name.
fn distribution(bucket: &str) -> (String, String) {
    let origin = Origin::builder()
        .id("s3-origin")
        .domain_name(format!("{bucket}.s3.{REGION}.amazonaws.com"))
        .origin_path("")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let behaviour = DefaultCacheBehavior::builder()
        .target_origin_id("s3-origin")
        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
        .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
        .allowed_methods(
            AllowedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference(format!("sync-cloudfront-{bucket}"))
        .comment(format!("sync_cloudfront {bucket}"))
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(behaviour)
        .build()
        .unwrap();
    let out = moto()
        .block_on(
            moto()
                .cloudfront_client()
                .create_distribution()
                .distribution_config(config)
                .send(),
        )
        .unwrap_or_else(|e| panic!("CreateDistribution: {}", DisplayErrorContext(&e)));
    let d = out.distribution().unwrap();
    (d.id().to_owned(), d.domain_name().to_owned())
}

struct Setup {
    _dir: tempfile::TempDir,
    cmd: TestCommand,
    access_key: String,
    bucket: String,
    id: String,
    domain: String,
}

fn setup_edge(name: &str) -> Setup {
    let (dir, mut cmd) = setup(name);
    cmd.moto(moto());
    let access_key = moto().unique_access_key(name);
    cmd.env("AWS_ACCESS_KEY_ID", &access_key);
    let bucket = moto().new_bucket(name);
    let (id, domain) = distribution(&bucket);
    Setup {
        _dir: dir,
        cmd,
        access_key,
        bucket,
        id,
        domain,
    }
}

impl Setup {
    fn sync(&self, issuer: &str, keys: &[&str], extra: &[&str]) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.args([
            "sync",
            "--store",
            &format!("s3://{}/c1", self.bucket),
            "--issuer",
            issuer,
            "--no-iam",
            "--s3-path-style",
            "--region",
            REGION,
            "--source",
            "files",
            "--cloudfront-distribution",
            &self.id,
        ]);
        for key in keys {
            cmd.arg("--key-file").arg(example(key));
        }
        cmd.args(extra);
        cmd
    }

    fn issuer(&self) -> String {
        format!("https://{}/c1", self.domain)
    }

    fn invalidations(&self) -> usize {
        moto()
            .hosting_requests(&self.access_key)
            .count("CreateInvalidation")
    }
}

#[test]
fn a_key_change_invalidates_exactly_once_and_a_rerun_nothing() {
    let s = setup_edge("cf-sync-once");
    let issuer = s.issuer();
    s.sync(&issuer, &["sa.pub"], &[]).assert_success();
    assert_eq!(s.invalidations(), 1);
    // The same content: nothing written, nothing invalidated, and the distribution is read
    // once per run for the check.
    s.sync(&issuer, &["sa.pub"], &[]).assert_success();
    assert_eq!(s.invalidations(), 1);
    assert_eq!(
        moto().requests(&s.bucket).writes(),
        3,
        "only the first run writes"
    );
    // A new key: one more invalidation, of exactly the two document paths under the issuer's.
    moto().reset_hosting_requests(&s.access_key);
    let out = s
        .sync(&issuer, &["sa.pub", "sa-ec.pub"], &["--output", "json"])
        .assert_success();
    let log = moto().hosting_requests(&s.access_key);
    assert_eq!(log.count("CreateInvalidation"), 1, "{:?}", log.entries);
    assert_eq!(log.write_actions(), ["cloudfront:CreateInvalidation"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["invalidation"]["paths"],
        serde_json::json!(["/c1/openid/v1/jwks", "/c1/.well-known/openid-configuration"]),
        "{report}"
    );
    let listed = moto()
        .block_on(
            moto()
                .cloudfront_client()
                .list_invalidations()
                .distribution_id(&s.id)
                .send(),
        )
        .unwrap();
    assert_eq!(listed.invalidation_list().unwrap().quantity(), 2);
}

#[test]
fn a_distribution_that_does_not_serve_the_issuer_host_is_refused() {
    let s = setup_edge("cf-sync-host");
    let out = s
        .sync("https://oidc.elsewhere.test/c1", &["sa.pub"], &[])
        .assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("oidc.elsewhere.test"), "{stderr}");
    assert!(stderr.contains(&s.domain), "{stderr}");
    assert!(stderr.contains(&s.id), "{stderr}");
    assert!(moto().get_object(&s.bucket, "c1/openid/v1/jwks").is_none());
    assert_eq!(s.invalidations(), 0);
}

#[test]
fn dry_run_lists_the_invalidation_and_makes_none() {
    let s = setup_edge("cf-sync-dry");
    let out = s
        .sync(&s.issuer(), &["sa.pub"], &["--dry-run"])
        .assert_success();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "invalidate /c1/openid/v1/jwks, /c1/.well-known/openid-configuration on CloudFront distribution {}",
            s.id
        )),
        "{stdout}"
    );
    assert_eq!(s.invalidations(), 0);
    assert_eq!(moto().requests(&s.bucket).writes(), 0);
}
