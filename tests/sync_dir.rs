//! `sync` to a directory store through the real binary: from key files (offline) and from the
//! fake kube-apiserver, idempotency (a second run rewrites nothing), `--dry-run`, `--check`,
//! JSON output, environment-variable twins, and pre-publishing a key beside the API server's.

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

const PUBLIC_ISSUER: &str = "https://oidc.example.com/c1";

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn offline_key_file_to_directory_publishes_both_documents() {
    let (dir, mut cmd) = setup("offline");
    let out = dir.path().join("public");
    cmd.args(["sync", "--source", "files", "--key-file"])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .args(["--issuer", PUBLIC_ISSUER, "--store"])
        .arg(&out)
        .arg("--no-iam");
    let output = cmd.assert_success();
    assert!(
        stdout_str(&output).contains("3 writes"),
        "{}",
        stdout_str(&output)
    );

    // The JWKS is byte-identical to what kube-apiserver serves for the same key.
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));
    let discovery = json(&read(&out, ".well-known/openid-configuration"));
    assert_eq!(discovery["issuer"], PUBLIC_ISSUER);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{PUBLIC_ISSUER}/openid/v1/jwks")
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    // Files are world-readable for the web server, and no temporary file is left behind.
    assert_eq!(
        snapshot_dir(&out)
            .keys()
            .filter(|p| p.to_string_lossy().contains(".tmp"))
            .count(),
        0
    );
}

#[test]
fn idempotency_second_sync_rewrites_no_file() {
    let (dir, mut cmd) = setup("idempotent-dir");
    let out = dir.path().join("public");
    cmd.args(["sync", "--source", "files", "--key-file"])
        .arg(fixture_path("key-ec-p256.pub.pem"))
        .args(["--issuer", PUBLIC_ISSUER, "--store"])
        .arg(&out)
        .arg("--no-iam");
    cmd.assert_success();
    // Age the files so that any rewrite, even of the same bytes, shows in the mtime.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for rel in ["openid/v1/jwks", ".well-known/openid-configuration"] {
        set_file_mtime(&out.join(rel), old);
    }
    let before = mtimes(&out);
    let second = cmd.assert_success();
    assert!(
        stdout_str(&second).starts_with("in sync:"),
        "{}",
        stdout_str(&second)
    );
    assert!(stdout_str(&second).contains("(0 writes)"));
    assert_eq!(
        stdout_str(&second).lines().count(),
        1,
        "a no-op sync prints one line"
    );
    assert_eq!(
        mtimes(&out),
        before,
        "a no-op sync must not rewrite any file"
    );
}

#[test]
fn cluster_source_renders_the_discovery_document_and_reads_each_path_once() {
    let server = FakeApiServer::with_scenario(Scenario::DefaultJwksUri);
    let (dir, mut cmd) = setup("cluster-dir");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let out = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &out))
        .args(["--issuer", ISSUER]);
    let output = cmd.assert_success();
    // One API server: read through the server address, and said so (not as a warning).
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("the kubernetes EndpointSlices list 1 API server; read the keys through")
            && !stderr.contains("WARN"),
        "{stderr}"
    );
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));
    // The API server's own document points jwks_uri at https://127.0.0.1:6443; ours is public,
    // and byte-identical to what kube-apiserver renders when --service-account-jwks-uri is set.
    assert_eq!(
        read(&out, ".well-known/openid-configuration"),
        fixture("openid-configuration.json")
    );
    let requests = server.requests();
    assert_eq!(requests.get(JWKS_PATH), Some(&1), "{requests:?}");
    assert_eq!(requests.get(DISCOVERY_PATH), Some(&1), "{requests:?}");
    // and the kubernetes Service's EndpointSlices, to find every API server (one here)
    assert_eq!(requests.get(ENDPOINT_SLICES_PATH), Some(&1), "{requests:?}");
    assert_eq!(server.request_count(), 3);
}

