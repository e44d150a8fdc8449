//! Signing-key rotation through the real binary against the fake kube-apiserver: a key the API
//! server stops serving stays published for its retention, `rotate status` names the next
//! step, and `rotate revoke` removes a key at once (and only a key the source no longer has).

mod support;

use serde_json::Value;
use support::*;

const OLD: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
const NEW: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";

fn kids(jwks: &[u8]) -> Vec<String> {
    let doc: Value = serde_json::from_slice(jwks).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_rotation_from_staging_to_revocation() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("rotation");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let jwks = || std::fs::read(store.join("openid/v1/jwks")).unwrap();
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(sync_dir_args(&kubeconfig, &store)[1..].to_vec())
            .args(["--issuer", ISSUER]);
        c
    };
    with(&["sync"]).assert_success();

    // Stage: the new public key is published beside the old one before the API server uses it.
    let mut stage = with(&["sync"]);
    stage
        .arg("--key-file")
        .arg(fixture_path("key-rsa-new.pub.pem"));
    stage.assert_success();
    assert_eq!(kids(&jwks()), [OLD, NEW]);
    let status = with(&["rotate", "status"]).assert_success();
    let text = stdout_str(&status);
    assert!(
        text.contains("next: wait") && text.contains("until caches have expired"),
        "{text}"
    );

    // The API server switched and serves only the new key: the old one stays published.
    server.set_scenario(Scenario::RotatedOnlyNew);
    let mut json = with(&["sync"]);
    json.args(["--output", "json"]);
    let report: Value = serde_json::from_slice(&json.assert_success().stdout).unwrap();
    assert_eq!(report["retained"][0]["kid"], OLD, "{report}");
    assert_eq!(
        kids(&jwks()),
        [OLD, NEW],
        "a key live tokens may carry is never dropped"
    );
    let status = with(&["rotate", "status", "--output", "json"]).assert_success();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(
        status["next_step"]
            .as_str()
            .unwrap()
            .starts_with(&format!("old key {OLD} removable at")),
        "{status}"
    );

    // Revoking a key the API server still serves is refused: it would come back.
    let output = with(&["rotate", "revoke", "--kid", NEW]).assert_exit(2);
    assert!(
        stderr_str(&output).contains("still served by the API server"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(kids(&jwks()), [OLD, NEW]);

    // The compromise case: the old key goes at once, loudly.
    let output = with(&["rotate", "revoke", "--kid", OLD]).assert_success();
    assert!(
        stderr_str(&output).contains("REVOKING"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(kids(&jwks()), [NEW]);
    let output = with(&["rotate", "revoke", "--kid", OLD]).assert_exit(2);
    assert!(
        stderr_str(&output).contains("is not published"),
        "{}",
        stderr_str(&output)
    );
}
