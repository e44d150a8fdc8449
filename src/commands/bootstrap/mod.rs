//! `bootstrap`: validate the flags (no I/O), load the AWS configuration, observe the account,
//! bucket and role, plan ([`crate::bootstrap::plan()`]), then apply in order: the bucket's
//! changes, the documents and the OIDC provider through `crate::publish`, the role's
//! changes. `--dry-run` and `--check` stop after planning (the documents and the provider are
//! planned by `publish` in the same mode). Prints the summary, the API server flags and the
//! next steps. `--delete` is [`delete`]'s (with either hosting).

mod cloudfront;
mod delete;

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _};
use serde::Serialize;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::bootstrap::aws::AwsEffects;
use crate::bootstrap::{
    self, BootstrapChange, Desired, DesiredRole, Effects, Hosting, ObservedBucket, Plan,
    DEFAULT_PUBLISHER_NAMESPACE, DEFAULT_PUBLISHER_SERVICE_ACCOUNT, FLAG_LOCATIONS,
    OPERATOR_POLICY_FILE,
};
use crate::cli::BootstrapArgs;
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::exit::Exit;
use crate::iam::Account;
use crate::model::issuer::partition;
use crate::model::policy;
use crate::model::Issuer;
use crate::output::OutputFormat;
use crate::plan::{Change, CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE};
use crate::publish::{publish_with, Session};
use crate::reconcile::SyncReport;
use crate::source::SourceKind;
use crate::store::Location;

pub async fn run(args: &BootstrapArgs) -> anyhow::Result<Exit> {
    let result = if args.delete {
        delete::delete(args).await
    } else {
        bootstrap(args).await
    };
    if let (Err(error), OutputFormat::Json) = (&result, args.publish.output.format) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

/// The flags, validated without I/O.
struct Validated {
    config: SyncConfig,
    bucket: String,
    prefix: String,
    store: String,
    role: Option<(String, String, String)>,
}

fn validate(args: &BootstrapArgs) -> anyhow::Result<Validated> {
    let bucket = args.bucket.clone();
    let prefix = args
        .prefix
        .as_deref()
        .unwrap_or_default()
        .trim_matches('/')
        .to_owned();
    crate::model::prefix::check(&prefix).context("--prefix")?;
    if args.publish.cloudfront.id.is_some() {
        return Err(anyhow!(
            "--cloudfront-distribution is sync's: bootstrap --hosting cloudfront finds the bucket's distribution by its tag and origin (or creates it) and prints the sync options with its ID; leave it out here"
        ));
    }
    // Bucket and prefix as they will appear in the policy (the partition does not matter here).
    policy::bucket_policy_statement("aws", &bucket, &prefix)?;
    let store = if prefix.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{prefix}")
    };
    let mut config = SyncConfig::from_parts(&store, &args.publish)?;
    // Bootstrap runs before the API server uses the new issuer: a different issuer there is
    // expected, and its keys are published for the new one.
    config.allow_issuer_mismatch = true;
    let role = match &args.publisher_role {
        None => None,
        Some(name) => {
            bootstrap::check_role_name(name).context("--publisher-role")?;
            let namespace = args
                .publisher_namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_PUBLISHER_NAMESPACE.to_owned());
            let service_account = args
                .publisher_service_account
                .clone()
                .unwrap_or_else(|| DEFAULT_PUBLISHER_SERVICE_ACCOUNT.to_owned());
            policy::check_subject(&namespace, &service_account, audience(&config))?;
            if namespace.contains(['*', '?']) || service_account.contains(['*', '?']) {
                return Err(anyhow!(
                    "--publisher-namespace and --publisher-service-account must name exactly one ServiceAccount (no * or ?): the publisher role can write the issuer's keys"
                ));
            }
            Some((name.clone(), namespace, service_account))
        }
    };
    Ok(Validated {
        config,
        bucket,
        prefix,
        store,
        role,
    })
}

