//! Fetch the certificate chain a host serves over TLS, **verified**: against the system roots
//! (rustls-native-certs, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`) plus any `--ca-file`,
//! for the host name in the URL (sent as SNI; no SNI for an IP literal). A chain that does not
//! verify is an error, never a thumbprint: tools that hashed whatever a TLS-intercepting proxy
//! served produced a different thumbprint on every run (PROTOCOL.md §4). This module only
//! fetches; what the chain means (thumbprint, summaries) is `model::thumbprint`'s.
//!
//! [`Verifier`] (in `verifier.rs`) is the one rustls certificate verifier of the tool: this
//! module, doctor's anonymous GETs and the API server client each configure it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

use crate::model::thumbprint::{self as model, CertSummary, Endpoint};

mod verifier;
pub use verifier::{Seen, Verifier};

/// What went wrong fetching a verified chain, by meaning. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read --ca-file {}: {error}; pass a readable PEM file of CA certificates", path.display())]
    CaFileUnreadable { path: PathBuf, error: io::Error },
    #[error("--ca-file {} is not valid PEM ({detail}); pass the CA certificate in PEM form (\"-----BEGIN CERTIFICATE-----\"; convert DER with `openssl x509 -inform der -in ca.der -out ca.pem`)", path.display())]
    CaFileBadPem { path: PathBuf, detail: String },
    #[error("--ca-file {} holds no PEM certificate; pass the CA certificate in PEM form (\"-----BEGIN CERTIFICATE-----\"; convert DER with `openssl x509 -inform der -in ca.der -out ca.pem`)", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("--ca-file {}: certificate {index} cannot be a trust anchor ({detail}); pass the certificate of the CA that issued the server's chain", path.display())]
    CaFileBadCertificate {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    #[error("no trusted root certificates: the system store could not be loaded ({detail}) and no --ca-file was given; install the system CA bundle (ca-certificates), point SSL_CERT_FILE at one, or pass --ca-file")]
    NoRoots { detail: String },
    #[error("{host:?} is not a valid host name for TLS; pass the https:// URL of the JWKS host")]
    BadHost { host: String },
    #[error(
        "cannot resolve {host:?} ({error}); check the host name in the URL and this machine's DNS"
    )]
    Resolve { host: String, error: io::Error },
    #[error("connection to {endpoint} refused: nothing listens there; check the host and the port in the URL (default 443)")]
    Refused { endpoint: String },
    #[error("cannot connect to {endpoint} ({error}); check the network path to the host (firewall, routing, proxy)")]
    Connect { endpoint: String, error: io::Error },
    #[error("{endpoint} does not answer TLS ({detail}); check that the URL names the HTTPS port of the host that serves the JWKS")]
    NotTls { endpoint: String, detail: String },
    #[error("{endpoint} did not complete a TLS handshake within {seconds} s; check the host, the port and the network path (firewall, proxy), or raise --timeout")]
    Timeout { endpoint: String, seconds: u64 },
    #[error("the certificate chain served by {endpoint} does not verify: its issuer is not trusted ({served}; trusted: the system roots{ca_files}). If the server uses a private CA, pass that CA's certificate with --ca-file PATH (PEM). If the host has a publicly trusted certificate, a TLS-intercepting proxy may be in the way: a thumbprint computed through it is not the one IAM sees, so run this where the connection is not intercepted. No thumbprint is computed from a chain that does not verify")]
    UnknownIssuer {
        endpoint: String,
        served: String,
        ca_files: String,
    },
    #[error("{which}, {subject:?}, served by {endpoint}, expired at {not_after} (now {now}); renew it on the server, then run this again (no thumbprint is computed from a chain that does not verify). If the server's certificate is current, check this machine's clock")]
    Expired {
        endpoint: String,
        which: String,
        subject: String,
        not_after: String,
        now: String,
    },
    #[error("{which}, {subject:?}, served by {endpoint}, is not valid before {not_before} (now {now}); check this machine's clock, or wait until the certificate is valid")]
    NotYetValid {
        endpoint: String,
        which: String,
        subject: String,
        not_before: String,
        now: String,
    },
    #[error("the certificate served by {endpoint} is not valid for {expected:?}: it covers {presented}; put a name it covers in the URL, or reissue the certificate with {expected:?} among its subject alternative names")]
    NameMismatch {
        endpoint: String,
        expected: String,
        presented: String,
    },
    #[error("the certificate chain served by {endpoint} does not verify ({detail}); fix the chain the server serves (no thumbprint is computed from a chain that does not verify)")]
    Untrusted { endpoint: String, detail: String },
    #[error("the TLS handshake with {endpoint} failed ({detail}); check that the host serves HTTPS for this name")]
    Handshake { endpoint: String, detail: String },
    #[error("{endpoint} presented no certificate; check the server's TLS configuration")]
    NoCertificate { endpoint: String },
}

