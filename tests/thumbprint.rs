//! `kube-oidc-publisher thumbprint` against real TLS servers on 127.0.0.1 (tests/tls_server):
//! the thumbprint is the SHA-1 of the last certificate served, equal to what
//! `openssl s_client -showcerts` + `openssl x509 -fingerprint -sha1` give for the same server,
//! and every chain that does not verify, or host that does not answer TLS, is exit 2 with a
//! message that names the fix. The real binary runs with a scrubbed environment and a bounded
//! wait; every server is stopped on Drop.

mod tls_server;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use tempfile::TempDir;
use tls_server::{Ca, Server};

const BIN: &str = env!("CARGO_BIN_EXE_kube-oidc-publisher");
const OPENSSL: &str = "/usr/bin/openssl";
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The result of one bounded run of a program.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n$ {}\nexit: {:?} after {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.what, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, feeding `stdin`, killing it after `limit`.
fn run_bounded(mut cmd: Command, stdin: &[u8], limit: Duration) -> Run {
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Run {
        what,
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: start.elapsed(),
    }
}

/// A per-test directory (HOME of the binary, and where CA files go).
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::Builder::new()
                .prefix("kop-thumbprint-")
                .tempdir()
                .expect("temporary directory"),
        }
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Runs the binary with only PATH, HOME and `envs` in its environment.
    fn kop(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .args(args)
            .envs(envs.iter().copied());
        run_bounded(cmd, b"", RUN_LIMIT)
    }

    fn thumbprint(&self, url: &str, ca_file: &Path) -> Run {
        self.kop(
            &["thumbprint", url, "--ca-file", ca_file.to_str().unwrap()],
            &[],
        )
    }
}

fn sha1_hex(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What openssl says the server at 127.0.0.1:`port` serves: the number of certificates shown
/// by `s_client -showcerts`, and the SHA-1 fingerprint of the last one, lowercase, no colons.
fn openssl_last_sha1(port: u16) -> (usize, String) {
    let mut s_client = Command::new(OPENSSL);
    s_client.args([
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-showcerts",
    ]);
    let shown = run_bounded(s_client, b"", RUN_LIMIT);
    let mut pems = Vec::new();
    let mut rest = shown.stdout.as_str();
    while let Some(begin) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end_marker = "-----END CERTIFICATE-----";
        let end = rest[begin..].find(end_marker).expect("PEM end") + begin + end_marker.len();
        pems.push(format!("{}\n", &rest[begin..end]));
        rest = &rest[end..];
    }
    let last = pems
        .last()
        .unwrap_or_else(|| panic!("no certificate shown{shown}"));
    let mut x509 = Command::new(OPENSSL);
    x509.args(["x509", "-fingerprint", "-sha1", "-noout"]);
    let fingerprint = run_bounded(x509, last.as_bytes(), RUN_LIMIT);
    assert_eq!(fingerprint.code, Some(0), "{fingerprint}");
    let hex = fingerprint
        .stdout
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_ascii_lowercase();
    assert_eq!(hex.len(), 40, "{fingerprint}");
    (pems.len(), hex)
}

fn assert_ok_thumbprint(run: &Run, expected: &str) {
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().next(), Some(expected), "{run}");
}

fn assert_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stdout.is_empty(), "an error prints no thumbprint{run}");
    for needle in needles {
        assert!(run.stderr.contains(needle), "stderr lacks {needle:?}{run}");
    }
}

#[test]
fn leaf_and_intermediate_thumbprint_is_the_intermediates_and_matches_openssl() {
    let env = Env::new();
    let root = Ca::root("kop test root");
    let intermediate = root.intermediate("kop test intermediate");
    let leaf = intermediate.leaf();
    let server = Server::tls(&leaf, &[&intermediate.der]);
    let ca = env.write("root.pem", &root.pem);
    let expected = sha1_hex(&intermediate.der);

    let by_ip = env.thumbprint(&format!("https://127.0.0.1:{}", server.port()), &ca);
    assert_ok_thumbprint(&by_ip, &expected);
    assert_eq!(server.sni(), [None], "no SNI for an IP literal");
    let lines: Vec<&str> = by_ip.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{by_ip}");
    assert!(
        lines[1].starts_with(&format!(
            "127.0.0.1:{} served 2 certificates (chain verified)",
            server.port()
        )),
        "{by_ip}"
    );
    assert!(lines[2].contains("CN=kop test leaf (issued by CN=kop test intermediate"));
    assert!(lines[3].contains("CN=kop test intermediate (issued by CN=kop test root"));
    assert!(lines[3].ends_with("<- thumbprint"), "{by_ip}");

    let by_name = env.thumbprint(
        &format!("https://localhost:{}/openid/v1/jwks", server.port()),
        &ca,
    );
    assert_ok_thumbprint(&by_name, &expected);
    assert_eq!(
        server.sni(),
        [None, Some("localhost".to_owned())],
        "SNI is the URL's host name"
    );

    let (shown, openssl) = openssl_last_sha1(server.port());
    assert_eq!(shown, 2);
    assert_eq!(openssl, expected);
    assert_ne!(expected, sha1_hex(&leaf.der), "not the leaf (aws-cdk#8607)");
}

