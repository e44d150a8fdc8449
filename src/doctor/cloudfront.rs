//! The effects behind the `cloudfront.*` checks, all read-only: find the distribution serving
//! the issuer (`--cloudfront-distribution`, the `*.cloudfront.net` domain, or an alias among
//! the account's distributions; not looked for at all for an S3 endpoint or an IP address,
//! which no distribution can serve), then read its origin access controls, the viewer certificate
//! (ACM, us-east-1), the origin bucket (its region, its policy, its copy of each document the
//! issuer URL served), the Route 53 zone of `--hosted-zone-id`, and what the resolver answers
//! for the issuer host and the distribution's domain. The resolver is an observation here so the
//! check stays pure; `--connect-to` stands in for DNS as it does for the GETs. Nothing decides
//! what is right, nothing is written, no credential is logged.

use std::net::IpAddr;
use std::time::Duration;

use aws_config::SdkConfig;

use super::checks::{object_key, OriginEndpoint};
use super::config::DoctorConfig;
use super::facts::{
    CloudFrontFacts, DnsFacts, Gathered, ObjectCopy, ObjectFacts, OriginBucket, PublicFacts,
    ZoneFacts,
};
use crate::aws::{is_code, Kind};
use crate::hosting::{self, Certificates, Distributions, DnsRecords};
use crate::model::cloudfront::{Distribution, ViewerCertificate, CERTIFICATE_REGION};
use crate::store::Location;
use crate::tls::ConnectTo;

/// The three services, behind their effect traits.
pub struct Hosting<'a> {
    pub distributions: &'a dyn Distributions,
    pub certificates: &'a dyn Certificates,
    pub dns: &'a dyn DnsRecords,
}

const PASS_AWS: &str = "configure AWS credentials allowed cloudfront:GetDistribution, cloudfront:ListDistributions, cloudfront:ListOriginAccessControls, acm:DescribeCertificate, s3:GetBucketPolicy, s3:GetObject";

fn gathered_error<T>(error: hosting::Error) -> Gathered<T> {
    match error {
        hosting::Error::Credentials { .. } => {
            Gathered::not_given("not checked: no AWS credentials", PASS_AWS)
        }
        other => Gathered::failed(other.to_string()),
    }
}

/// The distribution serving `issuer`, and everything the checks need about it; `None` when
/// the issuer is not served by CloudFront as far as doctor can tell.
pub async fn observe(
    config: &DoctorConfig,
    issuer: &str,
    public: &PublicFacts,
    hosting: &Hosting<'_>,
    sdk: &SdkConfig,
) -> Option<CloudFrontFacts> {
    let host = url::Url::parse(issuer)
        .ok()?
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let (found_by, distribution) = find(config, &host, hosting).await?;
    let store_bucket = match &config.store {
        Some(Location::S3 { bucket, .. }) => Some(bucket.clone()),
        _ => None,
    };
    let Gathered::Got(Some(d)) = &distribution else {
        return Some(CloudFrontFacts {
            found_by,
            origin_access_controls: unread(&distribution),
            certificate: unread(&distribution),
            bucket: unread(&distribution),
            dns: unread(&distribution),
            zone: unread(&distribution),
            distribution,
            store_bucket,
        });
    };
    let origin = super::checks::default_origin(d);
    let alias = !d.domain_name.eq_ignore_ascii_case(&host);
    let oacs = async {
        match origin.and_then(|o| o.origin_access_control_id.as_deref()) {
            Some(id) if !id.is_empty() => {
                match hosting.distributions.origin_access_controls().await {
                    Ok(list) => Gathered::Got(list),
                    Err(e) => gathered_error(e),
                }
            }
            _ => Gathered::Got(Vec::new()),
        }
    };
    let certificate = async {
        match &d.config.viewer_certificate {
            ViewerCertificate::Acm { arn, .. }
                if alias && arn.split(':').nth(3) == Some(CERTIFICATE_REGION) =>
            {
                match hosting.certificates.get(arn).await {
                    Ok(c) => Gathered::Got(c),
                    Err(e) => gathered_error(e),
                }
            }
            _ => Gathered::Got(None),
        }
    };
    let bucket = async {
        let endpoint = origin.map(|o| OriginEndpoint::parse(&o.domain_name));
        match endpoint.as_ref().and_then(OriginEndpoint::bucket) {
            Some(bucket) => {
                read_bucket(
                    config,
                    sdk,
                    bucket,
                    origin.map_or("", |o| o.origin_path.as_str()),
                    public,
                    &host,
                )
                .await
            }
            None => Gathered::not_given(
                "not checked: the origin is not an S3 bucket",
                "fix cloudfront.origin first",
            ),
        }
    };
    let dns = async {
        if alias {
            Gathered::Got(resolve(config, &host, &d.domain_name).await)
        } else {
            Gathered::not_given("not needed", "nothing to pass")
        }
    };
    let zone = async {
        match &config.hosted_zone_id {
            Some(id) => read_zone(hosting.dns, id, &host).await,
            None => {
                Gathered::not_given("not read: no --hosted-zone-id", "pass --hosted-zone-id ID")
            }
        }
    };
    let (origin_access_controls, certificate, bucket, dns, zone) =
        tokio::join!(oacs, certificate, bucket, dns, zone);
    Some(CloudFrontFacts {
        found_by,
        distribution: distribution.clone(),
        origin_access_controls,
        certificate,
        bucket,
        dns,
        zone,
        store_bucket,
    })
}

