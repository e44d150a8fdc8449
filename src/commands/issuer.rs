//! `issuer prepare | status | finish`: build the effects, run `crate::migration`'s steps,
//! print. The documents of both issuers are published by `crate::publish` (a sync per store,
//! the migration recorded in both state objects); see docs/issuer-migration.md.

use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use serde_json::json;

use crate::cli::{FinishArgs, IssuerCommand, IssuerStatusArgs, PrepareArgs, SyncArgs};
use crate::config::{IssuerChoice, Mode, SyncConfig};
use crate::exit::Exit;
use crate::iam::aws::AwsProviders;
use crate::iam::{OidcProviders, ProviderState};
use crate::migration::{self, ProviderFate, RoleEdit, SkippedRole};
use crate::model::apiserver_flags::api_server_flags;
use crate::model::issuer::partition;
use crate::model::migration::{self as plan, Migration, MigrationRequest, Providers, Side, Step};
use crate::model::state::{State, STATE_PATH};
use crate::model::{Issuer, DISCOVERY_PATH};
use crate::output::OutputFormat;
use crate::publish::{build_source, build_store, issuer_of, other_side, publish_with, Session};
use crate::roles::aws::AwsRoles;
use crate::roles::Roles;
use crate::source::SourceKind;
use crate::store::{Location, ObjectStore};

