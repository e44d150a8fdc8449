//! Figures for the `run` daemon, with the release binary against the fake kube-apiserver (TLS,
//! bearer token) and a directory or the moto S3 server, everything on loopback:
//!
//! 1. `latency`: the time from a new key appearing at the API server to the published JWKS
//!    holding it, with `run --interval 5s`. Each sample starts a fresh daemon on a fresh store,
//!    waits until it is ready, waits a random 0 to 5 s (so the key appears at a random point of
//!    the schedule), switches the API server to the two-key rotation set, and polls the
//!    published JWKS (the file every 5 ms; the S3 object every 20 ms) until the new kid is in.
//! 2. `steady`: two daemons side by side for a window (default 10 minutes), one with the
//!    default `--interval 60s` and one with `5s`, publishing to S3 from the API server. Every
//!    second: VmRSS from /proc/PID/status; at both ends of the window (which starts once the
//!    daemon is ready): utime + stime from /proc/PID/stat, so CPU = ticks / CLK_TCK / wall.
//!
//! ```sh
//! cargo bench --bench daemon                        # both, 10 samples per store, 600 s window
//! cargo bench --bench daemon -- latency             # only the latency samples
//! KOP_BENCH_SAMPLES=20 KOP_BENCH_WINDOW=120 cargo bench --bench daemon -- steady
//! ```
//!
//! The bench panics if a daemon fails a pass during the window, so it also checks that a
//! long-running daemon stays healthy. See docs/benchmarks.md for the figures.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::{moto, setup, write_kubeconfig, FakeApiServer, Scenario, TestCommand, ISSUER};

