//! `bootstrap --hosting cloudfront`, the pure part: what the CloudFront side should look like
//! ([`DesiredCloudFront`]), what is there ([`ObservedCloudFront`]), and the plans that compare
//! them. Two phases, because the distribution's domain and ARN exist only once it does:
//!
//! 1. [`plan_distribution`]: the custom domain's certificate is checked first (a refusal means
//!    nothing was created), then one origin access control and one distribution per bucket,
//!    found again by our tag *and* the bucket's regional origin, never by guessing;
//! 2. [`plan_records`]: once the distribution's domain is known, the Route 53 alias records of
//!    the custom domain (or, without `--hosted-zone-id`, the record to create by hand).
//!
//! The bucket's side (all four Block Public Access flags on, our CloudFront statement) is
//! [`super::plan()`]'s, with [`super::Hosting::CloudFront`]. No I/O, no clock: a dry run plans
//! a distribution that does not exist yet with the placeholders [`NEW_DISTRIBUTION_DOMAIN`] and
//! [`NEW_ORIGIN_ACCESS_CONTROL`].

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, DistributionConfig, HostedZone, Origin,
    OriginAccessControl, OriginAccessControlConfig, RecordType, ViewerCertificate,
    CACHING_OPTIMIZED, CERTIFICATE_REGION, CLOUDFRONT_HOSTED_ZONE_ID,
};
use crate::plan::{MANAGED_BY_TAG, MANAGED_BY_VALUE};

mod error;

pub use error::CloudFrontError;

/// Tag naming the bucket a distribution serves (beside [`MANAGED_BY_TAG`]).
pub const BUCKET_TAG: &str = "kube-oidc-publisher/bucket";

/// The domain a dry run prints for a distribution it would create.
pub const NEW_DISTRIBUTION_DOMAIN: &str = "<new distribution>.cloudfront.net";

/// The id a planned distribution names for an origin access control created in the same run;
/// [`super::cloudfront_apply`] puts the real id in before the call.
pub const NEW_ORIGIN_ACCESS_CONTROL: &str = "<new origin access control>";

/// The viewer TLS policy for a custom domain: TLS 1.2 or later, SNI only (no dedicated IPs).
pub const MINIMUM_PROTOCOL_VERSION: &str = "TLSv1.2_2021";
pub const SSL_SUPPORT_METHOD: &str = "sni-only";

/// `--domain`, `--certificate-arn` and `--hosted-zone-id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomDomain {
    /// Lower case, no trailing dot.
    pub name: String,
    pub certificate_arn: String,
    pub hosted_zone_id: Option<String>,
}

/// What the CloudFront side should look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCloudFront {
    pub bucket: String,
    pub region: String,
    pub domain: Option<CustomDomain>,
    /// Use a distribution for the bucket that is not tagged as ours (`--adopt`).
    pub adopt: bool,
}

impl DesiredCloudFront {
    /// `BUCKET.s3.REGION.amazonaws.com` (by partition): the bucket's regional REST endpoint.
    /// The global endpoint, or another region's, makes S3 answer 307 or `PermanentRedirect`,
    /// which CloudFront caches and STS does not follow.
    pub fn origin_domain(&self) -> String {
        crate::model::cloudfront::regional_origin(&self.bucket, &self.region)
    }

