//! Signing-key rotation through the real binary against the fake kube-apiserver: a key the API
//! server stops serving stays published for its retention, `rotate stage` publishes a new key
//! and checks it with an anonymous HTTPS GET of the public JWKS (a loopback HTTPS server with
//! a private CA serves the published directory, reached with `--connect-to`), `rotate status`
//! names the signing key (TokenRequest) and the next step, `rotate revoke` removes a key at
//! once, and with several API servers (fake replicas listed by synthetic EndpointSlices) the
//! union of their keys is published.

mod doctor_support;
mod support;
#[allow(dead_code)] // the thumbprint tests use the rest of it
mod tls_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use doctor_support::{HttpsServer, Reply};
use serde_json::Value;
use support::*;
use tls_server::Ca;

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
        stderr_str(&output).contains("REVOKED")
            && stderr_str(&output).contains("Pods whose tokens they signed fail STS"),
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

const EC: &str = "key-ec-p256.pub.pem";

/// The public issuer host: HTTPS on loopback with a private CA, serving the published
/// directory as S3 would (live), or a stale JWKS (`frozen`, a cache that has not expired).
struct PublicHost {
    server: HttpsServer,
    ca_file: PathBuf,
    frozen: Arc<AtomicBool>,
}

impl PublicHost {
    fn serving(store: &Path, dir: &Path) -> PublicHost {
        let ca = Ca::root("kop rotate test public CA");
        let ca_file = dir.join("public-ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap();
        let leaf = ca.leaf_with(&["oidc.example.test"], (2100, 1, 1));
        let frozen = Arc::new(AtomicBool::new(false));
        let (root, stale) = (store.to_path_buf(), frozen.clone());
        let server = HttpsServer::start(
            &leaf,
            &[],
            Arc::new(move |req| {
                if req.method != "GET" || req.header("authorization").is_some() {
                    return Reply::new(403, "AccessDenied");
                }
                let Some(key) = req.path.strip_prefix("/cluster-a/") else {
                    return Reply::new(404, "NoSuchKey");
                };
                if key == "openid/v1/jwks" && stale.load(Ordering::SeqCst) {
                    return Reply::json(fixture("jwks-rsa.json"));
                }
                match std::fs::read(root.join(key)) {
                    Ok(body) => Reply::json(body),
                    Err(_) => Reply::new(404, "NoSuchKey"),
                }
            }),
        );
        PublicHost {
            server,
            ca_file,
            frozen,
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--ca-file".into(),
            self.ca_file.display().to_string(),
            "--connect-to".into(),
            format!("oidc.example.test:443:127.0.0.1:{}", self.server.port()),
        ]
    }
}

fn state(store: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(store.join(".kube-oidc-publisher/state.json")).unwrap())
        .unwrap()
}