const NEW_KID: &str = "ck0vRfRIYYdCP_NP6StdWkzKIio-wCalrEhjifBynnc";
const JWKS_KEY: &str = "openid/v1/jwks";
const LATENCY_INTERVAL: Duration = Duration::from_secs(5);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let wanted = |what: &str| args.is_empty() || args.iter().any(|a| a == what);
    let samples = env_number("KOP_BENCH_SAMPLES", 10) as usize;
    let window = Duration::from_secs(env_number("KOP_BENCH_WINDOW", 600));
    let server = FakeApiServer::with_scenario(Scenario::Rsa);
    let (dir, cmd) = setup("bench-daemon");
    let kubeconfig = write_kubeconfig(dir.path(), &server);
    let base = |interval: &str| {
        let mut cmd = cmd.clone();
        cmd.args(["run", "--interval", interval, "--listen", "127.0.0.1:0"])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--no-iam", "--issuer", ISSUER]);
        cmd
    };

    if wanted("latency") {
        println!("latency: new key at the API server -> in the published JWKS, run --interval 5s, {samples} samples per store");
        for store in ["dir", "s3"] {
            let mut times = Vec::new();
            for i in 0..samples {
                server.set_scenario(Scenario::Rsa);
                let mut cmd = base("5s");
                let published: Box<dyn Fn() -> bool> = if store == "dir" {
                    let path = dir.path().join(format!("latency-{i}"));
                    cmd.arg("--store").arg(&path);
                    let jwks = path.join(JWKS_KEY);
                    Box::new(move || has_new_key(&std::fs::read(&jwks).unwrap_or_default()))
                } else {
                    let bucket = moto().new_bucket("bench-latency");
                    cmd.moto(moto()).args([
                        "--s3-path-style",
                        "--store",
                        &format!("s3://{bucket}"),
                    ]);
                    Box::new(move || {
                        moto()
                            .get_object(&bucket, JWKS_KEY)
                            .is_some_and(|o| has_new_key(&o.body))
                    })
                };
                let poll = Duration::from_millis(if store == "dir" { 5 } else { 20 });
                times.push(sample_latency(&server, &cmd, &*published, poll));
                println!(
                    "  {store} sample {}: {:.2} s",
                    i + 1,
                    times[i].as_secs_f64()
                );
            }
            times.sort();
            println!(
                "  {store}: median {:.2} s, min {:.2} s, max {:.2} s (n = {})",
                times[times.len() / 2].as_secs_f64(),
                times[0].as_secs_f64(),
                times[times.len() - 1].as_secs_f64(),
                times.len()
            );
        }
        server.set_scenario(Scenario::Rsa);
    }

    if wanted("steady") {
        println!(
            "steady state: two daemons (S3 via moto), window {} s, VmRSS every second",
            window.as_secs()
        );
        let clk_tck = support::daemon::clk_tck();
        let mut daemons = Vec::new();
        for interval in ["60s", "5s"] {
            let bucket = moto().new_bucket("bench-steady");
            let mut cmd = base(interval);
            cmd.moto(moto())
                .args(["--s3-path-style", "--store", &format!("s3://{bucket}")]);
            let mut daemon = Daemon::start(&cmd);
            daemon.wait_for("/readyz 200", |d| (d.get("/readyz").0 == 200).then_some(()));
            daemons.push((interval, daemon));
        }
        let start = Instant::now();
        let ticks_at_start: Vec<u64> = daemons.iter().map(|(_, d)| d.cpu_ticks()).collect();
        let mut rss: Vec<Vec<u64>> = vec![Vec::new(); daemons.len()];
        while start.elapsed() < window {
            for (i, (_, d)) in daemons.iter().enumerate() {
                rss[i].push(d.status_kib("VmRSS:"));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        let wall = start.elapsed().as_secs_f64();
        for (i, (interval, d)) in daemons.into_iter().enumerate() {
            let ticks = d.cpu_ticks() - ticks_at_start[i];
            let cpu = ticks as f64 / clk_tck as f64;
            let hwm = d.status_kib("VmHWM:");
            let metrics = d.metrics();
            let passes = support::daemon::metric_value(
                &metrics,
                "kube_oidc_publisher_syncs_total{result=\"success\"}",
            )
            .unwrap_or_default();
            let errors = support::daemon::metric_value(
                &metrics,
                "kube_oidc_publisher_syncs_total{result=\"error\"}",
            )
            .unwrap_or_default();
            let mut samples = rss[i].clone();
            samples.sort();
            println!(
                "  --interval {interval}: VmRSS median {:.1} MiB, max {:.1} MiB (VmHWM since start {:.1} MiB); CPU {:.2} s in {:.0} s = {:.3} %; {passes} passes, {errors} failed",
                samples[samples.len() / 2] as f64 / 1024.0,
                samples[samples.len() - 1] as f64 / 1024.0,
                hwm as f64 / 1024.0,
                cpu,
                wall,
                100.0 * cpu / wall
            );
            assert_eq!(
                errors,
                0.0,
                "a pass failed during the window:\n{}",
                d.stderr()
            );
            let (status, log) = d.stop("TERM");
            assert_eq!(status.code(), Some(0), "{log}");
        }
    }
}

fn has_new_key(jwks: &[u8]) -> bool {
    String::from_utf8_lossy(jwks).contains(NEW_KID)
}

/// One latency sample: a fresh daemon, ready; a random wait; the new key; poll.
fn sample_latency(
    server: &FakeApiServer,
    cmd: &TestCommand,
    published: &dyn Fn() -> bool,
    poll: Duration,
) -> Duration {
    let mut daemon = Daemon::start(cmd);
    daemon.wait_for("/readyz 200", |d| (d.get("/readyz").0 == 200).then_some(()));
    std::thread::sleep(LATENCY_INTERVAL.mul_f64(fastrand::f64()));
    server.set_scenario(Scenario::Rotation);
    let appeared = Instant::now();
    let deadline = appeared + Duration::from_secs(60);
    while !published() {
        assert!(
            Instant::now() < deadline,
            "the new key was not published within 60 s\n{}",
            daemon.stderr()
        );
        std::thread::sleep(poll);
    }
    let latency = appeared.elapsed();
    let (status, log) = daemon.stop("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    latency
}
