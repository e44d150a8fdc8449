//! Fleet benchmark (issue 11, section 3): one `sync --fleet` process publishing for N clusters,
//! and a steady `run --fleet`, for N = 10, 100 and 1000.
//!
//! ```sh
//! cargo bench --bench fleet                    # N = 10, 100, 1000: sync passes, then run
//! cargo bench --bench fleet -- 10 100          # only these sizes
//! cargo bench --bench fleet -- 1000 sync       # only the `sync --fleet` passes (`run`: only the daemon)
//! KOP_BENCH_RUNS=9 KOP_BENCH_STRICT=1 cargo bench --bench fleet
//! ```
//!
//! The world, per N: N fake kube-apiservers (tests/support/apiserver.rs), each with its own CA,
//! serving certificate, bearer token and issuer (`https://oidc.example.test/cNNNN`), serving the
//! recorded documents (the RSA, EC and mixed key sets in turn) over TLS with the Go-like TCP
//! behaviour the single-cluster bench uses. All N are served by ONE tokio runtime with one
//! worker thread in this process, not a runtime (and threads) per server. One moto S3 server
//! (target/moto-venv), one bucket with a prefix per cluster. A generated fleet file: one entry
//! per cluster with its kubeconfig file, store and issuer, and `defaults: {no-iam: true,
//! s3-path-style: true}` (1,000 IAM providers would be ten times IAM's default quota).
//!
//! Measured per N: a first `sync --fleet` (it publishes 3 objects per cluster), one warm-up
//! no-op pass, then `KOP_BENCH_RUNS` (default 5) timed no-op passes, each under
//! `/usr/bin/time` for wall time, user and system CPU and peak RSS, and the CPU that moto and
//! the fake API servers (this process) spent meanwhile. Each no-op pass must exit 0, print one
//! JSON object per cluster with `status` `in_sync` and `writes` 0 (`--output json`), and leave
//! 0 writes in moto's request log. Then `run --fleet --interval KOP_BENCH_INTERVAL` (seconds,
//! default 10): once every cluster has succeeded once, the daemon's CPU time over a window of
//! `KOP_BENCH_PASSES` (default 3) intervals divided by the fleet passes made in it (successes
//! / N, from `/metrics` at both ends), and VmRSS and VmHWM at its end; 0 writes (failed passes
//! are counted and their log lines printed).
//!
//! `KOP_BENCH_PROFILE="<command prefix>"` (`strace -c -f`, `perf record -g -o FILE`, …) runs one
//! more, untimed, no-op `sync --fleet` per N under that prefix and prints its output;
//! `KOP_BENCH_BIN=PATH` measures another build of the binary. No target is enforced unless
//! `KOP_BENCH_STRICT=1`. See docs/benchmarks.md, "Fleet".

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{load_average, Invocation, Sample};
use serde_json::Value;
use support::daemon::{clk_tck, cpu_ticks_of, Daemon};
use support::{moto, write_kubeconfig_spec, FakeApiServer, KubeconfigSpec, Moto, Scenario};

const DEFAULT_SIZES: [usize; 3] = [10, 100, 1000];
const DEFAULT_RUNS: usize = 5;
const DEFAULT_INTERVAL_SECS: u64 = 10;
const DEFAULT_PASSES: usize = 3;
/// The fixtures' issuer, replaced by each cluster's own.
const RECORDED_ISSUER: &str = support::ISSUER;
const ISSUER_ROOT: &str = "https://oidc.example.test";

/// Targets from the issue: N clusters → one no-op pass's wall time and peak RSS.
const TARGETS: [(usize, f64, u64); 3] = [(10, 0.3, 32), (100, 1.5, 64), (1000, 15.0, 256)];

