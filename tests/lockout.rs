//! A publisher that cannot lock itself out, through the real binary: in the cluster the
//! publisher gets its AWS credentials from STS with its own ServiceAccount token
//! (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`). When the API server signs that token with
//! a key the public JWKS does not list yet, STS answers `InvalidIdentityToken` and the run can
//! never publish the key that would fix it. moto's STS (tests/moto/launcher.py) refuses the
//! marked tokens these tests write as AWS does; the public JWKS is served over loopback TLS by a
//! private CA (`--ca-file`, `--connect-to`). The run must name the token's `kid`, explain the
//! lock-out, give the command to run from a workstation, and write nothing.

mod doctor_support;
mod support;
#[allow(dead_code)] // the thumbprint tests use the rest of it
mod tls_server;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use doctor_support::{HttpsServer, Reply};
use support::*;
use tls_server::Ca;

/// The key the recorded API server signs with, published (jwks-rsa.json).
const PUBLISHED: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
/// The rotation's new key (jwks-rotation-two-keys.json), not published here.
const UNPUBLISHED: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";

/// A token shaped like the pod's projected ServiceAccount token, signed (in name) by `kid`,
/// with the claim that makes the test STS refuse it. The signature is not a real one: STS
/// refuses the token before any signature check here, and the publisher reads only the header.
fn pod_token(kid: &str) -> String {
    let part = |value: serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.{}",
        part(serde_json::json!({"alg": "RS256", "kid": kid})),
        part(serde_json::json!({
            "iss": ISSUER,
            "sub": "system:serviceaccount:kube-oidc-publisher:kube-oidc-publisher",
            "aud": ["sts.amazonaws.com"],
            "exp": 4_102_444_800u64,
            "kop-test-sts": "InvalidIdentityToken",
        })),
        URL_SAFE_NO_PAD.encode(b"not-a-real-signature-SECRET-PART"),
    )
}

/// The public issuer host: HTTPS on loopback with a private CA, serving the JWKS that lists
/// only [`PUBLISHED`] (and the discovery document) anonymously.
fn public_host(dir: &Path) -> (HttpsServer, PathBuf) {
    let ca = Ca::root("kop lockout test public CA");
    let ca_file = dir.join("public-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let leaf = ca.leaf_with(&["oidc.example.test"], (2100, 1, 1));
    let server = HttpsServer::start(
        &leaf,
        &[],
        Arc::new(|req| {
            if req.method != "GET" || req.header("authorization").is_some() {
                return Reply::new(403, "AccessDenied");
            }
            match req.path.as_str() {
                "/cluster-a/openid/v1/jwks" => Reply::json(fixture("jwks-rsa.json")),
                _ => Reply::new(404, "NoSuchKey"),
            }
        }),
    );
    (server, ca_file)
}

/// What one test runs against; the servers stop when it is dropped.
struct Stand {
    _dir: tempfile::TempDir,
    _api_server: FakeApiServer,
    public: HttpsServer,
    bucket: String,
    cmd: TestCommand,
}

/// `sync` to a fresh moto bucket as the CronJob runs it: web identity credentials only.
fn in_cluster_sync(name: &str, kid: &str) -> Stand {
    let moto = moto();
    let bucket = moto.new_bucket(name);
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, mut cmd) = setup(name);
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, pod_token(kid)).unwrap();
    let (public, ca_file) = public_host(dir.path());
    cmd.moto(moto)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/kube-oidc-publisher",
        )
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .args(sync_s3_args(&kubeconfig, &bucket))
        .args(["--issuer", ISSUER, "--ca-file"])
        .arg(&ca_file)
        .arg("--connect-to")
        .arg(format!("oidc.example.test:443:127.0.0.1:{}", public.port()));
    Stand {
        _dir: dir,
        _api_server: server,
        public,
        bucket,
        cmd,
    }
}

#[test]
fn a_token_signed_with_an_unpublished_key_is_named_as_a_lockout_and_nothing_is_written() {
    let stand = in_cluster_sync("lockout", UNPUBLISHED);
    let output = stand.cmd.assert_exit(2);
    let err = stderr_str(&output);
    assert!(
        err.contains(&format!("signed with key {UNPUBLISHED}"))
            && err.contains("not in the published JWKS")
            && err.contains("locked out")
            && err.contains("rotate stage")
            && err.contains("--key-file"),
        "{err}"
    );
    assert!(
        !err.contains("SECRET-PART") && !err.contains(&pod_token(UNPUBLISHED)[..40]),
        "the token is never printed: {err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one message: {err}"
    );
    // Not the AWS SDK's own log lines first (its credential chain logs the STS answer at WARN).
    assert!(
        !err.contains("WARN") && !err.contains("provider failed to provide credentials"),
        "only our message: {err}"
    );
    assert!(
        !err.contains("check the network path"),
        "not a network problem: {err}"
    );
    // The JWKS was read anonymously over the verified connection.
    assert!(
        stand
            .public
            .requests()
            .iter()
            .any(|r| r.path == "/cluster-a/openid/v1/jwks"),
        "the public JWKS was fetched"
    );
    let moto = moto();
    assert_eq!(moto.requests(&stand.bucket).writes(), 0);
    assert!(
        moto.list_keys(&stand.bucket).is_empty(),
        "nothing published"
    );
}

#[test]
fn a_token_whose_key_is_published_gets_the_sts_message_and_says_the_key_is_there() {
    let stand = in_cluster_sync("lockout-published", PUBLISHED);
    let output = stand.cmd.assert_exit(2);
    let err = stderr_str(&output);
    assert!(
        err.contains(&format!("key {PUBLISHED} is in the published JWKS"))
            && err.contains("InvalidIdentityToken")
            && err.contains("Couldn't retrieve verification key"),
        "{err}"
    );
    assert!(
        !err.contains("locked out") && !err.contains("check the network path"),
        "{err}"
    );
    assert_eq!(moto().requests(&stand.bucket).writes(), 0);
}