/// The audience the publisher's token carries: the first client ID the provider accepts.
fn audience(config: &SyncConfig) -> &str {
    config
        .iam
        .as_ref()
        .and_then(|iam| iam.audiences.first())
        .map_or(policy::DEFAULT_AUDIENCE, String::as_str)
}

fn audiences(config: &SyncConfig) -> Vec<String> {
    config.iam.as_ref().map_or_else(
        || vec![policy::DEFAULT_AUDIENCE.to_owned()],
        |iam| iam.audiences.clone(),
    )
}

/// The AWS side both bootstrap and `bootstrap --delete` start from: the SDK configuration,
/// its region and partition, the issuer, and the effects.
struct Aws {
    sdk: aws_config::SdkConfig,
    region: String,
    partition: &'static str,
    issuer: Issuer,
    effects: AwsEffects,
}

async fn connect(config: &SyncConfig, bucket: &str, prefix: &str) -> anyhow::Result<Aws> {
    let sdk = crate::aws::load(config.region.as_deref(), config.timeout).await;
    let region = sdk.region().map(|r| r.as_ref().to_owned()).ok_or_else(|| {
        anyhow!("no AWS region is configured; pass --region (for example --region eu-west-1) or set AWS_REGION")
    })?;
    let partition = partition(&region);
    let issuer = match &config.issuer {
        IssuerChoice::Explicit(issuer) => issuer.clone(),
        IssuerChoice::FromBucket => Issuer::for_s3_bucket(bucket, &region, prefix)?,
    };
    let effects = AwsEffects::new(
        crate::aws::s3_client(&sdk, config.s3_path_style),
        crate::aws::s3control_client(&sdk),
        crate::aws::iam_client(&sdk),
        crate::aws::sts_client(&sdk),
        partition,
    );
    Ok(Aws {
        sdk,
        region,
        partition,
        issuer,
        effects,
    })
}

/// The name the role (and sync's provider) is tagged with: `--cluster-name`, else the
/// issuer's host/path (sync's default cluster tag).
fn cluster_name(args: &BootstrapArgs, issuer: &Issuer) -> String {
    args.publish
        .iam
        .cluster_name
        .clone()
        .unwrap_or_else(|| issuer.provider_url().to_owned())
}

/// The publisher role's tags: ours, and the cluster's name like the provider's.
fn role_tags(cluster_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (CLUSTER_TAG.to_owned(), cluster_name.to_owned()),
    ])
}

