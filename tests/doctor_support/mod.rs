//! Stand-ins for the `doctor` suite, beside the shared harness (which this only reads):
//!
//! - [`HttpsServer`]: HTTPS on 127.0.0.1:0 (tokio-rustls + hyper, HTTP/1.1 and HTTP/2)
//!   serving a chain the test built with rcgen, answering each request with whatever the test's
//!   handler returns: any status, headers, body, and a delay before the answer. It records
//!   every request (method, path, headers). Own runtime thread; stops on drop.
//! - [`SigningKey`]: an RSA key the test controls, with the kid kube-apiserver would give it,
//!   its public JWK, and tokens signed the way kube-apiserver signs them.
//! - [`fake_api_server`]: a kube-apiserver stand-in on an [`HttpsServer`] with the endpoints
//!   doctor uses: the two discovery documents, TokenRequest, and GET ServiceAccount.
//!
//! Nothing here decides what a test expects; it only serves.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::KeyPair as _;
use serde_json::{json, Value};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::tls_server::Leaf;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Waited before the answer is sent.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// 200 with `Content-Type: application/json`.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, body).header("content-type", "application/json")
    }

    /// Sets a header, replacing one of the same name.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// An HTTPS server on 127.0.0.1 (port chosen by the OS), stopped on drop.