pub async fn run(command: &IssuerCommand) -> anyhow::Result<Exit> {
    let (result, output) = match command {
        IssuerCommand::Prepare(args) => (prepare(args).await, args.sync.publish.output.format),
        IssuerCommand::Status(args) => (status(args).await, args.sync.publish.output.format),
        IssuerCommand::Finish(args) => (finish(args).await, args.sync.publish.output.format),
    };
    if let (Err(error), OutputFormat::Json) = (&result, output) {
        println!(
            "{}",
            json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn one_cluster(args: &SyncArgs) -> anyhow::Result<SyncConfig> {
    if args.fleet.is_fleet() {
        bail!("the issuer commands move one cluster at a time: drop --fleet / --fleet-from and pass that cluster's --store (and --issuer)");
    }
    Ok(SyncConfig::from_args(args)?)
}

fn lifetime(raw: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(raw).map_err(|_| {
        anyhow!("--token-lifetime {raw:?} is not a duration; write it like 24h or 90m")
    })
}

/// The AWS side, built once the configuration says it is needed.
struct Aws {
    roles: AwsRoles,
    providers: AwsProviders,
}

async fn aws(config: &SyncConfig, session: &Session) -> anyhow::Result<Aws> {
    let load = || crate::aws::load(config.region.as_deref(), config.timeout);
    let sdk = session.sdk.get_or_init(load).await;
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_owned())
        .ok_or_else(|| anyhow!("no AWS region is configured; pass --region (for example --region eu-west-1) or set AWS_REGION"))?;
    Ok(Aws {
        roles: AwsRoles::new(crate::aws::iam_client(sdk)),
        providers: AwsProviders::new(
            crate::aws::iam_client(sdk),
            crate::aws::sts_client(sdk),
            partition(&region),
        )
        .with_credentials(sdk.credentials_provider()),
    })
}

async fn open_store(
    config: &SyncConfig,
    session: &Session,
) -> anyhow::Result<(Box<dyn ObjectStore>, Issuer)> {
    let sdk = match config.store {
        Location::S3 { .. } => {
            let load = || crate::aws::load(config.region.as_deref(), config.timeout);
            Some(session.sdk.get_or_init(load).await.clone())
        }
        Location::Dir(_) => None,
    };
    let region = sdk
        .as_ref()
        .and_then(|s| s.region())
        .map(|r| r.as_ref().to_owned());
    build_store(config, sdk.as_ref(), region.as_deref())
}

async fn read_state(store: &dyn ObjectStore) -> anyhow::Result<State> {
    Ok(match store.get(STATE_PATH).await? {
        Some(object) => State::parse(&object.body)
            .with_context(|| format!("reading {}", store.location(STATE_PATH)))?,
        None => State::default(),
    })
}

/// The issuer the API server signs with (`None` with --source files).
async fn api_server_issuer(config: &SyncConfig) -> anyhow::Result<Option<String>> {
    if config.source == SourceKind::Files {
        return Ok(None);
    }
    let source = build_source(config, None).await?;
    Ok(source.fetch().await?.issuer)
}

fn providers_of<'a>(old: &'a Issuer, new: &'a Issuer) -> Providers<'a> {
    Providers {
        old_host_path: old.provider_url(),
        new_host_path: new.provider_url(),
    }
}

fn print_roles(verb: &str, edits: &[RoleEdit], skipped: &[SkippedRole], diff: bool) {
    for edit in edits {
        match &edit.after {
            Some(after) => {
                println!("role {}: trust policy {verb}", edit.name);
                if diff {
                    print!("{}", plan::diff(&edit.before, after));
                }
            }
            None => println!("role {}: trust policy already {verb}", edit.name),
        }
        if let Some(warning) = &edit.warning {
            println!("warning: role {}: {warning}", edit.name);
        }
    }
    for skip in skipped {
        println!("role {}: left alone: {}", skip.name, skip.reason);
    }
}

async fn prepare(args: &PrepareArgs) -> anyhow::Result<Exit> {
    let config = one_cluster(&args.sync)?;
    if config.mode == Mode::Check {
        bail!("issuer prepare has no --check; use --dry-run to see what it would change, or `issuer status`");
    }
    let session = Session::default();
    let old_issuer = issuer_of(&config, &session).await?;
    let new_store = Location::parse(&args.new_store).context("--new-store")?;
    let mut new_config = config.clone();
    new_config.issuer = match (&args.new_issuer, &new_store) {
        (Some(url), _) => IssuerChoice::Explicit(Issuer::parse(url).context("--new-issuer")?),
        (None, Location::S3 { .. }) => IssuerChoice::FromBucket,
        (None, Location::Dir(_)) => bail!("--new-issuer is required with a directory --new-store: only you know the public URL that serves it (for example --new-issuer https://oidc.example.com/cluster-1)"),
    };
    new_config.store = new_store;
    // The API server signs with the old issuer until step 2.
    new_config.allow_issuer_mismatch = true;
    let new_issuer = issuer_of(&new_config, &session).await?;
    if new_issuer == old_issuer {
        bail!("the new issuer {new_issuer} is the one the cluster publishes now; pass the new location with --new-store (and --new-issuer)");
    }
    let providers = providers_of(&old_issuer, &new_issuer);

    let (edits, skipped) = if args.roles.is_empty() && !args.all_roles {
        (Vec::new(), Vec::new())
    } else {
        let aws = aws(&config, &session).await?;
        migration::plan_extend(&aws.roles, &args.roles, args.all_roles, providers).await?
    };
    let record = Migration {
        old: Side {
            issuer: old_issuer.to_string(),
            store: args.sync.store().to_owned(),
        },
        new: Side {
            issuer: new_issuer.to_string(),
            store: args.new_store.clone(),
        },
        prepared_at: now(),
        switched_at: None,
        roles: edits.iter().map(|e| e.name.clone()).collect(),
    };
    new_config.requests.migration = MigrationRequest::Record(record.clone());
    let audiences = config
        .iam
        .as_ref()
        .map(|iam| iam.audiences.clone())
        .unwrap_or_else(|| vec![crate::model::policy::DEFAULT_AUDIENCE.to_owned()]);
    let flags = api_server_flags(new_issuer.as_str(), Some(old_issuer.as_str()), &audiences);

    // The new issuer's documents and provider (and, as the migration is recorded, the old
    // issuer's store too), then the roles: IAM refuses a trust policy naming a provider that
    // does not exist yet.
    let report = publish_with(&new_config, &session).await?;
    let mut writes = report.total_writes();
    if config.mode == Mode::Apply && !edits.is_empty() {
        let aws = aws(&config, &session).await?;
        writes += migration::apply_roles(&aws.roles, &edits).await?;
    }
    let mut warnings: Vec<String> = report
        .warnings
        .iter()
        .filter(|w| !w.contains("--allow-issuer-mismatch"))
        .cloned()
        .collect();
    warnings.extend(edits.iter().filter_map(|e| e.warning.clone()));
    match config.output {
        OutputFormat::Json => {
            let roles: Vec<serde_json::Value> = edits
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "changed": e.changed,
                        "warning": e.warning,
                        "trust_policy": e.after.as_deref().unwrap_or(&e.before),
                    })
                })
                .collect();
            println!(
                "{}",
                json!({
                    "status": "ok",
                    "dry_run": config.mode == Mode::DryRun,
                    "old": record.old,
                    "new": record.new,
                    "roles": roles,
                    "skipped_roles": skipped,
                    "api_server_flags": flags,
                    "writes": writes,
                    "warnings": warnings,
                })
            );
        }
        OutputFormat::Text => {
            crate::output::print_sync(&report, OutputFormat::Text);
            let verb = "extended to the new issuer";
            print_roles(verb, &edits, &skipped, config.mode == Mode::DryRun);
            let heading = match config.mode {
                Mode::DryRun => "dry run, nothing written",
                _ => "prepared",
            };
            println!(
                "{heading}: {} beside {} ({writes} writes)",
                new_issuer, old_issuer
            );
            println!("next: set these kube-apiserver flags (the new issuer first, the old one kept second), restart the API servers, then run sync as usual; `issuer status` shows the switch:");
            for flag in &flags {
                println!("  {flag}");
            }
        }
    }
    Ok(Exit::Ok)
}

