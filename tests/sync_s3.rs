//! `sync` to S3 through the real binary against a real S3 endpoint (moto server, started by the
//! harness): object bodies and HTTP metadata checked with signed reads, request counts (a
//! no-op sync makes 0 writes and one read per object), conditional writes against racing
//! publishers, and the S3 failures a user can meet (missing bucket, AccessDenied, 5xx).

mod support;

use std::thread;

use serde_json::Value;
use support::consistency::{assert_consistent, assert_next_runs_converge, PublishedStore};
use support::*;

const JWKS_KEY: &str = "openid/v1/jwks";
const DISCOVERY_KEY: &str = ".well-known/openid-configuration";

struct Cluster {
    server: FakeApiServer,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
    cmd: TestCommand,
}

fn cluster(name: &str, scenario: Scenario) -> Cluster {
    let server = FakeApiServer::with_scenario(scenario);
    let (dir, mut cmd) = setup(name);
    cmd.moto(moto());
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    Cluster {
        server,
        _dir: dir,
        kubeconfig,
        cmd,
    }
}

impl Cluster {
    fn sync(&self, store: &str) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.args([
            "sync",
            "--store",
            store,
            "--no-iam",
            "--s3-path-style",
            "--issuer",
            ISSUER,
            "--kubeconfig",
        ])
        .arg(&self.kubeconfig);
        cmd
    }
}

fn published(bucket: &str, key: &str) -> Vec<u8> {
    moto()
        .get_object(bucket, key)
        .unwrap_or_else(|| panic!("s3://{bucket}/{key} is not published"))
        .body
}

#[test]
fn publishes_both_objects_with_content_type_and_cache_control() {
    let c = cluster("s3-publish", Scenario::Ec);
    let bucket = moto().new_bucket("publish");
    c.sync(&format!("s3://{bucket}/cluster-a")).assert_success();
    for (key, fixture_name) in [
        ("cluster-a/openid/v1/jwks", "jwks-ec.json"),
        (
            "cluster-a/.well-known/openid-configuration",
            "openid-configuration-ec.json",
        ),
    ] {
        let object = moto().get_object(&bucket, key).expect(key);
        assert_eq!(
            String::from_utf8_lossy(&object.body),
            String::from_utf8_lossy(&fixture(fixture_name)),
            "{key}"
        );
        assert_eq!(
            object.content_type.as_deref(),
            Some("application/json"),
            "{key}"
        );
        assert_eq!(
            object.cache_control.as_deref(),
            Some("public, max-age=300"),
            "{key}"
        );
    }
    let mut keys = moto().list_keys(&bucket);
    keys.sort();
    assert_eq!(
        keys,
        [
            "cluster-a/.kube-oidc-publisher/state.json",
            "cluster-a/.well-known/openid-configuration",
            "cluster-a/openid/v1/jwks"
        ],
        "nothing but the two documents and the private retention state is written"
    );
    let state = moto()
        .get_object(&bucket, "cluster-a/.kube-oidc-publisher/state.json")
        .unwrap();
    assert_eq!(state.cache_control.as_deref(), Some("no-store"));
    // The JWKS is written before the discovery document, and the state records them last.
    let puts = moto().requests(&bucket).keys_put();
    assert_eq!(
        puts,
        [
            "cluster-a/openid/v1/jwks",
            "cluster-a/.well-known/openid-configuration",
            "cluster-a/.kube-oidc-publisher/state.json"
        ]
    );
}

#[test]
fn idempotency_second_sync_makes_zero_writes_and_one_read_per_object() {
    let c = cluster("s3-idempotent", Scenario::Rsa);
    let bucket = moto().new_bucket("idempotent");
    let store = format!("s3://{bucket}");
    c.sync(&store).assert_success();
    moto().reset_requests(&bucket);
    c.server.reset_requests();
    let second = c.sync(&store).assert_success();
    assert!(
        stdout_str(&second).contains("(0 writes)"),
        "{}",
        stdout_str(&second)
    );
    let requests = moto().requests(&bucket);
    assert_eq!(requests.writes(), 0, "{:?}", requests.counts());
    assert_eq!(requests.gets(JWKS_KEY), 1, "{:?}", requests.counts());
    assert_eq!(requests.gets(DISCOVERY_KEY), 1, "{:?}", requests.counts());
    assert_eq!(
        requests.gets(".kube-oidc-publisher/state.json"),
        1,
        "{:?}",
        requests.counts()
    );
    assert_eq!(requests.total(), 3, "{:?}", requests.counts());
    // the two documents and the EndpointSlice list (--api-server-endpoints all)
    assert_eq!(c.server.request_count(), 3, "{:?}", c.server.requests());
}

