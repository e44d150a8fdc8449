//! The real [`super::Distributions`], [`super::Certificates`] and [`super::DnsRecords`]:
//! aws-sdk-cloudfront, aws-sdk-acm (in us-east-1) and aws-sdk-route53, built from the shared
//! `SdkConfig` (`crate::aws::{cloudfront_client, acm_client, route53_client}`).
//!
//! What it owns: turning the SDK's shapes into `model::cloudfront`'s and back, retrying what is
//! retryable, and naming every other failure by its meaning (`crate::aws::classify`, the one
//! classifier). What it must not do: decide anything. It never checks a dry run (a dry run is a
//! plan that is printed) and never picks a distribution; callers do.
//!
//! `update` reads the current full configuration (GetDistributionConfig) and changes only the
//! fields [`DistributionConfig`] models, so logging, a WAF, price class, other origins and
//! other cache behaviours someone set by hand survive. The `IfMatch` is the caller's ETag (from
//! its own `get`), not the one read here: a change made since the caller looked is refused
//! (`PreconditionFailed` → [`Error::Changed`]) instead of silently overwritten.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::config::http::HttpResponse;
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudfront::types as cf;

use super::{Certificates, Distributions, DnsRecords, Error};
use crate::aws::Kind;
use crate::model::cloudfront::{
    AliasRecord, Certificate, Distribution, DistributionConfig, DistributionSummary, HostedZone,
    Invalidation, Origin, OriginAccessControl, OriginAccessControlConfig, RecordType,
    ViewerCertificate,
};

/// Attempts per call for retryable failures (each attempt includes the SDK's own retries).
const ATTEMPTS: u32 = 4;

/// The methods the documents need: STS and browsers only ever GET (and HEAD).
const METHODS: [cf::Method; 2] = [cf::Method::Get, cf::Method::Head];

/// Maps an SDK error to its meaning. `action` is the IAM action, `resource` what it was on.
fn classify<E>(action: &'static str, resource: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let resource = resource.to_owned();
    // CloudFront's stale ETag; the classifier has no kind for it because only CloudFront (and
    // S3's conditional writes, which the store handles itself) answer it.
    if crate::aws::is_code(err, &["PreconditionFailed", "InvalidIfMatchVersion"]) {
        return Error::Changed { action, resource };
    }
    // What a delete is refused for while something still needs the resource: an enabled (or
    // not yet deployed) distribution, an origin access control an origin still uses.
    if crate::aws::is_code(
        err,
        &["DistributionNotDisabled", "OriginAccessControlInUse"],
    ) {
        return Error::Conflict {
            action,
            resource,
            detail: crate::aws::failure(err).detail,
        };
    }
    let failure = crate::aws::failure(err);
    match failure.kind {
        Kind::NoCredentials | Kind::BadCredentials => Error::Credentials {
            detail: failure.detail,
        },
        Kind::Denied => Error::AccessDenied { action, resource },
        Kind::AlreadyExists => Error::Conflict {
            action,
            resource,
            detail: failure.detail,
        },
        Kind::Invalid | Kind::LimitExceeded => Error::Invalid {
            action,
            detail: failure.message,
        },
        // NotFound reaches here only from a call where "not there" is not an answer (the
        // getters turn it into `None` first, see `found`).
        Kind::NotFound | Kind::Throttled | Kind::Transient | Kind::Other => Error::Service {
            action,
            detail: failure.detail,
        },
    }
}

/// Runs `call` until it succeeds, fails for good, or retryable failures exhaust [`ATTEMPTS`].
/// `Ok(None)` when the service said "not there" (for the getters).
async fn found<T, E, F, Fut>(
    action: &'static str,
    resource: &str,
    call: F,
) -> Result<Option<T>, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    match attempts(call).await {
        Ok(value) => Ok(Some(value)),
        Err(err) if crate::aws::classify(&err) == Kind::NotFound => Ok(None),
        Err(err) => Err(classify(action, resource, &err)),
    }
}

/// [`found`] for calls where "not there" is a failure like any other.
async fn call<T, E, F, Fut>(action: &'static str, resource: &str, call: F) -> Result<T, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    attempts(call)
        .await
        .map_err(|err| classify(action, resource, &err))
}