/// The migration recorded in the store a command names, with both sides' configurations.
struct Recorded {
    migration: Migration,
    old: Issuer,
    new: Issuer,
    old_config: SyncConfig,
    new_config: SyncConfig,
}

async fn recorded(config: &SyncConfig, session: &Session) -> anyhow::Result<Option<Recorded>> {
    let (store, issuer) = open_store(config, session).await?;
    let Some(migration) = read_state(store.as_ref()).await?.migration else {
        return Ok(None);
    };
    if migration.other(issuer.as_str()).is_none() {
        bail!(
            "{} records a migration from {} to {}, but this store publishes {issuer}; pass --store and --issuer of one of the two",
            store.describe(), migration.old.issuer, migration.new.issuer
        );
    }
    let old_config = other_side(config, &migration.old)?;
    let new_config = other_side(config, &migration.new)?;
    Ok(Some(Recorded {
        old: Issuer::parse(&migration.old.issuer)?,
        new: Issuer::parse(&migration.new.issuer)?,
        migration,
        old_config,
        new_config,
    }))
}

/// The issuer a store's discovery document names, if it publishes one.
async fn published_issuer(
    config: &SyncConfig,
    session: &Session,
) -> anyhow::Result<Option<String>> {
    let (store, _) = open_store(config, session).await?;
    Ok(store
        .get(DISCOVERY_PATH)
        .await?
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.body).ok())
        .and_then(|d| d.get("issuer")?.as_str().map(str::to_owned)))
}

async fn provider(
    providers: &dyn OidcProviders,
    issuer: &Issuer,
) -> anyhow::Result<(String, Option<ProviderState>)> {
    let arn = providers
        .account()
        .await?
        .provider_arn(issuer.provider_url());
    let state = providers.get(&arn).await?;
    Ok((arn, state))
}

