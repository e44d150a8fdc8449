//! `Moto`: one moto S3 emulator per test process, started on first use and shared by every
//! test of the binary (tests isolate themselves with distinct bucket names). It installs
//! itself into `<target>/moto-venv` from the pinned `tests/moto/requirements.txt` (under a
//! cross-process lock; reinstalled when that file changes) and runs `tests/moto/launcher.py`,
//! which adds per-bucket request logs and fault injection and exits with the test process.
//! Helpers seed and read objects with a SIGNED aws-sdk-s3 client (unsigned GETs ending in
//! `/.well-known/openid-configuration` are routed to moto's Cognito emulator, not S3); that
//! client identifies itself so its own requests are neither logged nor faulted.
//!
//! The same server answers IAM and STS (account [`ACCOUNT_ID`], partition `aws`). The launcher
//! makes moto's IAM OIDC providers behave as the IAM API reference documents them (client-id
//! add/remove, validation, optional thumbprints) and logs and faults IAM/STS requests by
//! action and provider URL, so parallel tests isolate themselves with distinct provider URLs
//! ([`Moto::unique_provider_url`]). [`Moto::iam_client`] is the harness's own IAM client.
//!
//! CloudFront, ACM and Route 53 are served by the same process. The launcher makes moto's
//! CloudFront behave like AWS (deploy delay from the clock: `KOP_CLOUDFRONT_DEPLOY_SECONDS` in
//! the test process's environment, default 2, or per access key
//! [`Moto::set_cloudfront_deploy_seconds`];
//! origins keep their OAC; `IfMatch` checked; invalidations `Completed`; a reused
//! `CallerReference` answered with the first invalidation), names each distribution after the
//! access key that created it ([`cloudfront_domain`]), and logs and faults the three services'
//! requests by signing access key ([`Moto::hosting_requests`], [`HostingFault`]).
//!
//! S3 Control (the account-level Public Access Block) is reached at
//! [`Moto::s3_control_endpoint`], `http://s3-control.kop.test:PORT`: the SDK puts the account id
//! in front of that host name, which [`ensure_s3_control_host`] makes resolve to 127.0.0.1
//! through /etc/hosts (PROTOCOL.md §7). The launcher logs and faults those requests under the
//! pseudo-bucket [`s3_control_log`]`(access key)`, and keeps an account-level Public Access
//! Block per access key ([`Moto::set_account_public_access_block`]), so a test that sets one
//! does not change what parallel tests see.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::config::{AppName, BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::command::wait_with_deadline;

/// The account moto answers for (any credentials it did not issue itself).
pub const ACCOUNT_ID: &str = "123456789012";

/// The host name tests send S3 Control requests to (`AWS_ENDPOINT_URL_S3_CONTROL`); the SDK
/// prefixes it with the account id.
pub const S3_CONTROL_HOST: &str = "s3-control.kop.test";

/// The /etc/hosts line that makes `<account>.s3-control.kop.test` resolve to 127.0.0.1.
pub const S3_CONTROL_HOSTS_LINE: &str = "127.0.0.1 123456789012.s3-control.kop.test";

/// Makes sure `123456789012.s3-control.kop.test` resolves to a loopback address: appends
/// [`S3_CONTROL_HOSTS_LINE`] to /etc/hosts if the name does not resolve (tests run as root
/// here and in CI), and panics with the line to add if it cannot. Checked once per process.
pub fn ensure_s3_control_host() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        use std::net::ToSocketAddrs;
        let host = format!("{ACCOUNT_ID}.{S3_CONTROL_HOST}:80");
        let resolves = || {
            host.to_socket_addrs()
                .map(|mut addrs| addrs.any(|a| a.ip().is_loopback()))
                .unwrap_or(false)
        };
        if resolves() {
            return Ok(());
        }
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if !hosts.lines().any(|l| l.trim() == S3_CONTROL_HOSTS_LINE) {
            let separator = if hosts.is_empty() || hosts.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            std::fs::OpenOptions::new()
                .append(true)
                .open("/etc/hosts")
                .and_then(|mut f| writeln!(f, "{separator}{S3_CONTROL_HOSTS_LINE}"))
                .map_err(|e| {
                    format!(
                        "S3 Control requests go to {ACCOUNT_ID}.{S3_CONTROL_HOST}, which does not resolve, and /etc/hosts cannot be appended to ({e}); add this line to /etc/hosts:\n{S3_CONTROL_HOSTS_LINE}"
                    )
                })?;
        }
        if resolves() {
            Ok(())
        } else {
            Err(format!(
                "{ACCOUNT_ID}.{S3_CONTROL_HOST} does not resolve to 127.0.0.1 although /etc/hosts has the line (is /etc/hosts consulted for this name?):\n{S3_CONTROL_HOSTS_LINE}"
            ))
        }
    });
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// The pseudo-bucket under which the launcher logs and faults the S3 Control requests signed
/// with `access_key` (key: the path after `/v20180820/`, e.g.
/// `configuration/publicAccessBlock`): pass it to [`Moto::requests`] or [`Fault::new`].
pub fn s3_control_log(access_key: &str) -> String {
    format!("s3control:{access_key}")
}

/// The four account-level Block Public Access flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountPublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// Marker in the harness client's user agent; the launcher skips such requests.
const HARNESS_APP_NAME: &str = "kop-test-harness";
/// How long to wait for another process's install, or for our own pip run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const START_TIMEOUT: Duration = Duration::from_secs(60);

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The shared moto server of this test process (started on first call). Panics with the
/// reason if it cannot be installed or started: tests must fail, not skip.
pub fn moto() -> &'static Moto {
    Moto::shared()
}

/// A running moto server plus a signed S3 client for seeding and assertions.
pub struct Moto {
    port: u16,
    log_path: PathBuf,
    runtime: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    child: Mutex<Child>,
}

