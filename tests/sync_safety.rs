//! `sync` refusing what would silently break a published issuer, through the real binary (issue
//! #14): moving the published issuer, a bucket in another Region, the provider's cluster tag
//! flip-flopping, tampered retained keys, prefixes S3 or a policy cannot hold, and an
//! issuer-mismatch message that must never suggest an issuer STS cannot fetch. Every refusal
//! exits 2, says what to do, and leaves the store as it was (directory: bytes and mtimes; S3: no
//! write in the request log).

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::*;

const C1: &str = "https://oidc.example.com/c1";
const C2: &str = "https://oidc.example.com/c2";
const OLD_KID: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
const NEW_KID: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";
const STATE: &str = ".kube-oidc-publisher/state.json";

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// `sync` from key files to a directory store, without IAM.
fn sync_files(cmd: &TestCommand, store: &Path, issuer: &str, keys: &[&str]) -> TestCommand {
    let mut cmd = cmd.clone();
    cmd.args(["sync", "--source", "files", "--no-iam", "--issuer", issuer]);
    for key in keys {
        cmd.arg("--key-file").arg(fixture_path(key));
    }
    cmd.arg("--store").arg(store);
    cmd
}

/// Ages every file of the store so that any rewrite, even of the same bytes, shows.
fn age(store: &Path) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    for path in snapshot_dir(store).keys() {
        set_file_mtime(&store.join(path), old);
    }
}

/// Expects exit 2, every needle in stderr, nothing on stdout, and the directory untouched.
fn assert_refused_dir(cmd: &TestCommand, store: &Path, needles: &[&str]) -> String {
    age(store);
    let (bytes, times) = (snapshot_dir(store), mtimes(store));
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(stdout_str(&output).is_empty(), "{}", stdout_str(&output));
    assert_eq!(
        snapshot_dir(store),
        bytes,
        "the store's bytes must not change"
    );
    assert_eq!(
        mtimes(store),
        times,
        "no file of the store may be rewritten"
    );
    stderr
}

// Regression (issue #14): `sync --issuer https://x/c2` on a store published for https://x/c1
// exited 0 and rewrote the discovery document's issuer: every token with the old `iss` stopped
// verifying.
#[test]
fn sync_refuses_to_move_a_published_issuer_without_allow_issuer_change() {
    let (dir, cmd) = setup("issuer-move");
    let store = dir.path().join("public");
    sync_files(&cmd, &store, C1, &["key-rsa-old.pub.pem"]).assert_success();

    let moving = sync_files(&cmd, &store, C2, &["key-rsa-old.pub.pem"]);
    let stderr = assert_refused_dir(
        &moving,
        &store,
        &[
            &format!("already publishes issuer \"{C1}\""),
            &format!("this run asks for \"{C2}\""),
            "every token whose iss is",
            &format!("--issuer {C1}"),
            "--allow-issuer-change",
            "Nothing was written",
        ],
    );
    assert!(!stderr.contains("WARN"), "{stderr}");
    // --dry-run and --check refuse the same way: the plan itself is refused.
    let mut dry = moving.clone();
    dry.arg("--dry-run");
    assert_refused_dir(&dry, &store, &["--allow-issuer-change"]);

    // The environment twin works like the flag, and then the move is made, with a warning.
    let mut allowed = moving.clone();
    allowed.env("KUBE_OIDC_PUBLISHER_ALLOW_ISSUER_CHANGE", "true");
    let output = allowed.assert_success();
    assert!(
        stderr_str(&output).contains(&format!("moving the published issuer from {C1} to {C2}")),
        "{}",
        stderr_str(&output)
    );
    let discovery = json(&std::fs::read(store.join(".well-known/openid-configuration")).unwrap());
    assert_eq!(discovery["issuer"], C2);
    // Once moved, the new issuer is the published one: a plain sync is a no-op.
    let again = sync_files(&cmd, &store, C2, &["key-rsa-old.pub.pem"]).assert_success();
    assert!(
        stdout_str(&again).contains("(0 writes)"),
        "{}",
        stdout_str(&again)
    );
}