async fn status(args: &IssuerStatusArgs) -> anyhow::Result<Exit> {
    let config = one_cluster(&args.sync)?;
    let lifetime = lifetime(&args.lifetime.token_lifetime)?;
    let session = Session::default();
    let now = now();
    let Some(rec) = recorded(&config, &session).await? else {
        let message = format!(
            "no migration is recorded in {}: run `issuer prepare` to start one",
            args.sync.store()
        );
        match config.output {
            OutputFormat::Json => println!(
                "{}",
                json!({"status": "ok", "step": "not_prepared", "next": message})
            ),
            OutputFormat::Text => println!("step: not prepared\nnext: {message}"),
        }
        return Ok(Exit::Ok);
    };
    let api_issuer = api_server_issuer(&config).await?;
    let (old_published, new_published) = tokio::try_join!(
        published_issuer(&rec.old_config, &session),
        published_issuer(&rec.new_config, &session)
    )?;
    let mut findings: Vec<String> = Vec::new();
    for (side, published, issuer) in [
        ("old", &old_published, &rec.old),
        ("new", &new_published, &rec.new),
    ] {
        if published.as_deref() != Some(issuer.as_str()) {
            findings.push(format!(
                "the {side} store does not publish a discovery document for {issuer}: run sync"
            ));
        }
    }
    let mut providers_json = json!(null);
    let mut roles_json = Vec::new();
    if config.iam.is_some() {
        let aws = aws(&config, &session).await?;
        let (old_arn, old_provider) = provider(&aws.providers, &rec.old).await?;
        let (new_arn, new_provider) = provider(&aws.providers, &rec.new).await?;
        if new_provider.is_none() {
            findings.push(format!(
                "no IAM OIDC provider {new_arn}: run `issuer prepare` again"
            ));
        }
        if old_provider.is_none() && rec.migration.switched_at.is_none() {
            findings.push(format!("no IAM OIDC provider {old_arn} for the old issuer, which the API server may still sign with"));
        }
        providers_json = json!({
            "old": { "arn": old_arn, "exists": old_provider.is_some() },
            "new": { "arn": new_arn, "exists": new_provider.is_some() },
        });
        let hp = providers_of(&rec.old, &rec.new);
        for name in &rec.migration.roles {
            let role = aws.roles.get(name).await?;
            let (old, new) = match &role {
                Some(r) => (
                    plan::trusts(&r.trust_policy, hp.old_host_path).unwrap_or(false),
                    plan::trusts(&r.trust_policy, hp.new_host_path).unwrap_or(false),
                ),
                None => (false, false),
            };
            if role.is_some() && !new {
                findings.push(format!("role {name} does not trust the new provider: pods using it break at the switch; run `issuer prepare --role {name}`"));
            }
            if role.is_some() && !old && rec.migration.switched_at.is_none() {
                findings.push(format!("role {name} no longer trusts the old provider, which the API server still signs with: its pods fail now"));
            }
            roles_json.push(json!({"name": name, "exists": role.is_some(), "trusts_old": old, "trusts_new": new}));
        }
    }
    let step = plan::step(Some(&rec.migration), now, lifetime);
    let signs_new = api_issuer.as_deref() == Some(rec.new.as_str());
    let next = match &step {
        Step::Prepared if signs_new => "the API server signs with the new issuer, but no sync has recorded the switch yet: run sync (for either store), then `issuer status` again".to_owned(),
        Step::Prepared => format!(
            "step 2: set the kube-apiserver flags `issuer prepare` printed (--service-account-issuer={} first, --service-account-issuer={} second, --service-account-jwks-uri={}), then run sync",
            rec.new, rec.old, rec.new.jwks_uri()
        ),
        Step::Switched { finish_at } => format!(
            "wait: tokens for the old issuer may be alive until {} (switch at {} + --token-lifetime {} + 5 min IAM clock skew); keep running sync, then `issuer finish`",
            rfc3339(*finish_at),
            rec.migration.switched_at.map(rfc3339).unwrap_or_default(),
            args.lifetime.token_lifetime
        ),
        Step::ReadyToFinish { .. } => "step 4: run `issuer finish` (every token of the old issuer has expired)".to_owned(),
        Step::NotPrepared => unreachable!("a migration is recorded"),
    };
    let step_name = match &step {
        Step::Prepared if signs_new => "switched_unrecorded",
        Step::Prepared => "prepared",
        Step::Switched { .. } => "switched",
        Step::ReadyToFinish { .. } => "ready_to_finish",
        Step::NotPrepared => "not_prepared",
    };
    let finish_at = match &step {
        Step::Switched { finish_at } | Step::ReadyToFinish { finish_at } => {
            Some(rfc3339(*finish_at))
        }
        _ => None,
    };
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "status": "ok",
                "step": step_name,
                "old": rec.migration.old,
                "new": rec.migration.new,
                "api_server_issuer": api_issuer,
                "prepared_at": rfc3339(rec.migration.prepared_at),
                "switched_at": rec.migration.switched_at.map(rfc3339),
                "finish_at": finish_at,
                "published": { "old": old_published, "new": new_published },
                "providers": providers_json,
                "roles": roles_json,
                "findings": findings,
                "next": next,
            })
        ),
        OutputFormat::Text => {
            println!("step: {}", step_name.replace('_', " "));
            println!("old issuer: {} ({})", rec.old, rec.migration.old.store);
            println!("new issuer: {} ({})", rec.new, rec.migration.new.store);
            println!(
                "API server signs with: {}",
                api_issuer.as_deref().unwrap_or("unknown (--source files)")
            );
            println!("prepared at: {}", rfc3339(rec.migration.prepared_at));
            println!(
                "switched at: {}",
                rec.migration
                    .switched_at
                    .map(rfc3339)
                    .unwrap_or_else(|| "-".into())
            );
            if let Some(at) = &finish_at {
                println!("old issuer removable at: {at}");
            }
            for role in &roles_json {
                println!(
                    "role {}: trusts old {}, new {}",
                    role["name"].as_str().unwrap_or_default(),
                    role["trusts_old"],
                    role["trusts_new"]
                );
            }
            for finding in &findings {
                println!("finding: {finding}");
            }
            println!("next: {next}");
        }
    }
    Ok(Exit::Ok)
}