/// One stored object, as a signed GetObject returned it.
#[derive(Clone, Debug)]
pub struct Object {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub etag: Option<String>,
    pub metadata: HashMap<String, String>,
    pub last_modified: Option<SystemTime>,
}

/// One request the launcher logged for a bucket (harness requests excluded).
#[derive(Clone, Debug, Deserialize)]
pub struct S3Request {
    pub method: String,
    /// Object key ("" for bucket-level requests).
    pub key: String,
    /// Sub-resource: names of blank query parameters (`policy`, `acl`, ...) and `list-type`,
    /// sorted and joined with `&`; "" for plain object requests.
    pub op: String,
    pub query: String,
    /// Response status (`None` if the response never started).
    pub status: Option<u16>,
    /// Whether an injected fault answered it.
    pub fault: bool,
}

/// The ordered request log of one bucket.
#[derive(Clone, Debug, Default)]
pub struct S3Requests {
    pub entries: Vec<S3Request>,
}

impl S3Requests {
    /// Requests with this method on `key` without a sub-resource (plain Get/Put/Head/Delete).
    pub fn count(&self, method: &str, key: &str) -> usize {
        self.count_op(method, key, "")
    }

    pub fn count_op(&self, method: &str, key: &str, op: &str) -> usize {
        self.entries
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.key == key && r.op == op)
            .count()
    }

    pub fn puts(&self, key: &str) -> usize {
        self.count("PUT", key)
    }

    pub fn gets(&self, key: &str) -> usize {
        self.count("GET", key)
    }

    pub fn heads(&self, key: &str) -> usize {
        self.count("HEAD", key)
    }

    pub fn deletes(&self, key: &str) -> usize {
        self.count("DELETE", key)
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    /// PUT, POST and DELETE requests of any kind.
    pub fn writes(&self) -> usize {
        self.entries
            .iter()
            .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "DELETE"))
            .count()
    }

    /// Keys that received a plain PUT, in first-write order.
    pub fn keys_put(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for r in &self.entries {
            if r.method == "PUT" && r.op.is_empty() && !keys.contains(&r.key) {
                keys.push(r.key.clone());
            }
        }
        keys
    }

    /// `"METHOD key"` (plus `?op` if any) → count, for readable assertion messages.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in &self.entries {
            let mut name = format!("{} {}", r.method, r.key);
            if !r.op.is_empty() {
                name.push('?');
                name.push_str(&r.op);
            }
            *out.entry(name).or_insert(0) += 1;
        }
        out
    }
}

/// A fault for the launcher to inject. `times` = how many matching requests it answers
/// (default 1; 0 = every one), `skip` = matching requests to let through first.
#[derive(Clone, Debug)]
pub struct Fault {
    pub bucket: String,
    pub method: Option<String>,
    pub key: Option<String>,
    pub op: Option<String>,
    /// HTTP status; 0 means only delay, then pass through.
    pub status: u16,
    pub code: String,
    pub message: Option<String>,
    pub times: u32,
    pub skip: u32,
    pub delay: Duration,
}

impl Fault {
    /// Answer the next request on `bucket` with `status` and S3 error `code`.
    pub fn new(bucket: &str, status: u16, code: &str) -> Fault {
        Fault {
            bucket: bucket.to_string(),
            method: None,
            key: None,
            op: None,
            status,
            code: code.to_string(),
            message: None,
            times: 1,
            skip: 0,
            delay: Duration::ZERO,
        }
    }

    pub fn access_denied(bucket: &str) -> Fault {
        Fault::new(bucket, 403, "AccessDenied")
    }

    pub fn internal_error(bucket: &str) -> Fault {
        Fault::new(bucket, 500, "InternalError")
    }

    pub fn slow_down(bucket: &str) -> Fault {
        Fault::new(bucket, 503, "SlowDown")
    }

    pub fn precondition_failed(bucket: &str) -> Fault {
        Fault::new(bucket, 412, "PreconditionFailed")
    }

    /// Only delay matching requests by `delay`, then let them through.
    pub fn delay_only(bucket: &str, delay: Duration) -> Fault {
        Fault {
            delay,
            ..Fault::new(bucket, 0, "")
        }
    }

    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn key(mut self, key: &str) -> Fault {
        self.key = Some(key.to_string());
        self
    }

    pub fn op(mut self, op: &str) -> Fault {
        self.op = Some(op.to_string());
        self
    }

    pub fn message(mut self, message: &str) -> Fault {
        self.message = Some(message.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }

    /// Affect every matching request.
    pub fn always(self) -> Fault {
        self.times(0)
    }

    pub fn skip(mut self, skip: u32) -> Fault {
        self.skip = skip;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
        self
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "bucket": self.bucket,
            "method": self.method,
            "key": self.key,
            "op": self.op,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "times": self.times,
            "skip": self.skip,
            "delay_ms": self.delay.as_millis() as u64,
        })
        .to_string()
    }
}

/// One IAM OIDC provider, as a signed GetOpenIDConnectProvider returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The URL as IAM stores it: without `https://`.
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    /// Tag key → value.
    pub tags: BTreeMap<String, String>,
}

/// One IAM or STS request the launcher logged (harness requests excluded).
#[derive(Clone, Debug, Deserialize)]
pub struct IamRequest {
    /// `iam` or `sts` (the SigV4 signing name).
    pub service: String,
    /// The query-protocol `Action`, e.g. `GetOpenIDConnectProvider`.
    pub action: String,
    /// The request's `OpenIDConnectProviderArn`, else its `Url`, else "".
    pub provider: String,
    /// The access key id that signed it.
    pub access_key: String,
    /// Response status (`None` if the response never started).
    pub status: Option<u16>,
    /// Whether an injected fault answered it.
    pub fault: bool,
}