async fn bootstrap(args: &BootstrapArgs) -> anyhow::Result<Exit> {
    let validated = validate(args)?;
    if let Some(options) = cloudfront::validate(args)? {
        return cloudfront::bootstrap(args, validated, options).await;
    }
    let Validated {
        mut config,
        bucket,
        prefix,
        store,
        role,
    } = validated;
    let Aws {
        sdk,
        region,
        partition,
        issuer,
        effects,
    } = connect(&config, &bucket, &prefix).await?;

    // observe → plan
    let account = effects.account_id().await?;
    let provider_arn = policy::provider_arn(partition, &account, &issuer)?;
    // The role is tagged like the provider (sync's default cluster tag is the issuer's host/path).
    let cluster_name = cluster_name(args, &issuer);
    let desired_role = match &role {
        None => None,
        Some((name, namespace, service_account)) => {
            let trust = policy::trust_policy(
                &provider_arn,
                issuer.provider_url(),
                namespace,
                service_account,
                audience(&config),
            )?;
            let tags = role_tags(&cluster_name);
            Some(DesiredRole {
                name: name.clone(),
                subject: format!("system:serviceaccount:{namespace}:{service_account}"),
                trust_policy: trust.document,
                policy: policy::publisher_role_policy(partition, &bucket, &prefix, &provider_arn)?,
                tags,
                adopt: args.publish.iam.adopt,
            })
        }
    };
    let desired = Desired {
        bucket: bucket.clone(),
        region: region.clone(),
        hosting: Hosting::S3,
        statement: policy::bucket_policy_statement(partition, &bucket, &prefix)?,
        role: desired_role,
    };
    let observed = bootstrap::observe(&effects, &desired, &account).await?;
    let mut plan = bootstrap::plan(&desired, &observed)?;
    if let (None, Some((name, _, _))) = (&plan.role_arn, &role) {
        plan.role_arn = Some(bootstrap::role_arn(partition, &account, name));
    }

    // apply (or only plan the documents and the provider, in the same mode), with the AWS
    // configuration and the account already at hand: STS is asked for the account once.
    let session = Session {
        sdk: OnceCell::new_with(Some(sdk.clone())),
        account: OnceCell::new_with(Some(Account {
            id: account.clone(),
            partition: partition.to_owned(),
        })),
        gate: None,
        edge_checked: Default::default(),
    };
    let mut writes = 0;
    let report = match config.mode {
        Mode::Apply => {
            writes += apply(&plan.bucket, &effects, "configuring the bucket").await?;
            let report = publish_with(&config, &session).await.with_context(|| {
                format!(
                    "publishing the documents to {store} (the bucket is configured; bootstrap needs the permissions in {OPERATOR_POLICY_FILE}; run it again once this is fixed)"
                )
            })?;
            writes += report.writes;
            writes += apply(&plan.role, &effects, "creating the publisher role").await?;
            report
        }
        Mode::DryRun | Mode::Check => {
            if observed.bucket == ObservedBucket::Missing {
                // Nothing is published in a bucket that does not exist yet: plan against an
                // empty location (nothing is read from or written to it in these modes).
                config.store = Location::Dir(empty_location());
                config.issuer = IssuerChoice::Explicit(issuer.clone());
            }
            let mut report = publish_with(&config, &session).await?;
            report.store = store.clone();
            report
        }
    };
    let mut report = report;
    // sync warns that the API server signs with another issuer; here that is the expected
    // state until the flags below are set, and the summary says so.
    report.warnings.retain(|w| {
        !(w.starts_with("publishing issuer ") && w.contains("--allow-issuer-mismatch"))
    });
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }

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
        source_files: config.source == SourceKind::Files,
    });
    print(summary, &config)
}

/// The summary on stdout (text or JSON); with --check, exit 1 while something is pending.
fn print(summary: Summary, config: &SyncConfig) -> anyhow::Result<Exit> {
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&summary).expect("a summary always serialises")
        ),
        OutputFormat::Text => print!("{}", summary.text()),
    }
    Ok(if config.mode == Mode::Check && summary.pending {
        Exit::Drift
    } else {
        Exit::Ok
    })
}

async fn apply(
    changes: &[BootstrapChange],
    effects: &dyn Effects,
    what: &'static str,
) -> anyhow::Result<usize> {
    let (writes, _) = bootstrap::apply(changes, effects)
        .await
        .with_context(|| what)?;
    Ok(writes)
}

/// A path that does not exist, for planning the documents of a bucket not created yet.
fn empty_location() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "kube-oidc-publisher-bootstrap-dry-run-{}-absent",
        std::process::id()
    ))
}

/// The IAM action of one of `sync`'s changes.
fn sync_action(change: &Change) -> &'static str {
    match change {
        Change::PutObject { .. } => "s3:PutObject",
        Change::CreateProvider { .. } => "iam:CreateOpenIDConnectProvider",
        Change::SetThumbprints { .. } => "iam:UpdateOpenIDConnectProviderThumbprint",
        Change::AddClientId { .. } => "iam:AddClientIDToOpenIDConnectProvider",
        Change::RemoveClientId { .. } => "iam:RemoveClientIDFromOpenIDConnectProvider",
        Change::TagProvider { .. } => "iam:TagOpenIDConnectProvider",
        Change::Invalidate { .. } => "cloudfront:CreateInvalidation",
    }
}

/// With `--source files` nothing reads the API server, so the flags name only the new issuer.
const CURRENT_ISSUER_UNKNOWN: &str = "the issuer your kube-apiservers sign with now is unknown to kube-oidc-publisher (--source files reads no API server): if it differs from the new one, keep it as a second --service-account-issuer right after the new one, and put it first in --api-audiences, so the tokens already issued stay valid (docs/bootstrap.md)";

