//! `sync` reconciling the IAM OIDC provider through the real binary, against moto's IAM/STS
//! (extended by the test launcher to behave as the IAM API reference documents) and a real TLS
//! server on loopback for the thumbprint. Each test uses its own issuer, so tests running in
//! parallel on one moto server never share a provider.

mod support;
#[allow(dead_code)]
mod tls_server;

use serde_json::Value;
use support::moto::IamFault;
use support::*;
use tls_server::{Ca, Server};

const ACCOUNT: &str = "123456789012";

fn issuer(name: &str) -> String {
    format!("https://oidc-{name}-{}.example.test/c1", std::process::id())
}

fn arn(issuer: &str) -> String {
    format!(
        "arn:aws:iam::{ACCOUNT}:oidc-provider/{}",
        issuer.trim_start_matches("https://")
    )
}

/// `sync` from a key file to a directory, with moto's IAM and a pinned thumbprint.
fn sync(name: &str, issuer: &str) -> (tempfile::TempDir, TestCommand) {
    let (dir, mut cmd) = setup(name);
    let store = dir.path().join("public");
    cmd.moto(moto())
        .args([
            "sync",
            "--source",
            "files",
            "--output",
            "json",
            "--issuer",
            issuer,
            "--key-file",
        ])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .arg("--store")
        .arg(store);
    (dir, cmd)
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout_str(output)))
}

const PIN_A: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const PIN_B: &str = "a053375bfe84e8b748782c7cee15827a6af5a405";

#[test]
fn creates_a_tagged_provider_and_a_second_sync_makes_no_iam_write() {
    let issuer = issuer("create");
    let (_dir, mut cmd) = sync("iam-create", &issuer);
    cmd.args(["--thumbprint", PIN_A, "--cluster-name", "prod-1"]);
    let first = json(&cmd.assert_success());
    assert_eq!(
        first["provider"]["changes"][0]["action"], "create_provider",
        "{first}"
    );
    let provider = moto()
        .get_provider(&arn(&issuer))
        .expect("the provider was created");
    assert_eq!(provider.url, issuer.trim_start_matches("https://"));
    assert_eq!(provider.client_ids, ["sts.amazonaws.com"]);
    assert_eq!(provider.thumbprints, [PIN_A]);
    assert_eq!(
        provider
            .tags
            .get("kube-oidc-publisher/managed-by")
            .map(String::as_str),
        Some("kube-oidc-publisher")
    );
    assert_eq!(
        provider
            .tags
            .get("kube-oidc-publisher/cluster")
            .map(String::as_str),
        Some("prod-1")
    );

    let before = moto().iam_requests(&issuer).writes();
    let second = json(&cmd.assert_success());
    assert_eq!(second["status"], "in_sync", "{second}");
    let requests = moto().iam_requests(&issuer);
    assert_eq!(
        requests.writes(),
        before,
        "no IAM write on a no-op sync: {:?}",
        requests.counts()
    );
}

/// #10: credentials that carry their account (here `AWS_ACCOUNT_ID` next to static keys, as the
/// SDK reads it; a web identity's assumed-role ARN carries it the same way) spare the STS round
/// trip; without it, STS is asked once.
#[test]
fn the_account_the_credentials_carry_spares_sts() {
    for (carried, sts_calls) in [(true, 0), (false, 1)] {
        let issuer = issuer(&format!("account-{carried}"));
        let (_dir, mut cmd) = sync("iam-account", &issuer);
        let key = moto().unique_access_key("iam-account");
        cmd.env("AWS_ACCESS_KEY_ID", &key)
            .args(["--thumbprint", PIN_A]);
        if carried {
            cmd.env("AWS_ACCOUNT_ID", ACCOUNT);
        } else {
            cmd.env_remove("AWS_ACCOUNT_ID");
        }
        let out = json(&cmd.assert_success());
        assert_eq!(out["provider"]["arn"], arn(&issuer), "{out}");
        assert!(moto().get_provider(&arn(&issuer)).is_some());
        let sts = moto().iam_requests_where(&[("service", "sts"), ("access_key", &key)]);
        assert_eq!(
            sts.count("GetCallerIdentity"),
            sts_calls,
            "account carried: {carried}: {:?}",
            sts.counts()
        );
    }
}

