//! Bad input through the real binary: every case exits 2 with a message that names the problem
//! and the fix, and leaves the published documents byte-for-byte as they were. Each case first
//! publishes good documents, then runs the bad variant against the same store.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// A store with good documents already published from the fake API server; returns the
/// server, the temp dir, the kubeconfig, the store and a command preset for it.
struct Published {
    server: FakeApiServer,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    store: PathBuf,
    cmd: TestCommand,
}

fn published(name: &str) -> Published {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup(name);
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let mut first = cmd.clone();
    first
        .args(sync_dir_args(&kubeconfig, &store))
        .args(["--issuer", ISSUER]);
    first.assert_success();
    assert_eq!(
        std::fs::read(store.join("openid/v1/jwks")).unwrap(),
        fixture("jwks-rsa.json")
    );
    Published {
        server,
        _dir: dir,
        kubeconfig,
        store,
        cmd,
    }
}

/// Runs `cmd`, expects exit 2 with every `needles` in stderr, and the store unchanged.
fn assert_refused(cmd: &TestCommand, store: &Path, needles: &[&str]) -> String {
    let before = snapshot_dir(store);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    assert!(
        stdout_str(&output).is_empty(),
        "text output prints nothing on error"
    );
    assert_eq!(
        snapshot_dir(store),
        before,
        "the published documents must stay as they were"
    );
    stderr
}

fn from_cluster(p: &Published, scenario: Scenario, needles: &[&str]) -> String {
    p.server.set_scenario(scenario);
    let mut cmd = p.cmd.clone();
    cmd.args(sync_dir_args(&p.kubeconfig, &p.store))
        .args(["--issuer", ISSUER, "--timeout", "2"]);
    assert_refused(&cmd, &p.store, needles)
}

#[test]
fn malformed_jwks_from_the_api_server() {
    let p = published("malformed");
    from_cluster(
        &p,
        Scenario::MalformedJwks,
        &["not a valid JWKS", "/openid/v1/jwks", "kubectl get --raw"],
    );
}

#[test]
fn empty_key_set_from_the_api_server_is_never_published() {
    let p = published("empty");
    from_cluster(
        &p,
        Scenario::EmptyKeys,
        &["empty", "--service-account-key-file"],
    );
}

#[test]
fn api_server_answering_500() {
    let p = published("status-500");
    from_cluster(&p, Scenario::ServerError, &["500", "retry"]);
}

/// Regression (issue 14): the API server's `message` was printed raw, so its newlines and
/// escape sequences reached the terminal and text logs (a forged log line, recoloured output).
#[test]
fn api_server_message_is_printed_as_one_line_without_control_characters() {
    let p = published("status-hostile");
    let message = format!(
        "boom\n2026-12-06T06:00:00Z  INFO kube_oidc_publisher: published (0 writes)\r\n\u{1b}[2J\u{1b}[31mred{}END-OF-A-LONG-MESSAGE",
        " padding".repeat(40)
    );
    let stderr = from_cluster(
        &p,
        Scenario::StatusMessage { code: 500, message },
        &[
            "answered 500 for GET",
            "boom 2026-12-06T06:00:00Z INFO",
            "…",
        ],
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "an escape reached stderr: {stderr:?}"
    );
    assert!(
        !stderr
            .lines()
            .any(|l| l.starts_with("2026-12-06T06:00:00Z")),
        "a forged line reached stderr: {stderr}"
    );
    assert!(
        !stderr.contains("END-OF-A-LONG-MESSAGE"),
        "not cut: {stderr}"
    );
}

#[test]
fn api_server_answering_401() {
    let p = published("status-401");
    from_cluster(
        &p,
        Scenario::Unauthorized,
        &["401 Unauthorized", "credentials"],
    );
}

#[test]
fn api_server_answering_403_names_the_rbac_rule() {
    let p = published("status-403");
    from_cluster(
        &p,
        Scenario::Forbidden,
        &[
            "403 Forbidden",
            "system:service-account-issuer-discovery",
            "kubectl create clusterrolebinding",
            "--user=ceo-admin",
        ],
    );
}

#[test]
fn api_server_slower_than_the_timeout() {
    let p = published("slow");
    let started = std::time::Instant::now();
    from_cluster(
        &p,
        Scenario::Slow(Duration::from_secs(8)),
        &["did not answer", "within 2 s", "--timeout"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "the timeout must cut the wait short"
    );
}

#[test]
fn api_server_unreachable() {
    let p = published("unreachable");
    let kubeconfig = write_kubeconfig_unreachable(p._dir.path(), &p.server);
    let mut cmd = p.cmd.clone();
    cmd.args(sync_dir_args(&kubeconfig, &p.store))
        .args(["--issuer", ISSUER, "--timeout", "2"]);
    assert_refused(
        &cmd,
        &p.store,
        &["cannot reach the Kubernetes API server", "kubectl"],
    );
}

#[test]
fn api_server_signing_with_another_issuer_prints_both_and_the_flags() {
    let p = published("mismatch");
    let mut cmd = p.cmd.clone();
    let other = "https://oidc.example.test/cluster-b";
    cmd.args(sync_dir_args(&p.kubeconfig, &p.store))
        .args(["--issuer", other]);
    assert_refused(
        &cmd,
        &p.store,
        &[
            ISSUER,
            other,
            "--service-account-issuer=https://oidc.example.test/cluster-b",
            "--service-account-jwks-uri=https://oidc.example.test/cluster-b/openid/v1/jwks",
            "--allow-issuer-mismatch",
        ],
    );
}

fn key_file_case(name: &str, key: &Path, needles: &[&str]) {
    let p = published(name);
    let mut cmd = p.cmd.clone();
    cmd.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--issuer",
        ISSUER,
        "--key-file",
    ])
    .arg(key)
    .arg("--store")
    .arg(&p.store);
    let stderr = assert_refused(&cmd, &p.store, needles);
    assert!(
        stderr.contains(&key.display().to_string()),
        "the message names the file:\n{stderr}"
    );
}