#[test]
fn stage_publishes_the_new_key_checks_it_anonymously_and_later_syncs_keep_it() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("stage");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let public = PublicHost::serving(&store, dir.path());
    let jwks = || std::fs::read(store.join("openid/v1/jwks")).unwrap();
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(sync_dir_args(&kubeconfig, &store)[1..].to_vec())
            .args(["--issuer", ISSUER])
            .args(public.flags());
        c
    };
    with(&["sync"]).assert_success();

    // A cache still serves the old JWKS: published, but not visible in time → exit 2.
    public.frozen.store(true, Ordering::SeqCst);
    let mut stage = with(&["rotate", "stage", "--wait", "2s"]);
    stage
        .arg("--key-file")
        .arg(fixture_path("key-rsa-new.pub.pem"));
    let output = stage.assert_exit(2);
    let err = stderr_str(&output);
    assert!(
        err.contains(&format!("key {NEW} is published"))
            && err.contains("did not show it within 2s")
            && err.contains(&format!("lists {OLD} but not {NEW}"))
            && err.contains("Do not switch"),
        "{err}"
    );
    assert_eq!(
        kids(&jwks()),
        [OLD, NEW],
        "the key is published all the same"
    );
    let recorded = state(&store);
    assert_eq!(recorded["keys"][NEW]["staged"], true, "{recorded}");
    assert!(recorded["keys"][NEW]
        .get("publicly_visible_since")
        .is_none());
    let requests = public.server.requests();
    assert!(requests.len() >= 2, "it retried: {requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization").is_none() && r.header("cookie").is_none()),
        "anonymous GETs only"
    );

    // The cache expired: the same command succeeds and records when the key was seen.
    public.frozen.store(false, Ordering::SeqCst);
    let output = stage.assert_success();
    assert!(
        stdout_str(&output).contains(&format!(
            "staged {NEW}: publicly visible at {ISSUER}/openid/v1/jwks"
        )),
        "{}",
        stdout_str(&output)
    );
    let recorded = state(&store);
    let seen = recorded["keys"][NEW]["publicly_visible_since"].clone();
    assert!(seen.is_string(), "{recorded}");

    // Idempotent: staging again checks again and writes nothing.
    let before = snapshot_dir(&store);
    let mtimes_before = mtimes(&store);
    stage.assert_success();
    assert_eq!(snapshot_dir(&store), before);
    assert_eq!(mtimes(&store), mtimes_before);

    // A plain sync (no --key-file) keeps the staged key, and status shows it.
    let output = with(&["sync", "--output", "json"]).assert_success();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["staged"][0], NEW, "{report}");
    assert_eq!(
        report["retained"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert_eq!(kids(&jwks()), [OLD, NEW]);
    let status = with(&["rotate", "status", "--output", "json"]).assert_success();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let new = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == NEW)
        .unwrap();
    assert_eq!(new["staged"], true, "{status}");
    assert_eq!(new["at_api_server"], false);
    assert_eq!(new["publicly_visible_since"], seen);

    // The API server serves it now: an ordinary key, with its history kept.
    server.set_scenario(Scenario::Rotation);
    with(&["sync"]).assert_success();
    let recorded = state(&store);
    assert!(recorded["keys"][NEW].get("staged").is_none(), "{recorded}");
    assert_eq!(recorded["keys"][NEW]["publicly_visible_since"], seen);
}

#[test]
fn an_abandoned_stage_is_removed_with_revoke() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("stage-abandoned");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let public = PublicHost::serving(&store, dir.path());
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(sync_dir_args(&kubeconfig, &store)[1..].to_vec())
            .args(["--issuer", ISSUER])
            .args(public.flags());
        c
    };
    with(&["sync"]).assert_success();
    let mut stage = with(&["rotate", "stage"]);
    stage.arg("--key-file").arg(fixture_path(EC));
    stage.assert_success();
    let staged: Vec<String> = state(&store)["keys"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["staged"] == true)
        .map(|(kid, _)| kid.clone())
        .collect();
    assert_eq!(staged.len(), 1);
    // A staged key no API server served signed no token: no warning about pods.
    let output = with(&["rotate", "revoke", "--kid", &staged[0]]).assert_success();
    assert!(
        stderr_str(&output).contains("signed no token"),
        "{}",
        stderr_str(&output)
    );
    assert!(
        !stderr_str(&output).contains("Pods whose tokens"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(
        kids(&std::fs::read(store.join("openid/v1/jwks")).unwrap()),
        [OLD]
    );
    // --source files has no API server to stage beside: refused, nothing written.
    let before = snapshot_dir(&store);
    let mut files = with(&["rotate", "stage", "--source", "files"]);
    files.arg("--key-file").arg(fixture_path(EC));
    let output = files.assert_exit(2);
    assert!(
        stderr_str(&output).contains("--source files"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(snapshot_dir(&store), before);
}

#[test]
fn status_names_the_signing_key_from_a_fresh_token_and_never_prints_it() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("status-signing");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(sync_dir_args(&kubeconfig, &store)[1..].to_vec())
            .args(["--issuer", ISSUER]);
        c
    };
    with(&["sync"]).assert_success();
    let mut stage = with(&["sync"]);
    stage
        .arg("--key-file")
        .arg(fixture_path("key-rsa-new.pub.pem"));
    stage.assert_success();

    // Not configured: unknown, said plainly, exit 0, and no TokenRequest made.
    let output = with(&["rotate", "status"]).assert_success();
    assert!(
        stdout_str(&output).contains("signing key unknown (pass --token-request"),
        "{}",
        stdout_str(&output)
    );
    assert!(server.request_log().iter().all(|r| r.method != "POST"));

    // Allowed: the recorded token's header names the old key, which signs.
    server.set_token_request(Route::recorded_token_request());
    let mut status = with(&["rotate", "status", "--output", "json"]);
    status.args(["--token-request", "oidc-test/publisher-sa"]);
    let output = status.assert_success();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["signing_kid"], OLD, "{report}");
    let signing: Vec<(String, Value)> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k["signing"].clone()))
        .collect();
    assert_eq!(
        signing,
        [
            (OLD.to_owned(), Value::Bool(true)),
            (NEW.to_owned(), Value::Bool(false))
        ]
    );
    assert!(
        report["next_step"].as_str().unwrap().starts_with("wait "),
        "{report}"
    );
    let posts: Vec<RecordedRequest> = server
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].path,
        "/api/v1/namespaces/oidc-test/serviceaccounts/publisher-sa/token"
    );
    let recorded: Value = serde_json::from_slice(&fixture("tokenrequest-response.json")).unwrap();
    let token = recorded["status"]["token"].as_str().unwrap();
    let signature = token.rsplit('.').next().unwrap();
    for text in [stdout_str(&output), stderr_str(&output)] {
        assert!(!text.contains(signature), "the token must never be printed");
    }

    // Refused: unknown with the reason, still exit 0.
    server.set_token_request(Route::Forbidden);
    let mut status = with(&["rotate", "status"]);
    status.args(["--token-request", "oidc-test/publisher-sa"]);
    let output = status.assert_success();
    let text = stdout_str(&output);
    assert!(
        text.contains("signing key unknown (TokenRequest for oidc-test/publisher-sa was refused")
            && text.contains("serviceaccounts/token"),
        "{text}"
    );
}

