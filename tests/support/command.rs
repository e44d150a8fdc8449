//! `TestCommand` (in the style of ripgrep's test harness): runs the real
//! `kube-oidc-publisher` binary in a per-test temporary directory with a scrubbed environment
//! (only PATH and HOME=<tempdir> unless the test adds more), a bounded run time, and
//! assertions that print the whole invocation on failure. Also file-system helpers for
//! "nothing changed" assertions (directory snapshots, mtimes) and common `sync` arguments.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use super::moto::Moto;

/// Default bound on one run of the binary.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Create a temporary directory for test `name` and a command that runs the binary there.
pub fn setup(name: &str) -> (TempDir, TestCommand) {
    let prefix: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = tempfile::Builder::new()
        .prefix(&format!("kop-{prefix}-"))
        .tempdir()
        .expect("temporary directory");
    let cmd = TestCommand::new(dir.path());
    (dir, cmd)
}

/// Builder for one invocation of the binary. Reusable: `run` does not consume it.
#[derive(Clone, Debug)]
pub struct TestCommand {
    bin: PathBuf,
    home: PathBuf,
    cwd: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

impl TestCommand {
    /// A command whose HOME and working directory are `dir`.
    pub fn new(dir: &Path) -> TestCommand {
        TestCommand {
            bin: PathBuf::from(env!("CARGO_BIN_EXE_kube-oidc-publisher")),
            home: dir.to_path_buf(),
            cwd: dir.to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Like [`TestCommand::new`] but running another program (for testing the harness).
    pub fn program(dir: &Path, program: &Path) -> TestCommand {
        TestCommand {
            bin: program.to_path_buf(),
            ..TestCommand::new(dir)
        }
    }

    /// The temporary directory this command was set up with (its HOME).
    pub fn dir(&self) -> &Path {
        &self.home
    }

    pub fn arg<A: AsRef<OsStr>>(&mut self, arg: A) -> &mut TestCommand {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, A>(&mut self, args: I) -> &mut TestCommand
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Forget the arguments given so far (environment and directory stay).
    pub fn clear_args(&mut self) -> &mut TestCommand {
        self.args.clear();
        self
    }

    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, value: V) -> &mut TestCommand {
        self.envs.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    /// Remove a variable, including PATH or HOME.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut TestCommand {
        self.envs.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut TestCommand {
        self.cwd = dir.as_ref().to_path_buf();
        self
    }

    /// Bytes fed on stdin (default: stdin is /dev/null).
    pub fn stdin<B: Into<Vec<u8>>>(&mut self, bytes: B) -> &mut TestCommand {
        self.stdin = Some(bytes.into());
        self
    }

    /// Bound on the run; on expiry the child is killed and the test panics.
    pub fn timeout(&mut self, timeout: Duration) -> &mut TestCommand {
        self.timeout = timeout;
        self
    }

    /// Static test credentials, region us-east-1 and the moto endpoint, no IMDS. CloudFront,
    /// ACM and Route 53 also get their service-specific endpoint variables (the ones an
    /// operator would set), all pointing at the same moto server, which dispatches by the
    /// request's signing name. Tests that assert on CloudFront/ACM/Route 53 request logs set
    /// their own `AWS_ACCESS_KEY_ID` afterwards ([`Moto::unique_access_key`]).
    pub fn moto(&mut self, moto: &Moto) -> &mut TestCommand {
        self.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ENDPOINT_URL_CLOUDFRONT", moto.endpoint())
            .env("AWS_ENDPOINT_URL_ACM", moto.endpoint())
            .env("AWS_ENDPOINT_URL_ROUTE_53", moto.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }

    /// The invocation as a shell-like line: added variables, binary, arguments.
    pub fn command_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in &self.envs {
            match v {
                Some(v) => parts.push(format!(
                    "{}={}",
                    k.to_string_lossy(),
                    shell_quote(&v.to_string_lossy())
                )),
                None => parts.push(format!("(unset {})", k.to_string_lossy())),
            }
        }
        parts.push(shell_quote(&self.bin.to_string_lossy()));
        parts.extend(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())));
        format!("(cd {} && {})", self.cwd.display(), parts.join(" "))
    }

    fn build(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("HOME", &self.home);
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.args(&self.args).current_dir(&self.cwd);
        cmd
    }

    /// The process this command runs, scrubbed environment included, for a test that manages
    /// a long-running child itself (the `run` daemon).
    pub fn to_command(&self) -> Command {
        self.build()
    }

    /// Run to completion (bounded by the timeout) and return the output, whatever the exit.
    pub fn run(&self) -> Output {
        let mut cmd = self.build();
        match run_with_timeout(&mut cmd, self.stdin.as_deref(), self.timeout) {
            Ok(output) => output,
            Err(partial) => panic!(
                "\n\ncommand timed out after {:?} and was killed\n{}\n",
                self.timeout,
                describe(&self.command_line(), &partial)
            ),
        }
    }

    /// Run and return the output, `(output, elapsed)`.
    pub fn run_timed(&self) -> (Output, Duration) {
        let start = Instant::now();
        let output = self.run();
        (output, start.elapsed())
    }

    /// Run and panic (showing everything) unless the exit code is `code`.
    pub fn assert_exit(&self, code: i32) -> Output {
        let output = self.run();
        if output.status.code() != Some(code) {
            panic!(
                "\n\nexpected exit code {code}\n{}\n",
                describe(&self.command_line(), &output)
            );
        }
        output
    }

    pub fn assert_success(&self) -> Output {
        self.assert_exit(0)
    }

    /// Run and panic unless the binary exited with a non-zero code (not a signal).
    pub fn assert_failure(&self) -> Output {
        let output = self.run();
        if !matches!(output.status.code(), Some(c) if c != 0) {
            panic!(
                "\n\nexpected a non-zero exit code\n{}\n",
                describe(&self.command_line(), &output)
            );
        }
        output
    }
}

/// Full description of a run for failure messages.
pub fn describe(command_line: &str, output: &Output) -> String {
    format!(
        "command: {command_line}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
        exit_description(output.status),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn exit_description(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => code.to_string(),
        None => format!("{status} (no exit code)"),
    }
}

fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

pub fn stdout_str(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_str(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Spawn `cmd` with piped stdout/stderr, feed `stdin`, and wait at most `timeout`. On expiry
/// the child is killed and `Err` carries what it printed so far.
pub fn run_with_timeout(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = pipe.write_all(&bytes);
        });
    }
    // Readers report through channels so a grandchild that keeps a pipe open cannot make
    // us wait past the deadline (plus a short grace period).
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = match wait_with_deadline(&mut child, timeout) {
        Some(status) => (status, false),
        None => {
            let _ = child.kill();
            (child.wait().expect("waiting for killed child"), true)
        }
    };
    let give_up = deadline.max(Instant::now()) + Duration::from_secs(2);
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(give_up.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    };
    let output = Output {
        status,
        stdout: collect(out),
        stderr: collect(err),
    };
    if timed_out {
        Err(output)
    } else {
        Ok(output)
    }
}

/// Poll `child` until it exits or `timeout` passes (`None`; the child is left running).
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every regular file under `root`, relative path → bytes. Symlinks are recorded by target
/// path bytes prefixed with `symlink:`. Empty directories are recorded with `dir:` content.
pub fn snapshot_dir(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading directory {}: {e}", dir.display()));
        let mut empty = true;
        for entry in entries {
            empty = false;
            let entry = entry.expect("directory entry");
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let kind = entry.file_type().expect("file type");
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("read_link");
                let mut v = b"symlink:".to_vec();
                v.extend_from_slice(target.to_string_lossy().as_bytes());
                out.insert(rel, v);
            } else if kind.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                out.insert(rel, bytes);
            }
        }
        if empty && dir != root {
            out.insert(
                dir.strip_prefix(root).unwrap().to_path_buf(),
                b"dir:".to_vec(),
            );
        }
    }
    out
}