#[test]
fn served_root_is_the_last_certificate_and_json_describes_the_chain() {
    let env = Env::new();
    let root = Ca::root("kop served root");
    let intermediate = root.intermediate("kop served intermediate");
    let leaf = intermediate.leaf();
    let server = Server::tls(&leaf, &[&intermediate.der, &root.der]);
    let ca = env.write("root.pem", &root.pem);
    let url = format!("https://localhost:{}", server.port());

    let run = env.kop(
        &[
            "thumbprint",
            &url,
            "--ca-file",
            ca.to_str().unwrap(),
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{run}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    let expected = sha1_hex(&root.der);
    assert_eq!(json["thumbprint"], expected.as_str(), "{run}");
    assert_eq!(json["host"], "localhost");
    assert_eq!(json["port"], server.port());
    let chain = json["chain"].as_array().expect("chain array");
    let served = [&leaf.der, &intermediate.der, &root.der];
    assert_eq!(chain.len(), 3, "{run}");
    for (cert, der) in chain.iter().zip(served) {
        assert_eq!(cert["sha1"], sha1_hex(der).as_str(), "{run}");
    }
    assert_eq!(chain[0]["subject"], "CN=kop test leaf");
    assert_eq!(chain[0]["issuer"], "CN=kop served intermediate");
    assert_eq!(chain[0]["not_after"], "2100-01-01T00:00:00Z");
    assert_eq!(chain[0]["self_signed"], false);
    assert_eq!(chain[1]["issuer"], "CN=kop served root");
    assert_eq!(chain[1]["self_signed"], false);
    assert_eq!(chain[2]["subject"], "CN=kop served root");
    assert_eq!(chain[2]["self_signed"], true);

    let (shown, openssl) = openssl_last_sha1(server.port());
    assert_eq!(shown, 3);
    assert_eq!(openssl, expected);
}

#[test]
fn two_intermediates_thumbprint_is_the_topmost_served_and_matches_openssl() {
    let env = Env::new();
    let root = Ca::root("kop root");
    let upper = root.intermediate("kop upper intermediate");
    let lower = upper.intermediate("kop lower intermediate");
    let leaf = lower.leaf();
    let server = Server::tls(&leaf, &[&lower.der, &upper.der]);
    let ca = env.write("root.pem", &root.pem);
    let expected = sha1_hex(&upper.der);

    for host in ["127.0.0.1", "localhost"] {
        let run = env.thumbprint(&format!("https://{host}:{}", server.port()), &ca);
        assert_ok_thumbprint(&run, &expected);
        assert!(run.stdout.contains("served 3 certificates"), "{run}");
    }
    let (shown, openssl) = openssl_last_sha1(server.port());
    assert_eq!(shown, 3);
    assert_eq!(openssl, expected);
}

#[test]
fn options_from_the_environment_and_several_certificates_per_ca_file() {
    let env = Env::new();
    let root = Ca::root("kop env root");
    let unrelated = Ca::root("kop unrelated root");
    let intermediate = root.intermediate("kop env intermediate");
    let server = Server::tls(&intermediate.leaf(), &[&intermediate.der]);
    // One file with two certificates, the useful one second; and a second file.
    let bundle = env.write("bundle.pem", &format!("{}{}", unrelated.pem, root.pem));
    let other = env.write("other.pem", &Ca::root("kop third root").pem);
    let ca_files = format!("{},{}", other.display(), bundle.display());

    let run = env.kop(
        &[
            "thumbprint",
            &format!("https://127.0.0.1:{}", server.port()),
        ],
        &[
            ("KUBE_OIDC_PUBLISHER_CA_FILE", &ca_files),
            ("KUBE_OIDC_PUBLISHER_OUTPUT", "json"),
            ("KUBE_OIDC_PUBLISHER_TIMEOUT", "5"),
        ],
    );
    assert_eq!(run.code, Some(0), "{run}");
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON output");
    assert_eq!(json["thumbprint"], sha1_hex(&intermediate.der).as_str());

    // The system roots are used too (rustls-native-certs honours SSL_CERT_FILE).
    let run = env.kop(
        &[
            "thumbprint",
            &format!("https://localhost:{}", server.port()),
        ],
        &[("SSL_CERT_FILE", bundle.to_str().unwrap())],
    );
    assert_ok_thumbprint(&run, &sha1_hex(&intermediate.der));

    // Repeated --ca-file flags work the same way.
    let run = env.kop(
        &[
            "thumbprint",
            &format!("https://127.0.0.1:{}", server.port()),
            "--ca-file",
            other.to_str().unwrap(),
            "--ca-file",
            bundle.to_str().unwrap(),
        ],
        &[],
    );
    assert_ok_thumbprint(&run, &sha1_hex(&intermediate.der));
}

/// Regression: tools that hashed whatever chain they were served got the thumbprint of a
/// TLS-intercepting proxy, a different one on every run (terraform-aws-modules/terraform-aws-eks#2768).
#[test]
fn unverifiable_chain_is_an_error_not_a_thumbprint() {
    let env = Env::new();
    let root = Ca::root("kop private root");
    let intermediate = root.intermediate("kop private intermediate");
    let server = Server::tls(&intermediate.leaf(), &[&intermediate.der]);
    let url = format!("https://localhost:{}", server.port());

    // No --ca-file: only the system roots (made hermetic with SSL_CERT_FILE), which do not
    // know this CA.
    let system = env.write("system-roots.pem", &Ca::root("kop public root").pem);
    let run = env.kop(
        &["thumbprint", &url],
        &[("SSL_CERT_FILE", system.to_str().unwrap())],
    );
    assert_error(
        &run,
        &[
            "does not verify",
            "trusted: the system roots)",
            "pass that CA's certificate with --ca-file",
            "TLS-intercepting proxy",
            "\"CN=kop private intermediate\" issued by \"CN=kop private root\"",
        ],
    );
    assert!(!run.stderr.contains(&sha1_hex(&intermediate.der)), "{run}");

    // A --ca-file with some other CA does not help either.
    let wrong = env.write("wrong.pem", &Ca::root("kop another root").pem);
    let run = env.thumbprint(&url, &wrong);
    assert_error(&run, &["does not verify", "1 certificate from --ca-file"]);
    // The handshake did reach the server both times (it is the chain that failed).
    assert_eq!(server.sni().len(), 2);
}

#[test]
fn expired_leaf_names_the_certificate_and_the_date() {
    let env = Env::new();
    let root = Ca::root("kop root");
    let intermediate = root.intermediate("kop intermediate");
    let leaf = intermediate.leaf_with(&["localhost"], (2021, 1, 1));
    let server = Server::tls(&leaf, &[&intermediate.der]);
    let ca = env.write("root.pem", &root.pem);

    let run = env.thumbprint(&format!("https://localhost:{}", server.port()), &ca);
    assert_error(
        &run,
        &[
            "certificate 1 of 2 (the leaf)",
            "\"CN=kop test leaf\"",
            "expired at 2021-01-01T00:00:00Z",
            "renew it",
        ],
    );
}

#[test]
fn name_mismatch_says_which_names_the_certificate_covers() {
    let env = Env::new();
    let root = Ca::root("kop root");
    let leaf = root.leaf_with(&["oidc.example.test"], (2100, 1, 1));
    let server = Server::tls(&leaf, &[]);
    let ca = env.write("root.pem", &root.pem);

    let run = env.thumbprint(&format!("https://localhost:{}", server.port()), &ca);
    assert_error(
        &run,
        &[
            "not valid for \"localhost\"",
            "it covers oidc.example.test, 127.0.0.1",
            "subject alternative names",
        ],
    );
    // The same certificate does cover 127.0.0.1, and a leaf-only chain is called out.
    let run = env.thumbprint(&format!("https://127.0.0.1:{}", server.port()), &ca);
    assert_ok_thumbprint(&run, &sha1_hex(&leaf.der));
    assert!(
        run.stdout.contains("only the leaf certificate is served"),
        "{run}"
    );
}

#[test]
fn nothing_listening_is_connection_refused() {
    let env = Env::new();
    let root = Ca::root("kop root");
    let ca = env.write("root.pem", &root.pem);
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = env.thumbprint(&format!("https://127.0.0.1:{port}"), &ca);
    assert_error(
        &run,
        &[
            &format!("connection to 127.0.0.1:{port} refused"),
            "check the host and the port",
        ],
    );
}

#[test]
fn a_plain_http_port_does_not_answer_tls() {
    let env = Env::new();
    let ca = env.write("root.pem", &Ca::root("kop root").pem);
    let server = Server::plain_http();
    let run = env.thumbprint(&format!("https://127.0.0.1:{}", server.port()), &ca);
    assert_error(
        &run,
        &[
            &format!("127.0.0.1:{} does not answer TLS", server.port()),
            "HTTPS port",
        ],
    );
}

#[test]
fn a_silent_host_times_out_within_the_timeout() {
    let env = Env::new();
    let ca = env.write("root.pem", &Ca::root("kop root").pem);
    // The kernel accepts the connection into the backlog; nobody ever answers the ClientHello.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let run = env.kop(
        &[
            "thumbprint",
            &format!("https://127.0.0.1:{port}"),
            "--ca-file",
            ca.to_str().unwrap(),
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_error(&run, &["within 1 s", "raise --timeout"]);
    assert!(run.elapsed < Duration::from_secs(15), "{run}");
    drop(silent);
}

#[test]
fn bad_urls_and_ca_files_are_rejected_with_the_fix() {
    let env = Env::new();
    let ca = env.write("root.pem", &Ca::root("kop root").pem);
    for (url, needle) in [
        ("http://127.0.0.1:8443", "must be an https:// URL"),
        ("ftp://oidc.example.test", "must be an https:// URL"),
        ("oidc.example.test/c1", "https://oidc.example.test/c1"),
        ("https://", "for example https://oidc.example.com"),
    ] {
        let run = env.thumbprint(url, &ca);
        assert_error(&run, &[needle]);
    }
    let root = Ca::root("kop root");
    let server = Server::tls(&root.leaf(), &[]);
    let url = format!("https://127.0.0.1:{}", server.port());
    let missing = env.dir.path().join("missing.pem");
    let run = env.thumbprint(&url, &missing);
    assert_error(&run, &["cannot read --ca-file", "missing.pem"]);
    let not_pem = env.write("key.der", "this is not PEM\n");
    let run = env.thumbprint(&url, &not_pem);
    assert_error(&run, &["holds no PEM certificate"]);
    assert!(
        server.sni().is_empty(),
        "no connection with a bad --ca-file"
    );
    let run = env.kop(&["thumbprint", &url, "--timeout", "0"], &[]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("--timeout"), "{run}");
}

#[test]
fn connect_to_reaches_another_address_and_still_verifies_the_url_host() {
    // Issue #14: sync and doctor had --connect-to, thumbprint did not. The host name does not
    // resolve; --connect-to sends the connection to the loopback server, SNI and verification
    // stay those of the URL's host.
    let env = Env::new();
    let root = Ca::root("kop connect-to root");
    let intermediate = root.intermediate("kop connect-to intermediate");
    let host = "oidc-thumbprint-connect-to.example.test";
    let server = Server::tls(
        &intermediate.leaf_with(&[host], (2100, 1, 1)),
        &[&intermediate.der],
    );
    let ca = env.write("root.pem", &root.pem);
    let via = format!("{host}:443:127.0.0.1:{}", server.port());
    let url = format!("https://{host}/c1/openid/v1/jwks");
    let run = env.kop(
        &[
            "thumbprint",
            &url,
            "--ca-file",
            ca.to_str().unwrap(),
            "--connect-to",
            &via,
        ],
        &[],
    );
    assert_ok_thumbprint(&run, &sha1_hex(&intermediate.der));
    assert_eq!(
        server.sni(),
        [Some(host.to_owned())],
        "SNI is the URL's host"
    );

    // From the environment too, like every option.
    let run = env.kop(
        &["thumbprint", &url, "--ca-file", ca.to_str().unwrap()],
        &[("KUBE_OIDC_PUBLISHER_CONNECT_TO", &via)],
    );
    assert_ok_thumbprint(&run, &sha1_hex(&intermediate.der));

    // A certificate for another name is still refused through --connect-to.
    let other = format!("other-{host}:443:127.0.0.1:{}", server.port());
    let run = env.kop(
        &[
            "thumbprint",
            &format!("https://other-{host}"),
            "--ca-file",
            ca.to_str().unwrap(),
            "--connect-to",
            &other,
        ],
        &[],
    );
    assert_error(&run, &["is not valid for"]);

    let run = env.kop(&["thumbprint", &url, "--connect-to", "nonsense"], &[]);
    assert_error(&run, &["is not HOST:PORT:TO_HOST:TO_PORT"]);
}
