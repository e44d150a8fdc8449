//! `FakeApiServer`: an in-process HTTPS stand-in for kube-apiserver's two OIDC discovery
//! endpoints, faithful to the recorded fixtures (bodies byte for byte, headers, RBAC outcomes,
//! 405 for other methods), plus the Secrets a test gives it ([`FakeSecret`]: get, and list by
//! label selector, whole or metadata only, in pages, as kube-apiserver serves them). It listens on 127.0.0.1:0 with a fresh rcgen CA and leaf
//! (SANs IP 127.0.0.1 and DNS localhost), runs on its own tokio runtime so tests can be plain
//! `#[test]` functions, serves what the current [`Scenario`] selects, counts requests, and
//! stops on drop. Also a tiny HTTPS/1.1 client ([`https_request`]) for checking it.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::fixtures::{fixture, jwks_only_new_key};

pub use super::fixtures::ISSUER;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// Where the `kubernetes` Service's EndpointSlices are listed (the label selector is in the
/// query, which the fake does not check).
pub const ENDPOINT_SLICES_PATH: &str =
    "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";

/// How the fake answers one route beyond the two documents: the EndpointSlice list (by default
/// a list naming this server alone, as a single-API-server cluster answers), or TokenRequest
/// (`POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`, any body; off by default). `Off`
/// answers 404.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Route {
    #[default]
    Off,
    /// This status and body, `Content-Type: application/json`.
    Answer { status: u16, body: Vec<u8> },
    /// 403 as RBAC answers a resource request the admin may not make.
    Forbidden,
}

impl Route {
    /// TokenRequest answered with the recorded `tokenrequest-response.json` (201), byte for
    /// byte (its token is signed by the old RSA key).
    pub fn recorded_token_request() -> Route {
        Route::Answer {
            status: 201,
            body: fixture("tokenrequest-response.json"),
        }
    }
}

/// What the fake API server serves. Switch with [`FakeApiServer::set_scenario`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Run A: `openid-configuration.json` + `jwks-rsa.json`.
    Rsa,
    /// Run B: old and new RSA keys (`jwks-rotation-two-keys.json`), same discovery doc.
    Rotation,
    /// After rotation with only the new key (`ck0v...`) left.
    RotatedOnlyNew,
    /// Run C: EC P-256.
    Ec,
    /// Run E: EC P-384.
    Ec384,
    /// Run D: RSA + EC P-256.
    Mixed,
    /// Run F: discovery doc whose `jwks_uri` is the API server's own address.
    DefaultJwksUri,
    /// `{"keys":[]}` with the RSA discovery doc.
    EmptyKeys,
    /// A truncated JWKS (`{"keys":[{"kty":`) with the RSA discovery doc.
    MalformedJwks,
    /// 500 with a `Status` body on both paths (after authentication).
    ServerError,
    /// This status code with a `Status` body whose `message` is this text, as is (control
    /// characters and all: a hostile or broken API server).
    StatusMessage { code: u16, message: String },
    /// Sleeps this long before answering anything, then behaves like `Rsa`.
    Slow(Duration),
    /// 403 for the admin token too (RBAC without the discovery grant).
    Forbidden,
    /// 401 for everyone, including anonymous requests.
    Unauthorized,
    /// Serve these exact bodies with the recorded 200 headers.
    Custom { jwks: Vec<u8>, discovery: Vec<u8> },
}

