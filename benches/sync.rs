//! No-op `sync` benchmark: the release binary against the manual floor, one `curl` process
//! making the same requests concurrently, alternating the two in one run.
//!
//! ```sh
//! cargo bench --bench sync                 # 21 runs of each per scenario
//! cargo bench --bench sync -- 41 s3        # 41 runs, only the S3 scenario
//! KOP_BENCH_RUNS=41 KOP_BENCH_STRICT=1 cargo bench --bench sync
//! ```
//!
//! Scenarios (each publishes once first, so every timed run is a no-op):
//!
//! - `s3`: fake kube-apiserver (TLS, bearer token) → moto S3 bucket; curl makes the two
//!   API-server GETs and a SigV4-signed path-style GET of every object the first sync stored,
//!   in one `curl --parallel`.
//! - `s3-iam`: the same with the IAM OIDC provider (pinned thumbprint, so no TLS fetch of the
//!   public host) and credentials that carry their account, as the publisher's web identity
//!   does in the cluster (here `AWS_ACCOUNT_ID` beside static keys), so no STS request; curl
//!   also makes IAM GetOpenIDConnectProvider.
//! - `dir`: fake kube-apiserver → directory; curl makes the two API-server GETs.
//! - `files`: a PEM key file → directory; no network, so no curl counterpart.
//!
//! Every process (ours, curl, and a `true` process floor) runs under `/usr/bin/time` (`%M`)
//! for its peak RSS; wall time is measured around that wrapper, for all of them alike. The
//! bench exits non-zero if a no-op run of ours fails, writes anything, makes more than 2
//! API-server requests, or reads any stored object more than once; with
//! `KOP_BENCH_STRICT=1` also if a median misses 1.5x curl or a peak RSS exceeds 20 MiB.
//!
//! For investigating: `KOP_BENCH_PROFILE="strace -c -f"` (any command prefix) runs ours once
//! more per scenario under it and prints its output; `KOP_BENCH_BIN=PATH` measures another
//! build of the binary. See docs/benchmarks.md.

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use common::{load_average, Invocation, Sample};
use support::{moto, snapshot_dir, write_kubeconfig, FakeApiServer, Scenario, ISSUER};

const JWKS_KEY: &str = "openid/v1/jwks";
const DISCOVERY_KEY: &str = ".well-known/openid-configuration";
const KEY_FILE: &str = "key-rsa-old.pub.pem";
/// The `s3-iam` scenario's pinned thumbprint (the issuer's host is not reachable offline).
const IAM_PIN: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const DEFAULT_RUNS: usize = 21;
const MAX_RUNS: usize = 1000;
const WARMUP_RUNS: usize = 2;
/// A run this much slower than the fastest one of the same program hit a stall (for curl
/// against the fake API server: a 40 ms delayed ACK, see docs/benchmarks.md).
const STALL_MS: f64 = 30.0;

/// Targets from the issue.
const TARGET_RATIO: f64 = 1.5;
const TARGET_RSS_KIB: u64 = 20 * 1024;
/// The two documents plus the `kubernetes` EndpointSlice list (`--api-server-endpoints all`,
/// the default), which runs concurrently with them.
const TARGET_API_REQUESTS: usize = 3;

