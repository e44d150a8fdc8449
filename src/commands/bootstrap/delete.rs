//! `bootstrap --delete`: validate the flags as bootstrap does, ask the API server which issuer
//! it signs with (refusing while it is this one, unless `--force`), observe this cluster's
//! grant, objects, provider and role, plan ([`crate::bootstrap::delete::plan()`]) and apply
//! unless `--dry-run` or `--check`. Prints one line per item (removed, kept and why, already
//! gone) and a summary; `--output json` prints the same as one object.
//!
//! With `--hosting cloudfront` it first finds the bucket's distribution (by our tag and the
//! bucket's regional origin, as bootstrap does), which names the issuer (with `--domain` or
//! `--issuer`), and adds the CloudFront side to the plan
//! ([`crate::bootstrap::delete::cloudfront`]): the invalidation of the cluster's paths, and
//! for the bucket's last cluster the alias records, the distribution (disabled, waited for,
//! deleted) and its origin access control. `--no-wait` stops before the wait and prints what
//! finishes the job.

use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;

use super::cloudfront::{issuer_for, real_hosting, CloudFrontOptions, POLL_CAP};
use super::{cluster_name, connect, validate, Aws, Cluster, Validated};
use crate::bootstrap::cloudfront::{DesiredCloudFront, DistributionRef};
use crate::bootstrap::delete::cloudfront::{
    issuer_host, our_distribution, plan_cloudfront, CloudFrontTarget, ObservedCloudFront,
};
use crate::bootstrap::delete::{
    self, ApiServerCheck, Applied, DeleteChange, DeletePlan, Gone, HostingEffects, Kept,
};
use crate::bootstrap::{CloudFrontEffects, Effects};
use crate::cli::BootstrapArgs;
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::exit::Exit;
use crate::hosting::{Certificates, Distributions, DnsRecords};
use crate::model::policy;
use crate::model::state::STATE_PATH;
use crate::model::{Issuer, DISCOVERY_PATH, JWKS_PATH};
use crate::output::OutputFormat;
use crate::plan::MANAGED_BY_TAG;
use crate::source::SourceKind;

/// The CloudFront side as observed, and the effects to change it.
struct Hosting {
    distributions: Box<dyn Distributions>,
    _certificates: Box<dyn Certificates>,
    dns: Box<dyn DnsRecords>,
    desired: DesiredCloudFront,
    observed: ObservedCloudFront,
    options: CloudFrontOptions,
}