#[test]
fn key_file_is_published_beside_the_api_servers_keys() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, mut cmd) = setup("prepublish");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let out = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &out))
        .args(["--issuer", ISSUER, "--key-file"])
        .arg(fixture_path("key-rsa-new.pub.pem"));
    cmd.assert_success();
    // The same two keys the API server lists after rotation, in canonical (kid) order.
    let published = json(&read(&out, "openid/v1/jwks"));
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [
            "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM",
            "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc"
        ]
    );
    let recorded = json(&fixture("jwks-rotation-two-keys.json"));
    let mut expected: Vec<Value> = recorded["keys"].as_array().unwrap().clone();
    expected.sort_by(|a, b| a["kid"].as_str().cmp(&b["kid"].as_str()));
    assert_eq!(published["keys"], Value::Array(expected));
}

#[test]
fn rendering_is_canonical_whatever_order_the_keys_arrive_in() {
    let (dir, mut a) = setup("canonical");
    let out_a = dir.path().join("a");
    let out_b = dir.path().join("b");
    let mut b = a.clone();
    a.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--issuer",
        PUBLIC_ISSUER,
        "--key-file",
    ])
    .arg(fixture_path("key-rsa-old.pub.pem"))
    .arg("--key-file")
    .arg(fixture_path("key-ec-p384.pub.pem"))
    .arg("--store")
    .arg(&out_a);
    b.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--issuer",
        PUBLIC_ISSUER,
        "--key-file",
    ])
    .arg(fixture_path("key-ec-p384.pub.pem"))
    .arg("--key-file")
    .arg(fixture_path("key-rsa-old.pub.pem"))
    .arg("--store")
    .arg(&out_b);
    a.assert_success();
    b.assert_success();
    for document in ["openid/v1/jwks", ".well-known/openid-configuration"] {
        assert_eq!(read(&out_a, document), read(&out_b, document), "{document}");
    }
    let discovery = json(&read(&out_a, ".well-known/openid-configuration"));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES384", "RS256"])
    );
}

#[test]
fn dry_run_prints_the_plan_and_check_reports_drift_without_writing() {
    let (dir, mut cmd) = setup("dry-run");
    let out = dir.path().join("public");
    cmd.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--issuer",
        PUBLIC_ISSUER,
        "--key-file",
    ])
    .arg(fixture_path("key-rsa-old.pub.pem"))
    .arg("--store")
    .arg(&out);
    let mut dry = cmd.clone();
    dry.arg("--dry-run");
    let plan = dry.assert_success();
    assert!(
        stdout_str(&plan).contains("put openid/v1/jwks"),
        "{}",
        stdout_str(&plan)
    );
    assert!(stdout_str(&plan).contains("put .well-known/openid-configuration"));
    assert!(!out.exists(), "--dry-run must write nothing");

    let mut check = cmd.clone();
    check.arg("--check");
    check.assert_exit(1);
    assert!(!out.exists(), "--check must write nothing");

    cmd.assert_success();
    check.assert_exit(0);
}

#[test]
fn json_output_describes_the_plan_and_the_status() {
    let (dir, mut cmd) = setup("json");
    let out = dir.path().join("public");
    cmd.args([
        "sync",
        "--source",
        "files",
        "--no-iam",
        "--issuer",
        PUBLIC_ISSUER,
        "--output",
        "json",
        "--key-file",
    ])
    .arg(fixture_path("key-ec-p256.pub.pem"))
    .arg("--store")
    .arg(&out);
    let first = json(&cmd.assert_success().stdout);
    assert_eq!(first["status"], "applied");
    assert_eq!(
        first["writes"], 3,
        "the JWKS, the discovery document and the retention state"
    );
    assert_eq!(
        first["kids"],
        serde_json::json!(["7Dr4HLddxeDMYkcnLmRqj6wd6qegXy4bssk7m1-o-Lg"])
    );
    let changes = first["plan"]["changes"].as_array().unwrap();
    assert_eq!(
        changes[0]["key"], "openid/v1/jwks",
        "the JWKS is written first"
    );
    assert_eq!(changes[0]["reason"], "create");
    assert_eq!(changes[0]["precondition"]["kind"], "if_none_match");
    assert_eq!(changes[1]["key"], ".well-known/openid-configuration");
    let second = json(&cmd.assert_success().stdout);
    assert_eq!(second["status"], "in_sync");
    assert_eq!(second["writes"], 0);

    let mut bad = cmd.clone();
    bad.args(["--cache-max-age", "0"]);
    let failed = bad.assert_exit(2);
    let error = json(&failed.stdout);
    assert_eq!(error["status"], "error");
    assert!(
        error["error"].as_str().unwrap().contains("--cache-max-age"),
        "{error}"
    );
}