fn bad_key(name: &str) -> PathBuf {
    fixtures_dir().parent().unwrap().join("keys").join(name)
}

#[test]
fn key_file_that_is_not_pem() {
    let (_keys, key) = written_key("sa.der", "0\u{1}\u{2}binary, not PEM\n");
    key_file_case("not-pem", &key, &["no PEM block", "openssl pkey"]);
}

#[test]
fn pkcs1_rsa_public_key_is_refused_as_kube_apiserver_refuses_it() {
    key_file_case(
        "pkcs1",
        &bad_key("rsa-pkcs1-public.pem"),
        &["RSA PUBLIC KEY", "openssl rsa -RSAPublicKey_in"],
    );
}

#[test]
fn rsa_1024_key_is_refused() {
    key_file_case(
        "rsa-1024",
        &bad_key("rsa-1024.pub.pem"),
        &["1024 bits", "at least 2048"],
    );
}

#[test]
fn key_with_an_algorithm_sts_does_not_verify() {
    key_file_case(
        "ed25519",
        &bad_key("ed25519.pub.pem"),
        &["key of type ed25519", "RSA or EC"],
    );
}

/// A key file written by the test into its own temporary directory.
fn written_key(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Regression (issue 14): an OpenSSH public key got the `openssl pkey` hint, which fails on
/// OpenSSH files.
#[test]
fn openssh_public_key_gets_the_ssh_keygen_conversion() {
    // The same line as in `id_rsa.pub`.
    key_file_case(
        "openssh",
        &bad_key("not-pem.txt"),
        &["OpenSSH public key", "ssh-keygen -e -m PKCS8 -f KEY"],
    );
}

/// Regression (issue 14): a damaged RSA PKCS#8 key was reported as "a private key of another
/// type (Ed25519, DSA, …)".
#[test]
fn garbled_rsa_pkcs8_key_is_called_a_malformed_rsa_key() {
    let (_keys, key) = written_key(
        "sa.key",
        "-----BEGIN PRIVATE KEY-----\nMBkCAQAwDQYJKoZIhvcNAQEBBQAEBTADAgEA\n-----END PRIVATE KEY-----\n",
    );
    let p = published("garbled-pkcs8");
    let mut cmd = p.cmd.clone();
    cmd.args(["sync", "--source", "files", "--no-iam", "--issuer", ISSUER])
        .arg("--key-file")
        .arg(&key)
        .arg("--store")
        .arg(&p.store);
    let stderr = assert_refused(&cmd, &p.store, &["malformed RSA private key (PKCS#8)"]);
    assert!(!stderr.contains("another type"), "{stderr}");
}

#[test]
fn missing_key_file() {
    key_file_case(
        "missing-file",
        &bad_key("no-such-file.pem"),
        &["cannot read key file"],
    );
}

fn issuer_case(name: &str, issuer: &str, needles: &[&str]) {
    let p = published(name);
    let mut cmd = p.cmd.clone();
    cmd.args(sync_dir_args(&p.kubeconfig, &p.store))
        .args(["--issuer", issuer]);
    assert_refused(&cmd, &p.store, needles);
    assert_eq!(
        p.server.request_count(),
        3,
        "a bad --issuer is refused before any request (3: the first sync's)"
    );
}

#[test]
fn issuer_with_http() {
    issuer_case(
        "http",
        "http://oidc.example.test/cluster-a",
        &["must use https://"],
    );
}

#[test]
fn issuer_with_a_port() {
    issuer_case(
        "port",
        "https://oidc.example.test:8443/cluster-a",
        &["port", "\"https://oidc.example.test/cluster-a\""],
    );
}

#[test]
fn issuer_with_a_trailing_slash() {
    issuer_case(
        "slash",
        "https://oidc.example.test/cluster-a/",
        &["trailing slash", "\"https://oidc.example.test/cluster-a\""],
    );
}

#[test]
fn directory_store_without_issuer() {
    let p = published("no-issuer");
    let mut cmd = p.cmd.clone();
    cmd.args(sync_dir_args(&p.kubeconfig, &p.store));
    assert_refused(&cmd, &p.store, &["--issuer is required"]);
}