    /// The origin access control's name: `kube-oidc-publisher-BUCKET`, or, when that exceeds
    /// CloudFront's 64 characters, `kop-` + the bucket's first 51 characters + `-` + 8 hex
    /// digits of the bucket name's SHA-256 (unique per bucket, stable across runs).
    pub fn oac_name(&self) -> String {
        let long = format!("kube-oidc-publisher-{}", self.bucket);
        if long.len() <= 64 {
            return long;
        }
        let digest = Sha256::digest(self.bucket.as_bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let head: String = self.bucket.chars().take(51).collect();
        format!("kop-{head}-{hash}")
    }

    /// Unique per bucket and stable: a create retried after a lost answer gets the same
    /// distribution back instead of a second one.
    pub fn caller_reference(&self) -> String {
        format!("kube-oidc-publisher/{}/{}", self.region, self.bucket)
    }

    pub fn comment(&self) -> String {
        format!(
            "kube-oidc-publisher: OIDC discovery documents of bucket {}",
            self.bucket
        )
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (BUCKET_TAG.to_owned(), self.bucket.clone()),
        ])
    }

    fn origin_id(&self) -> String {
        format!("s3-{}", self.bucket)
    }

    fn oac_config(&self) -> OriginAccessControlConfig {
        OriginAccessControlConfig {
            name: self.oac_name(),
            description: format!(
                "kube-oidc-publisher: CloudFront reads bucket {} signed (SigV4)",
                self.bucket
            ),
            origin_type: "s3".to_owned(),
            signing_behavior: "always".to_owned(),
            signing_protocol: "sigv4".to_owned(),
        }
    }

    /// The configuration of a new distribution, with origin access control `oac_id`.
    pub fn new_distribution_config(&self, oac_id: &str) -> DistributionConfig {
        let origin = Origin {
            id: self.origin_id(),
            domain_name: self.origin_domain(),
            origin_path: String::new(),
            origin_access_control_id: Some(oac_id.to_owned()),
            s3_origin: true,
        };
        let base = DistributionConfig {
            caller_reference: self.caller_reference(),
            comment: self.comment(),
            enabled: true,
            aliases: vec![],
            origins: vec![origin],
            target_origin_id: self.origin_id(),
            viewer_protocol_policy: String::new(),
            allowed_methods: vec![],
            cache_policy_id: None,
            viewer_certificate: ViewerCertificate::CloudFrontDefault,
        };
        self.settle(base, oac_id)
    }

    /// `current` with every setting this tool owns made right: the bucket's origin signed by
    /// `oac_id` and the default behaviour's target, HTTPS only, GET/HEAD, CachingOptimized,
    /// enabled, and the custom domain as an alias with its certificate. Everything else
    /// (other origins, other aliases, the comment of an adopted distribution) is kept.
    fn settle(&self, mut config: DistributionConfig, oac_id: &str) -> DistributionConfig {
        let origin_domain = self.origin_domain();
        let origin_id = match config
            .origins
            .iter_mut()
            .find(|o| o.domain_name.eq_ignore_ascii_case(&origin_domain))
        {
            Some(origin) => {
                origin.origin_access_control_id = Some(oac_id.to_owned());
                origin.s3_origin = true;
                origin.id.clone()
            }
            None => {
                config.origins.push(Origin {
                    id: self.origin_id(),
                    domain_name: origin_domain,
                    origin_path: String::new(),
                    origin_access_control_id: Some(oac_id.to_owned()),
                    s3_origin: true,
                });
                self.origin_id()
            }
        };
        config.target_origin_id = origin_id;
        config.enabled = true;
        config.viewer_protocol_policy = "https-only".to_owned();
        config.allowed_methods = vec!["GET".to_owned(), "HEAD".to_owned()];
        config.cache_policy_id = Some(CACHING_OPTIMIZED.to_owned());
        if let Some(domain) = &self.domain {
            if !config
                .aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&domain.name))
            {
                config.aliases.push(domain.name.clone());
            }
            config.viewer_certificate = ViewerCertificate::Acm {
                arn: domain.certificate_arn.clone(),
                ssl_support_method: SSL_SUPPORT_METHOD.to_owned(),
                minimum_protocol_version: MINIMUM_PROTOCOL_VERSION.to_owned(),
            };
        }
        config
    }
}

/// What is there on the CloudFront side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCloudFront {
    /// Every distribution with an origin on the bucket's regional endpoint, with its tags.
    pub distributions: Vec<Distribution>,
    /// Every origin access control of the account.
    pub origin_access_controls: Vec<OriginAccessControl>,
    /// The certificate `--certificate-arn` names; `None`: none, or not found in us-east-1.
    pub certificate: Option<Certificate>,
}

/// The distribution bootstrap works with, as far as it is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionRef {
    /// `None` until created.
    pub id: Option<String>,
    pub arn: Option<String>,
    pub domain_name: String,
    /// `Deployed`, `InProgress`; `None` until created.
    pub status: Option<String>,
}

impl DistributionRef {
    pub fn of(distribution: &Distribution) -> DistributionRef {
        DistributionRef {
            id: Some(distribution.id.clone()),
            arn: Some(distribution.arn.clone()),
            domain_name: distribution.domain_name.clone(),
            status: Some(distribution.status.clone()),
        }
    }
}

/// One CloudFront or Route 53 call bootstrap makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CloudFrontChange {
    CreateOriginAccessControl {
        config: OriginAccessControlConfig,
    },
    CreateDistribution {
        /// Its origin names [`NEW_ORIGIN_ACCESS_CONTROL`] when the OAC is created in the same run.
        config: DistributionConfig,
        tags: BTreeMap<String, String>,
    },
    UpdateDistribution {
        id: String,
        etag: String,
        config: DistributionConfig,
        /// What differs, for the plan's line.
        why: Vec<String>,
    },
    /// Our tags on a distribution that lacks them: one adopted with `--adopt`, so that later
    /// runs find it by tag without `--adopt`.
    TagDistribution {
        id: String,
        arn: String,
        /// Only the tags missing or with another value.
        tags: BTreeMap<String, String>,
    },
    UpsertAliasRecords {
        zone_id: String,
        records: Vec<AliasRecord>,
    },
}

