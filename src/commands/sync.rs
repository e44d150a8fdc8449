//! `sync`: publish the documents and reconcile the IAM provider once (see `crate::publish`),
//! then print the report and choose the exit code.

use crate::cli::SyncArgs;
use crate::config::{Mode, SyncConfig};
use crate::exit::Exit;
use crate::output::OutputFormat;
use crate::publish::publish;

pub async fn run(args: &SyncArgs) -> anyhow::Result<Exit> {
    let result = sync(args).await;
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