#[test]
fn audiences_and_pinned_thumbprints_are_reconciled() {
    let issuer = issuer("reconcile");
    let (_dir, mut cmd) = sync("iam-reconcile", &issuer);
    let mut first = cmd.clone();
    first.args(["--thumbprint", PIN_A]);
    first.assert_success();
    cmd.args([
        "--thumbprint",
        PIN_B,
        "--audience",
        "sts.amazonaws.com",
        "--audience",
        "vault",
    ]);
    let mut check = cmd.clone();
    check.arg("--check");
    check.assert_exit(1);
    let report = json(&cmd.assert_success());
    let actions: Vec<&str> = report["provider"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["set_thumbprints", "add_client_id"], "{report}");
    let provider = moto().get_provider(&arn(&issuer)).unwrap();
    assert_eq!(provider.thumbprints, [PIN_B]);
    let mut ids = provider.client_ids.clone();
    ids.sort();
    assert_eq!(ids, ["sts.amazonaws.com", "vault"]);
    // Dropping an audience removes it.
    let (_d, mut only_sts) = sync("iam-reconcile-2", &issuer);
    only_sts.args(["--thumbprint", PIN_B]);
    let report = json(&only_sts.assert_success());
    assert_eq!(
        report["provider"]["changes"][0]["action"], "remove_client_id",
        "{report}"
    );
    assert_eq!(
        moto().get_provider(&arn(&issuer)).unwrap().client_ids,
        ["sts.amazonaws.com"]
    );
}

