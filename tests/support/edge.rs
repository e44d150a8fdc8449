//! `Edge`: a stand-in for CloudFront's data plane, serving the distributions moto holds, so
//! integration tests can read documents "through the issuer URL" as STS does. One HTTPS server
//! per [`Edge`] on 127.0.0.1 (tokio-rustls, its own thread and runtime, stopped on Drop), with
//! a certificate from its own test CA for `*.cloudfront.net` plus the names a test registers.
//!
//! Per request it does what CloudFront in front of an S3 REST origin does, reading moto with
//! the harness's own (unlogged) clients:
//! - routes by Host to the distribution whose `DomainName` or `Aliases` match; unknown host →
//!   403, as CloudFront answers a name it does not serve;
//! - a distribution that is not `Deployed` yet → 503: the change has not reached this edge.
//!   (AWS gives no single answer there: the name may not resolve yet, or an edge answers
//!   with an error. A fixed status tells a test "read too early" apart from a policy refusal
//!   or a redirect; the product must not read through before the distribution is Deployed.)
//!   Methods other than GET and HEAD → 403, as with `AllowedMethods` GET, HEAD;
//! - the origin answers as S3 would: the global name `BUCKET.s3.amazonaws.com` for a bucket
//!   outside us-east-1 → 307 TemporaryRedirect; a regional name with the wrong Region → 301
//!   PermanentRedirect; no OAC on the origin → an anonymous request (403 unless the bucket
//!   policy grants anonymous `s3:GetObject` and the bucket's RestrictPublicBuckets is off);
//!   an OAC → a request as the service principal `cloudfront.amazonaws.com` with
//!   `aws:SourceArn` = the distribution's ARN, allowed only by a matching Allow statement
//!   (see [`evaluate`]); an explicit Deny wins. A missing key → 403 (404 when the policy also
//!   grants `s3:ListBucket`), as S3 answers;
//! - caches 200s and redirects per path as CachingOptimized does (`Cache-Control` `s-maxage`
//!   or `max-age` clamped to 1 s … 1 year; 1 day without; 1 s for no-cache/no-store/private;
//!   CachingDisabled caches nothing); 4xx/5xx are not cached (CloudFront keeps them 10 s by
//!   default; tests would only wait for that). Before each lookup it reads the distribution's
//!   invalidations and drops the cached paths of every one it has not seen yet (exact path,
//!   or a prefix ending in `*`).
//!
//! Every request is logged ([`EdgeRequest`]: host, path, status, hit or miss, whether the
//! origin was fetched). The binary reaches the edge with `--ca-file` [`Edge::ca_file`] and
//! `--connect-to` [`Edge::connect_to`]: the product's `--connect-to` needs a HOST (curl's
//! empty-HOST form is refused by src/tls), so distributions are named after the access key
//! that created them ([`cloudfront_domain`]) and [`Edge::connect_to_any`] lists the names a
//! test's key can produce. It must not decide what a test expects; it only serves.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::apiserver::HttpResponse;
use super::moto::{cloudfront_domain, harness_cloudfront_client, moto, s3_client, ACCOUNT_ID};

// The same file some test binaries also load as their own `tls_server`: two copies of plain
// helpers, which is harmless (the edge only hands out PEM and DER, never a `Ca`).
#[allow(clippy::duplicate_mod)]
#[path = "../tls_server/mod.rs"]
mod tls_server;

/// The managed cache policy that never caches (CachingDisabled).
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const MIN_TTL: u64 = 1;
const DEFAULT_TTL: u64 = 86_400;
const MAX_TTL: u64 = 31_536_000;
/// How many distribution names per access key [`Edge::connect_to_any`] covers.
const NAMES_PER_KEY: usize = 4;

/// Hit or miss, as CloudFront's `X-Cache` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    Hit,
    Miss,
    /// Answered before the cache (unknown host, not deployed, method refused).
    Error,
}

/// One request the edge answered.
#[derive(Clone, Debug)]
pub struct EdgeRequest {
    /// The Host header without port (SNI when absent), lower-case.
    pub host: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub cache: Cache,
    /// Whether the edge fetched the object from the origin (a signed GetObject to moto).
    pub origin_fetch: bool,
    /// The distribution it was routed to, if any.
    pub distribution: Option<String>,
}

/// One cached answer.
#[derive(Clone)]
struct Cached {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    stored: Instant,
    ttl: Duration,
}