/// The effect trait the reconcile loop uses: the IAM thumbprint of a public host (port 443),
/// from a verified chain.
#[async_trait::async_trait]
pub trait Thumbprints: Send + Sync {
    async fn thumbprint(&self, host: &str) -> Result<String, Error>;
}

/// `host:port` to connect to instead of another `host:port`, like curl's `--connect-to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    /// `None`: any host (curl's empty HOST).
    pub host: Option<String>,
    /// `None`: any port (curl's empty PORT).
    pub port: Option<u16>,
    pub to_host: String,
    pub to_port: u16,
}

impl ConnectTo {
    /// Whether a connection to `host:port` goes to this entry's `TO_HOST:TO_PORT` instead.
    pub fn applies_to(&self, host: &str, port: u16) -> bool {
        self.host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
            && self.port.is_none_or(|p| p == port)
    }
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    /// `HOST:PORT:TO_HOST:TO_PORT` (IPv6 addresses in brackets). As in curl, an empty HOST or
    /// PORT means any (`::127.0.0.1:8443` sends every connection there).
    fn from_str(raw: &str) -> Result<ConnectTo, String> {
        let bad = || {
            format!("--connect-to {raw:?} is not HOST:PORT:TO_HOST:TO_PORT (for example oidc.example.com:443:127.0.0.1:8443; an empty HOST or PORT means any)")
        };
        let mut parts = Vec::new();
        let mut rest = raw;
        while !rest.is_empty() {
            let (part, tail) = if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(bad)?;
                (
                    &after[..end],
                    after[end + 1..]
                        .strip_prefix(':')
                        .unwrap_or(&after[end + 1..]),
                )
            } else {
                rest.split_once(':').unwrap_or((rest, ""))
            };
            parts.push(part);
            rest = tail;
        }
        let [host, port, to_host, to_port] = parts[..] else {
            return Err(bad());
        };
        let port = match port {
            "" => None,
            port => Some(port.parse().map_err(|_| bad())?),
        };
        let to_port = to_port.parse().map_err(|_| bad())?;
        if to_host.is_empty() {
            return Err(bad());
        }
        Ok(ConnectTo {
            host: (!host.is_empty()).then(|| host.into()),
            port,
            to_host: to_host.into(),
            to_port,
        })
    }
}

/// [`Thumbprints`] over real TLS: system roots plus `--ca-file`, `--connect-to` overrides.
pub struct TlsThumbprints {
    pub ca_files: Vec<PathBuf>,
    pub connect_to: Vec<ConnectTo>,
    pub timeout: Duration,
}

#[async_trait::async_trait]
impl Thumbprints for TlsThumbprints {
    async fn thumbprint(&self, host: &str) -> Result<String, Error> {
        let port = 443;
        let target = self
            .connect_to
            .iter()
            .find(|c| c.applies_to(host, port))
            .map_or((host, port), |c| (c.to_host.as_str(), c.to_port));
        let chain =
            fetch_verified_chain_via(host, port, target, &self.ca_files, self.timeout).await?;
        let last = chain.last().expect("a fetched chain is never empty");
        Ok(model::thumbprint(last))
    }
}

/// Connects to `host:port` (`host` is a DNS name or an IP literal without brackets), completes a
/// TLS handshake that verifies the served chain against the system roots plus the certificates
/// in `extra_roots_pem`, and returns the chain **as served**, leaf first (not the verified path:
/// the thumbprint is of the last certificate the server sends, what IAM and `openssl s_client
/// -showcerts` see). `timeout` bounds resolution, connection and handshake together.
pub async fn fetch_verified_chain(
    host: &str,
    port: u16,
    extra_roots_pem: &[PathBuf],
    timeout: Duration,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    fetch_verified_chain_via(host, port, (host, port), extra_roots_pem, timeout).await
}