/// Modification time of one file.
pub fn file_mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("mtime of {}: {e}", path.display()))
}

/// Set a file's modification time (e.g. into the past, to detect rewrites).
pub fn set_file_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("setting mtime of {}: {e}", path.display()));
}

/// Relative path → mtime for every regular file under `root`.
pub fn mtimes(root: &Path) -> BTreeMap<PathBuf, SystemTime> {
    snapshot_dir(root)
        .into_keys()
        .filter(|rel| root.join(rel).is_file())
        .map(|rel| {
            let t = file_mtime(&root.join(&rel));
            (rel, t)
        })
        .collect()
}

/// `sync --store s3://BUCKET --kubeconfig KUBECONFIG --no-iam --s3-path-style`
/// (append more with `.args`).
pub fn sync_s3_args(kubeconfig: &Path, bucket: &str) -> Vec<OsString> {
    vec![
        "sync".into(),
        "--store".into(),
        format!("s3://{bucket}").into(),
        "--kubeconfig".into(),
        kubeconfig.as_os_str().to_os_string(),
        "--no-iam".into(),
        "--s3-path-style".into(),
    ]
}

/// `sync --store DIR --kubeconfig KUBECONFIG --no-iam`
pub fn sync_dir_args(kubeconfig: &Path, dir: &Path) -> Vec<OsString> {
    vec![
        "sync".into(),
        "--store".into(),
        dir.as_os_str().to_os_string(),
        "--kubeconfig".into(),
        kubeconfig.as_os_str().to_os_string(),
        "--no-iam".into(),
    ]
}

impl TestCommand {
    /// Start the binary without waiting for it (stdin empty, stdout and stderr piped), for
    /// tests that act on the process mid-run (e.g. SIGKILL). The caller reaps it, with
    /// `wait_with_output` after a kill or [`wait_with_deadline`].
    pub fn spawn(&self) -> Child {
        self.build()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.command_line()))
    }
}