impl CloudFrontChange {
    /// The IAM action of the call.
    pub fn action(&self) -> &'static str {
        match self {
            CloudFrontChange::CreateOriginAccessControl { .. } => {
                "cloudfront:CreateOriginAccessControl"
            }
            CloudFrontChange::CreateDistribution { .. } => "cloudfront:CreateDistribution",
            CloudFrontChange::UpdateDistribution { .. } => "cloudfront:UpdateDistribution",
            CloudFrontChange::TagDistribution { .. } => "cloudfront:TagResource",
            CloudFrontChange::UpsertAliasRecords { .. } => "route53:ChangeResourceRecordSets",
        }
    }

    /// One line for humans: the call, its target, and why.
    pub fn describe(&self) -> String {
        let what = match self {
            CloudFrontChange::CreateOriginAccessControl { config } => format!(
                "{} (origin type {}, signing {} {}: CloudFront signs every request to the bucket)",
                config.name, config.origin_type, config.signing_behavior, config.signing_protocol
            ),
            CloudFrontChange::CreateDistribution { config, .. } => format!(
                "origin {} (signed with {}), HTTPS only, GET/HEAD, cache policy CachingOptimized{}; tagged {MANAGED_BY_TAG}",
                config
                    .origins
                    .first()
                    .map_or("", |o| o.domain_name.as_str()),
                config
                    .origins
                    .first()
                    .and_then(|o| o.origin_access_control_id.as_deref())
                    .unwrap_or("no OAC"),
                aliases_text(config)
            ),
            CloudFrontChange::UpdateDistribution { id, why, .. } => {
                format!("{id}: {}", why.join(", "))
            }
            CloudFrontChange::TagDistribution { id, tags, .. } => format!(
                "{id}: tags {} (adopted: later runs find it by tag, without --adopt)",
                tags.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CloudFrontChange::UpsertAliasRecords { zone_id, records } => format!(
                "zone {zone_id}: UPSERT {} alias {} -> {} (zone {CLOUDFRONT_HOSTED_ZONE_ID})",
                records
                    .iter()
                    .map(|r| r.record_type.as_str())
                    .collect::<Vec<_>>()
                    .join(" and "),
                records.first().map_or("", |r| r.name.as_str()),
                records.first().map_or("", |r| r.target.as_str()),
            ),
        };
        format!("{} {what}", self.action())
    }
}

fn aliases_text(config: &DistributionConfig) -> String {
    match &config.viewer_certificate {
        ViewerCertificate::Acm {
            arn,
            ssl_support_method,
            minimum_protocol_version,
        } => format!(
            ", alias {} with certificate {arn} ({ssl_support_method}, {minimum_protocol_version})",
            config.aliases.join(", ")
        ),
        ViewerCertificate::CloudFrontDefault => String::new(),
    }
}

/// Phase 1: the certificate check, the origin access control and the distribution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DistributionPlan {
    pub changes: Vec<CloudFrontChange>,
    /// The distribution found, or the placeholder of the one [`Self::changes`] create.
    pub distribution: DistributionRef,
}

