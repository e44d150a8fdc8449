//! Smoke tests of the integration-test harness itself (tests/support), without the CLI: the
//! fake API server reproduces the recorded responses, scenarios switch, kubeconfigs are
//! well-formed, and the shared moto server stores objects, counts requests and injects faults.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;

use support::apiserver::{DISCOVERY_PATH, JWKS_PATH};
use support::fixtures::jwks_only_new_key;
use support::moto::IamFault;
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

// --- IAM and STS on the shared moto server -----------------------------------------------

/// An IAM client that is not the harness (so it is logged and faulted), with no retries.
fn foreign_iam_client() -> aws_sdk_iam::Client {
    use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(moto().endpoint())
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// `Err((HTTP status, IAM error code))` of an SDK call, for table assertions.
fn iam_outcome<T, E>(result: Result<T, aws_sdk_iam::error::SdkError<E>>) -> Result<T, (u16, String)>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    result.map_err(|e| {
        (
            e.raw_response().map_or(0, |r| r.status().as_u16()),
            e.as_service_error()
                .and_then(|s| s.code())
                .unwrap_or("<none>")
                .to_string(),
        )
    })
}

#[test]
fn moto_iam_validates_create_like_aws() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("validate");
    let host = url.trim_start_matches("https://").to_string();
    let create = |url: &str, client_ids: &[&str], thumbprints: Option<Vec<String>>| {
        let request = iam
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(Some(client_ids.iter().map(|c| c.to_string()).collect()))
            .set_thumbprint_list(thumbprints);
        iam_outcome(moto.block_on(request.send())).map(|out| {
            out.open_id_connect_provider_arn()
                .unwrap_or_default()
                .to_string()
        })
    };
    let tp = |c: char| c.to_string().repeat(40);
    let invalid_input = || Err((400, "InvalidInput".to_string()));
    let validation = || Err((400, "ValidationError".to_string()));
    let sts = "sts.amazonaws.com";
    let long_id = "c".repeat(256);
    // (case, url, client ids, thumbprints, expected)
    let cases = [
        (
            "http scheme",
            format!("http://{host}"),
            vec![sts],
            Some(vec![tp('a')]),
            invalid_input(),
        ),
        (
            "port",
            url.replacen(".test", ".test:443", 1),
            vec![sts],
            Some(vec![tp('a')]),
            invalid_input(),
        ),
        (
            "query",
            format!("{url}?x=1"),
            vec![sts],
            Some(vec![tp('a')]),
            invalid_input(),
        ),
        (
            "fragment",
            format!("{url}#x"),
            vec![sts],
            Some(vec![tp('a')]),
            invalid_input(),
        ),
        (
            "thumbprint of 39",
            url.clone(),
            vec![sts],
            Some(vec!["a".repeat(39)]),
            validation(),
        ),
        (
            "thumbprint of 41",
            url.clone(),
            vec![sts],
            Some(vec!["a".repeat(41)]),
            validation(),
        ),
        (
            "thumbprint not hex",
            url.clone(),
            vec![sts],
            Some(vec![tp('g')]),
            invalid_input(),
        ),
        (
            "six thumbprints",
            url.clone(),
            vec![sts],
            Some(vec![tp('a'); 6]),
            invalid_input(),
        ),
        (
            "empty client id",
            url.clone(),
            vec![""],
            Some(vec![tp('a')]),
            validation(),
        ),
        (
            "client id of 256",
            url.clone(),
            vec![long_id.as_str()],
            Some(vec![tp('a')]),
            validation(),
        ),
    ];
    for (name, url, client_ids, thumbprints, expected) in cases {
        assert_eq!(create(&url, &client_ids, thumbprints), expected, "{name}");
    }
    // 101 client ids exceed the ClientIdsPerOpenIdConnectProvider quota.
    let many: Vec<String> = (0..101).map(|i| format!("aud-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        create(&url, &many, None),
        Err((409, "LimitExceeded".to_string()))
    );
    // Nothing of the above was stored.
    assert_eq!(moto.get_provider(&support::moto::provider_arn(&url)), None);

    // Five thumbprints, 100 client ids of 255 characters: accepted; the same URL again: 409.
    let long: Vec<String> = (0..100).map(|i| format!("{i:0>255}")).collect();
    let long: Vec<&str> = long.iter().map(String::as_str).collect();
    let arn = create(
        &url,
        &long,
        Some(vec![tp('a'), tp('b'), tp('c'), tp('d'), tp('e')]),
    )
    .expect("valid provider");
    assert_eq!(
        arn,
        format!(
            "arn:aws:iam::{}:oidc-provider/{host}",
            support::moto::ACCOUNT_ID
        )
    );
    assert_eq!(arn, support::moto::provider_arn(&url));
    assert_eq!(
        create(&url, &[sts], Some(vec![tp('f')])),
        Err((409, "EntityAlreadyExists".to_string()))
    );
    let stored = moto.get_provider(&arn).expect("stored");
    assert_eq!(stored.url, host);
    assert_eq!(stored.client_ids.len(), 100);
    assert_eq!(stored.thumbprints.len(), 5);
    moto.delete_provider(&arn);
    moto.delete_provider(&arn); // idempotent
    assert_eq!(moto.get_provider(&arn), None);
}

