//! `bootstrap --hosting cloudfront`: a private bucket behind one CloudFront distribution per
//! bucket (PROTOCOL.md §8). The same observe → plan → apply as the S3 path, in two phases
//! because the distribution's domain and ARN exist only once it does:
//!
//! 1. observe the certificate, distributions, OACs and the bucket; plan both sides with a
//!    placeholder ARN for a distribution not created yet, so every refusal (certificate,
//!    someone else's distribution, a public bucket policy) comes before anything is created;
//!    `--dry-run` prints this and stops;
//! 2. apply the OAC and distribution; plan the bucket again with the distribution's real ARN
//!    and apply it; the custom domain's alias records; publish the documents (no provider
//!    yet); wait for the deployment (or stop with `--no-wait`); read both documents
//!    anonymously through the issuer URL the way STS does; only then create the IAM OIDC
//!    provider (sync's publish, thumbprint from the issuer host) and the role.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::bootstrap::cloudfront::{
    plan_distribution, plan_records, CloudFrontChange, CustomDomain, DesiredCloudFront,
    DistributionRef, RecordsPlan, NEW_DISTRIBUTION_DOMAIN,
};
use crate::bootstrap::{
    self, CloudFrontEffects, Deployed, Desired, DesiredRole, Effects as _, Hosting, ObservedBucket,
    Plan, OPERATOR_POLICY_FILE,
};
use crate::cli::BootstrapArgs;
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::exit::Exit;
use crate::hosting::{Certificates, Distributions, DnsRecords};
use crate::iam::Account;
use crate::model::policy;
use crate::model::Issuer;
use crate::publish::{publish_with, Session};

use super::{
    apply, audience, audiences, cluster_name, connect, empty_location, print, Aws, Summary,
    SummaryInputs, Validated,
};

/// A stand-in host for planning the documents of a distribution not created yet (a dry run
/// prints [`NEW_DISTRIBUTION_DOMAIN`] instead).
const STAND_IN_HOST: &str = "new-distribution.cloudfront.net";

/// STS's budget for reading a document.
const STS_BUDGET: Duration = Duration::from_secs(5);

/// The cap of the pause between two polls of a deployment.
pub(super) const POLL_CAP: Duration = Duration::from_secs(20);

/// The CloudFront options, validated without I/O.
pub(super) struct CloudFrontOptions {
    pub domain: Option<CustomDomain>,
    pub wait_timeout: Duration,
    pub no_wait: bool,
}

/// Validates the `--hosting cloudfront` options; `None` for S3 hosting (which refuses them).
pub(super) fn validate(args: &BootstrapArgs) -> anyhow::Result<Option<CloudFrontOptions>> {
    if args.hosting != "cloudfront" {
        if args.domain.is_some() || args.no_wait {
            return Err(anyhow!(
                "--domain, --certificate-arn, --hosted-zone-id and --no-wait are for --hosting cloudfront (with --hosting s3 the issuer is the bucket's own URL, or --issuer); add --hosting cloudfront or leave them out"
            ));
        }
        return Ok(None);
    }
    let wait_timeout = humantime::parse_duration(&args.wait_timeout).map_err(|_| {
        anyhow!(
            "--wait-timeout {:?} is not a duration; write it as 30m, 1h or 90s",
            args.wait_timeout
        )
    })?;
    let domain = match (&args.domain, &args.certificate_arn) {
        (Some(name), Some(arn)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let valid = !name.is_empty()
                && name.len() <= 253
                && name.contains('.')
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !valid {
                return Err(anyhow!(
                    "--domain {name:?} is not a DNS name (labels of letters, digits and hyphens, separated by dots, such as oidc.acme.com)"
                ));
            }
            if !arn.starts_with("arn:") || !arn.contains(":acm:") {
                return Err(anyhow!(
                    "--certificate-arn {arn:?} is not the ARN of an ACM certificate (arn:aws:acm:us-east-1:ACCOUNT:certificate/ID; `aws acm list-certificates --region us-east-1`)"
                ));
            }
            Some(CustomDomain {
                name,
                certificate_arn: arn.clone(),
                hosted_zone_id: args
                    .hosted_zone_id
                    .as_deref()
                    .map(|z| z.trim_start_matches("/hostedzone/").to_owned()),
            })
        }
        // clap's `requires` makes them come together.
        _ => None,
    };
    Ok(Some(CloudFrontOptions {
        domain,
        wait_timeout,
        no_wait: args.no_wait,
    }))
}

