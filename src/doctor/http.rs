//! Anonymous HTTPS GETs made the way STS makes them: no credentials, no cookies, no redirect
//! followed, one fresh connection per document, STS's ~5-second budget for the whole exchange
//! (connect, TLS, headers and body), and the latency measured. TLS is tokio-rustls (ring) with
//! `tls::Verifier`, which delegates every decision to WebPKI over the system roots plus
//! `--ca-file`, and also notes whether the chain would verify against the public roots alone: IAM uses a
//! provider's thumbprints only for hosts whose chain does not lead to a publicly trusted root
//! (PROTOCOL.md §4). HTTP/1.1 is hyper's client over that stream. Nothing here logs a body.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::facts::{Answer, FetchError, Fetched, TlsFacts};
use crate::model::thumbprint::{thumbprint, CertSummary};
use crate::tls::{ConnectTo, Seen, Verifier};

/// The most of a body doctor reads: the documents are a few kilobytes.
pub const BODY_LIMIT: usize = 1 << 20;

/// Why the client cannot be built; doctor cannot run then.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Unreadable, not PEM, empty, or a certificate that cannot be a trust anchor: the same
    /// errors `thumbprint` and `sync` report.
    #[error(transparent)]
    CaFile(#[from] crate::tls::Error),
    #[error("no trusted root certificates: the system store holds none and no --ca-file was given; install the system CA bundle (ca-certificates), point SSL_CERT_FILE at one, or pass --ca-file")]
    NoRoots,
}

/// The client for the public documents.
pub struct PublicClient {
    /// Over the system roots plus `--ca-file`, also asking the public roots alone; a fresh copy
    /// per GET records that GET's chain.
    verifier: Verifier,
    provider: Arc<rustls::crypto::CryptoProvider>,
    ca_files: Vec<PathBuf>,
    connect_to: Vec<ConnectTo>,
    budget: Duration,
}

impl PublicClient {
    pub async fn new(
        ca_files: &[PathBuf],
        connect_to: &[ConnectTo],
        budget: Duration,
    ) -> Result<PublicClient, ClientError> {
        let extra = crate::tls::ca_file_roots(ca_files).await?;
        let mut public_roots = RootCertStore::empty();
        public_roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let mut all_roots = public_roots.clone();
        all_roots.roots.extend(extra.roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Verifier::new(all_roots, provider.clone())
            .map_err(|_| ClientError::NoRoots)?
            .also_public(public_roots, provider.clone());
        Ok(PublicClient {
            verifier,
            provider,
            ca_files: ca_files.to_vec(),
            connect_to: connect_to.to_vec(),
            budget,
        })
    }

    /// One anonymous GET of `url` (https only), within the budget.
    pub async fn get(&self, url: &str) -> Fetched {
        let verifier = Arc::new(self.verifier.fresh());
        let start = Instant::now();
        let result =
            match tokio::time::timeout(self.budget, self.exchange(url, verifier.clone())).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::Timeout {
                    budget_ms: self.budget.as_millis() as u64,
                }),
            };
        let elapsed_ms = start.elapsed().as_millis() as u64;
        let result = result.map(|mut answer| {
            answer.elapsed_ms = elapsed_ms;
            answer
        });
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        // Only a chain that verified is described.
        let verified = verifier.take().filter(|seen| seen.verdict.is_ok());
        let tls = verified.map(
            |Seen {
                 served,
                 publicly_trusted,
                 ..
             }| {
                let last = served.last().expect("a verified chain is never empty");
                TlsFacts {
                    host: host.trim_matches(['[', ']']).to_owned(),
                    last_sha1: thumbprint(last),
                    last_subject: CertSummary::from_der(served.len() - 1, last)
                        .map(|s| s.name().to_owned())
                        .unwrap_or_else(|_| "an unreadable certificate".into()),
                    publicly_trusted,
                }
            },
        );
        // A failed handshake is explained by the `thumbprint` command's classifier, which
        // names the certificate at fault (expired, wrong name, unknown issuer).
        let result = match result {
            Err(FetchError::Tls { detail }) => Err(FetchError::Tls {
                detail: self.explain_tls(url, detail).await,
            }),
            Err(FetchError::UnknownIssuer { detail }) => Err(FetchError::UnknownIssuer {
                detail: self.explain_tls(url, detail).await,
            }),
            other => other,
        };
        Fetched {
            url: url.to_owned(),
            result,
            tls,
        }
    }

    async fn explain_tls(&self, url: &str, fallback: String) -> String {
        let Ok(parsed) = url::Url::parse(url) else {
            return fallback;
        };
        let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
            return fallback;
        };
        let host = host.trim_matches(['[', ']']);
        let via = self.route(host, port);
        match crate::tls::fetch_verified_chain_via(
            host,
            port,
            (via.0.as_str(), via.1),
            &self.ca_files,
            self.budget,
        )
        .await
        {
            Err(e) => e.to_string(),
            Ok(_) => fallback,
        }
    }

    fn route(&self, host: &str, port: u16) -> (String, u16) {
        self.connect_to
            .iter()
            .find(|c| c.applies_to(host, port))
            .map_or((host.to_owned(), port), |c| (c.to_host.clone(), c.to_port))
    }

    async fn exchange(&self, url: &str, verifier: Arc<Verifier>) -> Result<Answer, FetchError> {
        let transport = |detail: String| FetchError::Transport { detail };
        let parsed = url::Url::parse(url).map_err(|e| transport(format!("not a URL ({e})")))?;
        if parsed.scheme() != "https" {
            return Err(transport("not an https URL".into()));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| transport("no host in the URL".into()))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let (to_host, to_port) = self.route(&host, port);
        let tcp = TcpStream::connect((to_host.as_str(), to_port))
            .await
            .map_err(|e| transport(format!("cannot connect to {host}:{port}: {e}")))?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| transport(format!("{host:?} is not a valid TLS server name")))?;
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .dangerous()
            // Not dangerous: `Verifier` delegates every decision to WebPKI.
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| {
                let unknown_issuer = matches!(
                    e.get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
                    Some(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::UnknownIssuer
                    ))
                );
                let detail = format!("the TLS handshake failed: {e}");
                if unknown_issuer {
                    FetchError::UnknownIssuer { detail }
                } else {
                    FetchError::Tls { detail }
                }
            })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| transport(format!("HTTP handshake failed: {e}")))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let path = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        // Only what any anonymous client sends: no Authorization, no cookies.
        let request = http::Request::get(path)
            .header(http::header::HOST, authority)
            .header(
                http::header::USER_AGENT,
                concat!("kube-oidc-publisher/", env!("CARGO_PKG_VERSION"), " doctor"),
            )
            .header(http::header::ACCEPT, "*/*")
            .header(http::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| transport(format!("cannot build the request: {e}")))?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| transport(format!("the HTTP exchange failed: {e}")))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::TooLarge { limit: BODY_LIMIT }
                    } else {
                        transport(format!("reading the body failed: {e}"))
                    }
                })?
                .to_bytes()
                .to_vec();
            Ok(Answer {
                status,
                headers,
                body,
                elapsed_ms: 0,
            })
        };
        let result = exchange.await;
        driver.abort();
        result
    }
}