/// The ordered IAM/STS request log for one filter (see [`Moto::iam_requests`]).
#[derive(Clone, Debug, Default)]
pub struct IamRequests {
    pub entries: Vec<IamRequest>,
}

impl IamRequests {
    /// Requests with this action (`CreateOpenIDConnectProvider`, ...).
    pub fn count(&self, action: &str) -> usize {
        self.entries.iter().filter(|r| r.action == action).count()
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    /// Requests that may change something: every action but `Get*` and `List*`.
    pub fn writes(&self) -> usize {
        self.write_actions().len()
    }

    /// The actions of [`IamRequests::writes`], in order.
    pub fn write_actions(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|r| !r.action.starts_with("Get") && !r.action.starts_with("List"))
            .map(|r| r.action.clone())
            .collect()
    }

    /// Requests an injected fault answered.
    pub fn faults(&self) -> usize {
        self.entries.iter().filter(|r| r.fault).count()
    }

    /// Action → count, for readable assertion messages.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in &self.entries {
            *out.entry(r.action.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// An IAM (or STS) fault for the launcher to inject, answered with an AWS query-protocol
/// error body (`<ErrorResponse><Error><Type>…<Code>…<Message>…`). `provider` matches a
/// substring of the request's provider ARN or `Url`; `None` matches every request of the
/// service (only for tests that own the whole server). `times` = how many matching requests
/// it answers (default 1; 0 = every one), `skip` = matching requests to let through first.
#[derive(Clone, Debug)]
pub struct IamFault {
    pub service: String,
    pub action: Option<String>,
    pub provider: Option<String>,
    /// Only requests signed with this access key id (how STS calls, which name no provider,
    /// are told apart).
    pub access_key: Option<String>,
    pub code: String,
    /// HTTP status; `None` = the code's usual one (Throttling 400, AccessDenied 403,
    /// NoSuchEntity 404, LimitExceeded/ConcurrentModification/EntityAlreadyExists 409,
    /// ServiceFailure 500); `Some(0)` = only delay, then pass through.
    pub status: Option<u16>,
    pub message: Option<String>,
    pub times: u32,
    pub skip: u32,
    pub delay: Duration,
}

impl IamFault {
    /// Answer the next IAM request about `provider` (a URL, ARN, or `host/path`) with `code`.
    pub fn new(provider: &str, code: &str) -> IamFault {
        IamFault {
            service: "iam".to_string(),
            action: None,
            provider: Some(provider_host_path(provider).to_string()),
            access_key: None,
            code: code.to_string(),
            status: None,
            message: None,
            times: 1,
            skip: 0,
            delay: Duration::ZERO,
        }
    }

    /// `ConcurrentModification`, 409: retryable, and the SDK does not retry it.
    pub fn concurrent_modification(provider: &str) -> IamFault {
        IamFault::new(provider, "ConcurrentModification")
    }

    /// `Throttling`, 400 (the SDK retries it).
    pub fn throttling(provider: &str) -> IamFault {
        IamFault::new(provider, "Throttling")
    }

    /// `AccessDenied`, 403, naming the action and the provider ARN like IAM does.
    pub fn access_denied(provider: &str) -> IamFault {
        IamFault::new(provider, "AccessDenied")
    }

    /// `LimitExceeded`, 409 (e.g. the 100-providers-per-account quota).
    pub fn limit_exceeded(provider: &str) -> IamFault {
        IamFault::new(provider, "LimitExceeded")
    }

    /// `ServiceFailure`, 500 (the SDK retries it).
    pub fn service_failure(provider: &str) -> IamFault {
        IamFault::new(provider, "ServiceFailure")
    }

    /// A fault for the STS requests signed with `access_key` (they carry no provider), e.g.
    /// `GetCallerIdentity`.
    pub fn sts(access_key: &str, code: &str) -> IamFault {
        IamFault {
            service: "sts".to_string(),
            provider: None,
            access_key: Some(access_key.to_string()),
            ..IamFault::new("", code)
        }
    }

    /// Only requests with this query-protocol action.
    pub fn action(mut self, action: &str) -> IamFault {
        self.action = Some(action.to_string());
        self
    }

    pub fn status(mut self, status: u16) -> IamFault {
        self.status = Some(status);
        self
    }

    pub fn message(mut self, message: &str) -> IamFault {
        self.message = Some(message.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> IamFault {
        self.times = times;
        self
    }

    /// Affect every matching request.
    pub fn always(self) -> IamFault {
        self.times(0)
    }

    pub fn skip(mut self, skip: u32) -> IamFault {
        self.skip = skip;
        self
    }

    /// Delay matching requests by `delay` (before answering or passing them through).
    pub fn delay(mut self, delay: Duration) -> IamFault {
        self.delay = delay;
        self
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "service": self.service,
            "action": self.action,
            "provider": self.provider,
            "access_key": self.access_key,
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "times": self.times,
            "skip": self.skip,
            "delay_ms": self.delay.as_millis() as u64,
        })
        .to_string()
    }
}

/// `host/path` of a provider given as `https://host/path`, an `oidc-provider/` ARN, or
/// `host/path` itself: the part every IAM request about that provider carries.
pub fn provider_host_path(provider: &str) -> &str {
    if let Some(rest) = provider.strip_prefix("https://") {
        return rest;
    }
    match provider.split_once(":oidc-provider/") {
        Some((_, host_path)) => host_path,
        None => provider,
    }
}

/// `arn:aws:iam::123456789012:oidc-provider/<host/path>` for a provider URL (or `host/path`).
pub fn provider_arn(url: &str) -> String {
    format!(
        "arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{}",
        provider_host_path(url)
    )
}

/// The `DomainName` the launcher gives the `ordinal`-th (0-based) distribution created with
/// `access_key`: `d` + the first 13 hex digits of SHA-256(`"<access key>#<ordinal>"`) +
/// `.cloudfront.net` (tests/moto/launcher.py, `cloudfront_domain`; keep the two in step).
/// AWS picks a random name; a name the test knows before the binary creates the distribution
/// is what lets it pass `--connect-to NAME:443:127.0.0.1:PORT` (see `support::edge`).
pub fn cloudfront_domain(access_key: &str, ordinal: usize) -> String {
    let digest = hex(&Sha256::digest(
        format!("{access_key}#{ordinal}").as_bytes(),
    ));
    format!("d{}.cloudfront.net", &digest[..13])
}

/// One CloudFront, ACM or Route 53 request the launcher logged (harness requests excluded).
#[derive(Clone, Debug, Deserialize)]
pub struct HostingRequest {
    /// `cloudfront`, `acm` or `route53` (the SigV4 signing name).
    pub service: String,
    /// The API action (`CreateDistributionWithTags`, `CreateInvalidation`,
    /// `ChangeResourceRecordSets`, `DescribeCertificate`…), derived from method and path for
    /// the REST APIs; `"METHOD /path"` when the launcher does not know the route.
    pub action: String,
    pub method: String,
    pub path: String,
    /// The access key id that signed it.
    pub access_key: String,
    /// Whether it may change something: CloudFront and Route 53 POST/PUT/DELETE; ACM every
    /// action but `Describe*`, `List*`, `Get*`.
    pub write: bool,
    /// Response status (`None` if the response never started).
    pub status: Option<u16>,
    /// Whether an injected fault answered it.
    pub fault: bool,
}

/// The ordered CloudFront/ACM/Route 53 request log for one filter
/// (see [`Moto::hosting_requests`]).
#[derive(Clone, Debug, Default)]
pub struct HostingRequests {
    pub entries: Vec<HostingRequest>,
}

impl HostingRequests {
    /// Requests with this action.
    pub fn count(&self, action: &str) -> usize {
        self.entries.iter().filter(|r| r.action == action).count()
    }

    /// Only the requests to `service` (`cloudfront`, `acm`, `route53`).
    pub fn service(&self, service: &str) -> HostingRequests {
        HostingRequests {
            entries: self
                .entries
                .iter()
                .filter(|r| r.service == service)
                .cloned()
                .collect(),
        }
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    /// Requests that may change something (see [`HostingRequest::write`]).
    pub fn writes(&self) -> usize {
        self.entries.iter().filter(|r| r.write).count()
    }

    /// `service:action` of the writes, in order.
    pub fn write_actions(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|r| r.write)
            .map(|r| format!("{}:{}", r.service, r.action))
            .collect()
    }

    /// Requests an injected fault answered.
    pub fn faults(&self) -> usize {
        self.entries.iter().filter(|r| r.fault).count()
    }

    /// `service:action` → count, for readable assertion messages.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in &self.entries {
            *out.entry(format!("{}:{}", r.service, r.action))
                .or_insert(0) += 1;
        }
        out
    }
}