/// Three API servers of one control plane (same certificate and token, one port each).
fn control_plane(scenarios: [Scenario; 3]) -> [FakeApiServer; 3] {
    let [a, b, c] = scenarios;
    let first = FakeApiServer::dns_only(a);
    let second = first.replica(b);
    let third = first.replica(c);
    [first, second, third]
}

fn ha_command(name: &str, service: &FakeApiServer) -> (tempfile::TempDir, TestCommand, PathBuf) {
    let (dir, mut cmd) = setup(name);
    // The server address is https://localhost:PORT and the certificate names only localhost,
    // so the endpoints (127.0.0.1) verify only with the server address's TLS name.
    let spec = KubeconfigSpec {
        server: service.localhost_url(),
        ..KubeconfigSpec::for_server(service)
    };
    let kubeconfig = write_kubeconfig_spec(&dir.path().join("kubeconfig"), &spec);
    let store = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &store))
        .args(["--issuer", ISSUER, "--output", "json"]);
    (dir, cmd, store)
}

#[test]
fn ha_publishes_the_union_of_every_api_servers_keys() {
    // Mid-rotation: one API server has both keys, one only the old, one only the new.
    let servers = control_plane([Scenario::Rsa, Scenario::Rotation, Scenario::RotatedOnlyNew]);
    let addrs: Vec<_> = servers.iter().map(FakeApiServer::addr).collect();
    // The server address reaches the first one; it lists all three.
    servers[0].set_endpoint_slices(Route::Answer {
        status: 200,
        body: synthetic_endpoint_slices(&addrs, &[]),
    });
    let (_dir, cmd, store) = ha_command("ha-union", &servers[0]);
    let output = cmd.assert_success();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["kids"], serde_json::json!([OLD, NEW]), "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
    assert_eq!(
        kids(&std::fs::read(store.join("openid/v1/jwks")).unwrap()),
        [OLD, NEW]
    );
    // Each endpoint once; the first also through the server address (read concurrently with
    // the list, before it is known how many API servers there are).
    let reads: Vec<Option<usize>> = servers
        .iter()
        .map(|s| s.requests().get(JWKS_PATH).copied())
        .collect();
    assert_eq!(reads, [Some(2), Some(1), Some(1)]);

    // A not-ready endpoint is not read.
    for server in &servers {
        server.reset_requests();
    }
    servers[0].set_endpoint_slices(Route::Answer {
        status: 200,
        body: synthetic_endpoint_slices(&addrs, &addrs[2..]),
    });
    cmd.assert_success();
    assert_eq!(servers[2].request_count(), 0);
}