#[test]
fn moto_iam_fetches_a_thumbprint_when_none_is_sent_and_updates_replace_the_list() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("thumbprints");
    let arn = moto.create_provider(&url, &["sts.amazonaws.com"], None, &[]);
    let stored = moto.get_provider(&arn).expect("stored");
    // IAM "fetched" one itself: 40 hex digits nobody sent (the launcher uses SHA-1 of the URL).
    assert_eq!(stored.thumbprints.len(), 1, "{stored:?}");
    let fetched = &stored.thumbprints[0];
    assert_eq!(fetched.len(), 40);
    assert!(fetched.bytes().all(|b| b.is_ascii_hexdigit()), "{fetched}");
    assert_eq!(stored.client_ids, vec!["sts.amazonaws.com"]);

    let update = |thumbprints: Vec<String>| {
        let request = iam
            .update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(&arn)
            .set_thumbprint_list(Some(thumbprints));
        iam_outcome(moto.block_on(request.send())).map(|_| ())
    };
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    update(vec![a.clone(), b.clone()]).expect("update");
    assert_eq!(
        moto.get_provider(&arn).unwrap().thumbprints,
        vec![a.clone(), b]
    );
    update(vec![a.clone()]).expect("update");
    assert_eq!(
        moto.get_provider(&arn).unwrap().thumbprints,
        vec![a.clone()]
    );
    assert_eq!(
        update(vec!["abc".into()]),
        Err((400, "ValidationError".to_string()))
    );
    assert_eq!(
        update(vec!["z".repeat(40)]),
        Err((400, "InvalidInput".to_string()))
    );
    assert_eq!(
        update(vec![a.clone(); 6]),
        Err((400, "InvalidInput".to_string()))
    );
    assert_eq!(moto.get_provider(&arn).unwrap().thumbprints, vec![a]);
    let missing = iam
        .update_open_id_connect_provider_thumbprint()
        .open_id_connect_provider_arn(format!("{arn}-missing"))
        .thumbprint_list("c".repeat(40));
    assert_eq!(
        iam_outcome(moto.block_on(missing.send())).map(|_| ()),
        Err((404, "NoSuchEntity".to_string()))
    );
}

