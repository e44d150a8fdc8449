//! In-memory [`super::Distributions`], [`super::Certificates`] and [`super::DnsRecords`] for
//! unit tests, with CloudFront's semantics where callers rely on them: the ETag is checked and
//! changes on every update; a distribution reads `InProgress` for a configurable number of
//! `get` calls after a change, then `Deployed`; an invalidation reads `InProgress` for as many
//! `invalidation` calls, then `Completed`; a reused invalidation caller reference returns the
//! invalidation made then (and is refused with other paths). Every call is counted by name
//! (`crate::calls`) and a chosen call can be made to fail. Integration tests use moto.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{Certificates, Distributions, DnsRecords, Error};
use crate::calls::Calls;
use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, DistributionConfig, DistributionSummary, HostedZone,
    Invalidation, OriginAccessControl, OriginAccessControlConfig, DEPLOYED,
};

/// A call name and the error every call of it fails with.
pub type Failure = (&'static str, fn() -> Error);

const IN_PROGRESS: &str = "InProgress";
const COMPLETED: &str = "Completed";

/// Calls of [`MemoryDistributions`] that read.
pub const DISTRIBUTION_READS: [&str; 4] = ["list", "get", "origin_access_controls", "invalidation"];

#[derive(Default)]
struct DistributionState {
    distributions: BTreeMap<String, Distribution>,
    /// `get` calls left before a distribution reads `Deployed`.
    deploying: BTreeMap<String, usize>,
    oacs: Vec<OriginAccessControl>,
    /// Per distribution, in creation order.
    invalidations: BTreeMap<String, Vec<Invalidation>>,
    /// `invalidation` calls left before an invalidation reads `Completed`, by its id.
    completing: BTreeMap<String, usize>,
    /// Polls a change stays in progress for.
    polls: usize,
    next: u64,
    calls: Calls<Error>,
}

impl DistributionState {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:013}", self.next)
    }
}

/// CloudFront in memory, account 123456789012.
#[derive(Default)]
pub struct MemoryDistributions {
    state: Mutex<DistributionState>,
}

impl MemoryDistributions {
    pub fn new() -> MemoryDistributions {
        MemoryDistributions::default()
    }

