//! The kubeconfigs kubectl accepts, through the real binary against the fake kube-apiserver:
//! a cluster whose CA is the API server's own self-signed `CA:TRUE` certificate (accepted, as
//! kubectl does; another such certificate is refused), `insecure-skip-tls-verify` (refused: we
//! never turn verification off), `tls-server-name`, `proxy-url` (HTTP CONNECT), an exec
//! credential plugin and a client certificate; and an unreachable API server reported in one
//! message, without the kube client's own log lines.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use support::*;

/// `sync --store DIR --kubeconfig K --no-iam --issuer ISSUER`, from `dir`.
fn sync(cmd: &mut TestCommand, kubeconfig: &Path, public: &Path) {
    cmd.args(sync_dir_args(kubeconfig, public))
        .args(["--issuer", ISSUER]);
}

/// The kubeconfig of `spec` with `line` added to the cluster (after `server:`).
fn with_cluster_line(spec: &KubeconfigSpec, line: &str) -> String {
    let yaml = spec.to_yaml();
    let server = format!(
        "    server: {}\n",
        serde_json::to_string(&spec.server).unwrap()
    );
    assert!(yaml.contains(&server), "{yaml}");
    yaml.replacen(&server, &format!("{server}    {line}\n"), 1)
}

/// The kubeconfig of `spec` (which must have no token) with `user` as the user's fields.
fn with_user(spec: &KubeconfigSpec, user: &str) -> String {
    assert!(spec.token.is_none());
    let yaml = spec.to_yaml();
    assert!(yaml.contains("  user: {}\n"), "{yaml}");
    yaml.replacen("  user: {}\n", &format!("  user:\n{user}"), 1)
}

