//! CloudFront in front of a private bucket (PROTOCOL.md §8), as plain data: a distribution and
//! its origin access control as CloudFront reports them, an ACM certificate, a Route 53 alias.
//! Read by `hosting`'s effect traits, planned by `bootstrap` (`--hosting cloudfront`), checked by
//! `sync --cloudfront-distribution` and `doctor`. Nothing here does I/O or reads the clock.

use std::collections::BTreeMap;

use serde::Serialize;

/// CloudFront's managed cache policy CachingOptimized: it honours the origin's
/// `Cache-Control: max-age` (min 1 s, default 1 day, max 1 year), so the edge keeps the
/// documents exactly as long as the bucket's copy says.
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// The Route 53 hosted zone of every CloudFront distribution's domain (alias targets).
pub const CLOUDFRONT_HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// The region ACM certificates for CloudFront live in.
pub const CERTIFICATE_REGION: &str = "us-east-1";

/// A distribution's deployment status: `InProgress` after every change, `Deployed` once every
/// edge location has it.
pub const DEPLOYED: &str = "Deployed";

/// `BUCKET.s3.REGION.<partition DNS suffix>`: the bucket's regional REST endpoint, the only
/// origin that works for OAC. The global endpoint, or another region's, makes S3 answer 307 or
/// `PermanentRedirect`, which CloudFront caches and STS does not follow (PROTOCOL.md §8).
pub fn regional_origin(bucket: &str, region: &str) -> String {
    format!("{bucket}.s3.{region}.{}", super::issuer::dns_suffix(region))
}

/// One origin of a distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub id: String,
    /// For a bucket: `BUCKET.s3.REGION.amazonaws.com` (regional REST endpoint).
    pub domain_name: String,
    /// Prepended to the viewer's path ("" or "/path").
    pub origin_path: String,
    /// `None` (or empty from the API): no OAC, CloudFront reaches the bucket anonymously.
    pub origin_access_control_id: Option<String>,
    /// Whether the origin is configured as an S3 origin (`S3OriginConfig` present), as OAC needs.
    pub s3_origin: bool,
}

/// The viewer certificate: CloudFront's own `*.cloudfront.net`, or an ACM certificate for the
/// aliases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ViewerCertificate {
    CloudFrontDefault,
    Acm {
        arn: String,
        /// `sni-only` (a dedicated IP is `vip`, at a monthly cost).
        ssl_support_method: String,
        /// For example `TLSv1.2_2021`.
        minimum_protocol_version: String,
    },
}

/// The part of a distribution's configuration this tool sets and checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionConfig {
    /// Unique per creation request (CloudFront refuses a second create with the same one).
    pub caller_reference: String,
    pub comment: String,
    pub enabled: bool,
    /// Alternate domain names (CNAMEs), e.g. `oidc.acme.com`.
    pub aliases: Vec<String>,
    pub origins: Vec<Origin>,
    /// The default cache behaviour's target origin id.
    pub target_origin_id: String,
    /// `https-only` for the documents: STS fetches over HTTPS only.
    pub viewer_protocol_policy: String,
    /// The default cache behaviour's allowed methods (`GET`, `HEAD`).
    pub allowed_methods: Vec<String>,
    /// The default cache behaviour's cache policy id ([`CACHING_OPTIMIZED`]).
    pub cache_policy_id: Option<String>,
    pub viewer_certificate: ViewerCertificate,
}

/// A distribution as CloudFront reports it (GetDistribution, with its tags).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub id: String,
    /// `arn:aws:cloudfront::ACCOUNT:distribution/ID` (the bucket policy's `AWS:SourceArn`).
    pub arn: String,
    /// `dXXXXXXXXXXXXX.cloudfront.net`.
    pub domain_name: String,
    /// `InProgress` or [`DEPLOYED`].
    pub status: String,
    /// The version an update must name (`IfMatch`).
    pub etag: String,
    pub config: DistributionConfig,
    pub tags: BTreeMap<String, String>,
}

impl Distribution {
    pub fn is_deployed(&self) -> bool {
        self.status == DEPLOYED
    }

    /// Whether `host` is served by this distribution: its own domain or one of its aliases
    /// (DNS names compare case-insensitively).
    pub fn serves_host(&self, host: &str) -> bool {
        self.domain_name.eq_ignore_ascii_case(host)
            || self
                .config
                .aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(host))
    }
}

/// What ListDistributions says of one distribution: enough to find ours again (by origin) before
/// reading its tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionSummary {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: String,
    pub aliases: Vec<String>,
    /// The origins' domain names.
    pub origin_domains: Vec<String>,
}

/// The settings of an origin access control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginAccessControlConfig {
    /// At most 64 characters, unique in the account.
    pub name: String,
    pub description: String,
    /// `s3`.
    pub origin_type: String,
    /// `always`.
    pub signing_behavior: String,
    /// `sigv4`.
    pub signing_protocol: String,
}

/// An origin access control as CloudFront reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginAccessControl {
    pub id: String,
    pub config: OriginAccessControlConfig,
}

/// One invalidation of a distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invalidation {
    pub id: String,
    /// `InProgress` or `Completed`.
    pub status: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
}

impl Invalidation {
    pub fn is_completed(&self) -> bool {
        self.status == "Completed"
    }
}

/// An ACM certificate as DescribeCertificate reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub arn: String,
    /// `ISSUED`, `PENDING_VALIDATION`, `EXPIRED`, ...
    pub status: String,
    pub domain_name: String,
    /// Includes the domain name itself, as ACM lists it.
    pub subject_alternative_names: Vec<String>,
}

/// The record type of a Route 53 alias: one for IPv4, one for IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum RecordType {
    A,
    #[allow(clippy::upper_case_acronyms)]
    AAAA,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::AAAA => "AAAA",
        }
    }
}

/// A Route 53 alias record: `name` (no trailing dot) → `target` in `target_zone`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AliasRecord {
    pub name: String,
    pub record_type: RecordType,
    /// The target's DNS name, without the trailing dot Route 53 adds.
    pub target: String,
    /// [`CLOUDFRONT_HOSTED_ZONE_ID`] for a distribution.
    pub target_zone: String,
}

/// A Route 53 hosted zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostedZone {
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
    pub private: bool,
}