/// A CloudFront, ACM or Route 53 fault for the launcher to inject, for the requests signed
/// with one access key (each test signs with its own, [`Moto::unique_access_key`]). Answered
/// in the service's protocol: CloudFront and Route 53 `<ErrorResponse><Error><Code>…`, ACM
/// `{"__type": code, "message": …}`. `times` = how many matching requests it answers
/// (default 1; 0 = every one), `skip` = matching requests to let through first.
#[derive(Clone, Debug)]
pub struct HostingFault {
    /// `cloudfront`, `acm` or `route53`.
    pub service: String,
    /// Only requests with this action (see [`HostingRequest::action`]); `None` = any.
    pub action: Option<String>,
    pub access_key: String,
    pub code: String,
    /// HTTP status; `None` = the code's usual one (AccessDenied 403, Throttling 400,
    /// ServiceUnavailable 503, InternalFailure 500, TooManyInvalidationsInProgress 400,
    /// PriorRequestNotComplete 400, ACM's *Exception 400; others 400); `Some(0)` = only delay.
    pub status: Option<u16>,
    pub message: Option<String>,
    pub times: u32,
    pub skip: u32,
    pub delay: Duration,
}

impl HostingFault {
    /// Answer the next `service` request signed with `access_key` with `code`.
    pub fn new(service: &str, access_key: &str, code: &str) -> HostingFault {
        HostingFault {
            service: service.to_string(),
            action: None,
            access_key: access_key.to_string(),
            code: code.to_string(),
            status: None,
            message: None,
            times: 1,
            skip: 0,
            delay: Duration::ZERO,
        }
    }

    /// CloudFront `AccessDenied` (403) for `action`, e.g. `CreateInvalidation`.
    pub fn cloudfront_access_denied(access_key: &str, action: &str) -> HostingFault {
        HostingFault::new("cloudfront", access_key, "AccessDenied").action(action)
    }

    pub fn action(mut self, action: &str) -> HostingFault {
        self.action = Some(action.to_string());
        self
    }

    pub fn status(mut self, status: u16) -> HostingFault {
        self.status = Some(status);
        self
    }

