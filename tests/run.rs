//! `run`, the daemon, through the real binary: against the fake kube-apiserver (whose scenario
//! the tests switch while the daemon runs) and a directory store or the moto S3 server. Readiness
//! before and after the first success, every metric and its value, a rotation followed by the
//! published documents, errors counted by kind with the store untouched, SIGTERM and SIGINT
//! (exit 0, a write in flight finished and no other started), JSON logs, two replicas on one
//! bucket. Every wait is a bounded poll; nothing asserts on elapsed time.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::daemon::{metric_value, Daemon};
use support::*;

const OLD_KID: &str = "biJt_kpuKnc4IG_KX7DOahCakLN9x9xzULuTeY7wTrM";
const NEW_KID: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";
const JWKS_KEY: &str = "openid/v1/jwks";
const DISCOVERY_KEY: &str = ".well-known/openid-configuration";
const STATE_KEY: &str = ".kube-oidc-publisher/state.json";
const ERROR_KINDS: [&str; 7] = [
    "source",
    "input",
    "retention",
    "store",
    "conflict",
    "iam",
    "config",
];

/// A fake API server, a kubeconfig for it and a command with `run --interval 1s` on a free
/// loopback port, without a store yet.
struct Setup {
    server: FakeApiServer,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    cmd: TestCommand,
}

fn setup_run(name: &str, scenario: Scenario) -> Setup {
    let server = FakeApiServer::with_scenario(scenario);
    let (dir, cmd) = setup(name);
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    Setup {
        server,
        dir,
        kubeconfig,
        cmd,
    }
}

