//! Smoke tests of the integration-test harness itself (tests/support), without the CLI: the
//! fake API server reproduces the recorded responses, scenarios switch, kubeconfigs are
//! well-formed, and the shared moto server stores objects, counts requests and injects faults.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;

use support::apiserver::{DISCOVERY_PATH, JWKS_PATH};
use support::fixtures::jwks_only_new_key;
use support::{fixture, moto, FakeApiServer, Fault, Scenario};

#[test]
fn apiserver_serves_fixture_bytes_and_headers_to_admin() {
    let server = FakeApiServer::start();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert!(server.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));

    let discovery = server.request("GET", DISCOVERY_PATH, Some(server.token()));
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.body, fixture("openid-configuration.json"));
    assert_eq!(discovery.header("content-type"), Some("application/json"));
    assert_eq!(
        discovery.header("cache-control"),
        Some("public, max-age=3600")
    );
    assert_eq!(discovery.header("content-length"), Some("239"));
    assert_eq!(discovery.header("audit-id").map(str::len), Some(36));
    assert!(discovery.header("etag").is_none());
    assert!(discovery.header("x-content-type-options").is_none());

    let jwks = server.request("GET", JWKS_PATH, Some(server.token()));
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body, fixture("jwks-rsa.json"));
    assert_eq!(
        jwks.header("content-type"),
        Some("application/jwk-set+json")
    );
    assert_ne!(jwks.header("audit-id"), discovery.header("audit-id"));

    for path in ["/openid/v1/jwks/", "/.well-known/openid-configuration/"] {
        let r = server.request("GET", path, Some(server.token()));
        assert_eq!(r.status, 200, "{path}");
    }
    for method in ["HEAD", "POST"] {
        assert_eq!(
            server
                .request(method, JWKS_PATH, Some(server.token()))
                .status,
            405
        );
    }

    let counts = server.requests();
    assert_eq!(counts.get(JWKS_PATH), Some(&3));
    assert_eq!(counts.get(DISCOVERY_PATH), Some(&1));
    assert_eq!(server.request_count(), 6);
    let log = server.request_log();
    assert_eq!(
        log[0].authorization.as_deref(),
        Some(format!("Bearer {}", server.token()).as_str())
    );
}