impl Scenario {
    /// `(discovery, jwks)` bodies served with 200, or `None` for the error scenarios.
    pub fn documents(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let rsa_discovery = || fixture("openid-configuration.json");
        Some(match self {
            Scenario::Rsa | Scenario::Slow(_) => (rsa_discovery(), fixture("jwks-rsa.json")),
            Scenario::Rotation => (rsa_discovery(), fixture("jwks-rotation-two-keys.json")),
            Scenario::RotatedOnlyNew => (rsa_discovery(), jwks_only_new_key()),
            Scenario::Ec => (
                fixture("openid-configuration-ec.json"),
                fixture("jwks-ec.json"),
            ),
            Scenario::Ec384 => (
                fixture("openid-configuration-ec384.json"),
                fixture("jwks-ec384.json"),
            ),
            Scenario::Mixed => (
                fixture("openid-configuration-mixed-rsa-ec.json"),
                fixture("jwks-mixed-rsa-ec.json"),
            ),
            Scenario::DefaultJwksUri => (
                fixture("openid-configuration-default-jwks-uri.json"),
                fixture("jwks-rsa.json"),
            ),
            Scenario::EmptyKeys => (rsa_discovery(), br#"{"keys":[]}"#.to_vec()),
            Scenario::MalformedJwks => (rsa_discovery(), br#"{"keys":[{"kty":"#.to_vec()),
            Scenario::Custom { jwks, discovery } => (discovery.clone(), jwks.clone()),
            Scenario::ServerError
            | Scenario::StatusMessage { .. }
            | Scenario::Forbidden
            | Scenario::Unauthorized => return None,
        })
    }
}

/// One request as the fake server saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The raw `Accept` header, if any.
    pub accept: Option<String>,
    /// The raw `Authorization` header, if any.
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

struct State {
    scenario: Scenario,
    log: Vec<RecordedRequest>,
}

struct Shared {
    state: Mutex<State>,
    token: String,
    flowschema_uid: String,
    prioritylevel_uid: String,
    tls_failures: AtomicUsize,
    endpoint_slices: Mutex<Route>,
    token_request: Mutex<Route>,
    secrets: Mutex<SecretsState>,
    /// Replicas started so far: the next binds 127.0.0.(2 + this).
    replicas: AtomicUsize,
}

/// The fake API server. Stops (listener closed, connections dropped) on drop.
pub struct FakeApiServer {
    addr: SocketAddr,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    pki: Arc<TestPki>,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The accept loop: aborted on drop, also when the runtime is shared ([`FakeApiServer::on`]).
    accept: tokio::task::AbortHandle,
}

impl FakeApiServer {
    /// Start serving `Scenario::Rsa`.
    pub fn start() -> FakeApiServer {
        FakeApiServer::with_scenario(Scenario::Rsa)
    }

    pub fn with_scenario(scenario: Scenario) -> FakeApiServer {
        let token = format!("kop-test-admin-{:016x}", random_u64());
        FakeApiServer::serve(Arc::new(TestPki::generate()), token, scenario)
    }

    /// Another API server of the same control plane: the same serving certificate and admin
    /// token (kube-apiservers behind one Service share both), its own scenario, and the same
    /// port on its own loopback address (127.0.0.2, 127.0.0.3, …): the `kubernetes`
    /// EndpointSlice the API servers maintain has one port for all of them, so a control plane
    /// on one machine can be written the way a real one is (one slice, one port).
    pub fn replica(&self, scenario: Scenario) -> FakeApiServer {
        let n = 2 + self.shared.replicas.fetch_add(1, Ordering::SeqCst);
        let ip = Ipv4Addr::new(127, 0, 0, u8::try_from(n).expect("fewer than 254 replicas"));
        FakeApiServer::serve_on(
            self.pki.clone(),
            self.shared.token.clone(),
            scenario,
            SocketAddr::from((ip, self.addr.port())),
            None,
        )
    }

    /// Like [`FakeApiServer::with_scenario`], but its certificate names only DNS `localhost`
    /// (no IP address): a client connecting to 127.0.0.1 verifies it only when it uses the TLS
    /// name `localhost`.
    pub fn dns_only(scenario: Scenario) -> FakeApiServer {
        let token = format!("kop-test-admin-{:016x}", random_u64());
        FakeApiServer::serve(Arc::new(TestPki::generate_dns_only()), token, scenario)
    }

    /// A server whose certificate is self-signed with `CA:TRUE` (SANs IP 127.0.0.1 and DNS
    /// localhost), and whose [`FakeApiServer::ca_pem`] is that same certificate: the kubeconfig
    /// many single-node clusters hand out, which kubectl accepts.
    pub fn self_signed_ca(scenario: Scenario) -> FakeApiServer {
        let token = format!("kop-test-admin-{:016x}", random_u64());
        FakeApiServer::serve(
            Arc::new(TestPki::generate_self_signed_ca()),
            token,
            scenario,
        )
    }

    /// A server that requires a client certificate signed by `client_ca` (DER) in the TLS
    /// handshake, and treats a request on such a connection as the admin (as kube-apiserver's
    /// x509 authenticator does for a certificate of its `--client-ca-file`).
    pub fn requiring_client_cert(
        scenario: Scenario,
        client_ca: CertificateDer<'static>,
    ) -> FakeApiServer {
        let token = format!("kop-test-admin-{:016x}", random_u64());
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        FakeApiServer::serve_on(
            Arc::new(TestPki::generate()),
            token,
            scenario,
            any_port,
            Some(client_ca),
        )
    }

    /// `https://localhost:PORT`
    pub fn localhost_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// How to answer the EndpointSlice list ([`ENDPOINT_SLICES_PATH`]).
    pub fn set_endpoint_slices(&self, route: Route) {
        *self.shared.endpoint_slices.lock().unwrap() = route;
    }

    /// How to answer TokenRequest.
    pub fn set_token_request(&self, route: Route) {
        *self.shared.token_request.lock().unwrap() = route;
    }

    /// The Secrets this server holds (none at first), replacing any held before.
    pub fn set_secrets(&self, secrets: Vec<FakeSecret>) {
        self.shared.secrets.lock().unwrap().secrets = secrets;
    }

    /// Answers 403, as RBAC does, to every Secrets request of `verb` (`"get"`, `"list"`);
    /// an empty slice forbids nothing.
    pub fn forbid_secrets(&self, verbs: &[&'static str]) {
        self.shared.secrets.lock().unwrap().forbidden = verbs.to_vec();
    }

    fn serve(pki: Arc<TestPki>, token: String, scenario: Scenario) -> FakeApiServer {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        FakeApiServer::serve_on(pki, token, scenario, any_port, None)
    }

    /// Like [`FakeApiServer::with_scenario`] (its own CA, certificate and token), served by
    /// `runtime` instead of a runtime of its own: the fleet benchmark serves a thousand API
    /// servers from one runtime rather than a thousand OS threads.
    pub fn on(runtime: &tokio::runtime::Handle, scenario: Scenario) -> FakeApiServer {
        let token = format!("kop-test-admin-{:016x}", random_u64());
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let pki = Arc::new(TestPki::generate());
        FakeApiServer::serve_with(pki, token, scenario, any_port, None, Some(runtime))
    }

    /// Serve on `bind`; with `client_ca`, require a client certificate it signed.
    fn serve_on(
        pki: Arc<TestPki>,
        token: String,
        scenario: Scenario,
        bind: SocketAddr,
        client_ca: Option<CertificateDer<'static>>,
    ) -> FakeApiServer {
        FakeApiServer::serve_with(pki, token, scenario, bind, client_ca, None)
    }

    /// [`FakeApiServer::serve_on`], on `shared_runtime` when given, else on a runtime of its own.
    fn serve_with(
        pki: Arc<TestPki>,
        token: String,
        scenario: Scenario,
        bind: SocketAddr,
        client_ca: Option<CertificateDer<'static>>,
        shared_runtime: Option<&tokio::runtime::Handle>,
    ) -> FakeApiServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(ca).expect("client CA");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client certificate verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut tls = builder
            .with_single_cert(vec![pki.leaf_der.clone()], pki.leaf_key.clone_key())
            .expect("server certificate");
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // As kube-apiserver (Go's crypto/tls) behaves on the wire: Go sends its TLS 1.3
        // session tickets in its first flight, so after the client's Finished it writes
        // nothing until the request has arrived, and the kernel acknowledges the Finished
        // only when its delayed-ACK timer fires (40 ms). rustls would send its tickets right
        // after the client's Finished, and that data carries the ACK at once, hiding what a
        // client without TCP_NODELAY waits for on a real API server (its request stays
        // behind the unacknowledged Finished: Nagle). No tickets: nothing written there.
        tls.send_tls13_tickets = 0;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                scenario,
                log: Vec::new(),
            }),
            token,
            flowschema_uid: uuid_ish(),
            prioritylevel_uid: uuid_ish(),
            tls_failures: AtomicUsize::new(0),
            endpoint_slices: Mutex::new(Route::Off),
            token_request: Mutex::new(Route::Off),
            secrets: Mutex::default(),
            replicas: AtomicUsize::new(0),
        });

        let listener = std::net::TcpListener::bind(bind)
            .unwrap_or_else(|e| panic!("binding the fake API server to {bind}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let (runtime, handle) = match shared_runtime {
            Some(shared) => (None, shared.clone()),
            None => {
                let own = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("fake-apiserver")
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                let handle = own.handle().clone();
                (Some(own), handle)
            }
        };
        let accept = handle
            .spawn(accept_loop(listener, acceptor, shared.clone()))
            .abort_handle();

        // As a real single-API-server cluster: the kubernetes Service lists this server alone.
        *shared.endpoint_slices.lock().unwrap() = Route::Answer {
            status: 200,
            body: synthetic_endpoint_slices(&[addr], &[]),
        };
        FakeApiServer {
            addr,
            ca_pem: pki.ca_pem.clone(),
            ca_der: pki.ca_der.clone(),
            pki,
            shared,
            runtime,
            accept,
        }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The bearer token that gets 200 (the "ceo-admin" of the recordings).
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.state.lock().unwrap().scenario = scenario;
    }

    pub fn scenario(&self) -> Scenario {
        self.shared.state.lock().unwrap().scenario.clone()
    }

    /// Number of requests per path (query stripped, trailing slash kept), all methods and
    /// outcomes.
    pub fn requests(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.shared.state.lock().unwrap().log {
            *counts.entry(r.path.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Total number of HTTP requests served.
    pub fn request_count(&self) -> usize {
        self.shared.state.lock().unwrap().log.len()
    }

    /// Every request in arrival order.
    pub fn request_log(&self) -> Vec<RecordedRequest> {
        self.shared.state.lock().unwrap().log.clone()
    }

    pub fn reset_requests(&self) {
        self.shared.state.lock().unwrap().log.clear();
    }

    /// TLS handshakes that failed (e.g. a client that did not trust the CA).
    pub fn tls_failures(&self) -> usize {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }

    /// Convenience: perform one HTTPS/1.1 request against this server, trusting its CA.
    pub fn request(&self, method: &str, path: &str, bearer: Option<&str>) -> HttpResponse {
        https_request(self.addr, &self.ca_der, method, path, bearer)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some(rt) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // As kube-apiserver (Go) does: without it, a response after a TLS 1.3 handshake can
        // wait for the client's delayed ACK behind the session tickets (40 ms stalls).
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    _ => {
                        shared.tls_failures.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
            // Only a verified certificate gets here (the verifier refuses the others).
            let client_cert = tls.get_ref().1.peer_certificates().is_some();
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(&shared, req, client_cert).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

enum Caller {
    Anonymous,
    Admin,
    Invalid,
}

async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    client_cert: bool,
) -> Response<Full<Bytes>> {
    let scenario = shared.state.lock().unwrap().scenario.clone();
    if let Scenario::Slow(delay) = scenario {
        tokio::time::sleep(delay).await;
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let accept = header_string(&req, header::ACCEPT);
    let authorization = header_string(&req, header::AUTHORIZATION);
    let caller = match authorization.as_deref() {
        None if client_cert => Caller::Admin,
        None => Caller::Anonymous,
        Some(value) => match value.strip_prefix("Bearer ") {
            Some(token) if token == shared.token => Caller::Admin,
            _ => Caller::Invalid,
        },
    };
    let asked = Asked {
        method: req.method(),
        path: &path,
        query: query.as_deref(),
        accept: accept.as_deref(),
    };
    let response = respond(shared, &scenario, &asked, caller);
    shared.state.lock().unwrap().log.push(RecordedRequest {
        method: req.method().to_string(),
        path,
        query,
        accept,
        authorization,
        user_agent: header_string(&req, header::USER_AGENT),
        status: response.status().as_u16(),
    });
    response
}

/// What a request asks for, as the routes read it.
struct Asked<'a> {
    method: &'a Method,
    path: &'a str,
    query: Option<&'a str>,
    accept: Option<&'a str>,
}

fn respond(
    shared: &Shared,
    scenario: &Scenario,
    asked: &Asked,
    caller: Caller,
) -> Response<Full<Bytes>> {
    let (method, path) = (asked.method, asked.path);
    let unauthorized = || {
        error(
            shared,
            StatusCode::UNAUTHORIZED,
            fixture("unauthorized-anonymous-jwks.json"),
            false,
        )
    };
    if *scenario == Scenario::Unauthorized {
        return unauthorized();
    }
    match caller {
        Caller::Anonymous => return forbidden(shared, "system:anonymous", path),
        Caller::Invalid => return unauthorized(),
        Caller::Admin => {}
    }
    if let Some(response) = secrets_route(shared, asked) {
        return response;
    }
    if let Some(response) = extra_route(shared, method, path) {
        return response;
    }
    if method != Method::GET {
        let mut response = Response::new(Full::new(Bytes::from_static(b"Method Not Allowed")));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        set(
            &mut response,
            header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        );
        return response;
    }
    let is_discovery = path.trim_end_matches('/') == DISCOVERY_PATH;
    let is_jwks = path.trim_end_matches('/') == JWKS_PATH;
    if !is_discovery && !is_jwks {
        let body = status_body(
            404,
            "NotFound",
            "the server could not find the requested resource",
            "{}",
        );
        return error(shared, StatusCode::NOT_FOUND, body, false);
    }
    match scenario {
        Scenario::Forbidden => return forbidden(shared, "ceo-admin", path),
        Scenario::ServerError => {
            let details = "{\n    \"causes\": [\n      {\n        \"message\": \"fake failure\"\n      }\n    ]\n  }";
            let body = status_body(
                500,
                "InternalError",
                "Internal error occurred: fake failure",
                details,
            );
            return error(shared, StatusCode::INTERNAL_SERVER_ERROR, body, false);
        }
        Scenario::StatusMessage { code, message } => {
            let body = status_body(*code, "InternalError", message, "{}");
            let status = StatusCode::from_u16(*code).expect("status code");
            return error(shared, status, body, false);
        }
        _ => {}
    }
    let (discovery, jwks) = scenario.documents().expect("documents for scenario");
    let (body, content_type) = if is_discovery {
        (discovery, "application/json")
    } else {
        (jwks, "application/jwk-set+json")
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    set(&mut response, "audit-id", &uuid_ish());
    set(&mut response, header::CACHE_CONTROL, "public, max-age=3600");
    set(&mut response, header::CONTENT_TYPE, content_type);
    apf_headers(shared, &mut response);
    response
}

/// The EndpointSlice list and TokenRequest, when the test switched them on.
fn extra_route(shared: &Shared, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
    let token_request = path
        .strip_prefix("/api/v1/namespaces/")
        .map(|rest| rest.split('/').collect::<Vec<_>>())
        .filter(|parts| matches!(parts[..], [_, "serviceaccounts", _, "token"]));
    let (route, forbidden_message) = if method == Method::GET && path == ENDPOINT_SLICES_PATH {
        (
            shared.endpoint_slices.lock().unwrap().clone(),
            "endpointslices.discovery.k8s.io is forbidden: User \"ceo-admin\" cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"default\"".to_owned(),
        )
    } else if let (true, Some(parts)) = (method == Method::POST, token_request) {
        (
            shared.token_request.lock().unwrap().clone(),
            format!("serviceaccounts \"{}\" is forbidden: User \"ceo-admin\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"{}\"", parts[2], parts[0]),
        )
    } else {
        return None;
    };
    match route {
        Route::Off => None,
        Route::Forbidden => Some(error(
            shared,
            StatusCode::FORBIDDEN,
            status_body(403, "Forbidden", &forbidden_message, "{}"),
            true,
        )),
        Route::Answer { status, body } => Some(api_answer(
            shared,
            StatusCode::from_u16(status).expect("status"),
            body,
        )),
    }
}

/// An API answer as kube-apiserver sends one: JSON, not cached, with an audit ID and the
/// priority-and-fairness headers.
fn api_answer(shared: &Shared, status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    set(&mut response, "audit-id", &uuid_ish());
    set(&mut response, header::CACHE_CONTROL, "no-cache, private");
    set(&mut response, header::CONTENT_TYPE, "application/json");
    apf_headers(shared, &mut response);
    response
}

/// A `discovery.k8s.io/v1` `EndpointSliceList` for the `kubernetes` Service, shaped as the
/// API servers' own reconciler writes it: one slice named `kubernetes`, labelled
/// `kubernetes.io/service-name: kubernetes` and nothing else, one port named `https`, one
/// endpoint per address, each ready unless listed in `not_ready`. Every address must have the
/// same port (start the other API servers with [`FakeApiServer::replica`]). SYNTHETIC: no
/// recording from a real HA API server exists; the shape follows
/// pkg/controlplane/reconcilers/endpointsadapter.go.
pub fn synthetic_endpoint_slices(addresses: &[SocketAddr], not_ready: &[SocketAddr]) -> Vec<u8> {
    let port = addresses.first().map_or(443, SocketAddr::port);
    assert!(
        addresses.iter().all(|a| a.port() == port),
        "the kubernetes EndpointSlice has one port for every API server: {addresses:?}"
    );
    let endpoints: Vec<serde_json::Value> = addresses
        .iter()
        .map(|addr| {
            serde_json::json!({
                "addresses": [addr.ip().to_string()],
                "conditions": { "ready": !not_ready.contains(addr) },
            })
        })
        .collect();
    let ipv6 = addresses.first().is_some_and(SocketAddr::is_ipv6);
    let items = vec![kubernetes_slice("kubernetes", ipv6, endpoints, port)];
    serde_json::to_vec(&serde_json::json!({
        "kind": "EndpointSliceList",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": { "resourceVersion": "4711" },
        "items": items,
    }))
    .expect("JSON")
}

/// One EndpointSlice labelled for the `kubernetes` Service (the label anyone may set).
pub fn kubernetes_slice(
    name: &str,
    ipv6: bool,
    endpoints: Vec<serde_json::Value>,
    port: u16,
) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uuid_ish(),
            "resourceVersion": "200",
            "generation": 1,
            "creationTimestamp": "2026-11-22T05:20:11Z",
            "labels": { "kubernetes.io/service-name": "kubernetes" },
        },
        "addressType": if ipv6 { "IPv6" } else { "IPv4" },
        "endpoints": endpoints,
        "ports": [{ "name": "https", "protocol": "TCP", "port": port }],
    })
}

/// 403 as RBAC answers it, the recorded body with `user` and `path` substituted.
fn forbidden(shared: &Shared, user: &str, path: &str) -> Response<Full<Bytes>> {
    let recorded = String::from_utf8(fixture("forbidden-anonymous-jwks.json")).unwrap();
    let body = recorded
        .replace("system:anonymous", user)
        .replace("\\\"/openid/v1/jwks\\\"", &format!("\\\"{path}\\\""));
    error(shared, StatusCode::FORBIDDEN, body.into_bytes(), true)
}

fn error(
    shared: &Shared,
    status: StatusCode,
    body: Vec<u8>,
    nosniff: bool,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    set(&mut response, "audit-id", &uuid_ish());
    set(&mut response, header::CACHE_CONTROL, "no-cache, private");
    set(&mut response, header::CONTENT_TYPE, "application/json");
    if nosniff {
        set(&mut response, "x-content-type-options", "nosniff");
    }
    if status != StatusCode::UNAUTHORIZED {
        apf_headers(shared, &mut response);
    }
    response
}

/// The Secrets routes: `GET /api/v1/namespaces/NS/secrets/NAME`, and the lists
/// `GET /api/v1/secrets` and `GET /api/v1/namespaces/NS/secrets` (label selector, `limit` and
/// `continue` honoured; metadata only when the `Accept` header asks for
/// `as=PartialObjectMetadataList`). Other paths: `None`.
fn secrets_route(shared: &Shared, asked: &Asked) -> Option<Response<Full<Bytes>>> {
    if asked.method != Method::GET {
        return None;
    }
    let parts: Vec<&str> = asked.path.trim_start_matches('/').split('/').collect();
    let (namespace, name) = match parts[..] {
        ["api", "v1", "secrets"] => (None, None),
        ["api", "v1", "namespaces", ns, "secrets"] => (Some(ns), None),
        ["api", "v1", "namespaces", ns, "secrets", name] => (Some(ns), Some(name)),
        _ => return None,
    };
    let state = shared.secrets.lock().unwrap();
    let verb = if name.is_some() { "get" } else { "list" };
    if state.forbidden.contains(&verb) {
        let (what, details) = match name {
            Some(name) => (format!("secrets {name:?}"), secret_details(name)),
            None => (
                "secrets".to_owned(),
                "{\n    \"kind\": \"secrets\"\n  }".to_owned(),
            ),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace {ns:?}"),
            None => "at the cluster scope".to_owned(),
        };
        let message = format!("{what} is forbidden: User \"ceo-admin\" cannot {verb} resource \"secrets\" in API group \"\" {scope}");
        let body = status_body(403, "Forbidden", &message, &details);
        return Some(error(shared, StatusCode::FORBIDDEN, body, true));
    }
    let body = match (namespace, name) {
        (Some(namespace), Some(name)) => {
            let found = state
                .secrets
                .iter()
                .find(|s| s.namespace == namespace && s.name == name);
            let Some(secret) = found else {
                let message = format!("secrets {name:?} not found");
                let body = status_body(404, "NotFound", &message, &secret_details(name));
                return Some(error(shared, StatusCode::NOT_FOUND, body, false));
            };
            serde_json::to_vec(&secret.to_json(true)).expect("JSON")
        }
        (namespace, _) => {
            let metadata_only = asked
                .accept
                .is_some_and(|a| a.contains("as=PartialObjectMetadataList"));
            secret_list(&state.secrets, namespace, asked.query, metadata_only)
        }
    };
    Some(api_answer(shared, StatusCode::OK, body))
}

/// The `details` of a `Status` about Secret `name`, as kube-apiserver writes them.
fn secret_details(name: &str) -> String {
    format!("{{\n    \"name\": {name:?},\n    \"kind\": \"secrets\"\n  }}")
}

/// A Secret list, as kube-apiserver answers it: a `SecretList` of whole Secrets, or, when
/// metadata only was asked for, a `PartialObjectMetadataList` (apiVersion `meta.k8s.io/v1`)
/// whose items are `PartialObjectMetadata` holding `metadata` alone (Kubernetes API concepts,
/// "Retrieving resources as metadata only"). The query's `labelSelector` (`key`, `!key`,
/// `key=value`, `key!=value`, comma-separated), `limit` and `continue` are honoured; the
/// continue token is the offset of the next item.
fn secret_list(
    secrets: &[FakeSecret],
    namespace: Option<&str>,
    query: Option<&str>,
    metadata_only: bool,
) -> Vec<u8> {
    let mut selector = String::new();
    let mut limit = usize::MAX;
    let mut offset = 0;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "labelSelector" => selector = value.into_owned(),
            "limit" => limit = value.parse().expect("limit is a number"),
            "continue" => offset = value.parse().expect("a continue token of this server"),
            _ => {}
        }
    }
    let mut matching: Vec<&FakeSecret> = secrets
        .iter()
        .filter(|s| namespace.is_none_or(|ns| s.namespace == ns))
        .filter(|s| selects(&selector, &s.labels))
        .collect();
    matching.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let page: Vec<serde_json::Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| {
            if metadata_only {
                serde_json::json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": s.metadata(),
                })
            } else {
                s.to_json(false)
            }
        })
        .collect();
    let next = offset + page.len();
    let mut list_meta = serde_json::json!({ "resourceVersion": "4712" });
    if next < matching.len() {
        list_meta["continue"] = next.to_string().into();
        list_meta["remainingItemCount"] = (matching.len() - next).into();
    }
    let (kind, api_version) = if metadata_only {
        ("PartialObjectMetadataList", "meta.k8s.io/v1")
    } else {
        ("SecretList", "v1")
    };
    serde_json::to_vec(&serde_json::json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": list_meta,
        "items": page,
    }))
    .expect("JSON")
}