pub(super) async fn delete(args: &BootstrapArgs) -> anyhow::Result<Exit> {
    let flags = validate(args)?;
    let cloudfront_options = super::cloudfront::validate(args)?;
    let Validated { config, bucket, .. } = &flags;
    let prefix = &flags.prefix;
    let Aws {
        sdk,
        region,
        partition,
        issuer,
        effects,
    } = connect(config, bucket, prefix).await?;

    // --hosting cloudfront: the distribution names the issuer (reads only).
    let hosting = match cloudfront_options {
        None => None,
        Some(options) => Some(observe_hosting(&sdk, bucket, &region, options).await?),
    };
    let issuer = match &hosting {
        None => Some(issuer),
        Some(hosting) => cloudfront_issuer(config, bucket, prefix, hosting)?,
    };
    // Before anything is changed: an issuer still in use is not removed.
    let api_server = match &issuer {
        Some(issuer) => {
            let answer = api_server_issuer(config).await;
            delete::check_api_server(issuer.as_str(), answer, args.force)?
        }
        None if args.force => ApiServerCheck::Skipped,
        None => ApiServerCheck::NotNeeded {
            reason: format!(
                "no distribution of bucket {bucket} tagged {MANAGED_BY_TAG} is left, so no URL serves this cluster's cloudfront.net issuer any more"
            ),
        },
    };

    let account = effects.account_id().await?;
    let key_prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let mut statement = policy::bucket_policy_statement(partition, bucket, prefix)?;
    if hosting.is_some() {
        // The CloudFront statement grants the same two documents under its own Sid; only the
        // Sid and the resources are read to take them out.
        statement["Sid"] = Value::from(policy::CLOUDFRONT_STATEMENT_SID);
    }
    let unknown_issuer = format!(
        "not looked at: the issuer is unknown (no distribution of bucket {bucket} tagged {MANAGED_BY_TAG} is left, and neither --domain nor --issuer was given); if it is still there, run bootstrap --delete again with --issuer https://<its distribution's domain>/{prefix}"
    );
    let target = delete::Target {
        statement,
        bucket: bucket.clone(),
        keys: [DISCOVERY_PATH, JWKS_PATH, STATE_PATH]
            .iter()
            .map(|path| format!("{key_prefix}{path}"))
            .collect(),
        provider_arn: match &issuer {
            Some(issuer) => policy::provider_arn(partition, &account, issuer)?,
            None => format!("arn:{partition}:iam::{account}:oidc-provider/<unknown host>/{prefix}"),
        },
        skip_provider: match (&issuer, &config.iam) {
            (None, _) => Some(unknown_issuer.clone()),
            (_, None) => Some("--no-iam: not looked at".to_owned()),
            _ => None,
        },
        role: match &issuer {
            Some(_) => flags.role.as_ref().map(|(name, _, _)| name.clone()),
            None => None,
        },
        cluster_name: issuer
            .as_ref()
            .map(|issuer| cluster_name(args, issuer))
            .unwrap_or_default(),
    };
    let observed = delete::observe(&effects, &target).await?;
    let mut plan = delete::plan(&target, &observed)?;
    if let (None, Some((role, _, _))) = (&issuer, &flags.role) {
        plan.kept.push(Kept {
            item: format!("IAM role {role}"),
            reason: unknown_issuer,
        });
    }
    if let Some(hosting) = &hosting {
        let cf_target = CloudFrontTarget {
            bucket: bucket.clone(),
            origin_domain: hosting.desired.origin_domain(),
            oac_name: hosting.desired.oac_name(),
            paths: [DISCOVERY_PATH, JWKS_PATH]
                .iter()
                .map(|path| format!("/{key_prefix}{path}"))
                .collect(),
            domain: hosting.options.domain.as_ref().map(|d| d.name.clone()),
            hosted_zone_id: hosting
                .options
                .domain
                .as_ref()
                .and_then(|d| d.hosted_zone_id.clone()),
            caller_reference: format!(
                "kube-oidc-publisher/delete/{prefix}/{}",
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis())
            ),
        };
        plan_cloudfront(&cf_target, &hosting.observed, &mut plan)?;
    }

    let applied = match config.mode {
        Mode::Apply => {
            let effects_for_hosting = hosting.as_ref().map(|h| HostingEffects {
                distributions: h.distributions.as_ref(),
                dns: h.dns.as_ref(),
                wait: (!h.options.no_wait).then_some(h.options.wait_timeout),
                poll_cap: POLL_CAP,
            });
            let what = match &issuer {
                Some(issuer) => format!("removing the cluster of issuer {issuer}"),
                None => format!("removing the cluster of {}", flags.store),
            };
            delete::apply_with_hosting(
                &plan.changes,
                &effects as &dyn Effects,
                effects_for_hosting.as_ref(),
            )
            .await
            .context(what)?
        }
        Mode::DryRun | Mode::Check => Applied::default(),
    };

    let calls: Vec<String> = plan.changes.iter().map(DeleteChange::describe).collect();
    let (calls, left) = match (&applied.waiting, config.mode) {
        (Some(_), Mode::Apply) => {
            let (made, left) = calls.split_at(applied.done);
            (made.to_vec(), left.to_vec())
        }
        _ => (calls, Vec::new()),
    };
    let distribution = hosting.as_ref().and_then(|h| {
        our_distribution(bucket, &h.observed)
            .ok()
            .flatten()
            .map(DistributionRef::of)
    });
    let finish_with = applied.waiting.as_ref().map(|d| {
        format!(
            "distribution {} is disabled and still {} (--no-wait): run the same bootstrap --delete again once it is Deployed (aws cloudfront wait distribution-deployed --id {}); it then deletes the distribution and its origin access control",
            d.id, d.status, d.id
        )
    });
    let issuer_text = issuer.as_ref().map_or_else(
        || "(unknown: its distribution is gone)".to_owned(),
        Issuer::to_string,
    );
    let summary = Summary {
        status: match (config.mode, plan.changes.is_empty()) {
            (_, true) => "nothing_to_delete",
            (Mode::Apply, false) if finish_with.is_some() => "waiting",
            (Mode::Apply, false) => "deleted",
            (Mode::DryRun, false) => "planned",
            (Mode::Check, false) => "drift",
        },
        cluster: Cluster {
            issuer: issuer_text,
            store: flags.store.clone(),
            region: region.clone(),
            account_id: account.clone(),
        },
        api_server,
        calls,
        left,
        distribution,
        finish_with,
        plan,
        writes: applied.writes,
        bucket_policy_limit_bytes: policy::BUCKET_POLICY_MAX_BYTES,
        mode: config.mode,
    };
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary always serialises")
        ),
        OutputFormat::Text => print!("{}", summary.text()),
    }
    Ok(
        if config.mode == Mode::Check && !summary.plan.changes.is_empty() {
            Exit::Drift
        } else {
            Exit::Ok
        },
    )
}