    pub fn message(mut self, message: &str) -> HostingFault {
        self.message = Some(message.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> HostingFault {
        self.times = times;
        self
    }

    /// Affect every matching request.
    pub fn always(self) -> HostingFault {
        self.times(0)
    }

    pub fn skip(mut self, skip: u32) -> HostingFault {
        self.skip = skip;
        self
    }

    pub fn delay(mut self, delay: Duration) -> HostingFault {
        self.delay = delay;
        self
    }

    fn to_json(&self) -> String {
        serde_json::json!({
            "service": self.service,
            "action": self.action,
            "access_key": self.access_key,
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "times": self.times,
            "skip": self.skip,
            "delay_ms": self.delay.as_millis() as u64,
        })
        .to_string()
    }
}

impl Moto {
    /// The shared server (see [`moto`]).
    pub fn shared() -> &'static Moto {
        match MOTO.get_or_init(Moto::start) {
            Ok(moto) => moto,
            Err(reason) => panic!("moto S3 emulator is not available:\n{reason}"),
        }
    }

    fn start() -> Result<Moto, String> {
        let started = Instant::now();
        let venv = ensure_venv()?;
        let installed = started.elapsed();
        let logs = target_dir().join("moto-logs");
        std::fs::create_dir_all(&logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
        remove_old_logs(&logs);
        let exe = std::env::current_exe().unwrap_or_default();
        let stem = exe.file_stem().unwrap_or_default().to_string_lossy();
        let log_path = logs.join(format!("{stem}-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
        let launcher = manifest_dir().join("tests/moto/launcher.py");
        let mut child = Command::new(venv_python(&venv))
            .arg(&launcher)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", launcher.display()))?;

        // First stdout line = port; afterwards keep draining stdout so moto never blocks.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = tx.send(reader.read_line(&mut line).map(|_| line));
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if line.trim().parse::<u16>().is_ok() => line.trim().parse().unwrap(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "launcher did not report a port ({other:?}); its log {}:\n{}",
                    log_path.display(),
                    tail(&log_path, 40)
                ));
            }
        };

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("moto-client")
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let moto = Moto {
            port,
            log_path,
            runtime,
            s3: s3_client(&format!("http://127.0.0.1:{port}")),
            iam: iam_client(&format!("http://127.0.0.1:{port}")),
            cloudfront: harness_cloudfront_client(&format!("http://127.0.0.1:{port}")),
            child: Mutex::new(child),
        };
        // Warm up (moto imports its S3 backend on the first request).
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match moto.block_on(moto.s3.list_buckets().send()) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!(
                        "moto on port {port} did not answer: {}\nlog {}:\n{}",
                        DisplayErrorContext(&e),
                        moto.log_path.display(),
                        tail(&moto.log_path, 40)
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        eprintln!(
            "moto: ready on {} after {:?} (venv check/install {:?}), log {}",
            moto.endpoint(),
            started.elapsed(),
            installed,
            moto.log_path.display()
        );
        Ok(moto)
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The launcher's stderr (moto's request log), for debugging.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Process id of the launcher.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// The harness's signed S3 client (requests it makes are not logged or faulted).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// Drive a future on the harness runtime (do not call from inside another runtime).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A bucket name unique within this process: `<prefix>-<pid>-<n>`, valid for S3.
    pub fn unique_bucket(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let clean: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        format!("{}-{}-{n}", clean.trim_matches('-'), std::process::id())
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.block_on(self.s3.create_bucket().bucket(bucket).send())
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {}", DisplayErrorContext(&e)));
    }

    /// Create a fresh uniquely named bucket and return its name.
    pub fn new_bucket(&self, prefix: &str) -> String {
        let bucket = self.unique_bucket(prefix);
        self.create_bucket(&bucket);
        bucket
    }

    /// Signed GetObject; `None` if the key does not exist.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Object> {
        let result = self.block_on(async {
            let out = self.s3.get_object().bucket(bucket).key(key).send().await?;
            let body = out.body.collect().await.map(|b| b.to_vec());
            Ok::<_, aws_sdk_s3::error::SdkError<GetObjectError>>((
                Object {
                    body: Vec::new(),
                    content_type: out.content_type,
                    cache_control: out.cache_control,
                    etag: out.e_tag,
                    metadata: out.metadata.unwrap_or_default(),
                    last_modified: out.last_modified.and_then(|t| SystemTime::try_from(t).ok()),
                },
                body,
            ))
        });
        match result {
            Ok((mut object, body)) => {
                object.body = body.unwrap_or_else(|e| panic!("reading s3://{bucket}/{key}: {e}"));
                Some(object)
            }
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => None,
            Err(e) => panic!("get s3://{bucket}/{key}: {}", DisplayErrorContext(&e)),
        }
    }

    /// Seed an object.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: Option<&str>,
        cache_control: Option<&str>,
    ) {
        let request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .set_content_type(content_type.map(str::to_string))
            .set_cache_control(cache_control.map(str::to_string));
        self.block_on(request.send())
            .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {}", DisplayErrorContext(&e)));
    }

    pub fn delete_object(&self, bucket: &str, key: &str) {
        self.block_on(self.s3.delete_object().bucket(bucket).key(key).send())
            .unwrap_or_else(|e| panic!("delete s3://{bucket}/{key}: {}", DisplayErrorContext(&e)));
    }