/// What depends on a distribution that was not read.
fn unread<T>(distribution: &Gathered<Option<Distribution>>) -> Gathered<T> {
    match distribution {
        Gathered::Got(_) => Gathered::not_given(
            "not checked: no distribution",
            "fix cloudfront.distribution first",
        ),
        other => other.absent(),
    }
}

/// Where the distribution serving a host can be, before asking CloudFront anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// `*.cloudfront.net`: a distribution's own domain (CloudFront refuses aliases under it).
    ByDomain,
    /// Any other DNS name: maybe an alias of one of the account's distributions.
    ByAlias,
    /// An S3 endpoint (`*.amazonaws.com`, `*.amazonaws.com.cn`) or an IP address: no
    /// distribution can serve it (an alias needs a certificate for the name, which nobody
    /// gets for AWS's own domains), so ListDistributions is not called.
    None,
}

/// [`Search`] for `host` (lower case, no brackets).
pub fn search_for(host: &str) -> Search {
    let host = host.trim_end_matches('.');
    if host.ends_with(".cloudfront.net") {
        Search::ByDomain
    } else if host.ends_with(".amazonaws.com")
        || host.ends_with(".amazonaws.com.cn")
        || host.parse::<IpAddr>().is_ok()
    {
        Search::None
    } else {
        Search::ByAlias
    }
}

/// The distribution for `host`: how it was found, and what GetDistribution said.
async fn find(
    config: &DoctorConfig,
    host: &str,
    hosting: &Hosting<'_>,
) -> Option<(String, Gathered<Option<Distribution>>)> {
    let get = |id: String| async move {
        match hosting.distributions.get(&id).await {
            Ok(d) => Gathered::Got(d),
            Err(e) => gathered_error(e),
        }
    };
    if let Some(id) = &config.cloudfront_distribution {
        return Some((
            format!("--cloudfront-distribution {id}"),
            get(id.clone()).await,
        ));
    }
    let search = search_for(host);
    if search == Search::None {
        return None;
    }
    let on_cloudfront = search == Search::ByDomain;
    let listed = hosting.distributions.list().await;
    let found_by = |how: &str| format!("{how} {host}");
    match listed {
        Ok(list) => {
            let by_domain = list
                .iter()
                .find(|s| s.domain_name.eq_ignore_ascii_case(host))
                .map(|s| (found_by("the distribution with domain"), s.id.clone()));
            let by_alias = || {
                list.iter()
                    .filter(|_| search == Search::ByAlias)
                    .find(|s| s.aliases.iter().any(|a| a.eq_ignore_ascii_case(host)))
                    .map(|s| (found_by("the distribution with alias"), s.id.clone()))
            };
            match by_domain.or_else(by_alias) {
                Some((how, id)) => Some((how, get(id).await)),
                None if on_cloudfront => {
                    Some((found_by("a distribution with domain"), Gathered::Got(None)))
                }
                None => None,
            }
        }
        Err(e) if on_cloudfront => {
            Some((found_by("a distribution with domain"), gathered_error(e)))
        }
        Err(e) => {
            tracing::debug!(error = %e, "ListDistributions: not looking for a distribution with this alias");
            None
        }
    }
}

/// The region S3 reports for a bucket (GetBucketLocation's empty answer is us-east-1, `EU`
/// is eu-west-1).
fn location_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(region) => region.to_owned(),
    }
}

fn s3_error<E>(what: &str, bucket: &str, error: &aws_sdk_s3::error::SdkError<E>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match crate::aws::classify(error) {
        Kind::Denied => format!(
            "access denied: {what} on bucket {bucket}; grant it to the credentials doctor runs with"
        ),
        Kind::NotFound => format!(
            "bucket {bucket}, the distribution's origin, does not exist (or is not in this account's partition)"
        ),
        _ => format!(
            "{what} on bucket {bucket} failed: {}",
            crate::aws::describe_error(error)
        ),
    }
}