/// Reads the bucket's distributions (those whose origin is its regional endpoint, with their
/// tags), the account's origin access controls and, with `--hosted-zone-id`, the custom
/// domain's alias records. No certificate is read: nothing is created.
async fn observe_hosting(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    region: &str,
    options: CloudFrontOptions,
) -> anyhow::Result<Hosting> {
    let (distributions, certificates, dns) = real_hosting(sdk)?;
    let desired = DesiredCloudFront {
        bucket: bucket.to_owned(),
        region: region.to_owned(),
        domain: None,
        adopt: false,
    };
    let effects = CloudFrontEffects {
        distributions: distributions.as_ref(),
        certificates: certificates.as_ref(),
        dns: dns.as_ref(),
    };
    let found = crate::bootstrap::observe_cloudfront(&effects, &desired).await?;
    let with_domain = DesiredCloudFront {
        domain: options.domain.clone(),
        ..desired.clone()
    };
    let (zone, records) = crate::bootstrap::observe_records(dns.as_ref(), &with_domain).await?;
    Ok(Hosting {
        observed: ObservedCloudFront {
            distributions: found.distributions,
            origin_access_controls: found.origin_access_controls,
            zone,
            records,
        },
        distributions,
        _certificates: certificates,
        dns,
        desired,
        options,
    })
}

/// The issuer being removed with `--hosting cloudfront`: `--issuer`, else on `--domain`, else
/// on our distribution's own domain; `None` when none is known.
fn cloudfront_issuer(
    config: &SyncConfig,
    bucket: &str,
    prefix: &str,
    hosting: &Hosting,
) -> anyhow::Result<Option<Issuer>> {
    let explicit = match &config.issuer {
        IssuerChoice::Explicit(issuer) => Some(issuer.clone()),
        IssuerChoice::FromBucket => None,
    };
    let ours = our_distribution(bucket, &hosting.observed)?;
    let host = issuer_host(
        ours,
        hosting.options.domain.as_ref().map(|d| d.name.as_str()),
        explicit.as_ref().map(Issuer::host),
    )?;
    Ok(match (explicit, host) {
        (Some(issuer), _) => Some(issuer),
        (None, Some(host)) => Some(issuer_for(&host, prefix)?),
        (None, None) => None,
    })
}

/// The issuer the API server signs with (its discovery document's), or why it could not be
/// read; `None` with `--source files`, which reads no API server.
async fn api_server_issuer(config: &SyncConfig) -> Option<Result<Option<String>, String>> {
    if config.source == SourceKind::Files {
        return None;
    }
    let source = match crate::publish::kube_source(config).await {
        Ok(source) => source,
        Err(error) => return Some(Err(format!("{error:#}"))),
    };
    use crate::source::KeySource as _;
    Some(
        source
            .fetch()
            .await
            .map(|keys| keys.issuer)
            .map_err(|error| error.to_string()),
    )
}