#[test]
fn every_option_reads_its_environment_variable() {
    let (dir, mut cmd) = setup("env");
    let out = dir.path().join("public");
    cmd.arg("sync")
        .env("KUBE_OIDC_PUBLISHER_SOURCE", "files")
        .env(
            "KUBE_OIDC_PUBLISHER_KEY_FILE",
            format!(
                "{},{}",
                fixture_path("key-rsa-old.pub.pem").display(),
                fixture_path("key-ec-p256.pub.pem").display()
            ),
        )
        .env("KUBE_OIDC_PUBLISHER_ISSUER", PUBLIC_ISSUER)
        .env("KUBE_OIDC_PUBLISHER_STORE", &out)
        .env("KUBE_OIDC_PUBLISHER_NO_IAM", "true")
        .env("KUBE_OIDC_PUBLISHER_OUTPUT", "json");
    let result = json(&cmd.assert_success().stdout);
    assert_eq!(result["kids"].as_array().unwrap().len(), 2);
    assert!(out.join("openid/v1/jwks").is_file());
    let mut check = cmd.clone();
    check.env("KUBE_OIDC_PUBLISHER_CHECK", "true");
    assert_eq!(json(&check.assert_exit(0).stdout)["status"], "in_sync");
}

#[test]
fn without_no_iam_the_provider_needs_aws_configuration_and_nothing_is_written() {
    let (dir, mut cmd) = setup("iam-needs-region");
    let out = dir.path().join("public");
    cmd.args([
        "sync",
        "--source",
        "files",
        "--issuer",
        PUBLIC_ISSUER,
        "--key-file",
    ])
    .arg(fixture_path("key-rsa-old.pub.pem"))
    .arg("--store")
    .arg(&out)
    .env("AWS_EC2_METADATA_DISABLED", "true");
    let output = cmd.assert_exit(2);
    assert!(
        stderr_str(&output).contains("--region"),
        "{}",
        stderr_str(&output)
    );
    assert!(
        !out.exists(),
        "nothing is published when the run cannot start"
    );
}

#[test]
fn issuer_mismatch_allowed_explicitly_for_migrations() {
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, mut cmd) = setup("migration");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let out = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &out)).args([
        "--issuer",
        PUBLIC_ISSUER,
        "--allow-issuer-mismatch",
    ]);
    let output = cmd.assert_success();
    assert!(
        stderr_str(&output).contains("--allow-issuer-mismatch"),
        "{}",
        stderr_str(&output)
    );
    assert_eq!(
        json(&read(&out, ".well-known/openid-configuration"))["issuer"],
        PUBLIC_ISSUER
    );
}