#[test]
fn moto_iam_adds_and_removes_client_ids_idempotently() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("client-ids");
    let arn = moto.create_provider(&url, &["sts.amazonaws.com"], Some(&[&"a".repeat(40)]), &[]);
    let add = |arn: &str, id: &str| {
        let request = iam
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .client_id(id);
        iam_outcome(moto.block_on(request.send())).map(|_| ())
    };
    let remove = |arn: &str, id: &str| {
        let request = iam
            .remove_client_id_from_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .client_id(id);
        iam_outcome(moto.block_on(request.send())).map(|_| ())
    };
    let client_ids = || moto.get_provider(&arn).expect("provider").client_ids;

    add(&arn, "vault").expect("add");
    add(&arn, "vault").expect("adding an existing id succeeds");
    add(&arn, "sts.amazonaws.com").expect("adding an existing id succeeds");
    assert_eq!(client_ids(), vec!["sts.amazonaws.com", "vault"]);
    remove(&arn, "sts.amazonaws.com").expect("remove");
    remove(&arn, "sts.amazonaws.com").expect("removing a missing id succeeds");
    remove(&arn, "never-added").expect("removing a missing id succeeds");
    assert_eq!(client_ids(), vec!["vault"]);

    let unknown = format!("{arn}-unknown");
    assert_eq!(add(&unknown, "x"), Err((404, "NoSuchEntity".to_string())));
    assert_eq!(
        remove(&unknown, "x"),
        Err((404, "NoSuchEntity".to_string()))
    );
    assert_eq!(add(&arn, ""), Err((400, "ValidationError".to_string())));
    assert_eq!(
        add(&arn, &"x".repeat(256)),
        Err((400, "ValidationError".to_string()))
    );
    for i in 1..100 {
        add(&arn, &format!("aud-{i}")).expect("up to 100");
    }
    assert_eq!(client_ids().len(), 100);
    assert_eq!(
        add(&arn, "aud-100"),
        Err((409, "LimitExceeded".to_string()))
    );
    add(&arn, "aud-99").expect("an existing id is still fine at the limit");
}

#[test]
fn moto_iam_tags_providers() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("tags");
    let arn = moto.create_provider(
        &url,
        &["sts.amazonaws.com"],
        None,
        &[("managed-by", "kube-oidc-publisher"), ("cluster", "c1")],
    );
    let tags = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        moto.get_provider(&arn).unwrap().tags,
        tags(&[("managed-by", "kube-oidc-publisher"), ("cluster", "c1")])
    );

    let tag = aws_sdk_iam::types::Tag::builder()
        .key("cluster")
        .value("c2")
        .build()
        .unwrap();
    let extra = aws_sdk_iam::types::Tag::builder()
        .key("team")
        .value("platform")
        .build()
        .unwrap();
    moto.block_on(
        iam.tag_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .tags(tag)
            .tags(extra)
            .send(),
    )
    .expect("tag");
    let listed = moto
        .block_on(
            iam.list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(&arn)
                .send(),
        )
        .expect("list tags");
    let listed: std::collections::BTreeMap<String, String> = listed
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    let expected = tags(&[
        ("managed-by", "kube-oidc-publisher"),
        ("cluster", "c2"),
        ("team", "platform"),
    ]);
    assert_eq!(listed, expected);
    assert_eq!(moto.get_provider(&arn).unwrap().tags, expected);

    moto.block_on(
        iam.untag_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .tag_keys("team")
            .tag_keys("not-there")
            .send(),
    )
    .expect("untag");
    assert_eq!(
        moto.get_provider(&arn).unwrap().tags,
        tags(&[("managed-by", "kube-oidc-publisher"), ("cluster", "c2")])
    );

    // An untagged provider, as Terraform or eksctl would leave it.
    let foreign = moto.create_provider(
        &moto.unique_provider_url("terraform"),
        &["sts.amazonaws.com"],
        Some(&[&"9".repeat(40)]),
        &[],
    );
    assert!(moto.get_provider(&foreign).unwrap().tags.is_empty());
}