/// Decides the OAC and the distribution. Refuses before anything is created when the custom
/// domain's certificate cannot serve it, when a distribution with the bucket's origin is not
/// ours (unless adopting), and when more than one of ours serves the bucket.
pub fn plan_distribution(
    desired: &DesiredCloudFront,
    observed: &ObservedCloudFront,
) -> Result<DistributionPlan, CloudFrontError> {
    if let Some(domain) = &desired.domain {
        check_certificate(domain, observed.certificate.as_ref())?;
    }
    let origin_domain = desired.origin_domain();
    let ours: Vec<&Distribution> = observed
        .distributions
        .iter()
        .filter(|d| d.tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY_VALUE))
        .collect();
    let distribution = match (ours.as_slice(), observed.distributions.as_slice()) {
        ([one], _) => Some(*one),
        ([], []) => None,
        ([], [other]) if desired.adopt => Some(other),
        ([], others) => {
            return Err(CloudFrontError::UnmanagedDistribution {
                bucket: desired.bucket.clone(),
                origin: origin_domain,
                ids: others.iter().map(|d| d.id.clone()).collect(),
                adoptable: others.len() == 1,
            })
        }
        (many, _) => {
            return Err(CloudFrontError::SeveralDistributions {
                bucket: desired.bucket.clone(),
                ids: many.iter().map(|d| d.id.clone()).collect(),
            })
        }
    };
    let mut changes = Vec::new();
    // The OAC: the one the distribution's origin already uses (if it signs as we need), else
    // ours by name, else a new one.
    let usable = |oac: &&OriginAccessControl| {
        oac.config.origin_type == "s3"
            && oac.config.signing_behavior == "always"
            && oac.config.signing_protocol == "sigv4"
    };
    let attached = distribution.and_then(|d| {
        d.config
            .origins
            .iter()
            .find(|o| o.domain_name.eq_ignore_ascii_case(&origin_domain))
            .and_then(|o| o.origin_access_control_id.as_deref())
            .and_then(|id| {
                observed
                    .origin_access_controls
                    .iter()
                    .find(|oac| oac.id == id)
            })
            .filter(usable)
    });
    let name = desired.oac_name();
    let by_name = observed
        .origin_access_controls
        .iter()
        .find(|oac| oac.config.name == name);
    let oac_id = match (attached, by_name) {
        (Some(oac), _) => oac.id.clone(),
        (None, Some(oac)) if usable(&oac) => oac.id.clone(),
        (None, Some(oac)) => {
            return Err(CloudFrontError::OriginAccessControlNotUsable {
                id: oac.id.clone(),
                name,
                config: format!(
                    "origin type {}, signing {} {}",
                    oac.config.origin_type,
                    oac.config.signing_behavior,
                    oac.config.signing_protocol
                ),
            })
        }
        (None, None) => {
            changes.push(CloudFrontChange::CreateOriginAccessControl {
                config: desired.oac_config(),
            });
            NEW_ORIGIN_ACCESS_CONTROL.to_owned()
        }
    };
    let Some(existing) = distribution else {
        changes.push(CloudFrontChange::CreateDistribution {
            config: desired.new_distribution_config(&oac_id),
            tags: desired.tags(),
        });
        return Ok(DistributionPlan {
            changes,
            distribution: DistributionRef {
                id: None,
                arn: None,
                domain_name: NEW_DISTRIBUTION_DOMAIN.to_owned(),
                status: None,
            },
        });
    };
    // Ours from now on: the tags that find it again (the adopted distribution has none).
    let missing_tags: BTreeMap<String, String> = desired
        .tags()
        .into_iter()
        .filter(|(k, v)| existing.tags.get(k) != Some(v))
        .collect();
    if !missing_tags.is_empty() {
        changes.push(CloudFrontChange::TagDistribution {
            id: existing.id.clone(),
            arn: existing.arn.clone(),
            tags: missing_tags,
        });
    }
    let settled = desired.settle(existing.config.clone(), &oac_id);
    let why = differences(&existing.config, &settled);
    if !why.is_empty() {
        changes.push(CloudFrontChange::UpdateDistribution {
            id: existing.id.clone(),
            etag: existing.etag.clone(),
            config: settled,
            why,
        });
    }
    Ok(DistributionPlan {
        changes,
        distribution: DistributionRef::of(existing),
    })
}

/// What `to` changes of `from`, named.
fn differences(from: &DistributionConfig, to: &DistributionConfig) -> Vec<String> {
    let mut why = Vec::new();
    if from.origins != to.origins {
        why.push("the bucket's origin signed with the origin access control".to_owned());
    }
    if from.target_origin_id != to.target_origin_id {
        why.push(format!(
            "default behaviour to origin {}",
            to.target_origin_id
        ));
    }
    if from.enabled != to.enabled {
        why.push("enabled".to_owned());
    }
    if from.viewer_protocol_policy != to.viewer_protocol_policy {
        why.push(format!(
            "viewer protocol {} (was {})",
            to.viewer_protocol_policy, from.viewer_protocol_policy
        ));
    }
    if from.allowed_methods != to.allowed_methods {
        why.push("GET/HEAD only".to_owned());
    }
    if from.cache_policy_id != to.cache_policy_id {
        why.push("cache policy CachingOptimized".to_owned());
    }
    if from.aliases != to.aliases {
        why.push(format!("aliases {}", to.aliases.join(", ")));
    }
    if from.viewer_certificate != to.viewer_certificate {
        why.push(aliases_text(to).trim_start_matches(", ").to_owned());
    }
    why
}

/// Whether `pattern` (a certificate name, maybe `*.acme.com`) covers `name`: equal, or a
/// wildcard standing for exactly one label (`*.acme.com` covers `oidc.acme.com`, not
/// `acme.com` and not `a.oidc.acme.com`). DNS names compare case-insensitively.
pub fn covers(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == name,
    }
}