/// What the CloudFront side adds to the summary.
#[derive(Clone, Debug, Serialize)]
pub(super) struct CloudFrontSummary {
    pub distribution: DistributionRef,
    pub domain: Option<String>,
    /// Without --hosted-zone-id: the records to create by hand.
    pub dns_records_to_create: Vec<String>,
    /// The sync options for deploy/config/config.env.
    pub sync_options: Vec<String>,
    /// Set when bootstrap stopped before the provider (--no-wait, or a dry run): what finishes
    /// the job.
    pub finish_with: Option<String>,
}

/// The issuer once the host is known.
pub(super) fn issuer_for(host: &str, prefix: &str) -> anyhow::Result<Issuer> {
    let url = if prefix.is_empty() {
        format!("https://{host}")
    } else {
        format!("https://{host}/{prefix}")
    };
    Issuer::parse(&url).with_context(|| format!("the issuer {url}"))
}

/// The publisher role's policy: sync's, plus reading the one distribution and invalidating
/// it (`policy::publisher_role_policy_with_distribution`). `None`: a distribution not created
/// yet, which no policy can name (phase 1 only; phase 2 plans the role with the real ARN).
fn publisher_policy(
    partition: &str,
    bucket: &str,
    prefix: &str,
    provider_arn: &str,
    distribution_arn: Option<&str>,
) -> anyhow::Result<Value> {
    Ok(policy::publisher_role_policy_with_distribution(
        partition,
        bucket,
        prefix,
        provider_arn,
        distribution_arn,
    )?)
}