fn main() {
    let config = Config::from_env_and_args();
    let (bin, work) = common::start("kop-bench-");
    let bench = Bench {
        bin: bin.clone(),
        work: work.path().to_path_buf(),
        runs: config.runs,
    };

    println!(
        "kube-oidc-publisher no-op sync benchmark: {} timed runs per program and scenario (+{WARMUP_RUNS} warm-up), alternating",
        config.runs
    );
    println!("binary: {}", bin.display());
    println!("curl:   {}", first_line(&run_plain("curl", &["--version"])));
    println!(
        "host:   {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    println!();

    let mut rows = Vec::new();
    rows.push(bench.process_floor());
    if config.wants("s3") {
        rows.push(bench.cluster_to_s3(false));
    }
    if config.wants("s3-iam") {
        rows.push(bench.cluster_to_s3(true));
    }
    if config.wants("dir") {
        rows.push(bench.cluster_to_dir());
    }
    if config.wants("files") {
        rows.push(bench.files_to_dir());
    }

    let size = std::fs::metadata(&bin)
        .unwrap_or_else(|e| panic!("size of {}: {e}", bin.display()))
        .len();
    println!();
    print_table(&rows);
    println!();
    println!(
        "binary size: {} bytes ({:.1} MiB), {}",
        size,
        size as f64 / (1024.0 * 1024.0),
        bin.display()
    );
    println!("load average at the end: {}", load_average());
    print_stalls(&rows);

    common::report_targets(&check_targets(&rows), config.strict, work);
}

struct Config {
    runs: usize,
    scenarios: Vec<String>,
    strict: bool,
}

impl Config {
    /// `KOP_BENCH_RUNS`, `KOP_BENCH_SCENARIOS` (comma-separated), `KOP_BENCH_STRICT`; a number
    /// or a scenario name among the arguments wins (cargo passes `--bench`, ignored).
    fn from_env_and_args() -> Config {
        let mut runs = match std::env::var("KOP_BENCH_RUNS") {
            Ok(v) => parse_runs(&v),
            Err(_) => DEFAULT_RUNS,
        };
        let mut scenarios: Vec<String> = std::env::var("KOP_BENCH_SCENARIOS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for arg in std::env::args().skip(1) {
            if arg.starts_with('-') {
                continue;
            }
            if arg.chars().all(|c| c.is_ascii_digit()) {
                runs = parse_runs(&arg);
            } else {
                scenarios.push(arg);
            }
        }
        for s in &scenarios {
            assert!(
                ["s3", "s3-iam", "dir", "files"].contains(&s.as_str()),
                "unknown scenario {s:?}: use s3, s3-iam, dir or files"
            );
        }
        let strict = std::env::var("KOP_BENCH_STRICT").is_ok_and(|v| v == "1" || v == "true");
        Config {
            runs,
            scenarios,
            strict,
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.scenarios.is_empty() || self.scenarios.iter().any(|s| s == scenario)
    }
}

fn parse_runs(value: &str) -> usize {
    let runs: usize = value
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("run count {value:?} is not a number"));
    assert!(
        (1..=MAX_RUNS).contains(&runs),
        "run count must be 1..={MAX_RUNS}"
    );
    runs
}

/// Distribution of one program's samples in one scenario.
struct Stats {
    median_ms: f64,
    p90_ms: f64,
    rss_median_kib: u64,
    rss_max_kib: u64,
    /// Runs at least `STALL_MS` slower than the fastest one.
    stalls: usize,
}

impl Stats {
    fn of(samples: &[Sample]) -> Stats {
        let mut ms: Vec<f64> = samples
            .iter()
            .map(|s| s.wall.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let mut rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
        rss.sort_unstable();
        Stats {
            stalls: ms.iter().filter(|t| **t >= ms[0] + STALL_MS).count(),
            median_ms: median(&ms),
            p90_ms: percentile(&ms, 0.9),
            rss_median_kib: rss[rss.len() / 2],
            rss_max_kib: *rss.last().unwrap(),
        }
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What ours did per timed run (min..max over the runs).
#[derive(Default)]
struct Requests {
    api: Option<(usize, usize)>,
    /// `"GET key"` → per-run counts (min, max).
    s3: Option<BTreeMap<String, (usize, usize)>>,
    writes: usize,
    /// Opens per file of the store directory (from one extra run under strace).
    file_opens: Option<BTreeMap<String, usize>>,
}

struct Row {
    name: &'static str,
    runs: usize,
    ours: Stats,
    curl: Option<Stats>,
    curl_requests: String,
    requests: Requests,
}

struct Bench {
    bin: PathBuf,
    work: PathBuf,
    runs: usize,
}

impl Bench {
    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.work.join(name);
        std::fs::create_dir_all(&dir).expect("scenario directory");
        dir
    }

    fn ours(&self, cwd: &Path) -> Invocation {
        Invocation::new(&self.bin, cwd)
    }

    /// What spawning any process under `/usr/bin/time` costs here: `true`, N times.
    fn process_floor(&self) -> Row {
        let dir = self.dir("floor");
        let rss = dir.join("rss");
        let t = Invocation::new("true", &dir);
        let samples: Vec<Sample> = (0..self.runs + WARMUP_RUNS)
            .map(|_| t.measure(&rss))
            .skip(WARMUP_RUNS)
            .collect();
        let row = Row {
            name: "process floor (`true`)",
            runs: self.runs,
            ours: Stats::of(&samples),
            curl: None,
            curl_requests: String::new(),
            requests: Requests::default(),
        };
        report_progress(&row);
        row
    }

    /// With `iam`: the IAM provider too (created by the first sync, a pinned thumbprint).
    fn cluster_to_s3(&self, iam: bool) -> Row {
        let name = if iam {
            "cluster → S3, IAM"
        } else {
            "cluster → S3"
        };
        let dir = self.dir(if iam { "s3-iam" } else { "s3" });
        let rss = dir.join("rss");
        let server = FakeApiServer::with_scenario(Scenario::Rsa);
        let kubeconfig = write_kubeconfig(&dir, &server);
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, server.ca_pem()).expect("CA file");
        let moto = moto();
        let bucket = moto.new_bucket("bench-noop");
        // One access key per scenario, so moto's STS log counts this scenario's requests only.
        let access_key = moto.unique_access_key("bench");

        let mut ours = self.ours(&dir);
        ours.args(["sync", "--store", &format!("s3://{bucket}")])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--s3-path-style", "--issuer", ISSUER])
            .args(if iam {
                vec!["--thumbprint", IAM_PIN]
            } else {
                vec!["--no-iam"]
            })
            .env("AWS_ACCESS_KEY_ID", &access_key)
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if iam {
            // In the cluster the publisher's credentials come from its web identity, whose
            // assumed-role ARN carries the account; static keys carry it in `AWS_ACCOUNT_ID`.
            // Either way a no-op sync builds the provider ARN without asking STS.
            ours.env("AWS_ACCOUNT_ID", support::moto::ACCOUNT_ID);
        }
        publish_once(&ours, &rss);
        // Everything the first sync stored: the two documents, plus any state object kept
        // beside them. Curl reads each of them, as ours does.
        let keys = moto.list_keys(&bucket);
        for key in [JWKS_KEY, DISCOVERY_KEY] {
            assert!(
                keys.iter().any(|k| k == key),
                "the first sync did not publish {key}: {keys:?}"
            );
        }
        let etags = |what: &str| -> Vec<String> {
            keys.iter()
                .map(|key| {
                    moto.get_object(&bucket, key)
                        .unwrap_or_else(|| panic!("{what}: s3://{bucket}/{key} is missing"))
                        .etag
                        .unwrap_or_default()
                })
                .collect()
        };
        let published = etags("after the first sync");

        let s3 = |key: &str| format!("{}/{bucket}/{key}", moto.endpoint());
        let mut curl = curl(&dir);
        for path in [support::JWKS_PATH, support::DISCOVERY_PATH] {
            api_get(&mut curl, &server, &ca, path);
        }
        for key in &keys {
            curl.arg("--next");
            transfer_options(&mut curl)
                .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
                .args(["--user", &format!("{access_key}:testing")])
                .arg(s3(key));
        }
        if iam {
            let arn = format!(
                "arn:aws:iam::{}:oidc-provider/{}",
                support::moto::ACCOUNT_ID,
                ISSUER.trim_start_matches("https://")
            );
            let form = format!(
                "Action=GetOpenIDConnectProvider&Version=2010-05-08&OpenIDConnectProviderArn={}",
                arn.replace(':', "%3A").replace('/', "%2F")
            );
            curl.arg("--next");
            transfer_options(&mut curl)
                .args(["--aws-sigv4", "aws:amz:us-east-1:iam"])
                .args(["--user", &format!("{access_key}:testing"), "--data", &form])
                .arg(format!("{}/", moto.endpoint()));
        }
        let transfers = 2 + keys.len() + usize::from(iam);
        verify_curl(&curl, &rss, transfers);
        print_commands(name, &ours, Some(&curl), server.token());

        let mut api = Vec::new();
        let mut s3_counts: Vec<BTreeMap<String, usize>> = Vec::new();
        let mut writes = 0;
        let (ours_samples, curl_samples) = self.alternate(
            &ours,
            Some(&curl),
            &rss,
            || {
                server.reset_requests();
                moto.reset_requests(&bucket);
            },
            |run| {
                check_in_sync(run, &ours);
                let api_requests = server.request_count();
                let log = moto.requests(&bucket);
                writes += log.writes();
                guard_api(api_requests, &server.requests(), &ours);
                guard_s3(&log, &ours);
                api.push(api_requests);
                s3_counts.push(log.counts());
            },
        );
        common::profile(&ours, true);
        if iam {
            let sts = moto.iam_requests_where(&[("service", "sts"), ("access_key", &access_key)]);
            assert_eq!(
                sts.count("GetCallerIdentity"),
                0,
                "with the account in the credentials no run should ask STS: {:?}\ncommand: {}",
                sts.counts(),
                ours.command_line()
            );
        }
        assert_eq!(
            etags("after the timed runs"),
            published,
            "the published objects changed during no-op runs"
        );
        let row = Row {
            name,
            runs: self.runs,
            ours: Stats::of(&ours_samples),
            curl: Some(Stats::of(&curl_samples)),
            curl_requests: format!(
                "2 API-server GETs + {} signed S3 GETs (every stored object){}, one `curl --parallel`",
                keys.len(),
                if iam {
                    " + IAM GetOpenIDConnectProvider"
                } else {
                    ""
                }
            ),
            requests: Requests {
                api: Some(min_max(&api)),
                s3: Some(per_key_min_max(&s3_counts)),
                writes,
                file_opens: None,
            },
        };
        report_progress(&row);
        row
    }

    fn cluster_to_dir(&self) -> Row {
        let name = "cluster → directory";
        let dir = self.dir("dir");
        let rss = dir.join("rss");
        let public = dir.join("public");
        let server = FakeApiServer::with_scenario(Scenario::Rsa);
        let kubeconfig = write_kubeconfig(&dir, &server);
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, server.ca_pem()).expect("CA file");

        let mut ours = self.ours(&dir);
        ours.args(["sync", "--store"])
            .arg(&public)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--no-iam", "--issuer", ISSUER]);
        publish_once(&ours, &rss);
        let published = dir_state(&public);

        let mut curl = curl(&dir);
        api_get(&mut curl, &server, &ca, support::JWKS_PATH);
        api_get(&mut curl, &server, &ca, support::DISCOVERY_PATH);
        verify_curl(&curl, &rss, 2);
        print_commands(name, &ours, Some(&curl), server.token());

        let mut api = Vec::new();
        let (ours_samples, curl_samples) = self.alternate(
            &ours,
            Some(&curl),
            &rss,
            || server.reset_requests(),
            |run| {
                check_in_sync(run, &ours);
                let api_requests = server.request_count();
                guard_api(api_requests, &server.requests(), &ours);
                api.push(api_requests);
                guard_dir(&public, &published, &ours);
            },
        );
        common::profile(&ours, true);
        let file_opens = strace_opens(&ours, &public);
        let row = Row {
            name,
            runs: self.runs,
            ours: Stats::of(&ours_samples),
            curl: Some(Stats::of(&curl_samples)),
            curl_requests: "2 API-server GETs, one `curl --parallel`".into(),
            requests: Requests {
                api: Some(min_max(&api)),
                s3: None,
                writes: 0,
                file_opens,
            },
        };
        report_progress(&row);
        row
    }

    fn files_to_dir(&self) -> Row {
        let name = "key file → directory";
        let dir = self.dir("files");
        let rss = dir.join("rss");
        let public = dir.join("public");
        let mut ours = self.ours(&dir);
        ours.args(["sync", "--source", "files", "--key-file"])
            .arg(support::fixture_path(KEY_FILE))
            .arg("--store")
            .arg(&public)
            .args(["--no-iam", "--issuer", ISSUER]);
        publish_once(&ours, &rss);
        let published = dir_state(&public);
        print_commands(name, &ours, None, "");
        let (ours_samples, _) = self.alternate(
            &ours,
            None,
            &rss,
            || {},
            |run| {
                check_in_sync(run, &ours);
                guard_dir(&public, &published, &ours);
            },
        );
        common::profile(&ours, true);
        let file_opens = strace_opens(&ours, &public);
        let row = Row {
            name,
            runs: self.runs,
            ours: Stats::of(&ours_samples),
            curl: None,
            curl_requests: String::new(),
            requests: Requests {
                api: None,
                s3: None,
                writes: 0,
                file_opens,
            },
        };
        report_progress(&row);
        row
    }

    /// Warm-up, then `runs` × (reset, ours, check, curl). Returns the timed samples.
    fn alternate(
        &self,
        ours: &Invocation,
        curl: Option<&Invocation>,
        rss: &Path,
        mut reset: impl FnMut(),
        mut check: impl FnMut(&Sample),
    ) -> (Vec<Sample>, Vec<Sample>) {
        for _ in 0..WARMUP_RUNS {
            check_in_sync(&ours.measure(rss), ours);
            if let Some(curl) = curl {
                check_curl(&curl.measure(rss), curl, None);
            }
        }
        let mut ours_samples = Vec::with_capacity(self.runs);
        let mut curl_samples = Vec::with_capacity(self.runs);
        for _ in 0..self.runs {
            reset();
            let sample = ours.measure(rss);
            check(&sample);
            ours_samples.push(sample);
            if let Some(curl) = curl {
                let sample = curl.measure(rss);
                check_curl(&sample, curl, None);
                curl_samples.push(sample);
            }
        }
        (ours_samples, curl_samples)
    }
}

fn curl(cwd: &Path) -> Invocation {
    let mut curl = Invocation::new("curl", cwd);
    // -q: ignore any .curlrc (HOME is the scenario directory anyway).
    curl.args(["-q", "--parallel", "--parallel-max", "8"]);
    transfer_options(&mut curl);
    curl
}

/// Per-transfer options (reset by `--next`): quiet, errors shown, body discarded, status out.
fn transfer_options(curl: &mut Invocation) -> &mut Invocation {
    curl.args([
        "--silent",
        "--show-error",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{url_effective}\\n",
    ])
}

/// One authenticated GET to the fake API server (a new `--next` group unless it is the first).
fn api_get(curl: &mut Invocation, server: &FakeApiServer, ca: &Path, path: &str) {
    if curl.args.iter().any(|a| a == "--cacert") {
        curl.arg("--next");
        transfer_options(curl);
    }
    curl.arg("--cacert")
        .arg(ca)
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", server.token()))
        .arg(format!("{}{path}", server.url()));
}

/// The first sync of a scenario: it must publish (or find published) the documents.
fn publish_once(ours: &Invocation, rss: &Path) {
    let first = ours.measure(rss);
    if !first.output.status.success() {
        panic!("the first sync failed\n{}", ours.describe(&first.output));
    }
}

/// Run curl once and check that every transfer answered 200 (so the floor does real work).
fn verify_curl(curl: &Invocation, rss: &Path, transfers: usize) {
    let sample = curl.measure(rss);
    check_curl(&sample, curl, Some(transfers));
}

fn check_curl(sample: &Sample, curl: &Invocation, transfers: Option<usize>) {
    let out = String::from_utf8_lossy(&sample.output.stdout);
    let codes: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let ok = sample.output.status.success()
        && !codes.is_empty()
        && codes.iter().all(|c| *c == "200")
        && transfers.is_none_or(|n| codes.len() == n);
    if !ok {
        panic!(
            "curl did not get 200 for every request\n{}",
            curl.describe(&sample.output)
        );
    }
}

/// A timed run of ours must succeed and say it found nothing to write.
fn check_in_sync(sample: &Sample, ours: &Invocation) {
    let stdout = String::from_utf8_lossy(&sample.output.stdout);
    if !sample.output.status.success()
        || !stdout.starts_with("in sync:")
        || !stdout.contains("(0 writes)")
    {
        panic!(
            "a no-op sync did not report `in sync … (0 writes)`\n{}",
            ours.describe(&sample.output)
        );
    }
}

fn guard_api(count: usize, by_path: &BTreeMap<String, usize>, ours: &Invocation) {
    if count > TARGET_API_REQUESTS {
        panic!(
            "a no-op sync made {count} API-server requests (target: at most {TARGET_API_REQUESTS}): {by_path:?}\ncommand: {}",
            ours.command_line()
        );
    }
}

/// 0 writes and at most one read (GET or HEAD) per object, whatever objects are read (the two
/// documents, and any state object the tool keeps beside them).
fn guard_s3(log: &support::S3Requests, ours: &Invocation) {
    let mut reads: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &log.entries {
        if matches!(r.method.as_str(), "GET" | "HEAD") {
            *reads.entry(r.key.as_str()).or_insert(0) += 1;
        }
    }
    if log.writes() > 0 || reads.values().any(|n| *n > 1) {
        panic!(
            "a no-op sync to S3 must make 0 writes and at most 1 read per object, it made {:?}\ncommand: {}",
            log.counts(),
            ours.command_line()
        );
    }
}

/// Relative path → (inode, mtime, bytes) of every file: a rewrite or rename changes it.
fn dir_state(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    snapshot_dir(root)
        .into_iter()
        .map(|(rel, bytes)| {
            let meta = std::fs::symlink_metadata(root.join(&rel)).expect("metadata");
            let mtime = meta.modified().expect("mtime");
            (rel, (meta.ino(), mtime, bytes))
        })
        .collect()
}

fn guard_dir(
    public: &Path,
    published: &BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)>,
    ours: &Invocation,
) {
    let now = dir_state(public);
    if &now != published {
        let before: Vec<_> = published.keys().collect();
        let after: Vec<_> = now.keys().collect();
        panic!(
            "a no-op sync changed {} (files before {before:?}, after {after:?}, or their inode/mtime/bytes)\ncommand: {}",
            public.display(),
            ours.command_line()
        );
    }
}