fn main() {
    let config = Config::from_env_and_args();
    let (bin, work) = common::start("kop-bench-fleet-");
    // Every fake API server of every size runs here: one worker thread, as a single
    // kube-apiserver process would not give each client its own machine either.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-apiservers")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let moto = moto();

    println!(
        "kube-oidc-publisher fleet benchmark: sizes {:?}, {} timed no-op passes per size (+1 warm-up), run --fleet over {} passes at --interval {}s",
        config.sizes, config.runs, config.passes, config.interval_secs
    );
    println!("binary: {}", bin.display());
    println!(
        "host:   {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    let mut rows = Vec::new();
    for &n in &config.sizes {
        let started = Instant::now();
        let fleet = Fleet::build(servers.handle(), moto, work.path(), n);
        println!(
            "\nN = {n}: {n} fake API servers and the fleet file ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let mut row = Row {
            n,
            sync: None,
            steady: None,
        };
        if config.sync {
            row.sync = Some(fleet.sync_passes(&bin, moto, config.runs));
        }
        if config.run {
            row.steady = Some(fleet.steady(&bin, moto, config.interval_secs, config.passes));
        }
        rows.push(row);
        // The servers of this size stop here (their accept loops are aborted).
    }

    println!();
    print_tables(&rows);
    println!("\nload average at the end: {}", load_average());
    common::report_targets(&check_targets(&rows), config.strict, work);
}

struct Config {
    sizes: Vec<usize>,
    runs: usize,
    passes: usize,
    interval_secs: u64,
    sync: bool,
    run: bool,
    strict: bool,
}

impl Config {
    /// Sizes and parts from the arguments (numbers: sizes; `sync`, `run`: only that part; cargo
    /// passes `--bench`, ignored); `KOP_BENCH_RUNS`, `KOP_BENCH_PASSES`, `KOP_BENCH_INTERVAL`,
    /// `KOP_BENCH_STRICT` from the environment.
    fn from_env_and_args() -> Config {
        let mut sizes = Vec::new();
        let mut parts = Vec::new();
        for arg in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
            match arg.parse::<usize>() {
                Ok(n) if (1..=5000).contains(&n) => sizes.push(n),
                Ok(n) => panic!("fleet size {n} is not in 1..=5000"),
                Err(_) if arg == "sync" || arg == "run" => parts.push(arg),
                Err(_) => panic!("unknown argument {arg:?}: sizes (numbers), `sync` or `run`"),
            }
        }
        if sizes.is_empty() {
            sizes = DEFAULT_SIZES.to_vec();
        }
        let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
        Config {
            sizes,
            runs: env_number("KOP_BENCH_RUNS", DEFAULT_RUNS as u64).max(1) as usize,
            passes: env_number("KOP_BENCH_PASSES", DEFAULT_PASSES as u64).max(1) as usize,
            interval_secs: env_number("KOP_BENCH_INTERVAL", DEFAULT_INTERVAL_SECS).max(1),
            sync: wants("sync"),
            run: wants("run"),
            strict: std::env::var("KOP_BENCH_STRICT").is_ok_and(|v| v == "1" || v == "true"),
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    })
}

/// N clusters: their fake API servers, kubeconfigs, the bucket and the fleet file.
struct Fleet {
    n: usize,
    dir: PathBuf,
    file: PathBuf,
    bucket: String,
    servers: Vec<FakeApiServer>,
}