/// As [`fetch_verified_chain`], but connects to `connect` (like curl's `--connect-to`) while
/// still sending SNI for, and verifying the certificate against, `host`. For checking a new
/// endpoint before DNS points at it, and for tests on loopback ports.
pub async fn fetch_verified_chain_via(
    host: &str,
    port: u16,
    via: (&str, u16),
    extra_roots_pem: &[PathBuf],
    timeout: Duration,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let endpoint = Endpoint {
        host: host.to_owned(),
        port,
    }
    .to_string();
    let (roots, from_files) = load_roots(extra_roots_pem).await?;
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| Error::BadHost {
        host: host.to_owned(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(
        Verifier::new(roots, provider.clone())
            .map_err(|e| Error::NoRoots {
                detail: e.to_string(),
            })?
            .recording(),
    );
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        // Not dangerous: `Verifier` delegates every decision to the WebPKI verifier and only
        // keeps the served chain, so errors can name the certificate at fault.
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

    let (connect_host, connect_port) = via;
    let attempt = async {
        let tcp = connect(connect_host, connect_port, &endpoint).await?;
        let mut tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| classify(e, &verifier, &endpoint, host, from_files))?;
        let chain: Vec<CertificateDer<'static>> = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        // Polite close_notify; the chain is already verified, so a failure here changes nothing.
        let _ = tls.shutdown().await;
        Ok(chain)
    };
    let chain = tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| Error::Timeout {
            endpoint: endpoint.clone(),
            seconds: timeout.as_secs(),
        })??;
    if chain.is_empty() {
        return Err(Error::NoCertificate { endpoint });
    }
    Ok(chain)
}