/// One extra, untimed run under `strace -f -e trace=open,openat`: how often each file in the
/// store directory was opened. `None` when strace is not installed or cannot trace here.
fn strace_opens(ours: &Invocation, public: &Path) -> Option<BTreeMap<String, usize>> {
    let log = ours.cwd.join("strace.log");
    let mut traced = Invocation::new("strace", &ours.cwd);
    traced
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&log)
        .arg(&ours.program)
        .args(ours.args.clone());
    traced.envs = ours.envs.clone();
    let rss = ours.cwd.join("rss-strace");
    let sample = traced.measure(&rss);
    if !sample.output.status.success() {
        return None;
    }
    check_in_sync(&sample, ours);
    let text = std::fs::read_to_string(&log).ok()?;
    let mut opens = BTreeMap::new();
    for rel in snapshot_dir(public).into_keys() {
        let quoted = format!("\"{}\"", public.join(&rel).display());
        let n = text
            .lines()
            .filter(|l| l.contains(&quoted) && !l.contains("= -1"))
            .count();
        opens.insert(rel.display().to_string(), n);
    }
    Some(opens)
}

fn min_max(values: &[usize]) -> (usize, usize) {
    (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    )
}

fn per_key_min_max(runs: &[BTreeMap<String, usize>]) -> BTreeMap<String, (usize, usize)> {
    let mut names: Vec<&String> = runs.iter().flat_map(|m| m.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let values: Vec<usize> = runs
                .iter()
                .map(|m| m.get(name).copied().unwrap_or(0))
                .collect();
            (name.clone(), min_max(&values))
        })
        .collect()
}