#[test]
fn changed_cache_max_age_rewrites_the_metadata() {
    let c = cluster("s3-max-age", Scenario::Rsa);
    let bucket = moto().new_bucket("max-age");
    let store = format!("s3://{bucket}");
    c.sync(&store).assert_success();
    let mut longer = c.sync(&store);
    longer.args(["--cache-max-age", "600", "--output", "json"]);
    let result: Value = serde_json::from_slice(&longer.assert_success().stdout).unwrap();
    assert_eq!(result["plan"]["changes"][0]["reason"], "metadata_changed");
    assert_eq!(
        moto()
            .get_object(&bucket, JWKS_KEY)
            .unwrap()
            .cache_control
            .as_deref(),
        Some("public, max-age=600")
    );
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
}

#[test]
fn rotation_rewrites_only_the_jwks_conditionally() {
    let c = cluster("s3-rotation", Scenario::Rsa);
    let bucket = moto().new_bucket("rotation");
    let store = format!("s3://{bucket}");
    c.sync(&store).assert_success();
    let etag = moto().get_object(&bucket, JWKS_KEY).unwrap().etag.unwrap();
    moto().reset_requests(&bucket);
    c.server.set_scenario(Scenario::Rotation);
    let mut cmd = c.sync(&store);
    cmd.args(["--output", "json"]);
    let result: Value = serde_json::from_slice(&cmd.assert_success().stdout).unwrap();
    let changes = result["plan"]["changes"].as_array().unwrap();
    assert_eq!(
        changes.len(),
        2,
        "the JWKS and the state recording the new key: {result}"
    );
    assert_eq!(changes[0]["key"], JWKS_KEY);
    assert_eq!(changes[1]["key"], ".kube-oidc-publisher/state.json");
    assert_eq!(changes[0]["precondition"]["etag"], etag.as_str());
    assert_eq!(moto().requests(&bucket).puts(JWKS_KEY), 1);
    assert_eq!(moto().requests(&bucket).puts(DISCOVERY_KEY), 0);
    let jwks: Value = serde_json::from_slice(&published(&bucket, JWKS_KEY)).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn default_issuer_is_the_buckets_virtual_hosted_url() {
    let (_dir, mut cmd) = setup("s3-default-issuer");
    let bucket = moto().new_bucket("default-issuer");
    cmd.moto(moto())
        .args([
            "sync",
            "--source",
            "files",
            "--no-iam",
            "--s3-path-style",
            "--key-file",
        ])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .args([
            "--store",
            &format!("s3://{bucket}/prod-1"),
            "--region",
            "us-east-1",
        ]);
    cmd.assert_success();
    let discovery: Value = serde_json::from_slice(&published(
        &bucket,
        "prod-1/.well-known/openid-configuration",
    ))
    .unwrap();
    let issuer = format!("https://{bucket}.s3.us-east-1.amazonaws.com/prod-1");
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/openid/v1/jwks"));
}

#[test]
fn dry_run_and_check_make_no_write() {
    let c = cluster("s3-dry-run", Scenario::Rsa);
    let bucket = moto().new_bucket("dry-run");
    let store = format!("s3://{bucket}");
    let mut dry = c.sync(&store);
    dry.arg("--dry-run");
    dry.assert_success();
    let mut check = c.sync(&store);
    check.arg("--check");
    check.assert_exit(1);
    assert_eq!(moto().requests(&bucket).writes(), 0);
    assert!(moto().list_keys(&bucket).is_empty());
}

#[test]
fn a_412_from_a_racing_publisher_is_replanned_once() {
    let c = cluster("s3-412", Scenario::Rsa);
    let bucket = moto().new_bucket("race-412");
    let store = format!("s3://{bucket}");
    moto().inject_fault(
        &Fault::precondition_failed(&bucket)
            .method("PUT")
            .key(JWKS_KEY),
    );
    let mut cmd = c.sync(&store);
    cmd.args(["--output", "json"]);
    let result: Value = serde_json::from_slice(&cmd.assert_success().stdout).unwrap();
    assert_eq!(result["replanned"], true, "{result}");
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
    assert_eq!(
        published(&bucket, DISCOVERY_KEY),
        fixture("openid-configuration.json")
    );
}

#[test]
fn losing_the_race_twice_exits_2_without_breaking_anything() {
    let c = cluster("s3-412-twice", Scenario::Rsa);
    let bucket = moto().new_bucket("race-twice");
    let store = format!("s3://{bucket}");
    c.sync(&store).assert_success();
    c.server.set_scenario(Scenario::Rotation);
    moto().inject_fault(
        &Fault::precondition_failed(&bucket)
            .method("PUT")
            .key(JWKS_KEY)
            .times(2),
    );
    let output = c.sync(&store).assert_exit(2);
    assert!(
        stderr_str(&output).contains("another publisher"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
}

#[test]
fn concurrent_publishers_do_not_lose_updates() {
    let c = cluster("s3-concurrent", Scenario::Rotation);
    // Ten first publications raced by two processes, each on a fresh bucket.
    for round in 0..10 {
        let bucket = moto().new_bucket(&format!("concurrent-{round}"));
        let store = format!("s3://{bucket}");
        let a = c.sync(&store);
        let b = c.sync(&store);
        let ta = thread::spawn(move || a.run());
        let tb = thread::spawn(move || b.run());
        for output in [ta.join().unwrap(), tb.join().unwrap()] {
            assert_eq!(
                output.status.code(),
                Some(0),
                "round {round}: {}",
                stderr_str(&output)
            );
        }
        let jwks: Value = serde_json::from_slice(&published(&bucket, JWKS_KEY)).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "round {round}");
        assert_eq!(
            published(&bucket, DISCOVERY_KEY),
            fixture("openid-configuration.json"),
            "round {round}"
        );
        // Whoever won, the store is consistent and the next runs find everything current.
        let published = PublishedStore::s3(&bucket);
        let both = [
            "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM",
            "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc",
        ];
        assert_consistent(&published, ISSUER, &both);
        let next = assert_next_runs_converge(&c.sync(&store), &published, ISSUER, &both);
        assert_eq!(next.state_kids.len(), 2, "round {round}: {next:?}");
    }
}

#[test]
fn bucket_that_does_not_exist() {
    let c = cluster("s3-no-bucket", Scenario::Rsa);
    let bucket = moto().unique_bucket("missing");
    let output = c.sync(&format!("s3://{bucket}")).assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains(&format!("bucket \"{bucket}\" does not exist")),
        "{stderr}"
    );
    assert!(stderr.contains("bootstrap"), "{stderr}");
}

#[test]
fn access_denied_on_put_object_names_the_action_and_changes_nothing() {
    let c = cluster("s3-denied", Scenario::Rsa);
    let bucket = moto().new_bucket("denied");
    let store = format!("s3://{bucket}");
    c.sync(&store).assert_success();
    c.server.set_scenario(Scenario::Rotation);
    moto().inject_fault(&Fault::access_denied(&bucket).method("PUT").always());
    let output = c.sync(&store).assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(stderr.contains("access denied: s3:PutObject"), "{stderr}");
    assert!(stderr.contains("templates/"), "{stderr}");
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
    assert_eq!(
        published(&bucket, DISCOVERY_KEY),
        fixture("openid-configuration.json")
    );
}

#[test]
fn a_failed_discovery_write_leaves_a_consistent_store_that_the_next_run_completes() {
    let c = cluster("s3-partial", Scenario::Rsa);
    let bucket = moto().new_bucket("partial");
    let store = format!("s3://{bucket}");
    // First publish: the JWKS put succeeds, the discovery put fails on every retry.
    moto().inject_fault(
        &Fault::internal_error(&bucket)
            .method("PUT")
            .key(DISCOVERY_KEY)
            .always(),
    );
    let output = c.sync(&store).assert_exit(2);
    assert!(
        stderr_str(&output).contains("openid/v1/jwks was written before the failure"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
    assert!(moto().get_object(&bucket, DISCOVERY_KEY).is_none());
    moto().clear_faults(&bucket);
    c.sync(&store).assert_success();
    assert_eq!(
        published(&bucket, DISCOVERY_KEY),
        fixture("openid-configuration.json")
    );
}

#[test]
fn a_transient_slow_down_is_retried() {
    let c = cluster("s3-slowdown", Scenario::Rsa);
    let bucket = moto().new_bucket("slowdown");
    moto().inject_fault(&Fault::slow_down(&bucket).method("PUT").key(JWKS_KEY));
    c.sync(&format!("s3://{bucket}")).assert_success();
    assert_eq!(published(&bucket, JWKS_KEY), fixture("jwks-rsa.json"));
}

#[test]
fn bucket_with_dots_needs_an_explicit_issuer() {
    let (_dir, mut cmd) = setup("s3-dots");
    cmd.moto(moto())
        .args(["sync", "--source", "files", "--no-iam", "--key-file"])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .args(["--store", "s3://oidc.example.com/c1"]);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("contains dots") && stderr.contains("--issuer"),
        "{stderr}"
    );
}