pub(super) async fn bootstrap(
    args: &BootstrapArgs,
    validated: Validated,
    options: CloudFrontOptions,
) -> anyhow::Result<Exit> {
    let Validated {
        mut config,
        bucket,
        prefix,
        store,
        role,
    } = validated;
    if let IssuerChoice::Explicit(issuer) = &config.issuer {
        return Err(anyhow!(
            "--issuer {issuer} cannot be combined with --hosting cloudfront: the issuer is https://<the distribution's domain>/{prefix}, or https://DOMAIN/{prefix} with --domain; leave --issuer out"
        ));
    }
    let Aws {
        sdk,
        region,
        partition,
        issuer: _,
        effects,
    } = connect(&config, &bucket, &prefix).await?;
    let (distributions, certificates, dns) = real_hosting(&sdk)?;
    let cf = CloudFrontEffects {
        distributions: distributions.as_ref(),
        certificates: certificates.as_ref(),
        dns: dns.as_ref(),
    };
    let account = effects.account_id().await?;
    let desired_cf = DesiredCloudFront {
        bucket: bucket.clone(),
        region: region.clone(),
        domain: options.domain.clone(),
        adopt: args.publish.iam.adopt,
    };

    // Phase 1: observe and plan everything, refusals first.
    let observed_cf = bootstrap::observe_cloudfront(&cf, &desired_cf).await?;
    let distribution_plan = plan_distribution(&desired_cf, &observed_cf)?;
    let placeholder_arn =
        format!("arn:{partition}:cloudfront::{account}:distribution/<new distribution>");
    let planned_arn = distribution_plan
        .distribution
        .arn
        .clone()
        .unwrap_or_else(|| placeholder_arn.clone());
    let host_of = |distribution_domain: &str| -> String {
        options
            .domain
            .as_ref()
            .map_or_else(|| distribution_domain.to_owned(), |d| d.name.clone())
    };
    let known_host = (distribution_plan.distribution.id.is_some() || options.domain.is_some())
        .then(|| host_of(&distribution_plan.distribution.domain_name));
    let issuer = issuer_for(known_host.as_deref().unwrap_or(STAND_IN_HOST), &prefix)?;
    let provider_arn = policy::provider_arn(partition, &account, &issuer)?;
    let cluster_name = cluster_name(args, &issuer);
    let publisher_audience = audience(&config).to_owned();
    let desired_for = |distribution_arn: &str, issuer: &Issuer| -> anyhow::Result<Desired> {
        let provider_arn = policy::provider_arn(partition, &account, issuer)?;
        let desired_role = match &role {
            None => None,
            Some((name, namespace, service_account)) => {
                let trust = policy::trust_policy(
                    &provider_arn,
                    issuer.provider_url(),
                    namespace,
                    service_account,
                    &publisher_audience,
                )?;
                let tags = super::role_tags(&cluster_name);
                Some(DesiredRole {
                    name: name.clone(),
                    subject: format!("system:serviceaccount:{namespace}:{service_account}"),
                    trust_policy: trust.document,
                    policy: publisher_policy(
                        partition,
                        &bucket,
                        &prefix,
                        &provider_arn,
                        // Regression: the placeholder ARN of a distribution not created yet
                        // failed the policy's ARN check, so a first bootstrap with
                        // --publisher-role stopped before creating anything.
                        (distribution_arn != placeholder_arn).then_some(distribution_arn),
                    )?,
                    tags,
                    adopt: args.publish.iam.adopt,
                })
            }
        };
        Ok(Desired {
            bucket: bucket.clone(),
            region: region.clone(),
            hosting: Hosting::CloudFront,
            statement: policy::cloudfront_bucket_statement(
                partition,
                &bucket,
                &prefix,
                distribution_arn,
            )?,
            role: desired_role,
        })
    };
    let desired = desired_for(&planned_arn, &issuer)?;
    let observed = bootstrap::observe(&effects, &desired, &account).await?;
    let mut plan = bootstrap::plan(&desired, &observed)?;
    if let (None, Some((name, _, _))) = (&plan.role_arn, &role) {
        plan.role_arn = Some(bootstrap::role_arn(partition, &account, name));
    }
    let (zone, records) = bootstrap::observe_records(cf.dns, &desired_cf).await?;
    let records_plan = plan_records(
        &desired_cf,
        &distribution_plan.distribution.domain_name,
        zone.as_ref(),
        &records,
    )?;

    let session = Session {
        sdk: OnceCell::new_with(Some(sdk.clone())),
        account: OnceCell::new_with(Some(Account {
            id: account.clone(),
            partition: partition.to_owned(),
        })),
        gate: None,
        edge_checked: Default::default(),
    };
    config.issuer = IssuerChoice::Explicit(issuer.clone());

    if config.mode != Mode::Apply {
        // A dry run (or --check) stops here, listing every call.
        if observed.bucket == ObservedBucket::Missing {
            config.store = crate::store::Location::Dir(empty_location());
        }
        let new_distribution = distribution_plan.distribution.id.is_none();
        if new_distribution {
            // The provider is created for the real issuer once the distribution exists.
            config.iam = None;
        }
        let mut report = publish_with(&config, &session).await?;
        report.store = store.clone();
        let printed_issuer = if known_host.is_none() {
            issuer_text(NEW_DISTRIBUTION_DOMAIN, &prefix)
        } else {
            issuer.to_string()
        };
        let mut before = distribution_plan
            .changes
            .iter()
            .map(CloudFrontChange::describe)
            .collect::<Vec<_>>();
        if let RecordsPlan::Zone(changes) = &records_plan {
            before.extend(changes.iter().map(CloudFrontChange::describe));
        }
        let mut after = Vec::new();
        if new_distribution {
            after.push(format!(
                "iam:CreateOpenIDConnectProvider {printed_issuer} (once the distribution is deployed and serves both documents)"
            ));
        }
        let cf_summary = CloudFrontSummary {
            distribution: distribution_plan.distribution.clone(),
            domain: options.domain.as_ref().map(|d| d.name.clone()),
            dns_records_to_create: manual_records(&records_plan),
            sync_options: sync_options(
                &store,
                &printed_issuer,
                distribution_plan
                    .distribution
                    .id
                    .as_deref()
                    .unwrap_or("<new distribution id>"),
            ),
            finish_with: None,
        };
        let pending_cf = !before.is_empty() || !after.is_empty();
        let summary = Summary::new(SummaryInputs {
            mode: config.mode,
            store: &store,
            issuer: &issuer,
            region: &region,
            account: &account,
            plan: &plan,
            report: &report,
            provider_arn: config.iam.as_ref().map(|_| provider_arn.clone()),
            audiences: audiences(&config),
            writes: 0,
            source_files: config.source == crate::source::SourceKind::Files,
        })
        .with_cloudfront(cf_summary, before, after, &printed_issuer, pending_cf);
        return print(summary, &config);
    }

    // Phase 2: apply.
    let mut writes = 0;
    let (made, changed) =
        bootstrap::apply_distribution(&distribution_plan.changes, cf.distributions)
            .await
            .context(
                "setting up the CloudFront distribution (nothing of the bucket was changed yet)",
            )?;
    writes += made;
    let distribution = match changed {
        Some(d) => d,
        None => {
            let id = distribution_plan
                .distribution
                .id
                .clone()
                .expect("no change means the distribution exists");
            cf.distributions
                .get(&id)
                .await?
                .ok_or_else(|| anyhow!("distribution {id} disappeared; run bootstrap again"))?
        }
    };
    let distribution_ref = DistributionRef::of(&distribution);
    let host = host_of(&distribution.domain_name);
    let issuer = issuer_for(&host, &prefix)?;
    let provider_arn = policy::provider_arn(partition, &account, &issuer)?;
    config.issuer = IssuerChoice::Explicit(issuer.clone());
    // A re-run that publishes changed documents drops the edge's copies too, as sync does.
    config.cloudfront_distribution = Some(distribution.id.clone());

    // The bucket, with the distribution's real ARN (re-observed: phase 1 may have planned a
    // placeholder).
    let desired = desired_for(&distribution.arn, &issuer)?;
    let observed = bootstrap::observe(&effects, &desired, &account).await?;
    let mut plan = bootstrap::plan(&desired, &observed)?;
    if let (None, Some((name, _, _))) = (&plan.role_arn, &role) {
        plan.role_arn = Some(bootstrap::role_arn(partition, &account, name));
    }
    writes += apply(&plan.bucket, &effects, "configuring the bucket").await?;

    // The custom domain's DNS.
    let (zone, records) = bootstrap::observe_records(cf.dns, &desired_cf).await?;
    let records_plan = plan_records(
        &desired_cf,
        &distribution.domain_name,
        zone.as_ref(),
        &records,
    )?;
    let mut dns_calls = Vec::new();
    if let RecordsPlan::Zone(changes) = &records_plan {
        writes += bootstrap::apply_records(changes, cf.dns)
            .await
            .context("creating the custom domain's alias records")?;
        dns_calls.extend(changes.iter().map(CloudFrontChange::describe));
    }

    // The documents, without the provider: it is created once STS could read them.
    let mut documents_only = config.clone();
    documents_only.iam = None;
    let report = publish_with(&documents_only, &session).await.with_context(|| {
        format!(
            "publishing the documents to {store} (the bucket and distribution are set up; bootstrap needs the permissions in {OPERATOR_POLICY_FILE}; run it again once this is fixed)"
        )
    })?;
    writes += report.writes;

    let mut cf_calls: Vec<String> = distribution_plan
        .changes
        .iter()
        .map(CloudFrontChange::describe)
        .collect();
    cf_calls.extend(dns_calls);
    let finish = "run the same bootstrap command again: it makes no change to what is set up, waits for the deployment, checks the documents through the issuer URL and creates the IAM OIDC provider".to_owned();
    let cf_summary = |finish_with: Option<String>| CloudFrontSummary {
        distribution: distribution_ref.clone(),
        domain: options.domain.as_ref().map(|d| d.name.clone()),
        dns_records_to_create: manual_records(&records_plan),
        sync_options: sync_options(&store, issuer.as_str(), &distribution.id),
        finish_with,
    };

    if options.no_wait {
        let summary = Summary::new(SummaryInputs {
            mode: config.mode,
            store: &store,
            issuer: &issuer,
            region: &region,
            account: &account,
            plan: &Plan {
                bucket: plan.bucket.clone(),
                ..Plan::default()
            },
            report: &report,
            provider_arn: None,
            audiences: audiences(&config),
            writes,
            source_files: config.source == crate::source::SourceKind::Files,
        })
        .with_cloudfront(
            cf_summary(Some(finish)),
            cf_calls,
            vec![],
            issuer.as_str(),
            false,
        );
        return print(summary, &config);
    }

    let started = Instant::now();
    match bootstrap::wait_deployed(
        cf.distributions,
        &distribution.id,
        options.wait_timeout,
        POLL_CAP,
    )
    .await?
    {
        Deployed::Yes(_) => {}
        Deployed::TimedOut(d) => {
            return Err(anyhow!(
                "distribution {} is still {} after {} (--wait-timeout); everything is set up and kept. CloudFront deployments usually take a few minutes: {finish}, or pass a longer --wait-timeout",
                d.id,
                d.status,
                humantime::format_duration(options.wait_timeout)
            ));
        }
    }
    if let Some(domain) = &options.domain {
        if domain.hosted_zone_id.is_none() {
            let left = options.wait_timeout.saturating_sub(started.elapsed());
            wait_resolves(
                &config.connect_to,
                &domain.name,
                left,
                &manual_records(&records_plan),
            )
            .await
            .with_context(|| finish.clone())?;
        }
    }
    read_as_sts(&config, &issuer).await?;

    // Now the provider (thumbprint from the issuer host, as sync does) and the role.
    let report = publish_with(&config, &session).await.with_context(|| {
        format!("creating the IAM OIDC provider for {issuer} (everything else is set up; run bootstrap again once this is fixed)")
    })?;
    writes += report.writes;
    writes += apply(&plan.role, &effects, "creating the publisher role").await?;

    let summary = Summary::new(SummaryInputs {
        mode: config.mode,
        store: &store,
        issuer: &issuer,
        region: &region,
        account: &account,
        plan: &plan,
        report: &report,
        provider_arn: config.iam.as_ref().map(|_| provider_arn.clone()),
        audiences: audiences(&config),
        writes,
        source_files: config.source == crate::source::SourceKind::Files,
    })
    .with_cloudfront(cf_summary(None), cf_calls, vec![], issuer.as_str(), false);
    print(summary, &config)
}