async fn read_bucket(
    config: &DoctorConfig,
    sdk: &SdkConfig,
    bucket: &str,
    origin_path: &str,
    public: &PublicFacts,
    host: &str,
) -> Gathered<OriginBucket> {
    // GetBucketLocation answers from any region; the other calls go to the bucket's own.
    let global = sdk
        .to_builder()
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let s3 = crate::aws::s3_client(&global, config.s3_path_style);
    let region = match s3.get_bucket_location().bucket(bucket).send().await {
        Ok(out) => Gathered::Got(location_region(
            out.location_constraint().map(|c| c.as_str()),
        )),
        Err(e) if crate::aws::classify(&e) == Kind::NoCredentials => {
            return Gathered::not_given("not checked: no AWS credentials", PASS_AWS)
        }
        Err(e) => Gathered::failed(s3_error("s3:GetBucketLocation", bucket, &e)),
    };
    let s3 = match region.got() {
        Some(r) => crate::aws::s3_client(
            &sdk.to_builder()
                .region(aws_config::Region::new(r.clone()))
                .build(),
            config.s3_path_style,
        ),
        None => s3,
    };
    let policy = async {
        match s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => Gathered::Got(out.policy().map(str::to_owned)),
            Err(e) if is_code(&e, &["NoSuchBucketPolicy"]) => Gathered::Got(None),
            Err(e) => Gathered::failed(s3_error("s3:GetBucketPolicy", bucket, &e)),
        }
    };
    // The documents the issuer URL served from this distribution's host.
    let urls: Vec<String> = [public.discovery.as_ref(), public.jwks.as_ref()]
        .into_iter()
        .flatten()
        .map(|f| f.url.clone())
        .filter(|u| {
            url::Url::parse(u)
                .ok()
                .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(host)))
                .unwrap_or(false)
        })
        .collect();
    let objects = futures::future::join_all(urls.into_iter().map(|url| {
        let s3 = &s3;
        async move {
            let path = url::Url::parse(&url)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            let key = object_key(origin_path, &path);
            let copy = read_object(s3, bucket, &key).await;
            ObjectFacts { url, key, copy }
        }
    }));
    let (policy, objects) = tokio::join!(policy, objects);
    Gathered::Got(OriginBucket {
        bucket: bucket.to_owned(),
        region,
        policy,
        objects,
    })
}

async fn read_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Gathered<Option<ObjectCopy>> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if is_code(&e, &["NoSuchKey"]) => return Gathered::Got(None),
        Err(e) => return Gathered::failed(s3_error(&format!("s3:GetObject {key}"), bucket, &e)),
    };
    let last_modified = out.last_modified().map_or(0, |t| t.secs());
    let cache_control = out.cache_control().map(str::to_owned);
    match out.body.collect().await {
        Ok(body) => Gathered::Got(Some(ObjectCopy {
            body: body.into_bytes().to_vec(),
            last_modified,
            cache_control,
        })),
        Err(e) => Gathered::failed(format!(
            "reading s3://{bucket}/{key} failed: {e}; run doctor again"
        )),
    }
}

async fn read_zone(dns: &dyn DnsRecords, zone_id: &str, host: &str) -> Gathered<ZoneFacts> {
    let zone = match dns.zone(zone_id).await {
        Ok(zone) => zone,
        Err(e) => return gathered_error(e),
    };
    let records = match &zone {
        Some(_) => match dns.aliases(zone_id, host).await {
            Ok(records) => records,
            Err(e) => return gathered_error(e),
        },
        None => Vec::new(),
    };
    Gathered::Got(ZoneFacts {
        zone_id: zone_id.to_owned(),
        zone,
        records,
    })
}

/// How long one name may take to resolve.
const RESOLVE_BUDGET: Duration = Duration::from_secs(5);

/// The addresses of the issuer host and of the distribution's domain.
async fn resolve(config: &DoctorConfig, host: &str, domain: &str) -> DnsFacts {
    let (host_addresses, distribution_addresses) = tokio::join!(
        lookup(&config.connect_to, host),
        lookup(&config.connect_to, domain)
    );
    DnsFacts {
        host: host.to_owned(),
        host_addresses,
        distribution_domain: domain.to_owned(),
        distribution_addresses,
    }
}

/// `name`'s addresses; a `--connect-to NAME:443:…` entry stands in for DNS.
pub async fn lookup(connect_to: &[ConnectTo], name: &str) -> Result<Vec<IpAddr>, String> {
    let target = connect_to
        .iter()
        .find(|c| c.applies_to(name, 443))
        .map_or(name, |c| c.to_host.as_str());
    let target = target.trim_matches(['[', ']']);
    let found = tokio::time::timeout(RESOLVE_BUDGET, tokio::net::lookup_host((target, 443)))
        .await
        .map_err(|_| format!("no answer within {} s", RESOLVE_BUDGET.as_secs()))?
        .map_err(|e| e.to_string())?;
    let mut addresses: Vec<IpAddr> = found.map(|a| a.ip()).collect();
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_a_distribution_can_serve_are_looked_for() {
        assert_eq!(
            search_for("d111111abcdef8.cloudfront.net"),
            Search::ByDomain
        );
        assert_eq!(search_for("oidc.acme.com"), Search::ByAlias);
        for not_cloudfront in [
            "acme-oidc.s3.eu-west-1.amazonaws.com",
            "acme-oidc.s3.amazonaws.com",
            "acme-oidc.s3.cn-north-1.amazonaws.com.cn",
            "127.0.0.1",
            "::1",
        ] {
            assert_eq!(search_for(not_cloudfront), Search::None, "{not_cloudfront}");
        }
    }
}