    fn state(&self) -> MutexGuard<'_, DistributionState> {
        self.state.lock().unwrap()
    }

    /// UpdateDistribution as CloudFront answers it: `IfMatch` checked, a new ETag, and the
    /// distribution `InProgress` for the configured polls; `edit` changes the configuration.
    fn update_with(
        &self,
        call: &'static str,
        id: &str,
        etag: &str,
        edit: impl FnOnce(&mut DistributionConfig),
    ) -> Result<Distribution, Error> {
        let mut state = self.state();
        state.calls.record(call)?;
        let new_etag = state.id("ETAG");
        let polls = state.polls;
        let Some(d) = state.distributions.get_mut(id) else {
            return Err(Error::Service {
                action: "cloudfront:UpdateDistribution",
                detail: format!("NoSuchDistribution: {id}"),
            });
        };
        if d.etag != etag {
            return Err(Error::Changed {
                action: "cloudfront:UpdateDistribution",
                resource: id.to_owned(),
            });
        }
        edit(&mut d.config);
        d.etag = new_etag;
        d.status = IN_PROGRESS.into();
        let d = d.clone();
        state.deploying.insert(id.to_owned(), polls);
        Ok(d)
    }

    /// Changes (create, update, invalidation) read as in progress for `polls` reads.
    pub fn set_polls(&self, polls: usize) {
        self.state().polls = polls;
    }

    /// A deployed distribution with `config`, not counted as a call; returns it.
    pub fn insert(&self, config: DistributionConfig) -> Distribution {
        let mut state = self.state();
        let id = state.id("E");
        let etag = state.id("ETAG");
        let distribution = Distribution {
            arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
            domain_name: format!("d{}.cloudfront.net", id.to_ascii_lowercase()),
            status: DEPLOYED.into(),
            etag,
            config,
            tags: BTreeMap::new(),
            id: id.clone(),
        };
        state.distributions.insert(id, distribution.clone());
        distribution
    }

    /// An origin access control with `config`, not counted as a call; returns it.
    pub fn insert_origin_access_control(
        &self,
        config: OriginAccessControlConfig,
    ) -> OriginAccessControl {
        let mut state = self.state();
        let oac = OriginAccessControl {
            id: state.id("O"),
            config,
        };
        state.oacs.push(oac.clone());
        oac
    }

    /// The distribution as stored, not counted as a call (`None`: none, or deleted).
    pub fn distribution(&self, id: &str) -> Option<Distribution> {
        self.state().distributions.get(id).cloned()
    }

    /// Every origin access control, not counted as a call.
    pub fn origin_access_control_ids(&self) -> Vec<String> {
        self.state().oacs.iter().map(|o| o.id.clone()).collect()
    }

    /// Every invalidation of `distribution_id`, oldest first.
    pub fn invalidations(&self, distribution_id: &str) -> Vec<Invalidation> {
        self.state()
            .invalidations
            .get(distribution_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Calls of `name` so far (the trait's method names).
    pub fn count(&self, name: &str) -> usize {
        self.state().calls.count(name)
    }

    /// Calls so far that write.
    pub fn writes(&self) -> usize {
        self.state().calls.writes(&DISTRIBUTION_READS)
    }

    /// Makes every call of `name` fail with `error()`; `None` makes none fail.
    pub fn fail(&self, failure: Option<Failure>) {
        self.state().calls.fail(failure);
    }
}

#[async_trait]
impl Distributions for MemoryDistributions {
    async fn list(&self) -> Result<Vec<DistributionSummary>, Error> {
        let mut state = self.state();
        state.calls.record("list")?;
        Ok(state
            .distributions
            .values()
            .map(|d| DistributionSummary {
                id: d.id.clone(),
                arn: d.arn.clone(),
                domain_name: d.domain_name.clone(),
                status: d.status.clone(),
                aliases: d.config.aliases.clone(),
                origin_domains: d
                    .config
                    .origins
                    .iter()
                    .map(|o| o.domain_name.clone())
                    .collect(),
            })
            .collect())
    }

    async fn get(&self, id: &str) -> Result<Option<Distribution>, Error> {
        let mut state = self.state();
        state.calls.record("get")?;
        let left = state.deploying.get(id).copied().unwrap_or(0);
        if left > 0 {
            state.deploying.insert(id.to_owned(), left - 1);
        }
        let Some(d) = state.distributions.get_mut(id) else {
            return Ok(None);
        };
        d.status = if left > 0 { IN_PROGRESS } else { DEPLOYED }.into();
        Ok(Some(d.clone()))
    }

    async fn create(
        &self,
        config: &DistributionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<Distribution, Error> {
        let mut state = self.state();
        state.calls.record("create")?;
        if let Some(other) = state
            .distributions
            .values()
            .find(|d| d.config.aliases.iter().any(|a| config.aliases.contains(a)))
        {
            return Err(Error::Conflict {
                action: "cloudfront:CreateDistributionWithTags",
                resource: config.comment.clone(),
                detail: format!("CNAMEAlreadyExists: {} has one of the aliases", other.id),
            });
        }
        let id = state.id("E");
        let etag = state.id("ETAG");
        let distribution = Distribution {
            arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
            domain_name: format!("d{}.cloudfront.net", id.to_ascii_lowercase()),
            status: IN_PROGRESS.into(),
            etag,
            config: config.clone(),
            tags: tags.clone(),
            id: id.clone(),
        };
        let polls = state.polls;
        state.deploying.insert(id.clone(), polls);
        state.distributions.insert(id, distribution.clone());
        Ok(distribution)
    }

    async fn update(
        &self,
        id: &str,
        config: &DistributionConfig,
        etag: &str,
    ) -> Result<Distribution, Error> {
        self.update_with("update", id, etag, |current| {
            *current = DistributionConfig {
                // The caller reference is fixed at creation.
                caller_reference: current.caller_reference.clone(),
                ..config.clone()
            };
        })
    }

    async fn origin_access_controls(&self) -> Result<Vec<OriginAccessControl>, Error> {
        let mut state = self.state();
        state.calls.record("origin_access_controls")?;
        Ok(state.oacs.clone())
    }

    async fn create_origin_access_control(
        &self,
        config: &OriginAccessControlConfig,
    ) -> Result<OriginAccessControl, Error> {
        let mut state = self.state();
        state.calls.record("create_origin_access_control")?;
        if state.oacs.iter().any(|o| o.config.name == config.name) {
            return Err(Error::Conflict {
                action: "cloudfront:CreateOriginAccessControl",
                resource: config.name.clone(),
                detail: "OriginAccessControlAlreadyExists".into(),
            });
        }
        let oac = OriginAccessControl {
            id: state.id("O"),
            config: config.clone(),
        };
        state.oacs.push(oac.clone());
        Ok(oac)
    }

    async fn create_invalidation(
        &self,
        distribution_id: &str,
        caller_reference: &str,
        paths: &[String],
    ) -> Result<Invalidation, Error> {
        let mut state = self.state();
        state.calls.record("create_invalidation")?;
        if !state.distributions.contains_key(distribution_id) {
            return Err(Error::Service {
                action: "cloudfront:CreateInvalidation",
                detail: format!("NoSuchDistribution: {distribution_id}"),
            });
        }
        let existing = state
            .invalidations
            .get(distribution_id)
            .and_then(|all| all.iter().find(|i| i.caller_reference == caller_reference))
            .cloned();
        if let Some(existing) = existing {
            if existing.paths != paths {
                return Err(Error::Conflict {
                    action: "cloudfront:CreateInvalidation",
                    resource: distribution_id.to_owned(),
                    detail: "InvalidationBatchAlreadyExists".into(),
                });
            }
            return Ok(existing);
        }
        let id = state.id("I");
        let polls = state.polls;
        let invalidation = Invalidation {
            id: id.clone(),
            status: if polls > 0 { IN_PROGRESS } else { COMPLETED }.into(),
            caller_reference: caller_reference.to_owned(),
            paths: paths.to_vec(),
        };
        state.completing.insert(id, polls);
        state
            .invalidations
            .entry(distribution_id.to_owned())
            .or_default()
            .push(invalidation.clone());
        Ok(invalidation)
    }

    async fn invalidation(
        &self,
        distribution_id: &str,
        invalidation_id: &str,
    ) -> Result<Option<Invalidation>, Error> {
        let mut state = self.state();
        state.calls.record("invalidation")?;
        let left = state.completing.get(invalidation_id).copied().unwrap_or(0);
        let left = left.saturating_sub(1);
        state.completing.insert(invalidation_id.to_owned(), left);
        let Some(i) = state
            .invalidations
            .get_mut(distribution_id)
            .and_then(|all| all.iter_mut().find(|i| i.id == invalidation_id))
        else {
            return Ok(None);
        };
        if left == 0 {
            i.status = COMPLETED.into();
        }
        Ok(Some(i.clone()))
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        let mut state = self.state();
        state.calls.record("tag")?;
        let Some(d) = state.distributions.values_mut().find(|d| d.arn == arn) else {
            return Err(Error::Service {
                action: "cloudfront:TagResource",
                detail: format!("NoSuchResource: {arn}"),
            });
        };
        d.tags
            .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    async fn disable(&self, id: &str, etag: &str) -> Result<Distribution, Error> {
        self.update_with("disable", id, etag, |config| config.enabled = false)
    }

    async fn delete(&self, id: &str, etag: &str) -> Result<(), Error> {
        let mut state = self.state();
        state.calls.record("delete")?;
        let deploying = state.deploying.get(id).copied().unwrap_or(0) > 0;
        let Some(d) = state.distributions.get(id) else {
            return Ok(());
        };
        if d.etag != etag {
            return Err(Error::Changed {
                action: "cloudfront:DeleteDistribution",
                resource: id.to_owned(),
            });
        }
        if d.config.enabled || deploying {
            return Err(Error::Conflict {
                action: "cloudfront:DeleteDistribution",
                resource: id.to_owned(),
                detail: "DistributionNotDisabled".into(),
            });
        }
        state.distributions.remove(id);
        state.invalidations.remove(id);
        Ok(())
    }

    async fn delete_origin_access_control(&self, id: &str) -> Result<(), Error> {
        let mut state = self.state();
        state.calls.record("delete_origin_access_control")?;
        let in_use = state.distributions.values().any(|d| {
            d.config
                .origins
                .iter()
                .any(|o| o.origin_access_control_id.as_deref() == Some(id))
        });
        if in_use {
            return Err(Error::Conflict {
                action: "cloudfront:DeleteOriginAccessControl",
                resource: id.to_owned(),
                detail: "OriginAccessControlInUse".into(),
            });
        }
        state.oacs.retain(|o| o.id != id);
        Ok(())
    }
}

/// ACM in memory: certificates by ARN.
#[derive(Default)]
pub struct MemoryCertificates {
    state: Mutex<(BTreeMap<String, Certificate>, Calls<Error>)>,
}

impl MemoryCertificates {
    pub fn new() -> MemoryCertificates {
        MemoryCertificates::default()
    }

    pub fn insert(&self, certificate: Certificate) {
        self.state
            .lock()
            .unwrap()
            .0
            .insert(certificate.arn.clone(), certificate);
    }

    pub fn count(&self, name: &str) -> usize {
        self.state.lock().unwrap().1.count(name)
    }

    pub fn fail(&self, failure: Option<Failure>) {
        self.state.lock().unwrap().1.fail(failure);
    }
}

#[async_trait]
impl Certificates for MemoryCertificates {
    async fn get(&self, arn: &str) -> Result<Option<Certificate>, Error> {
        let mut state = self.state.lock().unwrap();
        state.1.record("get")?;
        Ok(state.0.get(arn).cloned())
    }
}

#[derive(Default)]
struct DnsState {
    zones: BTreeMap<String, HostedZone>,
    /// (zone id, name, type) → record.
    records: BTreeMap<(String, String, &'static str), AliasRecord>,
    calls: Calls<Error>,
}

/// Route 53 in memory: zones and their alias records.
#[derive(Default)]
pub struct MemoryDnsRecords {
    state: Mutex<DnsState>,
}

impl MemoryDnsRecords {
    pub fn new() -> MemoryDnsRecords {
        MemoryDnsRecords::default()
    }

    pub fn insert_zone(&self, zone: HostedZone) {
        self.state
            .lock()
            .unwrap()
            .zones
            .insert(zone.id.clone(), zone);
    }

    pub fn count(&self, name: &str) -> usize {
        self.state.lock().unwrap().calls.count(name)
    }

    /// Calls so far that write (every call but `zone` and `aliases`).
    pub fn writes(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .writes(&["zone", "aliases"])
    }

    pub fn fail(&self, failure: Option<Failure>) {
        self.state.lock().unwrap().calls.fail(failure);
    }
}

#[async_trait]
impl DnsRecords for MemoryDnsRecords {
    async fn zone(&self, zone_id: &str) -> Result<Option<HostedZone>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("zone")?;
        Ok(state.zones.get(zone_id).cloned())
    }

    async fn aliases(&self, zone_id: &str, name: &str) -> Result<Vec<AliasRecord>, Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("aliases")?;
        Ok(state
            .records
            .iter()
            .filter(|((zone, n, _), _)| zone == zone_id && n.eq_ignore_ascii_case(name))
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn upsert_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("upsert_aliases")?;
        if !state.zones.contains_key(zone_id) {
            return Err(Error::Service {
                action: "route53:ChangeResourceRecordSets",
                detail: format!("NoSuchHostedZone: {zone_id}"),
            });
        }
        for r in records {
            state.records.insert(
                (
                    zone_id.to_owned(),
                    r.name.to_ascii_lowercase(),
                    r.record_type.as_str(),
                ),
                r.clone(),
            );
        }
        Ok(())
    }

    async fn delete_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap();
        state.calls.record("delete_aliases")?;
        // Route 53 applies a batch all or nothing, and deletes only an exact match.
        let key = |r: &AliasRecord| {
            (
                zone_id.to_owned(),
                r.name.to_ascii_lowercase(),
                r.record_type.as_str(),
            )
        };
        if let Some(missing) = records
            .iter()
            .find(|r| state.records.get(&key(r)) != Some(*r))
        {
            return Err(Error::Invalid {
                action: "route53:ChangeResourceRecordSets",
                detail: format!(
                    "InvalidChangeBatch: no {} record {} as given",
                    missing.record_type.as_str(),
                    missing.name
                ),
            });
        }
        for r in records {
            state.records.remove(&key(r));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cloudfront::{Origin, RecordType, ViewerCertificate};

    pub(crate) fn config() -> DistributionConfig {
        DistributionConfig {
            caller_reference: "ref".into(),
            comment: "kube-oidc-publisher: acme-oidc".into(),
            enabled: true,
            aliases: vec![],
            origins: vec![Origin {
                id: "s3".into(),
                domain_name: "acme-oidc.s3.eu-west-1.amazonaws.com".into(),
                origin_path: String::new(),
                origin_access_control_id: Some("O1".into()),
                s3_origin: true,
            }],
            target_origin_id: "s3".into(),
            viewer_protocol_policy: "https-only".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cache_policy_id: None,
            viewer_certificate: ViewerCertificate::CloudFrontDefault,
        }
    }

    #[tokio::test]
    async fn a_change_deploys_after_the_configured_polls_and_a_stale_etag_is_refused() {
        let cf = MemoryDistributions::new();
        cf.set_polls(2);
        let d = cf.create(&config(), &BTreeMap::new()).await.unwrap();
        assert_eq!(cf.get(&d.id).await.unwrap().unwrap().status, IN_PROGRESS);
        assert_eq!(cf.get(&d.id).await.unwrap().unwrap().status, IN_PROGRESS);
        let now = cf.get(&d.id).await.unwrap().unwrap();
        assert!(now.is_deployed());
        let mut changed = config();
        changed.enabled = false;
        let updated = cf.update(&d.id, &changed, &now.etag).await.unwrap();
        assert_ne!(updated.etag, now.etag);
        assert!(matches!(
            cf.update(&d.id, &changed, &now.etag).await,
            Err(Error::Changed { .. })
        ));
        assert_eq!(cf.count("update"), 2);
        assert_eq!(cf.get("E404").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_reused_caller_reference_returns_the_same_invalidation() {
        let cf = MemoryDistributions::new();
        cf.set_polls(1);
        let d = cf.insert(config());
        let paths = vec!["/c1/openid/v1/jwks".to_owned()];
        let first = cf.create_invalidation(&d.id, "r1", &paths).await.unwrap();
        let again = cf.create_invalidation(&d.id, "r1", &paths).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(cf.invalidations(&d.id).len(), 1);
        assert!(matches!(
            cf.create_invalidation(&d.id, "r1", &["/other".to_owned()])
                .await,
            Err(Error::Conflict { .. })
        ));
        assert!(!first.is_completed());
        let done = cf.invalidation(&d.id, &first.id).await.unwrap().unwrap();
        assert!(done.is_completed());
        assert_eq!(cf.writes(), 3);
    }

    #[tokio::test]
    async fn a_chosen_call_fails() {
        let cf = MemoryDistributions::new();
        let d = cf.insert(config());
        cf.fail(Some(("create_invalidation", || Error::AccessDenied {
            action: "cloudfront:CreateInvalidation",
            resource: "E".into(),
        })));
        assert!(matches!(
            cf.create_invalidation(&d.id, "r", &["/x".to_owned()]).await,
            Err(Error::AccessDenied { .. })
        ));
        assert!(cf.invalidations(&d.id).is_empty());
    }

    #[tokio::test]
    async fn certificates_and_aliases_round_trip() {
        let acm = MemoryCertificates::new();
        assert_eq!(acm.get("arn:none").await.unwrap(), None);
        let dns = MemoryDnsRecords::new();
        dns.insert_zone(HostedZone {
            id: "Z1".into(),
            name: "acme.com".into(),
            private: false,
        });
        let record = AliasRecord {
            name: "oidc.acme.com".into(),
            record_type: RecordType::AAAA,
            target: "d1.cloudfront.net".into(),
            target_zone: crate::model::cloudfront::CLOUDFRONT_HOSTED_ZONE_ID.into(),
        };
        dns.upsert_aliases("Z1", std::slice::from_ref(&record))
            .await
            .unwrap();
        dns.upsert_aliases("Z1", std::slice::from_ref(&record))
            .await
            .unwrap();
        assert_eq!(
            dns.aliases("Z1", "OIDC.acme.com").await.unwrap(),
            vec![record]
        );
        assert!(dns.upsert_aliases("Z9", &[]).await.is_err());
    }
}