#[test]
fn apiserver_rejects_anonymous_and_wrong_tokens_like_rbac() {
    let server = FakeApiServer::start();

    let anon = server.request("GET", JWKS_PATH, None);
    assert_eq!(anon.status, 403);
    assert_eq!(anon.body, fixture("forbidden-anonymous-jwks.json"));
    assert_eq!(anon.header("content-type"), Some("application/json"));
    assert_eq!(anon.header("cache-control"), Some("no-cache, private"));
    assert_eq!(anon.header("x-content-type-options"), Some("nosniff"));
    let anon = server.request("GET", DISCOVERY_PATH, None);
    assert_eq!(
        anon.body,
        fixture("forbidden-anonymous-openid-configuration.json")
    );

    let wrong = server.request("GET", JWKS_PATH, Some("not-the-token"));
    assert_eq!(wrong.status, 401);
    assert!(String::from_utf8_lossy(&wrong.body).contains("Unauthorized"));
    assert_eq!(wrong.header("cache-control"), Some("no-cache, private"));

    server.set_scenario(Scenario::Forbidden);
    let denied = server.request("GET", JWKS_PATH, Some(server.token()));
    assert_eq!(denied.status, 403);
    assert!(String::from_utf8_lossy(&denied.body)
        .contains(r#"User \"ceo-admin\" cannot get path \"/openid/v1/jwks\""#));

    server.set_scenario(Scenario::Unauthorized);
    assert_eq!(
        server
            .request("GET", JWKS_PATH, Some(server.token()))
            .status,
        401
    );
    assert_eq!(server.request("GET", JWKS_PATH, None).status, 401);
}

#[test]
fn apiserver_scenarios_switch_what_is_served() {
    let server = FakeApiServer::start();
    let get = |path: &str| server.request("GET", path, Some(server.token()));
    let cases: Vec<(Scenario, &str, Vec<u8>)> = vec![
        (
            Scenario::Rotation,
            "openid-configuration.json",
            fixture("jwks-rotation-two-keys.json"),
        ),
        (
            Scenario::RotatedOnlyNew,
            "openid-configuration.json",
            jwks_only_new_key(),
        ),
        (
            Scenario::Ec,
            "openid-configuration-ec.json",
            fixture("jwks-ec.json"),
        ),
        (
            Scenario::Ec384,
            "openid-configuration-ec384.json",
            fixture("jwks-ec384.json"),
        ),
        (
            Scenario::Mixed,
            "openid-configuration-mixed-rsa-ec.json",
            fixture("jwks-mixed-rsa-ec.json"),
        ),
        (
            Scenario::DefaultJwksUri,
            "openid-configuration-default-jwks-uri.json",
            fixture("jwks-rsa.json"),
        ),
        (
            Scenario::EmptyKeys,
            "openid-configuration.json",
            br#"{"keys":[]}"#.to_vec(),
        ),
        (
            Scenario::Custom {
                jwks: b"J".to_vec(),
                discovery: b"D".to_vec(),
            },
            "",
            b"J".to_vec(),
        ),
    ];
    for (scenario, discovery, jwks) in cases {
        server.set_scenario(scenario.clone());
        let expected_discovery = if discovery.is_empty() {
            b"D".to_vec()
        } else {
            fixture(discovery)
        };
        assert_eq!(get(DISCOVERY_PATH).body, expected_discovery, "{scenario:?}");
        assert_eq!(get(JWKS_PATH).body, jwks, "{scenario:?}");
    }

    let only_new = String::from_utf8(jwks_only_new_key()).unwrap();
    assert!(only_new.starts_with(r#"{"keys":[{"use":"sig","kty":"RSA","kid":"ck0v"#));
    assert!(!only_new.contains("biJt"));

    server.set_scenario(Scenario::MalformedJwks);
    let malformed = get(JWKS_PATH);
    assert_eq!(malformed.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());

    server.set_scenario(Scenario::ServerError);
    let failed = get(JWKS_PATH);
    assert_eq!(failed.status, 500);
    let status: serde_json::Value = serde_json::from_slice(&failed.body).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 500);

    server.set_scenario(Scenario::Slow(Duration::from_millis(300)));
    let start = Instant::now();
    assert_eq!(get(JWKS_PATH).body, fixture("jwks-rsa.json"));
    assert!(start.elapsed() >= Duration::from_millis(300));

    assert_eq!(server.requests().get(JWKS_PATH), Some(&11));
}

#[test]
fn apiserver_stops_on_drop() {
    let server = FakeApiServer::start();
    let addr = server.addr();
    drop(server);
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn kubeconfig_points_at_the_server() {
    let (dir, _cmd) = support::setup("kubeconfig");
    let server = FakeApiServer::start();
    let path = support::write_kubeconfig(dir.path(), &server);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("server: \"{}\"", server.url())));
    assert!(text.contains("certificate-authority-data: "));
    assert!(text.contains(&format!("token: \"{}\"", server.token())));
    assert!(text.contains("current-context: \"fake\""));

    let anonymous = support::write_kubeconfig_with_token(dir.path(), &server, None);
    assert!(!std::fs::read_to_string(anonymous)
        .unwrap()
        .contains("token:"));
    let dead = support::write_kubeconfig_unreachable(dir.path(), &server);
    assert!(!std::fs::read_to_string(dead)
        .unwrap()
        .contains(&server.url()));
}

#[test]
fn moto_round_trips_objects_with_headers() {
    let moto = moto();
    assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
    let bucket = moto.new_bucket("harness-roundtrip");

    assert!(moto.get_object(&bucket, "openid/v1/jwks").is_none());
    let jwks = fixture("jwks-rsa.json");
    moto.put_object(
        &bucket,
        "openid/v1/jwks",
        &jwks,
        Some("application/jwk-set+json"),
        Some("public, max-age=300"),
    );
    let discovery = fixture("openid-configuration.json");
    moto.put_object(
        &bucket,
        ".well-known/openid-configuration",
        &discovery,
        Some("application/json"),
        None,
    );

    let got = moto.get_object(&bucket, "openid/v1/jwks").expect("object");
    assert_eq!(got.body, jwks);
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/jwk-set+json")
    );
    assert_eq!(got.cache_control.as_deref(), Some("public, max-age=300"));
    assert!(got.etag.is_some());
    // A signed read reaches S3 even for the path moto's Cognito emulator would grab.
    let got = moto
        .get_object(&bucket, ".well-known/openid-configuration")
        .expect("object");
    assert_eq!(got.body, discovery);
    assert_eq!(
        moto.list_keys(&bucket),
        vec![".well-known/openid-configuration", "openid/v1/jwks"]
    );
    // The harness's own requests are not logged.
    assert_eq!(moto.requests(&bucket).total(), 0);
}

/// A signed request from a client that is not the harness, like the CLI would make.
fn foreign_client() -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(moto().endpoint())
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[test]
fn moto_injects_faults_once_and_counts_requests() {
    let moto = moto();
    let bucket = moto.new_bucket("harness-faults");
    let other = moto.new_bucket("harness-faults-other");
    let client = foreign_client();
    // Ok, or Err((HTTP status, S3 error code)).
    let put = |bucket: &str, key: &str| -> Result<(), (u16, Option<String>)> {
        let request = client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(b"{}".to_vec().into());
        match moto.block_on(request.send()) {
            Ok(_) => Ok(()),
            Err(e) => Err((
                e.raw_response().map_or(0, |r| r.status().as_u16()),
                e.as_service_error()
                    .and_then(|s| s.code())
                    .map(str::to_string),
            )),
        }
    };

    moto.inject_fault(
        &Fault::access_denied(&bucket)
            .method("PUT")
            .key("openid/v1/jwks"),
    );
    assert_eq!(
        put(&bucket, "openid/v1/jwks"),
        Err((403, Some("AccessDenied".to_string())))
    );
    // Other buckets are unaffected; the fault fires once, then falls through.
    put(&other, "openid/v1/jwks").expect("other bucket");
    put(&bucket, "openid/v1/jwks").expect("second attempt");

    // skip + times + other status codes.
    moto.inject_fault(&Fault::slow_down(&bucket).key("k").skip(1).times(2));
    put(&bucket, "k").expect("skipped");
    for _ in 0..2 {
        assert_eq!(put(&bucket, "k"), Err((503, Some("SlowDown".to_string()))));
    }
    put(&bucket, "k").expect("exhausted");

    // A pure delay passes the request through.
    moto.inject_fault(&Fault::delay_only(&bucket, Duration::from_millis(300)).method("GET"));
    let start = Instant::now();
    moto.block_on(client.get_object().bucket(&bucket).key("k").send())
        .expect("delayed get");
    assert!(start.elapsed() >= Duration::from_millis(300));

    let log = moto.requests(&bucket);
    assert_eq!(log.puts("openid/v1/jwks"), 2, "{:?}", log.counts());
    assert_eq!(log.puts("k"), 4, "{:?}", log.counts());
    assert_eq!(log.gets("k"), 1, "{:?}", log.counts());
    assert_eq!(log.total(), 7);
    assert_eq!(log.writes(), 6);
    assert_eq!(log.keys_put(), vec!["openid/v1/jwks", "k"]);
    let faulted: Vec<Option<u16>> = log
        .entries
        .iter()
        .filter(|r| r.fault)
        .map(|r| r.status)
        .collect();
    assert_eq!(faulted, vec![Some(403), Some(503), Some(503)]);
    assert_eq!(moto.requests(&other).puts("openid/v1/jwks"), 1);

    // Reset and clear.
    moto.reset_requests(&bucket);
    assert_eq!(moto.requests(&bucket).total(), 0);
    moto.inject_fault(&Fault::internal_error(&bucket).always());
    assert_eq!(
        put(&bucket, "x"),
        Err((500, Some("InternalError".to_string())))
    );
    moto.clear_faults(&bucket);
    put(&bucket, "x").expect("after clear");
    assert_eq!(moto.requests(&bucket).puts("x"), 2);
    assert_eq!(
        moto.get_object(&bucket, "x")
            .expect("x")
            .content_type
            .as_deref(),
        Some("application/json")
    );
}

/// The written kubeconfig works for kube-rs (the client the CLI is built on), over the fake
/// server's TLS, and RBAC-style refusals surface as API errors.
#[test]
fn kube_client_reads_the_fake_server_through_the_kubeconfig() {
    let (dir, _cmd) = support::setup("kube-client");
    let server = FakeApiServer::with_scenario(Scenario::Ec);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let get = |kubeconfig: &std::path::Path, path: &str| {
        rt.block_on(async {
            let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
            let options = kube::config::KubeConfigOptions::default();
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .unwrap();
            let client = kube::Client::try_from(config).unwrap();
            let request = http::Request::get(path).body(Vec::new()).unwrap();
            client.request_text(request).await
        })
    };

    let admin = support::write_kubeconfig(dir.path(), &server);
    let jwks = get(&admin, JWKS_PATH).expect("admin read");
    assert_eq!(jwks.as_bytes(), fixture("jwks-ec.json"));

    let anonymous = support::write_kubeconfig_with_token(dir.path(), &server, None);
    match get(&anonymous, JWKS_PATH) {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected a 403 API error, got {other:?}"),
    }
    assert_eq!(server.tls_failures(), 0);
    assert_eq!(server.request_count(), 2);
}

#[test]
fn test_command_scrubs_env_reports_exit_and_enforces_timeout() {
    let (dir, _) = support::setup("test-command");
    let mut cmd = support::TestCommand::program(dir.path(), std::path::Path::new("/bin/sh"));
    cmd.args(["-c", "env | sort; echo oops >&2; exit 3"])
        .env("EXTRA", "1");
    let out = cmd.assert_exit(3);
    let mut names: Vec<String> = support::stdout_str(&out)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .filter(|k| k != "PWD" && k != "SHLVL" && k != "_") // set by sh itself
        .collect();
    names.sort();
    assert_eq!(names, ["EXTRA", "HOME", "PATH"]);
    assert!(support::stdout_str(&out).contains(&format!("HOME={}", dir.path().display())));
    assert_eq!(support::stderr_str(&out), "oops\n");

    let mismatch = std::panic::catch_unwind(|| cmd.assert_exit(0)).expect_err("must panic");
    let message = mismatch.downcast_ref::<String>().expect("message");
    assert!(message.contains("expected exit code 0"), "{message}");
    assert!(message.contains("EXTRA=1 /bin/sh -c"), "{message}");
    assert!(message.contains("oops"), "{message}");

    let mut slow = support::TestCommand::program(dir.path(), std::path::Path::new("/bin/sh"));
    slow.args(["-c", "exec sleep 30"])
        .timeout(Duration::from_millis(300));
    let start = Instant::now();
    let timed_out = std::panic::catch_unwind(|| slow.run()).expect_err("must time out");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(timed_out
        .downcast_ref::<String>()
        .is_some_and(|m| m.contains("timed out")));
}

#[test]
fn snapshot_and_mtime_helpers_see_changes() {
    let (dir, _) = support::setup("snapshot");
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("openid/v1")).unwrap();
    std::fs::write(root.join("openid/v1/jwks"), b"{}").unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let before = support::snapshot_dir(&root);
    assert_eq!(before.len(), 2);
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    support::set_file_mtime(&root.join("openid/v1/jwks"), past);
    assert_eq!(support::file_mtime(&root.join("openid/v1/jwks")), past);
    assert_eq!(support::snapshot_dir(&root), before);
    std::fs::write(root.join("openid/v1/jwks"), b"{ }").unwrap();
    assert_ne!(support::snapshot_dir(&root), before);
    assert_ne!(
        support::mtimes(&root)[std::path::Path::new("openid/v1/jwks")],
        past
    );
}
