//! `run`: the daemon. `loop { pass; sleep(next delay) }`, where a pass is exactly one `sync`
//! (`publish::publish_with`), joined with an HTTP server for `/healthz`, `/readyz` and
//! `/metrics`, and stopped by SIGTERM or SIGINT between two writes.
//!
//! What each part owns: [`schedule`] the pure arithmetic of the next delay (interval, backoff,
//! jitter); [`metrics`] the metrics and the fixed error kinds; [`server`] the HTTP endpoints;
//! `publish::gate` stopping between writes. This file only sequences them and logs one line per
//! pass.
//! It must not duplicate anything `sync` does: a pass here is byte for byte a `sync` run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::config::RunConfig;
use crate::exit::Exit;
use crate::publish::gate::WriteGate;
use crate::publish::{publish_with, Session};
use crate::reconcile::SyncReport;

pub mod fleet;
pub mod metrics;
pub mod schedule;
pub mod server;

use metrics::{ErrorKind, Metrics};
use server::Health;

/// How long a write in flight at SIGTERM may take to finish before it is abandoned; with the
/// rest of the shutdown this stays within Kubernetes' budget of 10 s we promise.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// A pass is bounded by the per-request --timeout times the handful of requests it makes in a
/// row (re-planning and IAM's own retries included); longer than this and `/healthz` fails.
pub const STALL_FACTOR: u32 = 30;

pub async fn run(config: RunConfig) -> anyhow::Result<Exit> {
    let mut signals = Signals::install().context("installing the SIGTERM and SIGINT handlers")?;
    let (listener, address) = listen(config.listen).await?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(config.sync.timeout * STALL_FACTOR));
    let server = tokio::spawn(server::serve(listener, health.clone(), metrics.clone()));
    tracing::info!(
        %address,
        interval = %humantime::format_duration(config.interval),
        "serving /healthz, /readyz and /metrics"
    );

    // What the daemon keeps from one pass to the next.
    let session = Session {
        gate: Some(Arc::new(WriteGate::default())),
        ..Session::default()
    };
    let gate = session.gate.as_deref().expect("set just above");
    let mut failures = 0u32;
    let signal = loop {
        health.pass_started(None);
        let started = Instant::now();
        let pass = publish_with(&config.sync, &session);
        tokio::pin!(pass);
        let result = tokio::select! {
            result = &mut pass => result,
            signal = signals.recv() => {
                tracing::info!(signal, "stopping: no new write starts; waiting for the write in progress, if any");
                if let Some(result) = stop_pass(pass, gate).await {
                    record(None, &result, started.elapsed(), &metrics, &health, failures, None);
                }
                break signal;
            }
        };
        failures = match &result {
            Ok(_) => 0,
            Err(_) => failures.saturating_add(1),
        };
        let delay = schedule::next_delay(config.interval, failures, fastrand::f64());
        record(
            None,
            &result,
            started.elapsed(),
            &metrics,
            &health,
            failures,
            Some(delay),
        );
        health.sleeping(None, delay);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            signal = signals.recv() => break signal,
        }
    };
    server.abort();
    tracing::info!(signal, "stopped");
    Ok(Exit::Ok)
}

/// The listener for /healthz, /readyz and /metrics, and the address it got.
async fn listen(
    address: std::net::SocketAddr,
) -> anyhow::Result<(TcpListener, std::net::SocketAddr)> {
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!(
            "cannot listen on {address} for /healthz, /readyz and /metrics; is another process using the port? Pick another with --listen ADDR:PORT"
        )
    })?;
    let bound = listener
        .local_addr()
        .context("reading the listening address")?;
    Ok((listener, bound))
}

/// After a signal: let a write in flight finish, start no other, then drop the pass. Returns
/// the pass's result if it finished meanwhile.
async fn stop_pass(
    pass: Pin<&mut impl Future<Output = anyhow::Result<SyncReport>>>,
    gate: &WriteGate,
) -> Option<anyhow::Result<SyncReport>> {
    gate.close();
    tokio::select! {
        biased;
        result = pass => Some(result),
        () = gate.idle() => {
            tracing::info!("stopped the pass between two writes; the next run completes it");
            None
        }
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!(
                grace_seconds = SHUTDOWN_GRACE.as_secs(),
                "a write did not finish in time and was abandoned; each write is atomic, so the store holds either the old or the new object"
            );
            None
        }
    }
}

/// Metrics, readiness and the one log line of a finished pass.
/// `cluster`: the fleet member the pass was for (`None` for `run` without a fleet).
fn record(
    cluster: Option<&str>,
    result: &anyhow::Result<SyncReport>,
    elapsed: Duration,
    metrics: &Metrics,
    health: &Health,
    failures: u32,
    next: Option<Duration>,
) {
    let seconds = elapsed.as_secs_f64();
    let duration_ms = elapsed.as_millis() as u64;
    let next_pass_in = next.map(|d| humantime::format_duration(round_to_ms(d)).to_string());
    match result {
        Ok(report) => {
            metrics.success(cluster, report, seconds, OffsetDateTime::now_utc());
            health.succeeded(cluster);
            for warning in &report.warnings {
                tracing::warn!("{warning}");
            }
            let next_removal = report
                .next_removal()
                .map(|r| format!("{} at {}", r.kid, rfc3339(r.removable_at)));
            tracing::info!(
                result = "success",
                duration_ms,
                keys = report.kids.len(),
                writes = report.writes,
                retained = report.retained.len(),
                retired = report.retired.len(),
                next_removal,
                next_pass_in,
                "sync pass: {}",
                if report.writes == 0 {
                    "in sync"
                } else {
                    "published"
                }
            );
        }
        Err(error) => {
            let kind = ErrorKind::of(error);
            metrics.failure(cluster, kind, seconds);
            tracing::error!(
                result = "error",
                kind = kind.as_str(),
                duration_ms,
                failures_in_a_row = failures,
                next_pass_in,
                "sync pass failed: {error:#}"
            );
        }
    }
}

fn round_to_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// SIGTERM (what Kubernetes sends) and SIGINT (Ctrl-C).
pub(crate) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The name of the next signal received.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