impl Setup {
    fn run_args(&self) -> TestCommand {
        let mut cmd = self.cmd.clone();
        cmd.args(["run", "--interval", "1s", "--listen", "127.0.0.1:0"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--no-iam", "--issuer", ISSUER]);
        cmd
    }

    fn run_dir(&self, store: &Path) -> TestCommand {
        let mut cmd = self.run_args();
        cmd.arg("--store").arg(store);
        cmd
    }

    fn run_s3(&self, bucket: &str) -> TestCommand {
        let mut cmd = self.run_args();
        cmd.moto(moto())
            .args(["--s3-path-style", "--store", &format!("s3://{bucket}")]);
        cmd
    }
}

fn kids(jwks: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(jwks).expect("JWKS is JSON");
    value["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn read_opt(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

fn unix_seconds(rfc3339: &str) -> f64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    t.unix_timestamp() as f64
}

#[test]
fn readiness_waits_for_the_first_success_and_a_failing_source_is_counted_and_writes_nothing() {
    let s = setup_run("run-ready", Scenario::ServerError);
    let store = s.dir.path().join("public");
    let mut daemon = Daemon::start(&s.run_dir(&store));

    daemon.wait_for("a counted source error", |d| {
        d.metric("kube_oidc_publisher_sync_errors_total{kind=\"source\"}")
            .filter(|n| *n >= 1.0)
    });
    assert_eq!(daemon.get("/readyz").0, 503, "no successful sync yet");
    assert_eq!(daemon.get("/healthz").0, 200, "the loop is alive");
    let metrics = daemon.metrics();
    for kind in ERROR_KINDS.iter().filter(|k| **k != "source") {
        let sample = format!("kube_oidc_publisher_sync_errors_total{{kind=\"{kind}\"}}");
        assert_eq!(
            metric_value(&metrics, &sample),
            Some(0.0),
            "{sample}\n{metrics}"
        );
    }
    assert_eq!(
        metric_value(
            &metrics,
            "kube_oidc_publisher_last_success_timestamp_seconds"
        ),
        Some(0.0)
    );
    assert!(
        metric_value(
            &metrics,
            "kube_oidc_publisher_syncs_total{result=\"error\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        metric_value(
            &metrics,
            "kube_oidc_publisher_syncs_total{result=\"success\"}"
        ),
        Some(0.0)
    );
    assert!(
        !store.exists() || snapshot_dir(&store).is_empty(),
        "a failed pass wrote: {:?}",
        snapshot_dir(&store).keys().collect::<Vec<_>>()
    );
    let log = daemon.stderr();
    assert!(
        log.contains("sync pass failed") && log.contains("kind=\"source\""),
        "{log}"
    );

    // The API server recovers: the next pass publishes and the daemon becomes ready.
    s.server.set_scenario(Scenario::Rsa);
    daemon.wait_for("/readyz 200", |d| (d.get("/readyz").0 == 200).then_some(()));
    assert_eq!(
        std::fs::read(store.join(JWKS_KEY)).unwrap(),
        fixture("jwks-rsa.json")
    );
    assert_eq!(
        daemon.metric("kube_oidc_publisher_published_keys"),
        Some(1.0)
    );
    assert!(
        daemon
            .metric("kube_oidc_publisher_last_success_timestamp_seconds")
            .unwrap()
            > 1.7e9
    );

    // Later failures do not make it unready again (documented): the published documents
    // stay valid; alerts watch the last success instead.
    s.server.set_scenario(Scenario::ServerError);
    let errors = daemon
        .metric("kube_oidc_publisher_sync_errors_total{kind=\"source\"}")
        .unwrap();
    daemon.wait_for("another source error", |d| {
        d.metric("kube_oidc_publisher_sync_errors_total{kind=\"source\"}")
            .filter(|n| *n > errors)
    });
    assert_eq!(daemon.get("/readyz").0, 200);
    assert_eq!(daemon.get("/nope").0, 404);

    let token = s.server.token().to_owned();
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains(&token), "the bearer token was logged:\n{log}");
}

#[test]
fn metrics_follow_a_rotation_and_schedule_the_removal_of_the_old_key() {
    let s = setup_run("run-rotation", Scenario::Rsa);
    let store = s.dir.path().join("public");
    let mut daemon = Daemon::start(&s.run_dir(&store));
    daemon.wait_for("/readyz 200", |d| (d.get("/readyz").0 == 200).then_some(()));

    let metrics = daemon.metrics();
    for kind in ERROR_KINDS {
        let sample = format!("kube_oidc_publisher_sync_errors_total{{kind=\"{kind}\"}}");
        assert_eq!(
            metric_value(&metrics, &sample),
            Some(0.0),
            "{sample}\n{metrics}"
        );
    }
    assert_eq!(
        metric_value(&metrics, "kube_oidc_publisher_published_keys"),
        Some(1.0)
    );
    assert!(
        metric_value(
            &metrics,
            "kube_oidc_publisher_syncs_total{result=\"success\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric_value(&metrics, "kube_oidc_publisher_sync_duration_seconds_count").unwrap() >= 1.0
    );
    let last = metric_value(
        &metrics,
        "kube_oidc_publisher_last_success_timestamp_seconds",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(last > now - 600.0 && last <= now + 1.0, "{last} vs {now}");
    assert!(
        !metrics.contains("kube_oidc_publisher_next_key_removal_timestamp_seconds"),
        "no removal is scheduled yet:\n{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kube_oidc_publisher_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    assert!(metrics.ends_with("# EOF\n"));

    // A new key appears at the API server: it is published within a few passes.
    s.server.set_scenario(Scenario::Rotation);
    daemon.wait_for("the new key in the published JWKS", |_| {
        read_opt(&store.join(JWKS_KEY)).filter(|jwks| kids(jwks).len() == 2)
    });
    daemon.wait_for("published_keys 2", |d| {
        d.metric("kube_oidc_publisher_published_keys")
            .filter(|n| *n == 2.0)
    });
    let mut published = kids(&std::fs::read(store.join(JWKS_KEY)).unwrap());
    published.sort();
    assert_eq!(published, [OLD_KID, NEW_KID]);

    // The old key leaves the API server: it stays published, and its removal is scheduled.
    s.server.set_scenario(Scenario::RotatedOnlyNew);
    let sample =
        format!("kube_oidc_publisher_next_key_removal_timestamp_seconds{{kid=\"{OLD_KID}\"}}");
    let removal = daemon.wait_for("the scheduled removal of the old key", |d| {
        d.metric(&sample)
    });
    let state: Value = serde_json::from_slice(&std::fs::read(store.join(STATE_KEY)).unwrap())
        .expect("state is JSON");
    let removed_since = state["keys"][OLD_KID]["removed_since"]
        .as_str()
        .expect("the state records when the old key left the source");
    assert_eq!(removal, unix_seconds(removed_since) + 26.0 * 3600.0);
    assert_eq!(
        daemon.metric("kube_oidc_publisher_published_keys"),
        Some(2.0)
    );
    assert_eq!(kids(&std::fs::read(store.join(JWKS_KEY)).unwrap()).len(), 2);

    let (status, log) = daemon.stop("INT");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGINT"), "{log}");
}

#[test]
fn sigterm_during_a_write_lets_it_finish_and_starts_no_other() {
    let s = setup_run("run-sigterm-write", Scenario::Rsa);
    let bucket = moto().new_bucket("run-sigterm");
    // The JWKS write, the first of three, takes 5 s: the signal arrives while it is in flight.
    moto().inject_fault(
        &Fault::delay_only(&bucket, Duration::from_secs(5))
            .method("PUT")
            .key(JWKS_KEY),
    );
    let mut daemon = Daemon::start(&s.run_s3(&bucket));
    daemon.wait_for("the JWKS write to reach S3", |_| {
        (moto().requests(&bucket).puts(JWKS_KEY) >= 1).then_some(())
    });
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped the pass between two writes"), "{log}");

    let jwks = moto()
        .get_object(&bucket, JWKS_KEY)
        .expect("the write in progress finished");
    assert_eq!(jwks.body, fixture("jwks-rsa.json"));
    assert!(
        moto().get_object(&bucket, DISCOVERY_KEY).is_none(),
        "no write may start after SIGTERM"
    );
    assert!(moto().get_object(&bucket, STATE_KEY).is_none());
    assert_eq!(moto().requests(&bucket).puts(DISCOVERY_KEY), 0);

    // What was left is consistent, and the next run completes it.
    let mut sync = s.cmd.clone();
    sync.moto(moto())
        .args(sync_s3_args(&s.kubeconfig, &bucket))
        .args(["--issuer", ISSUER]);
    sync.assert_success();
    assert_eq!(
        moto().get_object(&bucket, DISCOVERY_KEY).unwrap().body,
        fixture("openid-configuration.json")
    );
    assert!(moto().get_object(&bucket, STATE_KEY).is_some());
}

#[test]
fn sigterm_while_the_api_server_is_slow_exits_zero_and_writes_nothing() {
    let s = setup_run("run-sigterm-slow", Scenario::Slow(Duration::from_secs(30)));
    let store = s.dir.path().join("public");
    let daemon = Daemon::start(&s.run_dir(&store));
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!store.exists() || snapshot_dir(&store).is_empty());
}

#[test]
fn json_logs_are_one_object_per_line_and_one_line_per_pass() {
    let s = setup_run("run-json", Scenario::Rsa);
    let store = s.dir.path().join("public");
    let mut cmd = s.run_dir(&store);
    cmd.env("KUBE_OIDC_PUBLISHER_LOG_FORMAT", "json");
    let mut daemon = Daemon::start(&cmd);
    daemon.wait_for("two passes", |d| {
        d.metric("kube_oidc_publisher_syncs_total{result=\"success\"}")
            .filter(|n| *n >= 2.0)
    });
    let token = s.server.token().to_owned();
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{log}"))
        })
        .collect();
    let passes: Vec<&Value> = lines.iter().filter(|l| l["result"] == "success").collect();
    assert!(passes.len() >= 2, "{log}");
    assert_eq!(passes[0]["level"], "INFO");
    assert_eq!(passes[0]["keys"], 1);
    assert_eq!(passes[0]["writes"], 3, "the first pass publishes: {log}");
    assert_eq!(passes[1]["writes"], 0, "then nothing changes: {log}");
    assert!(passes[1]["message"].as_str().unwrap().contains("in sync"));
    assert!(passes[0]["duration_ms"].is_u64());
    assert!(lines
        .iter()
        .any(|l| l["message"] == "stopped" && l["signal"] == "SIGTERM"));
    assert!(!log.contains(&token));
}

#[test]
fn two_replicas_on_one_bucket_agree_on_every_document() {
    let s = setup_run("run-replicas", Scenario::Rsa);
    let bucket = moto().new_bucket("run-replicas");
    let mut a = Daemon::start(&s.run_s3(&bucket));
    let mut b = Daemon::start(&s.run_s3(&bucket));
    for d in [&mut a, &mut b] {
        d.wait_for("/readyz 200", |d| (d.get("/readyz").0 == 200).then_some(()));
    }
    s.server.set_scenario(Scenario::Rotation);
    for d in [&mut a, &mut b] {
        d.wait_for("published_keys 2", |d| {
            d.metric("kube_oidc_publisher_published_keys")
                .filter(|n| *n == 2.0)
        });
    }
    s.server.set_scenario(Scenario::RotatedOnlyNew);
    let sample =
        format!("kube_oidc_publisher_next_key_removal_timestamp_seconds{{kid=\"{OLD_KID}\"}}");
    let removal_a = a.wait_for("a's scheduled removal", |d| d.metric(&sample));
    let removal_b = b.wait_for("b's scheduled removal", |d| d.metric(&sample));
    assert_eq!(
        removal_a, removal_b,
        "both replicas read one state: one removal time"
    );
    for d in [a, b] {
        let (status, log) = d.stop("TERM");
        assert_eq!(status.code(), Some(0), "{log}");
    }

    let jwks = moto().get_object(&bucket, JWKS_KEY).unwrap().body;
    let mut published = kids(&jwks);
    published.sort();
    assert_eq!(published, [OLD_KID, NEW_KID]);
    assert_eq!(
        moto().get_object(&bucket, DISCOVERY_KEY).unwrap().body,
        fixture("openid-configuration.json")
    );
    let state: Value =
        serde_json::from_slice(&moto().get_object(&bucket, STATE_KEY).unwrap().body).unwrap();
    let mut recorded: Vec<&String> = state["keys"].as_object().unwrap().keys().collect();
    recorded.sort();
    assert_eq!(recorded, [OLD_KID, NEW_KID]);
    assert_eq!(
        unix_seconds(state["keys"][OLD_KID]["removed_since"].as_str().unwrap()) + 26.0 * 3600.0,
        removal_a
    );
    // And a one-off check agrees that nothing is pending.
    let mut check = s.cmd.clone();
    check
        .moto(moto())
        .args(sync_s3_args(&s.kubeconfig, &bucket))
        .args(["--issuer", ISSUER, "--check"]);
    check.assert_success();
}

#[test]
fn bad_options_exit_2_before_serving() {
    let s = setup_run("run-bad-options", Scenario::Rsa);
    let store = s.dir.path().join("public");
    for (extra, message) in [
        (&["--dry-run"][..], "run always publishes"),
        (&["--interval", "0s"][..], "--interval \"0s\""),
        (&["--interval", "soon"][..], "write it like 60s"),
        (&["--output", "json"][..], "--log-format json"),
    ] {
        let mut cmd = s.cmd.clone();
        cmd.args(["run", "--no-iam", "--issuer", ISSUER, "--store"])
            .arg(&store)
            .args(extra);
        let output = cmd.assert_exit(2);
        let stderr = stderr_str(&output);
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
    // The port is taken: exit 2 with what to do, rather than a daemon without metrics.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cmd = s.cmd.clone();
    cmd.args(["run", "--no-iam", "--issuer", ISSUER, "--listen"])
        .arg(taken.local_addr().unwrap().to_string())
        .arg("--store")
        .arg(&store);
    let stderr = stderr_str(&cmd.assert_exit(2));
    assert!(
        stderr.contains("cannot listen on") && stderr.contains("--listen"),
        "{stderr}"
    );
    assert!(!store.exists());
}

/// `GET path` over a new connection, or `None` if the daemon closed it without an answer.
fn try_get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Regression (issue 14): the HTTP server (0.0.0.0:8080 by default) accepted every connection,
/// so a flood took the process's file descriptors and every sync pass failed. Run under a small
/// descriptor limit, held connections far beyond it must leave the passes going, and /healthz
/// from a new connection answers once the flood's slots are freed.
#[test]
fn a_connection_flood_neither_takes_the_descriptors_nor_stops_sync_passes() {
    let s = setup_run("run-flood", Scenario::Rsa);
    let store = s.dir.path().join("public");
    let mut cmd = TestCommand::program(s.dir.path(), Path::new("/bin/sh"));
    cmd.args(["-c", "ulimit -n 96 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_kube-oidc-publisher"))
        .args(["run", "--interval", "1s", "--listen", "127.0.0.1:0"])
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["--no-iam", "--issuer", ISSUER, "--store"])
        .arg(&store);
    let mut daemon = Daemon::start(&cmd);
    let addr = support::daemon::listening_address(&daemon.stderr()).unwrap();
    let passes = |d: &Daemon| {
        d.stderr()
            .lines()
            .filter(|l| l.contains("sync pass: in sync") || l.contains("sync pass: published"))
            .count()
    };
    daemon.wait_for("a first successful pass", |d| {
        (passes(d) >= 1).then_some(())
    });

    // Twice the descriptor limit, held open and silent.
    let flood: Vec<std::net::TcpStream> = (0..192)
        .filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(flood.len() > 96, "only {} connections opened", flood.len());
    let before = passes(&daemon);
    daemon.wait_for("two more successful passes during the flood", |d| {
        (passes(d) >= before + 2).then_some(())
    });
    let (status, body) = daemon.wait_for("/healthz to answer a new connection", |_| {
        try_get(addr, "/healthz")
    });
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let log = daemon.stderr();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(!log.contains("sync pass failed"), "{log}");
    assert!(
        log.contains("closing new HTTP connections: 32 are open already"),
        "{log}"
    );
    drop(flood);
    let (status, _) = daemon.stop("SIGTERM");
    assert!(status.success());
}

/// Regression (#9): the daemon asked STS GetCallerIdentity on every pass. The account is asked
/// once for the life of the process; every later pass reuses it.
#[test]
fn sts_is_asked_for_the_account_once_for_the_life_of_the_daemon() {
    let (dir, mut cmd) = setup("run-sts-once");
    let key = moto().unique_access_key("run-sts-once");
    cmd.moto(moto())
        .env("AWS_ACCESS_KEY_ID", &key)
        .args(["run", "--interval", "1s", "--listen", "127.0.0.1:0"])
        .args(["--source", "files", "--key-file"])
        .arg(fixture_path("key-rsa-old.pub.pem"))
        .arg("--store")
        .arg(dir.path().join("public"))
        .args([
            "--issuer",
            "https://oidc.example.test/run-sts-once",
            "--thumbprint",
            "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
        ]);
    let mut daemon = Daemon::start(&cmd);
    daemon.wait_for("three successful passes", |d| {
        d.metric("kube_oidc_publisher_syncs_total{result=\"success\"}")
            .filter(|n| *n >= 3.0)
    });
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    let sts = moto().iam_requests_where(&[("service", "sts"), ("access_key", &key)]);
    assert_eq!(sts.count("GetCallerIdentity"), 1, "{:?}", sts.counts());
}
