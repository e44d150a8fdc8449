//! The daemon's HTTP endpoints, on plain HTTP/1.1 (hyper, no framework): `GET /healthz`,
//! `/readyz` and `/metrics`. It only reads the shared [`Health`] and the metrics; it never
//! triggers a pass. Anything else is 404, other methods on these paths 405.
//!
//! It listens on 0.0.0.0:8080 by default, so it must not let a flood of connections take the
//! process's file descriptors (every sync pass then fails): at most [`MAX_CONNECTIONS`] are
//! served at once and a connection over the cap is closed as soon as it is accepted (it holds
//! a descriptor for an instant only); one request per connection, the request head within
//! [`HEADER_READ_TIMEOUT`], the whole exchange within [`CONNECTION_LIFETIME`], so a slot held
//! by a silent or slow client is freed. Probes and scrapes need a handful of connections.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::metrics::Metrics;

/// Connections served at once; more are closed on accept.
pub const MAX_CONNECTIONS: usize = 32;
/// A client has this long to send its request head (slow-loris bound).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this long whatever it is doing (a client not reading the
/// response included): the slot is then free again.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(10);
/// Over the cap, one warning per this period (with the number closed), not one per connection.
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(60);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the loop is doing, for `/healthz`.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Starting,
    Passing { since: Instant },
    Sleeping { until: Instant },
}

/// Shared between the loop (writer) and the server (reader).
pub struct Health {
    phase: Mutex<Phase>,
    ready: std::sync::atomic::AtomicBool,
    /// A pass running longer than this makes `/healthz` fail.
    stall_limit: Duration,
}

impl Health {
    pub fn new(stall_limit: Duration) -> Health {
        Health {
            phase: Mutex::new(Phase::Starting),
            ready: Default::default(),
            stall_limit,
        }
    }

    pub fn pass_started(&self) {
        *self.phase.lock().unwrap() = Phase::Passing {
            since: Instant::now(),
        };
    }

    pub fn sleeping(&self, delay: Duration) {
        *self.phase.lock().unwrap() = Phase::Sleeping {
            until: Instant::now() + delay,
        };
    }

    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `Err(why)` when the loop looks stuck.
    pub fn alive(&self, now: Instant) -> Result<(), String> {
        match *self.phase.lock().unwrap() {
            Phase::Starting => Ok(()),
            Phase::Passing { since } => {
                let running = now.saturating_duration_since(since);
                if running > self.stall_limit {
                    Err(format!(
                        "a sync pass has been running for {} s (limit {} s)",
                        running.as_secs(),
                        self.stall_limit.as_secs()
                    ))
                } else {
                    Ok(())
                }
            }
            Phase::Sleeping { until } => {
                let late = now.saturating_duration_since(until);
                if late > self.stall_limit {
                    Err(format!(
                        "the next sync pass is {} s overdue",
                        late.as_secs()
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Serves until the task is dropped. Each connection runs on its own task, at most
/// [`MAX_CONNECTIONS`] at once.
pub async fn serve(listener: TcpListener, health: Arc<Health>, metrics: Arc<Metrics>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut refused: u64 = 0;
    let mut last_warning: Option<Instant> = None;
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "accepting a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(tcp);
            refused += 1;
            if last_warning.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_PERIOD) {
                tracing::warn!(
                    closed = refused,
                    max_connections = MAX_CONNECTIONS,
                    "closing new HTTP connections: {MAX_CONNECTIONS} are open already (a connection flood?); sync passes go on. Keep --listen off untrusted networks (bind 127.0.0.1:PORT outside a pod)"
                );
                last_warning = Some(Instant::now());
                refused = 0;
            }
            continue;
        };
        let (health, metrics) = (health.clone(), metrics.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request| {
                let response = respond(&request, &health, &metrics);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
        });
    }
}

fn respond(
    request: &Request<Incoming>,
    health: &Health,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz, /readyz or /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/healthz" => match health.alive(Instant::now()) {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("{why}\n")),
        },
        "/readyz" if health.ready() => text(StatusCode::OK, "ok\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "no successful sync yet\n"),
        _ => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(OPENMETRICS),
            );
            response
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_fails_only_when_the_loop_is_stuck() {
        let health = Health::new(Duration::from_secs(300));
        let now = Instant::now();
        assert!(health.alive(now).is_ok(), "starting");
        health.pass_started();
        assert!(health.alive(Instant::now()).is_ok());
        let late = Instant::now() + Duration::from_secs(301);
        let why = health.alive(late).unwrap_err();
        assert!(why.contains("running for 301 s"), "{why}");
        health.sleeping(Duration::from_secs(60));
        assert!(health.alive(late).is_ok(), "sleeping, due in 60 s");
        let overdue = Instant::now() + Duration::from_secs(60 + 301);
        assert!(health.alive(overdue).is_err());
    }

    #[test]
    fn ready_only_after_set_ready() {
        let health = Health::new(Duration::from_secs(1));
        assert!(!health.ready());
        health.set_ready();
        assert!(health.ready());
    }
}
