//! `KeySource`: where the signing keys come from: the API server (`kube`), public key files
//! (`files`), or both (`Combined`, which is how a new key is published before the API server
//! uses it).

use async_trait::async_trait;

use crate::model::Jwk;

pub mod client;
pub mod files;
pub mod kube;

/// Where the keys come from (`--source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// The API server's /openid/v1/jwks, plus any --key-file.
    Cluster,
    /// Only the --key-file PEM files; nothing else is contacted.
    Files,
}

/// Which API servers `--source cluster` reads the keys from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiServerEndpoints {
    /// Every ready endpoint of the `kubernetes` Service (its EndpointSlices), the union of
    /// their keys; falls back to the server address, with a warning, when they cannot be read.
    All,
    /// Only the kubeconfig's server address (one API server per request behind a balancer).
    /// The default for callers without the flag (doctor); the flag defaults to `all`.
    #[default]
    Service,
}

/// What a source yields: usable keys, keys dropped because STS cannot use them, and, for the
/// API server, the issuer it signs tokens with.
#[derive(Debug, Default)]
pub struct SourceKeys {
    pub keys: Vec<Jwk>,
    pub dropped: Vec<Dropped>,
    pub issuer: Option<String>,
    /// What the user should know about how the keys were read (an API server not reached).
    pub warnings: Vec<String>,
    /// Some API server could not be read: its keys may be missing from `keys`.
    pub partial: bool,
}

/// A key left out, with where it came from and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    pub kid: String,
    pub source: String,
    pub reason: String,
}

/// What went wrong reading keys, by meaning. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no Kubernetes credentials: {detail}. Pass --kubeconfig and --context, set KUBECONFIG, run inside a pod, or publish key files with --source files --key-file PATH")]
    NoKubeconfig { detail: String },
    /// The kubeconfig asks for something this tool refuses or cannot do (detail says what to
    /// change).
    #[error("cannot use the kubeconfig: {detail}")]
    UnusableKubeconfig { detail: String },
    #[error("cannot reach the Kubernetes API server at {server}: {detail}. Check that the kubeconfig's server address is reachable from here (`kubectl --context … get --raw /openid/v1/jwks`)")]
    Unreachable { server: String, detail: String },
    #[error("the Kubernetes API server at {server} did not answer GET {path} within {seconds} s; check the API server's health, or raise --timeout")]
    Timeout {
        server: String,
        path: &'static str,
        seconds: u64,
    },
    #[error("the Kubernetes API server at {server} answered 401 Unauthorized for GET {path}: it did not accept the kubeconfig's credentials. Refresh them (an expired token or client certificate?), then check with `kubectl get --raw {path}`")]
    Unauthorized { server: String, path: &'static str },
    #[error("the Kubernetes API server at {server} answered 403 Forbidden for GET {path}: {message}. The ClusterRole system:service-account-issuer-discovery grants this read; bind it: `kubectl create clusterrolebinding kube-oidc-publisher-discovery --clusterrole=system:service-account-issuer-discovery {subject}`")]
    Forbidden {
        server: String,
        path: &'static str,
        message: String,
        subject: String,
    },
    #[error("the Kubernetes API server at {server} has no {path} (404): service-account issuer discovery needs Kubernetes 1.21 or later with --service-account-issuer set; or publish key files with --source files --key-file PATH")]
    NotServed { server: String, path: &'static str },
    #[error("the Kubernetes API server at {server} answered {status} for GET {path}: {body}. Nothing was published; retry when the API server is healthy")]
    Status {
        server: String,
        path: &'static str,
        status: u16,
        body: String,
    },
    #[error("the Kubernetes API server at {server} served {path} that is not valid: {detail}. Nothing was published; check `kubectl get --raw {path}`")]
    Malformed {
        server: String,
        path: &'static str,
        detail: String,
    },
    #[error(
        "the Kubernetes API server at {server} served a key set that cannot be published: {detail}"
    )]
    BadKey { server: String, detail: String },
    #[error("the API servers disagree on the issuer: {servers}. STS accepts one issuer per provider, so nothing was published. Give every kube-apiserver the same first --service-account-issuer, then run sync again")]
    IssuerDisagreement { servers: String },
    #[error("the API servers at {first} and {second} serve different keys under the same kid {kid:?}. Nothing was published: check every kube-apiserver's --service-account-key-file (kube-apiserver derives the kid from the key, so the same kid must be the same key)")]
    KeyDisagreement {
        kid: String,
        first: String,
        second: String,
    },
    #[error("cannot read key file {path}: {detail}")]
    KeyFileRead { path: String, detail: String },
    #[error("key file {path}: {detail}")]
    KeyFile { path: String, detail: String },
}

/// At most this many characters of server-supplied text reach a message.
pub const SERVER_TEXT_MAX: usize = 200;

/// Text a server sent (a Kubernetes `Status` message, a response body), made safe to print in
/// a terminal or a text log line: control characters (newlines and ANSI escapes included) and
/// bidirectional-override characters become a space, runs of spaces become one, and the
/// result is cut at [`SERVER_TEXT_MAX`] characters (with "…"). Without this, a server could
/// forge a log line or recolour the terminal. Every message quoting a server goes through it.
pub fn server_text(raw: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    for c in raw.chars() {
        let unsafe_char = c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if unsafe_char || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if count == SERVER_TEXT_MAX {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
            if count == SERVER_TEXT_MAX {
                out.push('…');
                return out;
            }
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The effect trait for reading keys.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Where the keys come from, for messages.
    fn describe(&self) -> String;

    async fn fetch(&self) -> Result<SourceKeys, Error>;
}

/// Several sources whose keys are published together. The first source that reports an
/// issuer (the API server) provides it.
pub struct Combined(pub Vec<Box<dyn KeySource>>);

#[async_trait]
impl KeySource for Combined {
    fn describe(&self) -> String {
        self.0
            .iter()
            .map(|s| s.describe())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    async fn fetch(&self) -> Result<SourceKeys, Error> {
        let results = futures::future::join_all(self.0.iter().map(|s| s.fetch())).await;
        let mut all = SourceKeys::default();
        for result in results {
            let keys = result?;
            all.keys.extend(keys.keys);
            all.dropped.extend(keys.dropped);
            all.issuer = all.issuer.or(keys.issuer);
            all.warnings.extend(keys.warnings);
            all.partial |= keys.partial;
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_one_printable_line_of_bounded_length() {
        assert_eq!(
            server_text("boom\n2026-01-01 INFO forged\r\n\u{1b}[31mred\u{1b}[0m\t end "),
            "boom 2026-01-01 INFO forged [31mred [0m end"
        );
        assert_eq!(server_text("a\u{202e}b\u{7f}c\u{9b}d"), "a b c d");
        let long = "x".repeat(500);
        let cut = server_text(&long);
        assert_eq!(cut.chars().count(), SERVER_TEXT_MAX + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            server_text(&"y".repeat(SERVER_TEXT_MAX)),
            "y".repeat(SERVER_TEXT_MAX)
        );
    }
}
