//! The daemon's HTTP endpoints, on plain HTTP/1.1 (hyper, no framework): `GET /healthz`,
//! `/readyz` and `/metrics`, and [`Health`], what the loop (`run`) or the loops of a fleet
//! (`run --fleet`, one per cluster) tell the first two. The server only reads [`Health`] and the
//! metrics; it never triggers a pass. Anything else is 404, other methods on these paths 405.
//!
//! It listens on 0.0.0.0:8080 by default, so it must not let a flood of connections take the
//! process's file descriptors (every sync pass then fails): at most [`MAX_CONNECTIONS`] are
//! served at once and a connection over the cap is closed as soon as it is accepted (it holds
//! a descriptor for an instant only); one request per connection, the request head within
//! [`HEADER_READ_TIMEOUT`], the whole exchange within [`CONNECTION_LIFETIME`], so a slot held
//! by a silent or slow client is freed. Probes and scrapes need a handful of connections.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// At most this many clusters are named in a `/healthz` or `/readyz` answer of a fleet; the
/// count says how many there are in all (the full list is in the metrics).
const NAMED_CLUSTERS: usize = 10;

/// What one loop is doing, for `/healthz`.
#[derive(Clone, Copy, Debug)]
enum Phase {
    Starting,
    /// Due, and waiting for one of `--concurrency`'s slots (fleet only). Not a stall: the
    /// passes holding the slots are each checked.
    Queued,
    Passing {
        since: Instant,
    },
    Sleeping {
        until: Instant,
    },
}

