//! `Daemon`: a running `kube-oidc-publisher run` process for tests and benches: its stderr
//! collected as it goes, the address it serves on (read from its start-up log line), bounded
//! polling, plain-HTTP GETs of its endpoints, metric samples, its CPU time and memory from
//! /proc (for the benches), and stopping it with a signal. Dropping a `Daemon` kills a process
//! still running.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::command::{wait_with_deadline, TestCommand};

/// Bound on every wait for the daemon to reach a state.
pub const WAIT: Duration = Duration::from_secs(60);

/// One `run` process, its stderr collected as it goes, and the address it serves on.
pub struct Daemon {
    pub child: Child,
    command_line: String,
    stderr: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Daemon {
    /// Starts `cmd` (which must include `--listen 127.0.0.1:0`) and waits for its address.
    pub fn start(cmd: &TestCommand) -> Daemon {
        let mut child = cmd
            .to_command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning the daemon");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let mut daemon = Daemon {
            child,
            command_line: cmd.command_line(),
            stderr,
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        daemon.addr = daemon.wait_for("the listening address in the log", |d| {
            listening_address(&d.stderr())
        });
        daemon
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn describe(&mut self) -> String {
        let status = self.child.try_wait().ok().flatten();
        format!(
            "command: {}\nexited: {status:?}\n--- stderr ---\n{}--------------",
            self.command_line,
            self.stderr()
        )
    }

    /// Polls `check` until it returns `Some`, for at most [`WAIT`]; panics with the log.
    pub fn wait_for<T>(&mut self, what: &str, check: impl Fn(&Daemon) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = check(self) {
                return value;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the daemon exited ({status}) while waiting for {what}\n{}",
                    self.describe()
                );
            }
            if Instant::now() > deadline {
                panic!("gave up waiting for {what}\n{}", self.describe());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `GET path` over plain HTTP/1.1: `(status, content type, body)`.
    pub fn get(&self, path: &str) -> (u16, String, String) {
        http_get(self.addr, path)
    }

    pub fn metrics(&self) -> String {
        let (status, content_type, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            content_type,
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        body
    }

    /// The value of one sample (`name{labels}` exactly as exposed), if present.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        metric_value(&self.metrics(), sample)
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// utime + stime of the daemon so far, in clock ticks ([`clk_tck`] per second).
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks_of(self.child.id())
    }

    /// A `kB` line of /proc/PID/status (`"VmRSS:"`, `"VmHWM:"`), in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// Sends `signal` and waits (bounded) for the exit; returns the status and the log.
    pub fn stop(mut self, signal: &str) -> (ExitStatus, String) {
        self.signal(signal);
        let Some(status) = wait_with_deadline(&mut self.child, Duration::from_secs(30)) else {
            panic!(
                "the daemon did not exit after {signal}\n{}",
                self.describe()
            );
        };
        // Let the reader thread take the last lines.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.stderr().contains("stopped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        (status, self.stderr())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address from the start-up line, text (`address=127.0.0.1:PORT`) or JSON.
pub fn listening_address(log: &str) -> Option<SocketAddr> {
    for line in log.lines() {
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            if let Some(addr) = value["address"].as_str() {
                return addr.parse().ok();
            }
        } else if let Some(rest) = line.split("address=").nth(1) {
            return rest.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting to the daemon");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// utime + stime of process `pid` so far, in clock ticks (/proc/PID/stat fields 14 and 15).
pub fn cpu_ticks_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Clock ticks per second, for [`Daemon::cpu_ticks`].
pub fn clk_tck() -> u64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf CLK_TCK");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(100)
}

pub fn metric_value(text: &str, sample: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(sample)?.strip_prefix(' ')?;
        Some(value.parse().unwrap_or_else(|e| panic!("{line}: {e}")))
    })
}