#[test]
#[allow(clippy::result_large_err)] // the SDK's error type, returned as is
fn moto_iam_counts_requests_per_provider_and_skips_the_harness() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("count");
    let other = moto.unique_provider_url("count-other");
    // The harness's own seeding and reads are not logged.
    let arn = moto.create_provider(&url, &["sts.amazonaws.com"], None, &[]);
    moto.get_provider(&arn).expect("provider");
    assert_eq!(moto.iam_requests(&url).total(), 0);

    let get = |arn: &str| {
        moto.block_on(
            iam.get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send(),
        )
    };
    get(&arn).expect("get");
    moto.block_on(
        iam.create_open_id_connect_provider()
            .url(&other)
            .client_id_list("sts.amazonaws.com")
            .send(),
    )
    .expect("create other");
    moto.block_on(
        iam.add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn)
            .client_id("vault")
            .send(),
    )
    .expect("add");
    moto.block_on(iam.list_open_id_connect_providers().send())
        .expect("list");
    get(&arn).expect("get");

    let log = moto.iam_requests(&url);
    assert_eq!(
        log.counts(),
        [
            ("AddClientIDToOpenIDConnectProvider".to_string(), 1),
            ("GetOpenIDConnectProvider".to_string(), 2),
        ]
        .into_iter()
        .collect(),
    );
    assert_eq!(log.writes(), 1);
    assert_eq!(
        log.write_actions(),
        vec!["AddClientIDToOpenIDConnectProvider"]
    );
    assert!(log
        .entries
        .iter()
        .all(|r| r.service == "iam" && r.status == Some(200)));
    assert!(log
        .entries
        .iter()
        .all(|r| r.provider == arn && r.access_key == "testing"));
    // The same log by ARN or host/path; the other provider's Create carries its Url.
    assert_eq!(moto.iam_requests(&arn).total(), 3);
    let other_log = moto.iam_requests(&other);
    assert_eq!(other_log.count("CreateOpenIDConnectProvider"), 1);
    assert_eq!(other_log.entries[0].provider, other);
    assert_eq!(other_log.writes(), 1);

    // STS calls name no provider: isolate them by access key id.
    let key = moto.unique_access_key("harness");
    let sts = {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                &key, "testing", None, None, "test",
            ))
            .endpoint_url(moto.endpoint())
            .http_client(http)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    };
    let identity = moto
        .block_on(sts.get_caller_identity().send())
        .expect("GetCallerIdentity");
    assert_eq!(identity.account(), Some(support::moto::ACCOUNT_ID));
    let sts_log = moto.iam_requests_where(&[("service", "sts"), ("access_key", &key)]);
    assert_eq!(
        sts_log.count("GetCallerIdentity"),
        1,
        "{:?}",
        sts_log.entries
    );
    assert_eq!(sts_log.writes(), 0);

    moto.reset_iam_requests(&url);
    assert_eq!(moto.iam_requests(&url).total(), 0);
    assert_eq!(moto.iam_requests(&other).total(), 1);
}

#[test]
fn moto_iam_injects_faults_with_iam_error_bodies() {
    let moto = moto();
    let iam = foreign_iam_client();
    let url = moto.unique_provider_url("faults");
    let arn = moto.create_provider(&url, &["sts.amazonaws.com"], Some(&[&"a".repeat(40)]), &[]);
    let update = || {
        let request = iam
            .update_open_id_connect_provider_thumbprint()
            .open_id_connect_provider_arn(&arn)
            .thumbprint_list("b".repeat(40));
        iam_outcome(moto.block_on(request.send())).map(|_| ())
    };
    let get = || {
        let request = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&arn);
        iam_outcome(moto.block_on(request.send())).map(|_| ())
    };

    // The brief's own example, then every code with its usual status.
    moto.inject_iam_fault(
        &IamFault::concurrent_modification(&url).action("UpdateOpenIDConnectProviderThumbprint"),
    );
    get().expect("another action is not faulted");
    assert_eq!(update(), Err((409, "ConcurrentModification".to_string())));
    update().expect("fires once, then passes through");
    for (fault, status) in [
        (IamFault::throttling(&url), 400),
        (IamFault::access_denied(&url), 403),
        (IamFault::limit_exceeded(&url), 409),
        (IamFault::service_failure(&url), 500),
        (IamFault::concurrent_modification(&url), 409),
    ] {
        let code = fault.code.clone();
        moto.inject_iam_fault(&fault.action("GetOpenIDConnectProvider"));
        assert_eq!(get(), Err((status, code.clone())), "{code}");
    }
    get().expect("all fired");

    // The message IAM would send, parsed by the SDK from the XML body.
    moto.inject_iam_fault(&IamFault::access_denied(&url));
    let err = moto
        .block_on(
            iam.get_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send(),
        )
        .unwrap_err();
    let message = aws_sdk_iam::error::ProvideErrorMetadata::message(&err).unwrap_or_default();
    assert!(
        message.contains("iam:GetOpenIDConnectProvider") && message.contains(&arn),
        "{message}"
    );

    // Other providers are unaffected; skip + times; always + clear.
    let other = moto.unique_provider_url("faults-other");
    let other_arn = moto.create_provider(&other, &["sts.amazonaws.com"], None, &[]);
    moto.inject_iam_fault(&IamFault::service_failure(&url).skip(1).times(2));
    moto.block_on(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(&other_arn)
            .send(),
    )
    .expect("other provider");
    get().expect("skipped");
    assert_eq!(get(), Err((500, "ServiceFailure".to_string())));
    assert_eq!(update(), Err((500, "ServiceFailure".to_string())));
    get().expect("exhausted");
    moto.inject_iam_fault(&IamFault::throttling(&url).always());
    assert_eq!(get(), Err((400, "Throttling".to_string())));
    assert_eq!(get(), Err((400, "Throttling".to_string())));
    let listed = moto.iam_faults(&url);
    assert_eq!(
        listed["faults"].as_array().map(Vec::len),
        Some(9),
        "{listed}"
    );
    moto.clear_iam_faults(&url);
    get().expect("after clear");
    assert_eq!(moto.iam_faults(&url)["faults"], serde_json::json!([]));

    let log = moto.iam_requests(&url);
    assert_eq!(log.faults(), 11, "{:?}", log.counts());
    assert!(log
        .entries
        .iter()
        .filter(|r| r.fault)
        .all(|r| r.status.is_some_and(|s| s >= 400)));
    // The faulted update never reached moto: the thumbprint is the one the passing update set.
    assert_eq!(
        moto.get_provider(&arn).unwrap().thumbprints,
        vec!["b".repeat(40)]
    );
}

