//! `OidcProviders`: the IAM OIDC identity provider STS looks up by the token's issuer, and the
//! caller's account. One narrow trait with a real implementation (`aws`: IAM + STS) and an
//! in-memory one for unit tests of the reconcile loop.
//!
//! Semantics callers rely on:
//! - `get` returns `Ok(None)` only for a provider that does not exist (`NoSuchEntity`).
//! - `set_thumbprints` replaces the whole list (`UpdateOpenIDConnectProviderThumbprint`).
//! - `add_client_id` / `remove_client_id` are idempotent, as IAM documents them.
//! - Retryable failures (`ConcurrentModification`, `ServiceFailure`, throttling) are retried
//!   inside the implementation with backoff; what reaches the caller is final.

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use crate::plan::{
    ObservedProvider as ProviderState, CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE,
};

pub mod aws;
pub mod memory;

/// The caller's account and partition: the provider ARN is
/// `arn:<partition>:iam::<account>:oidc-provider/<host/path>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub partition: String,
}

impl Account {
    pub fn provider_arn(&self, provider_url: &str) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{provider_url}",
            self.partition, self.id
        )
    }
}

/// What went wrong talking to IAM/STS, by meaning. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no AWS credentials could be found or used ({detail}); configure them as for the aws CLI (AWS_PROFILE, environment variables, SSO, or a web identity token), or pass --no-iam to publish only the documents")]
    Credentials { detail: String },
    #[error("access denied: {action} on {resource}; grant it to the credentials in use (see `aws sts get-caller-identity`): templates/publisher-role-policy.json lists what sync needs, templates/operator-policy.json what bootstrap needs")]
    AccessDenied {
        action: &'static str,
        resource: String,
    },
    #[error("{resource} does not exist (NoSuchEntity); it may have been deleted meanwhile: run sync again to recreate it")]
    NotFound { resource: String },
    #[error("IAM refused to create another OIDC provider (LimitExceeded): an account holds at most 100 by default. Delete providers no cluster uses (`aws iam list-open-id-connect-providers`), or ask AWS Support for a higher quota")]
    LimitExceeded,
    #[error("an IAM OIDC provider for {url} was created by someone else while this run was creating it; run sync again to reconcile it")]
    AlreadyExists { url: String },
    #[error("IAM rejected {action}: {detail}")]
    Invalid {
        action: &'static str,
        detail: String,
    },
    #[error("{action} kept failing after {attempts} attempts ({detail}); IAM is throttling or unavailable: run sync again later")]
    Exhausted {
        action: &'static str,
        attempts: u32,
        detail: String,
    },
    #[error("{action} failed: {detail}")]
    Service {
        action: &'static str,
        detail: String,
    },
}

/// The effect trait for the IAM side.
#[async_trait]
pub trait OidcProviders: Send + Sync {
    /// The caller's account (STS GetCallerIdentity) and the partition of the region in use.
    async fn account(&self) -> Result<Account, Error>;

    async fn get(&self, arn: &str) -> Result<Option<ProviderState>, Error>;

    /// Creates the provider; `thumbprints` empty lets IAM fetch its own. Returns the ARN.
    async fn create(
        &self,
        url: &str,
        client_ids: &[String],
        thumbprints: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<String, Error>;

    async fn set_thumbprints(&self, arn: &str, thumbprints: &[String]) -> Result<(), Error>;

    async fn add_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error>;

    async fn remove_client_id(&self, arn: &str, client_id: &str) -> Result<(), Error>;

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error>;

    /// Deletes the provider (`issuer finish`, for the old issuer's). A provider that does not
    /// exist counts as deleted, as IAM documents DeleteOpenIDConnectProvider.
    async fn delete(&self, arn: &str) -> Result<(), Error>;
}