#[test]
fn thumbprint_auto_hashes_the_last_certificate_of_a_verified_chain() {
    let issuer = issuer("auto");
    let host = issuer
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let root = Ca::root("kop test root");
    let intermediate = root.intermediate("kop test intermediate");
    let leaf = intermediate.leaf_with(&[&host], (2100, 1, 1));
    let server = Server::tls(&leaf, &[&intermediate.der]);
    let (dir, mut cmd) = sync("iam-auto", &issuer);
    let ca = dir.path().join("root.pem");
    std::fs::write(&ca, &root.pem).unwrap();
    cmd.args([
        "--connect-to",
        &format!("{host}:443:127.0.0.1:{}", server.port()),
        "--ca-file",
    ])
    .arg(&ca);
    cmd.assert_success();
    // IAM's thumbprint is the SHA-1 of the last certificate served: here the intermediate.
    let expected: String = {
        use sha1::Digest as _;
        sha1::Sha1::digest(intermediate.der.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(
        moto().get_provider(&arn(&issuer)).unwrap().thumbprints,
        [expected]
    );
    assert_eq!(
        server.sni(),
        [Some(host.clone())],
        "one TLS handshake, with SNI for the public host"
    );

    // Without the private CA the chain does not verify: no thumbprint, exit 2.
    let (_d, mut unverified) = sync("iam-auto-unverified", &issuer);
    unverified
        .args([
            "--connect-to",
            &format!("{host}:443:127.0.0.1:{}", server.port()),
        ])
        .env("SSL_CERT_FILE", ca.with_file_name("none.pem"));
    let output = unverified.assert_exit(2);
    assert!(
        stderr_str(&output).contains("--thumbprint none"),
        "{}",
        stderr_str(&output)
    );
}

#[test]
fn thumbprint_none_lets_iam_fetch_its_own_and_leaves_it_alone() {
    let issuer = issuer("none");
    let (_dir, mut cmd) = sync("iam-none", &issuer);
    cmd.args(["--thumbprint", "none"]);
    cmd.assert_success();
    let fetched = moto().get_provider(&arn(&issuer)).unwrap().thumbprints;
    assert_eq!(
        fetched.len(),
        1,
        "IAM stored a thumbprint it fetched itself"
    );
    let report = json(&cmd.assert_success());
    assert_eq!(report["status"], "in_sync", "{report}");
}

#[test]
fn an_untagged_provider_is_left_alone_until_adopted() {
    let issuer = issuer("terraform");
    moto().create_provider(
        &issuer,
        &["something-else"],
        Some(&[PIN_A]),
        &[("owner", "terraform")],
    );
    let (dir, mut cmd) = sync("iam-unowned", &issuer);
    cmd.args(["--thumbprint", PIN_A]);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("not managed by kube-oidc-publisher") && stderr.contains("--adopt"),
        "{stderr}"
    );
    assert!(
        stderr.contains("add client ID sts.amazonaws.com"),
        "{stderr}"
    );
    assert!(stderr.contains("the documents were published"), "{stderr}");
    assert!(dir.path().join("public/openid/v1/jwks").is_file());
    let untouched = moto().get_provider(&arn(&issuer)).unwrap();
    assert_eq!(untouched.client_ids, ["something-else"]);
    assert!(!untouched
        .tags
        .contains_key("kube-oidc-publisher/managed-by"));

    cmd.arg("--adopt");
    cmd.assert_success();
    let adopted = moto().get_provider(&arn(&issuer)).unwrap();
    assert_eq!(adopted.client_ids, ["sts.amazonaws.com"]);
    assert_eq!(
        adopted
            .tags
            .get("kube-oidc-publisher/managed-by")
            .map(String::as_str),
        Some("kube-oidc-publisher")
    );
    assert_eq!(
        adopted.tags.get("owner").map(String::as_str),
        Some("terraform"),
        "other tags are kept"
    );
}

#[test]
fn concurrent_modification_is_retried() {
    let issuer = issuer("retry");
    let (_dir, mut cmd) = sync("iam-retry", &issuer);
    cmd.args(["--thumbprint", PIN_A]);
    cmd.assert_success();
    moto().inject_iam_fault(
        &IamFault::concurrent_modification(&issuer)
            .action("UpdateOpenIDConnectProviderThumbprint")
            .times(2),
    );
    let (_d, mut update) = sync("iam-retry-2", &issuer);
    update.args(["--thumbprint", PIN_B]);
    update.assert_success();
    assert_eq!(
        moto().get_provider(&arn(&issuer)).unwrap().thumbprints,
        [PIN_B]
    );
    assert_eq!(
        moto()
            .iam_requests(&issuer)
            .count("UpdateOpenIDConnectProviderThumbprint"),
        3
    );
}

#[test]
fn access_denied_names_the_action_and_the_policy_template() {
    let issuer = issuer("denied");
    moto().inject_iam_fault(
        &IamFault::access_denied(&issuer)
            .action("CreateOpenIDConnectProvider")
            .always(),
    );
    let (dir, mut cmd) = sync("iam-denied", &issuer);
    cmd.args(["--thumbprint", PIN_A]);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("iam:CreateOpenIDConnectProvider")
            && stderr.contains("templates/publisher-role-policy.json"),
        "{stderr}"
    );
    assert!(
        dir.path().join("public/openid/v1/jwks").is_file(),
        "the documents do not wait for IAM"
    );
    assert!(moto().get_provider(&arn(&issuer)).is_none());
}

#[test]
fn limit_exceeded_explains_the_quota() {
    let issuer = issuer("limit");
    moto()
        .inject_iam_fault(&IamFault::limit_exceeded(&issuer).action("CreateOpenIDConnectProvider"));
    let (_dir, mut cmd) = sync("iam-limit", &issuer);
    cmd.args(["--thumbprint", PIN_A]);
    let output = cmd.assert_exit(2);
    assert!(
        stderr_str(&output).contains("at most 100"),
        "{}",
        stderr_str(&output)
    );
}

#[test]
fn bad_thumbprint_flags_are_refused_before_anything_happens() {
    let issuer = issuer("bad-pin");
    let six: Vec<String> = (0..6).map(|i| format!("{i}").repeat(40)).collect();
    let cases: [Vec<&str>; 3] = [
        vec!["abc"],
        vec![PIN_A, "auto"],
        six.iter().map(String::as_str).collect(),
    ];
    for values in cases {
        let (dir, mut cmd) = sync("iam-bad-pin", &issuer);
        for value in &values {
            cmd.args(["--thumbprint", value]);
        }
        let output = cmd.assert_exit(2);
        assert!(
            stderr_str(&output).contains("--thumbprint"),
            "{values:?}: {}",
            stderr_str(&output)
        );
        assert!(!dir.path().join("public").exists());
    }
    assert!(
        moto().iam_requests(&issuer).entries.is_empty(),
        "refused before any AWS request"
    );
}