#[test]
fn ha_falls_back_to_the_server_address_when_listing_is_forbidden() {
    let servers = control_plane([
        Scenario::Rsa,
        Scenario::RotatedOnlyNew,
        Scenario::RotatedOnlyNew,
    ]);
    servers[0].set_endpoint_slices(Route::Forbidden);
    let (_dir, cmd, store) = ha_command("ha-forbidden", &servers[0]);
    let output = cmd.assert_success();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("refused to list the kubernetes EndpointSlices")
            && warnings.contains("Read the keys through https://localhost:"),
        "{report}"
    );
    assert!(
        stderr_str(&output).contains("refused to list"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(
        kids(&std::fs::read(store.join("openid/v1/jwks")).unwrap()),
        [OLD]
    );
    assert_eq!(servers[1].request_count(), 0);

    // Turned off: no listing, no warning.
    servers[0].reset_requests();
    let mut off = cmd.clone();
    off.args(["--api-server-endpoints", "service"]);
    let report: Value = serde_json::from_slice(&off.assert_success().stdout).unwrap();
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
    assert_eq!(servers[0].requests().get(ENDPOINT_SLICES_PATH), None);
}

#[test]
fn ha_skips_an_unreachable_endpoint_with_a_warning_and_still_publishes() {
    let servers = control_plane([Scenario::Rsa, Scenario::Rotation, Scenario::Rsa]);
    let mut addrs: Vec<_> = servers.iter().map(FakeApiServer::addr).collect();
    // A listed API server that does not answer: the port they share, an address nothing binds.
    let gone = std::net::SocketAddr::from(([127, 0, 0, 9], addrs[0].port()));
    addrs[2] = gone;
    servers[0].set_endpoint_slices(Route::Answer {
        status: 200,
        body: synthetic_endpoint_slices(&addrs, &[]),
    });
    let (_dir, cmd, store) = ha_command("ha-unreachable", &servers[0]);
    let output = cmd.assert_success();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(&format!("API server endpoint https://{gone} was not read"))
            && warnings.contains("the 2 that answered"),
        "{report}"
    );
    assert_eq!(
        kids(&std::fs::read(store.join("openid/v1/jwks")).unwrap()),
        [OLD, NEW]
    );
}

#[test]
fn ha_refuses_api_servers_that_disagree_on_the_issuer_and_writes_nothing() {
    let other_issuer = String::from_utf8(fixture("openid-configuration.json"))
        .unwrap()
        .replace(ISSUER, "https://oidc.example.test/cluster-b");
    let servers = control_plane([
        Scenario::Rsa,
        Scenario::Custom {
            jwks: fixture("jwks-rsa.json"),
            discovery: other_issuer.into_bytes(),
        },
        Scenario::Rsa,
    ]);
    let addrs: Vec<_> = servers.iter().map(FakeApiServer::addr).collect();
    servers[0].set_endpoint_slices(Route::Answer {
        status: 200,
        body: synthetic_endpoint_slices(&addrs, &[]),
    });
    let (_dir, cmd, store) = ha_command("ha-issuers", &servers[0]);
    let mut one = cmd.clone();
    one.args(["--api-server-endpoints", "service"]);
    one.assert_success();
    let before = snapshot_dir(&store);
    let output = cmd.assert_exit(2);
    let err = stderr_str(&output);
    assert!(
        err.contains("the API servers disagree on the issuer")
            && err.contains("https://oidc.example.test/cluster-b")
            && err.contains("--service-account-issuer"),
        "{err}"
    );
    assert_eq!(snapshot_dir(&store), before, "nothing written");
}