/// An S3 Control client signed with `access_key` (not the harness's: its requests are logged).
fn s3control_client(access_key: &str) -> aws_sdk_s3control::Client {
    use aws_sdk_s3control::config::{BehaviorVersion, Credentials, Region};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_s3control::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key, "testing", None, None, "test"))
        .endpoint_url(moto().s3_control_endpoint())
        .retry_config(aws_sdk_s3control::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_s3control::Client::from_conf(config)
}

#[test]
fn moto_s3_control_resolves_and_keeps_the_account_public_access_block_per_access_key() {
    use support::moto::{s3_control_log, AccountPublicAccessBlock, ACCOUNT_ID};
    let moto = moto();
    let key = moto.unique_access_key("s3control");
    let other = moto.unique_access_key("s3control-other");
    let get = |access_key: &str| {
        let client = s3control_client(access_key);
        let result = moto.block_on(
            client
                .get_public_access_block()
                .account_id(ACCOUNT_ID)
                .send(),
        );
        result
            .map(|out| {
                let c = out.public_access_block_configuration().cloned().unwrap();
                (
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                )
            })
            .map_err(|e| {
                (
                    e.raw_response().map_or(0, |r| r.status().as_u16()),
                    e.code().unwrap_or("<none>").to_string(),
                )
            })
    };
    let none = Err((404, "NoSuchPublicAccessBlockConfiguration".to_string()));

    // The request reaches moto's S3 Control backend through <account>.s3-control.kop.test.
    assert_eq!(get(&key), none);
    // A per-key configuration, invisible to other keys.
    moto.set_account_public_access_block(
        &key,
        Some(AccountPublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: false,
        }),
    );
    assert_eq!(
        get(&key),
        Ok((Some(true), Some(true), Some(true), Some(false)))
    );
    assert_eq!(get(&other), none);
    moto.set_account_public_access_block(&key, None);
    assert_eq!(get(&key), none);

    // Logged and faulted under the key's pseudo-bucket, with S3 Control's wrapped error body.
    let log = moto.requests(&s3_control_log(&key));
    assert_eq!(
        log.count("GET", "configuration/publicAccessBlock"),
        3,
        "{:?}",
        log.counts()
    );
    assert_eq!(moto.requests(&s3_control_log(&other)).total(), 1);
    moto.inject_fault(&Fault::access_denied(&s3_control_log(&key)).method("GET"));
    assert_eq!(get(&key), Err((403, "AccessDenied".to_string())));
    assert_eq!(get(&other), none, "the fault is the key's only");

    // Back to moto's own state.
    moto.clear_account_public_access_block(&key);
    assert_eq!(get(&key), none);
    moto.clear_faults(&s3_control_log(&key));
    moto.reset_requests(&s3_control_log(&key));
    assert_eq!(moto.requests(&s3_control_log(&key)).total(), 0);
}