impl Fleet {
    fn build(runtime: &tokio::runtime::Handle, moto: &Moto, work: &Path, n: usize) -> Fleet {
        let dir = work.join(format!("n{n}"));
        std::fs::create_dir_all(&dir).expect("fleet directory");
        let bucket = moto.new_bucket("bench-fleet");
        // JSON strings are YAML scalars: paths and URLs need no further quoting rules.
        let quote = |s: &str| serde_json::to_string(s).expect("JSON string");
        let mut yaml = format!(
            "# benches/fleet.rs: {n} clusters, one fake API server each, one bucket\n\
             defaults:\n  no-iam: true\n  s3-path-style: true\nclusters:\n"
        );
        let mut servers = Vec::with_capacity(n);
        for i in 0..n {
            let name = cluster_name(i);
            let issuer = format!("{ISSUER_ROOT}/{name}");
            let server = FakeApiServer::on(runtime, documents(i, &issuer));
            let kubeconfig = write_kubeconfig_spec(
                &dir.join(format!("{name}.kubeconfig")),
                &KubeconfigSpec::for_server(&server),
            );
            yaml.push_str(&format!(
                "  - name: {name}\n    kubeconfig: {}\n    store: {}\n    issuer: {}\n",
                quote(&kubeconfig.to_string_lossy()),
                quote(&format!("s3://{bucket}/{name}")),
                quote(&issuer),
            ));
            servers.push(server);
        }
        let file = dir.join("fleet.yaml");
        std::fs::write(&file, yaml).expect("writing the fleet file");
        Fleet {
            n,
            dir,
            file,
            bucket,
            servers,
        }
    }