    /// All keys in the bucket, sorted.
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..1000 {
            let out = self
                .block_on(
                    self.s3
                        .list_objects_v2()
                        .bucket(bucket)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .unwrap_or_else(|e| panic!("list s3://{bucket}: {}", DisplayErrorContext(&e)));
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        keys.sort();
        keys
    }

    /// The bucket's request log (requests by the code under test only).
    pub fn requests(&self, bucket: &str) -> S3Requests {
        #[derive(Deserialize)]
        struct Log {
            requests: Vec<S3Request>,
        }
        let body = self.control("GET", &format!("/_test/requests?bucket={bucket}"), None);
        let log: Log =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad request log {body:?}: {e}"));
        S3Requests {
            entries: log.requests,
        }
    }

    pub fn reset_requests(&self, bucket: &str) {
        self.control("DELETE", &format!("/_test/requests?bucket={bucket}"), None);
    }

    pub fn inject_fault(&self, fault: &Fault) {
        self.control("POST", "/_test/faults", Some(&fault.to_json()));
    }

    /// The bucket's faults with how often each fired (raw JSON from the launcher).
    pub fn faults(&self, bucket: &str) -> serde_json::Value {
        let body = self.control("GET", &format!("/_test/faults?bucket={bucket}"), None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad fault list {body:?}: {e}"))
    }

    pub fn clear_faults(&self, bucket: &str) {
        self.control("DELETE", &format!("/_test/faults?bucket={bucket}"), None);
    }

    /// CloudFront, ACM and Route 53 requests signed with `access_key`, in order.
    pub fn hosting_requests(&self, access_key: &str) -> HostingRequests {
        self.hosting_requests_where(&[("access_key", access_key)])
    }

    /// CloudFront, ACM and Route 53 requests matching every `(filter, value)` (exact):
    /// `service`, `action`, `access_key`.
    pub fn hosting_requests_where(&self, filters: &[(&str, &str)]) -> HostingRequests {
        #[derive(Deserialize)]
        struct Log {
            requests: Vec<HostingRequest>,
        }
        let body = self.control(
            "GET",
            &control_path("/_test/hosting-requests", filters),
            None,
        );
        let log: Log = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("bad hosting request log {body:?}: {e}"));
        HostingRequests {
            entries: log.requests,
        }
    }

    /// Forget the CloudFront, ACM and Route 53 requests signed with `access_key`.
    pub fn reset_hosting_requests(&self, access_key: &str) {
        let filters = [("access_key", access_key)];
        self.control(
            "DELETE",
            &control_path("/_test/hosting-requests", &filters),
            None,
        );
    }

    pub fn inject_hosting_fault(&self, fault: &HostingFault) {
        self.control("POST", "/_test/faults", Some(&fault.to_json()));
    }

    /// The CloudFront/ACM/Route 53 faults for `access_key`, with how often each fired (raw
    /// JSON).
    pub fn hosting_faults(&self, access_key: &str) -> serde_json::Value {
        let filters = [("access_key", access_key)];
        let body = self.control(
            "GET",
            &control_path("/_test/hosting-faults", &filters),
            None,
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad fault list {body:?}: {e}"))
    }

    /// Remove the CloudFront/ACM/Route 53 faults for `access_key`.
    pub fn clear_hosting_faults(&self, access_key: &str) {
        let filters = [("access_key", access_key)];
        self.control(
            "DELETE",
            &control_path("/_test/hosting-faults", &filters),
            None,
        );
    }

    /// Distributions created or updated with `access_key` stay `InProgress` for `seconds`
    /// from now on (default: `KOP_CLOUDFRONT_DEPLOY_SECONDS` of the test process's
    /// environment when moto started, else 2), so one test can make deploys fast or slow
    /// without changing what the others see.
    pub fn set_cloudfront_deploy_seconds(&self, access_key: &str, seconds: f64) {
        let body = serde_json::json!({ "access_key": access_key, "seconds": seconds }).to_string();
        self.control("POST", "/_test/cloudfront-deploy", Some(&body));
    }

    /// Whether distribution `id` has completed its first deploy: CloudFront serves a
    /// distribution whose later update is still `InProgress`, but not one never deployed.
    pub fn cloudfront_deployed_once(&self, id: &str) -> bool {
        #[derive(Deserialize)]
        struct Answer {
            deployed_once: bool,
        }
        let body = self.control(
            "GET",
            &control_path("/_test/cloudfront-deployed", &[("id", id)]),
            None,
        );
        serde_json::from_str::<Answer>(&body)
            .unwrap_or_else(|e| panic!("bad deploy answer {body:?}: {e}"))
            .deployed_once
    }

    /// Finishes distribution `id`'s deployment now: it reads `Deployed` from then on (until its
    /// next change), so a test outlasts a `--no-wait` run with a long deploy without sleeping.
    pub fn finish_cloudfront_deploy(&self, id: &str) {
        #[derive(Deserialize)]
        struct Answer {
            finished: bool,
        }
        let body = self.control(
            "POST",
            &control_path("/_test/cloudfront-deployed", &[("id", id)]),
            None,
        );
        let answer = serde_json::from_str::<Answer>(&body)
            .unwrap_or_else(|e| panic!("bad deploy answer {body:?}: {e}"));
        assert!(
            answer.finished,
            "distribution {id} is not known to the launcher"
        );
    }

    /// Back to the default deploy delay for `access_key`.
    pub fn clear_cloudfront_deploy_seconds(&self, access_key: &str) {
        let filters = [("access_key", access_key)];
        self.control(
            "DELETE",
            &control_path("/_test/cloudfront-deploy", &filters),
            None,
        );
    }

    /// The harness's signed CloudFront client (its requests are not logged or faulted).
    pub fn cloudfront_client(&self) -> &aws_sdk_cloudfront::Client {
        &self.cloudfront
    }

    /// The harness's signed IAM client (us-east-1; its requests are not logged or faulted).
    pub fn iam_client(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    /// A provider URL unique within this process and never a substring of another one
    /// (`https://kop-<pid>-<n>-<prefix>.oidc.test/c1`), so request logs and faults keyed by it
    /// do not mix tests.
    pub fn unique_provider_url(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let clean: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        format!(
            "https://kop-{}-{n}-{}.oidc.test/c1",
            std::process::id(),
            clean.trim_matches('-')
        )
    }

    /// Seed a provider the way another tool would (e.g. an untagged "Terraform" one). `url`
    /// starts with `https://`; `thumbprints: None` lets "IAM" fetch one itself. Returns the
    /// ARN. Panics on any error.
    pub fn create_provider(
        &self,
        url: &str,
        client_ids: &[&str],
        thumbprints: Option<&[&str]>,
        tags: &[(&str, &str)],
    ) -> String {
        let tags: Vec<aws_sdk_iam::types::Tag> = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_iam::types::Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .expect("tag")
            })
            .collect();
        let request = self
            .iam
            .create_open_id_connect_provider()
            .url(url)
            .set_client_id_list(Some(client_ids.iter().map(|c| c.to_string()).collect()))
            .set_thumbprint_list(thumbprints.map(|t| t.iter().map(|t| t.to_string()).collect()))
            .set_tags((!tags.is_empty()).then_some(tags));
        let out = self
            .block_on(request.send())
            .unwrap_or_else(|e| panic!("create provider {url}: {}", DisplayErrorContext(&e)));
        out.open_id_connect_provider_arn()
            .expect("CreateOpenIDConnectProvider returns the ARN")
            .to_string()
    }

    /// Signed GetOpenIDConnectProvider; `None` if IAM answers NoSuchEntity.
    pub fn get_provider(&self, arn: &str) -> Option<Provider> {
        use aws_sdk_iam::operation::get_open_id_connect_provider::GetOpenIDConnectProviderError;
        let request = self
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn);
        match self.block_on(request.send()) {
            Ok(out) => Some(Provider {
                url: out.url().unwrap_or_default().to_string(),
                client_ids: out.client_id_list().to_vec(),
                thumbprints: out.thumbprint_list().to_vec(),
                tags: out
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            }),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetOpenIDConnectProviderError::NoSuchEntityException(_))
                ) =>
            {
                None
            }
            Err(e) => panic!("get provider {arn}: {}", DisplayErrorContext(&e)),
        }
    }

    /// Delete a provider (idempotent, as IAM documents it).
    pub fn delete_provider(&self, arn: &str) {
        let request = self
            .iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn);
        self.block_on(request.send())
            .unwrap_or_else(|e| panic!("delete provider {arn}: {}", DisplayErrorContext(&e)));
    }

    /// IAM requests about `provider` (a URL, ARN or `host/path`; matched as a substring of
    /// each request's provider ARN or `Url`), made by the code under test, in order.
    pub fn iam_requests(&self, provider: &str) -> IamRequests {
        self.iam_requests_where(&[("provider", provider_host_path(provider))])
    }

    /// IAM/STS requests matching every `(filter, value)`: `provider` (substring), `service`
    /// (`iam`/`sts`), `action`, `access_key` (exact). Tests isolate STS calls, which name no
    /// provider, by signing with their own access key id.
    pub fn iam_requests_where(&self, filters: &[(&str, &str)]) -> IamRequests {
        #[derive(Deserialize)]
        struct Log {
            requests: Vec<IamRequest>,
        }
        let body = self.control("GET", &control_path("/_test/iam-requests", filters), None);
        let log: Log = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("bad IAM request log {body:?}: {e}"));
        IamRequests {
            entries: log.requests,
        }
    }

    /// Forget the IAM requests about `provider`.
    pub fn reset_iam_requests(&self, provider: &str) {
        let filters = [("provider", provider_host_path(provider))];
        self.control(
            "DELETE",
            &control_path("/_test/iam-requests", &filters),
            None,
        );
    }

    pub fn inject_iam_fault(&self, fault: &IamFault) {
        self.control("POST", "/_test/faults", Some(&fault.to_json()));
    }

    /// The IAM faults registered for `provider` with how often each fired (raw JSON).
    pub fn iam_faults(&self, provider: &str) -> serde_json::Value {
        let filters = [("provider", provider_host_path(provider))];
        let body = self.control("GET", &control_path("/_test/iam-faults", &filters), None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad fault list {body:?}: {e}"))
    }

    /// Remove the IAM faults registered for `provider`.
    pub fn clear_iam_faults(&self, provider: &str) {
        let filters = [("provider", provider_host_path(provider))];
        self.control("DELETE", &control_path("/_test/iam-faults", &filters), None);
    }

    /// Remove the STS (or IAM) faults registered for `access_key`.
    pub fn clear_access_key_faults(&self, access_key: &str) {
        let filters = [("access_key", access_key)];
        self.control("DELETE", &control_path("/_test/iam-faults", &filters), None);
    }

    /// An access key id unique within this process (`KOP<pid>X<n>X<prefix>`), for tests that
    /// must tell their STS calls apart. moto answers any key with account [`ACCOUNT_ID`].
    pub fn unique_access_key(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let clean: String = prefix
            .to_ascii_uppercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        format!("KOP{}X{n}X{clean}", std::process::id())
    }

    /// `http://s3-control.kop.test:PORT`, for `AWS_ENDPOINT_URL_S3_CONTROL`; makes sure the
    /// name resolves first ([`ensure_s3_control_host`]).
    pub fn s3_control_endpoint(&self) -> String {
        ensure_s3_control_host();
        format!("http://{S3_CONTROL_HOST}:{}", self.port)
    }

    /// The account-level Public Access Block that S3 Control requests signed with
    /// `access_key` see from now on: `None` = none configured (NoSuchPublicAccessBlock-
    /// Configuration). Other access keys keep seeing moto's own (shared) state.
    pub fn set_account_public_access_block(
        &self,
        access_key: &str,
        config: Option<AccountPublicAccessBlock>,
    ) {
        let config = config.map(|c| {
            serde_json::json!({
                "BlockPublicAcls": c.block_public_acls,
                "IgnorePublicAcls": c.ignore_public_acls,
                "BlockPublicPolicy": c.block_public_policy,
                "RestrictPublicBuckets": c.restrict_public_buckets,
            })
        });
        let body = serde_json::json!({ "access_key": access_key, "config": config }).to_string();
        self.control("POST", "/_test/account-pab", Some(&body));
    }

    /// Forget `access_key`'s account-level Public Access Block (back to moto's own state).
    pub fn clear_account_public_access_block(&self, access_key: &str) {
        let filters = [("access_key", access_key)];
        self.control(
            "DELETE",
            &control_path("/_test/account-pab", &filters),
            None,
        );
    }

    /// One request to the launcher's `/_test/` API; panics unless it answers 200.
    fn control(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let body = body.unwrap_or("");
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connecting to moto on port {}: {e}", self.port));
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("writing to moto");
        let mut raw = String::new();
        stream
            .read_to_string(&mut raw)
            .unwrap_or_else(|e| panic!("reading from moto ({method} {path}): {e}"));
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            panic!("moto control {method} {path} failed:\n{raw}");
        }
        body.to_string()
    }
}