/// Whether `labels` match a label selector of `key`, `!key`, `key=value`, `key==value` and
/// `key!=value` requirements, comma-separated (all must hold); empty selects everything.
fn selects(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .all(|requirement| {
            if let Some((key, value)) = requirement.split_once("!=") {
                labels.get(key.trim()).map(String::as_str) != Some(value.trim())
            } else if let Some((key, value)) = requirement.split_once('=') {
                let value = value.trim_start_matches('=').trim();
                labels.get(key.trim()).map(String::as_str) == Some(value)
            } else if let Some(key) = requirement.strip_prefix('!') {
                !labels.contains_key(key.trim())
            } else {
                labels.contains_key(requirement)
            }
        })
}

/// A Secret the fake API server holds (see [`FakeApiServer::set_secrets`]).
#[derive(Clone, Debug, Default)]
pub struct FakeSecret {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: BTreeMap<String, Vec<u8>>,
    pub resource_version: String,
}

impl FakeSecret {
    /// An empty Secret with a fresh resource version.
    pub fn new(namespace: &str, name: &str) -> FakeSecret {
        static VERSION: AtomicU64 = AtomicU64::new(1000);
        FakeSecret {
            namespace: namespace.into(),
            name: name.into(),
            resource_version: VERSION.fetch_add(1, Ordering::Relaxed).to_string(),
            ..FakeSecret::default()
        }
    }