#[test]
fn unusable_algorithms_are_dropped_with_a_warning_naming_them() {
    let recorded = json(&fixture("jwks-rsa.json"));
    let mut keys = recorded["keys"].as_array().unwrap().clone();
    keys.push(serde_json::json!({"use":"sig","kty":"AKP","kid":"mldsa-key","alg":"ML-DSA-65","pub":"AAAA"}));
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap();
    let server = FakeApiServer::with_scenario(Scenario::Custom {
        jwks,
        discovery: fixture("openid-configuration.json"),
    });
    let (dir, mut cmd) = setup("dropped");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let out = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &out))
        .args(["--issuer", ISSUER]);
    let output = cmd.assert_success();
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("mldsa-key") && stderr.contains("ML-DSA-65"),
        "{stderr}"
    );
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));
}

/// `sync --source files` of the recorded RSA key to `out`, with the harness's defaults.
fn offline_sync(cmd: &mut TestCommand, out: &Path) {
    cmd.args(["sync", "--source", "files", "--key-file"])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .args(["--issuer", PUBLIC_ISSUER, "--store"])
        .arg(out)
        .arg("--no-iam");
}

/// The three files one sync publishes, relative to the store root.
const PUBLISHED: [&str; 3] = [
    "openid/v1/jwks",
    ".well-known/openid-configuration",
    ".kube-oidc-publisher/state.json",
];

/// Regression (issue 14): the temporary file was `.NAME.tmp-PID`, opened with `File::create`,
/// so anyone able to write the store could plant a symlink at the next PIDs' names and have a
/// root-run sync overwrite the link's target.
#[test]
fn temporary_files_never_write_through_a_planted_symlink() {
    use std::os::unix::fs::symlink;
    let (dir, mut cmd) = setup("tmp-symlink");
    let out = dir.path().join("public");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    // The PIDs the binary can get next: from a probe's PID on, far more than a busy machine
    // hands out between the probe and the run.
    let probe = std::process::Command::new("true").spawn().unwrap();
    let first = probe.id();
    let mut probe = probe;
    probe.wait().unwrap();
    for rel in PUBLISHED {
        let path = out.join(rel);
        let parent = path.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        for pid in first..first + 20_000 {
            symlink(&victim, parent.join(format!(".{name}.tmp-{pid}"))).unwrap();
        }
    }
    offline_sync(&mut cmd, &out);
    cmd.assert_success();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));
    // The planted links are not ours to remove; they are still links, to the same target.
    let link = out.join(format!("openid/v1/.jwks.tmp-{}", first + 1));
    assert_eq!(std::fs::read_link(link).unwrap(), victim);
}

/// Regression (issue 14): temporary files of a killed run stayed forever.
#[test]
fn leftovers_of_a_killed_run_are_removed_by_the_next_write() {
    let (dir, mut cmd) = setup("tmp-leftovers");
    let out = dir.path().join("public");
    let jwks_dir = out.join("openid/v1");
    std::fs::create_dir_all(&jwks_dir).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    // A leftover of an older version (PID suffix) and one of this version (random suffix).
    let old_style = jwks_dir.join(".jwks.tmp-4242");
    let new_style = jwks_dir.join(".jwks.tmp-a1B2c3D4e5F6");
    // Not ours, or not a leftover: left alone.
    let fresh = jwks_dir.join(".jwks.tmp-Zz9Yy8Xx7Ww6");
    let foreign = jwks_dir.join(".jwks.tmp-4242.bak");
    let notes = jwks_dir.join("notes.txt");
    for path in [&old_style, &new_style, &fresh, &foreign, &notes] {
        std::fs::write(path, b"{\"keys\":[").unwrap();
    }
    for path in [&old_style, &new_style, &foreign, &notes] {
        set_file_mtime(path, hour_ago);
    }
    offline_sync(&mut cmd, &out);
    let output = cmd.assert_success();
    assert!(
        !old_style.exists() && !new_style.exists(),
        "{}",
        stderr_str(&output)
    );
    assert!(fresh.exists() && foreign.exists() && notes.exists());
    assert!(
        stderr_str(&output).contains("removed a temporary file left by an interrupted run"),
        "{}",
        stderr_str(&output)
    );
}

