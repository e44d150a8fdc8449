//! The end state every fault test must reach, checked from the store itself (signed reads for
//! S3, files for a directory store), never from what the binary reported:
//!
//! - [`assert_consistent`]: the discovery document is valid for the issuer; its `jwks_uri`,
//!   mapped back to a key of the store, serves a valid public JWKS; every algorithm the
//!   discovery document announces has a key; and the key set holds every key still in
//!   retention according to the state object `.kube-oidc-publisher/state.json` (same key
//!   material), plus the kids the test names.
//! - [`assert_next_runs_converge`]: the next run (no fault) succeeds and leaves a consistent
//!   store, and a further run writes nothing at all.
//!
//! Assumes the default retention (26 h): no test here waits for one to end.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::command::{snapshot_dir, stdout_str, TestCommand};
use super::moto::moto;

/// The state object's key, relative to the issuer root.
pub const STATE_KEY: &str = ".kube-oidc-publisher/state.json";
/// The discovery document's key, relative to the issuer root.
pub const DISCOVERY_KEY: &str = ".well-known/openid-configuration";

/// The default `--retain-removed-keys`.
const DEFAULT_RETENTION: Duration = Duration::from_secs(26 * 3600);

/// Members only private keys carry.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Where the documents were published (the issuer root).
#[derive(Clone, Debug)]
pub enum PublishedStore {
    S3 { bucket: String, prefix: String },
    Dir(PathBuf),
}

impl PublishedStore {
    pub fn s3(bucket: &str) -> PublishedStore {
        PublishedStore::S3 {
            bucket: bucket.to_string(),
            prefix: String::new(),
        }
    }

    /// The object at `key` (relative to the issuer root), or `None`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            PublishedStore::S3 { bucket, prefix } => {
                let full = if prefix.is_empty() {
                    key.to_string()
                } else {
                    format!("{prefix}/{key}")
                };
                moto().get_object(bucket, &full).map(|o| o.body)
            }
            PublishedStore::Dir(root) => std::fs::read(root.join(key)).ok(),
        }
    }

    /// `Content-Type` of an S3 object (`None` for a directory store or a missing object).
    fn content_type(&self, key: &str) -> Option<String> {
        match self {
            PublishedStore::S3 { bucket, prefix } => {
                let full = if prefix.is_empty() {
                    key.to_string()
                } else {
                    format!("{prefix}/{key}")
                };
                moto()
                    .get_object(bucket, &full)
                    .and_then(|o| o.content_type)
            }
            PublishedStore::Dir(_) => None,
        }
    }

    /// Something that changes whenever anything is written (S3: the bucket's write count
    /// since the last log reset; directory: its full contents).
    fn write_marker(&self) -> String {
        match self {
            PublishedStore::S3 { bucket, .. } => {
                let requests = moto().requests(bucket);
                let writes: Vec<String> = requests
                    .entries
                    .iter()
                    .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "DELETE"))
                    .map(|r| format!("{} {}?{}", r.method, r.key, r.op))
                    .collect();
                format!("{} writes: {writes:?}", writes.len())
            }
            PublishedStore::Dir(root) => format!("{:?}", snapshot_dir(root)),
        }
    }

    fn reset_log(&self) {
        if let PublishedStore::S3 { bucket, .. } = self {
            moto().reset_requests(bucket);
        }
    }
}

/// What [`assert_consistent`] found.
#[derive(Clone, Debug)]
pub struct Consistent {
    pub discovery: Value,
    pub jwks: Value,
    /// Published kids, in document order.
    pub kids: Vec<String>,
    /// Kids the state keeps in retention (all its records, since none has expired).
    pub state_kids: Vec<String>,
    /// Kids the state records as removed from the source.
    pub removed_kids: Vec<String>,
}

