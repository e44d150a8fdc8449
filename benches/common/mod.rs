//! What the benches that time a process share (`mod common;` in benches/sync.rs and
//! benches/fleet.rs): an [`Invocation`] run under `/usr/bin/time` for its wall time, CPU times
//! and peak RSS, the `KOP_BENCH_PROFILE` wrapper, the load average, and the report of missed
//! targets. Not a bench target itself (cargo only looks for `benches/*/main.rs` in folders).
//! Each bench uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TIME: &str = "/usr/bin/time";

/// What every bench starts with: GNU time present (or a failure at once), the binary to
/// measure (`KOP_BENCH_BIN`, for another build such as other profile settings, else this
/// package's release binary), and a temporary directory named `<prefix>…`.
pub fn start(prefix: &str) -> (PathBuf, tempfile::TempDir) {
    assert!(
        Path::new(TIME).is_file(),
        "{TIME} (GNU time) is required for CPU times and peak RSS"
    );
    let bin = std::env::var_os("KOP_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kube-oidc-publisher")));
    let work = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temporary directory");
    (bin, work)
}

/// One measured process: wall time around `/usr/bin/time`, and its `%U %S %M`.
pub struct Sample {
    pub wall: Duration,
    /// User and system CPU seconds.
    pub user: f64,
    pub system: f64,
    pub rss_kib: u64,
    pub output: Output,
}

/// A program invocation: program, arguments, environment (on top of a cleared one).
#[derive(Clone)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(String, OsString)>,
    pub cwd: PathBuf,
    /// The whole process group is killed, and the bench fails, after this long.
    pub timeout: Duration,
}

impl Invocation {
    /// Bounded by 60 s unless [`Invocation::timeout`] says otherwise.
    pub fn new(program: impl Into<PathBuf>, cwd: &Path) -> Invocation {
        Invocation {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: cwd.to_path_buf(),
            timeout: Duration::from_secs(60),
        }
    }

    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Invocation {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = A>, A: Into<OsString>>(
        &mut self,
        args: I,
    ) -> &mut Invocation {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, key: &str, value: impl Into<OsString>) -> &mut Invocation {
        self.envs.push((key.to_string(), value.into()));
        self
    }

    pub fn timeout(&mut self, timeout: Duration) -> &mut Invocation {
        self.timeout = timeout;
        self
    }

    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_string_lossy()))
            .collect();
        parts.push(self.program.display().to_string());
        parts.extend(self.args.iter().map(|a| {
            let a = a.to_string_lossy();
            if a.contains(' ') || a.is_empty() {
                format!("'{a}'")
            } else {
                a.into_owned()
            }
        }));
        parts.join(" ")
    }

    /// The command line, exit code, stdout and stderr, for a failure message.
    pub fn describe(&self, output: &Output) -> String {
        format!(
            "command: {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command_line(),
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// `/usr/bin/time -f '%U %S %M' -o <file> program args…` in its own process group,
    /// environment cleared except PATH, HOME (the cwd) and `envs`, stdin /dev/null; bounded by
    /// `timeout` (the whole group is killed on expiry).
    pub fn measure(&self, time_file: &Path) -> Sample {
        let mut cmd = Command::new(TIME);
        cmd.args(["-f", "%U %S %M", "-o"])
            .arg(time_file)
            .arg(&self.program)
            .args(&self.args)
            .env_clear()
            .env("HOME", &self.cwd)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.command_line()));
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let output = child.wait_with_output();
            let _ = tx.send((output, Instant::now()));
        });
        let (output, end) = match rx.recv_timeout(self.timeout) {
            Ok((output, end)) => (output.expect("waiting for the child"), end),
            Err(_) => {
                // Only the process group we started.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .status();
                panic!(
                    "timed out after {:?} and killed: {}",
                    self.timeout,
                    self.command_line()
                );
            }
        };
        let text = std::fs::read_to_string(time_file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", time_file.display()));
        // The last line: GNU time writes "Command exited with non-zero status N" before it.
        let fields: Vec<f64> = text
            .lines()
            .rev()
            .find_map(|l| {
                let fields: Option<Vec<f64>> =
                    l.split_whitespace().map(|f| f.parse().ok()).collect();
                fields.filter(|f| f.len() == 3)
            })
            .unwrap_or_else(|| panic!("no `%U %S %M` in {text:?} for {}", self.command_line()));
        Sample {
            wall: end - start,
            user: fields[0],
            system: fields[1],
            rss_kib: fields[2] as u64,
            output,
        }
    }
}

/// With `KOP_BENCH_PROFILE="<command prefix>"` (for example `strace -c -f`, `perf record -g -o
/// FILE`, or `valgrind --tool=massif --massif-out-file=/tmp/massif.out`), one extra, untimed
/// run of `ours` under that prefix, its stderr (and with `stdout`, its stdout) printed; for
/// finding where time or memory goes.
pub fn profile(ours: &Invocation, stdout: bool) {
    let Ok(prefix) = std::env::var("KOP_BENCH_PROFILE") else {
        return;
    };
    let mut words = prefix.split_whitespace();
    let Some(program) = words.next() else {
        return;
    };
    let mut wrapped = ours.clone();
    wrapped.program = PathBuf::from(program);
    wrapped.args = words
        .map(OsString::from)
        .chain([ours.program.clone().into_os_string()])
        .chain(ours.args.iter().cloned())
        .collect();
    let sample = wrapped.measure(&ours.cwd.join("time-profile"));
    println!(
        "--- KOP_BENCH_PROFILE run: {} (exit {:?}, {:.1} ms, peak RSS {} KiB)",
        wrapped.command_line(),
        sample.output.status.code(),
        sample.wall.as_secs_f64() * 1000.0,
        sample.rss_kib
    );
    if stdout {
        println!("{}", String::from_utf8_lossy(&sample.output.stdout));
    }
    println!("{}", String::from_utf8_lossy(&sample.output.stderr));
    println!("--- end of KOP_BENCH_PROFILE run");
}

/// Prints the targets missed (or that all were met); with `strict`, exits 1 when any was,
/// removing the bench's temporary directory first.
pub fn report_targets(misses: &[String], strict: bool, work: tempfile::TempDir) {
    if misses.is_empty() {
        println!("all targets met");
        return;
    }
    println!("targets missed:");
    for miss in misses {
        println!("  - {miss}");
    }
    if strict {
        eprintln!("KOP_BENCH_STRICT=1: failing because targets were missed");
        drop(work);
        std::process::exit(1);
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