/// The exact invocations being compared (the bearer token shown as `$TOKEN`).
fn print_commands(name: &str, ours: &Invocation, curl: Option<&Invocation>, token: &str) {
    println!("{name}");
    let redact = |line: String| {
        if token.is_empty() {
            line
        } else {
            line.replace(token, "$TOKEN")
        }
    };
    println!("  ours: {}", redact(ours.command_line()));
    if let Some(curl) = curl {
        println!("  curl: {}", redact(curl.command_line()));
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn range(r: (usize, usize)) -> String {
    if r.0 == r.1 {
        r.0.to_string()
    } else {
        format!("{}-{}", r.0, r.1)
    }
}

fn report_progress(row: &Row) {
    let curl = row
        .curl
        .as_ref()
        .map(|c| format!(", curl median {:.1} ms", c.median_ms))
        .unwrap_or_default();
    println!(
        "  {}: {} runs, ours median {:.1} ms{curl}, peak RSS {:.1} MiB",
        row.name,
        row.runs,
        row.ours.median_ms,
        mib(row.ours.rss_max_kib)
    );
}

fn print_table(rows: &[Row]) {
    let headers = [
        "scenario",
        "runs",
        "ours median ms",
        "ours p90 ms",
        "curl median ms",
        "curl p90 ms",
        "ratio",
        "ours peak RSS MiB (median/max)",
        "curl peak RSS MiB (median/max)",
    ];
    let mut lines: Vec<Vec<String>> = Vec::new();
    for row in rows {
        let (cm, cp, ratio, crss) = match &row.curl {
            Some(c) => (
                format!("{:.1}", c.median_ms),
                format!("{:.1}", c.p90_ms),
                format!("{:.2}x", row.ours.median_ms / c.median_ms),
                format!("{:.1} / {:.1}", mib(c.rss_median_kib), mib(c.rss_max_kib)),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        lines.push(vec![
            row.name.to_string(),
            row.runs.to_string(),
            format!("{:.1}", row.ours.median_ms),
            format!("{:.1}", row.ours.p90_ms),
            cm,
            cp,
            ratio,
            format!(
                "{:.1} / {:.1}",
                mib(row.ours.rss_median_kib),
                mib(row.ours.rss_max_kib)
            ),
            crss,
        ]);
    }
    print_markdown(&headers, &lines);

    println!();
    let headers = [
        "scenario",
        "API-server requests/run",
        "store reads/run",
        "writes (all runs)",
        "curl makes",
    ];
    let mut lines = Vec::new();
    for row in rows.iter().filter(|r| !r.name.starts_with("process")) {
        let r = &row.requests;
        let api = r.api.map(range).unwrap_or_else(|| "0 (offline)".into());
        let reads = match (&r.s3, &r.file_opens) {
            (Some(s3), _) => s3
                .iter()
                .map(|(k, v)| format!("{k} ×{}", range(*v)))
                .collect::<Vec<_>>()
                .join(", "),
            (None, Some(opens)) => {
                opens
                    .iter()
                    .map(|(k, v)| format!("open {k} ×{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + " (strace, 1 run)"
            }
            (None, None) => "n/a (no strace)".into(),
        };
        lines.push(vec![
            row.name.to_string(),
            api,
            reads,
            r.writes.to_string(),
            if row.curl_requests.is_empty() {
                "-".to_string()
            } else {
                row.curl_requests.clone()
            },
        ]);
    }
    print_markdown(&headers, &lines);
    println!();
    println!(
        "wall time: spawn to exit of `/usr/bin/time -f '%U %S %M' <program>`, the same wrapper for every row \
         (the process floor row is that wrapper around `true`); p90 is nearest-rank"
    );
}

fn print_markdown(headers: &[&str], lines: &[Vec<String>]) {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .chain([headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fmt = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    println!("{}", fmt(headers.iter().map(|h| h.to_string()).collect()));
    println!("{}", fmt(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for line in lines {
        println!("{}", fmt(line.clone()));
    }
}

/// Curl runs that stalled: they make curl's median, and so the ratio, unreliable.
fn print_stalls(rows: &[Row]) {
    for row in rows {
        if let Some(curl) = row.curl.as_ref().filter(|c| c.stalls > 0) {
            println!(
                "note: {}: {} of {} curl runs took {STALL_MS:.0}+ ms longer than the fastest, \
                 which skews curl's median and the ratio (a loaded machine, or moto; the \
                 40 ms delayed-ACK stall is a client without TCP_NODELAY, see docs/benchmarks.md)",
                row.name, curl.stalls, row.runs
            );
        }
    }
}

fn check_targets(rows: &[Row]) -> Vec<String> {
    let mut misses = Vec::new();
    for row in rows.iter().filter(|r| !r.name.starts_with("process")) {
        if let Some(curl) = &row.curl {
            let ratio = row.ours.median_ms / curl.median_ms;
            if ratio > TARGET_RATIO {
                misses.push(format!(
                    "{}: median {:.1} ms is {ratio:.2}x curl's {:.1} ms (target {TARGET_RATIO}x)",
                    row.name, row.ours.median_ms, curl.median_ms
                ));
            }
        }
        if row.ours.rss_max_kib > TARGET_RSS_KIB {
            misses.push(format!(
                "{}: peak RSS {:.1} MiB (target {:.0} MiB)",
                row.name,
                mib(row.ours.rss_max_kib),
                mib(TARGET_RSS_KIB)
            ));
        }
        if let Some(opens) = &row.requests.file_opens {
            for (key, n) in opens {
                if *n > 1 {
                    misses.push(format!("{}: {key} opened {n} times", row.name));
                }
            }
        }
    }
    misses
}

fn run_plain(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|e| format!("({program}: {e})"))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
