//! The effects of `bootstrap --hosting cloudfront`, through `crate::hosting`'s narrow traits:
//! observe what [`super::cloudfront`]'s plans compare, apply their changes in order (stopping
//! at the first failure and saying what was done), and wait until the distribution is
//! deployed. Decides nothing: dry runs never get here.

use std::time::{Duration, Instant};

use crate::hosting::{Certificates, Distributions, DnsRecords};
use crate::model::cloudfront::{AliasRecord, Distribution, HostedZone};

use super::apply::{record, ApplyError};
use super::cloudfront::{
    CloudFrontChange, DesiredCloudFront, ObservedCloudFront, NEW_ORIGIN_ACCESS_CONTROL,
};
use super::Error;

/// The three services, as the traits the command hands in.
pub struct CloudFrontEffects<'a> {
    pub distributions: &'a dyn Distributions,
    pub certificates: &'a dyn Certificates,
    pub dns: &'a dyn DnsRecords,
}

/// Reads the certificate (only when it is in us-east-1: the plan refuses any other region
/// without asking), the distributions whose origin is the bucket's regional endpoint (with
/// their tags), and the account's origin access controls.
pub async fn observe_cloudfront(
    effects: &CloudFrontEffects<'_>,
    desired: &DesiredCloudFront,
) -> Result<ObservedCloudFront, Error> {
    let certificate = match &desired.domain {
        Some(domain)
            if domain.certificate_arn.split(':').nth(3)
                == Some(crate::model::cloudfront::CERTIFICATE_REGION) =>
        {
            effects.certificates.get(&domain.certificate_arn).await?
        }
        _ => None,
    };
    let origin = desired.origin_domain();
    let (summaries, origin_access_controls) = futures::future::try_join(
        effects.distributions.list(),
        effects.distributions.origin_access_controls(),
    )
    .await?;
    let mut distributions = Vec::new();
    for summary in summaries.iter().filter(|s| {
        s.origin_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&origin))
    }) {
        if let Some(distribution) = effects.distributions.get(&summary.id).await? {
            distributions.push(distribution);
        }
    }
    Ok(ObservedCloudFront {
        distributions,
        origin_access_controls,
        certificate,
    })
}

/// Makes the OAC and distribution changes in order. Returns the number of calls made and the
/// distribution as the last call left it (`None` when there was nothing to do).
pub async fn apply_distribution(
    changes: &[CloudFrontChange],
    distributions: &dyn Distributions,
) -> Result<(usize, Option<Distribution>), ApplyError> {
    let mut applied = Vec::new();
    let mut oac_id: Option<String> = None;
    let mut result_distribution = None;
    for change in changes {
        let result = match change {
            CloudFrontChange::CreateOriginAccessControl { config } => distributions
                .create_origin_access_control(config)
                .await
                .map(|oac| oac_id = Some(oac.id)),
            CloudFrontChange::CreateDistribution { config, tags } => {
                let mut config = config.clone();
                for origin in &mut config.origins {
                    if origin.origin_access_control_id.as_deref() == Some(NEW_ORIGIN_ACCESS_CONTROL)
                    {
                        origin.origin_access_control_id = oac_id.clone();
                    }
                }
                distributions
                    .create(&config, tags)
                    .await
                    .map(|d| result_distribution = Some(d))
            }
            CloudFrontChange::UpdateDistribution {
                id, etag, config, ..
            } => {
                let mut config = config.clone();
                for origin in &mut config.origins {
                    if origin.origin_access_control_id.as_deref() == Some(NEW_ORIGIN_ACCESS_CONTROL)
                    {
                        origin.origin_access_control_id = oac_id.clone();
                    }
                }
                distributions
                    .update(id, &config, etag)
                    .await
                    .map(|d| result_distribution = Some(d))
            }
            CloudFrontChange::TagDistribution { arn, tags, .. } => {
                distributions.tag(arn, tags).await
            }
            CloudFrontChange::UpsertAliasRecords { .. } => {
                unreachable!("records are applied by apply_records")
            }
        };
        record(
            result.map_err(Error::from),
            change.action(),
            &mut applied,
            "bootstrap",
        )?;
    }
    Ok((applied.len(), result_distribution))
}

