//! `FaultProxy`: a loopback HTTP/1.1 proxy placed between the binary and one upstream (moto),
//! for the faults moto's own injection cannot stage: a request held until the test releases
//! it (to race it, or to kill the binary while it waits), a request that never gets an answer
//! (the client's timeout), an answer lost after the upstream acted on the request, and a
//! connection dropped without an answer. It also answers S3-style error statuses.
//!
//! It passes every request through unchanged (one upstream connection per request, bodies
//! collected, `Host` kept) unless a [`Rule`] matches; rules are tried in the order added and
//! the first one whose `skip` is used up and whose `times` are not fires. Every request is
//! logged on arrival ([`FaultProxy::requests`]), and tests wait for one with
//! [`FaultProxy::wait_for`] (bounded). It binds 127.0.0.1:0, runs on its own tokio runtime so
//! tests stay plain `#[test]` functions, and stops on drop (held requests are then dropped, never
//! forwarded). It must not be pointed at anything but a local test server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::oneshot;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// What a matching request gets.
#[derive(Clone, Debug)]
pub enum Action {
    /// An S3 error document (`<Error><Code>…`) with this status, never forwarded.
    S3Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Held until [`FaultProxy::release`] (forwarded then) or [`FaultProxy::discard`] (the
    /// connection is closed and upstream never sees it). A held request whose client goes away
    /// may be dropped by the server side before either; `discard` is the deterministic way to
    /// say "it was never sent".
    Hold,
    /// Never forwarded and never answered: the connection stays silent this long, then is
    /// closed. Longer than the client's timeout, this is "S3 timed out".
    Stall(Duration),
    /// Forwarded (upstream acts on it), but the answer is withheld this long and the connection
    /// then closed: the write happened, the client never learns it.
    LoseAnswer(Duration),
    /// The connection is closed at once, without an answer and without forwarding.
    Drop,
}

/// Which requests a rule applies to, what they get, and how often.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Option<String>,
    /// Matches when the request path (query excluded) ends with this.
    pub path_suffix: Option<String>,
    /// Matching requests passed through before the rule fires.
    pub skip: u32,
    /// How many matching requests it fires on (0 = every one).
    pub times: u32,
    pub action: Action,
}

impl Rule {
    pub fn new(action: Action) -> Rule {
        Rule {
            method: None,
            path_suffix: None,
            skip: 0,
            times: 1,
            action,
        }
    }

    /// An S3 error answer: `s3_error(503, "SlowDown")`.
    pub fn s3_error(status: u16, code: &str) -> Rule {
        let message = match code {
            "InternalError" => "We encountered an internal error. Please try again.",
            "SlowDown" => "Please reduce your request rate.",
            "ServiceUnavailable" => "Service is unable to handle request.",
            "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
            _ => "injected by the test proxy",
        };
        Rule::new(Action::S3Error {
            status,
            code: code.to_string(),
            message: message.to_string(),
        })
    }

    pub fn hold() -> Rule {
        Rule::new(Action::Hold)
    }

    pub fn stall(duration: Duration) -> Rule {
        Rule::new(Action::Stall(duration))
    }

    pub fn lose_answer(duration: Duration) -> Rule {
        Rule::new(Action::LoseAnswer(duration))
    }

    pub fn drop_connection() -> Rule {
        Rule::new(Action::Drop)
    }

    /// Only `PUT` requests to a path ending in `suffix` (an object key).
    pub fn put(self, suffix: &str) -> Rule {
        self.method("PUT").path_suffix(suffix)
    }

    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn path_suffix(mut self, suffix: &str) -> Rule {
        self.path_suffix = Some(suffix.to_string());
        self
    }

    pub fn skip(mut self, skip: u32) -> Rule {
        self.skip = skip;
        self
    }

    pub fn times(mut self, times: u32) -> Rule {
        self.times = times;
        self
    }

    /// Fire on every matching request.
    pub fn always(self) -> Rule {
        self.times(0)
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_suffix
                .as_deref()
                .is_none_or(|s| path.ends_with(s))
    }
}

/// Identifies a rule added with [`FaultProxy::add`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleId(usize);

/// One request the proxy received.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: String,
    /// The rule that fired on it, if any.
    pub rule: Option<RuleId>,
    /// The status sent back (`None`: no answer yet, or none ever: held, stalled, dropped).
    pub status: Option<u16>,
    /// Arrival number (from 0, never reused).
    pub seq: u64,
}

struct RuleState {
    rule: Rule,
    seen: u32,
    fired: u32,
    /// Requests held by this rule, waiting for release (true) or discard (false).
    held: Vec<oneshot::Sender<bool>>,
    active: bool,
}

#[derive(Default)]
struct State {
    rules: Vec<RuleState>,
    log: Vec<ProxyRequest>,
    arrivals: u64,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    changed: Condvar,
}

