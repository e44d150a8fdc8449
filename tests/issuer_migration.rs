//! Moving a cluster to a new issuer (`issuer prepare | status | finish`, issue #13) through the
//! real binary: the fake kube-apiserver serves one key and the discovery document of whichever
//! issuer it "signs with" (a `Custom` scenario), both issuers publish to directory stores, and
//! moto's IAM holds the providers and the roles. At every step until `finish`, a token for the
//! old issuer and one for the new both verify against what is published for their issuer.

mod doctor_support;
mod support;
#[allow(dead_code)] // doctor_support's HTTPS server uses it
mod tls_server;

use std::path::{Path, PathBuf};

use doctor_support::SigningKey;
use serde_json::{json, Value};
use support::*;

const ACCOUNT: &str = "123456789012";
const PIN: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const SUBJECT: &str = "system:serviceaccount:shop:api";

fn issuers(name: &str) -> (String, String) {
    let id = std::process::id();
    (
        format!("https://old-{name}-{id}.example.test/c1"),
        format!("https://new-{name}-{id}.example.test/c1"),
    )
}

fn host_path(issuer: &str) -> &str {
    issuer.trim_start_matches("https://")
}

fn arn(issuer: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", host_path(issuer))
}

/// What the API server serves while it signs with `issuer`.
fn serving(key: &SigningKey, issuer: &str) -> Scenario {
    Scenario::Custom {
        jwks: serde_json::to_vec(&json!({ "keys": [key.public_jwk()] })).unwrap(),
        discovery: serde_json::to_vec(&json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .unwrap(),
    }
}

/// A trust policy for the old provider as its owner wrote it: hand formatting, and a statement
/// of their own that must come back byte for byte.
const OWNERS_STATEMENT: &str = r#"{ "Sid":"OwnersOwn" ,  "Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole" }"#;

fn owners_policy(old: &str) -> String {
    let hp = host_path(old);
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\"Sid\": \"KubernetesServiceAccount\", \"Effect\": \"Allow\", \"Principal\": {{\"Federated\": \"{}\"}}, \"Action\": \"sts:AssumeRoleWithWebIdentity\", \"Condition\": {{\"StringEquals\": {{\"{hp}:sub\": \"{SUBJECT}\", \"{hp}:aud\": \"sts.amazonaws.com\"}}}}}},\n    {OWNERS_STATEMENT}\n  ]\n}}",
        arn(old)
    )
}

fn create_role(name: &str, policy: &str, managed: bool) {
    let iam = moto().iam_client().clone();
    let mut request = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(policy);
    if managed {
        request = request.tags(
            aws_sdk_iam::types::Tag::builder()
                .key("kube-oidc-publisher/managed-by")
                .value("kube-oidc-publisher")
                .build()
                .unwrap(),
        );
    }
    moto().block_on(request.send()).expect("CreateRole");
}

fn trust_policy(name: &str) -> String {
    let iam = moto().iam_client().clone();
    let out = moto()
        .block_on(iam.get_role().role_name(name).send())
        .expect("GetRole");
    let raw = out.role().unwrap().assume_role_policy_document().unwrap();
    kube_oidc_publisher::aws::decode_policy_document(raw)
}

fn trusts(policy: &str, issuer: &str) -> bool {
    kube_oidc_publisher::model::migration::trusts(policy, host_path(issuer)).unwrap()
}

fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_str(output)))
}

/// Verifies `token` as STS would against what `store` publishes: the discovery document names
/// the token's issuer and points at the JWKS, whose key with the token's kid verifies it.
fn verifies(store: &Path, token: &str) -> Result<(), String> {
    let discovery = std::fs::read(store.join(".well-known/openid-configuration"))
        .map_err(|e| format!("no discovery document: {e}"))?;
    let discovery: Value = serde_json::from_slice(&discovery).unwrap();
    let jwks = std::fs::read(store.join("openid/v1/jwks")).map_err(|e| format!("no JWKS: {e}"))?;
    let jwks: Value = serde_json::from_slice(&jwks).unwrap();
    let header = josekit::jwt::decode_header(token).unwrap();
    let kid = header
        .claim("kid")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or("the token's kid is not published")?;
    let jwk = josekit::jwk::Jwk::from_bytes(serde_json::to_vec(key).unwrap()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &verifier)
        .map_err(|e| format!("signature: {e}"))?;
    let iss = payload.issuer().unwrap_or_default();
    if discovery["issuer"] != iss {
        return Err(format!(
            "the discovery document names {} not {iss}",
            discovery["issuer"]
        ));
    }
    if discovery["jwks_uri"] != format!("{iss}/openid/v1/jwks") {
        return Err("jwks_uri does not point at the issuer's JWKS".into());
    }
    Ok(())
}