    pub fn label(mut self, key: &str, value: &str) -> FakeSecret {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn data(mut self, key: &str, value: impl Into<Vec<u8>>) -> FakeSecret {
        self.data.insert(key.into(), value.into());
        self
    }

    fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "namespace": self.namespace,
            "uid": uuid_ish(),
            "resourceVersion": self.resource_version,
            "creationTimestamp": "2026-11-22T05:20:11Z",
            "labels": self.labels,
        })
    }

    /// The Secret as kube-apiserver serves it (`data` base64-encoded); `kind` and
    /// `apiVersion` only when `alone` (a list's items carry neither).
    fn to_json(&self, alone: bool) -> serde_json::Value {
        use base64::Engine as _;
        let data: BTreeMap<&str, String> = self
            .data
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    base64::engine::general_purpose::STANDARD.encode(v),
                )
            })
            .collect();
        let mut secret = serde_json::json!({
            "metadata": self.metadata(),
            "data": data,
            "type": "Opaque",
        });
        if alone {
            secret["kind"] = "Secret".into();
            secret["apiVersion"] = "v1".into();
        }
        secret
    }
}

/// The Secrets a server holds and the verbs RBAC refuses on them.
#[derive(Default)]
struct SecretsState {
    secrets: Vec<FakeSecret>,
    forbidden: Vec<&'static str>,
}