/// Regression (issue 14): under umask 077 the published files were 0600, unreadable by a web
/// server running as another user.
#[test]
fn published_files_are_world_readable_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _) = setup("umask");
    let out = dir.path().join("public");
    let mut cmd = TestCommand::program(dir.path(), Path::new("/bin/sh"));
    cmd.args(["-c", "umask 077; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_kube-oidc-publisher"));
    offline_sync(&mut cmd, &out);
    cmd.assert_success();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for rel in PUBLISHED {
        assert_eq!(mode(&out.join(rel)), 0o644, "{rel}");
    }
    for rel in ["", "openid", "openid/v1", ".well-known"] {
        assert_eq!(mode(&out.join(rel)), 0o755, "directory {rel:?}");
    }
}

/// Decision (issue 14): a missing store directory is created like `mkdir`, its missing parent
/// is refused (an unmounted volume or a typo), and nothing is created then.
#[test]
fn missing_store_root_is_created_but_not_its_missing_parent() {
    let (dir, mut cmd) = setup("root-missing");
    let out = dir.path().join("public");
    offline_sync(&mut cmd, &out);
    cmd.assert_success();
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));

    let (dir, mut cmd) = setup("root-parent-missing");
    let out = dir.path().join("mnt/web/public");
    offline_sync(&mut cmd, &out);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("does not exist, nor does its parent")
            && stderr.contains(&format!("mkdir -p {}", out.display())),
        "{stderr}"
    );
    assert!(!dir.path().join("mnt").exists(), "nothing may be created");
    // --dry-run gives the same answer.
    cmd.arg("--dry-run");
    let output = cmd.assert_exit(2);
    assert!(stderr_str(&output).contains("nor does its parent"));
}

/// Regression (issue 14): a store root that is a dangling symlink failed with "File exists".
#[test]
fn dangling_symlink_store_root_is_refused_with_what_to_do() {
    let (dir, mut cmd) = setup("root-dangling");
    let out = dir.path().join("public");
    let target = dir.path().join("gone");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    offline_sync(&mut cmd, &out);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("is a symbolic link to") && stderr.contains("which does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("File exists"), "{stderr}");
    assert!(!target.exists(), "nothing may be created");
}

/// Regression (issue 14): any EndpointSlice labelled `kubernetes.io/service-name=kubernetes`
/// in `default` was trusted as an API server, so whoever may create one could list an address
/// that never answers, and hold key retirement (a "partial read") for as long as it stayed.
/// Only the slice the API servers maintain, named `kubernetes`, is read now.
#[test]
fn an_endpoint_slice_not_named_kubernetes_is_not_an_api_server() {
    let server = FakeApiServer::start();
    let gone: std::net::SocketAddr = unreachable_url()["https://".len()..].parse().unwrap();
    let ready = |addr: std::net::SocketAddr| {
        vec![serde_json::json!({
            "addresses": [addr.ip().to_string()],
            "conditions": { "ready": true },
        })]
    };
    let list = serde_json::json!({
        "kind": "EndpointSliceList",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": { "resourceVersion": "4711" },
        "items": [
            kubernetes_slice("kubernetes", false, ready(server.addr()), server.addr().port()),
            kubernetes_slice("kubernetes-shadow", false, ready(gone), gone.port()),
        ],
    });
    server.set_endpoint_slices(Route::Answer {
        status: 200,
        body: serde_json::to_vec(&list).unwrap(),
    });
    let (dir, mut cmd) = setup("rogue-slice");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let out = dir.path().join("public");
    cmd.args(sync_dir_args(&kubeconfig, &out))
        .args(["--issuer", ISSUER]);
    let output = cmd.assert_success();
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("the kubernetes EndpointSlices list 1 API server")
            && !stderr.contains(&gone.to_string())
            && !stderr.contains("was not read"),
        "{stderr}"
    );
    assert_eq!(read(&out, "openid/v1/jwks"), fixture("jwks-rsa.json"));
}