pub struct HttpsServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpsServer {
    /// Serves `leaf` then `chain` (as TLS sends it), answering with `handler`.
    pub fn start(leaf: &Leaf, chain: &[&CertificateDer<'static>], handler: Handler) -> HttpsServer {
        let mut served = vec![leaf.der.clone()];
        served.extend(chain.iter().map(|c| (*c).clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(served, leaf.key.clone_key())
        .expect("server certificate");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("doctor-https")
            .enable_all()
            .build()
            .expect("runtime");
        let log = Arc::new(Mutex::new(Vec::new()));
        runtime.spawn(accept_loop(listener, acceptor, handler, log.clone()));
        HttpsServer {
            addr,
            log,
            runtime: Some(runtime),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    handler: Handler,
    log: Arc<Mutex<Vec<Request>>>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (acceptor, handler, log) = (acceptor.clone(), handler.clone(), log.clone());
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (handler, log) = (handler.clone(), log.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let request = Request {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_owned(),
                            headers: parts
                                .headers
                                .iter()
                                .map(|(n, v)| {
                                    (
                                        n.as_str().to_ascii_lowercase(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect(),
                            body,
                        };
                        log.lock().unwrap().push(request.clone());
                        let reply = handler(&request);
                        if !reply.delay.is_zero() {
                            tokio::time::sleep(reply.delay).await;
                        }
                        let mut response = hyper::Response::new(Full::new(Bytes::from(reply.body)));
                        *response.status_mut() =
                            http::StatusCode::from_u16(reply.status).expect("status");
                        for (name, value) in &reply.headers {
                            response.headers_mut().append(
                                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                                http::HeaderValue::from_str(value).expect("header value"),
                            );
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// An RSA signing key under the test's control.
pub struct SigningKey {
    pair: RsaKeyPair,
    /// base64url(SHA-256(SPKI DER)), as kube-apiserver computes it.
    pub kid: String,
}

impl SigningKey {
    pub fn generate() -> SigningKey {
        let pair = josekit::jws::RS256
            .generate_key_pair(2048)
            .expect("RSA key");
        let kid = kube_oidc_publisher::model::jwk::kid_from_spki_der(&pair.to_der_public_key());
        SigningKey { pair, kid }
    }

    /// The public JWK, members in kube-apiserver's order.
    pub fn public_jwk(&self) -> Value {
        let jwk = self.pair.to_jwk_public_key();
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": jwk.parameter("n").expect("n"),
            "e": jwk.parameter("e").expect("e"),
        })
    }

    /// A token as kube-apiserver issues it for `subject`, valid from now for `lifetime`
    /// seconds (negative: expired).
    pub fn token(&self, issuer: &str, subject: &str, audiences: &[&str], lifetime: i64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id(&self.kid);
        let mut payload = josekit::jwt::JwtPayload::new();
        payload.set_issuer(issuer);
        payload.set_subject(subject);
        // An array, as kube-apiserver writes it (josekit would write one audience as a string).
        payload
            .set_claim("aud", Some(json!(audiences)))
            .expect("aud");
        let at = |t: i64| UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
        payload.set_issued_at(&at(now.min(now + lifetime) - 60));
        payload.set_not_before(&at(now.min(now + lifetime) - 60));
        payload.set_expires_at(&at(now + lifetime));
        let parts: Vec<&str> = subject.split(':').collect();
        payload
            .set_claim(
                "kubernetes.io",
                Some(json!({
                    "namespace": parts.get(2).copied().unwrap_or_default(),
                    "serviceaccount": {"name": parts.get(3).copied().unwrap_or_default(), "uid": "2a13334c-6c97-41e1-ab07-e25975715c7e"},
                })),
            )
            .expect("claim");
        let signer = josekit::jws::RS256
            .signer_from_der(self.pair.to_der_private_key())
            .expect("signer");
        josekit::jwt::encode_with_signer(&payload, &header, &signer).expect("signed token")
    }
}

/// What the fake API server serves.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// Its first `--service-account-issuer`.
    pub issuer: String,
    /// Its `/openid/v1/jwks` body.
    pub jwks: Vec<u8>,
    /// ServiceAccounts it knows: `ns/name` → annotations.
    pub service_accounts: BTreeMap<String, BTreeMap<String, String>>,
    /// The bearer token it accepts.
    pub bearer: String,
}

/// A kube-apiserver stand-in: discovery documents, TokenRequest (tokens signed with `key`,
/// for the requested audiences, 10 minutes), GET ServiceAccount. Anything else is 404; a
/// wrong bearer token is 401.
pub fn fake_api_server(
    leaf: &Leaf,
    key: Arc<SigningKey>,
    state: Arc<Mutex<ApiState>>,
) -> HttpsServer {
    let handler: Handler = Arc::new(move |req: &Request| {
        let state = state.lock().unwrap().clone();
        if req.header("authorization") != Some(format!("Bearer {}", state.bearer).as_str()) {
            return Reply::new(401, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#)
                .header("content-type", "application/json");
        }
        let not_found = || {
            Reply::new(404, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not found","reason":"NotFound","code":404}"#)
                .header("content-type", "application/json")
        };
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/openid/v1/jwks") => Reply::json(state.jwks.clone())
                .header("content-type", "application/jwk-set+json")
                .header("cache-control", "public, max-age=3600"),
            ("GET", "/.well-known/openid-configuration") => Reply::json(discovery(&state.issuer))
                .header("cache-control", "public, max-age=3600"),
            (method, path) => {
                let Some(rest) = path.strip_prefix("/api/v1/namespaces/") else {
                    return not_found();
                };
                let parts: Vec<&str> = rest.split('/').collect();
                let (ns, name) = match parts[..] {
                    [ns, "serviceaccounts", name] | [ns, "serviceaccounts", name, "token"] => {
                        (ns, name)
                    }
                    _ => return not_found(),
                };
                let Some(annotations) = state.service_accounts.get(&format!("{ns}/{name}")) else {
                    return not_found();
                };
                match (method, parts.len()) {
                    ("GET", 3) => Reply::json(
                        json!({
                            "apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": name, "namespace": ns, "uid": "2a13334c-6c97-41e1-ab07-e25975715c7e", "annotations": annotations},
                        })
                        .to_string(),
                    ),
                    ("POST", 4) => {
                        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                        let audiences: Vec<String> = body["spec"]["audiences"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default();
                        let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
                        let subject = format!("system:serviceaccount:{ns}:{name}");
                        let token = key.token(&state.issuer, &subject, &audiences, 600);
                        Reply::new(
                            201,
                            json!({
                                "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                "metadata": {"name": name, "namespace": ns},
                                "spec": body["spec"],
                                "status": {"token": token, "expirationTimestamp": "2100-01-01T00:00:00Z"},
                            })
                            .to_string(),
                        )
                        .header("content-type", "application/json")
                    }
                    _ => Reply::new(405, "Method Not Allowed"),
                }
            }
        }
    });
    HttpsServer::start(leaf, &[], handler)
}

/// The discovery document kube-apiserver (and sync) renders for `issuer`, RSA keys only.
pub fn discovery(issuer: &str) -> Vec<u8> {
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string()
    .into_bytes()
}

/// `{"keys":[...]}` of these JWKs.
pub fn jwks(keys: &[Value]) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}
