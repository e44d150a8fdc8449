//! `run --fleet`: one loop per cluster in one process, each on its own jittered schedule
//! (`schedule::next_delay`, with its own backoff), at most `--concurrency` passes at a time,
//! each pass exactly one cluster's `sync` (`fleet::pass::Publisher::publish`). The clients and
//! the AWS sessions are kept from one pass to the next by the publisher.
//!
//! With `--fleet-from`, the members are listed again every `--interval`: a loop starts for a
//! cluster that appeared and stops for one whose Secret is gone (its metrics series go with it;
//! its documents stay). Logs of a cluster's pass carry its name (a `cluster` span), metrics a
//! `cluster` label; `/readyz` is ready once every cluster has succeeded once (`server::Health`).
//! On SIGTERM or SIGINT no new write starts in any loop, writes in flight may finish
//! (`SHUTDOWN_GRACE`), then every loop is dropped.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::metrics::Metrics;
use super::server::{self, Health};
use super::{listen, record, schedule, Signals, SHUTDOWN_GRACE, STALL_FACTOR};
use crate::config::fleet::Member;
use crate::config::FleetRunConfig;
use crate::exit::Exit;
use crate::fleet::pass::{Members, Publisher};
use crate::fleet::tally::provider_quota_reached;
use crate::publish::gate::WriteGate;

/// What every cluster's loop shares.
struct Shared {
    publisher: Publisher,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    /// One permit per pass in progress (`--concurrency`).
    permits: Semaphore,
    interval: Duration,
    /// Clusters whose last pass could not create their IAM provider (IAM's quota).
    over_quota: Mutex<BTreeSet<String>>,
}

pub async fn run(config: FleetRunConfig) -> anyhow::Result<Exit> {
    let mut signals = Signals::install().context("installing the SIGTERM and SIGINT handlers")?;
    let (listener, address) = listen(config.listen).await?;
    let gate = Arc::new(WriteGate::default());
    let timeout = config.fleet.timeout();
    let concurrency = config.fleet.concurrency;
    let publisher = Publisher::new(config.fleet, Some(gate.clone()));
    let mut members = publisher.members().await;
    report_refused(&members);
    let metrics = Arc::new(Metrics::for_fleet());
    let health = Arc::new(Health::for_fleet(
        timeout * STALL_FACTOR,
        members.members.iter().map(|m| m.name.clone()),
    ));
    let server = tokio::spawn(server::serve(listener, health.clone(), metrics.clone()));
    let shared = Arc::new(Shared {
        metrics,
        health,
        publisher,
        permits: Semaphore::new(concurrency),
        interval: config.interval,
        over_quota: Mutex::default(),
    });
    tracing::info!(
        %address,
        clusters = members.members.len(),
        interval = %humantime::format_duration(config.interval),
        "serving /healthz, /readyz and /metrics"
    );
    let mut loops: HashMap<String, JoinHandle<()>> = HashMap::new();
    let discovers = shared.publisher.fleet().discovery.is_some();
    let signal = loop {
        follow(&mut loops, &members, &shared);
        let next_listing = schedule::next_delay(config.interval, 0, fastrand::f64());
        tokio::select! {
            () = tokio::time::sleep(next_listing), if discovers => {}
            signal = signals.recv() => break signal,
        }
        members = shared.publisher.members().await;
        report_refused(&members);
    };
    tracing::info!(
        signal,
        "stopping: no new write starts; waiting for the writes in progress, if any"
    );
    gate.close();
    tokio::select! {
        () = gate.idle() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!(
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "a write did not finish in time and was abandoned; each write is atomic, so the store holds either the old or the new object"
        ),
    }
    for (_, handle) in loops {
        handle.abort();
    }
    server.abort();
    tracing::info!(signal, "stopped");
    Ok(Exit::Ok)
}

/// Logs the clusters found but not publishable, and a failed Cluster API listing.
fn report_refused(members: &Members) {
    for outcome in &members.refused {
        if let Err(error) = &outcome.result {
            tracing::error!(cluster = outcome.name.as_str(), "{error:#}");
        }
    }
}

/// Starts a loop for each new member and stops the loop of each member that left. When the
/// Cluster API clusters could not be listed, none of them is taken for gone.
fn follow(loops: &mut HashMap<String, JoinHandle<()>>, found: &Members, shared: &Arc<Shared>) {
    let members = &found.members;
    let file = &shared.publisher.fleet().members;
    loops.retain(|name, handle| {
        let kept = members.iter().any(|m| &m.name == name)
            || (!found.listed && !file.iter().any(|m| &m.name == name));
        if !kept {
            handle.abort();
            shared.metrics.remove_cluster(name);
            shared.health.remove_cluster(name);
            shared.over_quota.lock().unwrap().remove(name);
            tracing::info!(
                cluster = name.as_str(),
                "no longer in the fleet: not published any more (its documents stay; `bootstrap --delete` removes them)"
            );
        }
        kept
    });
    let names: Vec<&str> = loops.keys().map(String::as_str).collect();
    shared.publisher.retain(&names);
    for member in members {
        if loops.contains_key(&member.name) {
            continue;
        }
        shared.metrics.add_cluster(&member.name);
        shared.health.add_cluster(&member.name);
        let span = tracing::info_span!("cluster", name = member.name.as_str());
        let handle = tokio::spawn(cluster_loop(member.clone(), shared.clone()).instrument(span));
        loops.insert(member.name.clone(), handle);
    }
}

/// One cluster's passes, for as long as it is in the fleet.
async fn cluster_loop(member: Member, shared: Arc<Shared>) {
    let name = member.name.as_str();
    let mut failures = 0u32;
    loop {
        shared.health.queued(Some(name));
        let permit = shared.permits.acquire().await.expect("never closed");
        shared.health.pass_started(Some(name));
        let started = Instant::now();
        let result = shared.publisher.publish(&member).await;
        drop(permit);
        failures = match &result {
            Ok(_) => 0,
            Err(_) => failures.saturating_add(1),
        };
        note_quota(&shared, name, &result);
        let delay = schedule::next_delay(shared.interval, failures, fastrand::f64());
        record(
            Some(name),
            &result,
            started.elapsed(),
            &shared.metrics,
            &shared.health,
            failures,
            Some(delay),
        );
        shared.health.sleeping(Some(name), delay);
        tokio::time::sleep(delay).await;
    }
}

/// Keeps the set of clusters IAM's provider quota stops, and names them all when one is added.
fn note_quota(shared: &Shared, name: &str, result: &anyhow::Result<crate::reconcile::SyncReport>) {
    let mut over = shared.over_quota.lock().unwrap();
    let stopped = matches!(result, Err(error) if provider_quota_reached(error));
    if !stopped {
        over.remove(name);
        return;
    }
    if over.insert(name.to_owned()) {
        let tally = crate::fleet::tally::Tally {
            over_provider_quota: over.iter().cloned().collect(),
            ..Default::default()
        };
        if let Some(message) = tally.quota_message() {
            tracing::error!("{message}");
        }
    }
}