/// GetHostedZone and the name's alias records, when the custom domain names a zone.
pub async fn observe_records(
    dns: &dyn DnsRecords,
    desired: &DesiredCloudFront,
) -> Result<(Option<HostedZone>, Vec<AliasRecord>), Error> {
    let Some((zone_id, name)) = desired
        .domain
        .as_ref()
        .and_then(|d| d.hosted_zone_id.as_ref().map(|z| (z, &d.name)))
    else {
        return Ok((None, vec![]));
    };
    let Some(zone) = dns.zone(zone_id).await? else {
        return Ok((None, vec![]));
    };
    let records = dns.aliases(zone_id, name).await?;
    Ok((Some(zone), records))
}

/// Makes the Route 53 changes; returns the number of calls made.
pub async fn apply_records(
    changes: &[CloudFrontChange],
    dns: &dyn DnsRecords,
) -> Result<usize, ApplyError> {
    let mut applied = Vec::new();
    for change in changes {
        let CloudFrontChange::UpsertAliasRecords { zone_id, records } = change else {
            unreachable!("only records are applied here")
        };
        let result = dns.upsert_aliases(zone_id, records).await;
        record(
            result.map_err(Error::from),
            change.action(),
            &mut applied,
            "bootstrap",
        )?;
    }
    Ok(applied.len())
}

/// How the wait for deployment ended.
#[derive(Debug)]
pub enum Deployed {
    Yes(Distribution),
    /// Still `InProgress` after the timeout (the last status read).
    TimedOut(Distribution),
}

/// The pause before the next poll: 1 s, doubling, at most `cap` (deployments take minutes;
/// tests pass a small cap).
pub fn next_poll_delay(previous: Option<Duration>, cap: Duration) -> Duration {
    previous
        .map_or(Duration::from_secs(1), |d| d.saturating_mul(2))
        .min(cap)
}

/// `1m20s`, `30m`, `5s`, `1h2m`: a duration in whole seconds, for the progress line.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The line printed per poll (stderr).
pub fn progress_line(id: &str, status: &str, elapsed: Duration, timeout: Duration) -> String {
    format!(
        "waiting for distribution {id} to deploy ({status}, {} of {})",
        short_duration(elapsed),
        short_duration(timeout)
    )
}

/// Polls the distribution until CloudFront says `Deployed` or `timeout` has passed, printing
/// a progress line per poll to stderr.
pub async fn wait_deployed(
    distributions: &dyn Distributions,
    id: &str,
    timeout: Duration,
    cap: Duration,
) -> Result<Deployed, Error> {
    let start = Instant::now();
    let mut delay = None;
    loop {
        let Some(distribution) = distributions.get(id).await? else {
            return Err(Error::Invalid {
                action: "cloudfront:GetDistribution",
                resource: format!("distribution {id}"),
                detail: "it is gone (deleted meanwhile?); run bootstrap again to create one"
                    .to_owned(),
            });
        };
        if distribution.is_deployed() {
            return Ok(Deployed::Yes(distribution));
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Ok(Deployed::TimedOut(distribution));
        }
        eprintln!(
            "{}",
            progress_line(id, &distribution.status, elapsed, timeout)
        );
        let next = next_poll_delay(delay, cap).min(timeout - elapsed);
        delay = Some(next);
        tokio::time::sleep(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_from_one_second_to_the_cap() {
        let cap = Duration::from_secs(20);
        let mut delay = None;
        let mut seen = vec![];
        for _ in 0..7 {
            let next = next_poll_delay(delay, cap);
            seen.push(next.as_secs());
            delay = Some(next);
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 20, 20]);
        assert_eq!(
            next_poll_delay(Some(Duration::from_secs(1)), Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn the_progress_line_names_the_distribution_status_and_time() {
        assert_eq!(
            progress_line(
                "E2ABC",
                "InProgress",
                Duration::from_secs(80),
                Duration::from_secs(1800)
            ),
            "waiting for distribution E2ABC to deploy (InProgress, 1m20s of 30m)"
        );
        assert_eq!(short_duration(Duration::from_millis(400)), "0s");
        assert_eq!(short_duration(Duration::from_secs(3725)), "1h2m5s");
    }
}