/// A kube `Status` body, pretty-printed like the API server does (2 spaces, no newline).
fn status_body(code: u16, reason: &str, message: &str, details: &str) -> Vec<u8> {
    format!(
        "{{\n  \"kind\": \"Status\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {{}},\n  \"status\": \"Failure\",\n  \"message\": {},\n  \"reason\": \"{reason}\",\n  \"details\": {details},\n  \"code\": {code}\n}}",
        serde_json::to_string(message).unwrap()
    )
    .into_bytes()
}

fn apf_headers(shared: &Shared, response: &mut Response<Full<Bytes>>) {
    set(
        response,
        "x-kubernetes-pf-flowschema-uid",
        &shared.flowschema_uid,
    );
    set(
        response,
        "x-kubernetes-pf-prioritylevel-uid",
        &shared.prioritylevel_uid,
    );
}

fn set<K: header::IntoHeaderName>(response: &mut Response<Full<Bytes>>, name: K, value: &str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_str(value).expect("header value"));
}

fn header_string<B>(req: &Request<B>, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Certificates for one fake server: a self-signed test CA and a leaf it signed for
/// IP 127.0.0.1 and DNS localhost.
pub struct TestPki {
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    pub leaf_der: CertificateDer<'static>,
    pub leaf_key: PrivateKeyDer<'static>,
}

impl TestPki {
    pub fn generate() -> TestPki {
        TestPki::generate_with(true)
    }

    /// A leaf for DNS `localhost` only, without the 127.0.0.1 IP address.
    pub fn generate_dns_only() -> TestPki {
        TestPki::generate_with(false)
    }

    /// One self-signed `CA:TRUE` certificate that is both the CA and the serving
    /// certificate (SANs IP 127.0.0.1 and DNS localhost).
    pub fn generate_self_signed_ca() -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("certificate params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver self-signed");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-signed certificate");
        TestPki {
            ca_pem: cert.pem(),
            ca_der: cert.der().clone(),
            leaf_der: cert.der().clone(),
            leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    fn generate_with(ip_san: bool) -> TestPki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose, SanType,
        };
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kube-oidc-publisher test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
        if ip_san {
            leaf_params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("leaf certificate");

        TestPki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            leaf_der: leaf_cert.der().clone(),
            leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased, in received order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTPS/1.1 request (`Connection: close`) to `addr`, trusting only `ca` and checking
/// the certificate against the IP address. Panics on transport errors.
pub fn https_request(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
) -> HttpResponse {
    https_request_with(addr, ca, method, path, bearer, &[])
}

/// [`https_request`] with more request headers (`name`, `value`).
pub fn https_request_with(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("CA into root store");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kop-test-harness\r\nConnection: close\r\n"
    );
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let raw = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
            let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
            tls.write_all(request.as_bytes())
                .await
                .expect("write request");
            let mut raw = Vec::new();
            match tls.read_to_end(&mut raw).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) => panic!("reading response: {e}"),
            }
            raw
        })
        .await
        .expect("HTTPS request timed out")
    });
    parse_http1(&raw)
}

fn parse_http1(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// A pseudo-random u64 (std's per-process random hasher keys plus a counter and the clock).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

/// A random version-4-shaped UUID string, like the API server's `audit-id`.
pub fn uuid_ish() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}