/// Asserts the published documents are valid and consistent (see the module doc) and that the
/// key set holds every kid of `must_hold`.
pub fn assert_consistent(store: &PublishedStore, issuer: &str, must_hold: &[&str]) -> Consistent {
    let discovery_bytes = store
        .get(DISCOVERY_KEY)
        .unwrap_or_else(|| panic!("{store:?}: no discovery document is published"));
    let discovery: Value = serde_json::from_slice(&discovery_bytes).unwrap_or_else(|e| {
        panic!(
            "{store:?}: the discovery document is not JSON ({e}): {}",
            String::from_utf8_lossy(&discovery_bytes)
        )
    });
    assert_eq!(discovery["issuer"], issuer, "{discovery}");
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .unwrap_or_else(|| panic!("no jwks_uri: {discovery}"));
    let jwks_key = jwks_uri
        .strip_prefix(issuer)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or_else(|| panic!("jwks_uri {jwks_uri} is not under the issuer {issuer}"));
    assert_eq!(
        discovery["response_types_supported"],
        serde_json::json!(["id_token"]),
        "{discovery}"
    );
    assert!(
        discovery["subject_types_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s == "public")),
        "{discovery}"
    );
    let algs: Vec<&str> = discovery["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap_or_else(|| panic!("no id_token_signing_alg_values_supported: {discovery}"))
        .iter()
        .map(|a| a.as_str().expect("alg names are strings"))
        .collect();
    assert!(!algs.is_empty(), "{discovery}");

    // The jwks_uri serves a valid, public key set.
    let jwks_bytes = store.get(jwks_key).unwrap_or_else(|| {
        panic!("{store:?}: the discovery document points at {jwks_uri}, which is not published")
    });
    let jwks: Value = serde_json::from_slice(&jwks_bytes).unwrap_or_else(|e| {
        panic!(
            "{store:?}: the JWKS is not JSON ({e}): {}",
            String::from_utf8_lossy(&jwks_bytes)
        )
    });
    let keys = jwks["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys array: {jwks}"));
    assert!(!keys.is_empty(), "an empty key set is published: {jwks}");
    let mut kids: Vec<String> = Vec::new();
    for key in keys {
        let kid = key["kid"]
            .as_str()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| panic!("a key without kid: {key}"));
        assert!(
            !kids.iter().any(|k| k == kid),
            "kid {kid} published twice: {jwks}"
        );
        kids.push(kid.to_string());
        assert_eq!(key["use"], "sig", "{key}");
        match key["kty"].as_str() {
            Some("RSA") => assert!(key["n"].is_string() && key["e"].is_string(), "{key}"),
            Some("EC") => assert!(
                key["crv"].is_string() && key["x"].is_string() && key["y"].is_string(),
                "{key}"
            ),
            other => panic!("unexpected kty {other:?}: {key}"),
        }
        assert!(key["alg"].is_string(), "{key}");
        for member in PRIVATE_MEMBERS {
            assert!(
                key.get(member).is_none(),
                "private member {member} published: {key}"
            );
        }
    }
    for alg in &algs {
        assert!(
            keys.iter().any(|k| k["alg"] == *alg),
            "the discovery document announces {alg}, for which the JWKS has no key: {discovery} / {jwks}"
        );
    }
    if let PublishedStore::S3 { .. } = store {
        for key in [DISCOVERY_KEY, jwks_key] {
            assert_eq!(
                store.content_type(key).as_deref(),
                Some("application/json"),
                "{key}"
            );
        }
    }

    // Every key the state keeps in retention is published, with the recorded key material.
    let (mut state_kids, mut removed_kids) = (Vec::new(), Vec::new());
    if let Some(bytes) = store.get(STATE_KEY) {
        let state: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "the state is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(state["version"], 1, "{state}");
        let records = state["keys"]
            .as_object()
            .unwrap_or_else(|| panic!("state without keys: {state}"));
        for (kid, record) in records {
            if let Some(since) = record.get("removed_since").and_then(Value::as_str) {
                let since = parse_rfc3339(since);
                assert!(
                    since + DEFAULT_RETENTION > SystemTime::now(),
                    "a test outlived a retention: {record}"
                );
                removed_kids.push(kid.clone());
            }
            let published = keys
                .iter()
                .find(|k| k["kid"] == kid.as_str())
                .unwrap_or_else(|| {
                    panic!("key {kid} is in retention per the state but not published: state {state} / JWKS {jwks}")
                });
            for member in ["kty", "crv", "alg", "n", "e", "x", "y"] {
                assert_eq!(
                    published.get(member),
                    record["jwk"].get(member),
                    "key {kid}: published {member} differs from the state's record"
                );
            }
            state_kids.push(kid.clone());
        }
    }
    for kid in must_hold {
        assert!(
            kids.iter().any(|k| k == kid),
            "key {kid} must still be published: {jwks}"
        );
    }
    Consistent {
        discovery,
        jwks,
        kids,
        state_kids,
        removed_kids,
    }
}

/// Runs `sync` (no fault) and expects success and a consistent store, then runs it again and
/// expects it to write nothing. `sync` must be a complete `sync` invocation; `--output json` is
/// added. Returns what the store holds after the repair.
pub fn assert_next_runs_converge(
    sync: &TestCommand,
    store: &PublishedStore,
    issuer: &str,
    must_hold: &[&str],
) -> Consistent {
    let mut json = sync.clone();
    json.args(["--output", "json"]);
    let repair: Value = parse(&json.assert_success());
    let repaired = assert_consistent(store, issuer, must_hold);
    assert!(
        repaired.state_kids.iter().all(|k| repaired.kids.contains(k))
            && repaired.kids.iter().all(|k| repaired.state_kids.contains(k)),
        "after a complete run the state records exactly the published keys: {repaired:?} ({repair})"
    );
    store.reset_log();
    let before = store.write_marker();
    let quiet: Value = parse(&json.assert_success());
    assert_eq!(quiet["status"], "in_sync", "{quiet}");
    assert_eq!(quiet["writes"], 0, "{quiet}");
    assert_eq!(
        store.write_marker(),
        before,
        "a run after the repair must write nothing"
    );
    repaired
}

fn parse(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout_str(output)))
}

/// An RFC 3339 time from the state as a `SystemTime`.
fn parse_rfc3339(text: &str) -> SystemTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("not an RFC 3339 time: {text:?}: {e}"))
        .into()
}