struct World {
    _dir: tempfile::TempDir,
    cmd: TestCommand,
    server: FakeApiServer,
    key: SigningKey,
    kubeconfig: PathBuf,
    old_store: PathBuf,
    new_store: PathBuf,
    old: String,
    new: String,
    access_key: String,
}

impl World {
    fn new(name: &str) -> World {
        let (old, new) = issuers(name);
        let key = SigningKey::generate();
        let server = FakeApiServer::with_scenario(serving(&key, &old));
        let (dir, mut cmd) = setup(name);
        let access_key = moto().unique_access_key(name);
        cmd.moto(moto()).env("AWS_ACCESS_KEY_ID", &access_key);
        let kubeconfig = write_kubeconfig(dir.path(), &server);
        World {
            old_store: dir.path().join("old"),
            new_store: dir.path().join("new"),
            _dir: dir,
            cmd,
            server,
            key,
            kubeconfig,
            old,
            new,
            access_key,
        }
    }

    /// `words` with the old store's sync options.
    fn run(&self, words: &[&str]) -> TestCommand {
        let mut c = self.cmd.clone();
        c.args(words)
            .arg("--store")
            .arg(&self.old_store)
            .args([
                "--issuer",
                &self.old,
                "--thumbprint",
                PIN,
                "--output",
                "json",
            ])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig);
        c
    }

    fn prepare(&self, extra: &[&str]) -> TestCommand {
        let mut c = self.run(&["issuer", "prepare"]);
        c.arg("--new-store")
            .arg(&self.new_store)
            .args(["--new-issuer", &self.new])
            .args(extra);
        c
    }

    fn iam_writes(&self) -> Vec<String> {
        moto()
            .iam_requests_where(&[("access_key", &self.access_key)])
            .write_actions()
    }

    /// Both tokens verify against their issuer's documents.
    fn both_tokens_verify(&self, when: &str) {
        let old = self
            .key
            .token(&self.old, SUBJECT, &["sts.amazonaws.com"], 3600);
        let new = self
            .key
            .token(&self.new, SUBJECT, &["sts.amazonaws.com"], 3600);
        verifies(&self.old_store, &old).unwrap_or_else(|e| panic!("{when}: old token: {e}"));
        verifies(&self.new_store, &new).unwrap_or_else(|e| panic!("{when}: new token: {e}"));
    }

    fn state(&self, store: &Path) -> Value {
        let bytes = std::fs::read(store.join(".kube-oidc-publisher/state.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }
}

#[test]
fn the_whole_sequence_keeps_both_issuers_verifiable_until_finish() {
    let w = World::new("migrate-all");
    // Before: the cluster publishes the old issuer, with its provider.
    w.run(&["sync"]).assert_success();
    assert!(moto().get_provider(&arn(&w.old)).is_some());
    let ours = format!("migrate-ours-{}", std::process::id());
    let theirs = format!("migrate-theirs-{}", std::process::id());
    create_role(&ours, &owners_policy(&w.old), true);
    create_role(&theirs, &owners_policy(&w.old), false);

    // Dry run: the diff, and nothing written.
    let before = w.iam_writes().len();
    let dry = json_of(&w.prepare(&["--all-roles", "--dry-run"]).assert_success());
    assert_eq!(dry["writes"], 0, "{dry}");
    assert_eq!(dry["roles"][0]["name"], ours.as_str(), "{dry}");
    assert_eq!(dry["skipped_roles"][0]["name"], theirs.as_str(), "{dry}");
    assert!(!w.new_store.exists());
    assert_eq!(w.iam_writes().len(), before);

    // Step 1: prepare.
    let prepared = json_of(&w.prepare(&["--all-roles"]).assert_success());
    let flags: Vec<&str> = prepared["api_server_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        flags[..3],
        [
            format!("--service-account-issuer={}", w.new),
            format!("--service-account-issuer={}", w.old),
            format!("--service-account-jwks-uri={}/openid/v1/jwks", w.new),
        ]
    );
    let provider = moto().get_provider(&arn(&w.new)).expect("the new provider");
    assert_eq!(
        provider
            .tags
            .get("kube-oidc-publisher/managed-by")
            .map(String::as_str),
        Some("kube-oidc-publisher")
    );
    let extended = trust_policy(&ours);
    assert!(
        trusts(&extended, &w.old) && trusts(&extended, &w.new),
        "{extended}"
    );
    assert!(
        extended.contains(OWNERS_STATEMENT),
        "kept byte for byte: {extended}"
    );
    assert!(extended.starts_with(
        &owners_policy(&w.old)[..owners_policy(&w.old).rfind(OWNERS_STATEMENT).unwrap()]
    ));
    assert_eq!(
        trust_policy(&theirs),
        owners_policy(&w.old),
        "not ours, not named"
    );
    for store in [&w.old_store, &w.new_store] {
        let m = &w.state(store)["migration"];
        assert_eq!(m["old"]["issuer"], w.old.as_str(), "{m}");
        assert_eq!(m["new"]["issuer"], w.new.as_str(), "{m}");
        assert_eq!(m["switched_at"], Value::Null, "{m}");
    }
    w.both_tokens_verify("after prepare");

    // A re-run writes nothing, to the stores or to IAM.
    let iam_before = w.iam_writes();
    let again = json_of(&w.prepare(&["--all-roles"]).assert_success());
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(w.iam_writes(), iam_before);

    // A role not tagged as ours is extended when named.
    let named = json_of(&w.prepare(&["--role", &theirs]).assert_success());
    // The role, and the role added to the record in both stores.
    assert_eq!(named["writes"], 3, "{named}");
    assert!(trusts(&trust_policy(&theirs), &w.new));
    for store in [&w.old_store, &w.new_store] {
        assert_eq!(
            w.state(store)["migration"]["roles"],
            json!([ours, theirs]),
            "both recorded"
        );
    }

    let status = json_of(&w.run(&["issuer", "status"]).assert_success());
    assert_eq!(status["step"], "prepared", "{status}");
    assert_eq!(status["findings"], json!([]), "{status}");

    // finish before the switch: refused, nothing changed.
    let refused = w.run(&["issuer", "finish"]).assert_exit(2);
    assert!(
        stderr_str(&refused).contains("still signs with the old issuer"),
        "{}",
        stderr_str(&refused)
    );

    // Step 2: the API server signs with the new issuer; sync (for the old store, as the
    // operator's CronJob still runs it) publishes both and records the switch.
    w.server.set_scenario(serving(&w.key, &w.new));
    let synced = json_of(&w.run(&["sync"]).assert_success());
    assert!(synced["also"].is_object(), "{synced}");
    let switched = w.state(&w.old_store)["migration"]["switched_at"].clone();
    assert!(switched.is_string(), "{switched}");
    assert_eq!(w.state(&w.new_store)["migration"]["switched_at"], switched);
    w.both_tokens_verify("after the switch");
    let quiet = json_of(&w.run(&["sync"]).assert_success());
    assert_eq!(quiet["writes"], 0, "{quiet}");
    assert_eq!(quiet["also"]["writes"], 0, "{quiet}");

    // Step 3: status says when; finish refuses before then.
    let status = json_of(&w.run(&["issuer", "status"]).assert_success());
    assert_eq!(status["step"], "switched", "{status}");
    assert!(status["finish_at"].is_string(), "{status}");
    let early = w.run(&["issuer", "finish"]).assert_exit(2);
    let message = stderr_str(&early);
    assert!(
        message.contains("--force") && message.contains("InvalidIdentityToken"),
        "{message}"
    );
    assert!(trusts(&trust_policy(&ours), &w.old), "nothing changed");

    // Time passes: the switch was 25 hours ago.
    let path = w.old_store.join(".kube-oidc-publisher/state.json");
    let mut state = w.state(&w.old_store);
    state["migration"]["switched_at"] = json!("2020-01-01T00:00:00Z");
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let status = json_of(&w.run(&["issuer", "status"]).assert_success());
    assert_eq!(status["step"], "ready_to_finish", "{status}");

    // Step 4: finish.
    let done = json_of(&w.run(&["issuer", "finish"]).assert_success());
    assert_eq!(
        done["remove_api_server_flag"],
        format!("--service-account-issuer={}", w.old)
    );
    let trimmed = trust_policy(&ours);
    assert!(
        !trusts(&trimmed, &w.old) && trusts(&trimmed, &w.new),
        "{trimmed}"
    );
    assert!(
        trimmed.contains(OWNERS_STATEMENT),
        "kept byte for byte: {trimmed}"
    );
    assert!(moto().get_provider(&arn(&w.old)).is_none(), "ours: deleted");
    assert!(moto().get_provider(&arn(&w.new)).is_some());
    assert!(!w.old_store.join("openid/v1/jwks").exists());
    assert!(!w
        .old_store
        .join(".well-known/openid-configuration")
        .exists());
    assert!(w.state(&w.new_store).get("migration").is_none());
    let new = w.key.token(&w.new, SUBJECT, &["sts.amazonaws.com"], 3600);
    verifies(&w.new_store, &new).unwrap();

    // Again: nothing to do.
    let iam_before = w.iam_writes();
    let again = json_of(&w.run(&["issuer", "finish"]).assert_success());
    assert_eq!(again["writes"], 0, "{again}");
    assert_eq!(w.iam_writes(), iam_before);
}

#[test]
fn finish_with_force_before_the_time_names_the_risk_and_finishes() {
    let w = World::new("migrate-force");
    w.run(&["sync"]).assert_success();
    w.prepare(&[]).assert_success();
    w.server.set_scenario(serving(&w.key, &w.new));
    w.run(&["sync"]).assert_success();
    let mut force = w.run(&["issuer", "finish"]);
    force.arg("--force");
    let out = force.assert_success();
    assert!(
        stderr_str(&out).contains("InvalidIdentityToken"),
        "{}",
        stderr_str(&out)
    );
    assert!(!w.old_store.join("openid/v1/jwks").exists());
    assert!(moto().get_provider(&arn(&w.old)).is_none());
}

#[test]
fn s3_stores_publish_both_issuers_and_finish_deletes_only_the_old_three_objects() {
    let (old, new) = issuers("migrate-s3");
    let key = SigningKey::generate();
    let server = FakeApiServer::with_scenario(serving(&key, &old));
    let (dir, mut cmd) = setup("migrate-s3");
    cmd.moto(moto());
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let bucket = moto().new_bucket("migrate");
    let (old_store, new_store) = (format!("s3://{bucket}/old"), format!("s3://{bucket}/new"));
    // Something else in the old prefix that finish must leave alone.
    moto().put_object(&bucket, "old/README", b"kept", Some("text/plain"), None);
    let run = |words: &[&str]| {
        let mut c = cmd.clone();
        c.args(words)
            .args(["--store", &old_store, "--issuer", &old, "--no-iam"])
            .args(["--s3-path-style", "--output", "json", "--kubeconfig"])
            .arg(&kubeconfig);
        c
    };
    run(&["sync"]).assert_success();
    let mut prepare = run(&["issuer", "prepare"]);
    prepare.args(["--new-store", &new_store, "--new-issuer", &new]);
    prepare.assert_success();
    let discovery = |prefix: &str| -> Value {
        let object = moto()
            .get_object(
                &bucket,
                &format!("{prefix}/.well-known/openid-configuration"),
            )
            .expect("published");
        serde_json::from_slice(&object.body).unwrap()
    };
    assert_eq!(discovery("new")["issuer"], new.as_str());
    assert_eq!(discovery("old")["issuer"], old.as_str());
    assert_eq!(json_of(&prepare.assert_success())["writes"], 0);

    server.set_scenario(serving(&key, &new));
    run(&["sync"]).assert_success();
    moto().reset_requests(&bucket);
    let mut finish = run(&["issuer", "finish"]);
    finish.arg("--force");
    finish.assert_success();
    let requests = moto().requests(&bucket);
    for gone in [
        "old/.well-known/openid-configuration",
        "old/openid/v1/jwks",
        "old/.kube-oidc-publisher/state.json",
    ] {
        assert_eq!(requests.deletes(gone), 1, "{gone}: {:?}", requests.counts());
        assert!(moto().get_object(&bucket, gone).is_none(), "{gone}");
    }
    assert!(moto().get_object(&bucket, "old/README").is_some());
    assert_eq!(discovery("new")["issuer"], new.as_str());
}