impl Phase {
    /// `Err(why)` when the loop looks stuck: its pass has been running for longer than
    /// `stall_limit`, or its next pass is overdue by more than that.
    fn check(self, now: Instant, stall_limit: Duration) -> Result<(), String> {
        match self {
            Phase::Starting | Phase::Queued => Ok(()),
            Phase::Passing { since } => {
                let running = now.saturating_duration_since(since);
                if running > stall_limit {
                    Err(format!(
                        "a sync pass has been running for {} s (limit {} s)",
                        running.as_secs(),
                        stall_limit.as_secs()
                    ))
                } else {
                    Ok(())
                }
            }
            Phase::Sleeping { until } => {
                let late = now.saturating_duration_since(until);
                if late > stall_limit {
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

/// One cluster's loop in a fleet.
#[derive(Debug)]
struct Member {
    phase: Phase,
    /// A pass of it has succeeded since the process started.
    succeeded: bool,
}

/// The loops [`Health`] follows.
enum Loops {
    /// `run`: one loop.
    One(Phase),
    /// `run --fleet`: one loop per cluster, by name (sorted, so answers list them in order).
    Fleet(BTreeMap<String, Member>),
}

/// Shared between the loop or loops (writers) and the server (reader).
///
/// `run` builds it with [`Health::new`] and passes `cluster: None`; `run --fleet` builds it with
/// [`Health::for_fleet`] and passes each cluster's name. A call about a cluster it does not hold
/// (one removed while its pass ran, or a name given to `run`'s) changes nothing.
///
/// - `/healthz` fails when a loop looks stuck: its pass has been running for longer than the
///   stall limit, or its next pass is overdue by more than it. In a fleet the rule is the same
///   for each cluster, and the answer names the clusters that look stuck.
/// - `/readyz` latches: once ready, ready for the life of the process, whatever later passes
///   do (the documents published stay valid; failures show in the metrics). `run` is ready
///   after its first successful pass. A fleet is ready at the first moment when every cluster
///   then in the fleet has had a successful pass since start: checked when the fleet is built
///   (so a fleet that starts empty is ready at once), at each success and at each removal (a
///   cluster removed before its first success no longer counts). A cluster added or failing
///   after that shows in the metrics, not here, so that one broken workload cluster does not
///   block a rollout of the publisher.
pub struct Health {
    loops: Mutex<Loops>,
    ready: AtomicBool,
    /// A pass running longer than this (or a pass overdue by more) makes `/healthz` fail.
    stall_limit: Duration,
}

impl Health {
    /// `run`'s: one loop.
    pub fn new(stall_limit: Duration) -> Health {
        Health {
            loops: Mutex::new(Loops::One(Phase::Starting)),
            ready: AtomicBool::new(false),
            stall_limit,
        }
    }

    /// `run --fleet`'s: one loop per cluster, starting with `clusters`, the fleet as first
    /// listed. Readiness waits for each of them (and for any added before they all succeed);
    /// with none, the fleet is ready at once.
    pub fn for_fleet(
        stall_limit: Duration,
        clusters: impl IntoIterator<Item = impl Into<String>>,
    ) -> Health {
        let members = clusters
            .into_iter()
            .map(|name| {
                let member = Member {
                    phase: Phase::Starting,
                    succeeded: false,
                };
                (name.into(), member)
            })
            .collect();
        let health = Health {
            loops: Mutex::new(Loops::Fleet(members)),
            ready: AtomicBool::new(false),
            stall_limit,
        };
        health.latch_when_none_waits(&health.loops.lock().unwrap());
        health
    }

    /// A cluster that joined the fleet; adding one it holds already changes nothing.
    pub fn add_cluster(&self, name: &str) {
        if let Loops::Fleet(members) = &mut *self.loops.lock().unwrap() {
            members.entry(name.to_owned()).or_insert(Member {
                phase: Phase::Starting,
                succeeded: false,
            });
        }
    }

    /// A cluster that left the fleet: neither probe counts it any more.
    pub fn remove_cluster(&self, name: &str) {
        let mut loops = self.loops.lock().unwrap();
        if let Loops::Fleet(members) = &mut *loops {
            members.remove(name);
        }
        self.latch_when_none_waits(&loops);
    }

    /// The pass of `cluster` (`None` for `run`) starts now.
    pub fn pass_started(&self, cluster: Option<&str>) {
        self.pass_started_at(cluster, Instant::now());
    }

    /// The next pass of `cluster` (`None` for `run`) is due in `delay`.
    pub fn sleeping(&self, cluster: Option<&str>, delay: Duration) {
        self.sleeping_until(cluster, Instant::now() + delay);
    }

    /// A pass of `cluster` (`None` for `run`) succeeded.
    pub fn succeeded(&self, cluster: Option<&str>) {
        let mut loops = self.loops.lock().unwrap();
        match (&mut *loops, cluster) {
            (Loops::One(_), None) => {}
            (Loops::Fleet(members), Some(name)) => match members.get_mut(name) {
                Some(member) => member.succeeded = true,
                None => return,
            },
            _ => return,
        }
        self.latch_when_none_waits(&loops);
    }

    /// The pass of `cluster` is due and waits for a free slot (`--concurrency`).
    pub fn queued(&self, cluster: Option<&str>) {
        self.set_phase(cluster, Phase::Queued);
    }

    fn pass_started_at(&self, cluster: Option<&str>, now: Instant) {
        self.set_phase(cluster, Phase::Passing { since: now });
    }

    fn sleeping_until(&self, cluster: Option<&str>, until: Instant) {
        self.set_phase(cluster, Phase::Sleeping { until });
    }

    fn set_phase(&self, cluster: Option<&str>, phase: Phase) {
        match (&mut *self.loops.lock().unwrap(), cluster) {
            (Loops::One(current), None) => *current = phase,
            (Loops::Fleet(members), Some(name)) => {
                if let Some(member) = members.get_mut(name) {
                    member.phase = phase;
                }
            }
            _ => {}
        }
    }

    /// Latches readiness when no cluster waits for its first success (`run`: called on its
    /// success only).
    fn latch_when_none_waits(&self, loops: &Loops) {
        let none_waits = match loops {
            Loops::One(_) => true,
            Loops::Fleet(members) => members.values().all(|m| m.succeeded),
        };
        if none_waits {
            self.ready.store(true, Ordering::Relaxed);
        }
    }

    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// `Err(why)` until ready: for a fleet, how many clusters still wait for their first
    /// successful pass, and the first [`NAMED_CLUSTERS`] of them.
    pub fn readiness(&self) -> Result<(), String> {
        if self.ready() {
            return Ok(());
        }
        match &*self.loops.lock().unwrap() {
            Loops::One(_) => Err("no successful sync yet".to_owned()),
            Loops::Fleet(members) => {
                let waiting: Vec<&str> = members
                    .iter()
                    .filter(|(_, m)| !m.succeeded)
                    .map(|(name, _)| name.as_str())
                    .collect();
                Err(format!(
                    "waiting for the first successful sync of {} of {} clusters: {}",
                    waiting.len(),
                    members.len(),
                    first_few(waiting, ", ")
                ))
            }
        }
    }

    /// `Err(why)` when a loop looks stuck; in a fleet, naming the clusters whose loop does.
    pub fn alive(&self, now: Instant) -> Result<(), String> {
        match &*self.loops.lock().unwrap() {
            Loops::One(phase) => phase.check(now, self.stall_limit),
            Loops::Fleet(members) => {
                let stuck: Vec<String> = members
                    .iter()
                    .filter_map(|(name, m)| {
                        let why = m.phase.check(now, self.stall_limit).err()?;
                        Some(format!("{name}: {why}"))
                    })
                    .collect();
                if stuck.is_empty() {
                    return Ok(());
                }
                Err(format!(
                    "the loop of {} of {} clusters looks stuck: {}",
                    stuck.len(),
                    members.len(),
                    first_few(stuck, "; ")
                ))
            }
        }
    }
}

/// The first [`NAMED_CLUSTERS`] items, joined by `separator`, then how many more there are.
fn first_few<T: AsRef<str>>(items: Vec<T>, separator: &str) -> String {
    let more = items.len().saturating_sub(NAMED_CLUSTERS);
    let named: Vec<&str> = items
        .iter()
        .take(NAMED_CLUSTERS)
        .map(AsRef::as_ref)
        .collect();
    let mut out = named.join(separator);
    if more > 0 {
        out.push_str(&format!(" and {more} more"));
    }
    out
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
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = respond(request.method(), request.uri().path(), &health, &metrics);
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
    method: &Method,
    path: &str,
    health: &Health,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz, /readyz or /metrics\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
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
        "/readyz" => match health.readiness() {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("{why}\n")),
        },
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

    const LIMIT: Duration = Duration::from_secs(300);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn healthz_fails_only_when_the_loop_is_stuck() {
        let health = Health::new(LIMIT);
        let t0 = Instant::now();
        assert!(health.alive(t0).is_ok(), "starting");
        health.pass_started_at(None, t0);
        assert!(health.alive(t0 + LIMIT).is_ok());
        let why = health.alive(t0 + secs(301)).unwrap_err();
        assert!(why.contains("running for 301 s"), "{why}");
        health.sleeping_until(None, t0 + secs(60));
        assert!(
            health.alive(t0 + secs(301)).is_ok(),
            "sleeping, due at 60 s"
        );
        let why = health.alive(t0 + secs(60 + 301)).unwrap_err();
        assert_eq!(why, "the next sync pass is 301 s overdue");
    }

    #[test]
    fn ready_after_the_first_success_and_for_good() {
        let health = Health::new(secs(1));
        assert!(!health.ready());
        assert_eq!(health.readiness().unwrap_err(), "no successful sync yet");
        health.succeeded(None);
        assert!(health.ready());
        assert_eq!(health.readiness(), Ok(()));
    }

    #[test]
    fn a_fleets_healthz_names_each_stuck_cluster_by_the_same_rule() {
        let health = Health::for_fleet(LIMIT, ["c1", "c2", "c3", "idle"]);
        let t0 = Instant::now();
        health.pass_started_at(Some("c1"), t0);
        health.pass_started_at(Some("c2"), t0 + secs(100));
        health.sleeping_until(Some("c3"), t0 + secs(50));
        assert!(health.alive(t0 + LIMIT).is_ok(), "all within the limit");
        // c1 has run 301 s; c2 200 s; c3 is 251 s overdue; `idle` has not started yet.
        let why = health.alive(t0 + secs(301)).unwrap_err();
        assert_eq!(
            why,
            "the loop of 1 of 4 clusters looks stuck: c1: a sync pass has been running for 301 s (limit 300 s)"
        );
        let why = health.alive(t0 + secs(401)).unwrap_err();
        assert_eq!(
            why,
            "the loop of 3 of 4 clusters looks stuck: \
             c1: a sync pass has been running for 401 s (limit 300 s); \
             c2: a sync pass has been running for 301 s (limit 300 s); \
             c3: the next sync pass is 351 s overdue"
        );
        // A cluster that left the fleet stops counting, and its late calls change nothing.
        health.remove_cluster("c1");
        health.pass_started_at(Some("c1"), t0);
        health.sleeping_until(Some("c2"), t0 + secs(400));
        health.sleeping_until(Some("c3"), t0 + secs(400));
        assert!(health.alive(t0 + secs(401)).is_ok());
    }

    #[test]
    fn a_fleets_answers_name_at_most_ten_clusters() {
        let names: Vec<String> = (0..12).map(|i| format!("c{i:02}")).collect();
        let health = Health::for_fleet(LIMIT, names.clone());
        let t0 = Instant::now();
        for name in &names {
            health.pass_started_at(Some(name), t0);
        }
        let why = health.alive(t0 + secs(301)).unwrap_err();
        assert!(
            why.starts_with("the loop of 12 of 12 clusters looks stuck: c00: a sync pass"),
            "{why}"
        );
        assert!(
            why.contains("; c09: a sync pass") && !why.contains("c10"),
            "{why}"
        );
        assert!(why.ends_with("(limit 300 s) and 2 more"), "{why}");
        health.succeeded(Some("c00"));
        assert_eq!(
            health.readiness().unwrap_err(),
            "waiting for the first successful sync of 11 of 12 clusters: \
             c01, c02, c03, c04, c05, c06, c07, c08, c09, c10 and 1 more"
        );
    }

    #[test]
    fn a_fleet_is_ready_once_every_cluster_has_succeeded_and_stays_ready() {
        let health = Health::for_fleet(LIMIT, ["a", "b", "c"]);
        health.succeeded(Some("a"));
        assert_eq!(
            health.readiness().unwrap_err(),
            "waiting for the first successful sync of 2 of 3 clusters: b, c"
        );
        // A cluster added before all have succeeded is waited for too.
        health.add_cluster("d");
        health.succeeded(Some("b"));
        health.succeeded(Some("c"));
        assert_eq!(
            health.readiness().unwrap_err(),
            "waiting for the first successful sync of 1 of 4 clusters: d"
        );
        health.succeeded(Some("d"));
        assert_eq!(health.readiness(), Ok(()));
        // Latched: a cluster added later, which never succeeds, shows in the metrics only.
        health.add_cluster("broken");
        assert_eq!(health.readiness(), Ok(()));
    }

    #[test]
    fn a_cluster_removed_before_its_first_success_no_longer_counts() {
        let health = Health::for_fleet(LIMIT, ["ok", "gone"]);
        health.succeeded(Some("ok"));
        assert!(!health.ready());
        // A late success of a removed cluster does not count either way.
        health.remove_cluster("gone");
        health.succeeded(Some("gone"));
        assert_eq!(health.readiness(), Ok(()));

        let health = Health::for_fleet(LIMIT, ["only"]);
        health.succeeded(Some("elsewhere"));
        assert!(
            !health.ready(),
            "a cluster the fleet does not hold is not counted"
        );
        health.remove_cluster("only");
        assert!(health.ready(), "no cluster waits");
    }

    #[test]
    fn a_cluster_waiting_for_a_slot_is_not_stuck_however_long_it_waits() {
        let health = Health::for_fleet(LIMIT, ["queued", "running"]);
        let start = Instant::now();
        health.sleeping_until(Some("queued"), start);
        health.pass_started_at(Some("running"), start);
        health.queued(Some("queued"));
        let later = start + LIMIT / 2;
        assert!(health.alive(later).is_ok());
        // The pass that holds the slot past the limit is the one named.
        let message = health.alive(start + LIMIT * 2).unwrap_err();
        assert!(message.contains("running"), "{message}");
        assert!(!message.contains("queued"), "{message}");
    }

    #[test]
    fn a_fleet_that_starts_empty_is_ready_at_once() {
        let health = Health::for_fleet(LIMIT, Vec::<String>::new());
        assert_eq!(health.readiness(), Ok(()));
        assert!(health.alive(Instant::now()).is_ok());
    }

    fn body(response: Response<Full<Bytes>>) -> (u16, String) {
        use http_body_util::BodyExt;
        let status = response.status().as_u16();
        let bytes = futures::executor::block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[test]
    fn the_endpoints_answer_for_a_fleet() {
        let health = Health::for_fleet(LIMIT, ["prod-1", "prod-2"]);
        let metrics = Metrics::for_fleet();
        metrics.add_cluster("prod-1");
        health.pass_started(Some("prod-1"));
        let get = |path| body(respond(&Method::GET, path, &health, &metrics));
        assert_eq!(
            get("/readyz"),
            (
                503,
                "waiting for the first successful sync of 2 of 2 clusters: prod-1, prod-2\n"
                    .to_owned()
            )
        );
        assert_eq!(get("/healthz"), (200, "ok\n".to_owned()));
        let (status, text) = get("/metrics");
        assert_eq!(status, 200);
        assert!(
            text.contains(
                "kube_oidc_publisher_last_success_timestamp_seconds{cluster=\"prod-1\"} 0.0\n"
            ),
            "{text}"
        );
        health.succeeded(Some("prod-1"));
        health.succeeded(Some("prod-2"));
        assert_eq!(get("/readyz"), (200, "ok\n".to_owned()));
    }

    #[test]
    fn run_endpoints_answer_as_before() {
        let health = Health::new(LIMIT);
        let metrics = Metrics::new();
        let get = |path| body(respond(&Method::GET, path, &health, &metrics));
        assert_eq!(get("/readyz"), (503, "no successful sync yet\n".to_owned()));
        assert_eq!(get("/healthz"), (200, "ok\n".to_owned()));
        assert_eq!(get("/nope").0, 404);
        assert_eq!(
            body(respond(&Method::POST, "/readyz", &health, &metrics)).0,
            405
        );
    }
}