type Hosting3 = (
    Box<dyn Distributions>,
    Box<dyn Certificates>,
    Box<dyn DnsRecords>,
);

/// The real CloudFront, ACM (us-east-1) and Route 53 effects (`crate::hosting::aws`).
pub(super) fn real_hosting(sdk: &aws_config::SdkConfig) -> anyhow::Result<Hosting3> {
    use crate::hosting::aws::{AwsCertificates, AwsDistributions, AwsDnsRecords};
    Ok((
        Box::new(AwsDistributions::new(crate::aws::cloudfront_client(sdk))),
        Box::new(AwsCertificates::new(crate::aws::acm_client(sdk))),
        Box::new(AwsDnsRecords::new(crate::aws::route53_client(sdk))),
    ))
}

fn issuer_text(host: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        format!("https://{host}")
    } else {
        format!("https://{host}/{prefix}")
    }
}

fn manual_records(plan: &RecordsPlan) -> Vec<String> {
    match plan {
        RecordsPlan::Manual(lines) => lines.clone(),
        _ => vec![],
    }
}

/// The `sync` options for deploy/config/config.env.
fn sync_options(store: &str, issuer: &str, distribution_id: &str) -> Vec<String> {
    vec![
        format!("--store {store}"),
        format!("--issuer {issuer}"),
        format!("--cloudfront-distribution {distribution_id}"),
    ]
}

