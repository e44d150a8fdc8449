//! The AWS services in front of a private bucket (`--hosting cloudfront`, PROTOCOL.md §8), one
//! narrow effect trait each: [`Distributions`] (CloudFront: the distribution, its origin access
//! control, invalidations), [`Certificates`] (ACM, in us-east-1: the custom domain's
//! certificate) and [`DnsRecords`] (Route 53: the custom domain's alias). Real implementations
//! in `aws`, in-memory ones for unit tests in `memory`. The data they speak is
//! [`crate::model::cloudfront`]'s.
//!
//! Semantics callers rely on:
//! - getters return `Ok(None)` only for "not there" (`NoSuchDistribution`, a certificate or zone
//!   that does not exist), never for a refusal;
//! - writers are single calls; retryable failures (throttling, 5xx) are retried inside the
//!   implementation, and what reaches the caller is final;
//! - `create_invalidation` with a `caller_reference` already used on that distribution returns
//!   the invalidation made then (CloudFront's own idempotency), so a retried run does not
//!   invalidate twice for the same content.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, DistributionConfig, DistributionSummary, HostedZone,
    Invalidation, OriginAccessControl, OriginAccessControlConfig,
};

pub mod aws;
pub mod memory;

/// What went wrong, by meaning. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no AWS credentials could be found or used ({detail}); configure them as for the aws CLI (AWS_PROFILE, environment variables, SSO, or a web identity token)")]
    Credentials { detail: String },
    #[error("access denied: {action} on {resource}; grant it to the credentials in use (see `aws sts get-caller-identity`): templates/operator-policy.json lists what bootstrap needs, templates/publisher-role-policy.json what sync needs")]
    AccessDenied {
        action: &'static str,
        resource: String,
    },
    #[error("{action} on {resource} was refused because it changed meanwhile (PreconditionFailed: the ETag is stale); run the command again")]
    Changed {
        action: &'static str,
        resource: String,
    },
    #[error("{action} on {resource}: {detail}")]
    Conflict {
        action: &'static str,
        resource: String,
        /// The service's own message (e.g. CNAMEAlreadyExists: another distribution has the alias).
        detail: String,
    },
    #[error("{action} was rejected: {detail}")]
    Invalid {
        action: &'static str,
        detail: String,
    },
    #[error("{action} failed: {detail}")]
    Service {
        action: &'static str,
        detail: String,
    },
}

/// CloudFront: distributions, origin access controls and invalidations.
#[async_trait]
pub trait Distributions: Send + Sync {
    /// Every distribution of the account (ListDistributions, all pages).
    async fn list(&self) -> Result<Vec<DistributionSummary>, Error>;

    /// GetDistribution and its tags (ListTagsForResource); `None`: no such distribution.
    async fn get(&self, id: &str) -> Result<Option<Distribution>, Error>;

    /// CreateDistributionWithTags.
    async fn create(
        &self,
        config: &DistributionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<Distribution, Error>;

    /// UpdateDistribution with `IfMatch: etag` (the whole configuration is replaced; what this
    /// tool does not model is kept from the current configuration by the implementation).
    async fn update(
        &self,
        id: &str,
        config: &DistributionConfig,
        etag: &str,
    ) -> Result<Distribution, Error>;

    /// Every origin access control of the account (ListOriginAccessControls, all pages).
    async fn origin_access_controls(&self) -> Result<Vec<OriginAccessControl>, Error>;

    async fn create_origin_access_control(
        &self,
        config: &OriginAccessControlConfig,
    ) -> Result<OriginAccessControl, Error>;

    /// CreateInvalidation of `paths` (each starting with `/`).
    async fn create_invalidation(
        &self,
        distribution_id: &str,
        caller_reference: &str,
        paths: &[String],
    ) -> Result<Invalidation, Error>;

    /// GetInvalidation; `None`: no such invalidation.
    async fn invalidation(
        &self,
        distribution_id: &str,
        invalidation_id: &str,
    ) -> Result<Option<Invalidation>, Error>;

    /// TagResource on the distribution `arn`: adds `tags` (or sets their values), keeping its
    /// other tags.
    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error>;

    // `bootstrap --delete`'s calls (kept together at the end of the trait).

    /// UpdateDistribution with `IfMatch: etag` that changes only `Enabled` to false (the rest of
    /// the current configuration is sent back as it is). The distribution then reads
    /// `InProgress` until the change is deployed.
    async fn disable(&self, id: &str, etag: &str) -> Result<Distribution, Error>;

    /// DeleteDistribution with `IfMatch: etag` (the ETag of its last `get`). CloudFront refuses
    /// a distribution that is enabled or not yet `Deployed` (`DistributionNotDisabled`:
    /// [`Error::Conflict`]) and a stale ETag ([`Error::Changed`]). One that is already gone is
    /// `Ok`: the delete is done.
    async fn delete(&self, id: &str, etag: &str) -> Result<(), Error>;

    /// DeleteOriginAccessControl, with the `IfMatch` its implementation reads first
    /// (GetOriginAccessControl: nothing of an OAC is compared, only its version is needed).
    /// CloudFront refuses one still attached to an origin (`OriginAccessControlInUse`:
    /// [`Error::Conflict`]). One that is already gone is `Ok`.
    async fn delete_origin_access_control(&self, id: &str) -> Result<(), Error>;
}

/// ACM in us-east-1, the region CloudFront takes certificates from.
#[async_trait]
pub trait Certificates: Send + Sync {
    /// DescribeCertificate; `None`: no such certificate in us-east-1.
    async fn get(&self, arn: &str) -> Result<Option<Certificate>, Error>;
}

/// Route 53: the custom domain's alias records.
#[async_trait]
pub trait DnsRecords: Send + Sync {
    /// GetHostedZone; `None`: no such zone.
    async fn zone(&self, zone_id: &str) -> Result<Option<HostedZone>, Error>;

    /// The alias records (A and AAAA) of exactly `name` in the zone (ListResourceRecordSets).
    async fn aliases(&self, zone_id: &str, name: &str) -> Result<Vec<AliasRecord>, Error>;

    /// ChangeResourceRecordSets with one UPSERT per record, in one change batch.
    async fn upsert_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error>;

    /// ChangeResourceRecordSets with one DELETE per record, in one change batch. Route 53
    /// deletes a record only when every value matches (type, alias target and zone), so a
    /// record changed since it was read is refused, never deleted.
    async fn delete_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error>;
}