// Regression (issue #14): a retained key's record in the state object was published as it
// was, so a tampered record (`"x": "AAAA"` on an RSA key) went out in the public JWKS.
#[test]
fn a_tampered_retained_key_in_the_state_is_never_published() {
    let (dir, cmd) = setup("state-tamper");
    let store = dir.path().join("public");
    let both = ["key-rsa-old.pub.pem", "key-rsa-new.pub.pem"];
    sync_files(&cmd, &store, C1, &both).assert_success();
    // The new key leaves the source: it is retained, from the state.
    sync_files(&cmd, &store, C1, &["key-rsa-old.pub.pem"]).assert_success();
    let mut state = json(&std::fs::read(store.join(STATE)).unwrap());
    assert!(
        state["keys"][NEW_KID]["removed_since"].is_string(),
        "{state}"
    );
    state["keys"][NEW_KID]["jwk"]["x"] = "AAAA".into();
    // A second record, filed under another kid than its key says, with a private member.
    let mut forged = state["keys"][OLD_KID].clone();
    forged["jwk"]["d"] = "AAAA".into();
    forged["removed_since"] = state["keys"][NEW_KID]["removed_since"].clone();
    state["keys"]["forged-kid"] = forged;
    std::fs::write(
        store.join(STATE),
        serde_json::to_vec_pretty(&state).unwrap(),
    )
    .unwrap();

    let output = sync_files(&cmd, &store, C1, &["key-rsa-old.pub.pem"]).assert_success();
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains(&format!(
            "not publishing key {NEW_KID:?} recorded in the state object"
        )) && stderr.contains("\"x\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("not publishing key \"forged-kid\" recorded in the state object")
            && stderr.contains("private member \"d\""),
        "{stderr}"
    );
    let jwks = std::fs::read(store.join("openid/v1/jwks")).unwrap();
    let text = String::from_utf8_lossy(&jwks);
    assert!(
        !text.contains("AAAA") && !text.contains("forged-kid"),
        "{text}"
    );
    // The valid copy the JWKS already published stays (a key is never dropped early).
    let kids: Vec<String> = json(&jwks)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, [OLD_KID, NEW_KID]);
    let state = json(&std::fs::read(store.join(STATE)).unwrap());
    assert!(state["keys"].get("forged-kid").is_none(), "{state}");
    assert!(state["keys"][NEW_KID]["jwk"].get("x").is_none(), "{state}");
}

fn custom_discovery(issuer: &str) -> Scenario {
    Scenario::Custom {
        jwks: fixture("jwks-rsa.json"),
        discovery: serde_json::to_vec(&serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .unwrap(),
    }
}

// Regression (issue #14): the issuer-mismatch message suggested `--issuer
// https://kubernetes.default.svc…`, a URL STS cannot reach, and left out --api-audiences.
#[test]
fn issuer_mismatch_with_an_in_cluster_issuer_never_suggests_publishing_it() {
    let internal = "https://kubernetes.default.svc.cluster.local";
    let server = FakeApiServer::with_scenario(custom_discovery(internal));
    let (dir, cmd) = setup("mismatch-internal");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    std::fs::create_dir(&store).unwrap();
    let mut sync = cmd.clone();
    sync.args(sync_dir_args(&kubeconfig, &store))
        .args(["--issuer", ISSUER]);
    let stderr = assert_refused_dir(
        &sync,
        &store,
        &[
            &format!("--service-account-issuer={ISSUER}"),
            &format!("--service-account-issuer={internal}"),
            &format!("--api-audiences={internal}"),
            "cannot fetch",
        ],
    );
    assert!(
        !stderr.contains(&format!("--issuer {internal}")),
        "{stderr}"
    );

    // A public issuer at the API server is still offered as the other way out.
    let public = "https://oidc.example.test/cluster-z";
    server.set_scenario(custom_discovery(public));
    assert_refused_dir(&sync, &store, &[&format!("--issuer {public}")]);
}

// Regression (issue #14): `sync --store s3://b/x?y` and a 1,100-byte prefix were accepted,
// while `bootstrap --prefix` refused them.
#[test]
fn s3_prefixes_that_s3_or_a_policy_cannot_hold_are_refused_before_any_request() {
    let (_dir, cmd) = setup("prefix");
    let long = format!("s3://my-oidc/{}", "p".repeat(1100));
    for (store, needle) in [
        ("s3://my-oidc/x?y", "'*', '?', '$' and '#'"),
        ("s3://my-oidc/x#y", "'*', '?', '$' and '#'"),
        ("s3://my-oidc/a/*", "'*', '?', '$' and '#'"),
        ("s3://my-oidc/a/$x", "'*', '?', '$' and '#'"),
        ("s3://my-oidc/a\tb", "control characters"),
        ("s3://my-oidc/a/./b", "empty, '.' or '..'"),
        (long.as_str(), "1024 bytes"),
    ] {
        let mut sync = cmd.clone();
        sync.args([
            "sync",
            "--store",
            store,
            "--no-iam",
            "--region",
            "eu-west-1",
        ])
        .args(["--source", "files", "--key-file"])
        .arg(fixture_path("key-rsa-old.pub.pem"));
        let output = sync.assert_exit(2);
        let stderr = stderr_str(&output);
        assert!(
            stderr.contains("prefix") && stderr.contains(needle),
            "{store}: {stderr}"
        );
    }
    // bootstrap refuses the same prefixes with the same words.
    let mut bootstrap = cmd.clone();
    bootstrap.args([
        "bootstrap",
        "--bucket",
        "my-oidc",
        "--prefix",
        "x#y",
        "--region",
        "eu-west-1",
    ]);
    let stderr = stderr_str(&bootstrap.assert_exit(2));
    assert!(stderr.contains("'*', '?', '$' and '#'"), "{stderr}");
}

/// A fresh bucket created in `region` (moto keeps the Region HeadBucket reports).
fn bucket_in(region: &str, prefix: &str) -> String {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let bucket = moto().unique_bucket(prefix);
    let config = moto()
        .client()
        .config()
        .to_builder()
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let request = client
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    moto()
        .block_on(request.send())
        .unwrap_or_else(|e| panic!("create bucket {bucket} in {region}: {e:?}"));
    bucket
}

fn sync_s3(cmd: &TestCommand, store: &str, region: &str) -> TestCommand {
    let mut cmd = cmd.clone();
    cmd.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--s3-path-style",
        "--region",
        region,
        "--store",
        store,
        "--key-file",
    ])
    .arg(fixture_path("key-rsa-old.pub.pem"));
    cmd
}