/// Everything `bootstrap --delete` prints; `--output json` prints exactly this object.
#[derive(Serialize)]
struct Summary {
    /// `deleted`, `nothing_to_delete`, `planned` (--dry-run) or `drift` (--check).
    status: &'static str,
    #[serde(flatten)]
    cluster: Cluster,
    /// Whether the API server still signs for the issuer was checked, or skipped (--force).
    api_server: ApiServerCheck,
    /// Every AWS call that changes something, in order: made (or, in a dry run, to be made).
    calls: Vec<String>,
    /// `--no-wait`: the calls left for the next run (deleting the distribution and its OAC).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left: Vec<String>,
    /// `--hosting cloudfront`: the bucket's distribution as found (`id`, `arn`, `domain_name`,
    /// `status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    distribution: Option<DistributionRef>,
    /// `--no-wait` stopped before deleting the distribution: what finishes the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_with: Option<String>,
    /// `changes` (as data), `kept` (item, reason), `gone` (item), and `bucket_policy_bytes`:
    /// the bucket policy's size once the changes are made (0: no policy left).
    #[serde(flatten)]
    plan: DeletePlan,
    writes: usize,
    bucket_policy_limit_bytes: usize,
    #[serde(skip)]
    mode: Mode,
}

impl Summary {
    fn text(&self) -> String {
        let mut out = String::new();
        let pending = !self.plan.changes.is_empty();
        let heading = match (self.mode, pending) {
            (_, false) => "nothing to delete",
            (Mode::Apply, true) if self.finish_with.is_some() => {
                "removed (the distribution is left to delete)"
            }
            (Mode::Apply, true) => "removed",
            (Mode::DryRun, true) => "plan (dry run, nothing changed)",
            (Mode::Check, true) => "changes pending (--check, nothing changed)",
        };
        out.push_str(&format!(
            "{heading}: the cluster of issuer {} from {} (account {}, {})\n",
            self.cluster.issuer, self.cluster.store, self.cluster.account_id, self.cluster.region
        ));
        let verb = if self.mode == Mode::Apply {
            "removed"
        } else {
            "to remove"
        };
        for call in &self.calls {
            out.push_str(&format!("  {verb}: {call}\n"));
        }
        for call in &self.left {
            out.push_str(&format!("  left for the next run: {call}\n"));
        }
        for Kept { item, reason } in &self.plan.kept {
            out.push_str(&format!("  kept: {item}: {reason}\n"));
        }
        for Gone { item } in &self.plan.gone {
            out.push_str(&format!("  already gone: {item}\n"));
        }
        match &self.api_server {
            ApiServerCheck::Passed { api_server_issuer } => out.push_str(&format!(
                "API server signs with {api_server_issuer}, not this issuer\n"
            )),
            ApiServerCheck::Skipped => out.push_str(
                "warning: --force: skipped the check that the API server no longer signs tokens for this issuer\n",
            ),
            ApiServerCheck::NotNeeded { reason } => {
                out.push_str(&format!("API server not asked: {reason}\n"))
            }
        }
        let policy = match self.plan.bucket_policy_bytes {
            0 => "no bucket policy left".to_owned(),
            bytes => format!(
                "bucket policy {bytes} of {} bytes",
                self.bucket_policy_limit_bytes
            ),
        };
        let count = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
        match self.mode {
            Mode::Apply => out.push_str(&format!(
                "{}, {} kept, {} already gone; {policy}\n",
                count(self.writes, "write"),
                self.plan.kept.len(),
                self.plan.gone.len()
            )),
            Mode::DryRun | Mode::Check => out.push_str(&format!(
                "{} to make, {} kept, {} already gone; {policy} after\n",
                count(self.calls.len(), "AWS call"),
                self.plan.kept.len(),
                self.plan.gone.len()
            )),
        }
        if let Some(finish) = &self.finish_with {
            out.push_str(&format!("next: {finish}\n"));
        }
        out
    }
}