/// The proxy. Stops (listener closed, held requests dropped) on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Start proxying to `upstream` (a loopback address).
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy only fronts local test servers"
        );
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.spawn(accept_loop(listener, shared.clone()));
        FaultProxy {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn add(&self, rule: Rule) -> RuleId {
        let mut state = self.shared.state.lock().unwrap();
        state.rules.push(RuleState {
            rule,
            seen: 0,
            fired: 0,
            held: Vec::new(),
            active: true,
        });
        RuleId(state.rules.len() - 1)
    }

    /// Deactivate every rule (held requests stay held until released or discarded).
    pub fn clear(&self) {
        let mut state = self.shared.state.lock().unwrap();
        for rule in &mut state.rules {
            rule.active = false;
        }
    }

    /// How many requests `rule` fired on.
    pub fn fired(&self, rule: RuleId) -> u32 {
        self.shared.state.lock().unwrap().rules[rule.0].fired
    }

    /// Forward the requests `rule` holds; returns how many.
    pub fn release(&self, rule: RuleId) -> usize {
        self.finish_held(rule, true)
    }

    /// Close the connections of the requests `rule` holds without forwarding them.
    pub fn discard(&self, rule: RuleId) -> usize {
        self.finish_held(rule, false)
    }

    fn finish_held(&self, rule: RuleId, forward: bool) -> usize {
        let held = std::mem::take(&mut self.shared.state.lock().unwrap().rules[rule.0].held);
        let n = held.len();
        for sender in held {
            let _ = sender.send(forward);
        }
        n
    }

    /// Forget the requests received so far (rules keep their counts).
    pub fn forget_requests(&self) {
        self.shared.state.lock().unwrap().log.clear();
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.shared.state.lock().unwrap().log.clone()
    }

    /// Waits (at most `timeout`) until a received request satisfies `predicate`, and returns
    /// it; panics with the log on expiry.
    pub fn wait_for(
        &self,
        timeout: Duration,
        predicate: impl Fn(&ProxyRequest) -> bool,
    ) -> ProxyRequest {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap();
        loop {
            if let Some(found) = state.log.iter().find(|r| predicate(r)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "no matching request reached the proxy within {timeout:?}; received: {:#?}",
                    state.log
                );
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// Waits (at most `timeout`) until `rule` holds a request.
    pub fn wait_held(&self, rule: RuleId, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock().unwrap();
        while state.rules[rule.0].held.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "rule {rule:?} held no request within {timeout:?}; received: {:#?}",
                    state.log
                );
            }
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { handle(&shared, req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Why a connection is closed without an answer (hyper closes it when the service fails).
#[derive(Debug)]
struct NoAnswer(&'static str);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// What the handler does after logging the request.
enum Plan {
    Forward,
    Fire(RuleId, Action, Option<oneshot::Receiver<bool>>),
}

async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let (seq, plan) = {
        let mut state = shared.state.lock().unwrap();
        let mut plan = Plan::Forward;
        for (i, rs) in state.rules.iter_mut().enumerate() {
            if !rs.active || !rs.rule.matches(&method, &path) {
                continue;
            }
            rs.seen += 1;
            if rs.seen <= rs.rule.skip || (rs.rule.times != 0 && rs.fired >= rs.rule.times) {
                continue;
            }
            rs.fired += 1;
            let held = matches!(rs.rule.action, Action::Hold).then(|| {
                let (tx, rx) = oneshot::channel();
                rs.held.push(tx);
                rx
            });
            plan = Plan::Fire(RuleId(i), rs.rule.action.clone(), held);
            break;
        }
        let seq = state.arrivals;
        state.arrivals += 1;
        state.log.push(ProxyRequest {
            method,
            path,
            query: req.uri().query().unwrap_or_default().to_string(),
            rule: match &plan {
                Plan::Fire(id, ..) => Some(*id),
                Plan::Forward => None,
            },
            status: None,
            seq,
        });
        shared.changed.notify_all();
        (seq, plan)
    };
    let result = match plan {
        Plan::Forward => forward(shared.upstream, req).await,
        Plan::Fire(_, action, held) => match action {
            Action::S3Error {
                status,
                code,
                message,
            } => Ok(s3_error(status, &code, &message)),
            Action::Hold => {
                let forward_it = match held {
                    Some(rx) => rx.await.unwrap_or(false),
                    None => false,
                };
                if forward_it {
                    forward(shared.upstream, req).await
                } else {
                    Err(NoAnswer("discarded"))
                }
            }
            Action::Stall(duration) => {
                tokio::time::sleep(duration).await;
                Err(NoAnswer("stalled"))
            }
            Action::LoseAnswer(duration) => {
                let _ = forward(shared.upstream, req).await;
                tokio::time::sleep(duration).await;
                Err(NoAnswer("answer lost"))
            }
            Action::Drop => Err(NoAnswer("dropped")),
        },
    };
    if let Ok(response) = &result {
        let mut state = shared.state.lock().unwrap();
        if let Some(entry) = state.log.iter_mut().find(|r| r.seq == seq) {
            entry.status = Some(response.status().as_u16());
        }
        shared.changed.notify_all();
    }
    result
}

/// Sends `req` to `upstream` on a new connection and returns its answer, bodies collected.
async fn forward(
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let (mut parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|_| NoAnswer("request body"))?
        .to_bytes();
    // The body is sent whole, with its length; hop-by-hop framing is not copied.
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONNECTION);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, body.len().into());
    let tcp = tokio::net::TcpStream::connect(upstream)
        .await
        .map_err(|_| NoAnswer("upstream unreachable"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|_| NoAnswer("upstream handshake"))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|_| NoAnswer("upstream request"))?;
    let (mut parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|_| NoAnswer("upstream body"))?
        .to_bytes();
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONNECTION);
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// An S3 REST error answer, as S3 sends it.
fn s3_error(status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>KOPPROXY0000001</RequestId><HostId>kop-fault-proxy</HostId></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/xml"),
    );
    response
}