async fn finish(args: &FinishArgs) -> anyhow::Result<Exit> {
    let config = one_cluster(&args.sync)?;
    if config.mode == Mode::Check {
        bail!("issuer finish has no --check; `issuer status` says whether it may run");
    }
    let lifetime = lifetime(&args.lifetime.token_lifetime)?;
    let session = Session::default();
    let now = now();
    let Some(rec) = recorded(&config, &session).await? else {
        let message = format!(
            "no migration is recorded in {}: nothing to finish (0 writes)",
            args.sync.store()
        );
        match config.output {
            OutputFormat::Json => println!(
                "{}",
                json!({"status": "ok", "finished": false, "writes": 0, "message": message})
            ),
            OutputFormat::Text => println!("{message}"),
        }
        return Ok(Exit::Ok);
    };
    let api_issuer = api_server_issuer(&config).await?;
    if api_issuer.as_deref() == Some(rec.old.as_str()) {
        bail!(
            "the API server still signs with the old issuer {}: removing it now would break every pod. Set --service-account-issuer={} first (before the old one), run sync, and wait for `issuer status`",
            rec.old, rec.new
        );
    }
    let step = plan::step(Some(&rec.migration), now, lifetime);
    match (&step, args.force) {
        (Step::ReadyToFinish { .. }, _) => {}
        (Step::Prepared, _) => bail!(
            "no sync has seen the API server sign with the new issuer {} yet, so when its old tokens expire is unknown: switch the API server (`issuer status` shows the flags), run sync, and run `issuer finish` once `issuer status` says so. Nothing was changed",
            rec.new
        ),
        (Step::Switched { finish_at }, false) => bail!(
            "refusing to remove the old issuer {} before {}: tokens it issued before the switch ({}) may be alive until then (--token-lifetime {} + 5 min IAM clock skew), and STS would answer their pods InvalidIdentityToken. Run `issuer finish` again after that time, or pass --force to accept that risk. Nothing was changed",
            rec.old,
            rfc3339(*finish_at),
            rec.migration.switched_at.map(rfc3339).unwrap_or_default(),
            args.lifetime.token_lifetime
        ),
        (Step::Switched { .. }, true) => tracing::warn!(
            "--force: finishing before every token of {} has expired; pods still holding one get InvalidIdentityToken from STS until kubelet refreshes it",
            rec.old
        ),
        (Step::NotPrepared, _) => unreachable!("a migration is recorded"),
    }

    let hp = providers_of(&rec.old, &rec.new);
    let mut edits = Vec::new();
    let mut skipped = Vec::new();
    let mut fate = ProviderFate::NotManaged;
    let mut old_arn = None;
    let aws = match config.iam {
        Some(_) => Some(aws(&config, &session).await?),
        None => None,
    };
    if let Some(aws) = &aws {
        (edits, skipped) = migration::plan_trim(&aws.roles, &rec.migration.roles, hp).await?;
        let (arn, state) = provider(&aws.providers, &rec.old).await?;
        fate = match state {
            None => ProviderFate::Absent,
            Some(p) if p.is_managed() => ProviderFate::Delete,
            Some(_) => ProviderFate::LeftNotOurs,
        };
        old_arn = Some(arn);
    }
    let mut writes = 0;
    let dry_run = config.mode == Mode::DryRun;
    if !dry_run {
        if let Some(aws) = &aws {
            writes += migration::apply_roles(&aws.roles, &edits).await?;
            if let Some(arn) = &old_arn {
                writes += migration::apply_provider(&aws.providers, arn, &fate).await?;
            }
        }
        let (old_store, _) = open_store(&rec.old_config, &session).await?;
        writes += migration::delete_old_documents(old_store.as_ref()).await?;
        // The new store forgets the migration: its sync no longer publishes the old side.
        let mut clear = rec.new_config.clone();
        clear.requests.migration = MigrationRequest::Clear;
        writes += publish_with(&clear, &session).await?.total_writes();
    }
    let remove_flag = format!("--service-account-issuer={}", rec.old);
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "status": "ok",
                "finished": !dry_run,
                "dry_run": dry_run,
                "old": rec.migration.old,
                "new": rec.migration.new,
                "roles": edits,
                "skipped_roles": skipped,
                "old_provider": { "arn": old_arn, "fate": fate },
                "deleted_objects": if dry_run { vec![] } else { migration::OLD_OBJECTS.to_vec() },
                "remove_api_server_flag": remove_flag,
                "writes": writes,
            })
        ),
        OutputFormat::Text => {
            print_roles("without the old issuer", &edits, &skipped, dry_run);
            match (&fate, &old_arn) {
                (ProviderFate::Delete, Some(arn)) => println!("old IAM provider {arn}: deleted"),
                (ProviderFate::LeftNotOurs, Some(arn)) => println!("old IAM provider {arn}: left alone (not tagged {}); delete it yourself once nothing uses it", crate::iam::MANAGED_BY_TAG),
                (ProviderFate::Absent, Some(arn)) => println!("old IAM provider {arn}: already gone"),
                _ => {}
            }
            let heading = if dry_run {
                "dry run, nothing written"
            } else {
                "finished"
            };
            println!(
                "{heading}: {} removed, {} stays ({writes} writes)",
                rec.old, rec.new
            );
            println!("next: remove the kube-apiserver flag {remove_flag}, and run sync with --store {} --issuer {} from now on", rec.migration.new.store, rec.new);
        }
    }
    Ok(Exit::Ok)
}
