//! `rotate status` and `rotate revoke`: the signing-key rotation runbook as commands
//! (docs/rotation.md). `status` only reads; `revoke` is a sync that removes keys at once.

use std::time::Duration;

use crate::cli::{OutputFormat, RevokeArgs, RotateCommand, SyncArgs};
use crate::commands::sync::{build_source, build_store, publish};
use crate::config::SyncConfig;
use crate::exit::Exit;
use crate::model::rotation;
use crate::model::state::{State, STATE_PATH};
use crate::store::Location;

pub async fn run(command: &RotateCommand) -> anyhow::Result<Exit> {
    match command {
        RotateCommand::Status(args) => status(args).await,
        RotateCommand::Revoke(args) => revoke(args).await,
    }
}

async fn status(args: &SyncArgs) -> anyhow::Result<Exit> {
    let config = SyncConfig::from_args(args)?;
    let sdk = match config.store {
        Location::S3 { .. } => {
            Some(crate::aws::load(config.region.as_deref(), config.timeout).await)
        }
        Location::Dir(_) => None,
    };
    let region = sdk
        .as_ref()
        .and_then(|s| s.region())
        .map(|r| r.as_ref().to_owned());
    let source = build_source(&config).await?;
    let (store, _issuer) = build_store(&config, sdk.as_ref(), region.as_deref())?;
    let (keys, state) = tokio::join!(source.fetch(), store.get(STATE_PATH));
    let kids: Vec<String> = keys?.keys.into_iter().map(|k| k.kid).collect();
    let state = match state? {
        Some(object) => State::parse(&object.body)?,
        None => State::default(),
    };
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let report = rotation::status(
        &state,
        &kids,
        now,
        Duration::from_secs(config.cache_max_age.into()),
        config.retention,
    );
    match config.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string(&report).expect("a status always serialises")
        ),
        OutputFormat::Text => {
            let show = |t: Option<time::OffsetDateTime>| {
                t.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "-".into())
            };
            println!(
                "{:<44} {:<7} {:<21} {:<21}",
                "kid", "at API", "published since", "removable at"
            );
            for key in &report.keys {
                let at_api = if key.at_api_server { "yes" } else { "no" };
                println!(
                    "{:<44} {:<7} {:<21} {:<21}",
                    key.kid,
                    at_api,
                    show(key.published_since),
                    show(key.removable_at)
                );
            }
            println!("next: {}", report.next_step);
        }
    }
    Ok(Exit::Ok)
}

async fn revoke(args: &RevokeArgs) -> anyhow::Result<Exit> {
    let mut config = SyncConfig::from_args(&args.sync)?;
    config.revoke = args.kids.clone();
    tracing::warn!(
        kids = ?args.kids,
        "REVOKING: removing these keys from the published JWKS now, without waiting for their retention. Pods whose tokens they signed will fail STS (\"Couldn't retrieve verification key\") until kubelet refreshes their tokens"
    );
    let report = publish(&config).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    crate::output::print_sync(&report, config.output);
    if !report.revoked.is_empty() && config.mode == crate::config::Mode::Apply {
        tracing::warn!(revoked = ?report.revoked, "REVOKED: no longer published");
    }
    Ok(Exit::Ok)
}