/// Every certificate of every `--ca-file` as a trust anchor. A file that cannot be read, is not
/// PEM, holds no certificate, or holds one that cannot be a trust anchor is an error naming the
/// file (and the certificate): a CA silently left out would make a chain fail to verify for a
/// reason nobody can see. `thumbprint`, `sync` and `doctor` all read `--ca-file` through this.
pub async fn ca_file_roots(ca_files: &[PathBuf]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for path in ca_files {
        for (index, der) in read_pem_certificates(path).await?.into_iter().enumerate() {
            roots.add(der).map_err(|e| Error::CaFileBadCertificate {
                path: path.clone(),
                index: index + 1,
                detail: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

/// The system roots plus every certificate of every `--ca-file`; also returns how many came
/// from the files, for messages.
async fn load_roots(ca_files: &[PathBuf]) -> Result<(RootCertStore, usize), Error> {
    let mut roots = ca_file_roots(ca_files).await?;
    let from_files = roots.len();
    // Reads a few files once per run; blocking briefly here is simpler than a blocking task.
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 && from_files == 0 {
        let detail = if native.errors.is_empty() {
            "no certificates found".to_owned()
        } else {
            native
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(Error::NoRoots { detail });
    }
    for error in &native.errors {
        tracing::debug!("loading system root certificates: {error}");
    }
    Ok((roots, from_files))
}

async fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|error| Error::CaFileUnreadable {
            path: path.to_owned(),
            error,
        })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::CaFileBadPem {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::CaFileEmpty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Resolves `host` and connects to the first address that accepts, so a DNS failure, a refused
/// connection and other network errors are told apart.
async fn connect(host: &str, port: u16, endpoint: &str) -> Result<TcpStream, Error> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| Error::Resolve {
            host: host.to_owned(),
            error,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::Refused {
            endpoint: endpoint.to_owned(),
        },
        Some(error) => Error::Connect {
            endpoint: endpoint.to_owned(),
            error,
        },
        None => Error::Resolve {
            host: host.to_owned(),
            error: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        },
    })
}

/// Turns a failed handshake into an [`Error`] by meaning, naming the certificate at fault.
fn classify(
    error: io::Error,
    verifier: &Verifier,
    endpoint: &str,
    host: &str,
    from_files: usize,
) -> Error {
    let endpoint = endpoint.to_owned();
    let seen = verifier.take();
    let chain: Vec<CertSummary> = seen
        .as_ref()
        .map(|s| {
            s.served
                .iter()
                .enumerate()
                .filter_map(|(i, der)| CertSummary::from_der(i, der).ok())
                .collect()
        })
        .unwrap_or_default();
    let rustls_error = match seen.map(|s| s.verdict) {
        Some(Err(e)) => Some(e),
        _ => error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned(),
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let Some(rustls_error) = rustls_error else {
        return match error.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::NotTls {
                endpoint,
                detail: format!("the connection was closed during the handshake: {error}"),
            },
            _ => Error::Handshake {
                endpoint,
                detail: error.to_string(),
            },
        };
    };
    let cert = match rustls_error {
        rustls::Error::InvalidCertificate(cert) => cert,
        rustls::Error::InvalidMessage(m) => {
            return Error::NotTls {
                endpoint,
                detail: format!("its reply is not a TLS message: {m:?}"),
            }
        }
        rustls::Error::AlertReceived(alert) => {
            return Error::Handshake {
                endpoint,
                detail: format!("the server sent the alert {alert:?}"),
            }
        }
        other => {
            return Error::Handshake {
                endpoint,
                detail: other.to_string(),
            }
        }
    };
    let which = |index: Option<usize>| match index {
        Some(i) => (model::position(i, chain.len()), chain[i].name().to_owned()),
        None => ("a certificate of the chain".to_owned(), String::new()),
    };
    match cert {
        CertificateError::UnknownIssuer => Error::UnknownIssuer {
            endpoint,
            served: match chain.last() {
                Some(last) => format!(
                    "it served {} certificate{}, the last is {:?} issued by {:?}",
                    chain.len(),
                    if chain.len() == 1 { "" } else { "s" },
                    last.name(),
                    last.issuer
                ),
                None => "the served chain could not be read".to_owned(),
            },
            ca_files: match from_files {
                0 => String::new(),
                1 => " and 1 certificate from --ca-file".to_owned(),
                n => format!(" and {n} certificates from --ca-file"),
            },
        },
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let reported = match &cert {
                CertificateError::ExpiredContext { not_after, .. } => {
                    Some(not_after.as_secs() as i64)
                }
                _ => None,
            };
            let index = model::find_expired(&chain, reported, now);
            let (which, subject) = which(index);
            Error::Expired {
                endpoint,
                which,
                subject,
                not_after: index
                    .map(|i| chain[i].not_after.clone())
                    .or(reported.map(model::rfc3339))
                    .unwrap_or_else(|| "an earlier date".to_owned()),
                now: model::rfc3339(now),
            }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let reported = match &cert {
                CertificateError::NotValidYetContext { not_before, .. } => {
                    Some(not_before.as_secs() as i64)
                }
                _ => None,
            };
            let index = model::find_not_yet_valid(&chain, reported, now);
            let (which, subject) = which(index);
            Error::NotYetValid {
                endpoint,
                which,
                subject,
                not_before: index
                    .map(|i| model::rfc3339(chain[i].not_before_unix))
                    .or(reported.map(model::rfc3339))
                    .unwrap_or_else(|| "a later date".to_owned()),
                now: model::rfc3339(now),
            }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let presented = match chain.first() {
                Some(leaf) if !leaf.names.is_empty() => leaf.names.join(", "),
                Some(_) => "no DNS name or IP address".to_owned(),
                None => "other names".to_owned(),
            };
            Error::NameMismatch {
                endpoint,
                expected: host.to_owned(),
                presented,
            }
        }
        other => Error::Untrusted {
            endpoint,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_takes_curls_forms_and_an_empty_host_or_port_means_any() {
        let exact: ConnectTo = "oidc.example.com:443:127.0.0.1:8443".parse().unwrap();
        assert!(exact.applies_to("oidc.example.com", 443));
        assert!(exact.applies_to("OIDC.example.com", 443));
        assert!(!exact.applies_to("other.example.com", 443));
        assert!(!exact.applies_to("oidc.example.com", 8443));
        let any_host: ConnectTo = ":443:127.0.0.1:8443".parse().unwrap();
        assert!(any_host.applies_to("d111.cloudfront.net", 443));
        assert!(!any_host.applies_to("d111.cloudfront.net", 80));
        let any: ConnectTo = "::[::1]:8443".parse().unwrap();
        assert!(any.applies_to("anything.example", 1234));
        assert_eq!((any.to_host.as_str(), any.to_port), ("::1", 8443));
        for bad in ["a:443:127.0.0.1", "a:x:127.0.0.1:1", "a:443::1", "a:443:h:"] {
            assert!(bad.parse::<ConnectTo>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn ca_file_errors_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = load_roots(std::slice::from_ref(&missing))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::CaFileUnreadable { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let key_only = dir.path().join("key.pem");
        std::fs::write(
            &key_only,
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let err = load_roots(std::slice::from_ref(&key_only))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::CaFileEmpty { .. }), "{err:?}");
        assert!(
            err.to_string().contains("openssl x509 -inform der"),
            "{err}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = load_roots(std::slice::from_ref(&garbage))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::CaFileBadPem { .. } | Error::CaFileBadCertificate { .. }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn ca_file_certificates_become_roots() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut pem = String::new();
        for name in ["one", "two"] {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            pem.push_str(&params.self_signed(&key).unwrap().pem());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cas.pem");
        std::fs::write(&path, pem).unwrap();
        let (roots, from_files) = load_roots(&[path]).await.unwrap();
        assert_eq!(from_files, 2);
        assert!(roots.len() >= 2);
    }
}
