//! What a command prints on stdout: one short text summary (one line when nothing changed, for
//! quiet CronJob logs) or one JSON object for scripts. Warnings and errors go to stderr.

use serde_json::json;

use crate::cli::OutputFormat;
use crate::config::Mode;
use crate::plan::Change;
use crate::reconcile::SyncReport;

/// The `status` field of the JSON result.
pub fn status(report: &SyncReport) -> &'static str {
    match (report.mode, !report.drift()) {
        (_, true) => "in_sync",
        (Mode::Apply, false) => "applied",
        (Mode::DryRun, false) => "planned",
        (Mode::Check, false) => "drift",
    }
}

pub fn print_sync(report: &SyncReport, format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(report).expect("a report always serialises");
            value["status"] = json!(status(report));
            println!("{value}");
        }
        OutputFormat::Text => print!("{}", sync_text(report)),
    }
}

pub fn sync_text(report: &SyncReport) -> String {
    let keys = format!(
        "{} key{}",
        report.kids.len(),
        if report.kids.len() == 1 { "" } else { "s" }
    );
    let provider_changes: &[Change] = report.provider.as_ref().map_or(&[], |p| &p.changes);
    if !report.drift() {
        let provider = report.provider.as_ref().map_or(String::new(), |p| {
            format!(", IAM provider {} current", p.arn)
        });
        return format!(
            "in sync: {} serves {} for issuer {}{provider} (0 writes)\n",
            report.store, keys, report.issuer
        );
    }
    let mut out = String::new();
    let heading = match report.mode {
        Mode::Apply => "published",
        Mode::DryRun => "plan (dry run, nothing written)",
        Mode::Check => "drift (--check, nothing written)",
    };
    out.push_str(&format!(
        "{heading}: {} for issuer {}, {keys}: {}\n",
        report.store,
        report.issuer,
        report.kids.join(", ")
    ));
    for change in report.plan.changes.iter().chain(provider_changes) {
        out.push_str(&format!("  {}\n", change.describe()));
    }
    if let Some(provider) = &report.provider {
        for drift in &provider.unmanaged_drift {
            out.push_str(&format!(
                "  not managed, left alone: {} would need: {drift}\n",
                provider.arn
            ));
        }
    }
    if report.mode == Mode::Apply {
        out.push_str(&format!(
            "{} write{}\n",
            report.writes,
            if report.writes == 1 { "" } else { "s" }
        ));
    }
    out
}