/// The harness's S3 client: path style, us-east-1, static `testing` credentials, rustls+ring.
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .app_name(AppName::new(HARNESS_APP_NAME).expect("app name"))
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The harness's IAM client: us-east-1, static `testing` credentials, rustls+ring.
fn iam_client(endpoint: &str) -> aws_sdk_iam::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .app_name(aws_sdk_iam::config::AppName::new(HARNESS_APP_NAME).expect("app name"))
        .http_client(http)
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// A harness CloudFront client (us-east-1, static `testing` credentials, rustls+ring, marked so
/// the launcher neither logs nor faults its requests), for a client on another runtime.
pub fn harness_cloudfront_client(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_cloudfront::Config::builder()
        .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudfront::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .app_name(aws_sdk_cloudfront::config::AppName::new(HARNESS_APP_NAME).expect("app name"))
        .http_client(http)
        .build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

/// `path?name=value&...` with every value percent-encoded (provider URLs carry `:` and `/`).
fn control_path(path: &str, filters: &[(&str, &str)]) -> String {
    let encode = |value: &str| -> String {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let query: Vec<String> = filters
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target directory this test binary was built into (where the venv lives).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            manifest_dir().join(dir)
        };
    }
    // <target>/<profile>/kube-oidc-publisher
    Path::new(env!("CARGO_BIN_EXE_kube-oidc-publisher"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir().join("target"))
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// Make sure `<target>/moto-venv` holds exactly the pinned requirements; returns its path.
///
/// The venv is valid when `<venv>/.requirements.sha256` (written last) matches the SHA-256
/// of `tests/moto/requirements.txt`. Otherwise one process, holding the lock directory
/// `<target>/moto-venv.lock`, deletes and rebuilds it while the others wait (bounded).
fn ensure_venv() -> Result<PathBuf, String> {
    let target = target_dir();
    let venv = target.join("moto-venv");
    let requirements = manifest_dir().join("tests/moto/requirements.txt");
    let wanted = std::fs::read(&requirements)
        .map(|bytes| hex(&Sha256::digest(&bytes)))
        .map_err(|e| format!("reading {}: {e}", requirements.display()))?;
    let marker = venv.join(".requirements.sha256");
    let ready = || {
        std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str())
            && venv_python(&venv).exists()
    };
    if ready() {
        return Ok(venv);
    }
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    let _lock = DirLock::acquire(&target.join("moto-venv.lock"), INSTALL_TIMEOUT)?;
    if ready() {
        return Ok(venv);
    }

    let log_path = target.join("moto-venv-install.log");
    let python = std::env::var_os("KOP_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| format!("removing stale {}: {e}", venv.display()))?;
    }
    let steps: Vec<(&str, Command)> = vec![
        ("create the venv", {
            let mut c = Command::new(&python);
            c.args(["-m", "venv"]).arg(&venv);
            c
        }),
        ("pip install the pinned requirements", {
            let mut c = Command::new(venv_python(&venv));
            c.args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .arg("-r")
            .arg(&requirements);
            c
        }),
        ("import moto's server", {
            let mut c = Command::new(venv_python(&venv));
            c.args([
                "-c",
                "import moto, moto.moto_server.werkzeug_app; print('moto', moto.__version__)",
            ]);
            c
        }),
    ];
    let mut log = std::fs::File::create(&log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    for (what, mut cmd) in steps {
        let _ = writeln!(log, "$ {cmd:?}");
        let out = log.try_clone().map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let status = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .and_then(|mut child| {
                wait_with_deadline(&mut child, INSTALL_TIMEOUT).ok_or_else(|| {
                    let _ = child.kill();
                    let _ = child.wait();
                    std::io::Error::other("timed out")
                })
            });
        match status {
            Ok(s) if s.success() => {}
            other => {
                return Err(format!(
                    "installing moto failed: could not {what} ({other:?}) with {cmd:?}.\n\
                     Needs python3 (>= 3.9, with the venv module; override with KOP_TEST_PYTHON) \
                     and access to PyPI. Log {}:\n{}",
                    log_path.display(),
                    tail(&log_path, 30)
                ));
            }
        }
    }
    let tmp = venv.join(".requirements.sha256.tmp");
    std::fs::write(&tmp, &wanted)
        .and_then(|_| std::fs::rename(&tmp, &marker))
        .map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(venv)
}

/// A cross-process lock: a directory created atomically, holding the owner's pid, removed
/// on drop. A lock whose owner process is gone is taken over.
struct DirLock {
    path: PathBuf,
}

impl DirLock {
    fn acquire(path: &Path, timeout: Duration) -> Result<DirLock, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => {
                    let _ = std::fs::write(path.join("pid"), std::process::id().to_string());
                    return Ok(DirLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if DirLock::is_stale(path) {
                        let _ = std::fs::remove_dir_all(path);
                        continue;
                    }
                }
                Err(e) => return Err(format!("creating lock {}: {e}", path.display())),
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for lock {} (held by pid {:?}); \
                     remove it if no test run is installing moto",
                    path.display(),
                    std::fs::read_to_string(path.join("pid")).ok()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The owner is gone (Linux: no /proc/<pid>), or never wrote its pid within 30 s.
    fn is_stale(path: &Path) -> bool {
        match std::fs::read_to_string(path.join("pid")) {
            Ok(pid) => {
                let proc_root = Path::new("/proc");
                proc_root.is_dir() && !proc_root.join(pid.trim()).exists()
            }
            Err(_) => std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(30)),
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Delete launcher logs older than a day (one log per test process accumulates otherwise).
fn remove_old_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten().take(10_000) {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(24 * 3600));
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Last `lines` lines of a text file.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
