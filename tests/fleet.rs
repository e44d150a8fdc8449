//! `sync --fleet` through the real binary: several fake API servers (TLS, recorded responses),
//! one moto S3 bucket with one prefix per cluster, a fleet file. One cluster's failure
//! (unreachable, 401, a broken kubeconfig) never stops another's publication; the exit status
//! is the worst cluster's; a re-run makes 0 writes; IAM's provider quota names the clusters it
//! stopped; a bad file is refused before anything is published.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::daemon::Daemon;
use support::moto::IamFault;
use support::*;

const JWKS_KEY: &str = "openid/v1/jwks";
const PIN: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";

/// `objects` as NDJSON: one object per line, by cluster name.
fn by_cluster(output: &std::process::Output) -> std::collections::BTreeMap<String, Value> {
    stdout_str(output)
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            (
                value["cluster"]
                    .as_str()
                    .expect("a cluster name")
                    .to_owned(),
                value,
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Two healthy clusters and three that fail each its own way, in one bucket.
struct World {
    _servers: Vec<FakeApiServer>,
    dir: tempfile::TempDir,
    cmd: TestCommand,
    bucket: String,
    file: PathBuf,
}

fn world(name: &str) -> World {
    let (dir, mut cmd) = setup(name);
    cmd.moto(moto());
    let bucket = moto().new_bucket(name);
    let healthy = [
        FakeApiServer::with_scenario(Scenario::Rsa),
        FakeApiServer::with_scenario(Scenario::Ec),
    ];
    let refusing = FakeApiServer::with_scenario(Scenario::Unauthorized);
    let kubeconfig = |file: &str, server: &FakeApiServer| {
        let sub = dir.path().join(file);
        std::fs::create_dir_all(&sub).unwrap();
        write_kubeconfig(&sub, server)
    };
    let ok1 = kubeconfig("ok-1", &healthy[0]);
    let ok2 = kubeconfig("ok-2", &healthy[1]);
    let refused = kubeconfig("refused", &refusing);
    let down_dir = dir.path().join("down");
    std::fs::create_dir_all(&down_dir).unwrap();
    let down = write_kubeconfig_unreachable(&down_dir, &healthy[0]);
    let broken = write(
        dir.path(),
        "broken.yaml",
        "clusters: [this is not a kubeconfig\n",
    );
    let text = format!(
        "\
defaults:
  no-iam: true
  s3-path-style: true
  issuer: {ISSUER}
clusters:
  - name: ok-1
    kubeconfig: {ok1}
    store: s3://{bucket}/ok-1
  - name: down
    kubeconfig: {down}
    store: s3://{bucket}/down
  - name: refused
    kubeconfig: {refused}
    store: s3://{bucket}/refused
  - name: broken
    kubeconfig: {broken}
    store: s3://{bucket}/broken
  - name: ok-2
    kubeconfig: {ok2}
    store: s3://{bucket}/ok-2
",
        ok1 = ok1.display(),
        ok2 = ok2.display(),
        down = down.display(),
        refused = refused.display(),
        broken = broken.display(),
    );
    let file = write(dir.path(), "fleet.yaml", &text);
    let mut servers = healthy.into_iter().collect::<Vec<_>>();
    servers.push(refusing);
    World {
        _servers: servers,
        dir,
        cmd,
        bucket,
        file,
    }
}

impl World {
    fn sync(&self, extra: &[&str]) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.args(["sync", "--fleet"]).arg(&self.file).args(extra);
        cmd
    }
}

#[test]
fn a_failing_cluster_never_stops_the_others() {
    let w = world("fleet-isolation");
    let output = w.sync(&["--output", "json"]).assert_exit(2);
    let clusters = by_cluster(&output);
    assert_eq!(
        clusters.keys().collect::<Vec<_>>(),
        ["broken", "down", "ok-1", "ok-2", "refused"],
        "one object per cluster: {}",
        stdout_str(&output)
    );
    for ok in ["ok-1", "ok-2"] {
        assert_eq!(clusters[ok]["status"], "applied", "{ok}: {}", clusters[ok]);
        assert_eq!(clusters[ok]["writes"], 3, "{ok}");
        assert!(
            moto()
                .get_object(&w.bucket, &format!("{ok}/{JWKS_KEY}"))
                .is_some(),
            "{ok} is published"
        );
    }
    let error = |name: &str| {
        clusters[name]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(error("down").contains("cannot reach"), "{}", error("down"));
    assert!(error("refused").contains("401"), "{}", error("refused"));
    assert!(
        error("broken").contains("kubeconfig"),
        "{}",
        error("broken")
    );
    for failed in ["down", "refused", "broken"] {
        assert_eq!(clusters[failed]["status"], "error", "{failed}");
        assert!(
            moto()
                .get_object(&w.bucket, &format!("{failed}/{JWKS_KEY}"))
                .is_none(),
            "{failed} published nothing"
        );
    }

    // A re-run: one line per cluster, the healthy ones in sync with 0 writes.
    let before = moto().requests(&w.bucket).writes();
    let output = w.sync(&[]).assert_exit(2);
    let stdout = stdout_str(&output);
    assert!(stdout.contains("ok-1: in sync: "), "{stdout}");
    assert!(stdout.contains("ok-2: in sync: "), "{stdout}");
    assert!(stdout.contains("down: error: "), "{stdout}");
    assert!(
        stdout.ends_with("5 clusters: 2 in sync, 3 failed\n"),
        "{stdout}"
    );
    assert_eq!(moto().requests(&w.bucket).writes(), before, "0 writes");
}

#[test]
fn check_exits_with_the_worst_status_of_its_clusters() {
    let (dir, mut cmd) = setup("fleet-check");
    let key = fixture_path("key-rsa-old.pub.pem");
    let fleet = |b_key: &str| {
        format!(
            "\
defaults:
  source: files
  key-file: {key}
  no-iam: true
clusters:
  - name: a
    store: {dir}/a
    issuer: https://oidc.example.com/a
  - name: b
    store: {dir}/b
    issuer: https://oidc.example.com/b
    key-file: {b_key}
",
            key = key.display(),
            dir = dir.path().display(),
        )
    };
    let file = write(dir.path(), "fleet.yaml", &fleet(&key.display().to_string()));
    cmd.args(["sync", "--fleet"]).arg(&file);
    cmd.assert_success();
    let mut check = cmd.clone();
    check.arg("--check");
    check.assert_success();

    // b's API server signs with a new key: b has drift, a has none.
    let new_key = fixture_path("key-rsa-new.pub.pem");
    write(
        dir.path(),
        "fleet.yaml",
        &fleet(&new_key.display().to_string()),
    );
    let output = check.assert_exit(1);
    let stdout = stdout_str(&output);
    assert!(stdout.contains("a: in sync"), "{stdout}");
    assert!(
        stdout.contains("b: drift (--check, nothing written)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("2 clusters: 1 in sync, 1 with drift\n"),
        "{stdout}"
    );
}

#[test]
fn iam_s_provider_quota_names_the_clusters_left_without_one() {
    let (dir, mut cmd) = setup("fleet-quota");
    cmd.moto(moto());
    let key = fixture_path("key-rsa-old.pub.pem");
    let issuer = |name: &str| format!("https://oidc-{name}-{}.example.test/c", std::process::id());
    let (one, two) = (issuer("quota-one"), issuer("quota-two"));
    for issuer in [&one, &two] {
        moto().inject_iam_fault(
            &IamFault::limit_exceeded(issuer)
                .action("CreateOpenIDConnectProvider")
                .always(),
        );
    }
    let text = format!(
        "\
defaults:
  source: files
  key-file: {key}
  thumbprint: {PIN}
clusters:
  - name: one
    store: {dir}/one
    issuer: {one}
  - name: two
    store: {dir}/two
    issuer: {two}
  - name: no-provider
    store: {dir}/three
    issuer: https://oidc.example.com/three
    no-iam: true
",
        key = key.display(),
        dir = dir.path().display(),
    );
    let file = write(dir.path(), "fleet.yaml", &text);
    cmd.args(["sync", "--fleet"]).arg(&file);
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("2 clusters still have no provider: one, two."),
        "{stderr}"
    );
    let stdout = stdout_str(&output);
    assert!(
        stdout.contains("no-provider: published (3 writes)"),
        "{stdout}"
    );
    assert!(
        dir.path().join("one/openid/v1/jwks").is_file(),
        "the documents do not wait for IAM"
    );
}

#[test]
fn a_bad_fleet_file_is_refused_before_anything_is_published() {
    let w = world("fleet-bad-file");
    let text = std::fs::read_to_string(&w.file).unwrap();
    let bad = text.replace("    store: s3://", "    cache-max-age: 0\n    store: s3://");
    write(w.dir.path(), "fleet.yaml", &bad);
    let output = w.sync(&[]).assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains("fleet.yaml:8 (cluster ok-1): --cache-max-age 0 is out of range"),
        "{stderr}"
    );
    assert_eq!(
        moto().requests(&w.bucket).total(),
        0,
        "nothing was read or written"
    );

    let dup = text.replace(
        &format!("s3://{}/down", w.bucket),
        &format!("s3://{}/ok-1", w.bucket),
    );
    write(w.dir.path(), "fleet.yaml", &dup);
    let stderr = stderr_str(&w.sync(&[]).assert_exit(2));
    assert!(
        stderr.contains("cluster \"down\" has the same store as cluster \"ok-1\""),
        "{stderr}"
    );
    assert_eq!(
        moto().requests(&w.bucket).total(),
        0,
        "nothing was read or written"
    );
}

/// Cluster API's Secrets for `cluster` in `namespace`: its kubeconfig (key `value`) and its CA
/// and service-account keys, which carry the same label and must never be read.
fn cluster_api_secrets(namespace: &str, cluster: &str, kubeconfig: &str) -> Vec<FakeSecret> {
    let secret = |suffix: &str| {
        FakeSecret::new(namespace, &format!("{cluster}-{suffix}"))
            .label("cluster.x-k8s.io/cluster-name", cluster)
    };
    vec![
        secret("kubeconfig").data("value", kubeconfig),
        secret("ca").data("tls.key", "PRIVATE-CA-KEY"),
        secret("sa").data("tls.key", "PRIVATE-SA-KEY"),
    ]
}

/// Secrets paths the management cluster was asked for (lists and reads).
fn secrets_read(management: &FakeApiServer) -> Vec<String> {
    management
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/secrets"))
        .map(|r| r.path)
        .collect()
}

#[test]
fn kubeconfig_secrets_and_cluster_api_clusters_are_published_until_their_secret_goes() {
    let (dir, mut cmd) = setup("fleet-secrets");
    let bucket = moto().new_bucket("fleet-secrets");
    let management = FakeApiServer::start();
    let (a, b) = (
        FakeApiServer::with_scenario(Scenario::Rsa),
        FakeApiServer::with_scenario(Scenario::Ec),
    );
    let mut secrets =
        vec![FakeSecret::new("fleet", "prod-2-kubeconfig").data("value", a.kubeconfig_yaml())];
    secrets.extend(cluster_api_secrets("capi", "w1", &b.kubeconfig_yaml()));
    management.set_secrets(secrets.clone());
    let text = format!(
        "\
defaults:
  no-iam: true
  s3-path-style: true
clusters:
  - name: prod-2
    kubeconfig-secret: {{namespace: fleet, name: prod-2-kubeconfig}}
    store: s3://{bucket}/prod-2
    issuer: {ISSUER}
  - name: missing
    kubeconfig-secret: {{namespace: fleet, name: nowhere}}
    store: s3://{bucket}/missing
    issuer: {ISSUER}
"
    );
    let file = write(dir.path(), "fleet.yaml", &text);
    // The management cluster is the one kubectl would use.
    let kubeconfig = write_kubeconfig(dir.path(), &management);
    cmd.moto(moto())
        .env("KUBECONFIG", &kubeconfig)
        .args(["sync", "--output", "json", "--fleet"])
        .arg(&file)
        .args([
            "--fleet-from",
            "cluster-api=capi",
            "--store-template",
            &format!("s3://{bucket}/{{namespace}}/{{cluster}}"),
            "--issuer-template",
            "https://oidc.example.com/{namespace}/{cluster}",
            // The fake API servers all sign for one issuer; a discovered cluster's is the
            // template's.
            "--allow-issuer-mismatch",
        ]);
    let output = cmd.assert_exit(2);
    let clusters = by_cluster(&output);
    assert_eq!(
        clusters["prod-2"]["status"], "applied",
        "{}",
        clusters["prod-2"]
    );
    assert_eq!(
        clusters["capi/w1"]["status"], "applied",
        "{}",
        clusters["capi/w1"]
    );
    let missing = clusters["missing"]["error"].as_str().unwrap();
    assert!(
        missing.contains("Secret fleet/nowhere (key value) does not exist"),
        "{missing}"
    );
    for key in ["prod-2/openid/v1/jwks", "capi/w1/openid/v1/jwks"] {
        assert!(moto().get_object(&bucket, key).is_some(), "{key}");
    }
    let read = secrets_read(&management);
    assert!(
        !read
            .iter()
            .any(|p| p.ends_with("-ca") || p.ends_with("-sa")),
        "only the kubeconfig Secrets are read: {read:?}"
    );

    // A re-run: 0 writes.
    let writes = moto().requests(&bucket).writes();
    cmd.assert_exit(2);
    assert_eq!(moto().requests(&bucket).writes(), writes);

    // w1's Secrets are gone: it is no longer published, and its documents stay.
    secrets.retain(|s| s.namespace != "capi");
    management.set_secrets(secrets);
    let clusters = by_cluster(&cmd.assert_exit(2));
    assert!(!clusters.contains_key("capi/w1"), "{clusters:?}");
    assert_eq!(clusters["prod-2"]["status"], "in_sync");
    assert!(moto()
        .get_object(&bucket, "capi/w1/openid/v1/jwks")
        .is_some());
}

#[test]
fn run_fleet_labels_each_cluster_and_is_ready_only_when_every_one_succeeded() {
    let (dir, mut cmd) = setup("fleet-run");
    let healthy = FakeApiServer::with_scenario(Scenario::Rsa);
    let failing = FakeApiServer::with_scenario(Scenario::ServerError);
    let kubeconfig = |name: &str, server: &FakeApiServer| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        write_kubeconfig(&sub, server)
    };
    let text = format!(
        "\
defaults:
  no-iam: true
  issuer: {ISSUER}
clusters:
  - name: healthy
    kubeconfig: {ok}
    store: {dir}/healthy
  - name: failing
    kubeconfig: {bad}
    store: {dir}/failing
",
        ok = kubeconfig("healthy", &healthy).display(),
        bad = kubeconfig("failing", &failing).display(),
        dir = dir.path().display(),
    );
    let file = write(dir.path(), "fleet.yaml", &text);
    cmd.args([
        "run",
        "--interval",
        "1s",
        "--listen",
        "127.0.0.1:0",
        "--fleet",
    ])
    .arg(&file);
    let mut daemon = Daemon::start(&cmd);
    daemon.wait_for("healthy published and failing failed twice", |d| {
        let ok =
            d.metric("kube_oidc_publisher_syncs_total{cluster=\"healthy\",result=\"success\"}")?;
        let errors =
            d.metric("kube_oidc_publisher_sync_errors_total{cluster=\"failing\",kind=\"source\"}")?;
        (ok >= 1.0 && errors >= 2.0).then_some(())
    });
    assert!(
        daemon
            .metric("kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"healthy\"}")
            .unwrap()
            > 0.0
    );
    assert_eq!(
        daemon.metric("kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"failing\"}"),
        Some(0.0)
    );
    assert_eq!(
        daemon.metric("kube_oidc_publisher_fleet_clusters"),
        Some(2.0)
    );
    let (status, _, body) = daemon.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("failing"), "{body}");
    assert!(dir.path().join("healthy/openid/v1/jwks").is_file());
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("cluster{name=\"failing\"}"), "{log}");
}
