//! What a command prints on stdout: one short text summary (one line when nothing changed, for
//! quiet CronJob logs) or one JSON object for scripts. Warnings and errors go to stderr.

use serde_json::json;

use crate::cli::OutputFormat;
use crate::config::Mode;
use crate::plan::{Change, Precondition};
use crate::reconcile::SyncReport;

/// The `status` field of the JSON result.
pub fn status(report: &SyncReport) -> &'static str {
    match (report.mode, report.plan.is_empty()) {
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
    if report.plan.is_empty() {
        return format!(
            "in sync: {} serves {} for issuer {} (0 writes)\n",
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
    for change in &report.plan.changes {
        match change {
            Change::PutObject {
                key,
                sha256,
                bytes,
                reason,
                precondition,
                ..
            } => {
                let condition = match precondition {
                    Precondition::IfNoneMatch => "if absent".to_owned(),
                    Precondition::IfMatch(etag) => format!("if still {etag}"),
                    Precondition::None => "unconditionally".to_owned(),
                };
                out.push_str(&format!(
                    "  put {key} ({reason}; {bytes} bytes, sha256 {}…, {condition})\n",
                    &sha256[..12]
                ));
            }
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