fn write(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Success, and the JWKS the API server serves is published.
fn assert_published(cmd: &TestCommand, public: &Path) {
    let output = cmd.assert_success();
    assert!(
        stdout_str(&output).contains("writes"),
        "{}",
        stdout_str(&output)
    );
    assert_eq!(
        std::fs::read(public.join("openid/v1/jwks")).unwrap(),
        fixture("jwks-rsa.json")
    );
}

/// Exit 2 with `message` on stderr, and nothing written.
fn assert_refused(cmd: &TestCommand, public: &Path, message: &str) -> String {
    let output = cmd.assert_exit(2);
    let stderr = stderr_str(&output);
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
    assert!(
        !public.exists() || snapshot_dir(public).is_empty(),
        "something was written: {:?}",
        snapshot_dir(public).keys()
    );
    stderr
}

/// Regression (issue 10): `invalid peer certificate: CaUsedAsEndEntity` for a kubeconfig whose
/// certificate-authority-data is the API server's own self-signed CA:TRUE certificate.
#[test]
fn the_api_servers_own_self_signed_ca_certificate_is_accepted() {
    let server = FakeApiServer::self_signed_ca(Scenario::Rsa);
    let (dir, mut cmd) = setup("self-signed-ca");
    let public = dir.path().join("public");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    sync(&mut cmd, &kubeconfig, &public);
    assert_published(&cmd, &public);
    assert_eq!(server.tls_failures(), 0);
}

#[test]
fn another_self_signed_ca_certificate_is_refused() {
    let server = FakeApiServer::self_signed_ca(Scenario::Rsa);
    let (dir, mut cmd) = setup("other-self-signed-ca");
    let public = dir.path().join("public");
    let spec = KubeconfigSpec {
        ca_pem: Some(TestPki::generate_self_signed_ca().ca_pem),
        ..KubeconfigSpec::for_server(&server)
    };
    let kubeconfig = write_kubeconfig_spec(&dir.path().join("kubeconfig"), &spec);
    sync(&mut cmd, &kubeconfig, &public);
    let stderr = assert_refused(
        &cmd,
        &public,
        "cannot reach the Kubernetes API server at https://127.0.0.1",
    );
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn insecure_skip_tls_verify_is_refused() {
    let server = FakeApiServer::start();
    let (dir, mut cmd) = setup("insecure");
    let public = dir.path().join("public");
    let spec = KubeconfigSpec {
        ca_pem: None,
        insecure_skip_tls_verify: true,
        ..KubeconfigSpec::for_server(&server)
    };
    let kubeconfig = write_kubeconfig_spec(&dir.path().join("kubeconfig"), &spec);
    sync(&mut cmd, &kubeconfig, &public);
    let stderr = assert_refused(
        &cmd,
        &public,
        "sets insecure-skip-tls-verify: true, and this tool never turns TLS verification off",
    );
    assert!(stderr.contains("certificate-authority-data"), "{stderr}");
    assert_eq!(server.request_count(), 0, "no request may leave unverified");
}

#[test]
fn tls_server_name_verifies_the_certificate_for_that_name() {
    // The certificate names only DNS localhost; the kubeconfig connects to 127.0.0.1.
    let server = FakeApiServer::dns_only(Scenario::Rsa);
    let (dir, mut cmd) = setup("tls-server-name");
    let public = dir.path().join("public");
    let spec = KubeconfigSpec::for_server(&server);
    let kubeconfig = write(
        dir.path(),
        &with_cluster_line(&spec, "tls-server-name: localhost"),
    );
    sync(&mut cmd, &kubeconfig, &public);
    assert_published(&cmd, &public);

    // Without it, the name check fails: verification is on.
    let (dir, mut cmd) = setup("no-tls-server-name");
    let public = dir.path().join("public");
    let kubeconfig = write_kubeconfig_spec(&dir.path().join("kubeconfig"), &spec);
    sync(&mut cmd, &kubeconfig, &public);
    assert_refused(&cmd, &public, "cannot reach the Kubernetes API server");
}

/// A loopback HTTP CONNECT proxy that records the targets it tunnels to. Stops on drop.
struct ConnectProxy {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = targets.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let Some(target) = head
                        .strip_prefix("CONNECT ")
                        .and_then(|rest| rest.split(' ').next())
                        .map(str::to_owned)
                    else {
                        let _ = client
                            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                            .await;
                        return;
                    };
                    seen.lock().unwrap().push(target.clone());
                    // Loopback only: the tests' servers.
                    if !target.starts_with("127.0.0.1:") {
                        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
                        return;
                    }
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    if client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await
                        .is_ok()
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        ConnectProxy {
            port,
            targets,
            _runtime: runtime,
        }
    }
}

#[test]
fn proxy_url_tunnels_through_an_http_connect_proxy() {
    let server = FakeApiServer::start();
    let proxy = ConnectProxy::start();
    let (dir, mut cmd) = setup("proxy-url");
    let public = dir.path().join("public");
    let spec = KubeconfigSpec::for_server(&server);
    let kubeconfig = write(
        dir.path(),
        &with_cluster_line(
            &spec,
            &format!("proxy-url: http://127.0.0.1:{}", proxy.port),
        ),
    );
    sync(&mut cmd, &kubeconfig, &public);
    assert_published(&cmd, &public);
    let targets = proxy.targets.lock().unwrap().clone();
    assert!(!targets.is_empty(), "nothing went through the proxy");
    let direct = format!("127.0.0.1:{}", server.addr().port());
    assert!(targets.iter().all(|t| *t == direct), "{targets:?}");
}

#[test]
fn a_socks5_proxy_url_is_refused_with_what_to_do() {
    let server = FakeApiServer::start();
    let (dir, mut cmd) = setup("socks-proxy-url");
    let public = dir.path().join("public");
    let kubeconfig = write(
        dir.path(),
        &with_cluster_line(
            &KubeconfigSpec::for_server(&server),
            "proxy-url: socks5://127.0.0.1:1080",
        ),
    );
    sync(&mut cmd, &kubeconfig, &public);
    assert_refused(&cmd, &public, "use an http:// proxy (HTTP CONNECT)");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn an_exec_credential_plugin_supplies_the_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = FakeApiServer::start();
    let (dir, mut cmd) = setup("exec-plugin");
    let public = dir.path().join("public");
    let plugin = dir.path().join("credential-plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nprintf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            server.token()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = KubeconfigSpec {
        token: None,
        ..KubeconfigSpec::for_server(&server)
    };
    let user = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
        serde_json::to_string(&plugin.display().to_string()).unwrap()
    );
    let kubeconfig = write(dir.path(), &with_user(&spec, &user));
    sync(&mut cmd, &kubeconfig, &public);
    assert_published(&cmd, &public);
    let log = server.request_log();
    assert!(
        log.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {}", server.token()))),
        "every request carries the plugin's token"
    );
}

#[test]
fn a_client_certificate_authenticates() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test client CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "ceo-admin");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    let server = FakeApiServer::requiring_client_cert(Scenario::Rsa, ca_cert.der().clone());
    let (dir, mut cmd) = setup("client-cert");
    let public = dir.path().join("public");
    let spec = KubeconfigSpec {
        token: None,
        ..KubeconfigSpec::for_server(&server)
    };
    let user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64(&client_cert.pem()),
        b64(&client_key.serialize_pem())
    );
    let kubeconfig = write(dir.path(), &with_user(&spec, &user));
    sync(&mut cmd, &kubeconfig, &public);
    assert_published(&cmd, &public);
    assert!(server
        .request_log()
        .iter()
        .all(|r| r.authorization.is_none()));
}

/// Issue 10: kube's own `ERROR failed with error client error (Connect)` came twice before
/// our message.
#[test]
fn an_unreachable_api_server_is_one_message_without_kube_log_lines() {
    let server = FakeApiServer::start();
    let (dir, mut cmd) = setup("unreachable-one-message");
    let public = dir.path().join("public");
    let kubeconfig = write_kubeconfig_unreachable(dir.path(), &server);
    sync(&mut cmd, &kubeconfig, &public);
    cmd.env_remove("RUST_LOG");
    let stderr = assert_refused(&cmd, &public, "cannot reach the Kubernetes API server at");
    for kube_line in ["failed with error", "ERROR"] {
        assert!(
            !stderr.contains(kube_line),
            "kube's log line ({kube_line:?}) leaked:\n{stderr}"
        );
    }
}
