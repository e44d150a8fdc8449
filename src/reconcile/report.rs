//! What one sync decided and did ([`SyncReport`], printed by `output` and counted by `run`'s
//! metrics), and why it failed ([`SyncError`], [`ProviderError`]), each message saying what to
//! do next.

use serde::Serialize;

use crate::hosting;
use crate::iam;
use crate::model::cloudfront::Invalidation;
use crate::model::jwk::KeySetError;
use crate::model::state::{self, Retained};
use crate::plan::Mode;
use crate::plan::{Plan, ProviderPlan};
use crate::source::{self, Dropped};
use crate::store;
use crate::tls;

/// What one sync decided and did.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    pub issuer: String,
    pub store: String,
    pub source: String,
    pub kids: Vec<String>,
    pub dropped: Vec<Dropped>,
    /// Keys the source no longer has, still published until their retention ends.
    pub retained: Vec<Retained>,
    /// Keys whose retention ended, no longer published.
    pub retired: Vec<String>,
    /// Keys removed at once (`rotate revoke`).
    pub revoked: Vec<String>,
    /// Keys published by `rotate stage` that the source does not serve (yet).
    pub staged: Vec<String>,
    /// The issuer the API server signs tokens with (`--source cluster`).
    pub api_server_issuer: Option<String>,
    /// The document changes.
    pub plan: Plan,
    /// The IAM OIDC provider, when managed (`None` with `--no-iam`).
    pub provider: Option<ProviderPlan>,
    #[serde(skip)]
    pub mode: Mode,
    /// Changes actually written, documents and provider (0 in dry-run and check modes).
    pub writes: usize,
    /// A concurrent publisher changed the store and the plan was made again.
    pub replanned: bool,
    pub warnings: Vec<String>,
    /// The CloudFront invalidation this run made (`--cloudfront-distribution`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidation: Option<Invalidation>,
}

impl SyncReport {
    /// Something would change (or differs on a provider we do not own).
    pub fn drift(&self) -> bool {
        !self.plan.is_empty()
            || self
                .provider
                .as_ref()
                .is_some_and(|p| !p.changes.is_empty() || !p.unmanaged_drift.is_empty())
    }

    /// The retained key that leaves the JWKS first, if any (the daemon's removal metric).
    pub fn next_removal(&self) -> Option<&Retained> {
        self.retained.iter().min_by_key(|r| r.removable_at)
    }
}

/// Why the IAM side could not be observed or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Iam(#[from] iam::Error),
    #[error("computing the thumbprint of {host}: {error}. Or pass --thumbprint none to let IAM fetch it, or --thumbprint HEX to pin it")]
    Thumbprint {
        host: String,
        error: Box<tls::Error>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] source::Error),
    #[error("keys from {source_name}: {error}")]
    KeySet {
        source_name: String,
        error: KeySetError,
    },
    #[error("the API server signs tokens with issuer {api_server:?}, but this run publishes issuer {published:?}; STS compares them byte for byte and would reject every token. Either set on every kube-apiserver (the published issuer first; the current one kept second so that issued tokens stay valid; --api-audiences keeps accepting the audience in-cluster tokens carry today, so keep any values it already has):\n    {}\n{way_out}, or pass --allow-issuer-mismatch during an issuer migration", .flags.join("\n    "))]
    IssuerMismatch {
        api_server: String,
        published: String,
        /// The kube-apiserver flags, as bootstrap prints them.
        flags: Vec<String>,
        /// The other way out, or why there is none.
        way_out: String,
    },
    #[error("{store} already publishes issuer {published:?}; this run asks for {requested:?}. Nothing was written. Moving a published issuer breaks every token whose iss is {published:?}: STS fetches that issuer's discovery document, finds another issuer in it and rejects the token, so every pod holding one loses its AWS access until the API server signs with the new issuer and the old tokens have expired. Keep the published issuer (pass --issuer {published}, or check --store: it may be another cluster's location), or, knowing that consequence, pass --allow-issuer-change (a guided issuer migration is planned)")]
    IssuerChange {
        store: String,
        published: String,
        requested: String,
    },
    #[error("{store} is in region {actual}, not {expected}: the issuer derived from the bucket would name https://BUCKET.s3.{expected}…, a URL where STS finds no documents, and every token would be rejected. Nothing was written; pass --region {actual}")]
    WrongRegion {
        store: String,
        expected: String,
        actual: String,
    },
    #[error("checking the bucket's region")]
    Region(#[source] store::Error),
    #[error(transparent)]
    Retention(state::StateError),
    #[error("reading what is published")]
    Observe(#[source] store::Error),
    #[error("publishing: {error}{}", written_note(.written))]
    Apply {
        error: store::Error,
        written: Vec<String>,
    },
    #[error("invalidating the CloudFront distribution's copies of the new documents: {error}{}. The edge serves the old documents until their max-age has passed; the next run invalidates again (the state recording it was not written)", written_note(.written))]
    Invalidate {
        error: hosting::Error,
        written: Vec<String>,
    },
    #[error("reading CloudFront distribution {distribution}: {error}")]
    Distribution {
        distribution: String,
        error: hosting::Error,
    },
    #[error("CloudFront distribution {distribution} does not exist (or not in this account); check --cloudfront-distribution (bootstrap --hosting cloudfront prints it)")]
    NoDistribution { distribution: String },
    #[error("CloudFront distribution {distribution} does not serve this issuer from this store: {}. Nothing was written. Check --issuer and --cloudfront-distribution (bootstrap --hosting cloudfront prints both), or fix the distribution's aliases and origin", .mismatch)]
    EdgeMismatch {
        distribution: String,
        mismatch: crate::plan::DistributionMismatch,
    },
    #[error("{location} changed again while re-planning; another publisher is writing to the same store at the same moment. Nothing inconsistent was published; run sync again (a CronJob's next run will)")]
    Conflict { location: String },
    #[error("IAM OIDC provider: {error} ({documents})")]
    Provider {
        error: ProviderError,
        documents: String,
    },
    #[error("the IAM OIDC provider {arn} exists but is not managed by kube-oidc-publisher (it has no kube-oidc-publisher/managed-by tag; Terraform or eksctl may own it), and it differs from what this cluster needs: {}. Fix it where it is managed, or pass --adopt to let this tool tag and manage it ({documents})", .drift.join("; "))]
    UnmanagedProvider {
        arn: String,
        drift: Vec<String>,
        documents: String,
    },
}

fn written_note(written: &[String]) -> String {
    if written.is_empty() {
        " (nothing was written)".into()
    } else {
        format!(" ({} was written before the failure and is consistent; the next run completes the rest)", written.join(", "))
    }
}