struct SummaryInputs<'a> {
    mode: Mode,
    store: &'a str,
    issuer: &'a Issuer,
    region: &'a str,
    account: &'a str,
    plan: &'a Plan,
    report: &'a SyncReport,
    provider_arn: Option<String>,
    audiences: Vec<String>,
    writes: usize,
    /// `--source files`: the API server's current issuer is not read.
    source_files: bool,
}

/// Which cluster, in which account: the head of bootstrap's and `--delete`'s output.
#[derive(Serialize)]
struct Cluster {
    issuer: String,
    store: String,
    region: String,
    account_id: String,
}

impl Cluster {
    fn new(issuer: &Issuer, store: &str, region: &str, account: &str) -> Cluster {
        Cluster {
            issuer: issuer.to_string(),
            store: store.to_owned(),
            region: region.to_owned(),
            account_id: account.to_owned(),
        }
    }
}

/// Everything bootstrap prints; `--output json` prints exactly this object.
#[derive(Serialize)]
struct Summary {
    status: &'static str,
    #[serde(flatten)]
    cluster: Cluster,
    /// Every AWS call that changes something, in order: made (or, in a dry run, to be made).
    calls: Vec<String>,
    /// The bucket's and the role's changes as data.
    changes: Vec<BootstrapChange>,
    /// What `sync` planned and did: the documents and the provider.
    publish: serde_json::Value,
    provider_arn: Option<String>,
    role_arn: Option<String>,
    /// The bucket policy's size with this cluster's grant, and S3's limit (20 KB): one bucket
    /// holds about a hundred clusters' grants.
    bucket_policy_bytes: Option<usize>,
    bucket_policy_limit_bytes: usize,
    /// The issuer the API server signs with now (unknown with --source files).
    api_server_issuer: Option<String>,
    api_server_flags: Vec<String>,
    /// Set when the current issuer is unknown (`--source files`): what to add by hand.
    api_server_flags_note: Option<String>,
    flag_locations: BTreeMap<&'static str, &'static str>,
    next_steps: Vec<String>,
    writes: usize,
    warnings: Vec<String>,
    /// `--hosting cloudfront`: the distribution, the custom domain, the sync options.
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudfront: Option<cloudfront::CloudFrontSummary>,
    #[serde(skip)]
    mode: Mode,
    #[serde(skip)]
    pending: bool,
    #[serde(skip)]
    keys: usize,
}

impl Summary {
    fn new(inputs: SummaryInputs<'_>) -> Summary {
        let SummaryInputs {
            mode,
            store,
            issuer,
            region,
            account,
            plan,
            report,
            provider_arn,
            audiences,
            writes,
            source_files,
        } = inputs;
        let mut calls: Vec<String> = plan.bucket.iter().map(BootstrapChange::describe).collect();
        for change in &report.plan.changes {
            let text = change.describe();
            let text = match change {
                Change::PutObject { .. } => {
                    format!("{store}/{}", text.strip_prefix("put ").unwrap_or(&text))
                }
                _ => text,
            };
            calls.push(format!("{} {text}", sync_action(change)));
        }
        if let Some(provider) = &report.provider {
            for change in &provider.changes {
                calls.push(format!("{} {}", sync_action(change), change.describe()));
            }
        }
        calls.extend(plan.role.iter().map(BootstrapChange::describe));
        let pending = !plan.is_empty() || report.drift();
        let status = match (mode, pending) {
            (Mode::Apply, _) if writes > 0 => "applied",
            (_, false) | (Mode::Apply, true) => "in_sync",
            (Mode::DryRun, true) => "planned",
            (Mode::Check, true) => "drift",
        };
        let mut publish = serde_json::to_value(report).expect("a report always serialises");
        publish["status"] = json!(crate::output::status(report));
        let flags = crate::model::apiserver_flags::api_server_flags(
            issuer.as_str(),
            report.api_server_issuer.as_deref(),
            &audiences,
        );
        let mut warnings = report.warnings.clone();
        if let Some(provider) = &report.provider {
            warnings.extend(provider.unmanaged_drift.iter().map(|drift| {
                format!(
                    "IAM OIDC provider {} is not managed by kube-oidc-publisher and was left alone; it would need: {drift}",
                    provider.arn
                )
            }));
        }
        Summary {
            status,
            cluster: Cluster::new(issuer, store, region, account),
            calls,
            changes: plan.changes().cloned().collect(),
            publish,
            provider_arn,
            role_arn: plan.role_arn.clone(),
            bucket_policy_bytes: plan.bucket_policy_bytes,
            bucket_policy_limit_bytes: policy::BUCKET_POLICY_MAX_BYTES,
            api_server_issuer: report.api_server_issuer.clone(),
            next_steps: bootstrap::next_steps(
                issuer.as_str(),
                plan.role_arn.as_deref(),
                audiences
                    .first()
                    .map_or(policy::DEFAULT_AUDIENCE, String::as_str),
            ),
            api_server_flags: flags,
            api_server_flags_note: (source_files && report.api_server_issuer.is_none())
                .then(|| CURRENT_ISSUER_UNKNOWN.to_owned()),
            flag_locations: FLAG_LOCATIONS.into_iter().collect(),
            writes,
            warnings,
            cloudfront: None,
            mode,
            pending,
            keys: report.kids.len(),
        }
    }