/// Waits until `name` resolves (the record was created by hand), polling with the same capped
/// backoff as the deployment. The resolver is doctor's observation
/// (`doctor::cloudfront::lookup`): a `--connect-to NAME:443:…` entry stands in for DNS, as it
/// does for the reads that follow, so a test (or a name not in DNS yet on purpose) decides what
/// the name resolves to.
async fn wait_resolves(
    connect_to: &[crate::tls::ConnectTo],
    name: &str,
    timeout: Duration,
    records: &[String],
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut delay = None;
    loop {
        let resolved = crate::doctor::cloudfront::lookup(connect_to, name).await;
        if matches!(&resolved, Ok(addresses) if !addresses.is_empty()) {
            return Ok(());
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(anyhow!(
                "{name} does not resolve after {}; create the record ({}) in its DNS zone, or pass --hosted-zone-id for bootstrap to create it in Route 53",
                humantime::format_duration(Duration::from_secs(timeout.as_secs())),
                records.join("; ")
            ));
        }
        eprintln!(
            "waiting for {name} to resolve (create: {}; {} of {})",
            records.first().map_or("", String::as_str),
            bootstrap::short_duration(elapsed),
            bootstrap::short_duration(timeout)
        );
        let next = bootstrap::next_poll_delay(delay, POLL_CAP).min(timeout - elapsed);
        delay = Some(next);
        tokio::time::sleep(next).await;
    }
}

/// Reads the discovery document and the JWKS through the issuer URL the way STS does
/// (anonymous, no redirect followed, 5 s each); refuses unless both answer 200.
async fn read_as_sts(config: &SyncConfig, issuer: &Issuer) -> anyhow::Result<()> {
    let client =
        crate::doctor::http::PublicClient::new(&config.ca_files, &config.connect_to, STS_BUDGET)
            .await?;
    for url in [issuer.discovery_url(), issuer.jwks_uri()] {
        let fetched = client.get(&url).await;
        match &fetched.result {
            Ok(answer) if answer.status == 200 => {}
            Ok(answer) => {
                return Err(anyhow!(
                    "{url} answered HTTP {} to an anonymous GET (STS would reject every token); the IAM OIDC provider was not created. Check the bucket policy's statement {} and the distribution's origin access control (kube-oidc-publisher doctor --issuer {issuer} names the cause), then run bootstrap again",
                    answer.status,
                    policy::CLOUDFRONT_STATEMENT_SID
                ))
            }
            Err(error) => {
                return Err(anyhow!(
                    "{url} could not be read anonymously as STS reads it ({error:?}); the IAM OIDC provider was not created. Run kube-oidc-publisher doctor --issuer {issuer} for the cause, then bootstrap again"
                ))
            }
        }
    }
    Ok(())
}