/// The certificate can serve `domain` on CloudFront: in us-east-1, found, `ISSUED`, and one of
/// its names covers the domain.
fn check_certificate(
    domain: &CustomDomain,
    certificate: Option<&Certificate>,
) -> Result<(), CloudFrontError> {
    let arn = &domain.certificate_arn;
    let region = arn.split(':').nth(3).unwrap_or_default();
    if region != CERTIFICATE_REGION {
        return Err(CloudFrontError::CertificateRegion {
            arn: arn.clone(),
            region: region.to_owned(),
        });
    }
    let Some(certificate) = certificate else {
        return Err(CloudFrontError::CertificateNotFound { arn: arn.clone() });
    };
    if certificate.status != "ISSUED" {
        return Err(CloudFrontError::CertificateNotIssued {
            arn: arn.clone(),
            status: certificate.status.clone(),
        });
    }
    let mut names = vec![certificate.domain_name.clone()];
    for san in &certificate.subject_alternative_names {
        if !names.contains(san) {
            names.push(san.clone());
        }
    }
    if !names.iter().any(|n| covers(n, &domain.name)) {
        return Err(CloudFrontError::CertificateDoesNotCover {
            arn: arn.clone(),
            name: domain.name.clone(),
            names,
        });
    }
    Ok(())
}

/// Phase 2, the custom domain's DNS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RecordsPlan {
    /// No custom domain.
    None,
    /// `--hosted-zone-id`: the alias records to UPSERT (none when they point there already).
    Zone(Vec<CloudFrontChange>),
    /// No hosted zone given: the records the user creates, as text.
    Manual(Vec<String>),
}

/// The alias records the custom domain needs, to `distribution_domain`. `zone` and `existing`
/// are what Route 53 said of `--hosted-zone-id` and of the name's alias records in it.
pub fn plan_records(
    desired: &DesiredCloudFront,
    distribution_domain: &str,
    zone: Option<&HostedZone>,
    existing: &[AliasRecord],
) -> Result<RecordsPlan, CloudFrontError> {
    let Some(domain) = &desired.domain else {
        return Ok(RecordsPlan::None);
    };
    let wanted: Vec<AliasRecord> = [RecordType::A, RecordType::AAAA]
        .into_iter()
        .map(|record_type| AliasRecord {
            name: domain.name.clone(),
            record_type,
            target: distribution_domain.to_owned(),
            target_zone: CLOUDFRONT_HOSTED_ZONE_ID.to_owned(),
        })
        .collect();
    let Some(zone_id) = &domain.hosted_zone_id else {
        return Ok(RecordsPlan::Manual(
            wanted
                .iter()
                .map(|r| {
                    format!(
                        "{}. {} ALIAS {}. (hosted zone {CLOUDFRONT_HOSTED_ZONE_ID})",
                        r.name,
                        r.record_type.as_str(),
                        r.target
                    )
                })
                .chain(std::iter::once(format!(
                    "(outside Route 53: {}. CNAME {}.)",
                    domain.name, distribution_domain
                )))
                .collect(),
        ));
    };
    let Some(zone) = zone else {
        return Err(CloudFrontError::ZoneNotFound {
            zone_id: zone_id.clone(),
            name: domain.name.clone(),
        });
    };
    let zone_name = zone.name.trim_end_matches('.').to_ascii_lowercase();
    let name = domain.name.to_ascii_lowercase();
    if zone.private || !(name == zone_name || name.ends_with(&format!(".{zone_name}"))) {
        return Err(CloudFrontError::ZoneNotParent {
            zone_id: zone_id.clone(),
            zone_name,
            name: domain.name.clone(),
            private: zone.private,
        });
    }
    let same = |a: &AliasRecord, b: &AliasRecord| {
        a.record_type == b.record_type
            && a.name.trim_end_matches('.').eq_ignore_ascii_case(&b.name)
            && a.target
                .trim_end_matches('.')
                .eq_ignore_ascii_case(b.target.trim_end_matches('.'))
            && a.target_zone == b.target_zone
    };
    let missing: Vec<AliasRecord> = wanted
        .into_iter()
        .filter(|w| !existing.iter().any(|e| same(e, w)))
        .collect();
    Ok(RecordsPlan::Zone(if missing.is_empty() {
        vec![]
    } else {
        vec![CloudFrontChange::UpsertAliasRecords {
            zone_id: zone_id.clone(),
            records: missing,
        }]
    }))
}

#[cfg(test)]
mod tests;