    /// Adds the CloudFront side: its calls before the bucket's (`before`: the OAC, the
    /// distribution, the DNS records) and after sync's (`after`), the issuer as printed (a dry
    /// run of a new distribution prints a placeholder), and whether those calls are pending.
    fn with_cloudfront(
        mut self,
        summary: cloudfront::CloudFrontSummary,
        before: Vec<String>,
        after: Vec<String>,
        issuer: &str,
        pending: bool,
    ) -> Summary {
        let mut calls = before;
        calls.append(&mut self.calls);
        calls.extend(after);
        self.calls = calls;
        if self.cluster.issuer != issuer {
            self.cluster.issuer = issuer.to_owned();
            self.api_server_flags = crate::model::apiserver_flags::api_server_flags(
                issuer,
                self.api_server_issuer.as_deref(),
                &[policy::DEFAULT_AUDIENCE.to_owned()],
            );
            self.next_steps =
                bootstrap::next_steps(issuer, self.role_arn.as_deref(), policy::DEFAULT_AUDIENCE);
        }
        if let Some(finish) = &summary.finish_with {
            self.next_steps.insert(0, format!("Finish: {finish}"));
        }
        self.next_steps.insert(
            if summary.finish_with.is_some() { 1 } else { 0 },
            format!(
                "In deploy/config/config.env, give sync: {}",
                summary.sync_options.join(" ")
            ),
        );
        if pending && self.mode != Mode::Apply {
            self.pending = true;
            self.status = if self.mode == Mode::DryRun {
                "planned"
            } else {
                "drift"
            };
        }
        self.cloudfront = Some(summary);
        self
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let keys = format!("{} key{}", self.keys, if self.keys == 1 { "" } else { "s" });
        let heading = match (self.mode, self.pending) {
            (Mode::Apply, _) if self.writes > 0 => "bootstrapped",
            (_, false) | (Mode::Apply, true) => "in sync",
            (Mode::DryRun, true) => "plan (dry run, nothing changed)",
            (Mode::Check, true) => "changes pending (--check, nothing changed)",
        };
        out.push_str(&format!(
            "{heading}: {} serving {keys} for issuer {} (account {}, {})\n",
            self.cluster.store, self.cluster.issuer, self.cluster.account_id, self.cluster.region
        ));
        for call in &self.calls {
            out.push_str(&format!("  {call}\n"));
        }
        match self.mode {
            Mode::Apply => out.push_str(&format!(
                "{} write{}\n",
                self.writes,
                if self.writes == 1 { "" } else { "s" }
            )),
            Mode::DryRun | Mode::Check if self.pending => out.push_str(&format!(
                "{} AWS call{} to make\n",
                self.calls.len(),
                if self.calls.len() == 1 { "" } else { "s" }
            )),
            _ => out.push_str("nothing to change\n"),
        }
        for warning in &self.warnings {
            out.push_str(&format!("warning: {warning}\n"));
        }

        out.push_str(&format!("\nissuer:   {}\n", self.cluster.issuer));
        if let Some(cf) = &self.cloudfront {
            out.push_str(&format!(
                "distribution: {} ({}{})\n",
                cf.distribution.id.as_deref().unwrap_or("to be created"),
                cf.distribution.domain_name,
                cf.distribution
                    .status
                    .as_deref()
                    .map_or(String::new(), |s| format!(", {s}"))
            ));
            if !cf.dns_records_to_create.is_empty() {
                out.push_str(&format!(
                    "DNS records to create for {} (no --hosted-zone-id):\n",
                    cf.domain.as_deref().unwrap_or_default()
                ));
                for record in &cf.dns_records_to_create {
                    out.push_str(&format!("  {record}\n"));
                }
            }
            out.push_str(&format!("sync options: {}\n", cf.sync_options.join(" ")));
        }
        if let Some(arn) = &self.provider_arn {
            out.push_str(&format!("provider: {arn}\n"));
        }
        if let Some(arn) = &self.role_arn {
            out.push_str(&format!("role:     {arn}\n"));
        }

        let migrating = self
            .api_server_issuer
            .as_deref()
            .is_some_and(|current| current != self.cluster.issuer);
        out.push_str(if migrating {
            "\nAPI server flags (every kube-apiserver; the new issuer first, the current one kept second so tokens already issued stay valid):\n"
        } else {
            "\nAPI server flags (every kube-apiserver):\n"
        });
        for flag in &self.api_server_flags {
            out.push_str(&format!("  {flag}\n"));
        }
        out.push_str("  (keep any values your --api-audiences already has)\n");
        if let Some(note) = &self.api_server_flags_note {
            out.push_str(&format!("  {note}\n"));
        }
        out.push_str("where they go:\n");
        for (distribution, place) in FLAG_LOCATIONS {
            out.push_str(&format!("  {distribution:<8} {place}\n"));
        }
        out.push_str("  snippets for each: docs/bootstrap.md\n\nnext steps:\n");
        for (i, step) in self.next_steps.iter().enumerate() {
            out.push_str(&format!("  {}. {step}\n", i + 1));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<BootstrapArgs, clap::Error> {
        let mut argv = vec!["kube-oidc-publisher", "bootstrap"];
        argv.extend_from_slice(args);
        let Command::Bootstrap(args) = Cli::try_parse_from(argv)?.command else {
            unreachable!("argv starts with `bootstrap`")
        };
        Ok(*args)
    }

    fn validated(args: &[&str]) -> anyhow::Result<Validated> {
        validate(&parse(args).unwrap())
    }

    #[test]
    fn the_store_is_the_bucket_and_prefix_and_a_mismatch_is_allowed() {
        let v = validated(&["--bucket", "acme-oidc", "--prefix", "/prod-1/"]).unwrap();
        assert_eq!(v.store, "s3://acme-oidc/prod-1");
        assert_eq!(v.prefix, "prod-1");
        assert!(v.config.allow_issuer_mismatch);
        assert_eq!(v.config.issuer, IssuerChoice::FromBucket);
        assert!(v.role.is_none());
        let v = validated(&["--bucket", "acme-oidc"]).unwrap();
        assert_eq!(v.store, "s3://acme-oidc");
        // Every sync option is accepted.
        let v = validated(&[
            "--bucket",
            "acme-oidc",
            "--dry-run",
            "--audience",
            "vault",
            "--thumbprint",
            "none",
            "--output",
            "json",
        ])
        .unwrap();
        assert_eq!(v.config.mode, Mode::DryRun);
        assert_eq!(audience(&v.config), "vault");
    }

    #[test]
    fn the_publisher_role_defaults_to_the_publishers_own_service_account() {
        let v = validated(&["--bucket", "acme-oidc", "--publisher-role", "kop-prod-1"]).unwrap();
        assert_eq!(
            v.role,
            Some((
                "kop-prod-1".to_owned(),
                "kube-oidc-publisher".to_owned(),
                "kube-oidc-publisher".to_owned()
            ))
        );
        let v = validated(&[
            "--bucket",
            "acme-oidc",
            "--publisher-role",
            "kop-prod-1",
            "--publisher-namespace",
            "oidc",
            "--publisher-service-account",
            "publisher",
        ])
        .unwrap();
        assert_eq!(v.role.unwrap().1, "oidc");
        assert!(
            parse(&["--bucket", "acme-oidc", "--publisher-namespace", "oidc"]).is_err(),
            "--publisher-namespace needs --publisher-role"
        );
    }

    #[test]
    fn cloudfront_options_are_validated_without_io() {
        let args = parse(&["--bucket", "acme-oidc", "--hosting", "cloudfront"]).unwrap();
        let options = cloudfront::validate(&args).unwrap().expect("cloudfront");
        assert_eq!(options.wait_timeout, std::time::Duration::from_secs(1800));
        assert!(options.domain.is_none() && !options.no_wait);
        let args = parse(&[
            "--bucket",
            "acme-oidc",
            "--hosting",
            "cloudfront",
            "--domain",
            "OIDC.acme.com.",
            "--certificate-arn",
            "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "--hosted-zone-id",
            "/hostedzone/Z0123",
            "--wait-timeout",
            "2m",
            "--no-wait",
        ])
        .unwrap();
        let options = cloudfront::validate(&args).unwrap().unwrap();
        let domain = options.domain.unwrap();
        assert_eq!(domain.name, "oidc.acme.com");
        assert_eq!(domain.hosted_zone_id.as_deref(), Some("Z0123"));
        assert_eq!(options.wait_timeout, std::time::Duration::from_secs(120));
        assert!(options.no_wait);
        // S3 hosting takes none of them; the domain and certificate come together.
        let s3 = parse(&[
            "--bucket",
            "acme-oidc",
            "--domain",
            "oidc.acme.com",
            "--certificate-arn",
            "arn:aws:acm:us-east-1:1:certificate/a",
        ])
        .unwrap();
        assert!(cloudfront::validate(&s3).is_err());
        assert!(
            cloudfront::validate(&parse(&["--bucket", "acme-oidc"]).unwrap())
                .unwrap()
                .is_none()
        );
        assert!(parse(&[
            "--bucket",
            "b",
            "--hosting",
            "cloudfront",
            "--domain",
            "x.y"
        ])
        .is_err());
        assert!(parse(&["--bucket", "b", "--hosted-zone-id", "Z1"]).is_err());
        assert!(parse(&["--bucket", "b", "--hosting", "gcs"]).is_err());
        for bad in [
            &["--wait-timeout", "soon"][..],
            &[
                "--domain",
                "not a name",
                "--certificate-arn",
                "arn:aws:acm:us-east-1:1:certificate/a",
            ],
            &["--domain", "oidc.acme.com", "--certificate-arn", "E123"],
        ] {
            let mut argv = vec!["--bucket", "b", "--hosting", "cloudfront"];
            argv.extend_from_slice(bad);
            assert!(
                cloudfront::validate(&parse(&argv).unwrap()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_names_are_refused_before_any_request() {
        for args in [
            &["--bucket", "Acme_OIDC"][..],
            &["--bucket", "acme-oidc", "--prefix", "a/*"],
            &["--bucket", "acme-oidc", "--publisher-role", "has space"],
            &[
                "--bucket",
                "acme-oidc",
                "--publisher-role",
                "r",
                "--publisher-namespace",
                "team-*",
            ],
        ] {
            assert!(validated(args).is_err(), "{args:?}");
        }
    }
}