    /// `sync --fleet FILE --output json`, with moto's credentials and endpoint.
    fn sync_invocation(&self, bin: &Path, moto: &Moto) -> Invocation {
        let mut ours = Invocation::new(bin, &self.dir);
        ours.args(["sync", "--fleet"])
            .arg(&self.file)
            .args(["--output", "json"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .timeout(Duration::from_secs(600));
        ours
    }

    fn api_requests(&self) -> usize {
        self.servers.iter().map(FakeApiServer::request_count).sum()
    }

    fn reset_requests(&self, moto: &Moto) {
        self.servers.iter().for_each(FakeApiServer::reset_requests);
        moto.reset_requests(&self.bucket);
    }

    fn sync_passes(&self, bin: &Path, moto: &Moto, runs: usize) -> SyncFigures {
        let ours = self.sync_invocation(bin, moto);
        println!("  {}", ours.command_line());
        let first = ours.measure(&self.dir.join("time-first"));
        let first_results = cluster_results(self.n, &first, &ours);
        let first_writes = moto.requests(&self.bucket).writes();
        let published = first_results
            .iter()
            .filter(|r| r["status"] == "applied")
            .count();
        assert_eq!(
            published,
            self.n,
            "the first pass should publish every cluster\n{}",
            ours.describe(&first.output)
        );
        println!(
            "  first pass (publishes): {:.2} s wall, {:.2} s CPU, peak RSS {:.1} MiB, {first_writes} writes",
            first.wall.as_secs_f64(),
            first.user + first.system,
            mib(first.rss_kib)
        );
        let warm_up = ours.measure(&self.dir.join("time-warm-up"));
        check_no_op(self.n, &warm_up, &ours);

        let clk_tck = clk_tck() as f64;
        let mut passes = Vec::with_capacity(runs);
        for run in 0..runs {
            self.reset_requests(moto);
            let moto_ticks = cpu_ticks_of(moto.pid());
            let our_ticks = cpu_ticks_of(std::process::id());
            let sample = ours.measure(&self.dir.join(format!("time-{run}")));
            let servers_cpu = (cpu_ticks_of(std::process::id()) - our_ticks) as f64 / clk_tck;
            let moto_cpu = (cpu_ticks_of(moto.pid()) - moto_ticks) as f64 / clk_tck;
            check_no_op(self.n, &sample, &ours);
            let log = moto.requests(&self.bucket);
            assert_eq!(
                log.writes(),
                0,
                "a no-op pass wrote to S3: {:?}\n{}",
                log.counts(),
                ours.command_line()
            );
            let pass = Pass {
                wall: sample.wall.as_secs_f64(),
                user: sample.user,
                system: sample.system,
                rss_kib: sample.rss_kib,
                api_requests: self.api_requests(),
                s3_requests: log.total(),
                moto_cpu,
                servers_cpu,
            };
            println!(
                "  no-op pass {}: {:.2} s wall, CPU {:.2} s user + {:.2} s system, peak RSS {:.1} MiB; {} API-server and {} S3 requests, 0 writes; meanwhile moto {:.2} s CPU, fake API servers {:.2} s CPU",
                run + 1,
                pass.wall,
                pass.user,
                pass.system,
                mib(pass.rss_kib),
                pass.api_requests,
                pass.s3_requests,
                pass.moto_cpu,
                pass.servers_cpu
            );
            passes.push(pass);
        }
        // Its stdout is one JSON line per cluster: only the profiler's stderr is printed.
        common::profile(&ours, false);
        SyncFigures {
            first_wall: first.wall.as_secs_f64(),
            first_rss_kib: first.rss_kib,
            first_writes,
            passes,
        }
    }

    /// `run --fleet`: once every cluster has succeeded, CPU and memory over `passes` passes of
    /// the whole fleet.
    fn steady(&self, bin: &Path, moto: &Moto, interval_secs: u64, passes: usize) -> Steady {
        let mut cmd = support::TestCommand::program(&self.dir, bin);
        cmd.moto(moto)
            .args(["run", "--fleet"])
            .arg(&self.file)
            .args(["--listen", "127.0.0.1:0", "--interval"])
            .arg(format!("{interval_secs}s"));
        println!("  {}", cmd.command_line());
        let mut daemon = Daemon::start(&cmd);
        let n = self.n as f64;
        let started = Instant::now();
        wait_until(&mut daemon, "every cluster's first success", 120, |d| {
            syncs(d, "success") >= n
        });
        let first_round = started.elapsed().as_secs_f64();
        let ready = daemon.get("/readyz").0;
        // The window is a fixed `passes` intervals, with one scrape at each end: scraping the
        // metrics (a dozen series per cluster) while measuring would add to the CPU measured.
        moto.reset_requests(&self.bucket);
        let (ticks, successes) = (daemon.cpu_ticks(), syncs(&daemon, "success"));
        let window = Duration::from_secs(interval_secs * passes as u64);
        std::thread::sleep(window);
        let cpu = (daemon.cpu_ticks() - ticks) as f64 / clk_tck() as f64;
        let cluster_passes = syncs(&daemon, "success") - successes;
        assert!(
            cluster_passes > 0.0,
            "no pass succeeded in the window\n{}",
            daemon.describe()
        );
        let mut steady = Steady {
            failures: 0.0,
            interval_secs,
            fleet_passes: cluster_passes / n,
            window: window.as_secs_f64(),
            cpu_per_fleet_pass: cpu / (cluster_passes / n),
            rss_kib: daemon.status_kib("VmRSS:"),
            hwm_kib: daemon.status_kib("VmHWM:"),
            first_round,
            ready,
        };
        steady.failures = syncs(&daemon, "error");
        let writes = moto.requests(&self.bucket).writes();
        let (status, log) = daemon.stop("TERM");
        assert!(
            writes == 0 && status.code() == Some(0),
            "run --fleet: {writes} writes, exit {status}\n{log}"
        );
        // A failed pass is a finding, not a reason to lose the figures: reported, with why.
        for line in log.lines().filter(|l| l.contains("ERROR")).take(3) {
            println!("  failed pass: {line}");
        }
        println!(
            "  run --fleet: every cluster succeeded {:.1} s after start (/readyz then {}); {:.1} fleet passes in {:.1} s: CPU {:.3} s per fleet pass, VmRSS {:.1} MiB, VmHWM {:.1} MiB, 0 writes, {} failed cluster passes",
            steady.first_round,
            steady.ready,
            steady.fleet_passes,
            steady.window,
            steady.cpu_per_fleet_pass,
            mib(steady.rss_kib),
            mib(steady.hwm_kib),
            steady.failures
        );
        steady
    }
}

fn cluster_name(i: usize) -> String {
    format!("c{i:04}")
}

/// The recorded documents of a key set (RSA, EC, mixed in turn), the discovery document
/// rewritten for this cluster's own issuer.
fn documents(i: usize, issuer: &str) -> Scenario {
    let recorded = [Scenario::Rsa, Scenario::Ec, Scenario::Mixed][i % 3].clone();
    let (discovery, jwks) = recorded.documents().expect("recorded documents");
    let discovery = String::from_utf8(discovery)
        .expect("UTF-8 discovery document")
        .replace(RECORDED_ISSUER, issuer);
    Scenario::Custom {
        jwks,
        discovery: discovery.into_bytes(),
    }
}

/// Sum of `kube_oidc_publisher_syncs_total` over every cluster, for one `result`.
fn syncs(daemon: &Daemon, result: &str) -> f64 {
    let wanted = format!("result=\"{result}\"");
    daemon
        .metrics()
        .lines()
        .filter(|l| l.starts_with("kube_oidc_publisher_syncs_total{") && l.contains(&wanted))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls `done` every second for at most `secs` seconds; panics with the daemon's log.
fn wait_until(daemon: &mut Daemon, what: &str, secs: u64, done: impl Fn(&Daemon) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(daemon) {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!(
                "run --fleet exited ({status}) while waiting for {what}\n{}",
                daemon.describe()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "gave up after {secs} s waiting for {what}\n{}",
                daemon.describe()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The per-cluster JSON objects of a `sync --fleet --output json` run (those with a
/// `cluster`); exactly one per cluster, or the bench fails.
fn cluster_results(n: usize, sample: &Sample, ours: &Invocation) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&sample.output.stdout);
    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("cluster").is_some())
        .collect();
    let mut names: Vec<&str> = results
        .iter()
        .filter_map(|r| r["cluster"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(
        sample.output.status.success() && results.len() == n && names.len() == n,
        "expected exit 0 and one JSON object per cluster ({n}), got {} for {} names\n{}",
        results.len(),
        names.len(),
        ours.describe(&sample.output)
    );
    results
}

/// A no-op pass: every cluster `in_sync` with 0 writes.
fn check_no_op(n: usize, sample: &Sample, ours: &Invocation) {
    let results = cluster_results(n, sample, ours);
    let off: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] != "in_sync" || r["writes"] != 0)
        .collect();
    assert!(
        off.is_empty(),
        "a no-op pass found {} clusters not in sync or writing, first: {}\n{}",
        off.len(),
        off[0],
        ours.command_line()
    );
}

/// One timed no-op pass.
struct Pass {
    wall: f64,
    user: f64,
    system: f64,
    rss_kib: u64,
    api_requests: usize,
    s3_requests: usize,
    moto_cpu: f64,
    servers_cpu: f64,
}

struct SyncFigures {
    first_wall: f64,
    first_rss_kib: u64,
    first_writes: usize,
    passes: Vec<Pass>,
}

struct Steady {
    /// Failed cluster passes since start (0 expected).
    failures: f64,
    interval_secs: u64,
    fleet_passes: f64,
    window: f64,
    cpu_per_fleet_pass: f64,
    rss_kib: u64,
    hwm_kib: u64,
    first_round: f64,
    ready: u16,
}

struct Row {
    n: usize,
    sync: Option<SyncFigures>,
    steady: Option<Steady>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, f64::max)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn target(n: usize) -> Option<(f64, u64)> {
    TARGETS
        .iter()
        .find(|(size, _, _)| *size == n)
        .map(|(_, wall, rss)| (*wall, *rss))
}

fn print_tables(rows: &[Row]) {
    let synced: Vec<(usize, &SyncFigures)> = rows
        .iter()
        .filter_map(|r| Some((r.n, r.sync.as_ref()?)))
        .collect();
    if !synced.is_empty() {
        println!("| N clusters | no-op pass, wall median (max) | CPU user+sys median | peak RSS max | target wall / RSS | per cluster: wall, CPU | API-server requests / pass | S3 requests / pass | writes | moto CPU / pass | fake API servers CPU / pass | first pass (publishes): wall, RSS, writes |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (n, s) in &synced {
            let wall = median(s.passes.iter().map(|p| p.wall).collect());
            let cpu = median(s.passes.iter().map(|p| p.user + p.system).collect());
            let rss = s.passes.iter().map(|p| p.rss_kib).max().unwrap_or(0);
            let target = target(*n).map_or("-".into(), |(w, r)| format!("≤ {w} s / ≤ {r} MiB"));
            println!(
                "| {n} | {wall:.2} s ({:.2} s) | {cpu:.2} s | {:.1} MiB | {target} | {:.2} ms, {:.2} ms | {} | {} | 0 | {:.2} s | {:.2} s | {:.2} s, {:.1} MiB, {} |",
                max(s.passes.iter().map(|p| p.wall)),
                mib(rss),
                1000.0 * wall / *n as f64,
                1000.0 * cpu / *n as f64,
                s.passes[0].api_requests,
                s.passes[0].s3_requests,
                median(s.passes.iter().map(|p| p.moto_cpu).collect()),
                median(s.passes.iter().map(|p| p.servers_cpu).collect()),
                s.first_wall,
                mib(s.first_rss_kib),
                s.first_writes,
            );
        }
        // How cost grows: the increment from one size to the next, per added cluster.
        for pair in synced.windows(2) {
            let ((a, sa), (b, sb)) = (pair[0], pair[1]);
            let wall = |s: &SyncFigures| median(s.passes.iter().map(|p| p.wall).collect());
            let cpu =
                |s: &SyncFigures| median(s.passes.iter().map(|p| p.user + p.system).collect());
            let rss =
                |s: &SyncFigures| s.passes.iter().map(|p| p.rss_kib).max().unwrap_or(0) as f64;
            let added = (b - a) as f64;
            println!(
                "N {a} → {b}: per added cluster {:.2} ms wall, {:.2} ms CPU, {:.1} KiB peak RSS",
                1000.0 * (wall(sb) - wall(sa)) / added,
                1000.0 * (cpu(sb) - cpu(sa)) / added,
                (rss(sb) - rss(sa)) / added
            );
        }
    }
    let steady: Vec<(usize, &Steady)> = rows
        .iter()
        .filter_map(|r| Some((r.n, r.steady.as_ref()?)))
        .collect();
    if !steady.is_empty() {
        println!();
        println!("| N clusters | run --fleet --interval | every cluster succeeded after | fleet passes measured | CPU per fleet pass | CPU per cluster pass | VmRSS after them | VmHWM | failed cluster passes |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for (n, s) in steady {
            println!(
                "| {n} | {}s | {:.1} s | {:.1} in {:.0} s | {:.3} s | {:.2} ms | {:.1} MiB | {:.1} MiB | {} |",
                s.interval_secs,
                s.first_round,
                s.fleet_passes,
                s.window,
                s.cpu_per_fleet_pass,
                1000.0 * s.cpu_per_fleet_pass / n as f64,
                mib(s.rss_kib),
                mib(s.hwm_kib),
                s.failures
            );
        }
    }
}

fn check_targets(rows: &[Row]) -> Vec<String> {
    let mut misses = Vec::new();
    for row in rows {
        let (Some(sync), Some((wall_target, rss_target))) = (&row.sync, target(row.n)) else {
            continue;
        };
        let wall = median(sync.passes.iter().map(|p| p.wall).collect());
        let rss = sync.passes.iter().map(|p| p.rss_kib).max().unwrap_or(0);
        if wall > wall_target {
            misses.push(format!(
                "N = {}: no-op pass median {wall:.2} s (target {wall_target} s)",
                row.n
            ));
        }
        if rss > rss_target * 1024 {
            misses.push(format!(
                "N = {}: peak RSS {:.1} MiB (target {rss_target} MiB)",
                row.n,
                mib(rss)
            ));
        }
    }
    misses
}