struct State {
    s3: aws_sdk_s3::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    /// (distribution id, path) → cached answer.
    cache: Mutex<HashMap<(String, String), Cached>>,
    seen_invalidations: Mutex<HashSet<String>>,
    log: Arc<Mutex<Vec<EdgeRequest>>>,
}

/// A running test edge (see the module documentation).
pub struct Edge {
    addr: SocketAddr,
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    dir: tempfile::TempDir,
    names: Vec<String>,
    log: Arc<Mutex<Vec<EdgeRequest>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Edge {
    /// An edge for `*.cloudfront.net` only.
    pub fn start() -> Edge {
        Edge::start_with_names(&[])
    }

    /// An edge whose certificate also covers `names` (custom domains, e.g. `oidc.kop.test`).
    pub fn start_with_names(names: &[&str]) -> Edge {
        let endpoint = moto().endpoint();
        let ca = tls_server::Ca::root("kop test edge CA");
        let mut sans = vec!["*.cloudfront.net"];
        sans.extend_from_slice(names);
        let leaf = ca.leaf_with(&sans, (2100, 1, 1));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der.clone()], leaf.key.clone_key())
        .expect("edge certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let dir = tempfile::tempdir().expect("edge temp dir");
        std::fs::write(dir.path().join("edge-ca.pem"), &ca.pem).expect("writing the edge CA");
        let listener = StdListener::bind("127.0.0.1:0").expect("binding the edge");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("edge address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let state_log = log.clone();
        let thread = std::thread::Builder::new()
            .name("kop-test-edge".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("edge runtime");
                runtime.block_on(serve(listener, acceptor, endpoint, state_log, stopped));
            })
            .expect("edge thread");
        Edge {
            addr,
            ca_der: ca.der.clone(),
            ca_pem: ca.pem.clone(),
            dir,
            names: names.iter().map(|n| n.to_string()).collect(),
            log,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The PEM file of the edge's CA, for the binary's `--ca-file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("edge-ca.pem")
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `HOST:443:127.0.0.1:PORT`, the value of one `--connect-to` for `host`.
    pub fn connect_to(&self, host: &str) -> String {
        format!("{host}:443:127.0.0.1:{}", self.port())
    }

    /// `--connect-to` arguments (flag and value, repeated) for every name a test signing with
    /// `access_key` can reach: the domains of the first distributions that key creates
    /// ([`cloudfront_domain`], ordinals 0-3) and the names this edge was started with.
    /// The product's `--connect-to` has no "any host" form, so this is what "any" means here.
    pub fn connect_to_any(&self, access_key: &str) -> Vec<String> {
        let mut hosts: Vec<String> = (0..NAMES_PER_KEY)
            .map(|n| cloudfront_domain(access_key, n))
            .collect();
        hosts.extend(self.names.iter().cloned());
        hosts
            .iter()
            .flat_map(|h| ["--connect-to".to_string(), self.connect_to(h)])
            .collect()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<EdgeRequest> {
        self.log.lock().unwrap().clone()
    }

    /// Requests for `path` (on any host).
    pub fn requests_for(&self, path: &str) -> Vec<EdgeRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// How often the edge fetched `path` from the origin.
    pub fn origin_fetches(&self, path: &str) -> usize {
        self.requests_for(path)
            .iter()
            .filter(|r| r.origin_fetch)
            .count()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    /// One anonymous HTTPS GET to the edge for `https://{host}{path}` (SNI and Host = `host`),
    /// verifying the edge's certificate against its CA. Panics on transport errors.
    pub fn get(&self, host: &str, path: &str) -> HttpResponse {
        self.request("GET", host, path)
    }

    pub fn request(&self, method: &str, host: &str, path: &str) -> HttpResponse {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("edge CA");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = ServerName::try_from(host.to_string()).expect("server name");
        let connection = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
        let socket = TcpStream::connect(self.addr).expect("connecting to the edge");
        socket
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut tls = rustls::StreamOwned::new(connection, socket);
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kop-test-harness\r\nConnection: close\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("writing to the edge ({host}{path}): {e}"));
        let mut raw = Vec::new();
        if let Err(e) = tls.read_to_end(&mut raw) {
            // A peer that closes without close_notify after a complete answer is fine here.
            if raw.is_empty() || e.kind() != std::io::ErrorKind::UnexpectedEof {
                panic!("reading from the edge ({host}{path}): {e}");
            }
        }
        parse_response(&raw)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

async fn serve(
    listener: StdListener,
    acceptor: tokio_rustls::TlsAcceptor,
    endpoint: String,
    log: Arc<Mutex<Vec<EdgeRequest>>>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("edge listener");
    let state = Arc::new(State {
        s3: s3_client(&endpoint),
        cloudfront: harness_cloudfront_client(&endpoint),
        cache: Mutex::new(HashMap::new()),
        seen_invalidations: Mutex::new(HashSet::new()),
        log,
    });
    loop {
        let (socket, _) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(socket).await else {
                return;
            };
            let sni = tls.get_ref().1.server_name().map(str::to_string);
            let service = service_fn(move |request| {
                let state = state.clone();
                let sni = sni.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&state, sni, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// An answer before it becomes a hyper response.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Answer {
    fn error(status: u16, content_type: &str, body: String) -> Answer {
        Answer {
            status,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("x-cache".into(), "Error from cloudfront".into()),
            ],
            body: Bytes::from(body),
        }
    }

    /// CloudFront's own refusal page (unknown host, method not allowed, not deployed).
    fn cloudfront(status: u16, reason: &str) -> Answer {
        Answer::error(
            status,
            "text/html",
            format!(
                "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD>\
                 <BODY><H1>{status} ERROR</H1><H2>The request could not be satisfied.</H2>\
                 {reason}<BR>Generated by cloudfront (kop test edge)</BODY></HTML>"
            ),
        )
    }

    /// An S3 error document, passed through by CloudFront.
    fn s3(status: u16, code: &str, message: &str, extra: &str) -> Answer {
        Answer::error(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message>{extra}<RequestId>EDGE</RequestId></Error>"
            ),
        )
    }
}

async fn answer(
    state: &State,
    sni: Option<String>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name).to_string())
        .or(sni)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let mut entry = EdgeRequest {
        host: host.clone(),
        method: method.clone(),
        path: path.clone(),
        status: 0,
        cache: Cache::Error,
        origin_fetch: false,
        distribution: None,
    };
    let answer = route(state, &host, &method, &path, &mut entry).await;
    entry.status = answer.status;
    state.log.lock().unwrap().push(entry);

    let mut response = hyper::Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response = response.header("via", "1.1 kop-test-edge.cloudfront.net (CloudFront)");
    let body = if method == "HEAD" {
        response = response.header("content-length", answer.body.len());
        Bytes::new()
    } else {
        answer.body
    };
    response.body(Full::new(body)).expect("edge response")
}

/// The parts of a distribution the edge needs.
struct Distribution {
    id: String,
    arn: String,
    status: String,
    enabled: bool,
    origin_domain: String,
    origin_path: String,
    oac_id: String,
    cache_policy: String,
}

async fn find_distribution(state: &State, host: &str) -> Option<Distribution> {
    let listed = state
        .cloudfront
        .list_distributions()
        .max_items(1000)
        .send()
        .await
        .ok()?;
    let summary = listed
        .distribution_list()?
        .items()
        .iter()
        .find(|d| {
            d.domain_name().eq_ignore_ascii_case(host)
                || d.aliases()
                    .map(|a| a.items().iter().any(|n| n.eq_ignore_ascii_case(host)))
                    .unwrap_or(false)
        })?
        .clone();
    let behaviour = summary.default_cache_behavior();
    let target = behaviour.map(|b| b.target_origin_id()).unwrap_or_default();
    let origins = summary.origins().map(|o| o.items()).unwrap_or_default();
    let origin = origins
        .iter()
        .find(|o| o.id() == target)
        .or(origins.first())?;
    Some(Distribution {
        id: summary.id().to_string(),
        arn: format!(
            "arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{}",
            summary.id()
        ),
        status: summary.status().to_string(),
        enabled: summary.enabled(),
        origin_domain: origin.domain_name().to_string(),
        origin_path: origin.origin_path().unwrap_or_default().to_string(),
        oac_id: origin
            .origin_access_control_id()
            .unwrap_or_default()
            .to_string(),
        cache_policy: behaviour
            .and_then(|b| b.cache_policy_id())
            .unwrap_or_default()
            .to_string(),
    })
}

async fn route(
    state: &State,
    host: &str,
    method: &str,
    path: &str,
    entry: &mut EdgeRequest,
) -> Answer {
    let Some(dist) = find_distribution(state, host).await else {
        return Answer::cloudfront(403, "Bad request: no distribution serves this host.");
    };
    entry.distribution = Some(dist.id.clone());
    if dist.status != "Deployed" {
        return Answer::cloudfront(
            503,
            &format!(
                "The distribution {} is {}: its configuration has not reached this edge yet.",
                dist.id, dist.status
            ),
        );
    }
    if !dist.enabled {
        return Answer::cloudfront(403, "Bad request: the distribution is disabled.");
    }
    if method != "GET" && method != "HEAD" {
        return Answer::cloudfront(
            403,
            "This distribution is not configured to allow the HTTP request method that was \
             used for this request.",
        );
    }

    drop_invalidated(state, &dist.id).await;
    let cache_key = (dist.id.clone(), path.to_string());
    let cached = state.cache.lock().unwrap().get(&cache_key).cloned();
    if let Some(cached) = cached {
        let age = cached.stored.elapsed();
        if age < cached.ttl {
            entry.cache = Cache::Hit;
            let mut headers = cached.headers.clone();
            headers.push(("x-cache".into(), "Hit from cloudfront".into()));
            headers.push(("age".into(), age.as_secs().to_string()));
            return Answer {
                status: cached.status,
                headers,
                body: cached.body.clone(),
            };
        }
    }
    entry.cache = Cache::Miss;
    let mut answer = origin(state, &dist, path, entry).await;
    let cacheable = answer.status == 200 || (300..400).contains(&answer.status);
    if cacheable {
        // A redirect is S3's error document, but CloudFront caches and labels it as any answer.
        answer.headers.retain(|(name, _)| name != "x-cache");
        let cache_control = answer
            .headers
            .iter()
            .find(|(n, _)| n == "cache-control")
            .map(|(_, v)| v.as_str());
        let ttl = ttl(&dist.cache_policy, cache_control);
        if !ttl.is_zero() {
            state.cache.lock().unwrap().insert(
                cache_key,
                Cached {
                    status: answer.status,
                    headers: answer.headers.clone(),
                    body: answer.body.clone(),
                    stored: Instant::now(),
                    ttl,
                },
            );
        }
        answer
            .headers
            .push(("x-cache".into(), "Miss from cloudfront".into()));
    }
    answer
}

/// How long CloudFront keeps an answer with this `Cache-Control` under `cache_policy`
/// (CachingOptimized's TTLs for every policy but CachingDisabled).
pub fn ttl(cache_policy: &str, cache_control: Option<&str>) -> Duration {
    if cache_policy == CACHING_DISABLED {
        return Duration::ZERO;
    }
    let directives: Vec<String> = cache_control
        .unwrap_or_default()
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
    let seconds = |name: &str| {
        directives.iter().find_map(|d| {
            d.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
        })
    };
    let secs = if let Some(s) = seconds("s-maxage").or_else(|| seconds("max-age")) {
        s.clamp(MIN_TTL, MAX_TTL)
    } else if directives
        .iter()
        .any(|d| d == "no-cache" || d == "no-store" || d == "private")
    {
        MIN_TTL
    } else {
        DEFAULT_TTL
    };
    Duration::from_secs(secs)
}

/// Drops the cached paths of every invalidation of `distribution` this edge has not applied.
async fn drop_invalidated(state: &State, distribution: &str) {
    let Ok(listed) = state
        .cloudfront
        .list_invalidations()
        .distribution_id(distribution)
        .max_items(1000)
        .send()
        .await
    else {
        return;
    };
    let ids: Vec<String> = listed
        .invalidation_list()
        .map(|l| l.items().iter().map(|i| i.id().to_string()).collect())
        .unwrap_or_default();
    for id in ids {
        if state.seen_invalidations.lock().unwrap().contains(&id) {
            continue;
        }
        let Ok(got) = state
            .cloudfront
            .get_invalidation()
            .distribution_id(distribution)
            .id(&id)
            .send()
            .await
        else {
            continue;
        };
        let paths: Vec<String> = got
            .invalidation()
            .and_then(|i| i.invalidation_batch())
            .and_then(|b| b.paths())
            .map(|p| p.items().to_vec())
            .unwrap_or_default();
        let mut cache = state.cache.lock().unwrap();
        cache.retain(|(dist, path), _| {
            dist != distribution || !paths.iter().any(|p| invalidates(p, path))
        });
        state.seen_invalidations.lock().unwrap().insert(id);
    }
}

/// Whether the invalidation path `pattern` covers `path`: equal, or a prefix ending in `*`.
pub fn invalidates(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// The bucket and the Region named by an S3 REST origin host (`None` for the global name);
/// `Err` for anything else (a website endpoint, a custom origin).
fn parse_origin(domain: &str) -> Result<(String, Option<String>), String> {
    let domain = domain.to_ascii_lowercase();
    let Some(rest) = domain.strip_suffix(".amazonaws.com") else {
        return Err(format!("{domain} is not an S3 REST endpoint"));
    };
    if let Some(bucket) = rest.strip_suffix(".s3") {
        return Ok((bucket.to_string(), None));
    }
    if let Some((bucket, region)) = rest.split_once(".s3.") {
        return Ok((bucket.to_string(), Some(region.to_string())));
    }
    if let Some((bucket, region)) = rest.split_once(".s3-") {
        if !region.starts_with("website") {
            return Ok((bucket.to_string(), Some(region.to_string())));
        }
    }
    Err(format!(
        "{domain} is not an S3 REST endpoint (a website endpoint cannot use OAC)"
    ))
}

async fn bucket_region(state: &State, bucket: &str) -> Option<String> {
    let out = state
        .s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    Some(match out.location_constraint().map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    })
}

/// What the S3 origin answers CloudFront for `path`.
async fn origin(state: &State, dist: &Distribution, path: &str, entry: &mut EdgeRequest) -> Answer {
    let (bucket, named_region) = match parse_origin(&dist.origin_domain) {
        Ok(parsed) => parsed,
        Err(reason) => return Answer::cloudfront(502, &reason),
    };
    let Some(region) = bucket_region(state, &bucket).await else {
        return Answer::s3(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist",
            &format!("<BucketName>{bucket}</BucketName>"),
        );
    };
    let key_path = format!("{}{}", dist.origin_path, path);
    let key = percent_encoding::percent_decode_str(key_path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .to_string();
    let regional = format!("{bucket}.s3.{region}.amazonaws.com");
    match named_region {
        // The global name resolves to us-east-1; S3 redirects a newer bucket elsewhere there.
        None if region != "us-east-1" => {
            let mut answer = Answer::s3(
                307,
                "TemporaryRedirect",
                "Please re-send this request to the specified temporary endpoint. Continue to \
                 use the original request endpoint for future requests.",
                &format!("<Endpoint>{regional}</Endpoint><Bucket>{bucket}</Bucket>"),
            );
            answer
                .headers
                .push(("location".into(), format!("https://{regional}/{key}")));
            return answer;
        }
        Some(named) if named != region => {
            return Answer::s3(
                301,
                "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the specified \
                 endpoint. Please send all future requests to this endpoint.",
                &format!("<Endpoint>{regional}</Endpoint><Bucket>{bucket}</Bucket>"),
            );
        }
        _ => {}
    }

    let caller = if dist.oac_id.is_empty() {
        Caller::Anonymous
    } else {
        Caller::CloudFront {
            source_arn: dist.arn.clone(),
        }
    };
    let policy = bucket_policy(state, &bucket).await;
    let object_arn = format!("arn:aws:s3:::{bucket}/{key}");
    let mut decision = evaluate(policy.as_ref(), &caller, "s3:GetObject", &object_arn);
    if caller == Caller::Anonymous
        && decision == Decision::Allow
        && restricts_public_buckets(state, &bucket).await
    {
        decision = Decision::ImplicitDeny;
    }
    if decision != Decision::Allow {
        return Answer::s3(403, "AccessDenied", "Access Denied", "");
    }

    let fetched = state.s3.get_object().bucket(&bucket).key(&key).send().await;
    entry.origin_fetch = true;
    let out = match fetched {
        Ok(out) => out,
        Err(_) => {
            let bucket_arn = format!("arn:aws:s3:::{bucket}");
            let may_list =
                evaluate(policy.as_ref(), &caller, "s3:ListBucket", &bucket_arn) == Decision::Allow;
            return if may_list {
                Answer::s3(
                    404,
                    "NoSuchKey",
                    "The specified key does not exist.",
                    &format!("<Key>{key}</Key>"),
                )
            } else {
                Answer::s3(403, "AccessDenied", "Access Denied", "")
            };
        }
    };
    let mut headers = Vec::new();
    if let Some(v) = out.content_type() {
        headers.push(("content-type".to_string(), v.to_string()));
    }
    if let Some(v) = out.cache_control() {
        headers.push(("cache-control".to_string(), v.to_string()));
    }
    if let Some(v) = out.e_tag() {
        headers.push(("etag".to_string(), v.to_string()));
    }
    let body = match out.body.collect().await {
        Ok(data) => data.into_bytes(),
        Err(e) => return Answer::cloudfront(502, &format!("reading the origin's answer: {e}")),
    };
    Answer {
        status: 200,
        headers,
        body,
    }
}

async fn bucket_policy(state: &State, bucket: &str) -> Option<Value> {
    let out = state
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    serde_json::from_str(out.policy()?).ok()
}

async fn restricts_public_buckets(state: &State, bucket: &str) -> bool {
    state
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|o| o.public_access_block_configuration().cloned())
        .and_then(|c| c.restrict_public_buckets())
        .unwrap_or(false)
}

/// Who S3 sees making the origin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No OAC on the origin: CloudFront's request is unsigned.
    Anonymous,
    /// OAC: signed as the service principal `cloudfront.amazonaws.com`, with the request
    /// context `aws:SourceArn` = the distribution's ARN and `aws:SourceAccount` = its account.
    CloudFront { source_arn: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A Deny statement matches.
    ExplicitDeny,
}

/// A bucket policy's answer for `caller` doing `action` on `resource`, as S3 evaluates it for
/// a same-account bucket with no identity policy: an explicit Deny wins, else any Allow.
/// Supported: `Principal` `"*"`, `{"AWS": "*"}`, `{"Service": …}`; `Action` and `Resource`
/// strings or lists with `*`/`?` wildcards; `Condition` operators StringEquals, StringLike,
/// ArnEquals, ArnLike, StringNotEquals, ArnNotEquals on `aws:SourceArn` and
/// `aws:SourceAccount` (key names case-insensitive). A statement with NotPrincipal,
/// NotAction, NotResource or another operator never matches (an Allow grants nothing, a Deny
/// denies nothing): the harness does not guess.
pub fn evaluate(policy: Option<&Value>, caller: &Caller, action: &str, resource: &str) -> Decision {
    let Some(policy) = policy else {
        return Decision::ImplicitDeny;
    };
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let mut allowed = false;
    for statement in statements {
        if ["NotPrincipal", "NotAction", "NotResource"]
            .iter()
            .any(|k| statement.get(*k).is_some())
        {
            continue;
        }
        let matches = principal_matches(statement.get("Principal"), caller)
            && any_glob(statement.get("Action"), action, true)
            && any_glob(statement.get("Resource"), resource, false)
            && conditions_hold(statement.get("Condition"), caller);
        if !matches {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn principal_matches(principal: Option<&Value>, caller: &Caller) -> bool {
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            if strings(map.get("AWS")).contains(&"*") {
                return true;
            }
            match caller {
                Caller::Anonymous => false,
                Caller::CloudFront { .. } => {
                    strings(map.get("Service")).contains(&"cloudfront.amazonaws.com")
                }
            }
        }
        _ => false,
    }
}

fn any_glob(patterns: Option<&Value>, value: &str, ignore_case: bool) -> bool {
    strings(patterns).iter().any(|p| {
        if ignore_case {
            glob(&p.to_ascii_lowercase(), &value.to_ascii_lowercase())
        } else {
            glob(p, value)
        }
    })
}

/// IAM wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn conditions_hold(condition: Option<&Value>, caller: &Caller) -> bool {
    let Some(condition) = condition else {
        return true;
    };
    let Some(operators) = condition.as_object() else {
        return false;
    };
    let context = |key: &str| -> Option<String> {
        match (key.to_ascii_lowercase().as_str(), caller) {
            ("aws:sourcearn", Caller::CloudFront { source_arn }) => Some(source_arn.clone()),
            ("aws:sourceaccount", Caller::CloudFront { .. }) => Some(ACCOUNT_ID.to_string()),
            _ => None,
        }
    };
    operators.iter().all(|(operator, tests)| {
        let Some(tests) = tests.as_object() else {
            return false;
        };
        tests.iter().all(|(key, wanted)| {
            let wanted = strings(Some(wanted));
            let actual = context(key);
            match operator.as_str() {
                "StringEquals" | "ArnEquals" => {
                    actual.is_some_and(|a| wanted.iter().any(|w| *w == a))
                }
                "StringLike" | "ArnLike" => {
                    actual.is_some_and(|a| wanted.iter().any(|w| glob(w, &a)))
                }
                "StringNotEquals" | "ArnNotEquals" => {
                    actual.is_none_or(|a| wanted.iter().all(|w| *w != a))
                }
                _ => false,
            }
        })
    })
}