#[test]
fn status_with_source_files_says_n_a_at_api_and_names_the_sync_key_file_command() {
    // Issue #14: with --source files, `rotate status` advised `rotate stage`, which refuses
    // --source files and advised sync's --key-file list: a circle. And "at API" said yes
    // with no API server.
    let (dir, cmd) = setup("status-files");
    let store = dir.path().join("public");
    let current = fixture_path("key-rsa-old.pub.pem");
    let new = fixture_path("key-rsa-new.pub.pem");
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(["--source", "files", "--key-file"])
            .arg(&current)
            .arg("--store")
            .arg(&store)
            .args(["--issuer", ISSUER, "--no-iam"]);
        c
    };
    with(&["sync"]).assert_success();
    let sync_command = format!(
        "kube-oidc-publisher sync --source files --key-file {} --key-file NEW.pub --store {} --issuer {ISSUER} --no-iam",
        current.display(),
        store.display()
    );

    let output = with(&["rotate", "status"]).assert_success();
    let text = stdout_str(&output);
    let row = text.lines().nth(1).expect("a row for the key");
    assert_eq!(row.split_whitespace().nth(1), Some("n/a"), "{text}");
    let next = text
        .lines()
        .find(|l| l.starts_with("next: "))
        .expect("next step");
    assert!(next.contains(&sync_command), "{text}");
    assert!(!next.contains("`rotate stage --key-file"), "{text}");

    let output = with(&["rotate", "status", "--output", "json"]).assert_success();
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["keys"][0]["at_api_server"], Value::Null, "{status}");
    assert!(
        status["next_step"]
            .as_str()
            .unwrap()
            .contains(&sync_command),
        "{status}"
    );

    // And `rotate stage` with --source files names the same sync, with the new key's path.
    let before = snapshot_dir(&store);
    let mut stage = cmd.clone();
    stage
        .args(["rotate", "stage", "--source", "files", "--key-file"])
        .arg(&new)
        .arg("--store")
        .arg(&store)
        .args(["--issuer", ISSUER, "--no-iam"]);
    let stderr = stderr_str(&stage.assert_exit(2));
    assert!(
        stderr.contains(&format!(
            "kube-oidc-publisher sync --source files --key-file CURRENT.pub --key-file {} --store {} --issuer {ISSUER} --no-iam",
            new.display(),
            store.display()
        )),
        "{stderr}"
    );
    assert_eq!(snapshot_dir(&store), before, "nothing written");
}

#[test]
fn revoke_dry_run_refuses_first_and_does_not_warn_about_pods_for_a_staged_key() {
    // Issue #14: `rotate revoke --dry-run` printed "Pods whose tokens they signed will fail
    // STS" before refusing an unknown kid, and for a staged key that signed nothing.
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("revoke-dry-run");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let store = dir.path().join("public");
    let public = PublicHost::serving(&store, dir.path());
    let with = |sub: &[&str]| {
        let mut c = cmd.clone();
        c.args(sub)
            .args(sync_dir_args(&kubeconfig, &store)[1..].to_vec())
            .args(["--issuer", ISSUER])
            .args(public.flags());
        c
    };
    with(&["sync"]).assert_success();
    let mut stage = with(&["rotate", "stage"]);
    stage
        .arg("--key-file")
        .arg(fixture_path("key-rsa-new.pub.pem"));
    stage.assert_success();
    let before = snapshot_dir(&store);

    // The refusal alone: no warning about pods before it.
    let output = with(&["rotate", "revoke", "--kid", "no-such-kid", "--dry-run"]).assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(stderr.contains("is not published"), "{stderr}");
    assert!(!stderr.contains("Pods whose tokens"), "{stderr}");
    assert!(!stderr.contains("REVOK"), "{stderr}");

    // The staged key signed nothing: the plan, and no warning about pods.
    let output = with(&["rotate", "revoke", "--kid", NEW, "--dry-run"]).assert_success();
    let stderr = stderr_str(&output);
    assert!(!stderr.contains("Pods whose tokens"), "{stderr}");
    assert!(stderr.contains("signed no token"), "{stderr}");
    assert!(
        stdout_str(&output).contains("plan (dry run, nothing written)"),
        "{}",
        stdout_str(&output)
    );
    assert_eq!(snapshot_dir(&store), before, "nothing written");
}