async fn attempts<T, E, F, Fut>(mut call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if crate::aws::classify(&err).retryable() && attempt < ATTEMPTS => {
                // 200 ms, 400 ms, 800 ms: the SDK has retried already; these outlast a burst.
                tracing::debug!(attempt, code = ?err.code(), "retrying");
                tokio::time::sleep(Duration::from_millis(200 << (attempt - 1))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// CloudFront through aws-sdk-cloudfront.
pub struct AwsDistributions {
    client: aws_sdk_cloudfront::Client,
}

impl AwsDistributions {
    pub fn new(client: aws_sdk_cloudfront::Client) -> AwsDistributions {
        AwsDistributions { client }
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, Error> {
        let output = call("cloudfront:ListTagsForResource", arn, || {
            self.client.list_tags_for_resource().resource(arn).send()
        })
        .await?;
        Ok(output
            .tags()
            .map(|t| t.items())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect())
    }

    /// GetDistributionConfig, `edit` on the whole configuration as read (what our model does
    /// not know goes back unchanged), then UpdateDistribution with `IfMatch: etag`.
    async fn update_config(
        &self,
        id: &str,
        etag: &str,
        edit: impl FnOnce(&mut cf::DistributionConfig) -> Result<(), Error>,
    ) -> Result<Distribution, Error> {
        let action = "cloudfront:UpdateDistribution";
        let current = call("cloudfront:GetDistributionConfig", id, || {
            self.client.get_distribution_config().id(id).send()
        })
        .await?;
        let mut full = current
            .distribution_config()
            .cloned()
            .ok_or_else(|| Error::Service {
                action: "cloudfront:GetDistributionConfig",
                detail: format!("the answer for {id} has no configuration"),
            })?;
        edit(&mut full)?;
        let output = call(action, id, || {
            self.client
                .update_distribution()
                .id(id)
                .if_match(etag)
                .distribution_config(full.clone())
                .send()
        })
        .await?;
        let d = output.distribution().ok_or_else(|| Error::Service {
            action,
            detail: format!("the answer for {id} names no distribution"),
        })?;
        let tags = self.tags(d.arn()).await?;
        Ok(distribution(d, output.e_tag(), tags))
    }
}

/// Our model of a distribution the SDK returned.
fn distribution(
    d: &cf::Distribution,
    etag: Option<&str>,
    tags: BTreeMap<String, String>,
) -> Distribution {
    Distribution {
        id: d.id().to_owned(),
        arn: d.arn().to_owned(),
        domain_name: d.domain_name().to_owned(),
        status: d.status().to_owned(),
        etag: etag.unwrap_or_default().to_owned(),
        config: d
            .distribution_config()
            .map(config_of)
            .unwrap_or_else(|| config_of(&empty_config())),
        tags,
    }
}

fn empty_config() -> cf::DistributionConfig {
    cf::DistributionConfig::builder()
        .caller_reference("")
        .comment("")
        .enabled(false)
        .build()
        .expect("the three required fields are set")
}

fn origin_of(o: &cf::Origin) -> Origin {
    Origin {
        id: o.id().to_owned(),
        domain_name: o.domain_name().to_owned(),
        origin_path: o.origin_path().unwrap_or_default().to_owned(),
        origin_access_control_id: o
            .origin_access_control_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        s3_origin: o.s3_origin_config().is_some(),
    }
}

fn config_of(c: &cf::DistributionConfig) -> DistributionConfig {
    let behaviour = c.default_cache_behavior();
    DistributionConfig {
        caller_reference: c.caller_reference().to_owned(),
        comment: c.comment().to_owned(),
        enabled: c.enabled(),
        aliases: c.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
        origins: c
            .origins()
            .map(|o| o.items().iter().map(origin_of).collect())
            .unwrap_or_default(),
        target_origin_id: behaviour
            .map(|b| b.target_origin_id().to_owned())
            .unwrap_or_default(),
        viewer_protocol_policy: behaviour
            .map(|b| b.viewer_protocol_policy().as_str().to_owned())
            .unwrap_or_default(),
        allowed_methods: behaviour
            .and_then(|b| b.allowed_methods())
            .map(|m| m.items().iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
        cache_policy_id: behaviour
            .and_then(|b| b.cache_policy_id())
            .map(str::to_owned),
        viewer_certificate: match c.viewer_certificate() {
            Some(v) if v.acm_certificate_arn().is_some() => ViewerCertificate::Acm {
                arn: v.acm_certificate_arn().unwrap_or_default().to_owned(),
                ssl_support_method: v
                    .ssl_support_method()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default(),
                minimum_protocol_version: v
                    .minimum_protocol_version()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default(),
            },
            _ => ViewerCertificate::CloudFrontDefault,
        },
    }
}

fn invalid(action: &'static str, err: impl std::fmt::Display) -> Error {
    Error::Invalid {
        action,
        detail: err.to_string(),
    }
}

/// An SDK origin from ours, keeping what we do not model from `current` (timeouts, custom
/// headers, origin shield).
fn sdk_origin(
    action: &'static str,
    ours: &Origin,
    current: Option<&cf::Origin>,
) -> Result<cf::Origin, Error> {
    let mut origin = match current {
        Some(current) => current.clone(),
        None => cf::Origin::builder()
            .id(&ours.id)
            .domain_name(&ours.domain_name)
            .build()
            .map_err(|e| invalid(action, e))?,
    };
    origin.domain_name = ours.domain_name.clone();
    origin.origin_path = Some(ours.origin_path.clone());
    origin.origin_access_control_id =
        Some(ours.origin_access_control_id.clone().unwrap_or_default());
    if ours.s3_origin {
        // OAC needs an S3 origin whose legacy OAI is present and empty (PROTOCOL.md §8).
        let mut s3 = origin
            .s3_origin_config
            .take()
            .unwrap_or_else(|| cf::S3OriginConfig::builder().build());
        s3.origin_access_identity = String::new();
        origin.s3_origin_config = Some(s3);
        origin.custom_origin_config = None;
    }
    Ok(origin)
}

fn methods(items: &[String]) -> Vec<cf::Method> {
    items.iter().map(|m| cf::Method::from(m.as_str())).collect()
}

/// The default cache behaviour from ours, keeping what we do not model from `current`
/// (function associations, response headers policy, ...).
#[allow(deprecated)]
fn sdk_behaviour(
    action: &'static str,
    ours: &DistributionConfig,
    current: Option<&cf::DefaultCacheBehavior>,
) -> Result<cf::DefaultCacheBehavior, Error> {
    let policy = cf::ViewerProtocolPolicy::from(ours.viewer_protocol_policy.as_str());
    let mut behaviour = match current {
        Some(current) => current.clone(),
        None => cf::DefaultCacheBehavior::builder()
            .target_origin_id(&ours.target_origin_id)
            .viewer_protocol_policy(policy.clone())
            // The documents are small JSON: compressed at the edge for whoever asks for it.
            .compress(true)
            .build()
            .map_err(|e| invalid(action, e))?,
    };
    behaviour.target_origin_id = ours.target_origin_id.clone();
    behaviour.viewer_protocol_policy = policy;
    let allowed = if ours.allowed_methods.is_empty() {
        METHODS.to_vec()
    } else {
        methods(&ours.allowed_methods)
    };
    // Cache exactly what is allowed when that is GET/HEAD (CloudFront caches at most
    // GET/HEAD/OPTIONS, and requires the cached set to be a subset of the allowed one).
    let cached: Vec<cf::Method> = allowed
        .iter()
        .filter(|m| matches!(m, cf::Method::Get | cf::Method::Head))
        .cloned()
        .collect();
    behaviour.allowed_methods = Some(
        cf::AllowedMethods::builder()
            .quantity(allowed.len() as i32)
            .set_items(Some(allowed))
            .cached_methods(
                cf::CachedMethods::builder()
                    .quantity(cached.len() as i32)
                    .set_items(Some(cached))
                    .build()
                    .map_err(|e| invalid(action, e))?,
            )
            .build()
            .map_err(|e| invalid(action, e))?,
    );
    if let Some(policy) = &ours.cache_policy_id {
        // A cache policy excludes the legacy TTL and forwarding settings (deprecated in the SDK
        // for that reason: clearing them is the point).
        behaviour.cache_policy_id = Some(policy.clone());
        behaviour.forwarded_values = None;
        behaviour.min_ttl = None;
        behaviour.default_ttl = None;
        behaviour.max_ttl = None;
    }
    Ok(behaviour)
}

fn sdk_viewer_certificate(ours: &ViewerCertificate) -> cf::ViewerCertificate {
    match ours {
        ViewerCertificate::CloudFrontDefault => cf::ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
        ViewerCertificate::Acm {
            arn,
            ssl_support_method,
            minimum_protocol_version,
        } => cf::ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(cf::SslSupportMethod::from(ssl_support_method.as_str()))
            .minimum_protocol_version(cf::MinimumProtocolVersion::from(
                minimum_protocol_version.as_str(),
            ))
            .build(),
    }
}

/// Writes our fields onto `full` (a configuration read from CloudFront, or a fresh one for a
/// create), keeping everything else.
fn apply(
    action: &'static str,
    ours: &DistributionConfig,
    full: &mut cf::DistributionConfig,
) -> Result<(), Error> {
    full.comment = ours.comment.clone();
    full.enabled = ours.enabled;
    full.aliases = Some(
        cf::Aliases::builder()
            .quantity(ours.aliases.len() as i32)
            .set_items(Some(ours.aliases.clone()))
            .build()
            .map_err(|e| invalid(action, e))?,
    );
    // Our origins replace those of the same id; origins we do not model (other cache
    // behaviours may target them) stay as they are.
    let current: Vec<cf::Origin> = full
        .origins
        .as_ref()
        .map(|o| o.items().to_vec())
        .unwrap_or_default();
    let mut origins = Vec::new();
    for o in &current {
        match ours.origins.iter().find(|ours| ours.id == o.id()) {
            Some(ours) => origins.push(sdk_origin(action, ours, Some(o))?),
            None => origins.push(o.clone()),
        }
    }
    for ours in &ours.origins {
        if !current.iter().any(|o| o.id() == ours.id) {
            origins.push(sdk_origin(action, ours, None)?);
        }
    }
    full.origins = Some(
        cf::Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build()
            .map_err(|e| invalid(action, e))?,
    );
    full.default_cache_behavior = Some(sdk_behaviour(
        action,
        ours,
        full.default_cache_behavior.as_ref(),
    )?);
    full.viewer_certificate = Some(sdk_viewer_certificate(&ours.viewer_certificate));
    Ok(())
}

/// A new distribution's full configuration: ours, plus the defaults this tool chooses.
fn new_config(ours: &DistributionConfig) -> Result<cf::DistributionConfig, Error> {
    let action = "cloudfront:CreateDistributionWithTags";
    let mut full = empty_config();
    full.caller_reference = ours.caller_reference.clone();
    // PriceClass_100 (North America and Europe edges): two small documents fetched by STS, which
    // caches them, do not need every edge; the cheapest class is enough wherever STS runs.
    full.price_class = Some(cf::PriceClass::PriceClass100);
    full.http_version = Some(cf::HttpVersion::Http2and3);
    // IPv6 on, so an AAAA alias to the distribution answers.
    full.is_ipv6_enabled = Some(true);
    apply(action, ours, &mut full)?;
    Ok(full)
}

fn sdk_tags(action: &'static str, tags: &BTreeMap<String, String>) -> Result<cf::Tags, Error> {
    let items = tags
        .iter()
        .map(|(k, v)| {
            cf::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| invalid(action, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(cf::Tags::builder().set_items(Some(items)).build())
}

fn invalidation_of(i: &cf::Invalidation) -> Invalidation {
    let batch = i.invalidation_batch();
    Invalidation {
        id: i.id().to_owned(),
        status: i.status().to_owned(),
        caller_reference: batch
            .map(|b| b.caller_reference().to_owned())
            .unwrap_or_default(),
        paths: batch
            .and_then(|b| b.paths())
            .map(|p| p.items().to_vec())
            .unwrap_or_default(),
    }
}

fn oac_config_of(c: &cf::OriginAccessControlConfig) -> OriginAccessControlConfig {
    OriginAccessControlConfig {
        name: c.name().to_owned(),
        description: c.description().unwrap_or_default().to_owned(),
        origin_type: c.origin_access_control_origin_type().as_str().to_owned(),
        signing_behavior: c.signing_behavior().as_str().to_owned(),
        signing_protocol: c.signing_protocol().as_str().to_owned(),
    }
}

#[async_trait]
impl Distributions for AwsDistributions {
    async fn list(&self) -> Result<Vec<DistributionSummary>, Error> {
        let mut summaries = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = call("cloudfront:ListDistributions", "the account", || {
                self.client
                    .list_distributions()
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
            let Some(list) = output.distribution_list() else {
                break;
            };
            summaries.extend(list.items().iter().map(|d| {
                DistributionSummary {
                    id: d.id().to_owned(),
                    arn: d.arn().to_owned(),
                    domain_name: d.domain_name().to_owned(),
                    status: d.status().to_owned(),
                    aliases: d.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
                    origin_domains: d
                        .origins()
                        .map(|o| {
                            o.items()
                                .iter()
                                .map(|o| o.domain_name().to_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            }));
            match list.next_marker() {
                Some(next) if list.is_truncated() && !next.is_empty() => {
                    marker = Some(next.to_owned())
                }
                _ => break,
            }
        }
        Ok(summaries)
    }

    async fn get(&self, id: &str) -> Result<Option<Distribution>, Error> {
        let Some(output) = found("cloudfront:GetDistribution", id, || {
            self.client.get_distribution().id(id).send()
        })
        .await?
        else {
            return Ok(None);
        };
        let Some(d) = output.distribution() else {
            return Ok(None);
        };
        let tags = self.tags(d.arn()).await?;
        Ok(Some(distribution(d, output.e_tag(), tags)))
    }

    async fn create(
        &self,
        config: &DistributionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<Distribution, Error> {
        let full = new_config(config)?;
        let with_tags = cf::DistributionConfigWithTags::builder()
            .distribution_config(full)
            .tags(sdk_tags("cloudfront:CreateDistributionWithTags", tags)?)
            .build();
        let output = call(
            "cloudfront:CreateDistributionWithTags",
            &config.comment,
            || {
                self.client
                    .create_distribution_with_tags()
                    .distribution_config_with_tags(with_tags.clone())
                    .send()
            },
        )
        .await?;
        let d = output.distribution().ok_or_else(|| Error::Service {
            action: "cloudfront:CreateDistributionWithTags",
            detail: "the answer names no distribution".to_owned(),
        })?;
        Ok(distribution(d, output.e_tag(), tags.clone()))
    }

    async fn update(
        &self,
        id: &str,
        config: &DistributionConfig,
        etag: &str,
    ) -> Result<Distribution, Error> {
        self.update_config(id, etag, |full| {
            apply("cloudfront:UpdateDistribution", config, full)
        })
        .await
    }

    async fn origin_access_controls(&self) -> Result<Vec<OriginAccessControl>, Error> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = call("cloudfront:ListOriginAccessControls", "the account", || {
                self.client
                    .list_origin_access_controls()
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
            let Some(list) = output.origin_access_control_list() else {
                break;
            };
            all.extend(list.items().iter().map(|o| OriginAccessControl {
                id: o.id().to_owned(),
                config: OriginAccessControlConfig {
                    name: o.name().to_owned(),
                    description: o.description().to_owned(),
                    origin_type: o.origin_access_control_origin_type().as_str().to_owned(),
                    signing_behavior: o.signing_behavior().as_str().to_owned(),
                    signing_protocol: o.signing_protocol().as_str().to_owned(),
                },
            }));
            match list.next_marker() {
                Some(next) if list.is_truncated() && !next.is_empty() => {
                    marker = Some(next.to_owned())
                }
                _ => break,
            }
        }
        Ok(all)
    }

    async fn create_origin_access_control(
        &self,
        config: &OriginAccessControlConfig,
    ) -> Result<OriginAccessControl, Error> {
        let action = "cloudfront:CreateOriginAccessControl";
        let sdk = cf::OriginAccessControlConfig::builder()
            .name(&config.name)
            .description(&config.description)
            .origin_access_control_origin_type(cf::OriginAccessControlOriginTypes::from(
                config.origin_type.as_str(),
            ))
            .signing_behavior(cf::OriginAccessControlSigningBehaviors::from(
                config.signing_behavior.as_str(),
            ))
            .signing_protocol(cf::OriginAccessControlSigningProtocols::from(
                config.signing_protocol.as_str(),
            ))
            .build()
            .map_err(|e| invalid(action, e))?;
        let output = call(action, &config.name, || {
            self.client
                .create_origin_access_control()
                .origin_access_control_config(sdk.clone())
                .send()
        })
        .await?;
        let oac = output
            .origin_access_control()
            .ok_or_else(|| Error::Service {
                action,
                detail: format!(
                    "the answer for {} names no origin access control",
                    config.name
                ),
            })?;
        Ok(OriginAccessControl {
            id: oac.id().to_owned(),
            config: oac
                .origin_access_control_config()
                .map(oac_config_of)
                .unwrap_or_else(|| config.clone()),
        })
    }

    async fn create_invalidation(
        &self,
        distribution_id: &str,
        caller_reference: &str,
        paths: &[String],
    ) -> Result<Invalidation, Error> {
        let action = "cloudfront:CreateInvalidation";
        let batch = cf::InvalidationBatch::builder()
            .caller_reference(caller_reference)
            .paths(
                cf::Paths::builder()
                    .quantity(paths.len() as i32)
                    .set_items(Some(paths.to_vec()))
                    .build()
                    .map_err(|e| invalid(action, e))?,
            )
            .build()
            .map_err(|e| invalid(action, e))?;
        let output = call(action, distribution_id, || {
            self.client
                .create_invalidation()
                .distribution_id(distribution_id)
                .invalidation_batch(batch.clone())
                .send()
        })
        .await?;
        let i = output.invalidation().ok_or_else(|| Error::Service {
            action,
            detail: format!("the answer for {distribution_id} names no invalidation"),
        })?;
        Ok(invalidation_of(i))
    }

    async fn invalidation(
        &self,
        distribution_id: &str,
        invalidation_id: &str,
    ) -> Result<Option<Invalidation>, Error> {
        let resource = format!("invalidation {invalidation_id} of {distribution_id}");
        let output = found("cloudfront:GetInvalidation", &resource, || {
            self.client
                .get_invalidation()
                .distribution_id(distribution_id)
                .id(invalidation_id)
                .send()
        })
        .await?;
        Ok(output.and_then(|o| o.invalidation().map(invalidation_of)))
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Error> {
        let action = "cloudfront:TagResource";
        let sdk = sdk_tags(action, tags)?;
        call(action, arn, || {
            self.client
                .tag_resource()
                .resource(arn)
                .tags(sdk.clone())
                .send()
        })
        .await?;
        Ok(())
    }

    async fn disable(&self, id: &str, etag: &str) -> Result<Distribution, Error> {
        // Only Enabled changes; everything else goes back exactly as read.
        self.update_config(id, etag, |full| {
            full.enabled = false;
            Ok(())
        })
        .await
    }

    async fn delete(&self, id: &str, etag: &str) -> Result<(), Error> {
        found("cloudfront:DeleteDistribution", id, || {
            self.client
                .delete_distribution()
                .id(id)
                .if_match(etag)
                .send()
        })
        .await?;
        Ok(())
    }

    async fn delete_origin_access_control(&self, id: &str) -> Result<(), Error> {
        let resource = format!("origin access control {id}");
        let Some(current) = found("cloudfront:GetOriginAccessControl", &resource, || {
            self.client.get_origin_access_control().id(id).send()
        })
        .await?
        else {
            return Ok(());
        };
        let etag = current.e_tag().unwrap_or_default().to_owned();
        found("cloudfront:DeleteOriginAccessControl", &resource, || {
            self.client
                .delete_origin_access_control()
                .id(id)
                .if_match(&etag)
                .send()
        })
        .await?;
        Ok(())
    }
}

/// ACM through aws-sdk-acm; the client must be `crate::aws::acm_client`'s (us-east-1).
pub struct AwsCertificates {
    client: aws_sdk_acm::Client,
}

impl AwsCertificates {
    pub fn new(client: aws_sdk_acm::Client) -> AwsCertificates {
        AwsCertificates { client }
    }
}

#[async_trait]
impl Certificates for AwsCertificates {
    async fn get(&self, arn: &str) -> Result<Option<Certificate>, Error> {
        let output = found("acm:DescribeCertificate", arn, || {
            self.client
                .describe_certificate()
                .certificate_arn(arn)
                .send()
        })
        .await?;
        Ok(output.and_then(|o| {
            o.certificate().map(|c| Certificate {
                arn: c.certificate_arn().unwrap_or(arn).to_owned(),
                status: c
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                domain_name: c.domain_name().unwrap_or_default().to_owned(),
                subject_alternative_names: c.subject_alternative_names().to_vec(),
            })
        }))
    }
}

/// Route 53 through aws-sdk-route53.
pub struct AwsDnsRecords {
    client: aws_sdk_route53::Client,
}

impl AwsDnsRecords {
    pub fn new(client: aws_sdk_route53::Client) -> AwsDnsRecords {
        AwsDnsRecords { client }
    }
}

/// A DNS name as Route 53 writes it (absolute, trailing dot) and as we keep it (without).
fn relative(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[async_trait]
impl DnsRecords for AwsDnsRecords {
    async fn zone(&self, zone_id: &str) -> Result<Option<HostedZone>, Error> {
        let output = found("route53:GetHostedZone", zone_id, || {
            self.client.get_hosted_zone().id(zone_id).send()
        })
        .await?;
        Ok(output.and_then(|o| {
            o.hosted_zone().map(|z| HostedZone {
                id: z.id().trim_start_matches("/hostedzone/").to_owned(),
                name: relative(z.name()),
                private: z.config().is_some_and(|c| c.private_zone()),
            })
        }))
    }

    async fn aliases(&self, zone_id: &str, name: &str) -> Result<Vec<AliasRecord>, Error> {
        use aws_sdk_route53::types::RrType;
        let wanted = relative(name);
        // Records are listed in name order from `name`: the first page holds all of its types.
        let output = call("route53:ListResourceRecordSets", zone_id, || {
            self.client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .start_record_name(&wanted)
                .send()
        })
        .await?;
        Ok(output
            .resource_record_sets()
            .iter()
            .filter(|r| relative(r.name()) == wanted)
            .filter_map(|r| {
                let record_type = match r.r#type() {
                    RrType::A => RecordType::A,
                    RrType::Aaaa => RecordType::AAAA,
                    _ => return None,
                };
                let alias = r.alias_target()?;
                Some(AliasRecord {
                    name: wanted.clone(),
                    record_type,
                    target: relative(alias.dns_name()),
                    target_zone: alias.hosted_zone_id().to_owned(),
                })
            })
            .collect())
    }

    async fn upsert_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error> {
        self.change_aliases(
            zone_id,
            records,
            aws_sdk_route53::types::ChangeAction::Upsert,
            "kube-oidc-publisher: the issuer's alias to its CloudFront distribution",
        )
        .await
    }

    async fn delete_aliases(&self, zone_id: &str, records: &[AliasRecord]) -> Result<(), Error> {
        self.change_aliases(
            zone_id,
            records,
            aws_sdk_route53::types::ChangeAction::Delete,
            "kube-oidc-publisher: bootstrap --delete removes the issuer's alias with its distribution",
        )
        .await
    }
}

impl AwsDnsRecords {
    /// One ChangeResourceRecordSets batch with `change` for each alias record (as bootstrap
    /// writes them: no health evaluation, which a DELETE must name as it was set).
    async fn change_aliases(
        &self,
        zone_id: &str,
        records: &[AliasRecord],
        change: aws_sdk_route53::types::ChangeAction,
        comment: &str,
    ) -> Result<(), Error> {
        use aws_sdk_route53::types::{AliasTarget, Change, ChangeBatch, ResourceRecordSet, RrType};
        let action = "route53:ChangeResourceRecordSets";
        let changes = records
            .iter()
            .map(|r| {
                let target = AliasTarget::builder()
                    .hosted_zone_id(&r.target_zone)
                    .dns_name(&r.target)
                    .evaluate_target_health(false)
                    .build()
                    .map_err(|e| invalid(action, e))?;
                let set = ResourceRecordSet::builder()
                    .name(&r.name)
                    .r#type(match r.record_type {
                        RecordType::A => RrType::A,
                        RecordType::AAAA => RrType::Aaaa,
                    })
                    .alias_target(target)
                    .build()
                    .map_err(|e| invalid(action, e))?;
                Change::builder()
                    .action(change.clone())
                    .resource_record_set(set)
                    .build()
                    .map_err(|e| invalid(action, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let batch = ChangeBatch::builder()
            .comment(comment)
            .set_changes(Some(changes))
            .build()
            .map_err(|e| invalid(action, e))?;
        call(action, zone_id, || {
            self.client
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch.clone())
                .send()
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> DistributionConfig {
        DistributionConfig {
            caller_reference: "ref".into(),
            comment: "kube-oidc-publisher: acme-oidc".into(),
            enabled: true,
            aliases: vec!["oidc.acme.com".into()],
            origins: vec![Origin {
                id: "s3".into(),
                domain_name: "acme-oidc.s3.eu-west-1.amazonaws.com".into(),
                origin_path: String::new(),
                origin_access_control_id: Some("E1OAC".into()),
                s3_origin: true,
            }],
            target_origin_id: "s3".into(),
            viewer_protocol_policy: "https-only".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cache_policy_id: Some(crate::model::cloudfront::CACHING_OPTIMIZED.into()),
            viewer_certificate: ViewerCertificate::CloudFrontDefault,
        }
    }

    #[test]
    fn a_new_distribution_has_the_shape_oac_needs_and_reads_back_as_ours() {
        let full = new_config(&ours()).unwrap();
        let origin = &full.origins.as_ref().unwrap().items()[0];
        assert_eq!(
            origin
                .s3_origin_config()
                .map(|s| s.origin_access_identity()),
            Some("")
        );
        assert_eq!(origin.origin_access_control_id(), Some("E1OAC"));
        let b = full.default_cache_behavior.as_ref().unwrap();
        assert_eq!(b.compress(), Some(true));
        assert_eq!(
            b.allowed_methods()
                .unwrap()
                .cached_methods()
                .unwrap()
                .items(),
            &[cf::Method::Get, cf::Method::Head]
        );
        assert_eq!(full.is_ipv6_enabled, Some(true));
        assert_eq!(full.http_version, Some(cf::HttpVersion::Http2and3));
        assert_eq!(config_of(&full), ours());
    }

    #[test]
    fn an_update_keeps_what_we_do_not_model() {
        let mut full = new_config(&ours()).unwrap();
        full.web_acl_id = Some("arn:aws:wafv2:waf".into());
        full.price_class = Some(cf::PriceClass::PriceClassAll);
        let other = cf::Origin::builder()
            .id("other")
            .domain_name("example.com")
            .build()
            .unwrap();
        let mut origins = full.origins.clone().unwrap();
        origins.items.push(other);
        origins.quantity = 2;
        full.origins = Some(origins);
        let mut changed = ours();
        changed.aliases = vec![];
        changed.origins[0].origin_access_control_id = Some("E2OAC".into());
        apply("test", &changed, &mut full).unwrap();
        assert_eq!(full.web_acl_id.as_deref(), Some("arn:aws:wafv2:waf"));
        assert_eq!(full.price_class, Some(cf::PriceClass::PriceClassAll));
        let items = full.origins.as_ref().unwrap().items();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].origin_access_control_id(), Some("E2OAC"));
        assert_eq!(items[1].id(), "other");
        assert_eq!(full.aliases.as_ref().unwrap().quantity(), 0);
    }
}