// Regression (issue #14): with the wrong (or a malformed) --region, sync derived and published
// the issuer https://BUCKET.s3.WRONG.amazonaws.com/…, a URL no STS can fetch.
#[test]
fn sync_refuses_a_region_other_than_the_buckets() {
    let (_dir, mut cmd) = setup("region");
    cmd.moto(moto());
    let bucket = bucket_in("eu-west-1", "region");
    let store = format!("s3://{bucket}/c1");
    for (region, needles) in [
        (
            "eu-west-2",
            vec![
                format!("s3://{bucket}/c1 is in region eu-west-1, not eu-west-2"),
                "a URL where STS finds no documents".to_owned(),
                "Nothing was written; pass --region eu-west-1".to_owned(),
            ],
        ),
        (
            "eu-west1",
            vec!["region \"eu-west1\" is not a valid AWS region name".to_owned()],
        ),
    ] {
        let output = sync_s3(&cmd, &store, region).assert_exit(2);
        let stderr = stderr_str(&output);
        for needle in &needles {
            assert!(stderr.contains(needle.as_str()), "{region}: {stderr}");
        }
        let requests = moto().requests(&bucket);
        assert_eq!(requests.writes(), 0, "{region}: {:?}", requests.counts());
        assert!(moto().list_keys(&bucket).is_empty());
    }
    sync_s3(&cmd, &store, "eu-west-1").assert_success();
    let discovery = json(
        &moto()
            .get_object(&bucket, "c1/.well-known/openid-configuration")
            .unwrap()
            .body,
    );
    assert_eq!(
        discovery["issuer"],
        format!("https://{bucket}.s3.eu-west-1.amazonaws.com/c1")
    );
    // A no-op run in the right Region: one HeadBucket beside one GET per object, no write.
    moto().reset_requests(&bucket);
    let again = sync_s3(&cmd, &store, "eu-west-1").assert_success();
    assert!(
        stdout_str(&again).contains("(0 writes)"),
        "{}",
        stdout_str(&again)
    );
    let requests = moto().requests(&bucket);
    assert_eq!(requests.writes(), 0, "{:?}", requests.counts());
    assert_eq!(requests.total(), 4, "{:?}", requests.counts());
}

// Regression (issue #14): `bootstrap --cluster-name prod-1`, then `sync` without
// --cluster-name, re-tagged the provider to the issuer's host/path (and the next bootstrap back).
#[test]
fn sync_without_cluster_name_keeps_the_providers_cluster_tag() {
    let issuer = format!("https://oidc-tag-{}.example.test/c1", std::process::id());
    let arn = format!(
        "arn:aws:iam::123456789012:oidc-provider/{}",
        issuer.trim_start_matches("https://")
    );
    let (dir, mut cmd) = setup("cluster-tag");
    cmd.moto(moto()).args([
        "sync",
        "--source",
        "files",
        "--issuer",
        &issuer,
        "--thumbprint",
        "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
        "--key-file",
    ]);
    cmd.arg(fixture_path("key-rsa-old.pub.pem"))
        .arg("--store")
        .arg(dir.path().join("public"));
    let cluster_tag = || {
        moto()
            .get_provider(&arn)
            .expect("the provider exists")
            .tags
            .get("kube-oidc-publisher/cluster")
            .cloned()
    };
    let mut named = cmd.clone();
    named.args(["--cluster-name", "prod-1"]);
    named.assert_success();
    assert_eq!(cluster_tag().as_deref(), Some("prod-1"));

    let before = moto().iam_requests(&issuer).write_actions();
    let output = cmd.assert_success();
    assert!(
        stdout_str(&output).contains("(0 writes)"),
        "{}",
        stdout_str(&output)
    );
    assert_eq!(moto().iam_requests(&issuer).write_actions(), before);
    assert_eq!(cluster_tag().as_deref(), Some("prod-1"));

    // An explicit --cluster-name still renames it.
    let mut renamed = cmd.clone();
    renamed.args(["--cluster-name", "prod-2"]);
    renamed.assert_success();
    assert_eq!(cluster_tag().as_deref(), Some("prod-2"));
}
