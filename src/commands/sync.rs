//! `sync`: publish the documents and reconcile the IAM provider once (see `crate::publish`),
//! then print the report and choose the exit code; with `--fleet` or `--fleet-from`, once for
//! every cluster of the fleet (see `crate::fleet`), one line (or JSON object) per cluster.

use clap::ArgMatches;

use crate::cli::SyncArgs;
use crate::config::{Mode, SyncConfig};
use crate::exit::Exit;
use crate::fleet::pass::Publisher;
use crate::fleet::tally::Tally;
use crate::output::OutputFormat;
use crate::publish::publish;

pub async fn run(args: &SyncArgs, matches: &ArgMatches) -> anyhow::Result<Exit> {
    let result = match args.fleet.is_fleet() {
        true => fleet(args, matches).await,
        false => sync(args).await,
    };
    if let (Err(error), OutputFormat::Json) = (&result, args.publish.output.format) {
        // Scripts reading stdout get a result object on failure too; stderr has the same text.
        println!(
            "{}",
            serde_json::json!({ "status": "error", "error": format!("{error:#}") })
        );
    }
    result
}

async fn sync(args: &SyncArgs) -> anyhow::Result<Exit> {
    let config = SyncConfig::from_args(args)?;
    let report = publish(&config).await?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    crate::output::print_sync(&report, config.output);
    Ok(if config.mode == Mode::Check && report.drift() {
        Exit::Drift
    } else {
        Exit::Ok
    })
}

async fn fleet(args: &SyncArgs, matches: &ArgMatches) -> anyhow::Result<Exit> {
    let fleet = crate::config::fleet_from_args(args, matches)?;
    let output = fleet.output;
    let publisher = Publisher::new(fleet, None);
    let mut tally = Tally::default();
    publisher
        .pass(|outcome| {
            if let Ok(report) = &outcome.result {
                for warning in &report.warnings {
                    tracing::warn!(cluster = outcome.name, "{warning}");
                }
            }
            match output {
                OutputFormat::Json => {
                    println!(
                        "{}",
                        crate::output::fleet_object(&outcome.name, &outcome.result)
                    )
                }
                OutputFormat::Text => {
                    println!(
                        "{}",
                        crate::output::fleet_line(&outcome.name, &outcome.result)
                    )
                }
            }
            tally.add(&outcome.name, &outcome.result);
        })
        .await;
    if let Some(message) = tally.quota_message() {
        tracing::error!("{message}");
    }
    if output == OutputFormat::Text {
        println!("{}", tally.summary());
    }
    Ok(tally.exit())
}
